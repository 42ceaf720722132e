"""YAML file -> validated pydantic model, every failure a one-line error naming the file and the key path.

E.g. ``bot_patrol.yaml: objects[2].velocity: expected a list of 3 numbers, got 'fast'``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)


class SchemaFileError(ValueError):
    """A file that cannot be found, parsed or validated; str() is one line."""

    def __init__(self, file: str | Path, message: str, key_path: str = "") -> None:
        self.file, self.key_path, self.detail = str(file), key_path, message
        where = f"{self.file}: {key_path}: " if key_path else f"{self.file}: "
        super().__init__(" ".join((where + message).split()))  # collapse any newline into one line


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # e.g. `? [a]`: a list as key, which SafeLoader reports as found unhashable key
            break
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def first_non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """(key path, value) of the first NaN or infinity in a YAML value (mappings and lists walked), or None.

    Paths read like `objects[2].velocity[1]`. A non-finite number is never a valid setting here: NaN
    passes every `gt`/`lt` check and infinity makes a loop or a conversion fail at run time.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
        found = first_non_finite(item, where)
        if found is not None:
            return found
    return None


def key_path(loc: tuple, union_tags: tuple[str, ...] = (), union_fields: tuple[str, ...] = ()) -> str:
    """('objects', 2, 'bot', 'velocity') -> 'objects[2].velocity': drops pydantic's tag of a discriminated
    union member (one of union_tags) at the top, after a list index or after one of union_fields."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in union_tags and (i == 0 or isinstance(loc[i - 1], int) or loc[i - 1] in union_fields):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def error_message(err: dict, union_tag: str = "expected a known tag") -> str:
    """One pydantic error -> 'expected ..., got ...'."""
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "missing required key"
    if kind in ("unknown_key", "extra_forbid", "extra_forbidden"):
        return msg if kind == "unknown_key" else "unknown key"
    if kind in _BOUNDS:
        msg = f"expected a number {_BOUNDS[kind]} {next(iter(err['ctx'].values()))}"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        msg = "expected a mapping"
    elif kind in ("list_type", "tuple_type"):
        msg = "expected a list"
    elif kind.startswith("float_"):
        msg = "expected a number"
    elif kind.startswith("int_"):
        msg = "expected an integer"
    elif kind.startswith("bool_"):
        msg = "expected true or false"
    elif kind == "literal_error":
        msg = f"expected one of {err['ctx']['expected']}"
    elif kind == "union_tag_invalid":
        msg = union_tag
    else:
        msg = msg.replace("Input should be", "expected").replace("Value error, ", "")
    if kind in ("numbers", "model_type", "dict_type", "model_attributes_type", "list_type", "tuple_type",
                "literal_error") or \
            kind.startswith(("float_", "int_", "bool_", "string_", "greater", "less")):
        msg += f", got {_describe(err['input'])}"
    return msg


def read_mapping(path: Path, what: str, error: type[SchemaFileError] = SchemaFileError) -> dict:
    """The top-level mapping of a YAML file (unique keys, finite numbers); `what` names its keys in errors."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        text = "; ".join(str(s) for s in (getattr(e, "context", None), getattr(e, "problem", None)) if s) or str(e)
        raise error(path, f"invalid YAML{where}: {text}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(path, f"cannot read: {e.strerror if isinstance(e, OSError) else e.reason}") from None
    except RecursionError:
        raise error(path, "invalid YAML: nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal past Python's 4300-digit conversion limit
        raise error(path, f"invalid YAML: {e}") from None
    if data is None:
        raise error(path, f"file is empty; expected a mapping of {what} keys")
    if not isinstance(data, dict):
        raise error(path, f"expected a mapping of {what} keys at top level, got {type(data).__name__}")
    non_finite = first_non_finite(data)
    if non_finite is not None:
        raise error(path, f"expected a finite number, got {non_finite[1]}", non_finite[0])
    return data


def validate(model: type[M] | TypeAdapter, data: Any, path: Path, error: type[SchemaFileError] = SchemaFileError,
             path_of: Callable[[tuple], str] = key_path, union_tag: str = "expected a known tag") -> M:
    """The model (or TypeAdapter) validating data; the first error (and how many more) as one line."""
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        where = path_of(first["loc"])
        if first["type"] == "union_tag_invalid":  # name the discriminator key itself (e.g. kind)
            where = ".".join(p for p in (where, str(first["ctx"]["discriminator"]).strip("'")) if p)
        raise error(path, error_message(first, union_tag) + more, where) from None


def load_model(path: str | Path, model: type[M] | TypeAdapter, what: str,
               error: type[SchemaFileError] = SchemaFileError, union_tag: str = "expected a known tag",
               union_tags: tuple[str, ...] = ()) -> M:
    """Read a YAML file of `what` (e.g. "mission") and validate it; every problem one `error` line.
    union_tags: the tags of a discriminated union at the top (left out of key paths)."""
    path = Path(path)
    if not path.is_file():
        raise error(path, f"no such {what} file")
    return validate(model, read_mapping(path, what, error), path, error, lambda loc: key_path(loc, union_tags),
                    union_tag=union_tag)
