"""rviz markers built from a TrackSet: what is drawn, in which frame, and what is left out."""
import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose
from visualization_msgs.msg import Marker

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_radar.track_markers import IFF_COLOURS, track_markers
from qiki_tracks.track_set import TrackSet


def _tracks(n: int, status, iff) -> TrackSet:
    state = np.zeros((n, 6))
    state[:, 0] = np.arange(n) * 10.0
    state[:, 3] = 1.0
    return TrackSet(id=np.arange(1, n + 1, dtype=np.uint32), status=np.asarray(status, np.uint8),
                    iff=np.asarray(iff, np.uint8), band=np.zeros(n, np.uint8), code=np.zeros(n, np.uint32),
                    hits=np.ones(n, np.uint32), age_s=np.zeros(n), state=state, covariance=np.zeros((n, 6, 6)))


def test_markers_show_confirmed_tracks_the_ego_and_each_bands_reach():
    tracks = _tracks(3, [TrackArray.STATUS_CONFIRMED, TrackArray.STATUS_TENTATIVE, TrackArray.STATUS_COASTING],
                     [TrackArray.IFF_FRIEND, TrackArray.IFF_UNKNOWN, TrackArray.IFF_FOE])
    pose = Pose()
    pose.position.x, pose.position.y = 5.0, -2.0
    pose.orientation.w = 1.0
    out = track_markers(tracks, "map", Time(sec=7), pose, {RadarFrame.BAND_LR: 400.0, RadarFrame.BAND_SR: 60.0})
    assert out.markers[0].action == Marker.DELETEALL
    rest = out.markers[1:]
    assert all(m.header.frame_id == "map" and m.header.stamp.sec == 7 for m in rest)
    by_ns = {}
    for m in rest:
        by_ns.setdefault(m.ns, []).append(m)
    assert by_ns["ego"][0].pose.position.x == 5.0 and by_ns["ego"][0].type == Marker.ARROW
    rings = {m.id: m for m in by_ns["band_reach"]}
    for band, reach in ((RadarFrame.BAND_LR, 400.0), (RadarFrame.BAND_SR, 60.0)):
        pts = np.array([[p.x, p.y] for p in rings[band].points])
        np.testing.assert_allclose(np.linalg.norm(pts - [5.0, -2.0], axis=1), reach)
    # the tentative track (id 2) is not drawn; confirmed and coasting ones are, in their IFF colour
    assert sorted(m.id for m in by_ns["track"]) == [1, 3]
    colour = {m.id: (m.color.r, m.color.g, m.color.b) for m in by_ns["track"]}
    assert np.allclose(colour[1], IFF_COLOURS[TrackArray.IFF_FRIEND])
    assert np.allclose(colour[3], IFF_COLOURS[TrackArray.IFF_FOE])
    assert {m.text for m in by_ns["label"]} == {"1", "3"}
    arrow = next(m for m in by_ns["velocity"] if m.id == 3)
    assert (arrow.points[1].x - arrow.points[0].x) == 1.0     # one second of velocity


def test_marker_count_is_capped():
    n = 500
    tracks = _tracks(n, [TrackArray.STATUS_CONFIRMED] * n, [TrackArray.IFF_UNKNOWN] * n)
    pose = Pose()
    pose.orientation.w = 1.0
    out = track_markers(tracks, "lvlh", Time(), pose, {}, max_tracks=200)
    assert sum(m.ns == "track" for m in out.markers) == 200
    assert not any(m.ns == "band_reach" for m in out.markers)
