"""Property-based: whatever TrackArray reaches the scorer, its adapter (qiki_tracks.track_codec.tracks_from_msg)
rejects it with a one-line reason naming the field (arrays that do not describe N tracks), or hands the
scorer only tracks with a finite, sane state and counts the rest; the scores stay finite (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import FLOATS, float_list, fuzz_settings, is_finite, item_counts
from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_tracks.track_codec import tracks_from_msg
from qiki_radar.scoring import TrackScorer
from qiki_geometry.state_bounds import MAX_ABS_STATE

FIELDS = {"id": np.uint32, "status": np.uint8, "iff": np.uint8, "track_band": np.uint8,
          "transponder_code": np.uint32, "hits": np.uint32}


@st.composite
def track_arrays(draw, max_tracks: int = 8) -> TrackArray:
    n = draw(st.integers(0, max_tracks))
    counts = draw(item_counts(n, (*FIELDS, "age_s", "state", "covariance")))
    msg = TrackArray(band=RadarFrame.BAND_UNION)
    for name, dtype in FIELDS.items():
        k = counts[name]
        setattr(msg, name, np.array(draw(st.lists(st.integers(0, 3 if dtype is np.uint8 else 6), min_size=k,
                                                  max_size=k)), dtype))
    msg.age_s = np.array(draw(float_list(counts["age_s"])))
    state = [draw(st.one_of(st.floats(-50.0, 50.0), st.floats(-50.0, 50.0), FLOATS)) for _ in range(6 * counts["state"])]
    msg.state = np.array(state, np.float64)
    cov = np.tile(np.eye(6).ravel(), counts["covariance"])
    if cov.size and draw(st.booleans()):
        cov[draw(st.integers(0, cov.size - 1))] = draw(FLOATS)
    msg.covariance = cov
    return msg


def _consistent(msg: TrackArray) -> bool:
    n = len(msg.id)
    return (all(len(getattr(msg, name)) == n for name in FIELDS) and len(msg.age_s) == n
            and len(msg.state) == 6 * n and len(msg.covariance) == 36 * n)


@fuzz_settings(80)
@given(st.lists(track_arrays(), min_size=1, max_size=5), st.integers(0, 8))
def test_any_track_array_is_rejected_with_a_reason_or_scored_finitely(sequence, n_truth):
    scorer = TrackScorer(c=20.0, p=2, assoc_distance_m=20.0)
    rng = np.random.default_rng(n_truth)
    truth_ids, truth_pos = np.arange(n_truth), rng.uniform(-50.0, 50.0, (n_truth, 3))
    dropped_total = 0
    for msg in sequence:
        try:
            tracks, dropped = tracks_from_msg(msg)
        except ValueError as exc:
            assert not _consistent(msg)
            assert str(exc).startswith("TrackArray: ") and "\n" not in str(exc)
            continue
        assert _consistent(msg)
        state = np.asarray(msg.state).reshape(-1, 6)
        bad = ~(np.abs(state) < MAX_ABS_STATE).all(axis=1) | ~np.isfinite(np.asarray(msg.covariance).reshape(-1, 36)).all(axis=1)
        assert dropped == int(bad.sum()) and len(tracks) == len(msg.id) - dropped
        dropped_total += dropped
        keep = tracks.status != TrackArray.STATUS_TENTATIVE          # as the scorer node scores them
        res = scorer.update(truth_ids, truth_pos, tracks.id[keep], tracks.state[keep, :3])
        assert res is not None and is_finite(res.total, res.localisation, res.missed, res.false)
    s = scorer.summary()
    assert is_finite(s.gospa_mean, s.gospa_per_target, s.localisation_rms, s.confirmed_mean)


def test_mismatched_track_array_names_the_field():
    msg = TrackArray()
    for name, dtype in FIELDS.items():
        setattr(msg, name, np.zeros(3, dtype))
    msg.age_s, msg.state, msg.covariance = np.zeros(3), np.zeros(12), np.zeros(108)
    with pytest.raises(ValueError, match=r"^TrackArray: state has 12 values for 3 tracks \(expected 6 per track\)$"):
        tracks_from_msg(msg)
    msg.state = np.zeros(18)
    msg.state[7] = np.nan
    tracks, dropped = tracks_from_msg(msg)
    assert dropped == 1 and len(tracks) == 2
