"""Multi-target tracker core: CV Kalman filter, sparse gated GNN, M-of-N track management.

Pure numpy/scipy; the tracker node wraps it. All per-track data lives in flat
struct-of-arrays, the filter arrays with the track axis last ((2d, N) states,
(2d, 2d, N) covariances), so predict, gate and update are a few contiguous
length-N vector operations per matrix entry rather than batched small-matrix
products. Association only looks at candidate pairs found on a uniform grid (or a
k-d tree when the scene is too spread out for one), assigns isolated pairs
directly and solves the rest per connected component, so one frame stays cheap
with thousands of tracks (bench/bench_tracker.py, docs/perf_tracker.md).

Track lifecycle, counted over "covered" frames (frames whose coverage contains
the predicted track position, or which assigned a detection to the track):
tentative -> confirmed once M of its first N covered frames were hits (deleted as
soon as that is out of reach); a confirmed track coasts on covered misses and is
deleted after more than max_coast_frames consecutive ones. Frames that do not
cover a track leave it untouched, which lets a track cross from the LR band to
the SR band without a miss penalty. Two clocks bound what coverage cannot see: a
tentative track unconfirmed tentative_max_age_s after its birth is deleted, and so
is any track without an update for max_unupdated_s (e.g. one that left every band).

Association is a gated global nearest neighbour (minimum total negative
log-likelihood by default, or total Mahalanobis distance as Stone Soup's GNN
associators use: assignment_cost), confirmed tracks first: a tentative track only gets a detection
no confirmed track took. A detection left over inside the looser birth gate
(chi2 birth_gate_probability) of a confirmed track that got no detection this frame
starts no new track, so a rare gate miss (0.3 % of updates at the 99.7 % gate) does
not spawn a duplicate that could later steal the target, while a new object next to
a well-tracked one still starts its track at once. Tracker.phase_time_s accumulates where a frame's time goes.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.spatial import cKDTree
from scipy.special import gammaincinv

from qiki_radar.assignment import sparse_min_cost_matching

STATUS_TENTATIVE = 0
STATUS_CONFIRMED = 1
STATUS_COASTING = 2

IFF_UNKNOWN = 0
IFF_FRIEND = 1
IFF_FOE = 2

STATE_DIM = 6
GATE_PROBABILITY = 0.997
BIRTH_GATE_PROBABILITY = 0.9999
_DENSE_PAIRS_MAX = 1024  # below these many (track x measurement) cells a dense distance matrix beats the k-d tree
PHASES = ("predict", "gate", "assign", "update", "manage", "output")


def chi2_quantile(probability: float, dof: int) -> float:
    """scipy.stats.chi2.ppf, computed as it does, without importing scipy.stats (~1 s at node start-up,
    which a restarted tracker cannot afford)."""
    return float(2.0 * gammaincinv(dof / 2.0, probability))


class TrackerConfig(BaseModel):
    """Tracker parameters; defaults suit the 2-D bot profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: Literal[2, 3] = 2
    process_accel_std: float = Field(
        1.0, ge=0.0, description="CV model acceleration noise [m/s^2], continuous white noise of density std^2 * 1 s")
    gate_chi2: float = Field(0.0, ge=0.0, description="Mahalanobis gate; 0 = chi2 99.7% quantile for dim DOF")
    confirm_m: int = Field(4, ge=1)
    confirm_n: int = Field(6, ge=1, le=32)
    max_coast_frames: int = Field(5, ge=0, description="covered misses a confirmed track survives")
    tentative_max_misses: int = Field(
        32, ge=0, description="consecutive covered misses a tentative track survives, on top of M-of-N "
                              "(the default, 32, leaves M-of-N alone to decide)")
    init_velocity_std: float = Field(15.0, gt=0.0, description="velocity std of a one-point-initiated track [m/s]")
    tentative_max_age_s: float = Field(
        5.0, ge=0.0, description="a tentative track still unconfirmed this long after its birth is deleted, "
                                 "covered or not [s]; 0 = no limit")
    max_unupdated_s: float = Field(
        30.0, ge=0.0, description="a track without an update for this long is deleted, covered or not "
                                  "(e.g. one that left every band) [s]; 0 = no limit")
    coverage_margin_sigma: float = Field(
        2.0, ge=0.0, description="a frame counts a miss only for tracks predicted at least this many position stds "
                                 "(along the line of sight) inside its coverage, so a track near a band edge is not "
                                 "killed by the band the target has not entered yet")
    birth_gate_probability: float = Field(
        BIRTH_GATE_PROBABILITY, ge=0.0, lt=1.0,
        description="an unassigned detection inside the gate of this chi2 probability of a confirmed track that "
                    "missed this frame starts no new track; 0 = every unassigned detection starts one")
    assignment_cost: Literal["likelihood", "mahalanobis"] = Field(
        "likelihood", description="GNN pair cost: likelihood = d^2 + log det S (maximum-likelihood assignment), "
                                  "mahalanobis = d (the distance Stone Soup's Mahalanobis hypothesiser ranks by)")
    friend_codes: list[int] = Field(default_factory=list)
    foe_codes: list[int] = Field(default_factory=list)

    @field_validator("gate_chi2", mode="before")
    @classmethod
    def _none_is_auto(cls, v):
        return 0.0 if v is None else v

    @model_validator(mode="after")
    def _check(self) -> "TrackerConfig":
        if self.confirm_m > self.confirm_n:
            raise ValueError(f"confirm_m ({self.confirm_m}) must not exceed confirm_n ({self.confirm_n})")
        if any(c <= 0 or c >= 2**32 for c in self.friend_codes + self.foe_codes):
            raise ValueError("IFF codes must be in [1, 2^32)")
        if set(self.friend_codes) & set(self.foe_codes):
            raise ValueError(f"codes listed as both friend and foe: {sorted(set(self.friend_codes) & set(self.foe_codes))}")
        return self

    @property
    def gate(self) -> float:
        """Effective chi-square gate on the squared Mahalanobis distance."""
        return self.gate_chi2 if self.gate_chi2 > 0.0 else chi2_quantile(GATE_PROBABILITY, self.dim)

    @property
    def birth_gate(self) -> float:
        """Squared Mahalanobis distance to a confirmed track under which a detection starts no track (0 = off)."""
        if self.birth_gate_probability <= 0.0:
            return 0.0
        return max(self.gate, chi2_quantile(self.birth_gate_probability, self.dim))


