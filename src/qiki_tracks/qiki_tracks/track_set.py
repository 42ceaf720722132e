"""TrackSet: one set of tracks as numpy arrays, in TrackArray's layout (the tracker's output, everyone's input).

The length check (one row per track in every array) and the usability check (finite state within
MAX_ABS_STATE, finite covariance) live here once; the TrackArray codec and direct callers use them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np

from qiki_geometry.state_bounds import MAX_ABS_STATE
from qiki_msgs.msg import TrackArray

D = TrackArray.STATE_DIM
OPTIONAL = ("covariance", "code", "hits", "age_s")  # fields a direct caller may leave out


@dataclass(eq=False)   # compared by identity: a new array of tracks is a new object
class TrackSet:
    """One row per track: state is always the 6-D [x, y, z, vx, vy, vz] (a 2-D tracker leaves z and vz
    at 0; `planar` gives its 4-D state). stamp_s and frame_id are the TrackArray header's, when known."""

    id: np.ndarray  # (N,) uint32
    status: np.ndarray  # (N,) uint8, TrackArray.STATUS_*
    iff: np.ndarray  # (N,) uint8, TrackArray.IFF_*
    band: np.ndarray  # (N,) uint8, band of the last assigned detection (TrackArray.track_band)
    code: np.ndarray  # (N,) uint32, last nonzero transponder code heard, 0 = none
    hits: np.ndarray  # (N,) uint32
    age_s: np.ndarray  # (N,) float64
    state: np.ndarray  # (N, 6) float64
    covariance: Optional[np.ndarray]  # (N, 6, 6) float64, or None when the sender gave none
    stamp_s: float = 0.0
    frame_id: str = ""

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @classmethod
    def from_arrays(cls, ids, status, iff, band, state, covariance=None, code=None, hits=None, age_s=None,
                    stamp_s: float = 0.0, frame_id: str = "", optional=OPTIONAL) -> "TrackSet":
        """Tracks from flat or shaped arrays (state 6N or (N, 6), covariance 36N or (N, 6, 6), the others (N,)).
        A field named in `optional` may be None or empty: no covariance (None), zero codes, hits and ages.
        Raises ValueError naming the field when an array does not hold the values of len(ids) tracks, e.g.
        "state has 12 values for 3 tracks (expected 6 per track)"."""
        ids = np.asarray(ids, dtype=np.uint32).ravel()
        n = ids.size
        given = {"status": (status, np.uint8, 1), "iff": (iff, np.uint8, 1), "band": (band, np.uint8, 1),
                 "state": (state, np.float64, D), "covariance": (covariance, np.float64, D * D),
                 "code": (code, np.uint32, 1), "hits": (hits, np.uint32, 1), "age_s": (age_s, np.float64, 1)}
        out = {}
        for name, (values, dtype, per) in given.items():
            if name in optional and (values is None or not np.size(values)):
                out[name] = None if name == "covariance" else np.zeros(n, dtype)
                continue
            a = np.asarray(values, dtype=dtype).ravel()
            if a.size != per * n:
                raise ValueError(f"{name} has {a.size} {'entries' if per == 1 else 'values'} for {n} tracks "
                                 f"(expected {per} per track)")
            out[name] = a.reshape(n, D, D) if name == "covariance" else a.reshape(n, D) if per == D else a
        return cls(ids, stamp_s=float(stamp_s), frame_id=frame_id, **out)

    @classmethod
    def empty(cls) -> "TrackSet":
        return cls.from_arrays([], [], [], [], np.zeros((0, D)))

    def usable(self) -> np.ndarray:
        """Rows with a finite state within MAX_ABS_STATE and a finite covariance (when there is one)."""
        with np.errstate(invalid="ignore"):
            ok = (np.abs(self.state) < MAX_ABS_STATE).all(axis=1)
        if self.covariance is not None:
            ok &= np.isfinite(self.covariance).all(axis=(1, 2))
        return ok

    def select(self, rows) -> "TrackSet":
        """The tracks of `rows` (a boolean mask or indices), same header."""
        cov = None if self.covariance is None else self.covariance[rows]
        return dataclasses.replace(self, id=self.id[rows], status=self.status[rows], iff=self.iff[rows],
                                   band=self.band[rows], code=self.code[rows], hits=self.hits[rows],
                                   age_s=self.age_s[rows], state=self.state[rows], covariance=cov)

    def confirmed_mask(self) -> np.ndarray:
        """Tracks past confirmation, i.e. CONFIRMED or COASTING."""
        return self.status != TrackArray.STATUS_TENTATIVE

    def planar(self, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """State (N, 2 dim) [position, velocity] and covariance (N, 2 dim, 2 dim) of a dim-D tracker."""
        idx = np.r_[0:dim, 3:3 + dim]
        return self.state[:, idx], self.covariance[:, idx[:, None], idx[None, :]]
