"""The documents a campaign disperses: the base scenario, its vehicle description and the node parameters.

Each is kept twice: as its file holds it (`raw`, what a run's copy is written from) and as validated with every
default (`full`), so a dispersion may name a key the file leaves out. Node parameters are the effective values
`qiki run` would give (qiki.layered_config: defaults < profile < run default), by node."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from qiki.graph import ConfigError
from qiki.layered_config import EffectiveConfig, ParameterNames, configure
from qiki.plan import GraphPlan, UsageError, config_dir, make_plan
from qiki_description.loader import DescriptionError, description_path, load_description
from qiki_description.vehicle import VehicleDescription
from qiki_ros.params import nest
from qiki_schema.yaml_file import read_mapping
from qiki_sim.scenario import Scenario, ScenarioError, find_scenario, load_scenario
from qiki_tools.campaign.spec import CampaignError, CampaignSpec

RUN_DEFAULTS = [("sim.clock.mode", "lockstep")]   # what `qiki run` itself sets (qiki.run_loop.configure_for)


@dataclass(frozen=True)
class BaseDocuments:
    scenario_path: Path
    scenario: Scenario
    scenario_raw: dict
    scenario_full: dict
    description_path: Path
    description: Any                  # BotDescription | ShipDescription
    description_raw: dict
    description_full: dict
    plan: GraphPlan
    names: ParameterNames
    params_full: dict                 # node -> nested effective parameters

    @property
    def profile(self) -> str:
        return self.scenario.profile

    def scenario_copy(self) -> dict:
        """The base scenario as its file holds it, with relative description/mission paths made absolute (a run's
        copy lives elsewhere)."""
        doc = copy.deepcopy(self.scenario_raw)
        vehicle = doc.get("vehicle")
        if isinstance(vehicle, dict):
            for key in ("description", "mission"):
                text = vehicle.get(key)
                if isinstance(text, str) and ("/" in text or text.endswith((".yaml", ".yml"))) \
                        and not Path(text).is_absolute():
                    vehicle[key] = str((self.scenario_path.parent / text).resolve())
        return doc


def scenario_file(spec: CampaignSpec, spec_path: Path) -> Path:
    """The base scenario: a name in the installed config/scenarios, or a path (relative to the campaign file)."""
    text = spec.scenario
    if ("/" in text or text.endswith((".yaml", ".yml"))) and not Path(text).is_absolute():
        text = str(spec_path.parent / text)
    return find_scenario(text, config_dir() / "scenarios")


def effective_params(plan: GraphPlan, overrides: Path | None = None) -> EffectiveConfig:
    """The parameters `qiki run --overrides FILE` gives the graph of `plan` (no environment layer)."""
    return configure(plan, {}, overrides=overrides, run_defaults=RUN_DEFAULTS)


def load_base(spec: CampaignSpec, spec_path: Path) -> BaseDocuments:
    """Load and validate the base documents; any problem is a CampaignError naming the campaign's `scenario` key."""
    try:
        path = scenario_file(spec, spec_path)
        scenario = load_scenario(path)
        if scenario.is_fleet():  # dispersions address one vehicle's description
            raise ScenarioError(path, "a fleet scenario (vehicles:) cannot be a campaign's base yet; give a "
                                      "one-vehicle scenario")
        raw = read_mapping(path, "scenario", ScenarioError)
        desc_path = description_path(scenario.vehicle.description)
        description = load_description(desc_path)
        desc_raw = read_mapping(desc_path, "vehicle description", DescriptionError)
        plan = make_plan(scenario.profile, str(path))
        config = effective_params(plan)
    except (ScenarioError, DescriptionError, ConfigError, UsageError) as exc:
        raise CampaignError(spec_path, str(exc), "scenario") from None
    by_node: dict[str, dict] = {}
    for s in config.settings.values():
        by_node.setdefault(s.node, {})[s.param] = s.value
    return BaseDocuments(
        scenario_path=path, scenario=scenario, scenario_raw=raw, scenario_full=scenario.model_dump(mode="json"),
        description_path=desc_path, description=description, description_raw=desc_raw,
        description_full=TypeAdapter(VehicleDescription).dump_python(description, mode="json"),
        plan=plan, names=ParameterNames(plan.graph), params_full={n: nest(v) for n, v in by_node.items()})
