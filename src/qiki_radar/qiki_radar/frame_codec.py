"""RadarFrame / TrackArray messages <-> the numpy containers of the radar and tracker cores."""
from __future__ import annotations

import numpy as np

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_radar.radar_model import Detections, RadarBand
from qiki_radar.tracker import TrackSet
from qiki_ros.packing import pack, unpack


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


def tracks_to_msg(tracks: TrackSet, mask: np.ndarray | None, msg: TrackArray) -> TrackArray:
    """Fill `msg` with the rows of `tracks` selected by `mask` (all when None)."""
    sel = slice(None) if mask is None else mask
    msg.id, msg.status = pack(tracks.id[sel], np.uint32), pack(tracks.status[sel], np.uint8)
    msg.iff, msg.track_band = pack(tracks.iff[sel], np.uint8), pack(tracks.band[sel], np.uint8)
    msg.transponder_code, msg.hits = pack(tracks.code[sel], np.uint32), pack(tracks.hits[sel], np.uint32)
    msg.age_s, msg.state = pack(tracks.age_s[sel]), pack(tracks.state[sel])
    msg.covariance = pack(tracks.covariance[sel])
    return msg
