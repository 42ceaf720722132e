"""ROS adapter of the agent (qiki_agent.agent_step): device health and tracks in; status, BIOS report,
diagnostics, events, actuator commands and the operator command service out. Decisions tick on sim time."""
from __future__ import annotations


from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_step import INPUTS, AgentStep
from qiki_msgs.msg import (ActuatorCommand, AgentStatus, BiosReport, DeviceHealth, Event, RadarFrame, TrackArray,
                           VehicleState)
from qiki_msgs.srv import OperatorCommand
from qiki_ros import qos
from qiki_ros.entrypoint import run_node
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_ports import NodePorts
from qiki_ros.params import declare_model
from qiki_ros.step_sync import StepSync

INPUT_TYPES = {"device_health": DeviceHealth, "vehicle_state": VehicleState, "radar_frame": RadarFrame,
               "tracks": TrackArray}


class AgentNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("agent")
        self.cfg = declare_model(self, AgentNodeConfig)
        self.ports = qos.PortProfiles(self.cfg.qos.ports, self.get_name())
        self.inputs_dropped = 0             # input messages whose arrays do not describe one set of items
        pubs = {"events": self.create_publisher(Event, "events", self.ports["events"])}
        self.core = AgentStep(self.cfg, NodePorts(self, pubs))
        pubs["status"] = self.create_publisher(AgentStatus, "status", self.ports["status"])
        pubs["bios"] = self.create_publisher(BiosReport, "bios", self.ports["bios"])
        self.sync = StepSync(self, self.cfg, self.on_step, events=pubs["events"])
        self.sync.health.count_drops("inputs_rejected", lambda: self.core.core.inputs_rejected)
        pubs["diagnostics"] = self.sync.diagnostics.pub
        pubs["cmd"] = self.sync.publisher(ActuatorCommand, "cmd")
        self.topics = {port: self.sync.subscribe(INPUT_TYPES[port], port) for port in INPUTS}
        self.create_service(OperatorCommand, "command", self.on_command)
        self.sync.start()
        self._gaps_seen: dict[str, dict[str, int]] = {"missed": {}, "restarted": {}}   # already handed to the core

    def on_step(self, t_ns: int, inputs: dict) -> None:
        barrier = self.sync.barrier
        missed, restarted = (self._new_counts(kind, getattr(barrier, kind)) for kind in ("missed", "restarted"))
        self.core.step(t_ns, {port: inputs.get(topic, []) for port, topic in self.topics.items()},
                       [name.rpartition("/")[2] for name in barrier.absent], missed, restarted)

    def _new_counts(self, kind: str, counts: dict[str, int]) -> dict[str, int]:
        """node (short name) -> growth of a StepBarrier per-producer counter since the last step."""
        seen, self._gaps_seen[kind] = self._gaps_seen[kind], dict(counts)
        return {name.rpartition("/")[2]: n - seen.get(name, 0) for name, n in counts.items() if n > seen.get(name, 0)}

    def on_command(self, request, response):
        response.accepted, response.reason, response.state = self.core.command(request.command,
                                                                                  list(request.offset_lvlh_m))
        return response


def main(args=None) -> int:
    return run_node(AgentNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
