"""Config files whose one-line errors also say the fix: '<file>: <key>: <problem> (<fix>)'.

Used by the agent's state machine and safety rules files (hand-written, checked at start-up).
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable, Union

import yaml
from pydantic import BaseModel, ValidationError


class HintedError(ValueError):
    """A config problem; str() is one line: '<file>: <key>: <problem> (<fix>)'."""

    def __init__(self, path: Union[str, Path], key: str, problem: str) -> None:
        super().__init__(" ".join(f"{path}: {key}: {problem}".split()))


def keys(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """"unknown <what> '<name>' (did you mean '<closest>'? known: ...)" for a name not among `known`."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}' ({hint}known: {', '.join(known)})"


def read_hinted_mapping(path: Union[str, Path], error: type[HintedError], model: type[BaseModel],
                        start_hint: str = "") -> dict[str, Any]:
    """The top-level mapping of a YAML file; `model` names the expected keys, `start_hint` how to begin."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise error(path, where, f"YAML syntax error: {err.problem or err.context} (fix the YAML syntax)") from None
    except (OSError, yaml.YAMLError) as err:
        raise error(path, "<file>", f"cannot read: {err} (check the path)") from None
    except RecursionError:
        raise error(path, "<file>", "YAML nested too deeply (fix the YAML syntax)") from None
    except ValueError as err:  # undecodable bytes, or an integer literal past Python's 4300-digit limit
        raise error(path, "<file>", f"cannot read: {err} (fix the file)") from None
    if not isinstance(raw, dict):
        hint = f" ({start_hint})" if start_hint else ""
        raise error(path, "<top level>", f"expected a mapping with keys {keys(model)}, got {type(raw).__name__}{hint}")
    return raw


def hinted_validation_error(path: Union[str, Path], err: ValidationError, error: type[HintedError],
                            root: type[BaseModel], sections: dict[str, type[BaseModel]]) -> HintedError:
    """The first pydantic error as '<key path>: <problem> (<fix>)'; a misspelt key (both 'extra' and
    'missing') is reported as the spelling, which names the fix. sections: top-level key -> its model."""
    def clean(loc: tuple) -> tuple:  # drop union-member tags such as 'constrained-str'
        return tuple(p for p in loc if isinstance(p, int) or p.isidentifier())

    errors = err.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = clean(first["loc"])
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "<top level>"
    if first["type"] == "missing":
        problem = "required key is missing (add it)"
    elif first["type"] == "extra_forbidden":
        owner = sections.get(loc[0], root) if len(loc) > 1 else root
        close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problem = f"unknown key ({hint}remove it; allowed here: {keys(owner)})"
    elif first["type"] == "string_pattern_mismatch":
        problem = f"{first['input']!r} is not a valid name (use letters, digits and _, not starting with a digit)"
    else:
        problem = f"{first['msg']}, got {repr(first['input'])[:60]} (fix the value)"
    more = len({clean(e["loc"]) for e in errors}) - 1
    return error(path, key, problem + (f" [+{more} more]" if more else ""))
