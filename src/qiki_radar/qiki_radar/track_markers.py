"""rviz markers of the tracker's picture: confirmed tracks, the ego (the radar's pose) and each band's
reach, all in the tracking frame (bot: map, ship: the chaser's LVLH), so rviz needs no TF.

Builds visualization_msgs messages only (no rclpy): the tracker node publishes what this returns.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose
from visualization_msgs.msg import Marker, MarkerArray

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_tracks.track_set import TrackSet

IFF_COLOURS = {TrackArray.IFF_UNKNOWN: (1.0, 0.85, 0.1), TrackArray.IFF_FRIEND: (0.1, 0.9, 0.2),
               TrackArray.IFF_FOE: (1.0, 0.15, 0.1)}
EGO_COLOUR = (0.9, 0.9, 1.0)
BAND_COLOURS = {RadarFrame.BAND_LR: (0.4, 0.6, 1.0), RadarFrame.BAND_SR: (0.2, 0.9, 0.9)}
RING_POINTS = 72
LIFETIME = Duration(sec=2)


def _marker(ns: str, mid: int, mtype: int, frame_id: str, stamp: Time, rgb, alpha: float = 0.9) -> Marker:
    m = Marker(ns=ns, id=mid, type=mtype, action=Marker.ADD, lifetime=LIFETIME)
    m.header.stamp, m.header.frame_id = stamp, frame_id
    m.color.r, m.color.g, m.color.b, m.color.a = (*rgb, alpha)
    m.pose.orientation.w = 1.0
    return m


def track_markers(tracks: TrackSet, frame_id: str, stamp: Time, sensor_pose: Pose,
                  band_reach_m: dict[int, float], max_tracks: int = 200, scale_m: float = 1.0) -> MarkerArray:
    """DELETEALL (removes markers of tracks gone since), then: the ego as an arrow along its body x at the
    sensor pose, one ring per band at its maximum range around the sensor (in the frame's x-y plane), and per
    confirmed track (at most max_tracks) a cylinder in its IFF colour, its id and a velocity arrow (1 s)."""
    out = MarkerArray(markers=[Marker(action=Marker.DELETEALL)])
    s = scale_m
    ego = _marker("ego", 0, Marker.ARROW, frame_id, stamp, EGO_COLOUR, 1.0)
    ego.pose = sensor_pose
    ego.scale.x, ego.scale.y, ego.scale.z = 2.0 * s, 0.6 * s, 0.6 * s
    out.markers.append(ego)
    p = sensor_pose.position
    angle = np.linspace(0.0, 2.0 * np.pi, RING_POINTS + 1)
    for band, reach in sorted(band_reach_m.items()):
        ring = _marker("band_reach", int(band), Marker.LINE_STRIP, frame_id, stamp,
                       BAND_COLOURS.get(band, EGO_COLOUR), 0.5)
        ring.scale.x = 0.2 * s
        ring.points = [Point(x=p.x + reach * c, y=p.y + reach * n, z=p.z)
                       for c, n in zip(np.cos(angle).tolist(), np.sin(angle).tolist())]
        out.markers.append(ring)
    for i in np.flatnonzero(tracks.confirmed_mask())[:max_tracks]:
        x, y, z, vx, vy, vz = tracks.state[i].tolist()
        rgb = IFF_COLOURS.get(int(tracks.iff[i]), IFF_COLOURS[TrackArray.IFF_UNKNOWN])
        tid = int(tracks.id[i])
        body = _marker("track", tid, Marker.CYLINDER, frame_id, stamp, rgb)
        body.pose.position.x, body.pose.position.y, body.pose.position.z = x, y, z
        body.scale.x = body.scale.y = s
        body.scale.z = 0.2 * s
        label = _marker("label", tid, Marker.TEXT_VIEW_FACING, frame_id, stamp, rgb)
        label.pose.position.x, label.pose.position.y, label.pose.position.z = x, y, z + 1.2 * s
        label.scale.z = 0.6 * s
        label.text = str(tid)
        arrow = _marker("velocity", tid, Marker.ARROW, frame_id, stamp, rgb)
        arrow.points = [Point(x=x, y=y, z=z), Point(x=x + vx, y=y + vy, z=z + vz)]
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.15 * s, 0.3 * s, 0.3 * s
        out.markers += [body, label, arrow]
    return out
