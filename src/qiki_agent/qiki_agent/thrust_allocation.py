"""Thrust allocation: the throttles of the vehicle's RCS that produce a requested body wrench."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from qiki_description.rcs import Rcs


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
