"""Reaction control system: thruster layout and the body wrench and mass flow of a throttle vector.

Body frame: x forward, y left, z up, origin at the centre of mass [m]. A thruster's direction is
the unit force it exerts on the vehicle (opposite to its exhaust). Throttle u_i in [0, 1] gives
thrust u_i * max_thrust_n; mass flow is sum_i thrust_i / (isp_i * g0).
"""
from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from qiki_schema.vectors import is_number

G0 = 9.80665  # standard gravity [m/s^2], defines Isp


def _vec3(value: Any) -> Any:
    ok = (isinstance(value, (list, tuple, np.ndarray)) and len(value) == 3
          and all(is_number(c) or isinstance(c, np.floating) and math.isfinite(c) for c in value))
    if not ok:
        raise PydanticCustomError("numbers", "expected {what}", {"what": "a list of 3 numbers"})
    return tuple(float(c) for c in value)


Vec3 = Annotated[tuple[float, float, float], BeforeValidator(_vec3)]


class Thruster(BaseModel):
    """One thruster: mount point, force direction on the vehicle (normalised on load), rating."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position_m: Vec3
    direction: Vec3
    max_thrust_n: float = Field(gt=0)
    isp_s: float = Field(gt=0)

    @field_validator("direction")
    @classmethod
    def _unit(cls, d: tuple[float, float, float]) -> tuple[float, float, float]:
        norm = math.sqrt(sum(c * c for c in d))
        if norm < 1e-9:
            raise PydanticCustomError("direction", "expected a non-zero vector", {})
        return tuple(c / norm for c in d)


class RcsConfig(BaseModel):
    """Thruster layout of the vehicle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thrusters: list[Thruster] = Field(min_length=1)


class Rcs:
    """Thruster array as numpy: wrench matrix and mass flow of a throttle vector."""

    def __init__(self, config: RcsConfig) -> None:
        t = config.thrusters
        self.config = config
        self.positions = np.array([x.position_m for x in t])    # (N, 3) [m]
        self.directions = np.array([x.direction for x in t])   # (N, 3) unit
        self.max_thrust = np.array([x.max_thrust_n for x in t])  # (N,) [N]
        self.isp = np.array([x.isp_s for x in t])               # (N,) [s]
        # (6, N): body force and torque about the CoM per unit throttle.
        torques = np.cross(self.positions, self.directions)
        self.wrench_matrix = np.vstack([self.directions.T, torques.T]) * self.max_thrust
        self._flow_per_throttle = self.max_thrust / (self.isp * G0)  # (N,) [kg/s]

    @property
    def n(self) -> int:
        return int(self.max_thrust.size)

    def forces_torques(self, throttle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Throttle (N,) in [0, 1] -> (force_body (3,) [N], torque_body (3,) [N m] about the CoM)."""
        w = self.wrench_matrix @ np.asarray(throttle, dtype=float)
        return w[:3], w[3:]

    def mass_flow(self, throttle: np.ndarray) -> float:
        """Propellant mass flow [kg/s] = sum(thrust_i / (isp_i * g0))."""
        return float(self._flow_per_throttle @ np.asarray(throttle, dtype=float))
