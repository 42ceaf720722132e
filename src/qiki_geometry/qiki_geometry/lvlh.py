"""Chaser-centred LVLH (Hill / Clohessy-Wiltshire) frame: relative states of nearby objects.

Convention (right-handed, origin at the chaser's centre of mass):
    x  radial, outward from the Earth's centre:  r / |r|            ("R-bar", up)
    z  orbit normal, along the angular momentum: (r x v) / |r x v|  ("H-bar")
    y  completes the triad, z x x: along-track, in the orbit plane toward the motion
       (equal to the velocity direction on a circular orbit)        ("V-bar", ahead)
The frame rotates with the chaser; its angular velocity is omega = (r x v) / |r|^2, i.e.
(0, 0, |h| / |r|^2) in LVLH axes (exact for unperturbed motion; the small out-of-plane rotation
caused by J2, ~2e-6 rad/s, or by thrust is neglected). Relative velocities are as
seen in the rotating frame: rho_dot = C^T (v_obj - v_chaser) - omega x rho.
An object co-orbiting 200 m ahead of the chaser sits still at (0, 200, 0).
"""
from __future__ import annotations

import numpy as np


def lvlh_rotation(r_eci: np.ndarray, v_eci: np.ndarray) -> np.ndarray:
    """(3, 3) rotation eci_from_lvlh; its columns are the LVLH x, y, z axes in ECI."""
    r, v = np.asarray(r_eci, dtype=float), np.asarray(v_eci, dtype=float)
    x = r / np.linalg.norm(r)
    h = np.cross(r, v)
    z = h / np.linalg.norm(h)
    return np.column_stack([x, np.cross(z, x), z])


def lvlh_rate(r_eci: np.ndarray, v_eci: np.ndarray) -> np.ndarray:
    """Angular velocity of the LVLH frame in LVLH axes, (0, 0, |h| / |r|^2) [rad/s]."""
    r, v = np.asarray(r_eci, dtype=float), np.asarray(v_eci, dtype=float)
    return np.array([0.0, 0.0, np.linalg.norm(np.cross(r, v)) / (r @ r)])


def to_lvlh(r_chaser: np.ndarray, v_chaser: np.ndarray, r_obj: np.ndarray, v_obj: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """ECI states of objects (N, 3) -> positions and rotating-frame velocities in the chaser's LVLH."""
    c = lvlh_rotation(r_chaser, v_chaser)
    rel_pos = (np.asarray(r_obj, dtype=float) - r_chaser) @ c  # row-wise C^T (r_obj - r_chaser)
    rel_vel = (np.asarray(v_obj, dtype=float) - v_chaser) @ c - np.cross(lvlh_rate(r_chaser, v_chaser), rel_pos)
    return rel_pos, rel_vel


def to_lvlh_rowwise(r_chaser: np.ndarray, v_chaser: np.ndarray, r_obj: np.ndarray) -> np.ndarray:
    """to_lvlh positions, one chaser state per row: chaser (N, 3) position and velocity and object
    positions (N, 3) in ECI -> each object's position (N, 3) in its row's chaser LVLH (e.g. a recorded
    run, where the chaser moves between stamps)."""
    r, v = np.asarray(r_chaser, dtype=float), np.asarray(v_chaser, dtype=float)
    x = r / np.linalg.norm(r, axis=1, keepdims=True)
    h = np.cross(r, v)
    z = h / np.linalg.norm(h, axis=1, keepdims=True)
    d = np.asarray(r_obj, dtype=float) - r
    return np.stack([(d * x).sum(1), (d * np.cross(z, x)).sum(1), (d * z).sum(1)], axis=1)


def from_lvlh(r_chaser: np.ndarray, v_chaser: np.ndarray, rel_pos: np.ndarray, rel_vel: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of to_lvlh: LVLH relative states (N, 3) -> ECI positions and velocities."""
    c = lvlh_rotation(r_chaser, v_chaser)
    rel_pos = np.asarray(rel_pos, dtype=float)
    inertial_rel_vel = np.asarray(rel_vel, dtype=float) + np.cross(lvlh_rate(r_chaser, v_chaser), rel_pos)
    return np.asarray(r_chaser) + rel_pos @ c.T, np.asarray(v_chaser) + inertial_rel_vel @ c.T
