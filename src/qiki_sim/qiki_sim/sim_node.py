"""ROS adapter of the simulator: steps the world and publishes /clock, vehicle state, truth, health.

The sim owns time (use_sim_time false here, true everywhere else). In realtime mode it steps on a
wall timer at `clock.rate_factor`; in lockstep mode it steps as soon as the agent has finished the
step `clock.command_lag_steps` back (see qiki_ros.step_barrier), so the whole graph runs as fast as
its slowest node and every run of a scenario is identical. Commands stamped at step n apply from
step n + command_lag_steps in both modes.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Quaternion
from rosgraph_msgs.msg import Clock

from qiki_msgs.msg import ActuatorCommand, DeviceHealth, Event, VehicleState, WorldTruth
from qiki_msgs.srv import LoadScenario, ResetScenario
from qiki_ros import qos
from qiki_ros.entrypoint import run_node
from qiki_ros.events import EventCode
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_health import ERROR
from qiki_ros.packing import pack, to_stamp
from qiki_ros.params import ConfigError, declare_model
from qiki_ros.step_sync import StepSync
from qiki_sim.command_codec import VehicleCommand, command_from_msg
from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.ship_simulation import ShipSimulation
from qiki_sim.simulation import BotSimulation

SIMULATIONS = {"bot": BotSimulation, "ship": ShipSimulation}
PROFILE_IDS = {"bot": VehicleState.PROFILE_BOT, "ship": VehicleState.PROFILE_SHIP}


def to_quaternion_msg(q_wxyz) -> Quaternion:
    w, x, y, z = (float(c) for c in q_wxyz)
    return Quaternion(x=x, y=y, z=z, w=w)


class SimNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("sim")
        self.cfg = declare_model(self, SimNodeConfig)
        if not self.cfg.scenario_file:
            raise ConfigError("node 'sim': parameter scenario_file is empty (set it to a scenario YAML)")
        try:
            scenario = load_scenario(self.cfg.scenario_file)
            self.sim = SIMULATIONS[scenario.profile](scenario, self.cfg.seed)
        except ScenarioError as exc:
            raise ConfigError(str(exc)) from None
        self.ports = qos.PortProfiles(self.cfg.qos.ports, self.get_name())
        self.pub_events = self.create_publisher(Event, "events", self.ports["events"])
        self.sync = StepSync(self, self.cfg, self.on_agent_step, announce=False, watch_members=True, events=self.pub_events)
        self.sync.set_step(self.sim.dt)      # the sim's own step grid, whatever the runner passed
        self.sync.health.conditions.append(self.members_condition)
        self.pub_clock = self.sync.publisher(Clock, "clock")
        self.pubs = {
            "vehicle_state": self.sync.publisher(VehicleState, "vehicle_state"),
            "truth": self.sync.publisher(WorldTruth, "truth"),
            "device_health": self.sync.publisher(DeviceHealth, "device_health"),
        }
        self.cmd_topic = self.sync.subscribe(ActuatorCommand, "cmd")
        self.create_service(ResetScenario, "reset", self.on_reset)
        self.create_service(LoadScenario, "load_scenario", self.on_load)
        self.sync.start()
        self.commands_rejected = 0
        self.steps_without_agent = 0                    # lockstep steps taken while the agent was silent
        self.commands_clamped = 0
        self.pending: dict[int, VehicleCommand] = {}   # step index -> command that applies from it
        self.agent_done_step = -1                       # last step the agent has finished
        self._health_every = max(1, round(1.0 / (self.cfg.publish.device_health_hz * self.sim.dt)))
        self._started = False
        self._wait_start = time.monotonic()
        self._last_progress = time.monotonic()
        self._last_agent_s = time.monotonic()
        self._agent_silent = False
        self.silent: list[str] = []                     # barrier members that stopped announcing
        lockstep = self.cfg.clock.mode == "lockstep"
        period = 0.05 if lockstep else self.sim.dt / self.cfg.clock.rate_factor
        self.timer = self.create_timer(period, self.on_timer)
        self.get_logger().info(f"scenario '{self.sim.scenario.name}' seed {self.sim.seed}, dt {self.sim.dt} s, "
                               + ("lockstep" if lockstep else f"realtime x{self.cfg.clock.rate_factor}"))

    # --- inputs -------------------------------------------------------------------------------
    def on_agent_step(self, t_ns: int, inputs: dict) -> None:
        """The agent finished step n: its command (if any) applies from step n + lag."""
        n = round(t_ns * 1e-9 / self.sim.dt)
        for msg in inputs.get(self.cmd_topic, []):
            cmd = self.checked_command(msg)
            if cmd is not None:
                self.pending[n + self.cfg.clock.command_lag_steps] = cmd
        self.agent_done_step = max(self.agent_done_step, n)
        self._last_agent_s = time.monotonic()
        self._agent_silent = False
        if self.cfg.clock.mode == "lockstep":
            self.advance()

    def checked_command(self, msg: ActuatorCommand) -> VehicleCommand | None:
        """The command to apply, or None (counted in commands_rejected) when it cannot be applied."""
        profile = self.sim.scenario.profile
        try:
            return command_from_msg(msg, profile, self.sim.rcs.n if profile == "ship" else 0)
        except ValueError as exc:
            self.count_input("commands_rejected", f"{exc}: rejected, holding the last valid command")
            self.event(EventCode.COMMAND_REJECTED, Event.WARN, f"actuator command rejected: {exc}")
            return None

    def apply_command(self, cmd: VehicleCommand) -> None:
        if self.sim.scenario.profile == "bot":
            report = self.sim.command(cmd.v, cmd.w)
        else:
            report = self.sim.command_thrusters(cmd.throttle)
        if report:
            self.commands_clamped += 1
            self.get_logger().warning(f"actuator command clamped: {report.reason}", throttle_duration_sec=1.0)
            self.event(EventCode.COMMAND_CLAMPED, Event.WARN, f"actuator command clamped: {report.reason}")

    def on_reset(self, request, response):
        self.sim.reset(request.seed)
        self.pending.clear()
        response.success, response.message = True, f"reset to t=0 with seed {self.sim.seed}"
        return response

    def on_load(self, request, response):
        try:
            path = find_scenario(request.scenario, Path(self.cfg.scenario_file).parent)
            scenario = load_scenario(path)
            if scenario.profile != self.sim.scenario.profile:
                raise ScenarioError(path, f"profile '{scenario.profile}' does not match the running "
                                          f"'{self.sim.scenario.profile}' graph")
            if scenario.vehicle != self.sim.scenario.vehicle:  # the radar and agent fly the running vehicle
                running = self.sim.scenario.vehicle
                raise ScenarioError(path, f"vehicle (description {scenario.vehicle.description}, mission "
                                          f"{scenario.vehicle.mission}) does not match the running graph's "
                                          f"(description {running.description}, mission {running.mission}): "
                                          "restart the graph with this scenario")
        except ScenarioError as exc:
            response.success, response.message = False, str(exc)
            return response
        self.sim = SIMULATIONS[scenario.profile](scenario, request.seed)
        self.sync.set_step(self.sim.dt)
        self.pending.clear()
        response.success, response.message = True, f"loaded '{scenario.name}' seed {self.sim.seed}"
        self.event(EventCode.SCENARIO_LOADED, Event.INFO, response.message)
        return response

    # --- stepping -----------------------------------------------------------------------------
    def _ready(self) -> bool:
        waited = time.monotonic() - self._wait_start
        if not self.sync.gate.is_open:      # our publishers wait for the subscribers the graph names
            return False
        missing = [p for p in self.cfg.start.wait_for if self.pubs[p].get_subscription_count() == 0]
        absent = self.sync.members - self.sync.members_listening()
        if (missing or absent) and waited < self.cfg.start.wait_timeout_s:
            return False
        if missing or absent:
            self.get_logger().warning(f"starting without subscribers on {missing}, barrier members absent: "
                                      f"{sorted(absent)}")
        return True

    def on_timer(self) -> None:
        if not self._started:
            if not self._ready():
                return
            self._started = True
            # the agent's and the stall clocks run from the first step, not from the wait for the members
            # (which may be on other machines and take most of start.wait_timeout_s to appear)
            self._last_progress = self._last_agent_s = time.monotonic()
            self.publish_step()
            return
        if self.cfg.clock.mode == "realtime":
            self.step()
            return
        self.watch_members()
        if self.advance():
            return
        elif self._agent_given_up() and not self._paced():
            self.step_without_agent()
        elif time.monotonic() - self._last_progress > self.cfg.clock.stall_warn_s:
            self.get_logger().warning(f"lockstep: waiting for the agent to finish step {self.sim.step_index + 1 - self.cfg.clock.command_lag_steps} "
                                      f"(pending steps in the barrier: {len(self.sync.barrier.pending())})",
                                      throttle_duration_sec=self.cfg.clock.stall_warn_s)

    def _agent_timeout_s(self) -> float:
        """How long the agent may be silent: until its first step it may still be starting."""
        timeout = self.cfg.clock.agent_timeout_s
        return timeout if self.agent_done_step >= 0 or not timeout else max(timeout, self.cfg.start.wait_timeout_s)

    def _blocking_agent(self) -> list[str]:
        """Silent members other than the agent (the sim's own upstream): the agent cannot step without them."""
        return sorted(set(self.silent) - self.sync.upstream)

    def _agent_given_up(self) -> bool:
        """Step on without the agent: it finished no step for agent_timeout_s, or a member upstream of
        it went silent, so it cannot finish one until that member is back (its restart needs steps)."""
        silent_for = time.monotonic() - self._last_agent_s
        if self._blocking_agent() and silent_for > self.cfg.clock.member_timeout_s:
            return True
        return 0 < self._agent_timeout_s() < silent_for

    def watch_members(self) -> None:
        """Lockstep: note the barrier members that stopped announcing (an event when that changes).
        Silent means behind the newest step for member_timeout_s: a member with nothing to do is not."""
        now = time.monotonic()
        newest = round(self.sim.time_s * 1e9)
        silent = sorted(m for m, t in self.sync.heard.items() if now - t > self.cfg.clock.member_timeout_s
                        and self.sync.heard_step.get(m, 0) < newest)
        gone, back = sorted(set(silent) - set(self.silent)), sorted(set(self.silent) - set(silent))
        self.silent = silent
        if gone:
            self.get_logger().warning(f"lockstep: no step from {', '.join(gone)} for {self.cfg.clock.member_timeout_s:g} s: "
                                      "stepping at real time until it is back")
            self.event(EventCode.NODE_SILENT, Event.ERROR, f"no step from {', '.join(gone)}: real-time pace")
        if back:
            self.get_logger().info(f"lockstep: {', '.join(back)} announces steps again")
            self.event(EventCode.NODE_RESUMED, Event.INFO, f"{', '.join(back)} announces steps again")

    def members_condition(self):
        """/diagnostics ERROR while a barrier member is silent (the graph runs degraded)."""
        return (ERROR, f"no step from {', '.join(self.silent)}: stepping at real time") if self.silent else None

    def step_without_agent(self) -> None:
        """Lockstep with a silent agent (crashed, restarting, or waiting for a silent member): take one
        step with the vehicle stopped, as a drive's command watchdog would, so the graph goes on."""
        if not self._agent_silent:
            self._agent_silent = True
            self.pending.clear()
            blocking = self._blocking_agent()
            why = f"{', '.join(blocking)} silent" if blocking else \
                f"it finished no step for {self.cfg.clock.agent_timeout_s:g} s"
            self.get_logger().warning(f"lockstep: the agent cannot step ({why}): stepping without it, vehicle stopped")
        self.stop_vehicle()
        self.steps_without_agent += 1
        self.step()

    def stop_vehicle(self) -> None:
        if self.sim.scenario.profile == "bot":
            self.sim.command(0.0, 0.0)
        else:
            self.sim.command_thrusters(np.zeros(self.sim.rcs.n))

    def _paced(self) -> bool:
        """With a member silent the clock runs at most at real time: is the next step not due yet?"""
        return bool(self.silent) and time.monotonic() - self._last_progress < self.sim.dt

    def advance(self) -> bool:
        """Lockstep: take every step the agent's progress allows (paced while a member is silent);
        True if any was taken."""
        moved = False
        while self._started and self.sim.step_index + 1 - self.cfg.clock.command_lag_steps <= self.agent_done_step:
            if self._paced():
                break
            self.step()
            moved = True
        return moved

    def step(self) -> None:
        with self.sync.diagnostics.timed():
            n = self.sim.step_index + 1
            for k in sorted(k for k in self.pending if k <= n):
                self.apply_command(self.pending.pop(k))
            self.sim.step()
            self.publish_step()
        self._last_progress = time.monotonic()

    def publish_step(self) -> None:
        stamp = to_stamp(self.sim.time_s)
        ego = self.sim.ego_state()
        vs = VehicleState()
        vs.header.stamp, vs.header.frame_id, vs.child_frame_id = stamp, self.cfg.frame_id, "base_link"
        vs.profile = PROFILE_IDS[self.sim.scenario.profile]
        vs.pose.position.x, vs.pose.position.y, vs.pose.position.z = (float(c) for c in ego.position)
        vs.pose.orientation = to_quaternion_msg(ego.quaternion_wxyz)
        vs.twist.linear.x, vs.twist.linear.y, vs.twist.linear.z = (float(c) for c in ego.velocity_body)
        vs.twist.angular.x, vs.twist.angular.y, vs.twist.angular.z = (float(c) for c in ego.angular_velocity_body)
        vs.velocity_world.x, vs.velocity_world.y, vs.velocity_world.z = (float(c) for c in ego.velocity_world)
        vs.energy_fraction, vs.mass_kg, vs.propellant_kg = ego.energy_fraction, ego.mass_kg, ego.propellant_kg
        self.pubs["vehicle_state"].publish(vs)

        truth = self.sim.truth()
        tm = WorldTruth()
        tm.header.stamp, tm.header.frame_id = stamp, self.cfg.frame_id
        tm.id, tm.kind = pack(truth.id, np.uint32), pack(truth.kind, np.uint8)
        tm.position, tm.velocity = pack(truth.position), pack(truth.velocity)
        tm.rcs_m2, tm.radius_m = pack(truth.rcs_m2), pack(truth.radius_m)
        tm.transponder_code = pack(truth.transponder_code, np.uint32)
        self.pubs["truth"].publish(tm)

        if self.sim.step_index % self._health_every == 0:
            names, levels, values = self.sim.device_readings()
            dh = DeviceHealth()
            dh.header.stamp = stamp
            dh.name, dh.level, dh.value = names, pack(levels, np.uint8), pack(values)
            self.pubs["device_health"].publish(dh)
        self.pub_clock.publish(Clock(clock=stamp))
        t_ns = stamp.sec * 1_000_000_000 + stamp.nanosec
        self.sync.observe_own_step(t_ns)
        self.sync.done(t_ns)

    def event(self, code: EventCode, severity: int, text: str) -> None:
        ev = Event(code=int(code), severity=severity, source=self.get_name(), message=text)
        ev.header.stamp = to_stamp(self.sim.time_s)
        self.pub_events.publish(ev)


def main(args=None) -> int:
    return run_node(SimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
