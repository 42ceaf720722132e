"""Multi-target tracker core: CV Kalman filter, sparse gated GNN, M-of-N track management.

Pure numpy/scipy; the tracker node wraps it. All per-track data lives in flat
struct-of-arrays so predict, gate and update are batched over tracks. Association
only looks at candidate pairs found with a k-d tree, split into connected
components, so one frame stays cheap with thousands of tracks.

Track lifecycle, counted over "covered" frames (frames whose coverage contains
the predicted track position, or which assigned a detection to the track):
tentative -> confirmed once M of its first N covered frames were hits (deleted as
soon as that is out of reach); a confirmed track coasts on covered misses and is
deleted after more than max_coast_frames consecutive ones. Frames that do not
cover a track leave it untouched, which lets a track cross from the LR band to
the SR band without a miss penalty.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import chi2

STATUS_TENTATIVE = 0
STATUS_CONFIRMED = 1
STATUS_COASTING = 2

IFF_UNKNOWN = 0
IFF_FRIEND = 1
IFF_FOE = 2

STATE_DIM = 6
GATE_PROBABILITY = 0.997
_UNGATED = 1e12  # cost of a forbidden pair inside an assignment component


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
    init_velocity_std: float = Field(15.0, gt=0.0, description="velocity std of a one-point-initiated track [m/s]")
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
        return self.gate_chi2 if self.gate_chi2 > 0.0 else float(chi2.ppf(GATE_PROBABILITY, self.dim))


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

    def contains(self, position: np.ndarray) -> np.ndarray:
        """Mask of (N,3) positions within [min_range_m, max_range_m)."""
        r = np.linalg.norm(position - np.asarray(self.sensor_position, np.float64), axis=1)
        return (r >= self.min_range_m) & (r < self.max_range_m)


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


_TRACK_FIELDS = ("_id", "_x", "_P", "_birth_t", "_hits", "_hist", "_nhist", "_misses", "_confirmed", "_band", "_code")


class Tracker:
    """Batched multi-target tracker; call step() once per frame in non-decreasing time."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        d = self.config.dim
        self._gate = self.config.gate
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
        self._x = np.zeros((0, d2))
        self._P = np.zeros((0, d2, d2))
        self._birth_t = np.zeros(0)
        self._hits = np.zeros(0, np.uint32)
        self._hist = np.zeros(0, np.uint32)  # bit i = hit in the i-th most recent covered frame
        self._nhist = np.zeros(0, np.int64)  # covered frames seen, capped at confirm_n
        self._misses = np.zeros(0, np.int64)  # consecutive covered misses
        self._confirmed = np.zeros(0, bool)
        self._band = np.zeros(0, np.uint8)
        self._code = np.zeros(0, np.uint32)

    def __len__(self) -> int:
        return int(self._id.shape[0])

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
        if self._t is not None:
            self._predict(t - self._t)
        self._t = t

        covered = np.ones(len(self), bool) if coverage is None else coverage.contains(self._position3())
        ti, mj = self._associate(meas)
        self._update(ti, mj, meas)
        hit = np.zeros(len(self), bool)
        hit[ti] = True
        self._count_frame(hit, covered | hit)
        unassigned = np.ones(len(meas), bool)
        unassigned[mj] = False
        self._birth(t, meas, np.flatnonzero(unassigned))
        self._confirmed |= np.bitwise_count(self._hist) >= self.config.confirm_m
        self._delete_lost()
        return self.tracks()

    def tracks(self) -> TrackSet:
        """Snapshot of the current tracks (copies, safe to keep)."""
        n, idx = len(self), self._state_index
        status = np.where(~self._confirmed, STATUS_TENTATIVE,
                          np.where(self._misses > 0, STATUS_COASTING, STATUS_CONFIRMED)).astype(np.uint8)
        iff = np.where(np.isin(self._code, self._friend), IFF_FRIEND,
                       np.where(np.isin(self._code, self._foe), IFF_FOE, IFF_UNKNOWN)).astype(np.uint8)
        state = np.zeros((n, STATE_DIM))
        state[:, idx] = self._x
        cov = np.zeros((n, STATE_DIM, STATE_DIM))
        cov[:, idx[:, None], idx[None, :]] = self._P
        age = (self._t - self._birth_t) if self._t is not None else np.zeros(0)
        return TrackSet(self._id.copy(), status, iff, self._band.copy(), self._code.copy(), self._hits.copy(),
                        age, state, cov)

    # --- filter ---------------------------------------------------------------------------

    def _position3(self) -> np.ndarray:
        p = np.zeros((len(self), 3))
        p[:, :self.config.dim] = self._x[:, :self.config.dim]
        return p

    def _predict(self, dt: float) -> None:
        """Constant-velocity prediction with continuous white-noise acceleration.

        The continuous model (spectral density process_accel_std^2 * 1 s) composes exactly:
        predicting 0.5 s in one step or in five 0.1 s steps (interleaved SR frames) gives the
        same covariance, so a track's consistency does not depend on the other band's rate.
        """
        if dt <= 0.0 or len(self) == 0:
            return
        d = self.config.dim
        eye = np.eye(d)
        F = np.block([[eye, dt * eye], [np.zeros((d, d)), eye]])
        q = self.config.process_accel_std ** 2
        Q = q * np.kron(np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]), eye)
        self._x = self._x @ F.T
        self._P = F @ self._P @ F.T + Q

    def _associate(self, meas: Measurements) -> tuple[np.ndarray, np.ndarray]:
        """Gated global nearest neighbour; returns assigned (track index, measurement index) pairs."""
        n, m, d = len(self), len(meas), self.config.dim
        none = np.zeros(0, np.intp)
        if n == 0 or m == 0:
            return none, none
        zp, Pp = self._x[:, :d], self._P[:, :d, :d]
        # |nu|^2 <= gate * lambda_max(P + R) <= gate * (tr P + max tr R): a safe per-track search radius.
        radius = np.sqrt(self._gate * (np.trace(Pp, axis1=1, axis2=2) + np.trace(meas.R, axis1=1, axis2=2).max()))
        found = cKDTree(meas.z).query_ball_point(zp, radius, return_sorted=False)
        counts = np.fromiter(map(len, found), np.intp, n)
        ti = np.repeat(np.arange(n), counts)
        mj = np.fromiter(itertools.chain.from_iterable(found), np.intp, int(counts.sum()))
        if ti.size == 0:
            return none, none
        S = Pp[ti] + meas.R[mj]
        nu = meas.z[mj] - zp[ti]
        d2 = np.einsum("ki,ki->k", nu, np.linalg.solve(S, nu[:, :, None])[:, :, 0])
        ok = d2 <= self._gate
        ti, mj = ti[ok], mj[ok]
        cost = d2[ok] + np.linalg.slogdet(S[ok])[1]  # negative log-likelihood up to a constant
        return _solve_sparse(n, m, ti, mj, cost)

    def _update(self, ti: np.ndarray, mj: np.ndarray, meas: Measurements) -> None:
        """Batched Kalman update (Joseph form) of the assigned tracks."""
        if ti.size == 0:
            return
        d = self.config.dim
        x, P, R = self._x[ti], self._P[ti], meas.R[mj]
        S = P[:, :d, :d] + R
        K = np.linalg.solve(S, P[:, :d, :]).transpose(0, 2, 1)  # P H^T S^-1 with S, P symmetric
        x = x + np.einsum("kij,kj->ki", K, meas.z[mj] - x[:, :d])
        IKH = np.broadcast_to(np.eye(2 * d), P.shape).copy()
        IKH[:, :, :d] -= K
        P = IKH @ P @ IKH.transpose(0, 2, 1) + K @ R @ K.transpose(0, 2, 1)
        self._x[ti] = x
        self._P[ti] = 0.5 * (P + P.transpose(0, 2, 1))
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
        """One-point initiation of a tentative track per unassigned detection."""
        k, d = new.size, self.config.dim
        if k == 0:
            return
        x = np.zeros((k, 2 * d))
        x[:, :d] = meas.z[new]
        P = np.zeros((k, 2 * d, 2 * d))
        P[:, :d, :d] = meas.R[new]
        P[:, d:, d:] = self.config.init_velocity_std ** 2 * np.eye(d)
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.uint32)
        self._next_id += k
        born = dict(_id=ids, _x=x, _P=P, _birth_t=np.full(k, t), _hits=np.ones(k, np.uint32),
                    _hist=np.ones(k, np.uint32), _nhist=np.ones(k, np.int64), _misses=np.zeros(k, np.int64),
                    _confirmed=np.zeros(k, bool), _band=meas.band[new].copy(), _code=meas.code[new].copy())
        for name in _TRACK_FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), born[name]]))

    def _delete_lost(self) -> None:
        """Drop tentative tracks that can no longer reach M-of-N and confirmed tracks coasting too long."""
        cfg = self.config
        reachable = np.bitwise_count(self._hist) + (cfg.confirm_n - self._nhist) >= cfg.confirm_m
        keep = np.where(self._confirmed, self._misses <= cfg.max_coast_frames, reachable)
        if not keep.all():
            for name in _TRACK_FIELDS:
                setattr(self, name, getattr(self, name)[keep])


