"""One sim step of the two-band radar, without ROS: truth and vehicle state in, RadarFrames out by port
(frame_lr, frame_sr, and the union of one instant's scans on frame). The radar node and the core engine
both run it."""
from __future__ import annotations

import numpy as np

from qiki_description.loader import DescriptionError, load_description
from qiki_msgs.msg import RadarFrame, VehicleState, WorldTruth
from qiki_radar.frame_codec import detections_to_frame
from qiki_radar.radar_config import RadarNodeConfig, bands
from qiki_radar.radar_model import Detections, next_scan_time, observe
from qiki_radar.sensor_frame import SensorView
from qiki_radar.truth_codec import ego_view, truth_objects
from qiki_ros.packing import from_stamp
from qiki_ros.params import ConfigError
from qiki_ros.step_ports import StepPorts

BAND_PORTS = ("frame_lr", "frame_sr")
INPUTS = ("vehicle_state", "truth")


class RadarStep:
    """Frames are produced when truth arrives and a band's next scan time has come, so the radar stays in
    step with the simulator whatever the wall-clock rate."""

    def __init__(self, cfg: RadarNodeConfig, ports: StepPorts):
        if not cfg.description:
            raise ConfigError("node 'radar': parameter description is empty (set it to a vehicle, e.g. bot)")
        try:
            self.bands = bands(load_description(cfg.description).radar)
        except DescriptionError as exc:
            raise ConfigError(str(exc)) from None
        self.cfg, self.ports = cfg, ports
        self.rng = np.random.default_rng(cfg.seed)
        self.next_scan = [0.0 for _ in self.bands]
        self.seq = [0, 0, 0]

    def step(self, t_ns: int, inputs: dict[str, list]) -> None:
        """Sim step t (`inputs`: port -> messages): scan with every band whose next scan time has come."""
        egos, truths = inputs.get("vehicle_state", []), inputs.get("truth", [])
        if egos and truths:
            self.scan(truths[-1], egos[-1])

    def scan(self, msg: WorldTruth, ego: VehicleState) -> None:
        t = from_stamp(msg.header.stamp)
        try:
            objects, dropped = truth_objects(msg, self.cfg.vehicle.truth_id)
        except ValueError as exc:
            self.ports.count_input("truth_dropped", f"{exc}: truth dropped")
            return
        try:
            view = ego_view(self.cfg.world_frame, ego, objects)
        except ValueError as exc:
            self.ports.count_input("vehicle_state_dropped", f"{exc}: no scan")
            return
        if dropped:
            self.ports.count_input("truth_objects_dropped", f"{dropped} truth objects with NaN/inf/absurd state or "
                                   "RCS dropped", dropped)
        rcs, codes = objects.rcs_m2, objects.transponder_code
        scans = []
        for i, band in enumerate(self.bands):
            if t + 1e-9 < self.next_scan[i]:
                continue
            self.next_scan[i] = next_scan_time(self.next_scan[i], t, band.rate_hz)
            det = observe(band, self.rng, view.sensor_position, view.sensor_rotation, view.sensor_velocity,
                          view.target_position, view.target_velocity, rcs, codes)
            frame = self._frame(msg, view, band.band_id, i)
            self.ports.publish(BAND_PORTS[i], detections_to_frame(det, frame, band))
            scans.append(det)
        if scans:
            union = self._frame(msg, view, RadarFrame.BAND_UNION, 2)
            union.min_range_m = min(b.min_range_m for b in self.bands)
            union.max_range_m = max(b.max_range_m for b in self.bands)
            self.ports.publish("frame", detections_to_frame(Detections.concatenate(scans), union, None))

    def _frame(self, truth: WorldTruth, view: SensorView, band: int, seq_index: int) -> RadarFrame:
        self.seq[seq_index] += 1
        f = RadarFrame(band=band, frame_seq=self.seq[seq_index], world_frame_id=self.cfg.world_frame)
        f.header.stamp, f.header.frame_id = truth.header.stamp, self.cfg.sensor_frame
        f.sensor_pose.position.x, f.sensor_pose.position.y, f.sensor_pose.position.z = \
            (float(c) for c in view.sensor_position)
        w, x, y, z = (float(c) for c in view.sensor_quaternion_wxyz())
        f.sensor_pose.orientation.w, f.sensor_pose.orientation.x = w, x
        f.sensor_pose.orientation.y, f.sensor_pose.orientation.z = y, z
        return f
