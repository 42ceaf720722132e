"""6-DOF rigid body in ECI: translation under gravity and body forces, Euler's rotation equations.

State vector y (14,): position r (3) [m, ECI], velocity v (3) [m/s, ECI], attitude q (4)
eci-from-body quaternion (w, x, y, z), body angular velocity w (3) [rad/s, body axes], mass m [kg].
    r' = v,   v' = g(r) + R(q) F_body / m,   q' = q * (0, w) / 2,
    w' = I^-1 (tau_body - w x I w),   m' = -mdot.
Forces, torques and mass flow are held constant over a step (zero-order hold, as the thrusters
are commanded); one classic RK4 step per sim step, then the quaternion is renormalised. The
inertia tensor is constant (propellant slosh and CoM shift are not modelled). With zero force,
the translational part is bit-identical to orbit.rk4_step, so a coasting chaser and an object
on the same orbit stay consistent.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from transforms3d.quaternions import qmult, quat2mat

Gravity = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RigidBodyState:
    """Snapshot of the body (copies)."""

    position: np.ndarray              # (3,) [m] ECI
    velocity: np.ndarray              # (3,) [m/s] ECI
    quaternion_wxyz: np.ndarray       # (4,) eci-from-body, unit
    angular_velocity_body: np.ndarray  # (3,) [rad/s]
    mass_kg: float


def derivative(y: np.ndarray, force_body: np.ndarray, torque_body: np.ndarray, mass_flow: float,
               inertia: np.ndarray, inertia_inv: np.ndarray, gravity: Gravity | None) -> np.ndarray:
    """dy/dt of the 14-element state (see module docstring)."""
    r, v, m = y[0:3], y[3:6], y[13]
    q, w = y[6:10].tolist(), y[10:13].tolist()  # transforms3d works per element: floats beat numpy scalars
    acc = quat2mat(q) @ force_body / m  # quat2mat normalises q
    if gravity is not None:
        acc = gravity(r) + acc
    w_dot = inertia_inv @ (torque_body - _cross(w, inertia @ w))
    q_dot = 0.5 * qmult(q, (0.0, *w))
    return np.concatenate([v, acc, q_dot, w_dot, [-mass_flow]])


def _cross(a, b) -> np.ndarray:
    """a x b for 3-vectors (np.cross costs ~50 us per call on numpy 2)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def rk4(y: np.ndarray, dt: float, *args) -> np.ndarray:
    """One classic RK4 step of derivative(y, *args)."""
    k1 = derivative(y, *args)
    k2 = derivative(y + 0.5 * dt * k1, *args)
    k3 = derivative(y + 0.5 * dt * k2, *args)
    k4 = derivative(y + dt * k3, *args)
    return y + (dt / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)


class RigidBody:
    """A rigid body with constant inertia tensor and variable mass, stepped by RK4."""

    def __init__(self, inertia: np.ndarray, position: np.ndarray, velocity: np.ndarray,
                 quaternion_wxyz: np.ndarray, angular_velocity_body: np.ndarray, mass_kg: float,
                 gravity: Gravity | None = None) -> None:
        self.inertia = np.array(inertia, dtype=float).reshape(3, 3)
        if not np.allclose(self.inertia, self.inertia.T) or np.linalg.eigvalsh(self.inertia).min() <= 0:
            raise ValueError("inertia tensor must be symmetric positive definite")
        self.inertia_inv = np.linalg.inv(self.inertia)
        self.gravity = gravity
        q = np.asarray(quaternion_wxyz, dtype=float)
        self.y = np.concatenate([position, velocity, q / np.linalg.norm(q), angular_velocity_body, [mass_kg]]
                                ).astype(float)

    def step(self, dt: float, force_body: np.ndarray | None = None, torque_body: np.ndarray | None = None,
             mass_flow: float = 0.0) -> None:
        """Advance dt seconds under a constant body force [N], torque [N m] and mass flow [kg/s]."""
        f = np.zeros(3) if force_body is None else np.asarray(force_body, dtype=float)
        tau = np.zeros(3) if torque_body is None else np.asarray(torque_body, dtype=float)
        y = rk4(self.y, dt, f, tau, float(mass_flow), self.inertia, self.inertia_inv, self.gravity)
        y[6:10] /= np.linalg.norm(y[6:10])
        self.y = y

    @property
    def state(self) -> RigidBodyState:
        y = self.y
        return RigidBodyState(y[0:3].copy(), y[3:6].copy(), y[6:10].copy(), y[10:13].copy(), float(y[13]))

    def rotation(self) -> np.ndarray:
        """ECI-from-body rotation matrix."""
        return quat2mat(self.y[6:10])

    def angular_momentum_eci(self) -> np.ndarray:
        """H = R I w [kg m^2/s] in ECI (conserved without torque)."""
        return self.rotation() @ (self.inertia @ self.y[10:13])

    def rotational_energy(self) -> float:
        """w . I w / 2 [J] (conserved without torque)."""
        w = self.y[10:13]
        return 0.5 * float(w @ self.inertia @ w)
