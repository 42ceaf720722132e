"""ROS adapter of the multi-target tracker (qiki_radar.tracker_step): LR and SR frames in, LR/SR/union tracks
and rviz markers out."""
from __future__ import annotations

from visualization_msgs.msg import MarkerArray

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_radar.tracker_step import INPUTS, TRACK_PORTS, TrackerStep
from qiki_ros.entrypoint import run_node
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_ports import NodePorts
from qiki_ros.params import declare_model
from qiki_ros.step_sync import StepSync


class TrackerNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("tracker")
        self.cfg = declare_model(self, TrackerNodeConfig)
        self.frames_rejected_old = 0
        self.frames_dropped_malformed = 0
        self.detections_dropped = 0
        self.sync = StepSync(self, self.cfg, self.on_step)
        pubs = {port: self.sync.publisher(TrackArray, port) for port in TRACK_PORTS.values()}
        pubs["markers"] = self.create_publisher(MarkerArray, "markers", self.sync.ports["markers"])  # rviz, not stepped
        self.core = TrackerStep(self.cfg, NodePorts(self, pubs))
        self.topics = {port: self.sync.subscribe(RadarFrame, port) for port in INPUTS}
        self.sync.start()

    def on_step(self, t_ns: int, inputs: dict) -> None:
        self.core.step(t_ns, {port: inputs.get(topic, []) for port, topic in self.topics.items()})


def main(args=None) -> int:
    return run_node(TrackerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