@dataclass
class Measurements:
    """Position measurements of one frame in the world frame, sliced to the tracker dimension."""

    z: np.ndarray  # (M, dim) [m]
    R: np.ndarray  # (M, dim, dim) [m^2]
    band: np.ndarray  # (M,) uint8
    code: np.ndarray  # (M,) uint32, 0 = no transponder

    def __post_init__(self):
        self.z = np.asarray(self.z, np.float64)
        m, d = self.z.shape
        self.R = np.asarray(self.R, np.float64)
        self.band = np.broadcast_to(np.asarray(self.band, np.uint8), (m,))
        self.code = np.broadcast_to(np.asarray(self.code, np.uint32), (m,))
        if self.R.shape != (m, d, d):
            raise ValueError(f"Measurements.R has shape {self.R.shape}, expected {(m, d, d)}")

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @classmethod
    def empty(cls, dim: int) -> "Measurements":
        return cls(np.zeros((0, dim)), np.zeros((0, dim, dim)), 0, 0)

    @classmethod
    def from_world(cls, z3, R3, band, code, dim: int) -> "Measurements":
        """Take 3-D world positions/covariances (e.g. from polar_to_world) and keep the first dim axes."""
        z3, R3 = np.asarray(z3, np.float64).reshape(-1, 3), np.asarray(R3, np.float64).reshape(-1, 3, 3)
        return cls(z3[:, :dim], R3[:, :dim, :dim], band, code)


@dataclass
class Coverage:
    """Slant-range interval seen by the frame; tracks predicted outside it are not penalised for a miss."""

    sensor_position: np.ndarray  # (3,) world frame [m]
    min_range_m: float
    max_range_m: float

    def contains(self, position: np.ndarray, margin=0.0) -> np.ndarray:
        """Mask of (N,3) positions within [min_range_m, max_range_m), at least margin [m] (scalar or (N,))
        inside each edge (an inner edge at 0 m is not a boundary and takes no margin)."""
        r = np.linalg.norm(position - np.asarray(self.sensor_position, np.float64), axis=1)
        inner = self.min_range_m + margin if self.min_range_m > 0.0 else 0.0
        return (r >= inner) & (r < self.max_range_m - margin)


