"""Draw run i of a campaign: its seed and every dispersed value, applied to copies of the base documents.

Deterministic from (campaign seed, run index): the run's seed is SeedSequence([seed, i, 0]) and each dispersion
draws from its own generator SeedSequence([seed, i, 1, key]), key a hash of its path (a fault: its name), so a
value does not change when another dispersion is added, removed or moved, and the same file gives the same table
on any machine.
"""
from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from transforms3d.quaternions import qmult

from qiki_tools.campaign import dotted_path
from qiki_tools.campaign.base import BaseDocuments
from qiki_tools.campaign.spec import (Attitude, CampaignSpec, Choice, DeviceFailure, Normal, ThrusterFault, Uniform,
                                      UniformInt)

SEED_MAX = 2**31 - 1     # seeds fit every node's int parameter and the scenario's uint32
SEEDED_PARAMS = ("sim.seed", "radar.seed")   # set to the run's seed unless a dispersion sets them


def run_seed(campaign_seed: int, run: int) -> int:
    """Run `run`'s seed, in 1..SEED_MAX (0 would mean "the scenario's own seed" to the sim)."""
    return int(np.random.SeedSequence([campaign_seed, run, 0]).generate_state(1, np.uint64)[0] % SEED_MAX) + 1


def stream_key(d) -> int:
    """A dispersion's own stream: a stable 64-bit hash of its path (a fault: "fault." + its name)."""
    name = d.path if hasattr(d, "path") else f"fault.{d.name}"
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def dispersion_rng(campaign_seed: int, run: int, d) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([campaign_seed, run, 1, stream_key(d)]))


def param_target(base: BaseDocuments, parts: tuple) -> tuple[str, str, tuple]:
    """('params', node, *rest) -> (node, the parameter's dotted name, the list indices after it). A name the node
    does not have is qiki.layered_config's one-line ConfigError (with the closest name)."""
    node, rest = parts[1], parts[2:]
    names = [p for p in rest if isinstance(p, str)]
    known = base.names.defaults.get(node, {})
    for n in range(len(rest), 0, -1):
        head = rest[:n]
        if all(isinstance(p, str) for p in head) and ".".join(head) in known:
            tail = rest[n:]
            if any(isinstance(p, str) for p in tail):
                break
            return node, ".".join(head), tail
    base.names.setting(node, ".".join(names), None, "campaign")   # raises, naming the node or parameter
    raise dotted_path.PathError(f"{dotted_path.format_path(parts)}: not a parameter")


@dataclass
class RunDraw:
    """Run i as drawn: seed, dispersed values (table columns d.*) and the documents it runs with."""

    run: int
    seed: int
    values: dict[str, Any]
    scenario: dict
    description: dict | None            # None: the base description, not dispersed
    params: dict[str, dict[str, Any]]   # node -> {parameter: value} set by the campaign

    def overrides_document(self) -> dict:
        """The ROS 2 params file (`qiki run --overrides`)."""
        from qiki_ros.params import nest
        return {f"/**/{node}": {"ros__parameters": nest(flat)} for node, flat in self.params.items()}


def _number(x: Any) -> Any:
    """numpy scalar -> Python (YAML and parquet want plain ints and floats)."""
    return x.item() if isinstance(x, np.generic) else x


def draw_value(d, rng: np.random.Generator, base_value: Any) -> tuple[Any, dict[str, Any]]:
    """(value to set, {column suffix: value}) of one path dispersion; suffix "" is the path itself."""
    if isinstance(d, Uniform):
        value = rng.uniform(d.low, d.high)
    elif isinstance(d, Normal):
        value = rng.normal(d.mean, d.std)
        if d.clip is not None:
            value = np.clip(value, *d.clip)
    elif isinstance(d, UniformInt):
        count = int(rng.integers(d.low, d.high, endpoint=True))
        return count, {"": count}
    elif isinstance(d, Choice):
        p = None if d.weights is None else np.asarray(d.weights) / sum(d.weights)
        choice = d.values[int(rng.choice(len(d.values), p=p))]
        return choice, {"": choice}
    elif isinstance(d, Attitude):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = math.radians(float(rng.normal(0.0, d.std_deg)))
        dq = np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])
        q = qmult(np.asarray(base_value, dtype=float), dq)
        q = [float(c) for c in q / np.linalg.norm(q)]
        return q, {**{f"[{i}]": c for i, c in enumerate(q)}, ".angle_deg": abs(math.degrees(angle))}
    else:
        raise TypeError(f"not a path dispersion: {type(d).__name__}")
    if np.ndim(value) == 0:
        value = float(value)
        return value, {"": value}
    value = [float(c) for c in value]
    return value, {f"[{i}]": c for i, c in enumerate(value)}


