"""Where the radar looks from: the ego's sensor pose and the targets in the tracking frame.

bot: the tracking frame is the world frame `map` (targets as the sim gives them).
ship: the tracking frame is the chaser's LVLH frame (origin at the chaser), where nearby objects move
slowly and almost linearly, so a constant-velocity tracker fits; truth arrives in ECI.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat

from qiki_geometry.lvlh import lvlh_rotation, to_lvlh

FRAMES = ("map", "lvlh")


@dataclass(frozen=True)
class SensorView:
    sensor_position: np.ndarray    # (3,) in the tracking frame [m]
    sensor_rotation: np.ndarray    # (3,3) tracking-frame-from-sensor
    sensor_velocity: np.ndarray    # (3,) [m/s]
    target_position: np.ndarray    # (N,3) in the tracking frame [m]
    target_velocity: np.ndarray    # (N,3) [m/s]

    def sensor_quaternion_wxyz(self) -> np.ndarray:
        return mat2quat(self.sensor_rotation)


def sensor_view(frame: str, ego_position, ego_velocity, ego_quaternion_wxyz, target_position,
                target_velocity) -> SensorView:
    """Express the ego (sensor = body frame) and the targets in the tracking frame `frame`."""
    world_from_body = quat2mat(ego_quaternion_wxyz)
    if frame == "map":
        return SensorView(np.asarray(ego_position, float), world_from_body, np.asarray(ego_velocity, float),
                          target_position, target_velocity)
    if frame == "lvlh":
        eci_from_lvlh = lvlh_rotation(ego_position, ego_velocity)
        rel_pos, rel_vel = to_lvlh(ego_position, ego_velocity, target_position, target_velocity)
        return SensorView(np.zeros(3), eci_from_lvlh.T @ world_from_body, np.zeros(3), rel_pos, rel_vel)
    raise ValueError(f"unknown tracking frame '{frame}' (valid: {', '.join(FRAMES)})")
