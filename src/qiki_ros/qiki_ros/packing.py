"""Fast conversion between numpy arrays and the flat primitive arrays of qiki_msgs.

rosidl's Python setters copy a numpy array element by element; handing them an `array.array`
built with `frombytes` is ~6x faster, and reading back with `np.frombuffer` is zero-copy.
"""
import array

import numpy as np
from builtin_interfaces.msg import Time

_TYPECODES = {np.float64: "d", np.float32: "f", np.uint32: "I", np.int32: "i", np.uint8: "B",
              np.uint16: "H", np.int64: "q", np.uint64: "Q"}


def pack(values, dtype=np.float64) -> array.array:
    """Flatten `values` into an `array.array` of the rosidl typecode matching `dtype`."""
    arr = np.ascontiguousarray(values, dtype=dtype).ravel()
    out = array.array(_TYPECODES[np.dtype(dtype).type])
    out.frombytes(arr.tobytes())
    return out


def unpack(field, dtype=np.float64) -> np.ndarray:
    """View a message's flat array field (array.array, bytes or list) as a numpy array."""
    if isinstance(field, array.array):
        return np.frombuffer(field, dtype=dtype) if len(field) else np.zeros(0, dtype=dtype)
    if isinstance(field, (bytes, bytearray)):
        return np.frombuffer(field, dtype=dtype).copy()
    return np.asarray(field, dtype=dtype)


def to_stamp(t_s: float) -> Time:
    """Seconds of sim time -> builtin_interfaces/Time (nanosecond exact for integers of ns)."""
    ns = int(round(t_s * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def from_stamp(stamp: Time) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9
