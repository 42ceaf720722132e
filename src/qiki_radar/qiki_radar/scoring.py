"""Scoring of a multi-target tracker against simulation truth: GOSPA and track-level counts.

Pure numpy/scipy, used by the tracker benchmark (bench/bench_tracker.py) and its tests.

GOSPA (generalised optimal sub-pattern assignment, Rahmathullah, Garcia-Fernandez and Svensson,
"Generalized optimal sub-pattern assignment metric", FUSION 2017) between the truth set X
(|X| = n) and the estimate set Y (|Y| = m), with cut-off c > 0, order p >= 1 and alpha in (0, 2]:

    d(X, Y) = ( min over assignments  sum_{assigned (i, j)} min(|x_i - y_j|, c)^p
                + c^p / alpha * (n + m - 2 * |assignment|)_{unassigned} )^(1/p)

where for alpha < 2 the assignment must pair min(n, m) elements, and for alpha = 2 (the value used
throughout QIKI) the minimum may be taken over partial assignments, which decomposes the metric into

    d^p = localisation (sum of d_ij^p over pairs closer than c)
          + missed (c^p / 2 per unassigned truth) + false (c^p / 2 per unassigned estimate).

A pair farther apart than c is never worth assigning (it costs c^p, exactly a miss plus a false),
so only pairs within c are candidates: they are found with a k-d tree and the optimal assignment
is solved per connected component (qiki_radar.assignment, shared with the tracker's association). This keeps the
metric exact and cheap for 10^4 objects.

QIKI reports "GOSPA per target" as (d^p / n)^(1/p), in metres: the GOSPA contribution of an
average truth object, comparable across scenario sizes (0 = perfect; (c^p / alpha)^(1/p) when
nothing is tracked). Defaults: c = 20 m, p = 2, alpha = 2.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from qiki_radar.assignment import sparse_min_cost_matching

GOSPA_C_M = 20.0
GOSPA_P = 2
GOSPA_ALPHA = 2.0


@dataclass(frozen=True)
class GospaResult:
    """GOSPA distance and its p-th power decomposition (localisation + missed + false = total^p)."""

    total: float  # d(X, Y) [m]
    localisation: float  # sum of min(d, c)^p over assigned pairs [m^p]
    missed: float  # c^p / alpha per unassigned truth object [m^p]
    false: float  # c^p / alpha per unassigned estimate [m^p]
    n_missed: int = 0
    n_false: int = 0


def _points(a, dim: int | None = None) -> np.ndarray:
    """(K, d) float array; an empty input becomes (0, dim)."""
    a = np.asarray(a, np.float64)
    if a.size == 0:
        return a.reshape(0, dim if dim is not None else (a.shape[-1] if a.ndim == 2 else 0))
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)


def _pairs_within(a: np.ndarray, b: np.ndarray, radius: float):
    """Index pairs (i, j) and distances with |a_i - b_j| < radius."""
    none = np.zeros(0, np.intp)
    if len(a) == 0 or len(b) == 0:
        return none, none, np.zeros(0)
    sdm = cKDTree(a).sparse_distance_matrix(cKDTree(b), radius, output_type="ndarray")
    keep = sdm["v"] < radius
    return sdm["i"][keep].astype(np.intp), sdm["j"][keep].astype(np.intp), sdm["v"][keep]


def gospa(truth_pos, est_pos, c: float = GOSPA_C_M, p: float = GOSPA_P, alpha: float = GOSPA_ALPHA) -> GospaResult:
    """GOSPA metric between truth positions (N, d) and estimated positions (M, d); see the module doc."""
    x, y = _points(truth_pos), _points(est_pos)
    if len(x) == 0:
        x = x.reshape(0, y.shape[1])
    if len(y) == 0:
        y = y.reshape(0, x.shape[1])
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"truth has dim {x.shape[1]}, estimates have dim {y.shape[1]}")
    if not c > 0.0 or not p >= 1.0 or not 0.0 < alpha <= 2.0:
        raise ValueError(f"GOSPA needs c > 0, p >= 1, 0 < alpha <= 2 (got c={c}, p={p}, alpha={alpha})")
    n, m = len(x), len(y)
    i, j, dist = _pairs_within(x, y, c)
    a, b = sparse_min_cost_matching(n, m, i, j, dist**p - c**p)
    k = a.size
    loc = float(np.sum(np.linalg.norm(x[a] - y[b], axis=1) ** p)) if k else 0.0
    if alpha < 2.0:  # the remaining min(n, m) - k pairs must still be assigned, each at the cut-off
        loc += (min(n, m) - k) * c**p
        n_missed, n_false = max(n - m, 0), max(m - n, 0)
    else:
        n_missed, n_false = n - k, m - k
    missed, false = n_missed * c**p / alpha, n_false * c**p / alpha
    total = (loc + missed + false) ** (1.0 / p)
    return GospaResult(float(total), loc, float(missed), float(false), int(n_missed), int(n_false))


@dataclass(frozen=True)
class ScoreSummary:
    """What a TrackScorer accumulated (see TrackScorer for the definitions)."""

    frames_scored: int
    gospa_mean: float  # mean GOSPA distance per scored frame [m]
    gospa_per_target: float  # sqrt(mean over scored frames of d^p / n), p-th root form [m]
    localisation_rms: float  # RMS position error of assigned pairs [m]
    confirmed_mean: float  # mean confirmed tracks per scored frame
    tracks_confirmed: int  # distinct confirmed track ids seen
    false_tracks: int
    missed_targets: int
    id_switches: int
    truth_objects: int


class TrackScorer:
    """Frame-by-frame scoring of confirmed tracks against truth objects.

    Association (for the track-level counts): a truth object keeps the track it was associated
    with while they stay within release_distance_m (hysteresis); the other truth objects and
    tracks are matched optimally (minimum total distance) among pairs closer than
    assoc_distance_m.

    Accumulated:
      - GOSPA (c, p, alpha as in gospa()) per frame from frame warmup_frames on: the mean distance
        and the per-target value (mean over frames of d^p / n_truth)^(1/p) [m];
      - confirmed tracks per frame and distinct confirmed ids;
      - false tracks: confirmed track ids associated with truth in less than false_fraction of the
        frames they were reported (never associated included);
      - missed targets: truth objects in coverage during a scored frame that were never associated;
      - id switches: a truth object's associated track id differs from the one it had last time
        it was associated (gaps without an association are not switches by themselves).
    """

    def __init__(self, c: float = GOSPA_C_M, p: float = GOSPA_P, alpha: float = GOSPA_ALPHA,
                 assoc_distance_m: float = GOSPA_C_M, release_distance_m: float | None = None,
                 false_fraction: float = 0.5, warmup_frames: int = 0):
        self.c, self.p, self.alpha = float(c), float(p), float(alpha)
        self.assoc = float(assoc_distance_m)
        self.release = float(release_distance_m if release_distance_m is not None else 2.0 * assoc_distance_m)
        if self.release < self.assoc:
            raise ValueError("release_distance_m must not be smaller than assoc_distance_m")
        self.false_fraction = float(false_fraction)
        self.warmup = int(warmup_frames)
        self.frame = 0
        self._gospa_sum = 0.0
        self._gospa_pow_per_target = 0.0
        self._loc_sum, self._loc_n = 0.0, 0
        self._confirmed_sum = 0
        self._scored = 0
        self._life: Counter = Counter()  # track id -> frames reported
        self._assoc_frames: Counter = Counter()  # track id -> frames associated with truth
        self._last_track: dict[int, int] = {}  # truth id -> last associated track id
        self._pairs = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # (truth ids, track ids) of last frame
        self._seen_truth: set[int] = set()
        self._tracked_truth: set[int] = set()
        self.id_switches = 0

    def update(self, truth_ids, truth_pos, track_ids, track_pos, truth_in_coverage=None) -> GospaResult | None:
        """Score one frame: truth ids (N,) and positions (N, d), confirmed track ids (M,) and positions (M, d).

        truth_in_coverage (N,) bool limits GOSPA and the missed count to the covered objects.
        Returns the frame's GOSPA once past the warm-up, else None.
        """
        tid = np.asarray(truth_ids, np.int64).ravel()
        kid = np.asarray(track_ids, np.int64).ravel()
        tpos, kpos = _points(truth_pos), _points(track_pos)
        dim = tpos.shape[1] if len(tpos) else kpos.shape[1]
        tpos, kpos = tpos.reshape(len(tid), dim), kpos.reshape(len(kid), dim)
        cov = np.ones(len(tid), bool) if truth_in_coverage is None else np.asarray(truth_in_coverage, bool)
        ti, kj = self._associate(tid, tpos, kid, kpos)
        self._life.update(kid.tolist())
        self._assoc_frames.update(kid[kj].tolist())
        for t, k in zip(tid[ti].tolist(), kid[kj].tolist()):
            last = self._last_track.get(t)
            if last is not None and last != k:
                self.id_switches += 1
            self._last_track[t] = k
        self._tracked_truth.update(tid[ti].tolist())
        self._pairs = (tid[ti], kid[kj])
        self.frame += 1
        if self.frame <= self.warmup:
            return None
        self._seen_truth.update(tid[cov].tolist())
        res = gospa(tpos[cov], kpos, self.c, self.p, self.alpha)
        self._scored += 1
        self._gospa_sum += res.total
        self._gospa_pow_per_target += res.total**self.p / max(int(cov.sum()), 1)
        a, b = ti[cov[ti]], kj[cov[ti]]
        d = np.linalg.norm(tpos[a] - kpos[b], axis=1)
        self._loc_sum += float(np.sum(d**2))
        self._loc_n += int(d.size)
        self._confirmed_sum += len(kid)
        return res

    def _associate(self, tid, tpos, kid, kpos):
        n, m = len(tid), len(kid)
        ti_keep, kj_keep = np.zeros(0, np.intp), np.zeros(0, np.intp)
        pt, pk = self._pairs
        if pt.size and n and m:
            t_sort, k_sort = np.argsort(tid), np.argsort(kid)
            ti = t_sort[np.minimum(np.searchsorted(tid, pt, sorter=t_sort), n - 1)]
            kj = k_sort[np.minimum(np.searchsorted(kid, pk, sorter=k_sort), m - 1)]
            ok = (tid[ti] == pt) & (kid[kj] == pk)
            ti, kj = ti[ok], kj[ok]
            ok = np.linalg.norm(tpos[ti] - kpos[kj], axis=1) < self.release
            ti_keep, kj_keep = ti[ok], kj[ok]
        free_t = np.ones(n, bool)
        free_t[ti_keep] = False
        free_k = np.ones(m, bool)
        free_k[kj_keep] = False
        ft, fk = np.flatnonzero(free_t), np.flatnonzero(free_k)
        i, j, dist = _pairs_within(tpos[ft], kpos[fk], self.assoc)
        a, b = sparse_min_cost_matching(len(ft), len(fk), i, j, dist - self.assoc)
        return np.r_[ti_keep, ft[a]].astype(np.intp), np.r_[kj_keep, fk[b]].astype(np.intp)

    def false_track_ids(self) -> list[int]:
        """Track ids associated with truth in less than false_fraction of the frames they were reported."""
        return sorted(k for k, life in self._life.items() if self._assoc_frames[k] < self.false_fraction * life)

    def summary(self) -> ScoreSummary:
        s = max(self._scored, 1)
        return ScoreSummary(
            frames_scored=self._scored,
            gospa_mean=self._gospa_sum / s,
            gospa_per_target=(self._gospa_pow_per_target / s) ** (1.0 / self.p),
            localisation_rms=float(np.sqrt(self._loc_sum / max(self._loc_n, 1))),
            confirmed_mean=self._confirmed_sum / s,
            tracks_confirmed=len(self._life),
            false_tracks=len(self.false_track_ids()),
            missed_targets=len(self._seen_truth - self._tracked_truth),
            id_switches=self.id_switches,
            truth_objects=len(self._seen_truth),
        )
