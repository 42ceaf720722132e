"""Reaction control system: thruster layout, body wrench of a throttle vector, thrust allocation.

Body frame: x forward, y left, z up, origin at the centre of mass [m]. A thruster's direction is
the unit force it exerts on the vehicle (opposite to its exhaust). Throttle u_i in [0, 1] gives
thrust u_i * max_thrust_n; mass flow is sum_i thrust_i / (isp_i * g0).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from scipy.optimize import lsq_linear

G0 = 9.80665  # standard gravity [m/s^2], defines Isp


def _vec3(value: Any) -> Any:
    ok = (isinstance(value, (list, tuple, np.ndarray)) and len(value) == 3
          and all(isinstance(c, (int, float, np.floating)) and not isinstance(c, bool) and math.isfinite(c)
                  for c in value))
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


def default_rcs(arm_m: float = 1.0, max_thrust_n: float = 22.0, isp_s: float = 220.0) -> RcsConfig:
    """16 thrusters in pairs at the corners of a 2*arm_m cube: full 6-DOF control.

    Every corner s = (sx, sy, sz) in {-1, 1}^3 carries one thruster pushing inward along x
    (force -sx x) and one pushing inward along y (if sx*sy*sz > 0) or z (otherwise): 8 x, 4 y and
    4 z thrusters. Firing all 16 at equal throttle gives zero wrench, and the 6 x 16 wrench matrix
    has rank 6, so the thrusters positively span every force/torque direction. Defaults: 22 N
    hydrazine monopropellant thrusters, Isp 220 s.
    """
    thrusters = []
    for s in itertools.product((1.0, -1.0), repeat=3):
        pos = tuple(arm_m * c for c in s)
        second = 1 if s[0] * s[1] * s[2] > 0 else 2
        for axis in (0, second):
            d = [0.0, 0.0, 0.0]
            d[axis] = -s[axis]
            thrusters.append(Thruster(position_m=pos, direction=tuple(d), max_thrust_n=max_thrust_n, isp_s=isp_s))
    return RcsConfig(thrusters=thrusters)


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


@dataclass(frozen=True)
class Allocation:
    """Result of one allocation; residual = requested - achieved wrench [N, N, N, N m, N m, N m]."""

    throttle: np.ndarray         # (N,) in [0, 1]
    achieved_force: np.ndarray   # (3,) [N] body
    achieved_torque: np.ndarray  # (3,) [N m] body
    residual: np.ndarray         # (6,)
    relative_residual: float     # |residual| / |request| (0 for a zero request)
    feasible: bool               # the layout can produce the request's direction (with enough thrust)
    saturated: bool              # feasible but beyond the thrust limits: best bounded solution returned


class ThrustAllocator:
    """Throttles that produce a requested body wrench: bounded least squares (scipy lsq_linear, BVLS).

    min |B u - w| subject to 0 <= u <= 1, with B the (6, N) wrench matrix. If that leaves a
    relative residual above tol, a second solve without the upper bound tells a saturated request
    (exact with more thrust: feasible, saturated) from an infeasible one (no non-negative
    combination of thrusters points that way). BVLS is an active-set method: it solves feasible
    requests to round-off and uses few thrusters (at most 6 strictly between the bounds).
    """

    def __init__(self, rcs: Rcs, tol: float = 1e-6) -> None:
        self.rcs, self.tol = rcs, tol
        self._b = rcs.wrench_matrix

    def _solve(self, w: np.ndarray, upper: float) -> tuple[np.ndarray, float]:
        u = np.clip(lsq_linear(self._b, w, bounds=(0.0, upper), method="bvls", tol=1e-12).x, 0.0, upper)
        return u, float(np.linalg.norm(w - self._b @ u) / np.linalg.norm(w))

    def allocate(self, force_body: np.ndarray, torque_body: np.ndarray) -> Allocation:
        """Throttles for a body force [N] and torque about the CoM [N m]."""
        w = np.concatenate([np.asarray(force_body, dtype=float), np.asarray(torque_body, dtype=float)])
        if not np.all(np.isfinite(w)):
            raise ValueError(f"requested wrench must be finite, got {w.tolist()}")
        if np.linalg.norm(w) == 0.0:  # also catches subnormal requests whose norm underflows
            u, rel, feasible, saturated = np.zeros(self.rcs.n), 0.0, True, False
        else:
            u, rel = self._solve(w, 1.0)
            feasible, saturated = True, False
            if rel > self.tol:
                _, rel_unbounded = self._solve(w, np.inf)
                feasible = rel_unbounded <= self.tol
                saturated = feasible
        achieved = self._b @ u
        return Allocation(u, achieved[:3], achieved[3:], w - achieved, rel, feasible, saturated)
