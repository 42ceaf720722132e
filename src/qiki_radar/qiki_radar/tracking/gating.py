"""Gating: the (track, detection) pairs within a chi-square gate on the squared Mahalanobis distance.

Candidates come from a spatial search first (a dense distance matrix for small frames, a uniform grid, or a
k-d tree when the scene is too spread out for one), so a frame with thousands of tracks never forms the
full track x detection matrix.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from qiki_radar.tracking.kalman import inv_logdet
from qiki_radar.tracking.measurements import Measurements
from qiki_radar.tracking.table import TrackTable

DENSE_PAIRS_MAX = 1024  # below these many (track x measurement) cells a dense distance matrix beats the k-d tree
_NO_PAIRS = np.zeros(0, np.intp)


@dataclass(slots=True)
class Gated:
    """Candidate pairs of one frame: track rows, detection rows, squared Mahalanobis distance d2 and
    log det S of each pair within the association gate, and the (confirmed track, detection) pairs within the
    birth gate."""

    track: np.ndarray  # (K,) intp
    det: np.ndarray  # (K,) intp
    d2: np.ndarray  # (K,)
    logdet: np.ndarray  # (K,)
    birth_track: np.ndarray  # (B,) intp, confirmed tracks ...
    birth_det: np.ndarray  # (B,) intp, ... and the detections inside their birth gate

    @classmethod
    def none(cls) -> "Gated":
        return cls(_NO_PAIRS, _NO_PAIRS, np.zeros(0), np.zeros(0), _NO_PAIRS, _NO_PAIRS)

    def shadowed(self, hit: np.ndarray) -> np.ndarray:
        """Detections inside the birth gate of a confirmed track that got no detection (hit: (N,) mask)."""
        return self.birth_det[~hit[self.birth_track]]


@dataclass(frozen=True, slots=True)
class MahalanobisGater:
    """Pairs with d2 = nu^T S^-1 nu <= gate_chi2 (S = P + R): a chi-square gate on the squared distance.

    Stone Soup's `DistanceHypothesiser(measure=Mahalanobis(), missed_distance=sqrt(gate_chi2))` gates on the
    distance itself, hence the square root. For confirmed tracks it also returns the pairs within the wider
    `birth_gate_chi2` (0 = none), which the initiator uses.
    """

    gate_chi2: float
    birth_gate_chi2: float

    def candidates(self, tracks: TrackTable, meas: Measurements) -> Gated:
        n, m, d = len(tracks), len(meas), tracks.dim
        if n == 0 or m == 0:
            return Gated.none()
        P = tracks.P
        gate = np.where(tracks.confirmed, max(self.gate_chi2, self.birth_gate_chi2), self.gate_chi2)
        # |nu|^2 <= gate * lambda_max(P + R) <= gate * (tr P + max tr R): a safe per-track search radius.
        trace_p = sum(P[i, i] for i in range(d))
        radius = np.sqrt(gate * (trace_p + np.trace(meas.R, axis1=1, axis2=2).max()))
        ti, mj = pairs_in_radius(tracks.x[:d].T, meas.z, radius)
        if ti.size == 0:
            return Gated.none()
        # np.take keeps the track axis contiguous (fancy indexing on the last axis would not).
        S = np.take(P[:d, :d], ti, axis=2) + np.take(meas.R.transpose(1, 2, 0), mj, axis=2)
        nu = meas.z[mj].T - np.take(tracks.x[:d], ti, axis=1)
        Sinv, logdet = inv_logdet(S)
        d2 = sum(nu[a] * Sinv[a, b] * nu[b] for a in range(d) for b in range(d))
        near = tracks.confirmed[ti] & (d2 <= self.birth_gate_chi2)
        ok = d2 <= self.gate_chi2
        return Gated(ti[ok], mj[ok], d2[ok], logdet[ok], ti[near], mj[near])


def pairs_in_radius(points: np.ndarray, targets: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with |targets_j - points_i| <= radius_i.

    Points whose radius is at most a few times the median share one spatial query at the largest
    of their radii (a uniform grid when it is dense enough, else a k-d tree pair), filtered per
    point afterwards; the few wide ones (e.g. long-coasting tracks) are queried one by one, so they
    cannot blow up the shared query.
    """
    if points.shape[0] * targets.shape[0] <= DENSE_PAIRS_MAX:
        d2 = sum((targets[None, :, a] - points[:, a, None]) ** 2 for a in range(points.shape[1]))
        i, j = np.nonzero(d2 <= (radius * radius)[:, None])
        return i.astype(np.intp), j.astype(np.intp)
    cap = 4.0 * float(np.median(radius))
    narrow = radius <= cap
    out_i, out_j = [], []
    tree = None
    if narrow.any():
        idx = np.flatnonzero(narrow) if not narrow.all() else None
        pts, rad = (points, radius) if idx is None else (points[idx], radius[idx])
        found = pairs_grid(pts, targets, rad)
        if found is None:
            tree = cKDTree(targets)
            sdm = cKDTree(pts).sparse_distance_matrix(tree, float(rad.max()), output_type="ndarray")
            keep = sdm["v"] <= rad[sdm["i"]]
            found = sdm["i"][keep].astype(np.intp), sdm["j"][keep].astype(np.intp)
        out_i.append(found[0] if idx is None else idx[found[0]])
        out_j.append(found[1])
    if not narrow.all():
        idx = np.flatnonzero(~narrow)
        tree = tree if tree is not None else cKDTree(targets)
        found = tree.query_ball_point(points[idx], radius[idx], return_sorted=False)
        counts = np.fromiter(map(len, found), np.intp, idx.size)
        out_i.append(np.repeat(idx, counts))
        out_j.append(np.fromiter(itertools.chain.from_iterable(found), np.intp, int(counts.sum())))
    return np.concatenate(out_i).astype(np.intp), np.concatenate(out_j).astype(np.intp)


