"""The track table: every track's filter state and bookkeeping as numpy columns, one row per track."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class TrackTable:
    """Struct-of-arrays of N tracks.

    The filter columns keep the track axis last (x (2d, N), P (2d, 2d, N)), so each filter operation is a
    few contiguous length-N vector operations per matrix entry; every other column is (N,).
    """

    id: np.ndarray  # (N,) uint32, increasing, never reused
    x: np.ndarray  # (2d, N) [position, velocity] [m, m/s]
    P: np.ndarray  # (2d, 2d, N) covariance of x
    birth_t: np.ndarray  # (N,) time of the first detection [s]
    last_hit_t: np.ndarray  # (N,) time of the last update [s]
    hits: np.ndarray  # (N,) uint32, detections assigned so far
    hist: np.ndarray  # (N,) uint32, bit i = hit in the i-th most recent covered frame
    nhist: np.ndarray  # (N,) int64, covered frames seen, capped at the M-of-N window
    misses: np.ndarray  # (N,) int64, consecutive covered misses
    confirmed: np.ndarray  # (N,) bool, past M-of-N (never reverts)
    band: np.ndarray  # (N,) uint8, band of the last assigned detection
    code: np.ndarray  # (N,) uint32, last nonzero transponder code heard

    @classmethod
    def empty(cls, dim: int) -> "TrackTable":
        d2 = 2 * dim
        return cls(id=np.zeros(0, np.uint32), x=np.zeros((d2, 0)), P=np.zeros((d2, d2, 0)), birth_t=np.zeros(0),
                   last_hit_t=np.zeros(0), hits=np.zeros(0, np.uint32), hist=np.zeros(0, np.uint32),
                   nhist=np.zeros(0, np.int64), misses=np.zeros(0, np.int64), confirmed=np.zeros(0, bool),
                   band=np.zeros(0, np.uint8), code=np.zeros(0, np.uint32))

    def __len__(self) -> int:
        return int(self.id.shape[0])

    @property
    def dim(self) -> int:
        """Number of position axes (2 or 3)."""
        return self.x.shape[0] // 2

    def append(self, born: "TrackTable") -> "TrackTable":
        """This table with the rows of `born` after its own."""
        if len(born) == 0:
            return self
        return TrackTable(
            id=np.concatenate([self.id, born.id]), x=np.concatenate([self.x, born.x], axis=-1),
            P=np.concatenate([self.P, born.P], axis=-1), birth_t=np.concatenate([self.birth_t, born.birth_t]),
            last_hit_t=np.concatenate([self.last_hit_t, born.last_hit_t]),
            hits=np.concatenate([self.hits, born.hits]), hist=np.concatenate([self.hist, born.hist]),
            nhist=np.concatenate([self.nhist, born.nhist]), misses=np.concatenate([self.misses, born.misses]),
            confirmed=np.concatenate([self.confirmed, born.confirmed]),
            band=np.concatenate([self.band, born.band]), code=np.concatenate([self.code, born.code]))

    def compress(self, keep: np.ndarray) -> "TrackTable":
        """The rows where the (N,) mask `keep` is true, in order."""
        if keep.all():
            return self
        return TrackTable(
            id=self.id[keep], x=np.compress(keep, self.x, axis=-1), P=np.compress(keep, self.P, axis=-1),
            birth_t=self.birth_t[keep], last_hit_t=self.last_hit_t[keep], hits=self.hits[keep],
            hist=self.hist[keep], nhist=self.nhist[keep], misses=self.misses[keep], confirmed=self.confirmed[keep],
            band=self.band[keep], code=self.code[keep])
