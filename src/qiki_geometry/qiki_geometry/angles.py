"""Plane angles: one wrapping convention for every package."""
from __future__ import annotations

import math

import numpy as np

_TWO_PI = 2.0 * math.pi


def wrap_angle(a):
    """Wrap angles [rad] to (-pi, pi]; an angle already inside is returned unchanged (bit for bit).

    IEEE remainder by 2 pi (exact: fmod, then one exact shift), so a scalar gives a float and an
    array an array of the same shape.
    """
    r = np.fmod(np.asarray(a, dtype=np.float64), _TWO_PI)
    r = np.where(r > math.pi, r - _TWO_PI, r)
    r = np.where(r <= -math.pi, r + _TWO_PI, r)
    return float(r) if r.ndim == 0 else r
