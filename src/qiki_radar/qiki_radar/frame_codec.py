"""RadarFrame messages <-> the numpy containers of the radar and tracker cores (TrackArray: qiki_tracks.track_codec)."""
from __future__ import annotations

import numpy as np
from transforms3d.quaternions import quat2mat

from qiki_msgs.msg import RadarFrame
from qiki_radar.radar_model import Detections, RadarBand, polar_to_world
from qiki_radar.tracker import Coverage, Measurements
from qiki_ros.packing import pack, unpack

RANGE_SLACK = 2.0  # detections beyond this many times the frame's max range are not radar returns


def detections_to_frame(det: Detections, frame: RadarFrame, band: RadarBand | None) -> RadarFrame:
    """Fill the detection arrays (and, for a single band, its coverage and noise) of `frame`."""
    if band is not None:
        frame.scan_period_s = 1.0 / band.rate_hz
        frame.min_range_m, frame.max_range_m = band.min_range_m, band.max_range_m
        frame.range_std_m, frame.azimuth_std_rad = band.range_std_m, band.azimuth_std_rad
        frame.elevation_std_rad, frame.range_rate_std_mps = band.elevation_std_rad, band.range_rate_std_mps
    frame.range_m, frame.azimuth_rad = pack(det.range_m), pack(det.azimuth_rad)
    frame.elevation_rad, frame.range_rate_mps = pack(det.elevation_rad), pack(det.range_rate_mps)
    frame.snr_db = pack(det.snr_db)
    frame.transponder_code = pack(det.transponder_code, np.uint32)
    frame.detection_band = pack(det.band, np.uint8)
    return frame


def frame_to_detections(frame: RadarFrame) -> Detections:
    """Raises ValueError (naming the field) when the frame's arrays have different lengths."""
    return Detections.from_arrays(
        unpack(frame.range_m), unpack(frame.azimuth_rad), unpack(frame.elevation_rad),
        unpack(frame.range_rate_mps), unpack(frame.snr_db), unpack(frame.transponder_code, np.uint32),
        unpack(frame.detection_band, np.uint8))


def frame_measurements(frame: RadarFrame, dim: int) -> tuple[Measurements, Coverage, int]:
    """World-frame measurements and coverage of one band frame for the tracker, and how many detections
    were dropped (a non-finite field, or a range outside [0, RANGE_SLACK * max range]).

    Raises ValueError naming the field when the frame as a whole is unusable: arrays of different lengths,
    a non-finite or non-unit sensor pose, non-finite or non-positive noise stds or coverage."""
    det = frame_to_detections(frame)
    p, q = frame.sensor_pose.position, frame.sensor_pose.orientation
    position, quat = np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z])
    if not (np.isfinite(position).all() and np.isfinite(quat).all()):
        raise ValueError("sensor_pose has NaN/inf values")
    if abs(np.linalg.norm(quat) - 1.0) > 1e-3:
        raise ValueError(f"sensor_pose.orientation is not a unit quaternion (norm {np.linalg.norm(quat):.6g})")
    stds = {"range_std_m": frame.range_std_m, "azimuth_std_rad": frame.azimuth_std_rad}
    for name, value in stds.items():
        if not (np.isfinite(value) and value > 0.0):
            raise ValueError(f"{name} must be finite and > 0, got {value}")
    if not (np.isfinite(frame.elevation_std_rad) and frame.elevation_std_rad >= 0.0):
        raise ValueError(f"elevation_std_rad must be finite and >= 0, got {frame.elevation_std_rad}")
    if not (np.isfinite(frame.min_range_m) and np.isfinite(frame.max_range_m)
            and 0.0 <= frame.min_range_m < frame.max_range_m):
        raise ValueError(f"coverage [min_range_m, max_range_m] = [{frame.min_range_m}, {frame.max_range_m}] "
                         "must be finite with 0 <= min < max")
    usable = det.validate() & (det.range_m >= 0.0) & (det.range_m <= RANGE_SLACK * frame.max_range_m)
    det = det.select(usable)
    z, R = polar_to_world(det, position, quat2mat(quat), frame.range_std_m, frame.azimuth_std_rad,
                          frame.elevation_std_rad)
    meas = Measurements.from_world(z, R, det.band, det.transponder_code, dim)
    return meas, Coverage(position, frame.min_range_m, frame.max_range_m), int((~usable).sum())
