"""Track deletion as composable deleters; each returns the (N,) mask of the rows it would delete.

Stone Soup counts a deleter's threshold in frames since the last update (`UpdateTimeStepsDeleter(n)`
deletes on the n-th miss in a row); QIKI's thresholds count the misses a track survives, so
`MissRunDeleter(k)` is `UpdateTimeStepsDeleter(k + 1)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from qiki_radar.tracking.confirmation import MOfNConfirmation
from qiki_radar.tracking.table import TrackTable


class Deleter(Protocol):
    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        """(N,) mask of the tracks to delete at time t."""


@dataclass(frozen=True, slots=True)
class MissRunDeleter:
    """Deletes a track after more than max_misses consecutive counted misses.
    Stone Soup: `UpdateTimeStepsDeleter(time_steps_since_update=max_misses + 1)`."""

    max_misses: int

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        return tracks.misses > self.max_misses


@dataclass(frozen=True, slots=True)
class UnreachableConfirmationDeleter:
    """Deletes a tentative track as soon as M-of-N confirmation is out of its reach."""

    confirmation: MOfNConfirmation

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        return self.confirmation.unreachable(tracks)


@dataclass(frozen=True, slots=True)
class AgeDeleter:
    """Deletes a track born more than max_age_s before t."""

    max_age_s: float

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        return t - tracks.birth_t > self.max_age_s


@dataclass(frozen=True, slots=True)
class UnupdatedDeleter:
    """Deletes a track without an update for more than max_unupdated_s, whether frames cover it or not.
    Stone Soup: `UpdateTimeDeleter(time_since_update=timedelta(seconds=max_unupdated_s))`."""

    max_unupdated_s: float

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        return t - tracks.last_hit_t > self.max_unupdated_s


@dataclass(frozen=True, slots=True)
class CompositeDeleter:
    """Deletes what any of its deleters deletes (Stone Soup: `CompositeDeleter(intersect=False)`)."""

    deleters: Sequence[Deleter]

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        out = np.zeros(len(tracks), bool) if not self.deleters else self.deleters[0].delete(tracks, t)
        for deleter in self.deleters[1:]:
            out = out | deleter.delete(tracks, t)
        return out


@dataclass(frozen=True, slots=True)
class StatusDeleter:
    """Applies one deleter to tentative tracks and another to confirmed ones, as Stone Soup's
    `MultiMeasurementInitiator(deleter=...)` and `MultiTargetTracker(deleter=...)` do."""

    tentative: Deleter
    confirmed: Deleter

    def delete(self, tracks: TrackTable, t: float) -> np.ndarray:
        return np.where(tracks.confirmed, self.confirmed.delete(tracks, t), self.tentative.delete(tracks, t))
