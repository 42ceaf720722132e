"""The graph description (config/graph.yaml) and the profile parameter files, loaded and validated.

Both launchers use this: launch/bringup.launch.py (full ROS 2 install) and `qiki bringup`/`qiki run`.
Every error is a one-line `ConfigError` naming the file and the key.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from qiki_ros.params import ConfigError  # noqa: F401  (one error type for files and parameters)
from qiki_schema.strict import Strict

SYNC_TYPE = "qiki_msgs/msg/StepDone"   # the step barrier topic, not data
NAMESPACE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*")   # a ROS namespace, without slashes
VEHICLE_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")   # a fleet vehicle's name: one part of a ROS name
Scope = Literal["world", "vehicle"]
# the scenario's per-vehicle facts a node can take as parameters (qiki.plan sets them)
VEHICLE_PARAMS = ("description", "vehicle.truth_id")


class RestartPolicy(Strict):
    """What the runner does when the node's process exits without being asked to (launch_ros `respawn`)."""
    policy: Literal["never", "on-failure"] = "never"
    max_restarts: int = Field(3, ge=1)        # at most this many restarts...
    within_s: float = Field(60.0, gt=0)       # ...within this many wall seconds, then the run fails
    # keep a warm spare process (imported, DDS participant discovered) that takes over at once: a
    # restart then costs ~0.1 s instead of ~1 s of start-up plus up to 3 s of DDS discovery
    standby: bool = False

    def allows(self, restart_times: list[float], now_s: float) -> bool:
        """May the node be restarted at wall time now_s, given the wall times of its earlier restarts?"""
        recent = [t for t in restart_times if now_s - t < self.within_s]
        return self.policy == "on-failure" and len(recent) < self.max_restarts


class NodeSpec(Strict):
    name: str                         # in a fleet's expanded graph a vehicle's node is `<vehicle>/<node>`
    scope: Scope = "world"            # world: once; vehicle: once per vehicle, in /<namespace>/<vehicle>
    package: str
    executable: str
    use_sim_time: bool = True
    files: dict[str, str] = {}
    vehicle: list[Literal[VEHICLE_PARAMS]] = []  # parameters set from the scenario's vehicle (qiki.plan)
    config_model: str | None = None   # "module:Class" of the node's pydantic parameter model
    restart: RestartPolicy = RestartPolicy()
    nice: int = Field(0, ge=0, le=19)   # scheduling niceness: >0 yields the CPU to the graph's critical path

    @property
    def ros_name(self) -> str:
        """The ROS node name (`radar` for `alpha/radar`)."""
        return self.name.rpartition("/")[2]

    @property
    def vehicle_name(self) -> str:
        """The vehicle this node belongs to in a fleet's expanded graph ("" for world nodes and the template)."""
        return self.name.rpartition("/")[0]

    def model(self) -> type[BaseModel] | None:
        """The node's pydantic parameter model class (imported from `config_model`), or None."""
        if not self.config_model:
            return None
        module, _, cls = self.config_model.partition(":")
        return getattr(importlib.import_module(module), cls)


class TopicSpec(Strict):
    name: str
    scope: Scope = "world"
    world: list[str] = []             # vehicle topic: world ports that stay on the world topic of this name
    type: str
    qos: str
    rate: str = ""
    pub: list[str]
    sub: list[str] = []


class ServiceSpec(Strict):
    name: str
    scope: Scope = "world"
    type: str
    server: str


class ProfileSpec(Strict):
    scenario: str                     # default scenario name in config/scenarios/