def draw_fault(d, rng: np.random.Generator, n_thrusters: int) -> tuple[str, dict | None, dict[str, Any]]:
    """(scenario list key, entry or None when the fault does not happen in this run, {column suffix: value})."""
    happens = float(rng.uniform()) < d.probability
    at_s = float(rng.uniform(*d.at_s))
    key = "failures" if isinstance(d, DeviceFailure) else "thruster_faults"
    if not happens:
        ranged = isinstance(d, ThrusterFault) and not isinstance(d.efficiency, (int, float))
        return key, None, {".at_s": math.nan, ".target": "", **({".efficiency": math.nan} if ranged else {})}
    if isinstance(d, DeviceFailure):
        device = d.devices[int(rng.integers(len(d.devices)))]
        return "failures", {"device": device, "at_s": at_s, "level": d.level}, {".at_s": at_s, ".target": device}
    assert isinstance(d, ThrusterFault)
    pool = d.thrusters if d.thrusters is not None else list(range(n_thrusters))
    thruster = int(pool[int(rng.integers(len(pool)))])
    ranged = not isinstance(d.efficiency, (int, float))
    efficiency = float(rng.uniform(*d.efficiency)) if ranged else float(d.efficiency)
    columns = {".at_s": at_s, ".target": str(thruster), **({".efficiency": efficiency} if ranged else {})}
    return "thruster_faults", {"thruster": thruster, "at_s": at_s, "efficiency": efficiency}, columns


def n_thrusters(base: BaseDocuments) -> int:
    ship = getattr(base.description, "ship", None)
    return len(ship.rcs.thrusters) if ship is not None else 0


def draw_run(spec: CampaignSpec, base: BaseDocuments, run: int) -> RunDraw:
    """Run `run` of the campaign (paths already checked by campaign.plan)."""
    seed = run_seed(spec.seed, run)
    scenario = base.scenario_copy()
    if spec.duration_s is not None:
        scenario["duration_s"] = spec.duration_s
    description = None
    params: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for d in spec.dispersions:
        rng = dispersion_rng(spec.seed, run, d)
        if not hasattr(d, "path"):
            key, entry, columns = draw_fault(d, rng, n_thrusters(base))
            if entry is not None:
                scenario[key] = list(scenario.get(key) or []) + [entry]
            values.update({f"d.fault.{d.name}{s}": v for s, v in columns.items()})
            continue
        parts = d.parts
        target, rest = parts[0], parts[1:]
        if target == "scenario":
            value, columns = draw_value(d, rng, dotted_path.get(scenario, rest, base.scenario_full))
            dotted_path.set_value(scenario, rest, value, base.scenario_full)
        elif target == "description":
            if description is None:
                description = copy.deepcopy(base.description_raw)
            value, columns = draw_value(d, rng, dotted_path.get(description, rest, base.description_full))
            dotted_path.set_value(description, rest, value, base.description_full)
        else:
            node, param, tail = param_target(base, parts)
            current = params.get(node, {}).get(param, dotted_path.get(base.params_full[node], tuple(param.split("."))))
            current = copy.deepcopy(current)
            value, columns = draw_value(d, rng, dotted_path.get(current, tail) if tail else current)
            if tail:
                dotted_path.set_value(current, tail, value)
                value = current
            params.setdefault(node, {})[param] = value
        values.update({f"d.{d.path}{s}": _number(v) for s, v in columns.items()})
    for name in SEEDED_PARAMS:
        node, param = name.split(".", 1)
        params.setdefault(node, {}).setdefault(param, seed)
    return RunDraw(run, seed, values, scenario, description, params)
