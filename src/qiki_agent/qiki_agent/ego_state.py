"""The vehicle's navigation state as the agent holds it: one validated sample in the world frame."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EgoState:
    """Latest vehicle state (world frame: map for the bot, ECI for the ship)."""

    t_s: float
    position: np.ndarray  # (3,)
    quaternion_wxyz: np.ndarray  # (4,) world-from-body, unit
    velocity_world: np.ndarray  # (3,)
    angular_velocity_body: np.ndarray  # (3,) inertial body rate in body axes

    @property
    def yaw(self) -> float:
        w, x, y, z = self.quaternion_wxyz
        return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
