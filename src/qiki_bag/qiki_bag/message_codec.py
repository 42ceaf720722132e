"""rosidl message objects (the generated Python classes of qiki_msgs, std_msgs...) to CDR bytes without rclpy:
each object becomes the rosbags typestore's message of the same type (field by field, after the typestore's
definitions), which rosbags serialises. The core engine records its bag with this; padding bytes are zero
(rclpy's serializer may leave them undefined: compare bags decoded, or canonicalised, not raw)."""
from __future__ import annotations

import numpy as np
from rosbags.typesys.store import Typestore

_DTYPES = {"bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
           "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
           "uint64": np.uint64, "float32": np.float32, "float64": np.float64}
_STRINGS = ("string", "wstring")
_NAME, _BASE = 2, 1


class MessageCodec:
    """`cdr(msg, msgtype)`: the CDR bytes of a rosidl message object of type msgtype ("pkg/msg/Name")."""

    def __init__(self, store: Typestore):
        self.store = store
        self._fields: dict[str, list] = {}

    def cdr(self, msg, msgtype: str) -> bytes:
        return bytes(self.store.serialize_cdr(self.convert(msg, msgtype), msgtype))

    def convert(self, msg, msgtype: str):
        """The typestore's message equal to the rosidl object `msg`."""
        fields = self._fields.get(msgtype)
        if fields is None:
            fields = self._fields[msgtype] = [(name, int(kind), detail)
                                              for name, (kind, detail) in self.store.fielddefs[msgtype][1]]
        return self.store.types[msgtype](**{name: self._value(getattr(msg, name), kind, detail)
                                            for name, kind, detail in fields})

    def _value(self, value, kind: int, detail):
        if kind == _NAME:
            return self.convert(value, detail)
        if kind == _BASE:
            base = detail[0]
            if base in ("byte", "char") and isinstance(value, (bytes, bytearray)):
                return value[0]
            return value
        (sub_kind, sub_detail), _length = detail      # array or sequence
        if int(sub_kind) == _NAME:
            return [self.convert(v, sub_detail) for v in value]
        base = sub_detail[0]
        if base in _STRINGS:
            return list(value)
        if base in ("byte", "char") and len(value) and isinstance(value[0], (bytes, bytearray)):
            return np.frombuffer(b"".join(value), np.uint8)
        return np.asarray(value, dtype=_DTYPES[base])