@dataclass
class TrackSet:
    """Tracker output, one row per track; state is always [x, y, z, vx, vy, vz]."""

    id: np.ndarray  # uint32
    status: np.ndarray  # uint8, STATUS_*
    iff: np.ndarray  # uint8, IFF_*
    band: np.ndarray  # uint8, band of the last assigned detection
    code: np.ndarray  # uint32, last nonzero transponder code heard
    hits: np.ndarray  # uint32
    age_s: np.ndarray  # float64
    state: np.ndarray  # (N, 6) float64
    covariance: np.ndarray  # (N, 6, 6) float64

    def __len__(self) -> int:
        return int(self.id.shape[0])

    def confirmed_mask(self) -> np.ndarray:
        """Tracks past confirmation, i.e. CONFIRMED or COASTING."""
        return self.status != STATUS_TENTATIVE


# Per-track arrays; the track axis is the first one except for _x (2d, N) and _P (2d, 2d, N), which keep it
# last so that every filter operation is a handful of contiguous length-N vector operations (batched
# 4x4 matrix products in numpy are an order of magnitude slower at these sizes).
_TRACK_FIELDS = ("_id", "_x", "_P", "_birth_t", "_last_hit_t", "_hits", "_hist", "_nhist", "_misses", "_confirmed",
                 "_band", "_code")
_TRACK_AXIS_LAST = ("_x", "_P")


