"""Layered configuration: the value every node parameter gets and the layer it came from.

Layers, lowest first (a higher layer replaces a lower one, per parameter):

1. ``default``: the node's pydantic parameter model (what the node declares itself);
2. ``profile config/params/<profile>.yaml``: the installed, read-only profile params file;
3. ``run default``: `qiki run`'s own choice (lockstep clock);
4. ``overrides <file>``: one runtime params file of the same ROS shape (``--overrides`` or
   ``$QIKI_OVERRIDES_FILE``);
5. ``env QIKI_<NODE>__<PARAM>``: environment, ``__`` for the dots, values read as YAML;
6. ``cli ...``: the command line (``--set NODE.PARAM=VALUE``, ``--mode``, ``--rate``, ``--command-lag``).

Parameters the launcher derives from config/graph.yaml and the run (the `files`, `vehicle`, `use_sim_time` and
qiki_ros.node_config.LAUNCHER_PARAMS: barrier wiring, QoS of the ports) are not layered: setting one is an
error. The merged values are validated against each node's model (NaN and infinity rejected), and
written as one ROS 2 params file, so a node gets exactly what `qiki config show` prints. Errors are
one `ConfigError` line naming the parameter, the value, what was expected and the layer. No rclpy.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from qiki.graph import ConfigError, GraphSpec, first_error, node_key, params_sections
from qiki_ros.node_config import LAUNCHER_PARAMS
from qiki_ros.params import first_non_finite, flatten_fields, nest

OVERRIDES_ENV = "QIKI_OVERRIDES_FILE"
ENV_PREFIX = "QIKI_"
DEFAULT = "default"
GRAPH = "graph config/graph.yaml"
RUN_DEFAULT = "run default"


@dataclass(frozen=True)
class Setting:
    """One parameter value set by one layer, e.g. Setting('tracker', 'tracker.confirm_m', 3, 'cli --set')."""

    node: str
    param: str
    value: Any
    source: str

    @property
    def name(self) -> str:
        return f"{self.node}.{self.param}"


@dataclass(frozen=True)
class EffectiveConfig:
    """The merged, validated parameters of every node (in graph order) and the graph-level facts."""

    facts: dict[str, Any]                  # profile, scenario, namespace, config_dir, overrides_file
    settings: dict[str, Setting]           # "node.param" -> effective setting

    def params_document(self) -> dict[str, dict]:
        """The ROS 2 params file the nodes are started with (`/**/<node>: ros__parameters: ...`).

        Empty lists are left out: a params file cannot type them, and a node declares its own
        (empty) default; resolve() rejects an empty list that differs from the default.
        """
        by_node: dict[str, dict[str, Any]] = {}
        for s in self.settings.values():
            by_node.setdefault(s.node, {})
            if s.value != []:
                by_node[s.node][s.param] = s.value
        return {node_key(self.facts["namespace"], node): {"ros__parameters": nest(flat)}
                for node, flat in by_node.items()}

    def params_yaml(self) -> str:
        """params_document() as the text of a params file."""
        return yaml.safe_dump(self.params_document(), sort_keys=False)

    def as_json(self) -> dict[str, Any]:
        return {**self.facts, "parameters": {k: {"value": s.value, "source": s.source}
                                             for k, s in self.settings.items()}}

    def table(self) -> str:
        """Readable listing: the facts, then one aligned row per parameter (name, value, source)."""
        facts = [f"{k:<15}{'none' if v is None else v}" for k, v in self.facts.items()]
        rows = [(k, _flow(s.value), s.source) for k, s in self.settings.items()]
        w_name = max(len(r[0]) for r in rows)
        w_value = min(max(len(r[1]) for r in rows), 32)
        lines = [f"{'parameter':<{w_name}}  {'value':<{w_value}}  source"]
        lines += [f"{n:<{w_name}}  {v:<{w_value}}  {src}" for n, v, src in rows]
        return "\n".join(facts + [""] + lines)


def _flow(value: Any) -> str:
    """A value as it would be written in a params file (YAML flow style)."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()


