"""Turn (profile, scenario) into the command line of every node, from the single graph description.

Used by `qiki bringup`, `qiki run` and launch/bringup.launch.py, so all three start the same graph.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

from qiki.graph import SYNC_TYPE, ConfigError, GraphSpec, NodeSpec, load_graph, load_params
from qiki.supervisor import node_command


class UsageError(ValueError):
    """The user asked for something that does not exist (exit code 2, one line)."""


def config_dir() -> Path:
    """The installed config/ directory (share/qiki/config)."""
    try:
        return Path(get_package_share_directory("qiki")) / "config"
    except PackageNotFoundError:
        raise ConfigError("package 'qiki' is not installed: run scripts/setup.sh") from None


@dataclass
class GraphPlan:
    graph: GraphSpec
    profile: str
    scenario: str
    scenario_file: Path
    params_file: Path
    node_overrides: dict[str, dict[str, str]]   # node -> {param: value} from `files`

    def commands(self) -> list[tuple[NodeSpec, list[str]]]:
        return [(n, node_command(self.graph, n, self.params_file, self.node_overrides[n.name]))
                for n in self.graph.nodes]


def make_plan(profile: str | None = None, scenario: str | None = None, cfg: Path | None = None) -> GraphPlan:
    """Validate everything a run needs before any process starts."""
    from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario

    cfg = cfg or config_dir()
    graph = load_graph(cfg / "graph.yaml")
    profile = profile or graph.default_profile
    if profile not in graph.profiles:
        raise UsageError(f"unknown profile '{profile}' (valid profiles: {', '.join(sorted(graph.profiles))})")
    params_file = cfg / "params" / f"{profile}.yaml"
    load_params(params_file, graph)
    scenario = scenario or graph.profiles[profile].scenario
    try:
        scenario_file = find_scenario(scenario, cfg / "scenarios")
        loaded = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if loaded.profile != profile:
        raise UsageError(f"scenario '{scenario}' is for profile '{loaded.profile}', not '{profile}'")
    subst = {"profile": profile, "scenario": scenario_file.stem}
    overrides = {}
    run_id = f"run-{secrets.token_hex(8)}"
    members = sorted({s.partition(".")[0] for t in graph.topics if t.type == SYNC_TYPE for s in t.sub})
    for node in graph.nodes:
        overrides[node.name] = {"sync.upstream": "[" + ",".join(graph.upstream(node.name)) + "]",
                                "sync.members": "[" + ",".join(members) + "]",
                                # this run's identity (a StepDone of another run is foreign) and step grid
                                "sync.run_id": run_id, "sync.step_ns": str(round(loaded.dt_s * 1e9))}
        for param, rel in node.files.items():
            path = cfg / rel.format(**subst)
            if param == "scenario_file":
                path = scenario_file
            if not path.is_file():
                raise ConfigError(f"{cfg / 'graph.yaml'}: nodes.{node.name}.files.{param}: no file {path}")
            overrides[node.name][param] = str(path.resolve())
    return GraphPlan(graph, profile, scenario_file.stem, scenario_file, params_file, overrides)