class GraphSpec(Strict):
    namespace: str
    profiles: dict[str, ProfileSpec]
    default_profile: str
    nodes: list[NodeSpec]
    topics: list[TopicSpec]
    services: list[ServiceSpec] = []
    vehicles: list[str] = []          # set by for_fleet(): the fleet's vehicles (empty: one unnamed vehicle)

    @model_validator(mode="after")
    def _endpoints_name_nodes(self) -> GraphSpec:
        names = {n.name for n in self.nodes}
        if len(names) != len(self.nodes):
            raise ValueError("nodes: node names must be unique")
        for kind, items in (("topics", self.topics), ("services", self.services)):
            for i, item in enumerate(items):
                ends = [item.server] if kind == "services" else item.pub + item.sub
                for end in ends:
                    node, _, port = end.partition(".")
                    if node not in names or not port:
                        raise ValueError(f"{kind}[{i}] ({item.name}): endpoint '{end}' must be "
                                         f"<node>.<port> with node one of {sorted(names)}")
        from qiki_ros.qos import BY_NAME
        seen: dict[str, str] = {}
        for i, t in enumerate(self.topics):
            if t.qos not in BY_NAME:
                raise ValueError(f"topics[{i}] ({t.name}): qos '{t.qos}' is not one of {sorted(BY_NAME)}")
            for end in t.pub + t.sub:
                if seen.setdefault(end, t.qos) != t.qos:
                    raise ValueError(f"topics[{i}] ({t.name}): endpoint '{end}' has qos '{seen[end]}' on another "
                                     f"topic (a port has one QoS)")
        if not self.vehicles:
            self._check_scopes()
        return self

    def _check_scopes(self) -> None:
        """A vehicle topic or service lives under the graph's namespace (it moves per vehicle) and has a vehicle
        node's port; a topic's `world` ports are world nodes' ports of that topic."""
        scope = {n.name: n.scope for n in self.nodes}
        inside = f"/{self.namespace.strip('/')}/"
        for kind, items in (("topics", self.topics), ("services", self.services)):
            for i, item in enumerate(items):
                ends = [item.server] if kind == "services" else item.pub + item.sub
                if item.scope == "vehicle" and not item.name.startswith(inside):
                    raise ValueError(f"{kind}[{i}] ({item.name}): scope vehicle needs a name under {inside} "
                                     f"(it moves to {inside}<vehicle>/...)")
                if item.scope == "vehicle" and all(scope[e.partition('.')[0]] == "world" for e in ends):
                    raise ValueError(f"{kind}[{i}] ({item.name}): scope vehicle needs a port of a vehicle node")
                for end in getattr(item, "world", []):
                    if item.scope != "vehicle" or end not in ends or scope[end.partition(".")[0]] != "world":
                        raise ValueError(f"{kind}[{i}] ({item.name}): world port '{end}' must be a world node's "
                                         f"port of this vehicle topic")

    def port_qos(self, node: str) -> list[str]:
        """`<port>=<profile>` for every topic port of `node`: its `qos.ports` parameter."""
        return sorted({f"{end.partition('.')[2]}={t.qos}" for t in self.topics for end in t.pub + t.sub
                       if end.partition(".")[0] == node})

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def in_namespace(self, namespace: str) -> GraphSpec:
        """This graph under another namespace: the nodes' namespace and every topic and service under the graph's
        own namespace move there (`/qiki/tracks` -> `/<namespace>/tracks`); global names such as `/clock` and
        `/diagnostics` stay. ValueError (one line) for a name that is not a ROS namespace."""
        ns = namespace.strip("/")
        if not NAMESPACE_RE.fullmatch(ns):
            raise ValueError(f"namespace '{namespace}' is not a ROS namespace (letters, digits, _ and /, each part "
                             f"starting with a letter)")
        old = f"/{self.namespace.strip('/')}/"

        def moved(name: str) -> str:
            return f"/{ns}/{name[len(old):]}" if name.startswith(old) else name
        return self.model_copy(update={
            "namespace": ns,
            "topics": [t.model_copy(update={"name": moved(t.name)}) for t in self.topics],
            "services": [s.model_copy(update={"name": moved(s.name)}) for s in self.services]})

    def for_fleet(self, vehicles: list[str]) -> GraphSpec:
        """The graph of a fleet: the world nodes once and each vehicle node per vehicle (`alpha/radar`, in
        /<namespace>/alpha), each vehicle topic and service per vehicle (/qiki/tracks -> /qiki/alpha/tracks;
        a world node's port on it -> `alpha/<port>`), world topics with every vehicle's ports. The identity for
        one unnamed vehicle ([""] or []). ValueError (one line) for a name that cannot be a vehicle's."""
        if list(vehicles) in ([], [""]):
            return self
        nodes = {n.name: n for n in self.nodes}
        for v in vehicles:
            if not VEHICLE_NAME_RE.fullmatch(v or "") or v in nodes or vehicles.count(v) > 1:
                why = ("is a node name" if v in nodes else "is given twice" if vehicles.count(v) > 1
                       else "is not [a-z][a-z0-9_]*")
                raise ValueError(f"vehicle name '{v}' {why} (vehicles: {', '.join(map(str, vehicles))})")
        inside = f"/{self.namespace.strip('/')}/"

        def per_vehicle(end: str, v: str) -> str:
            node, _, port = end.partition(".")
            return f"{v}/{end}" if nodes[node].scope == "vehicle" else f"{node}.{v}/{port}"

        def on_world(ends: list[str]) -> list[str]:
            return [e2 for e in ends for e2 in ([f"{v}/{e}" for v in vehicles]
                                                if nodes[e.partition(".")[0]].scope == "vehicle" else [e])]

        topics: list[TopicSpec] = []
        for t in self.topics:
            if t.scope == "world":
                topics.append(t.model_copy(update={"pub": on_world(t.pub), "sub": on_world(t.sub)}))
                continue
            if t.world:
                topics.append(t.model_copy(update={"scope": "world", "world": [],
                                                   "pub": [e for e in t.pub if e in t.world],
                                                   "sub": [e for e in t.sub if e in t.world]}))
            for v in vehicles:
                topics.append(t.model_copy(update={
                    "name": f"{inside}{v}/{t.name[len(inside):]}", "world": [],
                    "pub": [per_vehicle(e, v) for e in t.pub if e not in t.world],
                    "sub": [per_vehicle(e, v) for e in t.sub if e not in t.world]}))
        services: list[ServiceSpec] = []
        for s in self.services:
            services += [s] if s.scope == "world" else [
                s.model_copy(update={"name": f"{inside}{v}/{s.name[len(inside):]}", "server": per_vehicle(s.server, v)})
                for v in vehicles]
        fleet_nodes = [n for n in self.nodes if n.scope == "world"] + [
            n.model_copy(update={"name": f"{v}/{n.name}"}) for v in vehicles for n in self.nodes if n.scope == "vehicle"]
        return GraphSpec.model_validate({**self.model_dump(), "nodes": [n.model_dump() for n in fleet_nodes],
                                         "topics": [t.model_dump() for t in topics],
                                         "services": [s.model_dump() for s in services], "vehicles": list(vehicles)})

    def node_namespace(self, node: str) -> str:
        """The ROS namespace of `node` (`/qiki`; a fleet's `alpha/radar`: `/qiki/alpha`)."""
        return "/".join(["", self.namespace.strip("/"), *node.split("/")[:-1]])

    def full_name(self, node: str) -> str:
        """The fully qualified ROS name of `node` (`/qiki/radar`, `/qiki/alpha/radar`)."""
        return f"/{self.namespace.strip('/')}/{node}"

    def barrier_name(self, node: str) -> str:
        """How `sync.upstream` / `sync.members` name `node`: relative to the namespace every node shares (as
        today), or absolute in a fleet, whose nodes live in several namespaces (qiki_ros.step_sync)."""
        return self.full_name(node) if self.vehicles else node

    def vehicle_endpoint(self, vehicle: str, endpoint: str) -> str:
        """The template's `<node>.<port>` for one vehicle of this (expanded) graph: `radar.frame_lr` ->
        `alpha/radar.frame_lr`, `sim.vehicle_state` -> `sim.alpha/vehicle_state`, `sim.truth` stays."""
        if not vehicle:
            return endpoint
        node, _, port = endpoint.partition(".")
        ends = {e for t in self.topics for e in t.pub + t.sub} | {s.server for s in self.services}
        for candidate in (f"{vehicle}/{endpoint}", f"{node}.{vehicle}/{port}", endpoint):
            if candidate in ends:
                return candidate
        raise ValueError(f"endpoint '{endpoint}' is not in the graph for vehicle '{vehicle}'")

    def remappings(self, node: str) -> list[tuple[str, str]]:
        """(port, topic) pairs that wire `node`'s ports to the graph's topics and services."""
        out = []
        for t in self.topics:
            out += [(end.partition(".")[2], t.name) for end in t.pub + t.sub if end.partition(".")[0] == node]
        out += [(s.server.partition(".")[2], s.name) for s in self.services if s.server.partition(".")[0] == node]
        return out

    def upstream(self, node: str) -> list[str]:
        """Nodes whose step `node` waits for: the publishers of the data topics it subscribes to."""
        found = []
        for t in self.topics:
            if t.type == SYNC_TYPE or not any(s.partition(".")[0] == node for s in t.sub):
                continue
            found += [p.partition(".")[0] for p in t.pub if p.partition(".")[0] not in found + [node]]
        return sorted(found)

    def topic_of(self, endpoint: str) -> str:
        """Graph topic name wired to `<node>.<port>`."""
        return next(t.name for t in self.topics if endpoint in t.pub + t.sub)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; errors become one line naming the file (and line for syntax errors)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None