def parse_value(text: str, source: str) -> Any:
    """A command-line or environment value read as a YAML scalar or list (`3`, `true`, `[1, 2]`)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{text!r} (from {source}): not a YAML value: {problem}") from None


class ParameterNames:
    """The parameters each node of the graph has: model defaults, and the launcher's own (not layered)."""

    def __init__(self, graph: GraphSpec):
        self.graph = graph
        models = {n.name: n.model() for n in graph.nodes}
        self.defaults = {name: {k: d for k, (d, _) in flatten_fields(m).items()} if m else {}
                         for name, m in models.items()}
        self.launcher = {n.name: {"use_sim_time", *n.files, *n.vehicle, *LAUNCHER_PARAMS} for n in graph.nodes}

    def setting(self, node: str, param: str, value: Any, source: str) -> Setting:
        """A Setting for a parameter that exists and may be set; else a one-line ConfigError."""
        if node not in self.defaults:
            raise ConfigError(f"{node}.{param} (from {source}): unknown node '{node}' "
                              f"(nodes: {', '.join(self.defaults)})")
        if param in self.launcher[node]:
            raise ConfigError(f"{node}.{param} (from {source}): set by the launcher from config/graph.yaml and the "
                              "run (choose --profile / --scenario instead)")
        if param not in self.defaults[node]:
            close = difflib.get_close_matches(param, self.defaults[node], n=1)
            hint = f"; did you mean '{node}.{close[0]}'?" if close else ""
            raise ConfigError(f"{node}.{param} (from {source}): node '{node}' has no parameter '{param}'{hint}")
        return Setting(node, param, value, source)


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: a params-file section as dotted parameter names (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def file_layer(path: Path, names: ParameterNames, source: str) -> list[Setting]:
    """Every parameter a ROS 2 params file sets (profile or overrides), checked by name, not yet by value."""
    return [names.setting(node, param, value, source)
            for node, params in params_sections(path, names.graph).items()
            for param, value in _flatten(params).items()]


def env_layer(environ: Mapping[str, str], names: ParameterNames) -> list[Setting]:
    """`QIKI_<NODE>__<PARAM>` variables (`__` for dots), e.g. QIKI_TRACKER__TRACKER__CONFIRM_M=3.

    Every other QIKI_ variable except QIKI_OVERRIDES_FILE is an error: a typo must not be ignored.
    """
    out = []
    for var in sorted(v for v in environ if v.startswith(ENV_PREFIX) and v != OVERRIDES_ENV):
        node, sep, param = var[len(ENV_PREFIX):].lower().partition("__")
        if not sep or not param:
            raise ConfigError(f"env {var}: not a QIKI setting (expected {OVERRIDES_ENV} or "
                              "QIKI_<NODE>__<PARAM>, e.g. QIKI_TRACKER__TRACKER__CONFIRM_M)")
        source = f"env {var}"
        out.append(names.setting(node, param.replace("__", "."), parse_value(environ[var], source), source))
    return out


def set_layer(assignments: list[str], names: ParameterNames, source: str = "cli --set") -> list[Setting]:
    """`--set NODE.PARAM=VALUE` arguments, in order (a later one for the same parameter wins)."""
    out = []
    for text in assignments:
        name, sep, raw = text.partition("=")
        node, dot, param = name.strip().partition(".")
        if not sep or not dot or not param:
            raise ConfigError(f"--set {text!r}: expected NODE.PARAM=VALUE, e.g. tracker.tracker.confirm_m=3")
        out.append(names.setting(node, param, parse_value(raw, source), source))
    return out


def overrides_file(given: Path | None, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    """The one runtime overrides file: `--overrides FILE`, else $QIKI_OVERRIDES_FILE, else none.

    Returns (path, how it was chosen). A named file that does not exist is an error.
    """
    if given is not None:
        path, how = Path(given), "--overrides"
    elif environ.get(OVERRIDES_ENV):
        path, how = Path(environ[OVERRIDES_ENV]), OVERRIDES_ENV
    else:
        return None, ""
    if not path.is_file():
        raise ConfigError(f"{path}: no such overrides file (from {how})")
    return path, how


def resolve(names: ParameterNames, layers: list[list[Setting]], launcher: dict[str, dict[str, Any]],
            facts: dict[str, Any]) -> EffectiveConfig:
    """Merge the layers (lowest first) over the model defaults, add the launcher's parameters, validate.

    `launcher`: {node: {param: value}} the launcher sets from config/graph.yaml (source GRAPH).
    """
    merged: dict[str, Setting] = {}
    for node, defaults in names.defaults.items():
        for param, value in defaults.items():
            if param not in names.launcher[node]:
                merged[f"{node}.{param}"] = Setting(node, param, value, DEFAULT)
        for param, value in launcher.get(node, {}).items():
            merged[f"{node}.{param}"] = Setting(node, param, value, GRAPH)
    for layer in layers:
        for s in layer:
            if _non_finite(s.value, names.defaults[s.node].get(s.param)):   # before the model's checks: NaN passes `gt`, inf fails a cross-check
                raise ConfigError(_not_finite(s))
            merged[s.name] = s
    for node in names.graph.nodes:
        model = node.model()
        if model is None:
            continue
        own = {s.param: s for s in merged.values() if s.node == node.name and s.param != "use_sim_time"}
        try:
            checked = model.model_validate(nest({p: s.value for p, s in own.items()})).model_dump()
        except ValidationError as exc:
            loc, err = first_error(exc)
            raise ConfigError(_blame(node.name, loc, err["msg"], own)) from None
        for param, s in own.items():
            value = _lookup(checked, param)
            if s.source != DEFAULT and first_non_finite(value) is not None:
                raise ConfigError(_not_finite(s))
            if value == [] and value != names.defaults[node.name][param]:
                raise ConfigError(f"{s.name} = [] (from {s.source}): a ROS 2 params file cannot hold an empty "
                                  "list; give at least one element")
            merged[s.name] = Setting(s.node, s.param, value, s.source)
    return EffectiveConfig(facts, merged)


def _non_finite(value: Any, default: Any) -> bool:
    """NaN or infinity in a value as given: YAML .nan / .inf, or for a numeric parameter (`default` a number or a
    list) text such as 'nan' that its float field would take."""
    numeric = isinstance(default, (int, float, list)) and not isinstance(default, bool)
    if isinstance(value, str) and numeric:
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    if isinstance(value, list):
        return any(_non_finite(v, default) for v in value)
    return first_non_finite(value) is not None


def _not_finite(s: Setting) -> str:
    return f"{s.name} = {s.value!r} (from {s.source}): expected a finite number (NaN and infinity are never valid)"


def _lookup(nested: dict[str, Any], param: str) -> Any:
    """The validated value of a dotted parameter (tuples as lists, as a params file holds them)."""
    value: Any = nested
    for part in param.split("."):
        value = value[part]
    return list(value) if isinstance(value, tuple) else value


def _blame(node: str, loc: str, msg: str, own: dict[str, Setting]) -> str:
    """One line for a failed validation: the parameter, its value and layer, and what was expected."""
    parts = loc.split(".")
    for n in range(len(parts), 0, -1):     # the parameter itself (a list item's error names its list)
        s = own.get(".".join(parts[:n]))
        if s is not None:
            return f"{s.name} = {s.value!r} (from {s.source}): {msg}"
    # a check across parameters (e.g. the radar's band split): the ones its message names
    inside = {p.removeprefix(loc + "."): s for p, s in own.items() if not loc or p.startswith(loc + ".")}
    named = [s for rel, s in inside.items() if rel in msg]
    given = "; ".join(f"{s.name} = {s.value!r} from {s.source}" for s in named)
    return f"{node}.{loc or '(parameters)'}: {msg}" + (f" ({given})" if given else "")


def configure(plan, environ: Mapping[str, str], *, overrides: Path | None = None,
              run_defaults: list[tuple[str, Any]] = (), command_line: list[tuple[str, Any, str]] = (),
              sets: list[str] = ()) -> EffectiveConfig:
    """The effective configuration of a `qiki.plan.GraphPlan` under all layers.

    `run_defaults`: ("node.param", value) the command itself chooses (`qiki run`: lockstep);
    `command_line`: ("node.param", value, source) from named flags; `sets`: `--set` arguments.
    """
    names = ParameterNames(plan.base_graph)
    cfg = plan.params_file.parent.parent

    def named(full: str, value: Any, source: str) -> Setting:
        node, _, param = full.partition(".")
        return names.setting(node, param, value, source)

    path, how = overrides_file(overrides, environ)
    layers = [file_layer(plan.params_file, names, f"profile config/{plan.params_file.relative_to(cfg)}"),
              [named(k, v, RUN_DEFAULT) for k, v in run_defaults],
              file_layer(path, names, f"overrides {path}") if path else [],
              env_layer(environ, names),
              [named(*entry) for entry in command_line] + set_layer(list(sets), names)]
    shared = plan.launcher_params()
    launcher = {n.name: {"use_sim_time": n.use_sim_time, **shared[n.name]} for n in plan.base_graph.nodes}
    facts = {"profile": plan.profile, "scenario": plan.scenario, "scenario_file": str(plan.scenario_file),
             "namespace": f"/{plan.graph.namespace}", "config_dir": str(cfg),
             **({"vehicles": plan.vehicle_params()} if plan.graph.vehicles else {}),
             "overrides_file": f"{path} (from {how})" if path else None,
             "layers": " < ".join(["default", "profile"] + ([RUN_DEFAULT] if run_defaults else [])
                                  + ["overrides", "env QIKI_<NODE>__<PARAM>", "cli"])}
    return resolve(names, layers, launcher, facts)
