"""ROS adapter of the agent: device health and tracks in; status, BIOS report, diagnostics, events,
actuator commands and the operator command service out. Decisions tick on sim time."""
from __future__ import annotations


from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_core import AgentCore
from qiki_agent.fsm import FsmConfigError
from qiki_agent.input_codec import device_health_args, radar_frame_args, tracks_args, vehicle_state_args
from qiki_msgs.msg import (ActuatorCommand, AgentStatus, BiosReport, DeviceHealth, DeviceStatus, Event,
                           RadarFrame, TrackArray, VehicleState)
from qiki_msgs.srv import OperatorCommand
from qiki_ros import qos
from qiki_ros.entrypoint import run_node
from qiki_ros.events import EventCode
from qiki_ros.graph_node import GraphNode
from qiki_ros.packing import pack, to_stamp
from qiki_ros.params import ConfigError, declare_model
from qiki_ros.step_sync import StepSync


class AgentNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("agent")
        self.cfg = declare_model(self, AgentNodeConfig)
        if not self.cfg.fsm_file:
            raise ConfigError("node 'agent': parameter fsm_file is empty (set it to config/fsm/<profile>.yaml)")
        self.ports = qos.PortProfiles(self.cfg.qos.ports, self.get_name())
        self.pub_events = self.create_publisher(Event, "events", self.ports["events"])
        try:
            self.core = AgentCore(self.cfg, self.emit)
        except (FsmConfigError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        self.pub_status = self.create_publisher(AgentStatus, "status", self.ports["status"])
        self.pub_bios = self.create_publisher(BiosReport, "bios", self.ports["bios"])
        self.sync = StepSync(self, self.cfg, self.on_step, events=self.pub_events)
        self.sync.health.count_drops("inputs_rejected", lambda: self.core.inputs_rejected)
        self.pub_cmd = self.sync.publisher(ActuatorCommand, "cmd")
        self.topics = {name: self.sync.subscribe(mtype, name) for name, mtype in (
            ("device_health", DeviceHealth), ("vehicle_state", VehicleState), ("radar_frame", RadarFrame),
            ("tracks", TrackArray))}
        self.create_service(OperatorCommand, "command", self.on_command)
        self.sync.start()
        self.inputs_dropped = 0             # input messages whose arrays do not describe one set of items
        self._bios_seq_published = 0
        self._last_state = None
        self._next_status_s = 0.0
        self._next_tick_ns: int | None = None
        self._tick_ns = round(1e9 / self.cfg.tick_hz)
        self._t_s = 0.0
        self._gaps_seen: dict[str, dict[str, int]] = {"missed": {}, "restarted": {}}   # already handed to the core

    def now_s(self) -> float:
        """Sim time of the step being processed (the agent's notion of now)."""
        return self._t_s

    def on_step(self, t_ns: int, inputs: dict) -> None:
        """Sim step t: take its inputs, tick the decision core when a tick is due."""
        self._t_s = t_ns * 1e-9
        for name, to_args, feed in (
                ("device_health", device_health_args, self.core.on_device_health),
                ("vehicle_state", vehicle_state_args, self.core.on_vehicle_state),
                ("radar_frame", radar_frame_args, self.core.on_radar_frame),
                ("tracks", tracks_args, self.core.on_tracks)):
            for msg in inputs.get(self.topics[name], []):
                try:
                    args = to_args(msg)
                except ValueError as exc:
                    self.count_input("inputs_dropped", f"{exc}: dropped")
                    continue
                feed(**args)
        barrier = self.sync.barrier
        missed, restarted = (self._new_counts(kind, getattr(barrier, kind)) for kind in ("missed", "restarted"))
        self.core.on_upstream(self._t_s, (name.rpartition("/")[2] for name in barrier.absent), missed, restarted)
        if self._next_tick_ns is None:
            self._next_tick_ns = t_ns
        if t_ns >= self._next_tick_ns:
            self._next_tick_ns += self._tick_ns * (1 + (t_ns - self._next_tick_ns) // self._tick_ns)
            self.on_tick()

    def _new_counts(self, kind: str, counts: dict[str, int]) -> dict[str, int]:
        """node (short name) -> growth of a StepBarrier per-producer counter since the last step."""
        seen, self._gaps_seen[kind] = self._gaps_seen[kind], dict(counts)
        return {name.rpartition("/")[2]: n - seen.get(name, 0) for name, n in counts.items() if n > seen.get(name, 0)}

    def emit(self, code: int, severity: int, text: str) -> None:
        ev = Event(code=int(code), severity=severity, source=self.get_name(), message=text)
        ev.header.stamp = to_stamp(self.now_s())
        self.pub_events.publish(ev)
        if code == EventCode.FSM_TRANSITION:
            self.publish_status()           # every transition reaches /qiki/agent/status
        if severity:
            self.get_logger().warning(f"[{int(code)}] {text}")
        else:
            self.get_logger().info(f"[{int(code)}] {text}")

    def on_command(self, request, response):
        response.accepted, response.reason = self.core.command(request.command)
        response.state = self.core.fsm.state
        self.publish_status()
        return response

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
        self.pub_cmd.publish(cmd)

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
        self.pub_status.publish(msg)
        self._last_state = msg.state
        self._next_status_s = now + 1.0 / self.cfg.status_hz

    def publish_bios(self) -> None:
        bios, stamp = self.core.bios, to_stamp(self.now_s())
        report = BiosReport(test_seq=self.core.bios_seq - 1, health_score=bios.health_score,
                            all_systems_go=bios.all_systems_go,
                            devices=[DeviceStatus(name=d.name, level=int(d.level), message=d.message)
                                     for d in bios.devices])
        report.header.stamp = stamp
        self.pub_bios.publish(report)
        diag = DiagnosticArray(status=[
            DiagnosticStatus(level=bytes([min(int(d.level), 3)]), name=f"qiki/{d.name}", message=d.message,
                             hardware_id=d.name) for d in bios.devices])
        diag.status.append(DiagnosticStatus(
            level=bytes([0 if bios.all_systems_go else 2]), name="qiki/bios", message="self test",
            values=[KeyValue(key="health_score", value=f"{bios.health_score:.3f}"),
                    KeyValue(key="inputs_dropped", value=str(self.inputs_dropped)),
                    KeyValue(key="inputs_rejected", value=str(self.core.inputs_rejected))]))
        diag.header.stamp = stamp
        self.sync.diagnostics.pub.publish(diag)


def main(args=None) -> int:
    return run_node(AgentNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
