"""rosidl message objects (the generated Python classes of qiki_msgs, std_msgs...) to CDR bytes without rclpy:
each object becomes the rosbags typestore's message of the same type, which rosbags serialises. The conversion
of each type is one generated function (field by field, after the typestore's definitions), compiled on first
use. The core engine records its bag with this; padding bytes are zero (rclpy's serializer may leave them
undefined: compare bags decoded, or canonicalised, not raw)."""
from __future__ import annotations

import array

import numpy as np
from rosbags.typesys.store import Typestore

_DTYPES = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
           "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
           "uint64": np.uint64, "float32": np.float32, "float64": np.float64}
_STRINGS = ("string", "wstring")
_NAME, _BASE = 2, 1


def _numbers(value, dtype: np.dtype) -> np.ndarray:
    """A primitive array field (array.array, numpy array or list) as the numpy array rosbags serialises."""
    if isinstance(value, array.array) and value.itemsize == dtype.itemsize:
        return np.frombuffer(value, dtype) if len(value) else np.zeros(0, dtype)
    return np.asarray(value, dtype=dtype)


def _octets(value) -> np.ndarray:
    """A byte/char array field (a list of 1-byte bytes, or bytes) as uint8."""
    if isinstance(value, (bytes, bytearray)):
        return np.frombuffer(value, np.uint8)
    return np.frombuffer(b"".join(value), np.uint8) if len(value) else np.zeros(0, np.uint8)


def _octet(value) -> int:
    return value[0] if isinstance(value, (bytes, bytearray)) else int(value)


class MessageCodec:
    """`cdr(msg, msgtype)`: the CDR bytes of a rosidl message object of type msgtype ("pkg/msg/Name")."""

    def __init__(self, store: Typestore):
        self.store = store
        self._converters: dict[str, object] = {}

    def cdr(self, msg, msgtype: str) -> bytes:
        return bytes(self.store.serialize_cdr(self.convert(msg, msgtype), msgtype))

    def convert(self, msg, msgtype: str):
        """The typestore's message equal to the rosidl object `msg`."""
        return self._converter(msgtype)(msg)

    def _converter(self, msgtype: str):
        fn = self._converters.get(msgtype)
        if fn is None:
            fn = self._converters[msgtype] = self._compile(msgtype)
        return fn

    def _compile(self, msgtype: str):
        """def convert(m): return <typestore class>(field=<expression of m.field>, ...)"""
        scope = {"Cls": self.store.types[msgtype], "_numbers": _numbers, "_octets": _octets, "_octet": _octet}
        args = []
        for i, (name, (kind, detail)) in enumerate(self.store.fielddefs[msgtype][1]):
            value = f"m.{name}"
            if int(kind) == _NAME:
                scope[f"c{i}"] = self._converter(detail)
                args.append(f"{name}=c{i}({value})")
                continue
            if int(kind) == _BASE:
                args.append(f"{name}=_octet({value})" if detail[0] in ("byte", "char") else f"{name}={value}")
                continue
            (sub_kind, sub_detail), _length = detail          # array or sequence
            if int(sub_kind) == _NAME:
                scope[f"c{i}"] = self._converter(sub_detail)
                args.append(f"{name}=[c{i}(v) for v in {value}]")
            elif sub_detail[0] in _STRINGS:
                args.append(f"{name}=list({value})")
            elif sub_detail[0] in ("byte", "char"):
                args.append(f"{name}=_octets({value})")
            else:
                scope[f"d{i}"] = np.dtype(_DTYPES[sub_detail[0]])
                args.append(f"{name}=_numbers({value}, d{i})")
        exec(f"def convert(m):\n    return Cls({', '.join(args)})\n", scope)   # noqa: S102 (fields of a typestore)
        return scope["convert"]
