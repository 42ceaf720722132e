"""Turn (profile, scenario) into the command line of every node, from the single graph description.

Used by `qiki bringup`, `qiki run` and launch/bringup.launch.py, so all three start the same graph.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from qiki.graph import SYNC_TYPE, ConfigError, GraphSpec, NodeSpec, load_graph, load_params
from qiki.share import config_dir  # noqa: F401  (qiki.plan.config_dir: where callers have found it)
from qiki.supervisor import node_command


# Graph endpoints whose topics the runner's GraphObserver (qiki.observer) reads besides the graph's own
# subscribers: with `streams=False` only the status ones. Publishers wait for it at start-up (Watcher).
OBSERVER_STATUS = ("agent.diagnostics",)
OBSERVER_STREAMS = OBSERVER_STATUS + ("sim.vehicle_state", "sim.truth", "radar.frame_lr", "radar.frame_sr",
                                      "tracker.tracks", "scorer.track_score")


def observer_topics(graph: GraphSpec, streams: bool = True) -> tuple[str, ...]:
    """What the runner's observer reads of `graph` (OBSERVER_STREAMS, or OBSERVER_STATUS without streams): the
    endpoints themselves for one unnamed vehicle, each vehicle's topics of them for a fleet."""
    ends = OBSERVER_STREAMS if streams else OBSERVER_STATUS
    if not graph.vehicles:
        return ends
    return tuple(dict.fromkeys(graph.topic_of(graph.vehicle_endpoint(v, e)) for v in graph.vehicles for e in ends))


@dataclass(frozen=True)
class Watcher:
    """A subscriber outside the graph that must not miss the start of a run (the runner's observer, its
    recorder): its fully qualified node name and the graph endpoints or topic names it reads. The graph's
    stream publishers wait for it by name at start-up (qiki_ros.subscriber_gate)."""
    node: str
    topics: tuple[str, ...]


def expected_subscribers(graph: GraphSpec, node: str, started: Iterable[str] | None = None,
                         watchers: Iterable[Watcher] = ()) -> dict[str, list[str]]:
    """{topic: node names} each `qos: stream` topic that `node` publishes must have matched before the node
    joins (qiki_ros.subscriber_gate): the subscribers config/graph.yaml lists among the `started` nodes (all
    by default), plus each watcher reading the topic."""
    started = {n.name for n in graph.nodes} if started is None else set(started)
    watchers = [(w.node, {e if e.startswith("/") else graph.topic_of(e) for e in w.topics}) for w in watchers]
    out = {}
    for t in graph.topics:
        if t.qos != "stream" or not any(p.partition(".")[0] == node for p in t.pub):
            continue
        names = sorted({f"/{graph.namespace}/{s.partition('.')[0]}" for s in t.sub if s.partition(".")[0] in started}
                       | {name for name, topics in watchers if t.name in topics})
        if names:
            out[t.name] = names
    return out


def expected_param(names: dict[str, list[str]]) -> dict[str, str]:
    """The `sync.expected_subscribers` override for these names (none when empty: ROS has no typed `[]`)."""
    if not names:
        return {}
    return {"sync.expected_subscribers": "[" + ",".join(f"{t}={n}" for t, ns in sorted(names.items())
                                                        for n in ns) + "]"}


class UsageError(ValueError):
    """The user asked for something that does not exist (exit code 2, one line)."""


