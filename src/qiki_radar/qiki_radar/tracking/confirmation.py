"""Which frames count for a track (coverage), and M-of-N confirmation over the frames that count.

A frame counts for a track when its coverage contains the track's predicted position or it assigned the
track a detection; frames that do not cover a track leave it untouched, which lets a track cross from the
LR band to the SR band without a miss penalty.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_radar.tracking.measurements import Coverage
from qiki_radar.tracking.table import TrackTable


@dataclass(frozen=True, slots=True)
class LineOfSightCoverage:
    """Tracks a frame may count a miss for: those predicted at least margin_sigma position stds (along the
    sensor's line of sight) inside its coverage; every track when the frame has no coverage. (Stone Soup's
    trackers count every frame.)"""

    margin_sigma: float

    def covered(self, tracks: TrackTable, coverage: Coverage | None) -> np.ndarray:
        if coverage is None:
            return np.ones(len(tracks), bool)
        d = tracks.dim
        pos = np.zeros((len(tracks), 3))
        pos[:, :d] = tracks.x[:d].T
        margin = 0.0
        if self.margin_sigma > 0.0 and len(tracks):
            los = pos[:, :d] - np.asarray(coverage.sensor_position, np.float64)[:d]
            los /= np.maximum(np.linalg.norm(los, axis=1), 1e-9)[:, None]
            var = sum(los[:, a] * tracks.P[a, b] * los[:, b] for a in range(d) for b in range(d))
            margin = self.margin_sigma * np.sqrt(np.maximum(var, 0.0))
        return coverage.contains(pos, margin)


@dataclass(frozen=True, slots=True)
class MOfNConfirmation:
    """A track is confirmed once m of its first n counted frames were hits (a bit history of the last n).

    Stone Soup's `MultiMeasurementInitiator(min_points=m)` confirms on the m-th update with no window;
    n = 32 with a miss-run deleter on tentative tracks (`deletion.MissRunDeleter`) is that rule.
    """

    m: int
    n: int

    def count(self, tracks: TrackTable, hit: np.ndarray, counted: np.ndarray) -> None:
        """Shift the hit/miss history and the miss run of the tracks this frame counts for, in place."""
        mask = np.uint32((1 << self.n) - 1)
        shifted = ((tracks.hist << np.uint32(1)) | hit.astype(np.uint32)) & mask
        tracks.hist = np.where(counted, shifted, tracks.hist).astype(np.uint32)
        tracks.nhist = np.where(counted, np.minimum(tracks.nhist + 1, self.n), tracks.nhist)
        tracks.misses = np.where(hit, 0, tracks.misses + counted)

    def confirmed(self, tracks: TrackTable) -> np.ndarray:
        """(N,) mask of the tracks confirmed now or before."""
        return tracks.confirmed | (np.bitwise_count(tracks.hist) >= self.m)

    def unreachable(self, tracks: TrackTable) -> np.ndarray:
        """(N,) mask of the tracks that can no longer have m hits in their first n counted frames."""
        return np.bitwise_count(tracks.hist) + (self.n - tracks.nhist) < self.m
