"""The simulator's step, without ROS: actuator commands in (each applies from its step + command_lag_steps),
one world step, then vehicle state, truth, device health and /clock out by port. The sim node and the core
engine both run it; the node adds the clock modes (realtime timer, lockstep barrier) around it.

Ports: `truth`, `clock` and `events` are the world's; each vehicle has `vehicle_state`, `device_health` (out)
and `cmd` (in), named `<vehicle>/<port>` for a fleet's vehicle and `<port>` for the unnamed single vehicle.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from geometry_msgs.msg import Quaternion
from rosgraph_msgs.msg import Clock

from qiki_msgs.msg import ActuatorCommand, DeviceHealth, Event, VehicleState, WorldTruth
from qiki_ros.events import EventCode
from qiki_ros.packing import pack, stamp_ns, to_stamp
from qiki_ros.params import ConfigError
from qiki_ros.step_ports import WARN, StepPorts
from qiki_sim.command_codec import VehicleCommand, command_from_msg
from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario
from qiki_sim.ship_simulation import ShipSimulation
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.simulation import BotSimulation

SIMULATIONS = {"bot": BotSimulation, "ship": ShipSimulation}
PROFILE_IDS = {"bot": VehicleState.PROFILE_BOT, "ship": VehicleState.PROFILE_SHIP}
OUTPUTS = ("vehicle_state", "truth", "device_health", "clock")
VEHICLE_PORTS = ("vehicle_state", "device_health", "cmd")   # one per vehicle; the others are the world's


def vehicle_port(vehicle: str, port: str) -> str:
    """The sim's port of one vehicle: `<vehicle>/<port>`, or `<port>` for the unnamed single vehicle."""
    return f"{vehicle}/{port}" if vehicle else port


def to_quaternion_msg(q_wxyz) -> Quaternion:
    w, x, y, z = (float(c) for c in q_wxyz)
    return Quaternion(x=x, y=y, z=z, w=w)


