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


def stamp_ns(stamp: Time) -> int:
    """builtin_interfaces/Time -> integer nanoseconds (exact: the step barrier's key)."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def unpack_items(msg, item: str, fields: dict[str, tuple], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The flat per-item array fields of `msg` as numpy, checked for one consistent item count N.

    fields: name -> (dtype, values per item); N is the length of the first field. A field with `per` > 1
    comes back as (N, per), a dtype of `str` as a list. A field in `optional` may also be empty (returned
    as None). Raises ValueError naming the message, the field and the lengths, e.g.
    "TrackArray: state has 12 values for 3 tracks (expected 6 per track)"."""
    out: dict[str, np.ndarray] = {}
    n = None
    for name, (dtype, per) in fields.items():
        raw = getattr(msg, name)
        size = len(raw)
        if n is None:
            n = size // per
        if size == 0 and name in optional:
            out[name] = None
            continue
        if size != per * n:
            raise ValueError(f"{type(msg).__name__}: {name} has {size} values for {n} {item}s "
                             f"(expected {per} per {item})")
        values = list(raw) if dtype is str else unpack(raw, dtype)
        out[name] = values.reshape(n, per) if per > 1 else values
    return out
