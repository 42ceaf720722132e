"""The tracker's output: a TrackSet snapshot of the track table in the TrackArray layout."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_msgs.msg import TrackArray
from qiki_radar.tracking.table import TrackTable


@dataclass
class TrackSet:
    """Tracker output, one row per track, in TrackArray's layout: state is always the 6-D
    [x, y, z, vx, vy, vz] (a 2-D tracker leaves z and vz at 0; `planar` gives its 4-D state)."""

    id: np.ndarray  # uint32
    status: np.ndarray  # uint8, TrackArray.STATUS_*
    iff: np.ndarray  # uint8, TrackArray.IFF_*
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
        return self.status != TrackArray.STATUS_TENTATIVE

    def planar(self, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """State (N, 2 dim) [position, velocity] and covariance (N, 2 dim, 2 dim) of a dim-D tracker."""
        idx = np.r_[0:dim, 3:3 + dim]
        return self.state[:, idx], self.covariance[:, idx[:, None], idx[None, :]]


@dataclass(frozen=True)
class IffByCode:
    """IFF class from the last transponder code heard: friend or foe when listed, unknown otherwise."""

    friend_codes: np.ndarray  # uint32
    foe_codes: np.ndarray  # uint32

    def classify(self, code: np.ndarray) -> np.ndarray:
        iff = np.full(code.shape, TrackArray.IFF_UNKNOWN, np.uint8)
        if self.foe_codes.size:
            iff[np.isin(code, self.foe_codes)] = TrackArray.IFF_FOE
        if self.friend_codes.size:
            iff[np.isin(code, self.friend_codes)] = TrackArray.IFF_FRIEND
        return iff


class TrackSetOutput:
    """Copies the table into a TrackSet: status from confirmation and the miss run, IFF from the codes."""

    def __init__(self, dim: int, iff: IffByCode):
        self.iff = iff
        self._index = np.r_[0:dim, 3:3 + dim]  # columns of [x,y,z,vx,vy,vz] held by the table

    def snapshot(self, tracks: TrackTable, t: float | None) -> TrackSet:
        n, idx = len(tracks), self._index
        status = np.where(~tracks.confirmed, TrackArray.STATUS_TENTATIVE,
                          np.where(tracks.misses > 0, TrackArray.STATUS_COASTING, TrackArray.STATUS_CONFIRMED)
                          ).astype(np.uint8)
        state = np.zeros((n, TrackArray.STATE_DIM))
        state[:, idx] = tracks.x.T
        cov = np.zeros((n, TrackArray.STATE_DIM, TrackArray.STATE_DIM))
        cov[:, idx[:, None], idx[None, :]] = tracks.P.transpose(2, 0, 1)
        age = (t - tracks.birth_t) if t is not None else np.zeros(0)
        return TrackSet(tracks.id.copy(), status, self.iff.classify(tracks.code), tracks.band.copy(),
                        tracks.code.copy(), tracks.hits.copy(), age, state, cov)
