"""The strict pydantic bases: unknown keys are always rejected.

`Strict` (frozen values) is the base of parameter and file models; `KeyedStrict` adds an error that
lists the valid keys (files people write by hand); `StrictTypes` also refuses type coercion (a quoted
"1" is not a number) for the agent's state machine and rules files.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    """Frozen model rejecting unknown keys (pydantic's own message): node parameter models."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_keys(data: Any, model: type[BaseModel]) -> None:
    """Raise naming the first key of data that model does not declare, listing the valid keys."""
    if isinstance(data, dict):
        unknown = [k for k in data if k not in model.model_fields]
        if unknown:
            valid = ", ".join(k for k, f in model.model_fields.items() if not f.exclude)
            raise PydanticCustomError("unknown_key", "unknown key {key}; valid keys: {valid}",
                                      {"key": repr(unknown[0]), "valid": valid})


class KeyedStrict(Strict):
    """Strict, and an unknown key's error names it and lists the valid keys: models of files people write."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        check_keys(data, cls)
        return data


class StrictTypes(BaseModel):
    """Unknown keys rejected and no type coercion: a value must already have the field's type."""

    model_config = ConfigDict(extra="forbid", strict=True)
