"""A campaign checked against what it disperses: `load_plan(file)` reads the spec, loads the base documents,
checks every dispersion's target (path exists, value shape, devices and thrusters exist, fault times inside the
run) and validates run 0 with the real scenario, description and parameter loaders, then run 0 again with each
dispersion in turn at each end of its range (uniform bounds, clip limits, mean +- 4 std of an unclipped normal,
every choice), so a spec that would fail in some runs fails at load, in one line naming the dispersion."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiki.graph import ConfigError
from qiki.plan import UsageError, make_plan
from qiki_description.loader import DescriptionError, load_description
from qiki_schema.vectors import is_number
from qiki_sim.scenario import ScenarioError, load_scenario
from qiki_tools.campaign import dotted_path
from qiki_tools.campaign.base import BaseDocuments, effective_params, load_base
from qiki_tools.campaign.dispersion import draw_run, n_thrusters, param_target
from qiki_tools.campaign.materialise import write_run
from qiki_tools.campaign.spec import (Attitude, CampaignError, CampaignSpec, Choice, DeviceFailure, Normal,
                                      ThrusterFault, Uniform, UniformInt, read_spec)


@dataclass(frozen=True)
class CampaignPlan:
    spec: CampaignSpec
    spec_path: Path
    base: BaseDocuments

    @property
    def duration_s(self) -> float:
        return self.spec.duration_s if self.spec.duration_s is not None else self.base.scenario.duration_s


def _base_value(base: BaseDocuments, parts: tuple) -> Any:
    target, rest = parts[0], parts[1:]
    if target == "scenario":
        return dotted_path.get(base.scenario_raw, rest, base.scenario_full)
    if target == "description":
        return dotted_path.get(base.description_raw, rest, base.description_full)
    node, param, tail = param_target(base, parts)
    value = dotted_path.get(base.params_full[node], tuple(param.split(".")))
    return dotted_path.get(value, tail) if tail else value


def _shape_problem(d, value: Any) -> str | None:
    """Why the distribution cannot produce a value for this target, or None."""
    vector = isinstance(value, list) and value and all(is_number(c) for c in value)
    if isinstance(d, (Uniform, Normal)):
        given = d.low if isinstance(d, Uniform) else d.mean
        if isinstance(given, list):
            if not vector or len(value) != len(given):
                return f"the vector form needs a list of {len(given)} numbers there, found {value!r}"
        elif not is_number(value):
            return (f"expected a number there, found {value!r}" + (
                f" (a vector: give lists of {len(value)} numbers)" if vector else ""))
    elif isinstance(d, UniformInt) and (not isinstance(value, int) or isinstance(value, bool)):
        return f"expected a whole number there, found {value!r}"
    elif isinstance(d, Choice) and isinstance(value, (list, dict)):
        return f"expected a single value there, found {value!r}"
    elif isinstance(d, Attitude) and not (vector and len(value) == 4):
        return f"expected a (w, x, y, z) quaternion there, found {value!r}"
    return None


def _check_targets(plan: CampaignPlan) -> None:
    spec, base, file = plan.spec, plan.base, plan.spec_path
    for k, d in enumerate(spec.dispersions):
        where = f"dispersions[{k}]"
        if isinstance(d, DeviceFailure):
            unknown = [x for x in d.devices if x not in base.description.devices]
            if unknown:
                raise CampaignError(file, f"unknown device {unknown[0]!r} of vehicle {base.description.name!r}; "
                                    f"expected one of {', '.join(base.description.devices)}", where + ".devices")
        if isinstance(d, ThrusterFault):
            n = n_thrusters(base)
            if base.profile != "ship":
                raise CampaignError(file, f"a thruster fault needs a ship scenario; {base.scenario.name!r} is a "
                                    f"{base.profile}", where + ".dist")
            bad = [t for t in d.thrusters or () if t >= n]
            if bad:
                raise CampaignError(file, f"thruster {bad[0]} does not exist (vehicle {base.description.name!r} has "
                                    f"{n}: 0..{n - 1})", where + ".thrusters")
        if isinstance(d, (DeviceFailure, ThrusterFault)):
            if d.at_s[1] > plan.duration_s:
                raise CampaignError(file, f"at_s {list(d.at_s)} reaches past the run's duration "
                                    f"({plan.duration_s:g} s)", where + ".at_s")
            continue
        if d.parts[:2] == ("scenario", "duration_s") and spec.duration_s is not None:
            raise CampaignError(file, "scenario.duration_s is dispersed and duration_s is set: keep one",
                                where + ".path")
        try:
            value = _base_value(base, d.parts)
        except (dotted_path.PathError, ConfigError) as exc:
            raise CampaignError(file, f"{d.path}: {_strip(str(exc), d.parts[0])}", where + ".path") from None
        problem = _shape_problem(d, value)
        if problem:
            raise CampaignError(file, f"{d.path}: {problem}", where + ".path")


def _strip(text: str, target: str) -> str:
    """A path error relative to its document, said from the campaign's side."""
    return text if target == "params" else f"{text} (in the base {target})"