def _solve_sparse(n: int, m: int, ti: np.ndarray, mj: np.ndarray, cost: np.ndarray):
    """Min-cost assignment over gated pairs, solved per connected component of the bipartite gate graph."""
    none = np.zeros(0, np.intp)
    if ti.size == 0:
        return none, none
    graph = coo_matrix((np.ones(ti.size), (ti, n + mj)), shape=(n + m, n + m))
    ncomp, label = connected_components(graph, directed=False)
    comp = label[ti]
    tracks_in = np.bincount(label[np.unique(ti)], minlength=ncomp)
    meas_in = np.bincount(label[n + np.unique(mj)], minlength=ncomp)
    # Components with a single track or a single measurement: the cheapest pair wins (vectorised).
    star = (tracks_in[comp] == 1) | (meas_in[comp] == 1)
    order = np.flatnonzero(star)[np.lexsort((cost[star], comp[star]))]
    first = order[np.r_[True, comp[order][1:] != comp[order][:-1]]] if order.size else order
    out_t, out_m = [ti[first]], [mj[first]]
    # The remaining (small) components: dense Hungarian each.
    rest = np.flatnonzero(~star)
    rest = rest[np.argsort(comp[rest], kind="stable")]
    bounds = np.flatnonzero(np.r_[True, comp[rest][1:] != comp[rest][:-1], True]) if rest.size else []
    for s, e in itertools.pairwise(bounds):
        pairs = rest[s:e]
        rows, r = np.unique(ti[pairs], return_inverse=True)
        cols, c = np.unique(mj[pairs], return_inverse=True)
        C = np.full((rows.size, cols.size), _UNGATED)
        C[r, c] = cost[pairs]
        a, b = linear_sum_assignment(C)
        ok = C[a, b] < _UNGATED
        out_t.append(rows[a[ok]])
        out_m.append(cols[b[ok]])
    return np.concatenate(out_t).astype(np.intp), np.concatenate(out_m).astype(np.intp)
