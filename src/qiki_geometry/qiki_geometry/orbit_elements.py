"""Classical orbit elements and the mean motion of an ECI state (two-body)."""
from __future__ import annotations

import numpy as np
from transforms3d.euler import euler2mat

from qiki_geometry.earth import MU


def elements_to_state(a: float, e: float, i: float, raan: float, argp: float, nu: float,
                      mu: float = MU) -> tuple[np.ndarray, np.ndarray]:
    """Classical elements (a [m], e, angles [rad]) -> ECI position [m] and velocity [m/s]."""
    p = a * (1.0 - e * e)
    cn, sn = np.cos(nu), np.sin(nu)
    r_pqw = p / (1.0 + e * cn) * np.array([cn, sn, 0.0])
    v_pqw = np.sqrt(mu / p) * np.array([-sn, e + cn, 0.0])
    eci_from_pqw = euler2mat(raan, i, argp, "rzxz")  # Rz(raan) Rx(i) Rz(argp)
    return eci_from_pqw @ r_pqw, eci_from_pqw @ v_pqw


def orbital_period(a: float, mu: float = MU) -> float:
    """Keplerian period [s] of semi-major axis a [m]."""
    return 2.0 * np.pi * np.sqrt(a**3 / mu)


def mean_motion(a: float, mu: float = MU) -> float:
    """Mean motion n [rad/s]."""
    return np.sqrt(mu / a**3)


def mean_motion_of(r: np.ndarray, v: np.ndarray) -> float:
    """Mean motion [rad/s] of the osculating orbit of one ECI state."""
    a = 1.0 / (2.0 / np.linalg.norm(r) - np.dot(v, v) / MU)
    return float(mean_motion(a))
