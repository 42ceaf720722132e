"""The tracker's output: a TrackSet (qiki_tracks) snapshot of the track table in the TrackArray layout."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_msgs.msg import TrackArray
from qiki_radar.tracking.table import TrackTable
from qiki_tracks.track_set import TrackSet


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