class Tracker:
    """Batched multi-target tracker; call step() once per frame in non-decreasing time."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        d = self.config.dim
        self._gate = self.config.gate
        self._birth_gate = self.config.birth_gate
        #: cumulative wall time per phase of step() [s] (keys: PHASES), for profiling; reset_timing() zeroes it
        self.phase_time_s = dict.fromkeys(PHASES, 0.0)
        self._state_index = np.r_[0:d, 3:3 + d]  # columns of [x,y,z,vx,vy,vz] held internally
        self._friend = np.asarray(self.config.friend_codes, np.uint32)
        self._foe = np.asarray(self.config.foe_codes, np.uint32)
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Drop all tracks and the time reference; ids keep increasing so they are never reused."""
        d2 = 2 * self.config.dim
        self._t: float | None = None
        self._id = np.zeros(0, np.uint32)
        self._x = np.zeros((d2, 0))  # [position, velocity] x track
        self._P = np.zeros((d2, d2, 0))
        self._birth_t = np.zeros(0)
        self._last_hit_t = np.zeros(0)
        self._hits = np.zeros(0, np.uint32)
        self._hist = np.zeros(0, np.uint32)  # bit i = hit in the i-th most recent covered frame
        self._nhist = np.zeros(0, np.int64)  # covered frames seen, capped at confirm_n
        self._misses = np.zeros(0, np.int64)  # consecutive covered misses
        self._confirmed = np.zeros(0, bool)
        self._band = np.zeros(0, np.uint8)
        self._code = np.zeros(0, np.uint32)

    def __len__(self) -> int:
        return int(self._id.shape[0])

    def reset_timing(self) -> None:
        """Zero phase_time_s."""
        self.phase_time_s = dict.fromkeys(PHASES, 0.0)

    @property
    def time(self) -> float | None:
        """Time of the last processed frame, None before the first."""
        return self._t

    def step(self, t: float, meas: Measurements, coverage: Coverage | None = None) -> TrackSet:
        """Process one frame at time t (>= last t) and return all tracks."""
        t = float(t)
        if not np.isfinite(t):
            raise ValueError(f"frame time {t} is not finite")
        if self._t is not None and t < self._t:
            raise ValueError(f"frame time {t} is earlier than the last processed time {self._t}")
        if meas.z.shape[1] != self.config.dim:
            raise ValueError(f"measurements have dim {meas.z.shape[1]}, tracker has dim {self.config.dim}")
        clock, pt = time.perf_counter, self.phase_time_s
        c0 = clock()
        if self._t is not None:
            self._predict(t - self._t)
        self._t = t
        c1 = clock()
        pt["predict"] += c1 - c0

        covered = np.ones(len(self), bool) if coverage is None else self._covered(coverage)
        ti, mj, d2, logdet, near = self._candidates(meas)
        c2 = clock()
        pt["gate"] += c2 - c1
        ti, mj = self._assign(len(meas), ti, mj, d2, logdet)
        c3 = clock()
        pt["assign"] += c3 - c2
        self._update(ti, mj, meas)
        self._last_hit_t[ti] = t
        c4 = clock()
        pt["update"] += c4 - c3
        hit = np.zeros(len(self), bool)
        hit[ti] = True
        self._count_frame(hit, covered | hit)
        unassigned = np.ones(len(meas), bool)
        unassigned[mj] = False
        unassigned[near[1][~hit[near[0]]]] = False  # inside the birth gate of a confirmed track that missed
        self._birth(t, meas, np.flatnonzero(unassigned))
        self._confirmed |= np.bitwise_count(self._hist) >= self.config.confirm_m
        self._delete_lost()
        c5 = clock()
        pt["manage"] += c5 - c4
        out = self.tracks()
        pt["output"] += clock() - c5
        return out

    def tracks(self) -> TrackSet:
        """Snapshot of the current tracks (copies, safe to keep)."""
        n, idx = len(self), self._state_index
        status = np.where(~self._confirmed, STATUS_TENTATIVE,
                          np.where(self._misses > 0, STATUS_COASTING, STATUS_CONFIRMED)).astype(np.uint8)
        iff = np.where(np.isin(self._code, self._friend), IFF_FRIEND,
                       np.where(np.isin(self._code, self._foe), IFF_FOE, IFF_UNKNOWN)).astype(np.uint8)
        state = np.zeros((n, STATE_DIM))
        state[:, idx] = self._x.T
        cov = np.zeros((n, STATE_DIM, STATE_DIM))
        cov[:, idx[:, None], idx[None, :]] = self._P.transpose(2, 0, 1)
        age = (self._t - self._birth_t) if self._t is not None else np.zeros(0)
        return TrackSet(self._id.copy(), status, iff, self._band.copy(), self._code.copy(), self._hits.copy(),
                        age, state, cov)

    # --- filter ---------------------------------------------------------------------------

    def _position3(self) -> np.ndarray:
        p = np.zeros((len(self), 3))
        p[:, :self.config.dim] = self._x[:self.config.dim].T
        return p

    def _covered(self, coverage: Coverage) -> np.ndarray:
        """Tracks whose predicted position is inside the coverage by coverage_margin_sigma line-of-sight stds."""
        d = self.config.dim
        pos = self._position3()
        margin = 0.0
        if self.config.coverage_margin_sigma > 0.0 and len(self):
            los = pos[:, :d] - np.asarray(coverage.sensor_position, np.float64)[:d]
            los /= np.maximum(np.linalg.norm(los, axis=1), 1e-9)[:, None]
            var = sum(los[:, a] * self._P[a, b] * los[:, b] for a in range(d) for b in range(d))
            margin = self.config.coverage_margin_sigma * np.sqrt(np.maximum(var, 0.0))
        return coverage.contains(pos, margin)

    def _predict(self, dt: float) -> None:
        """Constant-velocity prediction with continuous white-noise acceleration.

        The continuous model (spectral density process_accel_std^2 * 1 s) composes exactly:
        predicting 0.5 s in one step or in five 0.1 s steps (interleaved SR frames) gives the
        same covariance, so a track's consistency does not depend on the other band's rate.
        F P F^T is applied as a row then a column operation on the track-last covariance.
        """
        if dt <= 0.0 or len(self) == 0:
            return
        d = self.config.dim
        q = self.config.process_accel_std ** 2
        x, P = self._x, self._P
        x[:d] += dt * x[d:]
        P[:d] += dt * P[d:]  # F P
        P[:, :d] += dt * P[:, d:]  # (F P) F^T
        for i in range(d):
            P[i, i] += q * dt**3 / 3.0
            P[i, d + i] += q * dt**2 / 2.0
            P[d + i, i] += q * dt**2 / 2.0
            P[d + i, d + i] += q * dt

    def _candidates(self, meas: Measurements):
        """Gated (track, measurement) pairs, and the (confirmed track, detection) pairs within the birth gate.

        A pair is kept when its squared Mahalanobis distance d2 is within the gate; returned with
        d2 and log det S.
        """
        n, m, d = len(self), len(meas), self.config.dim
        none = np.zeros(0, np.intp)
        if n == 0 or m == 0:
            return none, none, np.zeros(0), np.zeros(0), (none, none)
        P = self._P
        gate = np.where(self._confirmed, max(self._gate, self._birth_gate), self._gate)
        # |nu|^2 <= gate * lambda_max(P + R) <= gate * (tr P + max tr R): a safe per-track search radius.
        trace_p = sum(P[i, i] for i in range(d))
        radius = np.sqrt(gate * (trace_p + np.trace(meas.R, axis1=1, axis2=2).max()))
        ti, mj = _pairs_in_radius(self._x[:d].T, meas.z, radius)
        if ti.size == 0:
            return none, none, np.zeros(0), np.zeros(0), (none, none)
        # np.take keeps the track axis contiguous (fancy indexing on the last axis would not).
        S = np.take(P[:d, :d], ti, axis=2) + np.take(meas.R.transpose(1, 2, 0), mj, axis=2)
        nu = meas.z[mj].T - np.take(self._x[:d], ti, axis=1)
        Sinv, logdet = _inv_logdet(S)
        d2 = sum(nu[a] * Sinv[a, b] * nu[b] for a in range(d) for b in range(d))
        near = self._confirmed[ti] & (d2 <= self._birth_gate)
        ok = d2 <= self._gate
        return ti[ok], mj[ok], d2[ok], logdet[ok], (ti[near], mj[near])

    def _assign(self, m: int, ti: np.ndarray, mj: np.ndarray, d2: np.ndarray, logdet: np.ndarray):
        """Global nearest neighbour over the gated pairs: confirmed tracks first, then tentative ones.

        Each stage is a minimum-cost partial assignment whose pair cost is the negative
        log-likelihood d2 + log det S less that of a detection on the gate of the frame's widest
        S (or, with assignment_cost "mahalanobis", the distance d less the gate's): every gated pair
        is worth taking, but a close pair is not traded for two far ones just to assign more pairs.
        Tentative tracks only compete for what the confirmed ones left.
        """
        n = len(self)
        if ti.size == 0:
            return ti, mj
        conf = self._confirmed[ti]
        if self.config.assignment_cost == "mahalanobis":
            cost = np.sqrt(d2) - np.sqrt(self._gate) - 1e-9
        else:
            cost = d2 + logdet - (self._gate + logdet.max()) - 1e-9
        a1, b1 = sparse_min_cost_matching(n, m, ti[conf], mj[conf], cost[conf])
        used = np.zeros(m, bool)
        used[b1] = True
        rest = ~conf & ~used[mj]
        a2, b2 = sparse_min_cost_matching(n, m, ti[rest], mj[rest], cost[rest])
        return np.r_[a1, a2].astype(np.intp), np.r_[b1, b2].astype(np.intp)

    def _update(self, ti: np.ndarray, mj: np.ndarray, meas: Measurements) -> None:
        """Batched Kalman update of the assigned tracks, Joseph form (I-KH) P (I-KH)^T + K R K^T."""
        if ti.size == 0:
            return
        d = self.config.dim
        x, P = np.take(self._x, ti, axis=1), np.take(self._P, ti, axis=2)
        R = np.take(meas.R.transpose(1, 2, 0), mj, axis=2)
        Sinv, _ = _inv_logdet(P[:d, :d] + R)
        # Track-last layout: each product is a few numpy calls over contiguous length-k rows.
        K = np.einsum("iak,abk->ibk", P[:, :d], Sinv)  # P H^T S^-1, (2d, d, k)
        KR = np.einsum("iak,abk->ibk", K, R)
        x += np.einsum("iak,ak->ik", K, meas.z[mj].T - x[:d])
        M = P - (K[:, :, None, :] * P[None, :d, :, :]).sum(axis=1)  # (I - K H) P
        P = M + ((KR - M[:, :d])[:, None] * K[None]).sum(axis=2)  # M (I - K H)^T + K R K^T
        P = 0.5 * (P + P.transpose(1, 0, 2))
        self._x[:, ti] = x
        self._P[:, :, ti] = P
        self._hits[ti] += 1
        self._band[ti] = meas.band[mj]
        heard = meas.code[mj] != 0
        self._code[ti[heard]] = meas.code[mj[heard]]

    # --- track management -----------------------------------------------------------------

    def _count_frame(self, hit: np.ndarray, counted: np.ndarray) -> None:
        """Shift the hit/miss history of tracks this frame counts for."""
        mask = np.uint32((1 << self.config.confirm_n) - 1)
        shifted = ((self._hist << np.uint32(1)) | hit.astype(np.uint32)) & mask
        self._hist = np.where(counted, shifted, self._hist).astype(np.uint32)
        self._nhist = np.where(counted, np.minimum(self._nhist + 1, self.config.confirm_n), self._nhist)
        self._misses = np.where(hit, 0, self._misses + counted)

    def _birth(self, t: float, meas: Measurements, new: np.ndarray) -> None:
        """One-point initiation of a tentative track per unassigned, unclaimed detection."""
        k, d = new.size, self.config.dim
        if k == 0:
            return
        x = np.zeros((2 * d, k))
        x[:d] = meas.z[new].T
        P = np.zeros((2 * d, 2 * d, k))
        P[:d, :d] = meas.R[new].transpose(1, 2, 0)
        for i in range(d, 2 * d):
            P[i, i] = self.config.init_velocity_std ** 2
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.uint32)
        self._next_id += k
        born = dict(_id=ids, _x=x, _P=P, _birth_t=np.full(k, t), _last_hit_t=np.full(k, t), _hits=np.ones(k, np.uint32),
                    _hist=np.ones(k, np.uint32), _nhist=np.ones(k, np.int64), _misses=np.zeros(k, np.int64),
                    _confirmed=np.zeros(k, bool), _band=meas.band[new].copy(), _code=meas.code[new].copy())
        for name in _TRACK_FIELDS:
            axis = -1 if name in _TRACK_AXIS_LAST else 0
            setattr(self, name, np.concatenate([getattr(self, name), born[name]], axis=axis))

    def _delete_lost(self) -> None:
        """Drop tentative tracks that can no longer reach M-of-N, missed more than tentative_max_misses in a
        row or outlived tentative_max_age_s, confirmed tracks coasting too long, and any track not updated
        for max_unupdated_s."""
        cfg, t = self.config, self._t
        reachable = np.bitwise_count(self._hist) + (cfg.confirm_n - self._nhist) >= cfg.confirm_m
        if cfg.tentative_max_age_s > 0.0:
            reachable &= t - self._birth_t <= cfg.tentative_max_age_s
        reachable &= self._misses <= cfg.tentative_max_misses
        keep = np.where(self._confirmed, self._misses <= cfg.max_coast_frames, reachable)
        if cfg.max_unupdated_s > 0.0:
            keep &= t - self._last_hit_t <= cfg.max_unupdated_s
        if not keep.all():
            for name in _TRACK_FIELDS:
                a = getattr(self, name)
                setattr(self, name, np.compress(keep, a, axis=-1) if name in _TRACK_AXIS_LAST else a[keep])