@dataclass
class GraphPlan:
    graph: GraphSpec
    profile: str
    scenario: str
    scenario_file: Path
    params_file: Path
    node_overrides: dict[str, dict[str, str]]   # node -> {param: value} from `files`
    hosted: tuple[str, ...] | None = None       # the nodes started here (None: all); the rest runs elsewhere
    template: GraphSpec | None = None           # a fleet's graph before its expansion per vehicle (None: graph)

    @property
    def base_graph(self) -> GraphSpec:
        """The graph with one node per graph.yaml entry: what the parameter layers and the params file name
        (one params file for every vehicle, `/**/<node>` keys, as nav2's multi-robot bringup)."""
        return self.template or self.graph

    def launcher_params(self) -> dict[str, dict[str, str]]:
        """{graph.yaml node: {param: value}} of the plan's `files` and `vehicle` parameters, for the parameter
        layers; in a fleet, a vehicle node's parameter only when every vehicle has the same value (the others
        are on each node's command line only: `vehicle_params()`)."""
        out: dict[str, dict[str, str]] = {}
        for base in self.base_graph.nodes:
            instances = [n.name for n in self.graph.nodes if n.ros_name == base.name]
            values = [{p: self.node_overrides[i][p] for p in (*base.files, *base.vehicle)} for i in instances]
            out[base.name] = {p: v for p, v in values[0].items() if all(o[p] == v for o in values)}
        return out

    def vehicle_params(self) -> dict[str, dict[str, str]]:
        """{vehicle: {"node.param": value}} of a fleet's per-vehicle parameters that differ between vehicles."""
        shared = self.launcher_params()
        out: dict[str, dict[str, str]] = {}
        for n in self.graph.nodes:
            spec = self.base_graph.node(n.ros_name)
            for p in (*spec.files, *spec.vehicle):
                if n.vehicle_name and p not in shared[spec.name]:
                    out.setdefault(n.vehicle_name, {})[f"{spec.name}.{p}"] = self.node_overrides[n.name][p]
        return out

    def overrides(self, node: str, watchers: Iterable[Watcher] = (),
                  started: Iterable[str] | None = None) -> dict[str, str]:
        """{param: value} the plan sets on `node` besides the params file: its files, its barrier wiring and
        the named subscribers its stream publishers wait for (the `started` graph nodes, all by default,
        and the `watchers`)."""
        return {**self.node_overrides[node],
                **expected_param(expected_subscribers(self.graph, node, started, watchers))}

    def commands(self, watchers: Iterable[Watcher] = (),
                 started: Iterable[str] | None = None) -> list[tuple[NodeSpec, list[str]]]:
        """The command line of each node this host starts (`hosted`) of the `started` ones (all by default:
        nodes hosted elsewhere are still started, so still members and expected subscribers); `watchers`:
        subscribers outside the graph its publishers wait for."""
        watchers = tuple(watchers)
        started = None if started is None else tuple(started)
        return [(n, node_command(self.graph, n, self.params_file, self.overrides(n.name, watchers, started)))
                for n in self.graph.nodes if (started is None or n.name in started)
                and (self.hosted is None or n.name in self.hosted)]


RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def hosted_nodes(graph: GraphSpec, nodes: Iterable[str] | None) -> tuple[str, ...] | None:
    """The graph's nodes named in `nodes` (graph order), None for all of them; UsageError naming the valid
    names for any other name."""
    if nodes is None:
        return None
    asked = [n.strip() for n in nodes]
    valid = [n.name for n in graph.nodes]
    unknown = [n for n in asked if n not in valid]
    if unknown or not asked:
        raise UsageError(f"unknown node '{unknown[0] if unknown else ''}' in --nodes "
                         f"(valid nodes: {', '.join(valid)})")
    return None if set(asked) == set(valid) else tuple(n for n in valid if n in asked)