def _blame(spec: CampaignSpec, target: str, key: str) -> str:
    """The dispersion whose path leads to `target.key` (a run's document failed there), else the campaign."""
    failed = dotted_path.parse(f"{target}.{key}") if key else (target,)
    for k, d in enumerate(spec.dispersions):
        parts = ("scenario", "failures" if isinstance(d, DeviceFailure) else "thruster_faults") \
            if not hasattr(d, "path") else d.parts
        n = min(len(parts), len(failed))
        if parts[:n] == failed[:n]:
            return f"dispersions[{k}]"
    return "dispersions"


NORMAL_REACH = 4.0      # an unclipped normal is checked at mean +- this many std (clip it to narrow what it draws)


def corners(d) -> list:
    """The dispersion `d` pinned at each end of its range (degenerate distributions drawing exactly that value)."""
    if isinstance(d, (Uniform, UniformInt)):
        return [d.model_copy(update={"low": d.low, "high": d.low}), d.model_copy(update={"low": d.high, "high": d.high})]
    if isinstance(d, Normal):
        if d.clip is not None:
            ends = [d.clip[0], d.clip[1]]
            return [d.model_copy(update={"mean": _fill(d.mean, e), "std": _fill(d.std, 0.0)}) for e in ends]
        return [d.model_copy(update={"mean": _shift(d.mean, d.std, k), "std": _fill(d.std, 0.0)})
                for k in (-NORMAL_REACH, NORMAL_REACH)]
    if isinstance(d, Choice):
        return [d.model_copy(update={"values": [v], "weights": None}) for v in d.values]
    return []


def _fill(like, value: float):
    return [value] * len(like) if isinstance(like, list) else value


def _shift(mean, std, k: float):
    return [m + k * s for m, s in zip(mean, std)] if isinstance(mean, list) else mean + k * std


def check_corners(plan: CampaignPlan) -> None:
    """check_run with each dispersion in turn at each end of its range; the error names the end."""
    for i, d in enumerate(plan.spec.dispersions):
        for pinned in corners(d):
            dispersions = list(plan.spec.dispersions)
            dispersions[i] = pinned
            at = CampaignPlan(plan.spec.model_copy(update={"dispersions": dispersions}), plan.spec_path, plan.base)
            try:
                check_run(at, 0)
            except CampaignError as exc:
                end = {k: v for k, v in pinned.model_dump().items() if k in ("low", "mean", "values")}
                raise CampaignError(plan.spec_path, f"{exc.detail} (with dispersions[{i}] at {end}: a range "
                                    "must hold only valid values; narrow it or clip it)", exc.key_path) from None


def check_run(plan: CampaignPlan, run: int = 0) -> None:
    """Materialise `run` in a temporary directory and validate it as `qiki run` would: the scenario (and through
    it the description) with qiki_sim.scenario, the parameters with qiki.layered_config."""
    spec, file = plan.spec, plan.spec_path
    draw = draw_run(spec, plan.base, run)
    with tempfile.TemporaryDirectory(prefix="qiki-campaign-check-") as tmp:
        files = write_run(draw, Path(tmp))
        for target, load, path in (("description", load_description, files.description),
                                   ("scenario", load_scenario, files.scenario)):
            if path is None:
                continue
            try:
                load(path)
            except (ScenarioError, DescriptionError) as exc:
                key = exc.key_path
                raise CampaignError(file, f"run {run} draws a {target} its schema rejects: "
                                    f"{target}.{key + ': ' if key else ''}{exc.detail}",
                                    _blame(spec, target, key)) from None
        try:
            effective_params(make_plan(plan.base.profile, str(files.scenario)), files.overrides)
        except (ConfigError, UsageError) as exc:
            text = str(exc).replace(f"overrides {files.overrides}", "the campaign")
            node_param = text.split(" ", 1)[0]
            raise CampaignError(file, f"run {run} draws parameters a node rejects: {text}",
                                _blame(spec, "params", node_param if "." in node_param else "")) from None


def load_plan(path: str | Path, runs: int | None = None) -> CampaignPlan:
    """Read, check and validate a campaign file (`runs`: override its run count)."""
    path = Path(path)
    spec = read_spec(path)
    if runs is not None:
        spec = spec.model_copy(update={"runs": runs})
    plan = CampaignPlan(spec, path, load_base(spec, path))
    _check_targets(plan)
    check_run(plan, 0)
    check_corners(plan)
    return plan