class SimStep:
    def __init__(self, cfg: SimNodeConfig, ports: StepPorts):
        if not cfg.scenario_file:
            raise ConfigError("node 'sim': parameter scenario_file is empty (set it to a scenario YAML)")
        try:
            scenario = load_scenario(cfg.scenario_file)
            self.sim = SIMULATIONS[scenario.profile](scenario, cfg.seed)
        except ScenarioError as exc:
            raise ConfigError(str(exc)) from None
        self.cfg, self.ports = cfg, ports
        self.commands_clamped = 0
        self.pending: dict[int, dict[int, VehicleCommand]] = {}   # step index -> {vehicle: command from it}
        self.agent_done_step = -1                       # last step every agent has finished
        self._health_every = max(1, round(1.0 / (cfg.publish.device_health_hz * self.sim.dt)))

    @property
    def vehicles(self) -> list[str]:
        """The vehicles' names in fleet order ([""]: the unnamed single vehicle)."""
        return [v.name for v in self.sim.fleet]

    def port(self, vehicle: int, port: str) -> str:
        """Vehicle `vehicle`'s (index) name of `port` (one of VEHICLE_PORTS)."""
        return vehicle_port(self.sim.fleet[vehicle].name, port)

    # --- inputs -------------------------------------------------------------------------------
    def on_agent_step(self, t_ns: int, commands: list[ActuatorCommand]) -> None:
        """The single vehicle's agent finished step n: its command (if any) applies from step n + lag."""
        self.on_agents_step(t_ns, {self.port(0, "cmd"): commands})

    def on_agents_step(self, t_ns: int, commands: dict[str, list[ActuatorCommand]]) -> None:
        """Every agent finished step n: the commands by port (`cmd`, or `<vehicle>/cmd`; a port left out sent
        none) apply from step n + lag, each to its vehicle (the last of a port's commands wins)."""
        n = round(t_ns * 1e-9 / self.sim.dt)
        for i in range(len(self.sim.fleet)):
            for msg in commands.get(self.port(i, "cmd"), []):
                cmd = self.checked_command(msg, i)
                if cmd is not None:
                    self.pending.setdefault(n + self.cfg.clock.command_lag_steps, {})[i] = cmd
        self.agent_done_step = max(self.agent_done_step, n)

    def next_step_allowed(self) -> bool:
        """Lockstep: have the agents finished the step command_lag_steps before the next one (and is the
        clock not held)?"""
        return not self.held() and self.sim.step_index + 1 - self.cfg.clock.command_lag_steps <= self.agent_done_step

    def held(self) -> bool:
        """Has sim time reached clock.hold_at_s (the last step of a run of that duration)?"""
        hold = self.cfg.clock.hold_at_s
        return hold > 0 and self.sim.time_s >= hold - self.sim.dt / 2

    def _whose(self, vehicle: int) -> str:
        """'<name>: ' before a fleet vehicle's messages; '' for the unnamed single vehicle."""
        name = self.sim.fleet[vehicle].name
        return f"{name}: " if name else ""

    def checked_command(self, msg: ActuatorCommand, vehicle: int = 0) -> VehicleCommand | None:
        """The command to apply, or None (counted in commands_rejected) when it cannot be applied."""
        profile = self.sim.scenario.profile
        try:
            return command_from_msg(msg, profile, self.sim.rcs_of[vehicle].n if profile == "ship" else 0)
        except ValueError as exc:
            who = self._whose(vehicle)
            self.ports.count_input("commands_rejected", f"{who}{exc}: rejected, holding the last valid command")
            self.event(EventCode.COMMAND_REJECTED, Event.WARN, f"{who}actuator command rejected: {exc}")
            return None

    def apply_command(self, cmd: VehicleCommand, vehicle: int = 0) -> None:
        if self.sim.scenario.profile == "bot":
            report = self.sim.command(cmd.v, cmd.w, vehicle)
        else:
            report = self.sim.command_thrusters(cmd.throttle, vehicle)
        if report:
            who = self._whose(vehicle)
            self.commands_clamped += 1
            self.ports.log(WARN, f"{who}actuator command clamped: {report.reason}", throttle_key="clamped")
            self.event(EventCode.COMMAND_CLAMPED, Event.WARN, f"{who}actuator command clamped: {report.reason}")

    def stop_vehicle(self) -> None:
        """Every vehicle stopped (the agents cannot step)."""
        for i in range(len(self.sim.fleet)):
            if self.sim.scenario.profile == "bot":
                self.sim.command(0.0, 0.0, i)
            else:
                self.sim.command_thrusters(np.zeros(self.sim.rcs_of[i].n), i)

    def reset(self, seed: int) -> str:
        self.sim.reset(seed)
        self.pending.clear()
        return f"reset to t=0 with seed {self.sim.seed}"

    def load(self, name: str, seed: int) -> str:
        """Load scenario `name` (its profile and fleet must be the running one's; ScenarioError otherwise)."""
        path = find_scenario(name, Path(self.cfg.scenario_file).parent)
        scenario = load_scenario(path)
        if scenario.profile != self.sim.scenario.profile:
            raise ScenarioError(path, f"profile '{scenario.profile}' does not match the running "
                                      f"'{self.sim.scenario.profile}' graph")
        new, running = fleet_identity(scenario), fleet_identity(self.sim.scenario)
        if new != running:  # each vehicle's radar and agent fly the running vehicle
            raise ScenarioError(path, f"{'vehicle' if len(new) == 1 else 'fleet'} ({describe_fleet(new)}) does not "
                                      f"match the running graph's ({describe_fleet(running)}): restart the graph "
                                      "with this scenario")
        self.sim = SIMULATIONS[scenario.profile](scenario, seed)
        self.pending.clear()
        message = f"loaded '{scenario.name}' seed {self.sim.seed}"
        self.event(EventCode.SCENARIO_LOADED, Event.INFO, message)
        return message

    # --- stepping -----------------------------------------------------------------------------
    def step(self) -> int:
        """Apply the commands due, step the world, publish; the new step's stamp [ns]."""
        n = self.sim.step_index + 1
        for k in sorted(k for k in self.pending if k <= n):
            for vehicle, cmd in sorted(self.pending.pop(k).items()):
                self.apply_command(cmd, vehicle)
        self.sim.step()
        return self.publish_step()

    def publish_step(self) -> int:
        """Publish the current step's outputs (every vehicle's state, the truth, every vehicle's device health
        when due, the clock); its stamp [ns]."""
        stamp = to_stamp(self.sim.time_s)
        for i in range(len(self.sim.fleet)):
            self.ports.publish(self.port(i, "vehicle_state"), self.vehicle_state(i, stamp))

        truth = self.sim.truth()
        tm = WorldTruth()
        tm.header.stamp, tm.header.frame_id = stamp, self.cfg.frame_id
        tm.id, tm.kind = pack(truth.id, np.uint32), pack(truth.kind, np.uint8)
        tm.position, tm.velocity = pack(truth.position), pack(truth.velocity)
        tm.rcs_m2, tm.radius_m = pack(truth.rcs_m2), pack(truth.radius_m)
        tm.transponder_code = pack(truth.transponder_code, np.uint32)
        self.ports.publish("truth", tm)

        if self.sim.step_index % self._health_every == 0:
            for i in range(len(self.sim.fleet)):
                names, levels, values = self.sim.device_readings(i)
                dh = DeviceHealth()
                dh.header.stamp = stamp
                dh.name, dh.level, dh.value = names, pack(levels, np.uint8), pack(values)
                self.ports.publish(self.port(i, "device_health"), dh)
        self.ports.publish("clock", Clock(clock=stamp))
        return stamp_ns(stamp)

    def vehicle_state(self, vehicle: int, stamp) -> VehicleState:
        ego = self.sim.ego_state(vehicle)
        vs = VehicleState()
        vs.header.stamp, vs.header.frame_id, vs.child_frame_id = stamp, self.cfg.frame_id, "base_link"
        vs.profile = PROFILE_IDS[self.sim.scenario.profile]
        vs.pose.position.x, vs.pose.position.y, vs.pose.position.z = (float(c) for c in ego.position)
        vs.pose.orientation = to_quaternion_msg(ego.quaternion_wxyz)
        vs.twist.linear.x, vs.twist.linear.y, vs.twist.linear.z = (float(c) for c in ego.velocity_body)
        vs.twist.angular.x, vs.twist.angular.y, vs.twist.angular.z = (float(c) for c in ego.angular_velocity_body)
        vs.velocity_world.x, vs.velocity_world.y, vs.velocity_world.z = (float(c) for c in ego.velocity_world)
        vs.energy_fraction, vs.mass_kg, vs.propellant_kg = ego.energy_fraction, ego.mass_kg, ego.propellant_kg
        return vs

    def event(self, code: EventCode, severity: int, text: str) -> None:
        ev = Event(code=int(code), severity=severity, source="sim", message=text)
        ev.header.stamp = to_stamp(self.sim.time_s)
        self.ports.publish("events", ev)


def fleet_identity(scenario) -> list[tuple[str, str, str]]:
    """What the graph's stacks were started for: each vehicle's (name, description, mission)."""
    return [(v.name, v.description, v.mission) for v in scenario.fleet()]


def describe_fleet(identity: list[tuple[str, str, str]]) -> str:
    return "; ".join(f"{name + ' ' if name else ''}description {d}, mission {m}" for name, d, m in identity)