def make_plan(profile: str | None = None, scenario: str | None = None, cfg: Path | None = None,
              namespace: str | None = None, params_file: Path | str | None = None,
              nodes: Iterable[str] | None = None, run_id: str | None = None) -> GraphPlan:
    """Validate everything a run needs before any process starts.

    `namespace`: run the graph under it instead of graph.yaml's (GraphSpec.in_namespace); `params_file`: a
    ROS 2 params file in place of the profile's (validated against the nodes' models the same way); `nodes`:
    start only these (the rest of the graph runs on other machines: every part then needs the same `run_id`,
    the identity its StepDone messages carry)."""
    from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario

    cfg = cfg or config_dir()
    graph = load_graph(cfg / "graph.yaml")
    if namespace:
        try:
            graph = graph.in_namespace(namespace)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    profile = profile or graph.default_profile
    if profile not in graph.profiles:
        raise UsageError(f"unknown profile '{profile}' (valid profiles: {', '.join(sorted(graph.profiles))})")
    if params_file and not Path(params_file).is_file():
        raise UsageError(f"params file {params_file}: no such file")
    params_file = Path(params_file) if params_file else cfg / "params" / f"{profile}.yaml"
    load_params(params_file, graph)
    scenario = scenario or graph.profiles[profile].scenario
    try:
        scenario_file = find_scenario(scenario, cfg / "scenarios")
        loaded = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if loaded.profile != profile:
        raise UsageError(f"scenario '{scenario}' is for profile '{loaded.profile}', not '{profile}'")
    fleet = loaded.fleet()
    template = graph
    try:
        graph = graph.for_fleet([v.name for v in fleet])
    except ValueError as exc:
        raise UsageError(f"scenario '{scenario}': {exc}") from None
    hosted = hosted_nodes(graph, nodes)
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: give 1 to 64 letters, digits, '_', '.' or '-'")
    if hosted is not None and run_id is None:
        raise UsageError("--nodes starts part of the graph: give every machine the same --run-id ID "
                         f"(e.g. --run-id run-{secrets.token_hex(8)}), so that their nodes step together")
    overrides = {}
    run_id = run_id or f"run-{secrets.token_hex(8)}"
    members = sorted({s.partition(".")[0] for t in graph.topics if t.type == SYNC_TYPE for s in t.sub})
    vehicles = {v.name: v for v in fleet}
    for node in graph.nodes:
        overrides[node.name] = {
            "sync.upstream": "[" + ",".join(map(graph.barrier_name, graph.upstream(node.name))) + "]",
            "sync.members": "[" + ",".join(map(graph.barrier_name, members)) + "]",
            # this run's identity (a StepDone of another run is foreign) and step grid
            "sync.run_id": run_id, "sync.step_ns": str(round(loaded.dt_s * 1e9)),
            "qos.ports": "[" + ",".join(graph.port_qos(node.name)) + "]"}
        # a vehicle's node takes its vehicle's facts; a world node those of the one vehicle of a single-vehicle run
        vehicle = vehicles.get(node.vehicle_name) if node.vehicle_name or len(fleet) == 1 else None
        overrides[node.name].update(node_files(node, cfg, scenario_file, profile, vehicle))
        for param in node.vehicle:
            if vehicle is None:
                raise ConfigError(f"{cfg / 'graph.yaml'}: nodes.{node.name}.vehicle: a world node has no vehicle "
                                  f"in a fleet (give the node scope vehicle)")
            overrides[node.name][param] = str(vehicle_param(vehicle, param))
    return GraphPlan(graph, profile, scenario_file.stem, scenario_file, params_file, overrides, hosted,
                     template if graph is not template else None)


def vehicle_param(vehicle, param: str):
    """The value of graph.yaml's `vehicle:` parameter `param` for one of the scenario's vehicles (FleetVehicle)."""
    return {"description": vehicle.description, "vehicle.truth_id": vehicle.truth_id}[param]


def node_files(node: NodeSpec, cfg: Path, scenario_file: Path, profile: str, vehicle) -> dict[str, str]:
    """{param: absolute path} of a node's graph.yaml `files`: `{profile}`, `{scenario}` and `{mission}` (its
    vehicle's mission: a name is config/missions/<name>.yaml, a path is relative to the scenario) substituted."""
    subst = {"profile": profile, "scenario": scenario_file.stem}
    mission_path = None
    if vehicle is not None:
        mission = subst["mission"] = vehicle.mission
        if "/" in mission or mission.endswith((".yaml", ".yml")):
            mission_path = scenario_file.parent / mission
    out = {}
    for param, rel in node.files.items():
        try:
            path = cfg / rel.format(**subst)
        except KeyError as exc:
            raise ConfigError(f"{cfg / 'graph.yaml'}: nodes.{node.name}.files.{param}: {{{exc.args[0]}}} is a "
                              f"vehicle's (give the node scope vehicle)") from None
        if param == "scenario_file":
            path = scenario_file
        if param == "mission_file" and mission_path is not None:
            path = mission_path
        if not path.is_file():
            raise ConfigError(f"{cfg / 'graph.yaml'}: nodes.{node.name}.files.{param}: no file {path}")
        out[param] = str(path.resolve())
    return out
