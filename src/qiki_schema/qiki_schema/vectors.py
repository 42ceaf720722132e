"""Fixed-length lists of finite numbers as pydantic types (bools and strings rejected)."""
from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError


def is_number(c: Any) -> bool:
    """A finite int or float, not a bool (an int too large for a float is not one)."""
    if not isinstance(c, (int, float)) or isinstance(c, bool):
        return False
    try:
        return math.isfinite(c)
    except OverflowError:  # int beyond float range, e.g. a YAML literal of 400 digits
        return False


def numbers(n: int, what: str) -> BeforeValidator:
    """Before-validator: a list of n finite numbers -> a tuple of floats."""
    def check(value: Any) -> Any:
        if not (isinstance(value, (list, tuple)) and len(value) == n and all(is_number(c) for c in value)):
            raise PydanticCustomError("numbers", "expected {what}", {"what": what})
        return tuple(float(c) for c in value)
    return BeforeValidator(check)


def ordered(r: tuple[float, float], name: str) -> None:
    """Raise unless r is a [min, max] pair."""
    if r[0] > r[1]:
        raise PydanticCustomError("range", "{name}: expected min <= max, got {r}", {"name": name, "r": list(r)})


Vec2 = Annotated[tuple[float, float], numbers(2, "a list of 2 numbers [x, y]")]
Vec3 = Annotated[tuple[float, float, float], numbers(3, "a list of 3 numbers")]
Vec4 = Annotated[tuple[float, float, float, float], numbers(4, "a list of 4 numbers")]
Range = Annotated[tuple[float, float], numbers(2, "a list of 2 numbers [min, max]")]
