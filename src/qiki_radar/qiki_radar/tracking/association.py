"""Data association: a gated global nearest neighbour, confirmed tracks first, with a choice of pair cost."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qiki_radar.assignment import sparse_min_cost_matching
from qiki_radar.tracking.gating import Gated
from qiki_radar.tracking.table import TrackTable


class PairCost(Protocol):
    def __call__(self, gated: Gated, gate_chi2: float) -> np.ndarray:
        """Cost of each gated pair; negative, so that every gated pair is worth taking."""


class LikelihoodCost:
    """Negative log-likelihood d2 + log det S, less that of a detection on the gate of the frame's widest S:
    the maximum-likelihood assignment. A close pair is not traded for two far ones just to assign more."""

    def __call__(self, gated: Gated, gate_chi2: float) -> np.ndarray:
        return gated.d2 + gated.logdet - (gate_chi2 + gated.logdet.max()) - 1e-9


class MahalanobisCost:
    """Mahalanobis distance d less the gate's sqrt(gate_chi2): what Stone Soup's GNN associators rank by
    (`DistanceHypothesiser(measure=Mahalanobis(), missed_distance=sqrt(gate_chi2))`)."""

    def __call__(self, gated: Gated, gate_chi2: float) -> np.ndarray:
        return np.sqrt(gated.d2) - np.sqrt(gate_chi2) - 1e-9


PAIR_COSTS: dict[str, PairCost] = {"likelihood": LikelihoodCost(), "mahalanobis": MahalanobisCost()}


@dataclass(slots=True)
class Assignment:
    """One-to-one (track row, detection row) pairs of a frame."""

    track: np.ndarray  # (K,) intp
    det: np.ndarray  # (K,) intp

    def hit(self, n: int) -> np.ndarray:
        """(n,) mask of the tracks that got a detection."""
        mask = np.zeros(n, bool)
        mask[self.track] = True
        return mask

    def unassociated(self, m: int) -> np.ndarray:
        """(m,) mask of the detections no track took."""
        mask = np.ones(m, bool)
        mask[self.det] = False
        return mask


@dataclass(frozen=True, slots=True)
class ConfirmedFirstGNN:
    """Global nearest neighbour over the gated pairs, in two stages: a minimum-cost partial assignment of
    the confirmed tracks, then one of the tentative tracks over the detections the confirmed ones left.
    Stone Soup's `GNNWith2DAssignment` / `DetectionKDTreeGNN2D` assign all tracks in one stage."""

    cost: PairCost
    gate_chi2: float

    def associate(self, tracks: TrackTable, gated: Gated, m: int) -> Assignment:
        n, ti, mj = len(tracks), gated.track, gated.det
        if ti.size == 0:
            return Assignment(ti, mj)
        conf = tracks.confirmed[ti]
        cost = self.cost(gated, self.gate_chi2)
        a1, b1 = sparse_min_cost_matching(n, m, ti[conf], mj[conf], cost[conf])
        used = np.zeros(m, bool)
        used[b1] = True
        rest = ~conf & ~used[mj]
        a2, b2 = sparse_min_cost_matching(n, m, ti[rest], mj[rest], cost[rest])
        return Assignment(np.concatenate((a1, a2)), np.concatenate((b1, b2)))