def first_error(exc: ValidationError) -> tuple[str, dict]:
    """(dotted location, pydantic's error entry: msg, input, ...) of a validation error's first entry."""
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]), err


def _validate(model: type[BaseModel], data: Any, path: Path, prefix: str = "") -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, err = first_error(exc)
        got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        raise ConfigError(f"{path}: {(prefix + loc) or '(top level)'}: {err['msg']}{got}") from None


def load_graph(path: Path) -> GraphSpec:
    return _validate(GraphSpec, read_yaml(path), path)


def node_key(namespace: str, node: str) -> str:
    """The params-file key of a node: `/**/<node>` matches it in any namespace (rcl wildcard)."""
    return f"/**/{node}"


def params_sections(path: Path, graph: GraphSpec) -> dict[str, dict]:
    """Read a ROS 2 params file's shape: `/**/<node>: ros__parameters: {...}` per known node.

    Returns {node name: ros__parameters mapping}; the values are not checked here (see load_params).
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of node names to 'ros__parameters'")
    by_key = {node_key(graph.namespace, n.name): n for n in graph.nodes}
    out: dict[str, dict] = {}
    for key, section in data.items():
        if key not in by_key:
            raise ConfigError(f"{path}: {key}: unknown node section (expected one of {sorted(by_key)})")
        if not isinstance(section, dict) or set(section) != {"ros__parameters"}:
            raise ConfigError(f"{path}: {key}: expected exactly one key 'ros__parameters'")
        params = section["ros__parameters"] or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{path}: {key}.ros__parameters: expected a mapping")
        out[by_key[key].name] = params
    return out


def load_params(path: Path, graph: GraphSpec) -> dict[str, dict]:
    """Read a ROS 2 params file and check each node's section against the node's parameter model.

    Returns {node name: ros__parameters mapping}. Unknown node sections, unknown keys and wrong
    types are reported as one line naming the file and the key.
    """
    sections = params_sections(path, graph)
    for name, params in sections.items():
        model = graph.node(name).model()
        if model is not None:
            checked = {k: v for k, v in params.items() if k != "use_sim_time"}
            _validate(model, checked, path, prefix=f"{node_key(graph.namespace, name)}.ros__parameters.")
    return sections
