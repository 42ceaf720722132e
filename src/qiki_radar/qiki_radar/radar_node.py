"""ROS adapter of the two-band radar (qiki_radar.radar_step): scans the sim's truth at each band's rate, in
sim time. LR and SR frames go to their own topics; the union of the scans of one instant goes to the union
topic.
"""
from __future__ import annotations

from qiki_msgs.msg import RadarFrame, VehicleState, WorldTruth
from qiki_radar.radar_config import RadarNodeConfig
from qiki_radar.radar_step import BAND_PORTS, RadarStep
from qiki_ros.entrypoint import run_node
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_ports import NodePorts
from qiki_ros.params import declare_model
from qiki_ros.step_sync import StepSync


class RadarNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("radar")
        self.cfg = declare_model(self, RadarNodeConfig)
        self.truth_dropped = 0              # truth messages with mismatched arrays
        self.truth_objects_dropped = 0      # truth objects with NaN/inf/absurd state or RCS
        self.vehicle_state_dropped = 0      # scans skipped: ego pose NaN, non-unit or degenerate
        self.sync = StepSync(self, self.cfg, self.on_step)
        pubs = {port: self.sync.publisher(RadarFrame, port) for port in (*BAND_PORTS, "frame")}
        self.core = RadarStep(self.cfg, NodePorts(self, pubs))
        self.topics = {"vehicle_state": self.sync.subscribe(VehicleState, "vehicle_state"),
                       "truth": self.sync.subscribe(WorldTruth, "truth")}
        self.sync.start()

    def on_step(self, t_ns: int, inputs: dict) -> None:
        self.core.step(t_ns, {port: inputs.get(topic, []) for port, topic in self.topics.items()})


def main(args=None) -> int:
    return run_node(RadarNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
