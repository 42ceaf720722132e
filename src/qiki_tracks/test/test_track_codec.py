"""The TrackArray codec and the TrackSet container: round trip, one-line errors naming the message field,
unusable rows dropped and counted, bag-decoded messages (numpy fields) read like rclpy's."""
from types import SimpleNamespace

import numpy as np
import pytest

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_ros.packing import to_stamp
from qiki_tracks.track_codec import track_set_of, tracks_from_msg, tracks_to_msg
from qiki_tracks.track_set import TrackSet


def _tracks(n: int = 3) -> TrackSet:
    rng = np.random.default_rng(n)
    cov = np.tile(np.eye(6), (n, 1, 1)) * rng.uniform(0.5, 2.0, (n, 1, 1))
    return TrackSet.from_arrays(np.arange(1, n + 1), np.full(n, TrackArray.STATUS_CONFIRMED), np.arange(n) % 3,
                                np.arange(n) % 2, rng.normal(0.0, 100.0, (n, 6)), cov, code=np.arange(n) * 100,
                                hits=np.arange(n) + 5, age_s=np.linspace(0.5, 3.0, n))


def test_round_trip_is_exact_and_keeps_the_header():
    sent = _tracks(4)
    msg = TrackArray(band=RadarFrame.BAND_UNION)
    msg.header.stamp, msg.header.frame_id = to_stamp(12.5), "lvlh"
    got, dropped = tracks_from_msg(tracks_to_msg(sent, None, msg))
    assert dropped == 0 and got.stamp_s == 12.5 and got.frame_id == "lvlh"
    for name in ("id", "status", "iff", "band", "code", "hits", "age_s", "state", "covariance"):
        assert np.array_equal(getattr(got, name), getattr(sent, name)), name
    half, _ = tracks_from_msg(tracks_to_msg(sent, sent.band == 1, TrackArray()))
    assert half.id.tolist() == sent.id[sent.band == 1].tolist()


def test_arrays_that_do_not_describe_n_tracks_name_the_message_field():
    msg = tracks_to_msg(_tracks(3), None, TrackArray())
    msg.track_band = np.zeros(2, np.uint8)
    with pytest.raises(ValueError, match=r"^TrackArray: track_band has 2 entries for 3 tracks \(expected 1 per track\)$"):
        tracks_from_msg(msg)
    msg.track_band, msg.covariance = np.zeros(3, np.uint8), np.zeros(0)
    with pytest.raises(ValueError, match=r"^TrackArray: covariance has 0 values for 3 tracks \(expected 36 per track\)$"):
        tracks_from_msg(msg)
    tracks = track_set_of(msg, optional=("covariance",))          # a caller may accept no covariance
    assert tracks.covariance is None and len(tracks) == 3


def test_unusable_rows_are_dropped_and_counted():
    msg = tracks_to_msg(_tracks(5), None, TrackArray())
    state, cov = np.array(msg.state).reshape(5, 6), np.array(msg.covariance).reshape(5, 36)
    state[1, 2], state[3, 4], cov[4, 7] = np.nan, 1e13, np.inf
    msg.state, msg.covariance = state.ravel(), cov.ravel()
    tracks, dropped = tracks_from_msg(msg)
    assert dropped == 3 and tracks.id.tolist() == [1, 3]
    assert track_set_of(msg).usable().tolist() == [True, False, True, False, False]


def test_a_bag_decoded_message_reads_like_an_rclpy_one():
    msg = tracks_to_msg(_tracks(2), None, TrackArray())
    msg.header.frame_id = "map"
    fields = ("id", "status", "iff", "track_band", "transponder_code", "hits", "age_s", "state", "covariance")
    decoded = SimpleNamespace(header=msg.header, **{f: np.asarray(getattr(msg, f)) for f in fields})
    a, b = track_set_of(msg), track_set_of(decoded)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("id", "status", "band", "state", "covariance"))


def test_direct_callers_may_leave_out_codes_hits_ages_and_covariance():
    t = TrackSet.from_arrays([7], [1], [2], [1], np.zeros(6))
    assert t.covariance is None and t.code.tolist() == [0] and t.hits.tolist() == [0] and t.age_s.tolist() == [0.0]
    assert t.usable().tolist() == [True] and len(t.select(np.array([False]))) == 0
    assert TrackSet.empty().state.shape == (0, 6)
