"""One sim step of the agent, without ROS: device health, vehicle state, radar frames and tracks in (by port);
the decision core ticks on sim time; actuator command, status, BIOS report, events and the BIOS diagnostics
out by port. The agent node and the core engine both run it."""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_core import AgentCore
from qiki_agent.fsm import FsmConfigError
from qiki_agent.input_codec import device_health_args, radar_frame_args, tracks_args, vehicle_state_args
from qiki_msgs.msg import ActuatorCommand, AgentStatus, BiosReport, DeviceStatus, Event
from qiki_ros.events import EventCode
from qiki_ros.packing import pack, to_stamp
from qiki_ros.params import ConfigError
from qiki_ros.step_ports import INFO, WARN, StepPorts

# input port -> (message -> core arguments, core method), in the order a step feeds them
INPUTS = {"device_health": (device_health_args, "on_device_health"),
          "vehicle_state": (vehicle_state_args, "on_vehicle_state"),
          "radar_frame": (radar_frame_args, "on_radar_frame"),
          "tracks": (tracks_args, "on_tracks")}


class AgentStep:
    def __init__(self, cfg: AgentNodeConfig, ports: StepPorts):
        if not cfg.fsm_file:
            raise ConfigError("node 'agent': parameter fsm_file is empty (set it to config/fsm/<profile>.yaml)")
        self.cfg, self.ports = cfg, ports
        try:
            self.core = AgentCore(cfg, self.emit)
        except (FsmConfigError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        self._bios_seq_published = 0
        self._last_state = None
        self._next_status_s = 0.0
        self._next_tick_ns: int | None = None
        self._tick_ns = round(1e9 / cfg.tick_hz)
        self._t_s = 0.0

    def now_s(self) -> float:
        """Sim time of the step being processed (the agent's notion of now)."""
        return self._t_s

    def step(self, t_ns: int, inputs: dict[str, list], absent=(), missed: dict[str, int] | None = None,
             restarted: dict[str, int] | None = None) -> None:
        """Sim step t (`inputs`: port -> messages): take its inputs, tick the decision core when a tick is due.
        absent, missed, restarted: the upstream nodes the step barrier lost, that came back after missing
        steps, that restarted (AgentCore.on_upstream; none in one process)."""
        self._t_s = t_ns * 1e-9
        for port, (to_args, feed) in INPUTS.items():
            for msg in inputs.get(port, []):
                try:
                    args = to_args(msg)
                except ValueError as exc:
                    self.ports.count_input("inputs_dropped", f"{exc}: dropped")
                    continue
                getattr(self.core, feed)(**args)
        self.core.on_upstream(self._t_s, absent, missed or {}, restarted or {})
        if self._next_tick_ns is None:
            self._next_tick_ns = t_ns
        if t_ns >= self._next_tick_ns:
            self._next_tick_ns += self._tick_ns * (1 + (t_ns - self._next_tick_ns) // self._tick_ns)
            self.on_tick()

    def emit(self, code: int, severity: int, text: str) -> None:
        ev = Event(code=int(code), severity=severity, source="agent", message=text)
        ev.header.stamp = to_stamp(self.now_s())
        self.ports.publish("events", ev)
        if code == EventCode.FSM_TRANSITION:
            self.publish_status()           # every transition reaches /qiki/agent/status
        self.ports.log(WARN if severity else INFO, f"[{int(code)}] {text}")

    def command(self, number: int, offset_lvlh_m=()) -> tuple[bool, str, str]:
        """An operator command (OperatorCommand.srv; SET_OFFSET with its offset): (accepted, reason, the state
        after it); the status goes out at once."""
        accepted, reason = self.core.command(number, offset_lvlh_m)
        self.publish_status()
        return accepted, reason, self.core.fsm.state

    def on_tick(self) -> None:
        now = self.now_s()
        if self._last_state is None:
            self.core.start(now)
        command = self.core.tick(now)
        if self.core.bios_seq != self._bios_seq_published:
            self._bios_seq_published = self.core.bios_seq
            self.publish_bios()
        if self.core.fsm.state != self._last_state or now >= self._next_status_s:
            self.publish_status()
        if command.profile == "bot":
            cmd = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=float(command.v),
                                  angular_z_radps=float(command.w))
        else:
            cmd = ActuatorCommand(mode=ActuatorCommand.MODE_SHIP_THRUSTERS)
            cmd.thruster_throttle = pack(command.throttle)
        cmd.header.stamp = to_stamp(now)
        self.ports.publish("cmd", cmd)

    def publish_status(self) -> None:
        now = self.now_s()
        bios = self.core.bios
        history = self.core.fsm.history
        msg = AgentStatus(state=self.core.fsm.state, previous_state=history[-1].source if history else "",
                          transitions=len(history), health_score=bios.health_score if bios else 0.0,
                          all_systems_go=bool(bios and bios.all_systems_go), mission=self.core.mission_name,
                          mission_progress=float(self.core.mission_progress),
                          mission_result=self.core.mission_result)
        msg.header.stamp = to_stamp(now)
        self.ports.publish("status", msg)
        self._last_state = msg.state
        self._next_status_s = now + 1.0 / self.cfg.status_hz

    def publish_bios(self) -> None:
        bios, stamp = self.core.bios, to_stamp(self.now_s())
        report = BiosReport(test_seq=self.core.bios_seq - 1, health_score=bios.health_score,
                            all_systems_go=bios.all_systems_go,
                            devices=[DeviceStatus(name=d.name, level=int(d.level), message=d.message)
                                     for d in bios.devices])
        report.header.stamp = stamp
        self.ports.publish("bios", report)
        diag = DiagnosticArray(status=[
            DiagnosticStatus(level=bytes([min(int(d.level), 3)]), name=f"qiki/{d.name}", message=d.message,
                             hardware_id=d.name) for d in bios.devices])
        diag.status.append(DiagnosticStatus(
            level=bytes([0 if bios.all_systems_go else 2]), name="qiki/bios", message="self test",
            values=[KeyValue(key="health_score", value=f"{bios.health_score:.3f}"),
                    KeyValue(key="inputs_dropped", value=str(self.ports.count("inputs_dropped"))),
                    KeyValue(key="inputs_rejected", value=str(self.core.inputs_rejected))]))
        diag.header.stamp = stamp
        self.ports.publish("diagnostics", diag)
