"""qiki_geometry.angles: the one wrap_angle of every package."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qiki_geometry.angles import wrap_angle


@given(st.floats(-1e4, 1e4, allow_nan=False))
def test_wrap_angle_range(a):
    w = float(wrap_angle(a))
    assert -np.pi < w <= np.pi
    assert np.cos(w) == pytest.approx(np.cos(a), abs=1e-9) and np.sin(w) == pytest.approx(np.sin(a), abs=1e-9)


@given(st.floats(-math.pi, math.pi, allow_nan=False, exclude_min=True))
def test_an_angle_inside_is_returned_unchanged_and_arrays_keep_their_shape(a):
    assert wrap_angle(a) == a and isinstance(wrap_angle(a), float)
    assert wrap_angle(np.array([[a, a + 2 * math.pi]])).shape == (1, 2)


def test_the_convention_is_minus_pi_excluded():
    assert wrap_angle(-math.pi) == math.pi and wrap_angle(math.pi) == math.pi and wrap_angle(3 * math.pi) == math.pi
