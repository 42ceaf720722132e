"""The campaign file (config/campaigns/<name>.yaml): base scenario, runs, seed, engine and dispersions.

Pydantic, strict (unknown keys rejected with the valid ones listed); every problem is one CampaignError line
naming the file and the key path, like the project's other YAML files. This module checks the file on its
own; `campaign.plan` checks it against the base scenario, vehicle description and node parameters.
"""
from __future__ import annotations

import math

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from qiki_schema.strict import KeyedStrict
from qiki_schema.vectors import Range, ordered
from qiki_schema.yaml_file import SchemaFileError, load_model
from qiki_tools.campaign import dotted_path

TARGETS = ("scenario", "description", "params")  # what a dispersion path may start with
ENGINES = ("core", "graph")
DISTRIBUTIONS = ("uniform", "uniform_int", "normal", "choice", "attitude", "device_failure", "thruster_fault")
MAX_RUNS = 1_000_000

Scalar = Union[bool, int, float, str]
NumberOrList = Union[float, list[float]]
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


class CampaignError(SchemaFileError):
    """A campaign file that cannot be read, validated or applied to its base scenario; str() is one line."""


def _check_path(text: str) -> str:
    try:
        parts = dotted_path.parse(text)
    except dotted_path.PathError as exc:
        raise PydanticCustomError("path", str(exc), {}) from None
    named = parts[0] in TARGETS and len(parts) >= 2 and (
        parts[0] != "params" or len(parts) >= 3 and all(isinstance(p, str) for p in parts[1:3]))
    if not named:
        raise PydanticCustomError("path", "{p}: expected a path starting with scenario., description. or "
                                  "params.<node>.<param>", {"p": repr(text)})
    return text


def _shape(value: NumberOrList) -> int | None:
    """None for a number, else the list's length."""
    return None if isinstance(value, (int, float)) else len(value)


def _same_shape(name_a: str, a: NumberOrList, name_b: str, b: NumberOrList) -> None:
    if _shape(a) != _shape(b):
        raise PydanticCustomError("shape", "{a} and {b}: expected both numbers or both lists of one length",
                                  {"a": name_a, "b": name_b})


def _components(value: NumberOrList) -> list[float]:
    return [value] if isinstance(value, (int, float)) else list(value)


class _Dispersed(KeyedStrict):
    """A dispersion of the value at `path` (dotted, into scenario., description. or params.<node>.<param>)."""

    path: str

    @field_validator("path")
    @classmethod
    def _path(cls, text: str) -> str:
        return _check_path(text)

    @property
    def parts(self) -> tuple:
        return dotted_path.parse(self.path)


def _ordered(low, high) -> None:
    if low > high:
        raise PydanticCustomError("range", "expected low <= high, got low {lo} > high {hi}", {"lo": low, "hi": high})


class Uniform(_Dispersed):
    """Uniform in [low, high]; lists of numbers (one per component) for a vector, e.g. a velocity."""

    dist: Literal["uniform"]
    low: NumberOrList
    high: NumberOrList

    @model_validator(mode="after")
    def _bounds(self) -> Uniform:
        _same_shape("low", self.low, "high", self.high)
        for lo, hi in zip(_components(self.low), _components(self.high)):
            _ordered(lo, hi)
            if not math.isfinite(hi - lo):
                raise PydanticCustomError("range", "high - low is too large to draw from (got {lo} .. {hi})",
                                          {"lo": lo, "hi": hi})
        return self


class UniformInt(_Dispersed):
    """A whole number uniform in low..high (both included), e.g. a count."""

    dist: Literal["uniform_int"]
    low: int
    high: int

    @model_validator(mode="after")
    def _bounds(self) -> UniformInt:
        _ordered(self.low, self.high)
        if not (INT64_MIN <= self.low and self.high < INT64_MAX):
            raise PydanticCustomError("range", "expected low and high within 64-bit integers", {})
        return self


class Normal(_Dispersed):
    """Normal(mean, std), optionally clipped to clip = [min, max]; lists for a vector (one per component)."""

    dist: Literal["normal"]
    mean: NumberOrList
    std: NumberOrList
    clip: Optional[Range] = None

    @model_validator(mode="after")
    def _params(self) -> Normal:
        _same_shape("mean", self.mean, "std", self.std)
        if any(s < 0 for s in _components(self.std)):
            raise PydanticCustomError("range", "std: expected numbers >= 0", {})
        if self.clip is not None:
            ordered(self.clip, "clip")
        return self


class Choice(_Dispersed):
    """One of `values` (numbers, strings or booleans), with optional relative `weights` (default: equal)."""

    dist: Literal["choice"]
    values: list[Scalar] = Field(min_length=1)
    weights: Optional[list[float]] = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise PydanticCustomError("weights", "weights: expected {n} numbers, one per value, got {m}",
                                          {"n": len(self.values), "m": len(self.weights)})
            if any(w < 0 for w in self.weights) or not 0 < sum(self.weights) < math.inf:
                raise PydanticCustomError("weights", "weights: expected numbers >= 0 with a positive sum", {})
        return self


