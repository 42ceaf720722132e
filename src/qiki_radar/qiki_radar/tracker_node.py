"""ROS adapter of the multi-target tracker: LR and SR frames in, LR/SR/union tracks and rviz markers out.

One Tracker holds every track, so an object crossing from the LR band into the SR band keeps its
track id; the per-band topics carry the tracks whose last detection came from that band.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from transforms3d.quaternions import quat2mat
from visualization_msgs.msg import Marker, MarkerArray

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_radar.frame_codec import frame_to_detections, tracks_to_msg
from qiki_radar.radar_model import polar_to_world
from qiki_radar.tracker import Coverage, Measurements, Tracker, TrackSet
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_ros import qos
from qiki_ros.entrypoint import run_node
from qiki_ros.graph_node import GraphNode
from qiki_ros.packing import from_stamp
from qiki_ros.params import declare_model
from qiki_ros.step_sync import StepSync

IFF_COLOURS = {TrackArray.IFF_UNKNOWN: (1.0, 0.85, 0.1), TrackArray.IFF_FRIEND: (0.1, 0.9, 0.2),
               TrackArray.IFF_FOE: (1.0, 0.15, 0.1)}


class TrackerNode(GraphNode):
    def __init__(self) -> None:
        super().__init__("tracker")
        self.cfg = declare_model(self, TrackerNodeConfig)
        self.tracker = Tracker(self.cfg.tracker)
        self.frames_rejected_old = 0
        self.frames_dropped_malformed = 0
        self.detections_dropped = 0
        self.sync = StepSync(self, self.on_step)
        self.pub = {band: self.sync.publisher(TrackArray, port, qos.STREAM)
                    for band, port in ((TrackArray.BAND_LR, "tracks_lr"), (TrackArray.BAND_SR, "tracks_sr"),
                                       (TrackArray.BAND_UNION, "tracks"))}
        self.pub_markers = self.create_publisher(MarkerArray, "markers", qos.STREAM)   # for rviz, not stepped
        self._next_markers_s = 0.0
        self.frame_topics = [self.sync.subscribe(RadarFrame, port, qos.STREAM) for port in ("frame_lr", "frame_sr")]
        self.sync.start()

    def on_step(self, t_ns: int, inputs: dict) -> None:
        """Sim step t: process its frames LR before SR (order independent of delivery)."""
        frames = [f for topic in self.frame_topics for f in inputs.get(topic, [])]
        for frame in sorted(frames, key=lambda f: f.band):
            self.process(from_stamp(frame.header.stamp), frame)

    def process(self, t: float, frame: RadarFrame) -> None:
        if self.tracker.time is not None and t < self.tracker.time:
            self.frames_rejected_old += 1
            self.get_logger().warning(f"radar frame at t={t:.3f} s is older than the last processed "
                                      f"({self.tracker.time:.3f} s): rejected ({self.frames_rejected_old} so far)",
                                      throttle_duration_sec=1.0)
            return
        try:
            det = frame_to_detections(frame)
        except ValueError as exc:
            self.frames_dropped_malformed += 1
            self.get_logger().warning(f"radar frame dropped: {exc} ({self.frames_dropped_malformed} so far)",
                                      throttle_duration_sec=1.0)
            return
        finite = det.validate()
        if not finite.all():
            self.detections_dropped += int((~finite).sum())
            self.get_logger().warning(f"{int((~finite).sum())} non-finite detections dropped "
                                      f"({self.detections_dropped} so far)", throttle_duration_sec=1.0)
            det = det.select(finite)
        p = frame.sensor_pose.position
        sensor_pos = np.array([p.x, p.y, p.z])
        q = frame.sensor_pose.orientation
        rot = quat2mat([q.w, q.x, q.y, q.z])
        z, R = polar_to_world(det, sensor_pos, rot, frame.range_std_m, frame.azimuth_std_rad,
                              frame.elevation_std_rad)
        meas = Measurements.from_world(z, R, det.band, det.transponder_code, self.cfg.tracker.dim)
        tracks = self.tracker.step(t, meas, Coverage(sensor_pos, frame.min_range_m, frame.max_range_m))
        self.publish(frame, tracks)

    def publish(self, frame: RadarFrame, tracks: TrackSet) -> None:
        for band, pub in self.pub.items():
            msg = TrackArray(band=band)
            msg.header.stamp, msg.header.frame_id = frame.header.stamp, self.cfg.world_frame
            mask = None if band == TrackArray.BAND_UNION else tracks.band == band
            pub.publish(tracks_to_msg(tracks, mask, msg))
        t = from_stamp(frame.header.stamp)
        if self.pub_markers.get_subscription_count() and t >= self._next_markers_s:
            self._next_markers_s = t + 1.0 / self.cfg.markers.rate_hz
            self.pub_markers.publish(self.markers(frame, tracks))

    def markers(self, frame: RadarFrame, tracks: TrackSet) -> MarkerArray:
        """Confirmed tracks for rviz in the world frame: IFF colour, id label, velocity arrow.

        A DELETEALL first removes markers of tracks that no longer exist.
        """
        out = MarkerArray(markers=[Marker(action=Marker.DELETEALL)])
        show = np.flatnonzero(tracks.confirmed_mask())[: self.cfg.markers.max_tracks]
        s = self.cfg.markers.scale_m
        for i in show:
            x, y, z, vx, vy, vz = (float(v) for v in tracks.state[i])
            r, g, b = IFF_COLOURS.get(int(tracks.iff[i]), IFF_COLOURS[TrackArray.IFF_UNKNOWN])
            tid = int(tracks.id[i])
            for ns, mtype in (("track", Marker.CYLINDER), ("label", Marker.TEXT_VIEW_FACING),
                              ("velocity", Marker.ARROW)):
                m = Marker(ns=ns, id=tid, type=mtype, action=Marker.ADD, lifetime=Duration(sec=2))
                m.header.stamp, m.header.frame_id = frame.header.stamp, self.cfg.world_frame
                m.color.r, m.color.g, m.color.b, m.color.a = r, g, b, 0.9
                m.pose.orientation.w = 1.0
                if mtype == Marker.ARROW:
                    m.points = [Point(x=x, y=y, z=z), Point(x=x + vx, y=y + vy, z=z + vz)]
                    m.scale.x, m.scale.y, m.scale.z = 0.15 * s, 0.3 * s, 0.3 * s
                else:
                    m.pose.position.x, m.pose.position.y = x, y
                    m.pose.position.z = z + (1.2 * s if mtype == Marker.TEXT_VIEW_FACING else 0.0)
                    m.scale.x = m.scale.y = s
                    m.scale.z = 0.6 * s if mtype == Marker.TEXT_VIEW_FACING else 0.2 * s
                    m.text = f"{tid}" if mtype == Marker.TEXT_VIEW_FACING else ""
                out.markers.append(m)
        return out


def main(args=None) -> int:
    return run_node(TrackerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
