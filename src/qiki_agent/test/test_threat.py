"""Closest point of approach and threat selection."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiki_agent.threat import ThreatAssessment, ThreatParams, closest_approach
from qiki_msgs.msg import RadarFrame as RF  # the BAND_* codes
from qiki_msgs.msg import TrackArray as TA  # the STATUS_*, IFF_* codes
from qiki_tracks.track_set import TrackSet


def state(x, y, vx, vy, z=0.0, vz=0.0):
    return [x, y, z, vx, vy, vz]


def test_head_on_tcpa_is_range_over_closing_speed_and_dcpa_zero():
    tcpa, dcpa = closest_approach([0, 0], [1.0, 0], [state(50.0, 0, -1.5, 0)])
    assert tcpa[0] == pytest.approx(50.0 / 2.5)
    assert dcpa[0] == pytest.approx(0.0, abs=1e-9)


def test_offset_crossing_and_3d():
    states = [state(50.0, 3.0, -1.5, 0),            # parallel lanes 3 m apart
              state(10.0, -10.0, 0, 1.0),           # crossing: meets the ego at (10, 0) at t = 10
              state(0, 0, 0, 0, z=-40.0, vz=2.0)]   # straight up from below, ego at rest in z
    tcpa, dcpa = closest_approach([0, 0, 0], [1.0, 0, 0], states)
    assert tcpa == pytest.approx([20.0, 10.0, 40.0 * 1.0 / (1.0 + 4.0) * 2.0])
    # third: p = (0, 0, -40), v = (-1, 0, 2): tcpa = 80/5 = 16, cpa = (-16, 0, -8)
    assert dcpa == pytest.approx([3.0, 0.0, math.hypot(16.0, 8.0)])


def test_receding_and_relative_rest_give_tcpa_zero_and_current_range():
    tcpa, dcpa = closest_approach([5.0, 5.0, 0], [1.0, 0, 0], [state(55.0, 5.0, 2.0, 0), state(5.0, 25.0, 1.0, 0)])
    assert tcpa.tolist() == [0.0, 0.0]
    assert dcpa == pytest.approx([50.0, 20.0])


def test_planar_ignores_z():
    s = [state(50.0, 0, -1.5, 0, z=30.0, vz=-0.5)]
    tcpa, dcpa = closest_approach([0, 0], [1.0, 0], s, planar=True)
    assert tcpa[0] == pytest.approx(20.0) and dcpa[0] == pytest.approx(0.0, abs=1e-9)
    _, dcpa3 = closest_approach([0, 0], [1.0, 0], s)
    assert dcpa3[0] > 5.0


def test_empty_and_bad_ego_shape():
    tcpa, dcpa = closest_approach([0, 0, 0], [0, 0, 0], np.zeros((0, 6)))
    assert tcpa.shape == dcpa.shape == (0,)
    with pytest.raises(ValueError, match="2- or 3-vector"):
        closest_approach([0, 0, 0, 0], [0, 0, 0], np.zeros((1, 6)))


vec = st.floats(-100, 100, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(vec, vec, vec, vec, vec, vec), min_size=1, max_size=8), vec, vec, vec, vec)
def test_cpa_is_the_minimum_distance_over_future_time(rows, ex, ey, evx, evy):
    states = np.array(rows)
    tcpa, dcpa = closest_approach([ex, ey, 0], [evx, evy, 0], states)
    assert np.all(tcpa >= 0)
    t = np.linspace(0, 50, 2001)
    for i, s in enumerate(states):
        rel = (s[None, :3] + s[None, 3:] * t[:, None]) - (np.array([ex, ey, 0]) + np.array([evx, evy, 0]) * t[:, None])
        assert dcpa[i] <= np.linalg.norm(rel, axis=1).min() + 1e-6
        # relative motion, as the definition reads: the two absolute paths far out (large TCPA) would cancel
        at = (s[:3] - np.array([ex, ey, 0])) + (s[3:] - np.array([evx, evy, 0])) * tcpa[i]
        assert dcpa[i] == pytest.approx(np.linalg.norm(at), abs=1e-6)


# ---------------------------------------------------------------- selection

PARAMS = ThreatParams(tcpa_max_s=30.0, safe_radius_m=2.0, planar=True)
EGO_P, EGO_V = [0.0, 0.0], [1.0, 0.0]
# id: (status, iff, band, state)
ROWS = {
    1: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_SR, state(50.0, 0.0, -1.5, 0)),    # head-on foe: threat, TCPA 20
    2: (TA.STATUS_CONFIRMED, TA.IFF_FRIEND, RF.BAND_SR, state(50.0, 0.0, -1.5, 0)), # friend: excluded
    3: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_LR, state(50.0, 0.0, -1.5, 0)),    # LR band: excluded
    4: (TA.STATUS_TENTATIVE, TA.IFF_FOE, RF.BAND_SR, state(50.0, 0.0, -1.5, 0)),    # tentative: excluded
    5: (TA.STATUS_COASTING, TA.IFF_UNKNOWN, RF.BAND_SR, state(20.0, 1.0, -1.5, 0)), # coasting unknown: threat, TCPA 8
    6: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_SR, state(50.0, 5.0, -1.5, 0)),    # passes 5 m off: excluded
    7: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_SR, state(100.0, 0.0, -1.5, 0)),   # TCPA 40 > 30: excluded
    8: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_SR, state(-20.0, 0.0, -1.5, 0)),   # behind, receding: excluded
    9: (TA.STATUS_CONFIRMED, TA.IFF_FOE, RF.BAND_SR, state(-1.0, 0.5, 1.0, 0)),     # alongside, inside radius: TCPA 0
}


def tracks(rows=ROWS, covariance=None):
    ids = list(rows)
    status, iff, band, states = zip(*rows.values())
    return TrackSet.from_arrays(ids, status, iff, band, np.ravel(states),
                                None if covariance is None else np.ravel(covariance))


def test_selects_confirmed_or_coasting_foe_or_unknown_sr_tracks_on_collision_course_sorted_by_tcpa():
    report = ThreatAssessment(PARAMS).assess(EGO_P, EGO_V, tracks())
    assert [t.id for t in report.threats] == [9, 5, 1]
    assert report.count == 3
    assert report.min_tcpa_s == 0.0
    assert report.threats[2].tcpa_s == pytest.approx(20.0)
    assert report.min_dcpa_m == pytest.approx(0.0, abs=1e-9)
    assert report.tcpa_s.shape == (len(ROWS),)
    head_on = report.threats[2]
    assert head_on.rel_pos == pytest.approx([50.0, 0, 0]) and head_on.rel_vel == pytest.approx([-2.5, 0, 0])
    assert head_on.cpa_rel_pos == pytest.approx([0, 0, 0], abs=1e-9)


@pytest.mark.parametrize("drop_id, field, value", [(1, "iff", TA.IFF_FRIEND), (1, "band", RF.BAND_LR),
                                                    (1, "status", TA.STATUS_TENTATIVE)])
def test_each_filter_alone_excludes_a_threat(drop_id, field, value):
    status, iff, band, s = ROWS[drop_id]
    row = {"status": status, "iff": iff, "band": band}
    row[field] = value
    report = ThreatAssessment(PARAMS).assess(EGO_P, EGO_V, tracks({drop_id: (row["status"], row["iff"],
                                                                               row["band"], s)}))
    assert report.count == 0
    assert report.min_tcpa_s == math.inf and report.min_dcpa_m == math.inf and report.most_urgent is None


def test_thresholds_are_parameters():
    wide = ThreatParams(tcpa_max_s=60.0, safe_radius_m=6.0, planar=True)
    ids = {t.id for t in ThreatAssessment(wide).assess(EGO_P, EGO_V, tracks()).threats}
    assert ids == {1, 5, 6, 7, 9}


def test_covariance_inflates_the_radius_when_sigma_k_set():
    row = {6: ROWS[6]}  # DCPA 5 m
    cov = np.diag([9.0, 16.0, 0, 1, 1, 0])[None]  # largest planar position std 4 m
    base = ThreatParams(tcpa_max_s=30.0, safe_radius_m=2.0, planar=True)
    assert ThreatAssessment(base).assess(EGO_P, EGO_V, tracks(row, cov)).count == 0
    inflated = base.model_copy(update={"sigma_k": 1.0})
    report = ThreatAssessment(inflated).assess(EGO_P, EGO_V, tracks(row, cov))
    assert report.count == 1 and report.threats[0].radius_m == pytest.approx(6.0)


def test_tracks_from_flat_arrays_checks_lengths():
    t = tracks()
    assert len(t) == len(ROWS) and t.state.shape == (len(ROWS), 6)
    assert TrackSet.empty().state.shape == (0, 6)
    with pytest.raises(ValueError, match="state has 5 values"):
        TrackSet.from_arrays([1], [1], [2], [1], [0.0] * 5)
    with pytest.raises(ValueError, match="iff has 2 entries for 1"):
        TrackSet.from_arrays([1], [1], [2, 2], [1], [0.0] * 6)
    with pytest.raises(ValueError, match="covariance has 35 values"):
        TrackSet.from_arrays([1], [1], [2], [1], [0.0] * 6, [0.0] * 35)


def test_threat_params_reject_bad_values():
    with pytest.raises(ValueError):
        ThreatParams(tcpa_max_s=0.0, safe_radius_m=1.0)
    with pytest.raises(ValueError):
        ThreatParams(tcpa_max_s=1.0, safe_radius_m=1.0, bands=[3])
