"""ROS adapter of the simulator (qiki_sim.sim_step): steps the world and publishes /clock, vehicle state, truth,
health.

The sim owns time (use_sim_time false here, true everywhere else). In realtime mode it steps on a
wall timer at `clock.rate_factor`; in lockstep mode it steps as soon as the agent (every agent of a
fleet: the barrier's upstream) has finished the step `clock.command_lag_steps` back (see
qiki_ros.step_barrier), so the whole graph runs as fast as its slowest node and every run of a scenario
is identical. Commands stamped at step n apply from step n + command_lag_steps in both modes.
Each vehicle of the scenario has its ports (qiki_sim.sim_step): `<vehicle>/vehicle_state`,
`<vehicle>/device_health`, `<vehicle>/cmd` for a fleet, `vehicle_state`, `device_health`, `cmd` for the
unnamed single vehicle.
"""
from __future__ import annotations

import time

from rosgraph_msgs.msg import Clock

from qiki_msgs.msg import ActuatorCommand, DeviceHealth, Event, VehicleState, WorldTruth
from qiki_msgs.srv import LoadScenario, ResetScenario
from qiki_ros import qos
from qiki_ros.entrypoint import run_node
from qiki_ros.events import EventCode
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_health import ERROR, WARN
from qiki_ros.node_ports import NodePorts
from qiki_ros.params import declare_model
from qiki_ros.step_sync import StepSync
from qiki_sim.scenario import ScenarioError
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import VEHICLE_PORTS, SimStep, vehicle_port


class SimNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("sim")
        self.cfg = declare_model(self, SimNodeConfig)
        self.commands_rejected = 0
        self.ports = qos.PortProfiles(self.cfg.qos.ports, self.get_name())
        self.pub_events = self.create_publisher(Event, "events", self.ports["events"])
        self.sync = StepSync(self, self.cfg, self.on_agent_step, announce=False, watch_members=True, events=self.pub_events)
        self.sync.health.conditions += [self.members_condition, self.start_condition]
        self.core = SimStep(self.cfg, NodePorts(self, {}))
        vehicles = self.core.vehicles     # the scenario's: each its state and health ports

        def per_vehicle(msg_type, port: str) -> dict:
            return {vehicle_port(v, port): self.sync.publisher(msg_type, vehicle_port(v, port)) for v in vehicles}
        self.pubs = {**per_vehicle(VehicleState, "vehicle_state"), "truth": self.sync.publisher(WorldTruth, "truth")}
        self.pubs.update(per_vehicle(DeviceHealth, "device_health"))
        self.core.ports.publishers.update({**self.pubs, "clock": self.sync.publisher(Clock, "clock"),
                                           "events": self.pub_events})
        self.sync.set_step(self.sim.dt)      # the sim's own step grid, whatever the runner passed
        # resolved topic (the barrier's inputs key) -> command port, one per vehicle
        self.cmd_ports = {self.sync.subscribe(ActuatorCommand, vehicle_port(v, "cmd")): vehicle_port(v, "cmd")
                          for v in vehicles}
        self.create_service(ResetScenario, "reset", self.on_reset)
        self.create_service(LoadScenario, "load_scenario", self.on_load)
        self.sync.start()
        self.steps_without_agent = 0                    # lockstep steps taken while the agent was silent
        self._started = False
        self._waiting_for = ""                        # strict lockstep's wait for its members, while it lasts
        self._held_logged = False
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

    @property
    def sim(self):
        """The simulation the step drives (replaced by load_scenario)."""
        return self.core.sim

    @property
    def agent_done_step(self) -> int:
        return self.core.agent_done_step

    # --- inputs -------------------------------------------------------------------------------
    def on_agent_step(self, t_ns: int, inputs: dict) -> None:
        """Every agent finished step n: its command (if any) applies from step n + lag."""
        self.core.on_agents_step(t_ns, {port: inputs.get(topic, []) for topic, port in self.cmd_ports.items()})
        self._last_agent_s = time.monotonic()
        self._agent_silent = False
        if self.cfg.clock.mode == "lockstep":
            self.advance()

    def on_reset(self, request, response):
        response.success, response.message = True, self.core.reset(request.seed)
        return response

    def on_load(self, request, response):
        try:
            response.message = self.core.load(request.scenario, request.seed)
        except ScenarioError as exc:
            response.success, response.message = False, str(exc)
            return response
        self.sync.set_step(self.sim.dt)
        response.success = True
        return response

    # --- stepping -----------------------------------------------------------------------------
    def _ready(self) -> bool:
        waited = time.monotonic() - self._wait_start
        if not self.sync.gate.is_open:      # our publishers wait for the subscribers the graph names
            return False
        missing = [p for p in self.waited_ports() if self.pubs[p].get_subscription_count() == 0]
        absent = self.sync.members - self.sync.members_listening()
        if (missing or absent) and waited < self.cfg.start.wait_timeout_s:
            return False
        if (missing or absent) and self._strict_lockstep():
            # its streams are volatile: a member absent at the first step never gets it, and a strict sim
            # would wait for that step forever; waiting for the member instead is the only way on
            self._waiting_for = (f"strict lockstep (clock.agent_timeout_s 0): the first step waits for the barrier "
                                 f"members {sorted(absent)} and subscribers on {missing}")
            self.get_logger().warning(self._waiting_for, throttle_duration_sec=self.cfg.clock.stall_warn_s)
            return False
        self._waiting_for = ""
        if missing or absent:
            self.get_logger().warning(f"starting without subscribers on {missing}, barrier members absent: "
                                      f"{sorted(absent)}")
        return True

    def _strict_lockstep(self) -> bool:
        """Lockstep that never steps without the agent (clock.agent_timeout_s 0)."""
        return self.cfg.clock.mode == "lockstep" and self.cfg.clock.agent_timeout_s == 0

    def waited_ports(self) -> list[str]:
        """start.wait_for, a vehicle port (vehicle_state, device_health) standing for every vehicle's."""
        return [vehicle_port(v, p) if p in VEHICLE_PORTS else p for p in self.cfg.start.wait_for
                for v in (self.core.vehicles if p in VEHICLE_PORTS else [""])]

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
        if self.core.held():
            if not self._held_logged:
                self._held_logged = True
                self.get_logger().info(f"holding at t={self.sim.time_s:.3f} s (clock.hold_at_s): no more steps")
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

    def start_condition(self):
        """/diagnostics WARN while strict lockstep waits for its members before the first step (nothing steps)."""
        return (WARN, self._waiting_for) if self._waiting_for else None

    def members_condition(self):
        """/diagnostics ERROR while a barrier member is silent (the graph runs degraded)."""
        return (ERROR, f"no step from {', '.join(self.silent)}: stepping at real time") if self.silent else None

    def step_without_agent(self) -> None:
        """Lockstep with a silent agent (crashed, restarting, or waiting for a silent member): take one
        step with the vehicle stopped, as a drive's command watchdog would, so the graph goes on."""
        if not self._agent_silent:
            self._agent_silent = True
            self.core.pending.clear()                   # every vehicle stops until the agents are back
            blocking = self._blocking_agent()
            why = f"{', '.join(blocking)} silent" if blocking else \
                f"it finished no step for {self.cfg.clock.agent_timeout_s:g} s"
            self.get_logger().warning(f"lockstep: the agent cannot step ({why}): stepping without it, vehicle stopped")
        self.core.stop_vehicle()
        self.steps_without_agent += 1
        self.step()

    def _paced(self) -> bool:
        """With a member silent the clock runs at most at real time: is the next step not due yet?"""
        return bool(self.silent) and time.monotonic() - self._last_progress < self.sim.dt

    def advance(self) -> bool:
        """Lockstep: take every step the agent's progress allows (paced while a member is silent);
        True if any was taken."""
        moved = False
        while self._started and self.core.next_step_allowed():
            if self._paced():
                break
            self.step()
            moved = True
        return moved

    def step(self) -> None:
        with self.sync.diagnostics.timed():
            self.announce(self.core.step())
        self._last_progress = time.monotonic()

    def publish_step(self) -> None:
        self.announce(self.core.publish_step())

    def announce(self, t_ns: int) -> None:
        """The step t_ns is published: the barrier's reference, and StepDone."""
        self.sync.observe_own_step(t_ns)
        self.sync.done(t_ns)

    def event(self, code: EventCode, severity: int, text: str) -> None:
        self.core.event(code, severity, text)

def main(args=None) -> int:
    return run_node(SimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