def pairs_grid(points: np.ndarray, targets: np.ndarray, radius: np.ndarray):
    """(i, j) with |targets_j - points_i| <= radius_i on a uniform grid of cell 2 max(radius); None when the
    grid would have far more cells than points (spread-out or 3-D scenes: use a k-d tree).

    A disc of radius <= cell / 2 lies in the 2^d cells nearest its centre, so each point looks up
    2^d cells in a dense cell table (no search, no tree build).
    """
    n, d = points.shape
    h = 2.0 * float(radius.max())
    if not h > 0.0:
        h = 1.0
    pcols = [np.ascontiguousarray(points[:, a]) for a in range(d)]
    tcols = [np.ascontiguousarray(targets[:, a]) for a in range(d)]
    kt = np.zeros(targets.shape[0], np.int64)
    kp = np.zeros((n, 2**d), np.int64)
    stride = 1
    for a in range(d):
        lo = min(pcols[a].min(), tcols[a].min())
        ct = ((tcols[a] - lo) * (1.0 / h)).astype(np.int64)
        fp = (pcols[a] - lo) * (1.0 / h)
        cp = fp.astype(np.int64)
        step = np.where(fp - cp >= 0.5, 1, -1)  # the neighbour cell the disc may reach along this axis
        extent = int(max(ct.max(), cp.max())) + 3
        kt += (ct + 1) * stride
        for corner in range(2**d):
            kp[:, corner] += (cp + 1 + step * ((corner >> a) & 1)) * stride
        stride *= extent
        if stride > 8 * (n + targets.shape[0]) + 4096:
            return None
    order = np.argsort(kt, kind="stable")
    count = np.bincount(kt, minlength=stride)
    start = np.cumsum(count) - count
    q = kp.ravel()
    c = count[q]
    hit = np.flatnonzero(c)
    c = c[hit]
    pi = np.repeat(hit >> d, c)
    mj = order[np.repeat(start[q[hit]] - (np.cumsum(c) - c), c) + np.arange(int(c.sum()))]
    dist2 = sum((tcols[a][mj] - pcols[a][pi]) ** 2 for a in range(d))
    keep = dist2 <= radius[pi] ** 2
    return pi[keep].astype(np.intp), mj[keep].astype(np.intp)
