"""Dotted key paths into YAML documents: `objects[0].velocity[1]` <-> ("objects", 0, "velocity", 1).

The campaign spec names what it disperses this way; get and set walk mappings and lists, and a key the file
leaves out is taken from the validated model's dump (`fallback`), so a defaulted field can be dispersed."""
from __future__ import annotations

import copy
import re
from typing import Any

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")

Path = tuple  # (str | int, ...)


class PathError(ValueError):
    """A dotted path that is malformed or names nothing in its document; str() is one line."""


def parse(text: str) -> Path:
    """'objects[0].velocity' -> ('objects', 0, 'velocity'); PathError for anything else."""
    parts: list[str | int] = []
    if not isinstance(text, str) or not text:
        raise PathError(f"{text!r} is not a dotted path (e.g. objects[0].velocity[1])")
    for piece in text.split("."):
        m = _PART.fullmatch(piece)
        if m is None:
            raise PathError(f"{text!r} is not a dotted path: bad part {piece!r} (names are letters, digits and _, "
                            "list indices [N], e.g. objects[0].velocity[1])")
        parts.append(m.group(1))
        parts.extend(int(i) for i in _INDEX.findall(m.group(2)))
    return tuple(parts)


def format_path(parts: Path) -> str:
    """The inverse of parse: ('objects', 0, 'velocity') -> 'objects[0].velocity'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _step(node: Any, part: str | int, where: Path) -> Any:
    if isinstance(part, int):
        if not isinstance(node, list):
            raise PathError(f"{format_path(where) or '(top)'} is not a list, cannot take [{part}]")
        if part >= len(node):
            raise PathError(f"{format_path(where + (part,))}: index out of range (the list has {len(node)} items)")
        return node[part]
    if not isinstance(node, dict):
        raise PathError(f"{format_path(where) or '(top)'} is not a mapping, cannot take key {part!r}")
    if part not in node:
        keys = ", ".join(str(k) for k in node) or "(none)"
        raise PathError(f"{format_path(where + (part,))}: no such key (keys there: {keys})")
    return node[part]


def get(doc: Any, parts: Path, fallback: Any = None) -> Any:
    """The value at parts; a key missing in doc is looked up in fallback (same layout). PathError if neither has it."""
    node, spare = doc, fallback
    for i, part in enumerate(parts):
        try:
            node = _step(node, part, parts[:i])
        except PathError:
            if spare is None:
                raise
            node = _step(spare, part, parts[:i])
            spare = None
            continue
        spare = _try(spare, part)
    return node


def _try(node: Any, part: str | int) -> Any:
    try:
        return _step(node, part, ())
    except PathError:
        return None


def set_value(doc: Any, parts: Path, value: Any, fallback: Any = None) -> None:
    """Set the value at parts in doc (in place); a missing key on the way is copied from fallback first."""
    node, spare = doc, fallback
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, dict) and part not in node and spare is not None:
            node[part] = copy.deepcopy(_step(spare, part, parts[:i]))
        node = _step(node, part, parts[:i])
        spare = _try(spare, part) if spare is not None else None
    last = parts[-1]
    if isinstance(last, int):
        _step(node, last, parts[:-1])          # index in range
        node[last] = value
    elif isinstance(node, dict):
        if last not in node and (spare is None or _try(spare, last) is None):
            _step(node, last, parts[:-1])      # the one-line error naming the keys there
        node[last] = value
    else:
        raise PathError(f"{format_path(parts[:-1]) or '(top)'} is not a mapping, cannot set key {last!r}")
