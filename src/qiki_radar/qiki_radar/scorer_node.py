"""Evaluation node: scores the tracker's LR, SR and union tracks against sim truth (qiki_radar.scorer_step) and
publishes /qiki/eval/track_score. Outside the step barrier: it scores what arrives, when it arrives."""
from __future__ import annotations

from qiki_msgs.msg import RadarFrame, TrackArray, TrackScore, VehicleState, WorldTruth
from qiki_radar.scorer_config import ScorerNodeConfig
from qiki_radar.scorer_step import ScorerStep
from qiki_ros.diagnostics import NodeDiagnostics
from qiki_ros.entrypoint import run_node
from qiki_ros.graph_node import GraphNode
from qiki_ros.node_ports import NodePorts
from qiki_ros.params import declare_model
from qiki_ros.subscriber_gate import SubscriberGate


class ScorerNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("scorer")
        self.cfg = declare_model(self, ScorerNodeConfig)
        self.truth_dropped = 0              # stamps not scored: truth arrays mismatched or ego pose unusable
        self.truth_objects_dropped = 0      # truth objects with NaN/inf/absurd state or RCS
        self.track_arrays_dropped = 0       # TrackArray messages with mismatched arrays
        self.tracks_dropped = 0             # tracks with NaN/inf/absurd state or covariance
        self.diagnostics = NodeDiagnostics(self, self.cfg)   # outside the step barrier: each callback is timed
        pub = self.create_publisher(TrackScore, "track_score", self.diagnostics.ports["track_score"])
        self.core = ScorerStep(self.cfg, NodePorts(self, {"track_score": pub}))
        # outside the barrier, the scorer subscribes only once its scores reach their readers (the sim waits
        # for these subscriptions before stepping): no score is lost at start-up (qiki_ros.subscriber_gate)
        SubscriberGate(self, self.cfg.sync, self.subscribe_inputs).start()

    def subscribe_inputs(self) -> None:
        sub = self.diagnostics.subscribe
        sub(VehicleState, "vehicle_state", self.core.on_ego)
        sub(WorldTruth, "truth", self.core.on_truth)
        for port in ("frame_lr", "frame_sr"):
            sub(RadarFrame, port, self.core.on_frame)
        # the union tracks carry each track's band: the per-band topics would be the same rows again
        sub(TrackArray, "tracks", self.core.on_tracks)


def main(args=None) -> int:
    return run_node(ScorerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