class Attitude(_Dispersed):
    """A small random rotation of a (w, x, y, z) attitude quaternion: angle ~ Normal(0, std_deg) about a uniformly
    random body axis (the rotation is applied in the body frame)."""

    dist: Literal["attitude"]
    std_deg: float = Field(ge=0, le=180)


class _Fault(KeyedStrict):
    """A fault at a random time: at_s uniform in [min, max] of sim time, in a share `probability` of the runs (the
    others have none: at_s NaN, target ""); `name` names its table columns."""

    name: str
    at_s: Range
    probability: float = Field(1.0, ge=0, le=1)

    @field_validator("name")
    @classmethod
    def _name(cls, text: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            raise PydanticCustomError("name", "expected a name of letters, digits and _, got {t}", {"t": repr(text)})
        return text

    @model_validator(mode="after")
    def _times(self) -> _Fault:
        ordered(self.at_s, "at_s")
        if self.at_s[0] < 0:
            raise PydanticCustomError("range", "at_s: expected times >= 0", {})
        return self


class DeviceFailure(_Fault):
    """One of `devices` (drawn with equal weight) goes to `level` (1 WARN, 2 ERROR, 3 STALE): the scenario's failures."""

    dist: Literal["device_failure"]
    devices: list[str] = Field(min_length=1)
    level: int = Field(2, ge=1, le=3)


class ThrusterFault(_Fault):
    """Ship: one of `thrusters` (indices into the description's RCS list; default all) delivers only `efficiency` of
    its commanded thrust from at_s on (0: failed off); efficiency a number or a [min, max] drawn uniformly."""

    dist: Literal["thruster_fault"]
    thrusters: Optional[list[Annotated[int, Field(ge=0)]]] = Field(None, min_length=1)
    efficiency: Union[float, Range] = 0.0

    @field_validator("efficiency")
    @classmethod
    def _efficiency(cls, value: Any) -> Any:
        for e in _components(value):
            if not 0.0 <= e <= 1.0:
                raise PydanticCustomError("range", "efficiency: expected numbers in [0, 1], got {e}", {"e": e})
        if not isinstance(value, (int, float)):
            ordered(value, "efficiency")
        return value


Dispersion = Annotated[Union[Uniform, UniformInt, Normal, Choice, Attitude, DeviceFailure, ThrusterFault],
                       Field(discriminator="dist")]
FAULTS = (DeviceFailure, ThrusterFault)


def _dist_tag(data: Any) -> Any:
    """A dispersion without `dist`, or with an unknown one: say which ones exist (pydantic's message names none)."""
    if isinstance(data, dict) and isinstance(data.get("dispersions"), list):
        for i, d in enumerate(data["dispersions"]):
            if isinstance(d, dict) and d.get("dist") not in DISTRIBUTIONS:
                raise PydanticCustomError("dist", "dispersions[{i}].dist: expected one of {names}, got {got}",
                                          {"i": i, "names": ", ".join(DISTRIBUTIONS), "got": repr(d.get("dist"))})
    return data


class CampaignSpec(KeyedStrict):
    """A campaign file."""

    name: str = ""                          # default: the file's stem
    description: str = ""
    scenario: str                           # base scenario: a name (config/scenarios/) or a path (relative: to this file)
    runs: int = Field(ge=1, le=MAX_RUNS)
    seed: int = Field(ge=0, le=2**63 - 1)   # run i's seed is derived from (seed, i)
    engine: Literal["core", "graph"] = "core"
    duration_s: Optional[float] = Field(None, gt=0)   # default: the scenario's
    dispersions: list[Dispersion] = []

    @model_validator(mode="before")
    @classmethod
    def _tags(cls, data: Any) -> Any:
        return _dist_tag(data)

    @model_validator(mode="after")
    def _distinct(self) -> CampaignSpec:
        seen: dict[tuple, int] = {}
        names: set[str] = set()
        for i, d in enumerate(self.dispersions):
            if isinstance(d, FAULTS):
                if d.name in names:
                    raise PydanticCustomError("twice", "dispersions[{i}].name: fault {n} is named twice",
                                              {"i": i, "n": repr(d.name)})
                names.add(d.name)
                continue
            for parts, j in seen.items():
                if parts == d.parts[:len(parts)] or d.parts == parts[:len(d.parts)]:
                    raise PydanticCustomError("twice", "dispersions[{i}].path: {p} overlaps dispersions[{j}].path",
                                              {"i": i, "j": j, "p": d.path})
            seen[d.parts] = i
        return self


def read_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign file on its own; raises CampaignError (one line)."""
    from pydantic import TypeAdapter
    path = Path(path)
    spec = load_model(path, TypeAdapter(CampaignSpec), "campaign", CampaignError, union_tags=DISTRIBUTIONS)
    return spec if spec.name else spec.model_copy(update={"name": path.stem})

