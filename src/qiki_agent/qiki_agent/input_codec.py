"""The agent's input messages -> AgentCore's input arguments, without ROS.

Each function decodes one message into the keyword arguments of the matching AgentCore.on_* method. A
message whose flat arrays do not describe one set of N items (a TrackArray state of 12 values for 3
tracks, a covariance neither empty nor 36 per track, a DeviceHealth with 3 names and 2 levels) raises a
one-line ValueError naming the field: the node drops it and counts it. Values (NaN, inf, absurd
magnitudes, stamps going backwards) are the core's to judge: it rejects and counts those.
"""
from __future__ import annotations

import numpy as np

from qiki_msgs.msg import DeviceHealth, RadarFrame, TrackArray, VehicleState
from qiki_ros.packing import from_stamp, stamp_ns, unpack_items
from qiki_tracks.track_codec import track_set_of


def vehicle_state_args(msg: VehicleState) -> dict:
    """Arguments of AgentCore.on_vehicle_state; t_s as the node's step time (stamp in ns * 1e-9)."""
    p, q, v, w = msg.pose.position, msg.pose.orientation, msg.velocity_world, msg.twist.angular
    return dict(t_s=stamp_ns(msg.header.stamp) * 1e-9, position=(p.x, p.y, p.z), quaternion_wxyz=(q.w, q.x, q.y, q.z),
                velocity_world=(v.x, v.y, v.z), angular_velocity_body=(w.x, w.y, w.z))


def tracks_args(msg: TrackArray) -> dict:
    """Arguments of AgentCore.on_tracks; covariance and transponder_code may be empty (None, zeros)."""
    tracks = track_set_of(msg, optional=("covariance", "code", "hits", "age_s"))
    return dict(t_s=tracks.stamp_s, ids=tracks.id, status=tracks.status, iff=tracks.iff, band=tracks.band,
                state=tracks.state, covariance=tracks.covariance, transponder_code=tracks.code)


def device_health_args(msg: DeviceHealth) -> dict:
    """Arguments of AgentCore.on_device_health."""
    a = unpack_items(msg, "device", {"name": (str, 1), "level": (np.uint8, 1), "value": (np.float64, 1)})
    return dict(names=a["name"], levels=a["level"], values=a["value"], stamp_s=from_stamp(msg.header.stamp))


def radar_frame_args(msg: RadarFrame) -> dict:
    """Arguments of AgentCore.on_radar_frame (the agent only needs to know a frame arrived, and when); a
    frame whose detection arrays differ in length is no frame (radar liveness must not count it)."""
    unpack_items(msg, "detection", {"range_m": (np.float64, 1), "azimuth_rad": (np.float64, 1),
                                    "elevation_rad": (np.float64, 1), "range_rate_mps": (np.float64, 1),
                                    "snr_db": (np.float64, 1), "transponder_code": (np.uint32, 1),
                                    "detection_band": (np.uint8, 1)})
    return dict(t_s=from_stamp(msg.header.stamp))
