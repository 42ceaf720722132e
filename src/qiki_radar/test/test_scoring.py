"""Unit tests of the tracker scoring (qiki_radar.scoring): GOSPA and the track-level counts."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import linear_sum_assignment

from qiki_radar.scoring import GospaResult, TrackScorer, gospa

C = 10.0


def test_gospa_perfect_is_zero():
    x = np.array([[0.0, 0.0], [50.0, 5.0], [-3.0, 7.0]])
    assert gospa(x, x[::-1], C) == GospaResult(0.0, 0.0, 0.0, 0.0, 0, 0)
    assert gospa(np.zeros((0, 2)), np.zeros((0, 2)), C).total == 0.0


def test_gospa_one_missed_and_one_false():
    # A missed truth object costs c^p / alpha = 100 / 2, a false estimate the same.
    missed = gospa([[0.0, 0.0]], np.zeros((0, 2)), C)
    assert (missed.missed, missed.false, missed.localisation, missed.n_missed) == (50.0, 0.0, 0.0, 1)
    assert missed.total == pytest.approx(np.sqrt(50.0))
    false = gospa(np.zeros((0, 2)), [[1.0, 1.0]], C)
    assert (false.missed, false.false, false.n_false) == (0.0, 50.0, 1)
    assert false.total == pytest.approx(np.sqrt(50.0))
    # One of two targets found 3-4-5 away: localisation 25, one miss 50.
    r = gospa([[0.0, 0.0], [100.0, 0.0]], [[3.0, 4.0]], C)
    assert (r.localisation, r.missed, r.false) == (25.0, 50.0, 0.0)
    assert r.total == pytest.approx(np.sqrt(75.0))


def test_gospa_localisation_and_cut_off():
    assert gospa([[0.0, 0.0]], [[3.0, 4.0]], C).total == pytest.approx(5.0)
    # Beyond c the pair is a miss plus a false estimate: (c^2/2 + c^2/2)^(1/2) = c.
    far = gospa([[0.0, 0.0]], [[30.0, 0.0]], C)
    assert (far.localisation, far.n_missed, far.n_false) == (0.0, 1, 1) and far.total == pytest.approx(C)
    # p = 1: plain sum.
    assert gospa([[0.0, 0.0], [20.0, 0.0]], [[1.0, 0.0], [20.0, 2.0]], C, p=1).total == pytest.approx(3.0)
    # alpha = 1 forces a full assignment: the far pair costs c^p as localisation.
    a1 = gospa([[0.0, 0.0]], [[30.0, 0.0]], C, alpha=1.0)
    assert (a1.localisation, a1.missed, a1.false) == (100.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        gospa([[0.0, 0.0]], [[1.0, 1.0]], c=0.0)
    with pytest.raises(ValueError, match="dim"):
        gospa([[0.0, 0.0]], [[1.0, 1.0, 1.0]], C)


def test_gospa_picks_the_optimal_not_the_greedy_assignment():
    # On a line: truths at 0 and 5.5, estimates at 5 and 9. Nearest-first would take 5.5-5 (0.5 m) and
    # then 0-9 (0.25 + 81); the optimum is 0-5 and 5.5-9 (25 + 12.25).
    truth = np.array([[0.0, 0.0], [5.5, 0.0]])
    est = np.array([[5.0, 0.0], [9.0, 0.0]])
    assert gospa(truth, est, C).localisation == pytest.approx(37.25)


def _gospa_brute(x, y, c, p, alpha):
    n, m = len(x), len(y)
    if n > m:
        x, y, n, m = y, x, m, n
    best = np.inf
    for perm in itertools.permutations(range(m), n):
        cost = sum(min(np.linalg.norm(x[i] - y[j]), c) ** p for i, j in enumerate(perm))
        best = min(best, cost)
    return (best + c**p / alpha * (m - n)) ** (1.0 / p)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 4), st.integers(0, 4), st.floats(1.0, 8.0), st.sampled_from([1.0, 2.0, 3.0]),
       st.sampled_from([1.0, 2.0]), st.integers(0, 10**6))
def test_gospa_matches_brute_force(n, m, c, p, alpha, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 10, (n, 2)), rng.uniform(0, 10, (m, 2))
    assert gospa(x, y, c, p, alpha).total == pytest.approx(_gospa_brute(x, y, c, p, alpha), rel=1e-9, abs=1e-9)


def test_gospa_large_sparse_equals_dense():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 300, (400, 2))
    y = np.vstack([x[:350] + rng.normal(0, 4, (350, 2)), rng.uniform(0, 300, (60, 2))])
    d = np.linalg.norm(x[:, None] - y[None], axis=2)
    cost = np.minimum(d, C) ** 2 - C**2  # assigning beyond c gains nothing
    a, b = linear_sum_assignment(cost)
    dense = (cost[a, b].sum() + C**2 / 2 * (len(x) + len(y))) ** 0.5
    assert gospa(x, y, C).total == pytest.approx(dense, rel=1e-9)


def test_scorer_counts_id_switches_with_hysteresis():
    sc = TrackScorer(c=C, assoc_distance_m=10.0, release_distance_m=20.0)
    truth = np.array([[0.0, 0.0], [100.0, 0.0]])
    ids = np.array([0, 1])
    sc.update(ids, truth, [7, 8], truth + 1.0)
    # Track 8 wanders 15 m from its target, nearer nothing else: kept by hysteresis (< 20 m).
    sc.update(ids, truth, [7, 8], truth + [[1.0, 0.0], [15.0, 0.0]])
    assert sc.id_switches == 0
    # The tracks swap targets (far apart): one switch per target.
    sc.update(ids, truth, [8, 7], truth)
    assert sc.id_switches == 2
    # Target 0 loses its track for two frames, then track 9 takes it: a switch (fragmentation).
    sc.update(ids, truth, [7], truth[1:])
    sc.update(ids, truth, [7], truth[1:])
    sc.update(ids, truth, [9, 7], truth)
    assert sc.id_switches == 3
    s = sc.summary()
    assert s.id_switches == 3 and s.tracks_confirmed == 3 and s.false_tracks == 0 and s.missed_targets == 0


def test_scorer_counts_false_tracks_and_missed_targets():
    sc = TrackScorer(c=C, assoc_distance_m=10.0, false_fraction=0.5)
    truth = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 500.0]])  # the third is never tracked
    ids = np.array([10, 11, 12])
    far = [1000.0, 1000.0]
    for k in range(4):
        tracks = [1, 2, 3]
        pos = [truth[0], truth[1] if k < 3 else far, far]  # 2: associated 3/4 of its life; 3: never
        if k == 0:
            tracks, pos = tracks + [4], pos + [truth[1] + 1.0]  # 4: duplicate, then gone (1 frame, 0 associated)
        sc.update(ids, truth, tracks, pos)
    s = sc.summary()
    assert sc.false_track_ids() == [3, 4]
    assert (s.false_tracks, s.missed_targets, s.truth_objects, s.tracks_confirmed) == (2, 1, 3, 4)


def test_scorer_gospa_after_warmup_and_coverage():
    sc = TrackScorer(c=C, warmup_frames=2)
    truth = np.array([[0.0, 0.0], [100.0, 0.0]])
    assert sc.update([0, 1], truth, [], np.zeros((0, 2))) is None  # warm-up: nothing tracked, not scored
    assert sc.update([0, 1], truth, [], np.zeros((0, 2))) is None
    r = sc.update([0, 1], truth, [5, 6], truth + [[3.0, 4.0], [0.0, 0.0]])
    assert r.total == pytest.approx(5.0)
    # Target 1 out of coverage: neither scored by GOSPA nor counted as missed.
    r = sc.update([0, 1], truth, [5], truth[:1], truth_in_coverage=[True, False])
    assert r.total == pytest.approx(0.0)
    s = sc.summary()
    assert s.frames_scored == 2
    assert s.gospa_mean == pytest.approx(2.5)
    assert s.gospa_per_target == pytest.approx(np.sqrt((25.0 / 2 + 0.0 / 1) / 2))
    assert s.localisation_rms == pytest.approx(np.sqrt(25.0 / 3))
    assert s.confirmed_mean == pytest.approx(1.5)
    with pytest.raises(ValueError):
        TrackScorer(assoc_distance_m=10.0, release_distance_m=5.0)
