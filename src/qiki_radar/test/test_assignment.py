"""Minimum-cost partial matching over sparse candidates (qiki_radar.assignment): the optimum of one dense
problem, by every path through the solver."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from qiki_radar import assignment
from qiki_radar.assignment import sparse_min_cost_matching


@pytest.mark.parametrize("dense_max", [0, 40000])
def test_sparse_assignment_equals_dense_hungarian(dense_max, monkeypatch):
    """The same optimum as one dense linear_sum_assignment of the negative costs (0 elsewhere), whether
    solved per component (dense_max = 0) or at once."""
    monkeypatch.setattr(assignment, "DENSE_ASSIGN_MAX", dense_max)
    rng = np.random.default_rng(26)
    for _ in range(400):
        n, m = rng.integers(1, 12, 2)
        mask = rng.random((n, m)) < rng.uniform(0.05, 0.6)
        C = np.where(mask, rng.uniform(-20.0, -0.1, (n, m)), 0.0)
        ti, mj = np.nonzero(mask)
        a, b = sparse_min_cost_matching(n, m, ti, mj, C[ti, mj])
        assert len(set(a.tolist())) == a.size and len(set(b.tolist())) == b.size and mask[a, b].all()
        r, c = linear_sum_assignment(C)
        ok = C[r, c] < 0.0
        assert C[a, b].sum() == pytest.approx(C[r[ok], c[ok]].sum())


def test_sparse_min_cost_matching_rejects_non_negative_costs():
    with pytest.raises(ValueError):
        sparse_min_cost_matching(1, 1, [0], [0], [0.0])
    a, b = sparse_min_cost_matching(2, 2, [0, 0, 1], [0, 1, 0], [-5.0, -1.0, -4.5])
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 1), (1, 0)]  # -1 - 4.5 beats 0-0 alone (-5)
