"""One sim step of the multi-target tracker, without ROS: LR and SR frames in, LR/SR/union TrackArrays and
rviz markers out by port. The tracker node and the core engine both run it.

One Tracker holds every track, so an object crossing from the LR band into the SR band keeps its track id;
the per-band ports carry the tracks whose last detection came from that band.
"""
from __future__ import annotations

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_radar.frame_codec import frame_measurements
from qiki_radar.track_markers import track_markers
from qiki_radar.tracker import Tracker
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_ros.packing import from_stamp
from qiki_ros.step_ports import StepPorts
from qiki_tracks.track_codec import tracks_to_msg
from qiki_tracks.track_set import TrackSet

TRACK_PORTS = {RadarFrame.BAND_LR: "tracks_lr", RadarFrame.BAND_SR: "tracks_sr", RadarFrame.BAND_UNION: "tracks"}
INPUTS = ("frame_lr", "frame_sr")


class TrackerStep:
    def __init__(self, cfg: TrackerNodeConfig, ports: StepPorts):
        self.cfg, self.ports = cfg, ports
        self.tracker = Tracker(cfg.tracker)
        self._next_markers_s = 0.0
        self.band_reach_m: dict[int, float] = {}     # band -> max range of its latest frame [m], for rviz

    def step(self, t_ns: int, inputs: dict[str, list]) -> None:
        """Sim step t (`inputs`: port -> frames): process its frames LR before SR (order independent of
        delivery), then publish the tracks once: consumers get one picture per step, not one per band frame
        (on LR steps that halves the ~0.3 MB arrays on the agent's path)."""
        frames = [f for port in INPUTS for f in inputs.get(port, [])]
        last = None
        for frame in sorted(frames, key=lambda f: f.band):
            tracks = self.process(from_stamp(frame.header.stamp), frame)
            if tracks is not None:
                last = frame, tracks
        if last is not None:
            self.publish(*last)

    def process(self, t: float, frame: RadarFrame) -> TrackSet | None:
        """The tracks after this frame; None when the frame is rejected (too old or malformed)."""
        if self.tracker.time is not None and t < self.tracker.time:
            self.ports.count_input("frames_rejected_old", f"radar frame at t={t:.3f} s is older than the last "
                                   f"processed ({self.tracker.time:.3f} s): rejected")
            return None
        try:
            meas, coverage, dropped = frame_measurements(frame, self.cfg.tracker.dim)
        except ValueError as exc:
            self.ports.count_input("frames_dropped_malformed", f"radar frame dropped: {exc}")
            return None
        if dropped:
            self.ports.count_input("detections_dropped", f"{dropped} non-finite or out-of-range detections dropped",
                                   dropped)
        self.band_reach_m[frame.band] = frame.max_range_m
        return self.tracker.step(t, meas, coverage)

    def publish(self, frame: RadarFrame, tracks: TrackSet) -> None:
        for band, port in TRACK_PORTS.items():
            # the per-band topics feed tools only (rviz, recorder): with 1000 tracks one array is ~0.3 MB
            # and ~2 ms to publish, on the path to the agent, so they are skipped when nobody listens
            if band != RadarFrame.BAND_UNION and not self.ports.has_readers(port):
                continue
            msg = TrackArray(band=band)
            msg.header.stamp, msg.header.frame_id = frame.header.stamp, self.cfg.world_frame
            mask = None if band == RadarFrame.BAND_UNION else tracks.band == band
            self.ports.publish(port, tracks_to_msg(tracks, mask, msg))
        t = from_stamp(frame.header.stamp)
        if self.ports.has_readers("markers") and t >= self._next_markers_s:
            self._next_markers_s = t + 1.0 / self.cfg.markers.rate_hz
            self.ports.publish("markers", track_markers(
                tracks, self.cfg.world_frame, frame.header.stamp, frame.sensor_pose, self.band_reach_m,
                self.cfg.markers.max_tracks, self.cfg.markers.scale_m))
