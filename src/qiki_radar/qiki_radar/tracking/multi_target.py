"""The multi-target tracker: one frame through predict, gate, associate, update, initiate and delete."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_radar.tracking.association import ConfirmedFirstGNN
from qiki_radar.tracking.confirmation import LineOfSightCoverage, MOfNConfirmation
from qiki_radar.tracking.deletion import Deleter
from qiki_radar.tracking.gating import MahalanobisGater
from qiki_radar.tracking.initiation import SinglePointInitiator
from qiki_radar.tracking.kalman import ConstantVelocityPredictor, KalmanUpdater
from qiki_radar.tracking.measurements import Coverage, Measurements
from qiki_radar.tracking.output import TrackSetOutput
from qiki_radar.tracking.table import TrackTable
from qiki_tracks.track_set import TrackSet


@dataclass
class Components:
    """The parts of a MultiTargetTracker, one job each."""

    predictor: ConstantVelocityPredictor
    coverage: LineOfSightCoverage
    gater: MahalanobisGater
    associator: ConfirmedFirstGNN
    updater: KalmanUpdater
    confirmation: MOfNConfirmation
    initiator: SinglePointInitiator
    deleter: Deleter
    output: TrackSetOutput


class MultiTargetTracker:
    """Tracks of dim-D position measurements; call step() once per frame in non-decreasing time.

    Confirmed tracks are served before tentative ones, and a detection no track took starts a track unless
    it lies in the birth gate of a confirmed track that missed this frame (a rare gate miss then spawns no
    duplicate, while a new object next to a well-tracked one still starts its track at once).
    """

    def __init__(self, dim: int, parts: Components):
        self.dim = dim
        self.parts = parts
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Drop all tracks and the time reference; ids keep increasing so they are never reused."""
        self.table = TrackTable.empty(self.dim)
        self.time: float | None = None

    def step(self, t: float, meas: Measurements, coverage: Coverage | None = None) -> TrackSet:
        """Process one frame at time t (>= the last t) and return all tracks."""
        t = self._checked(t, meas)
        p, tracks = self.parts, self.table
        p.predictor.predict(tracks, t - self.time if self.time is not None else 0.0)
        self.time = t
        counted = p.coverage.covered(tracks, coverage)  # tracks this frame may count a miss for
        gated = p.gater.candidates(tracks, meas)
        assignment = p.associator.associate(tracks, gated, len(meas))
        p.updater.update(tracks, assignment.track, assignment.det, meas, t)
        hit = assignment.hit(len(tracks))
        p.confirmation.count(tracks, hit, counted | hit)
        free = assignment.unassociated(len(meas))
        free[gated.shadowed(hit)] = False  # no birth in the birth gate of a confirmed track that missed
        born = p.initiator.initiate(meas, np.flatnonzero(free), t, self._next_id)
        self._next_id += len(born)
        tracks = tracks.append(born)
        tracks.confirmed = p.confirmation.confirmed(tracks)
        self.table = tracks.compress(~p.deleter.delete(tracks, t))
        return p.output.snapshot(self.table, t)

    def tracks(self) -> TrackSet:
        """Snapshot of the current tracks (copies, safe to keep)."""
        return self.parts.output.snapshot(self.table, self.time)

    def _checked(self, t: float, meas: Measurements) -> float:
        t = float(t)
        if not np.isfinite(t):
            raise ValueError(f"frame time {t} is not finite")
        if self.time is not None and t < self.time:
            raise ValueError(f"frame time {t} is earlier than the last processed time {self.time}")
        if meas.z.shape[1] != self.dim:
            raise ValueError(f"measurements have dim {meas.z.shape[1]}, tracker has dim {self.dim}")
        return t
