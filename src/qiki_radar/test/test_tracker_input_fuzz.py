"""Property-based: whatever arrives in a RadarFrame, the tracker's input adapter either rejects the whole
frame with a ValueError naming the problem, or hands the tracker only usable detections and counts the
rest; the tracker's output stays finite, frame after frame (hypothesis)."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_inputs import fuzz_settings
from qiki_msgs.msg import RadarFrame
from qiki_radar.frame_codec import frame_measurements
from qiki_radar.tracker import Measurements, Tracker, TrackerConfig

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)
REASONABLE = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


def _frame(draw, n: int, lengths_match: bool) -> RadarFrame:
    f = RadarFrame(band=RadarFrame.BAND_SR)
    arrays = {name: draw(st.lists(st.one_of(ANY_FLOAT, REASONABLE), min_size=n, max_size=n))
              for name in ("range_m", "azimuth_rad", "elevation_rad", "range_rate_mps", "snr_db")}
    if not lengths_match:
        arrays["azimuth_rad"] = arrays["azimuth_rad"] + [0.0]
    for name, values in arrays.items():
        setattr(f, name, np.array(values, np.float64))
    f.transponder_code = np.zeros(n, np.uint32)
    f.detection_band = np.full(n, RadarFrame.BAND_SR, np.uint8)
    f.min_range_m, f.max_range_m = draw(st.sampled_from([(0.0, 60.0), (60.0, 400.0), (math.nan, 60.0), (50.0, 10.0)]))
    f.range_std_m = draw(st.sampled_from([0.5, 0.0, math.inf, 1e-3]))
    f.azimuth_std_rad = draw(st.sampled_from([0.01, math.nan, 0.02]))
    f.elevation_std_rad = draw(st.sampled_from([0.0, 0.01]))
    f.sensor_pose.position.x = draw(st.one_of(REASONABLE, st.just(math.inf)))
    f.sensor_pose.orientation.w = draw(st.sampled_from([1.0, 1.0, 0.5, math.nan]))
    return f


@st.composite
def frames(draw):
    n = draw(st.integers(0, 40))
    return _frame(draw, n, lengths_match=draw(st.booleans() | st.just(True)))


def _usable(f: RadarFrame) -> bool:
    q, p = f.sensor_pose.orientation, f.sensor_pose.position
    return (len(f.azimuth_rad) == len(f.range_m) and q.w == 1.0 and math.isfinite(p.x)
            and f.range_std_m > 0 and math.isfinite(f.range_std_m) and math.isfinite(f.azimuth_std_rad)
            and math.isfinite(f.min_range_m) and f.min_range_m < f.max_range_m)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames(), min_size=1, max_size=6))
def test_any_frame_is_rejected_with_a_reason_or_tracked_finitely(sequence):
    tracker = Tracker(TrackerConfig(dim=2))
    for k, f in enumerate(sequence):
        try:
            meas, coverage, dropped = frame_measurements(f, 2)
        except ValueError as exc:
            assert not _usable(f)
            assert str(exc)                      # names the field
            continue
        assert _usable(f)
        n = len(f.range_m)
        assert dropped + len(meas.z) == n
        assert np.isfinite(meas.z).all() and np.isfinite(meas.R).all()
        out = tracker.step(0.1 * k, meas, coverage)
        assert np.isfinite(out.state).all() and np.isfinite(out.covariance).all()


def test_counts_what_it_drops():
    f = RadarFrame(band=RadarFrame.BAND_SR, min_range_m=0.0, max_range_m=60.0, range_std_m=0.5,
                   azimuth_std_rad=0.01, elevation_std_rad=0.0)
    f.sensor_pose.orientation.w = 1.0
    f.range_m = np.array([10.0, math.nan, 1e300, -5.0, 20.0])
    for name in ("azimuth_rad", "elevation_rad", "range_rate_mps", "snr_db"):
        setattr(f, name, np.zeros(5))
    f.transponder_code, f.detection_band = np.zeros(5, np.uint32), np.zeros(5, np.uint8)
    meas, _, dropped = frame_measurements(f, 2)
    assert dropped == 3
    np.testing.assert_allclose(meas.z, [[10.0, 0.0], [20.0, 0.0]])
    f.azimuth_rad = np.zeros(4)
    with pytest.raises(ValueError, match="azimuth"):
        frame_measurements(f, 2)


def _measurements(k: int) -> Measurements:
    """A few detections near fixed points (tracks form and stay), with small per-frame offsets."""
    z = np.array([[10.0, 5.0], [-20.0, 30.0], [40.0, -8.0]]) + 0.05 * np.sin(k + np.arange(6)).reshape(3, 2)
    return Measurements(z, np.tile(np.eye(2) * 0.25, (3, 1, 1)), RadarFrame.BAND_SR, 0)


def _snapshot(tracker: Tracker):
    tracks = tracker.tracks()
    return tracker.time, tracks.id.tolist(), tracks.state.tolist(), tracks.covariance.tolist(), tracks.hits.tolist()


@fuzz_settings(200)
@given(st.lists(st.one_of(st.integers(0, 400).map(lambda k: k / 10.0), st.sampled_from([0.0, 1e6, 4.2e9])),
                min_size=1, max_size=25))
def test_out_of_order_duplicate_and_backwards_stamps(times):
    """The tracker core takes frames in non-decreasing time: an older frame raises a one-line ValueError and
    leaves every track as it was (the node counts it in frames_rejected_old), a duplicate stamp is a frame at
    dt = 0, a jump far ahead predicts far ahead; the output stays finite throughout."""
    tracker = Tracker(TrackerConfig(dim=2, confirm_m=2, confirm_n=3))
    rejected = 0
    for k, t in enumerate(times):
        before = _snapshot(tracker)
        try:
            out = tracker.step(t, _measurements(k))
        except ValueError as exc:
            assert before[0] is not None and t < before[0] and "earlier than the last" in str(exc)
            assert _snapshot(tracker) == before
            rejected += 1
            continue
        assert before[0] is None or t >= before[0]
        assert tracker.time == t
        assert np.isfinite(out.state).all() and np.isfinite(out.covariance).all() and np.isfinite(out.age_s).all()
    backwards = sum(t < max(times[:i], default=-1.0) for i, t in enumerate(times))
    assert rejected == backwards
