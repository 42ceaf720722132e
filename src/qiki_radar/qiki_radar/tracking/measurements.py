"""A frame's input to the tracker: Cartesian position measurements and the coverage of the sensor that made them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Measurements:
    """Position measurements of one frame in the tracking frame, in the tracker's dim axes.

    The Cartesian entry point for any sensor: `Measurements(z, R)` takes (M, dim) positions and either one
    (dim, dim) noise covariance shared by every row or one per row (M, dim, dim); `band` and `code` are
    radar fields (band of the detection, transponder code, 0 = none) and default to 0.
    """

    z: np.ndarray  # (M, dim) [m]
    R: np.ndarray  # (M, dim, dim) [m^2]; a single (dim, dim) matrix is broadcast to every row
    band: np.ndarray | int = 0  # (M,) uint8
    code: np.ndarray | int = 0  # (M,) uint32, 0 = no transponder

    def __post_init__(self):
        self.z = np.asarray(self.z, np.float64)
        m, d = self.z.shape
        self.R = np.asarray(self.R, np.float64)
        if self.R.shape == (d, d):
            self.R = np.broadcast_to(self.R, (m, d, d))
        self.band = np.broadcast_to(np.asarray(self.band, np.uint8), (m,))
        self.code = np.broadcast_to(np.asarray(self.code, np.uint32), (m,))
        if self.R.shape != (m, d, d):
            raise ValueError(f"Measurements.R has shape {self.R.shape}, expected {(m, d, d)} or {(d, d)}")

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
