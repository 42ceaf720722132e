"""Smoke test of bench/bench_tracker.py: the scenario generator and both trackers on a tiny case.

Keeps the benchmark code from rotting; no timing is asserted.
"""
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

pytest.importorskip("stonesoup")

_BENCH = pathlib.Path(__file__).resolve().parents[3] / "bench" / "bench_tracker.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_tracker", _BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_tracker"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_tracker", None)


def test_scenario_generator(bench):
    a = bench.make_scenario(50, 30, seed=4)
    b = bench.make_scenario(50, 30, seed=4)
    assert a.truth.shape == (30, 50, 4) and len(a.z) == len(a.origin) == 30
    assert all(np.array_equal(x, y) for x, y in zip(a.z, b.z))  # reproducible from the seed
    detected = np.concatenate([o[o >= 0] for o in a.origin])
    assert 0.85 < detected.size / (30 * 50) < 0.95  # Pd = 0.9
    assert sum(int((o < 0).sum()) for o in a.origin) > 0  # clutter
    for k in (0, 29):  # target measurements sit within a few noise sigmas of their truth
        o = a.origin[k]
        err = a.z[k][o >= 0] - a.truth[k, o[o >= 0], :2]
        assert np.abs(err).max() < 6 * bench.NOISE_STD
    speed = np.linalg.norm(a.truth[0, :, 2:], axis=1)
    assert 9.0 < speed.min() and speed.max() < 41.0


def test_both_trackers_find_the_targets(bench):
    sc = bench.make_scenario(5, 10, seed=2)
    q = bench.run(bench.QikiRunner, sc, warmup=6)
    s = bench.run(bench.StoneSoupRunner, sc, warmup=6)
    for r in (q, s):
        assert r.frames == 10 and r.frame_ms.shape == (10,) and np.all(r.frame_ms > 0)
        assert r.score.frames_scored == 4
        assert r.score.confirmed_mean > 4.0 and r.score.false_tracks == 0
        assert r.score.gospa_per_target < 8.0
    pooled = [(bench.Pooled("QIKI", 5, [q]), bench.Pooled("Stone Soup", 5, [s]))]
    table = bench.comparison_table(pooled)
    assert table.count("\n") == 3 and "| QIKI |" in table and "| Stone Soup |" in table
    assert "predict ms" in bench.scaling_table([q])


def test_qiki_with_stone_soups_association_cost_reproduces_stone_soup(bench):
    """Same models, same cost (Mahalanobis distance): both trackers report the same confirmed estimates
    every frame, so accuracy differences in the bench come from QIKI's likelihood cost alone. The case has
    ambiguous associations: with its default cost QIKI's output differs from Stone Soup's."""
    sc = bench.make_scenario(30, 30, seed=1)
    q, s, default = bench.QikiMahalanobisRunner(sc), bench.StoneSoupRunner(sc), bench.QikiRunner(sc)
    order = lambda p: p[np.lexsort(p.T[::-1])]  # noqa: E731
    differs = 0
    for k in range(sc.frames):
        (_, qpos), (_, spos), (_, dpos) = q.step(k), s.step(k), default.step(k)
        assert len(qpos) == len(spos)
        np.testing.assert_allclose(order(qpos), order(spos), atol=1e-6)
        differs += len(dpos) != len(spos) or not np.allclose(order(dpos), order(spos), atol=1e-6)
    assert differs > 0
