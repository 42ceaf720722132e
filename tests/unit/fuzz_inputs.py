"""Hypothesis strategies and settings shared by the input fuzz tests (src/<pkg>/test/test_*_fuzz.py).

Values a message field can carry that break numerics (NaN, +-inf, +-1e308, subnormals, -0.0) mixed with
ordinary ones, arrays of the right or a wrong length, stamps that repeat or go backwards. FUZZ is
derandomized: CI runs the same examples every time, and the whole set stays well under a minute.
"""
import math

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

NASTY = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.0])
ANY_FLOAT = st.one_of(NASTY, st.floats(allow_nan=True, allow_infinity=True, width=64))
ORDINARY = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
#: mostly ordinary values, so that good inputs are processed too, with a fair share of nasty ones
FLOATS = st.one_of(ORDINARY, ORDINARY, NASTY, ANY_FLOAT)


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible settings: derandomized, no deadline (CI machines are slow and shared)."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@st.composite
def item_counts(draw, n: int, fields: tuple[str, ...]) -> dict[str, int]:
    """Items per field for a message of n items: all n half of the time, else one field's count is off
    (one more, one less, none, or 3n + 1) so that the arrays are mismatched."""
    counts = dict.fromkeys(fields, n)
    off = draw(st.sampled_from((None,) * len(fields) + fields))
    if off is not None:
        counts[off] = draw(st.sampled_from([c for c in (0, n + 1, n - 1, 3 * n + 1) if c >= 0 and c != n]))
    return counts


def float_list(size: int) -> st.SearchStrategy[list[float]]:
    return st.lists(FLOATS, min_size=size, max_size=size)


def stamps(max_s: float = 100.0) -> st.SearchStrategy[float]:
    """Stamps in seconds on a 0.1 s grid, so that duplicates are frequent; order comes from the caller."""
    return st.integers(0, int(max_s * 10)).map(lambda k: k / 10.0)


def is_finite(*values) -> bool:
    """True when every value (numbers or numpy arrays) is finite."""
    return all(bool(np.all(np.isfinite(np.asarray(v, dtype=float)))) for v in values)