def _inv_logdet(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a track-last stack (d, d, K) of SPD matrices (closed form, d = 2 or 3)."""
    d = S.shape[0]
    inv = np.empty(S.shape)
    if d == 2:
        a, b, c = S[0, 0], S[0, 1], S[1, 1]
        det = a * c - b * b
        inv[0, 0], inv[1, 1] = c / det, a / det
        inv[0, 1] = inv[1, 0] = -b / det
        return inv, np.log(det)
    if d == 3:
        for i in range(3):
            for j in range(3):  # adjugate: inv[i, j] = cofactor(j, i)
                r0, r1 = [k for k in range(3) if k != j]
                c0, c1 = [k for k in range(3) if k != i]
                inv[i, j] = (-1) ** (i + j) * (S[r0, c0] * S[r1, c1] - S[r0, c1] * S[r1, c0])
        det = S[0, 0] * inv[0, 0] + S[0, 1] * inv[1, 0] + S[0, 2] * inv[2, 0]
        return inv / det, np.log(det)
    St = S.transpose(2, 0, 1)
    return np.linalg.inv(St).transpose(1, 2, 0), np.linalg.slogdet(St)[1]


def _pairs_in_radius(points: np.ndarray, targets: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with |targets_j - points_i| <= radius_i.

    Points whose radius is at most a few times the median share one spatial query at the largest
    of their radii (a uniform grid when it is dense enough, else a k-d tree pair), filtered per
    point afterwards; the few wide ones (e.g. long-coasting tracks) are queried one by one, so they
    cannot blow up the shared query.
    """
    if points.shape[0] * targets.shape[0] <= _DENSE_PAIRS_MAX:
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
        found = _pairs_grid(pts, targets, rad)
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


def _pairs_grid(points: np.ndarray, targets: np.ndarray, radius: np.ndarray):
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
