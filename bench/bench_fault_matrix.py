"""Fault matrix: one hostile message of each kind into each input topic of a running lockstep graph.

For every (topic, kind) cell it reports whether the graph kept stepping (survived), whether the receiving
node counted the drop (a `dropped_total.*` key of its /diagnostics grew), the worst /diagnostics level the
receiving nodes reported after the injection, and whether the run's truth, tracks and decisions (actuator
commands, agent state transitions) equal a clean run of the same scenario and seed up to the end time.
Lockstep is deterministic, so only counters may differ.

    .venv/bin/python bench/bench_fault_matrix.py                  # every topic x kind, ~1 graph per topic
    .venv/bin/python bench/bench_fault_matrix.py --topics /qiki/cmd --kinds far_future past

tests/integration/test_fault_injection.py runs a representative subset of the same cells (this module's
`run_graph`), several injections into one graph.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import threading
import time
from dataclasses import dataclass, field

STEP_DONE = "/qiki/sync/step_done"
# input topics of the step barrier -> the graph nodes that consume them (graph.yaml, scorer excluded)
KINDS = ("far_future", "past", "off_grid", "nan", "mismatched", "foreign_step_done")
INJECT_AT_S = 3.0          # sim time of the injections (after boot) [s]
END_S = 7.0                # results compared up to this sim time [s]
PATIENT_S = 60.0           # wall-clock timeouts of the barrier and the sim's member watch in these runs [s]
MARK = "qiki_fault_injector"   # frame_id of the hostile messages: not counted as the graph's outputs
LEAD_S = 2.5               # near-future stamp of the NaN/mismatched message: within the horizon, before END_S,
                           # and far enough ahead that the graph (~150 steps a wall second) has not passed it yet


@dataclass
class Cell:
    topic: str
    kind: str
    nodes: list[str]                      # consumers whose /diagnostics should leave OK
    counted: bool = False
    level: int = 0
    why: str = ""                         # message of the worst /diagnostics report of its consumers
    injected: bool = True                 # False: the kind does not apply to the topic's message type


@dataclass
class RunResult:
    stepped_to_s: float
    outputs: dict[str, list]               # topic -> [(stamp ns, canonical values)] up to END_S
    cells: list[Cell] = field(default_factory=list)
    error: str = ""


def _values(x):
    """A message's fields (its header aside) as plain Python values, flat arrays as bytes, for comparing runs."""
    if hasattr(x, "get_fields_and_field_types"):
        return tuple((f, _values(getattr(x, f))) for f in x.get_fields_and_field_types() if f != "header")
    if isinstance(x, (list, tuple)):
        return tuple(_values(v) for v in x)
    if hasattr(x, "tobytes"):
        return x.tobytes()
    return x


def hostile(msg, kind: str, stamp_ns: int):
    """A copy of `msg` made hostile in the way `kind` says (stamped stamp_ns), or None if it cannot be."""
    import numpy as np

    from qiki_ros.packing import pack
    out = copy.deepcopy(msg)
    out.header.stamp.sec, out.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    out.header.frame_id = MARK
    name = type(msg).__name__
    if kind == "nan":
        if name == "VehicleState":
            out.pose.position.x = math.nan
        elif name == "ActuatorCommand":
            out.linear_x_mps = math.inf
        elif name == "WorldTruth":
            out.position = pack(np.full(max(3, len(out.position)), np.nan))
        elif name == "RadarFrame":
            out.sensor_pose.position.x = math.nan
            out.range_std_m = math.nan
        elif name == "TrackArray":
            out.state = pack(np.full(len(out.state), np.nan)) if len(out.state) else out.state
        elif name == "DeviceHealth":
            out.value = pack(np.full(len(out.value), np.nan))
    elif kind == "mismatched":
        if name == "WorldTruth":
            out.position = pack(np.zeros(len(out.position) + 1))
        elif name == "RadarFrame":
            out.range_m = pack(np.zeros(len(out.range_m) + 1))
        elif name == "TrackArray":
            out.id = pack(np.arange(len(out.id) + 1), np.uint32)
        elif name == "DeviceHealth":
            out.level = pack(np.zeros(len(out.level) + 1), np.uint8)
        else:
            return None
    return out


class Injector:
    """A participant outside the graph: records its outputs (the graph's QoS) and publishes
    hostile messages with the graph's QoS."""

    def __init__(self, graph, domain_id: int):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock

        from qiki_bag.recorder import import_message
        from qiki_ros import qos
        from qiki_ros.graph_node import GraphNode
        from qiki_ros.spin_thread import SpinThread, private_context

        self.graph = graph
        self.node = GraphNode("qiki_fault_injector", context=private_context(domain_id))
        self.cond = threading.Condition()
        self.sim_s = 0.0
        self.latest: dict[str, object] = {}           # topic -> latest message (template of the hostile one)
        self.outputs: dict[str, list] = {}
        self.diag: dict[str, list[tuple[float, int, dict, str]]] = {}   # node -> [(wall, level, values, message)]
        stream = qos.STREAM
        self.types = {t.name: import_message(t.type) for t in graph.topics}
        spec = {t.name: t for t in graph.topics}
        self.node.create_subscription(Clock, "/clock", self._on_clock,
                                      QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, stream)
        self.compared, self.inputs = self.topics(graph)
        for name in sorted(set(self.compared) | set(self.inputs)):
            self.node.create_subscription(self.types[name], name, self._on_msg(name), qos.BY_NAME[spec[name].qos])
        self.pubs = {name: self.node.create_publisher(self.types[name], name, qos.BY_NAME[spec[name].qos])
                     for name in self.inputs + [STEP_DONE]}
        self._spin = SpinThread(self.node, "qiki-fault-injector")

    @staticmethod
    def topics(graph) -> tuple[list[str], list[str]]:
        """(compared outputs, hostile inputs): the topics the injector subscribes besides /diagnostics."""
        inputs = sorted({t.name for t in graph.topics if t.type.startswith("qiki_msgs") and
                         any(not s.startswith("scorer.") for s in t.sub) and t.name != STEP_DONE})
        return ["/qiki/sim/truth", "/qiki/tracks", "/qiki/cmd", "/qiki/agent/status"], inputs

    def _on_clock(self, msg) -> None:
        with self.cond:
            self.sim_s = msg.clock.sec + msg.clock.nanosec * 1e-9
            self.cond.notify_all()

    def _on_msg(self, topic: str):
        def on(msg) -> None:
            t = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if msg.header.frame_id == MARK:
                return
            with self.cond:
                self.latest[topic] = msg
                if topic in self.compared and t <= END_S * 1e9 + 1:
                    self.outputs.setdefault(topic, []).append((t, _values(msg)))
        return on

    def _on_diag(self, msg) -> None:
        now = time.monotonic()
        with self.cond:
            for st in msg.status:
                self.diag.setdefault(st.name.removeprefix("qiki/"), []).append(
                    (now, st.level[0], {kv.key: kv.value for kv in st.values}, st.message))
            self.cond.notify_all()

    def wait(self, predicate, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return True

    def inject(self, topic: str, kind: str, step_ns: int) -> bool:
        """Publish one hostile message of `kind` on `topic`, stamped relative to the current sim time."""
        from qiki_msgs.msg import StepDone
        with self.cond:
            now_ns = round(self.sim_s * 1e9 / step_ns) * step_ns
            template = self.latest.get(topic)
        if kind == "foreign_step_done":
            producer = {"/qiki/cmd": "/qiki/agent", "/qiki/sim/vehicle_state": "/qiki/sim",
                        "/qiki/sim/truth": "/qiki/sim", "/qiki/sim/device_health": "/qiki/sim",
                        "/qiki/radar/lr/frame": "/qiki/radar", "/qiki/radar/sr/frame": "/qiki/radar",
                        "/qiki/radar/frame": "/qiki/radar", "/qiki/tracks": "/qiki/tracker"}[topic]
            msg = StepDone(node=producer, topics=[topic], counts=[0], incarnation=1, run_id="run-intruder")
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now_ns + 10**6 * 10**9, 1_000_000_000)
            self.pubs[STEP_DONE].publish(msg)
            return True
        if template is None:
            return False
        stamp = {"far_future": now_ns + 10**6 * 10**9, "past": max(0, now_ns - 20 * step_ns),
                 "off_grid": now_ns + step_ns + step_ns // 2}.get(kind, now_ns + round(LEAD_S * 1e9 / step_ns) * step_ns)
        msg = hostile(template, kind, stamp)
        if msg is None:
            return False
        self.pubs[topic].publish(msg)
        return True

    def drops(self, node: str) -> dict[str, int]:
        """The node's drop counters in its latest /diagnostics."""
        with self.cond:
            reports = self.diag.get(node, [])
            values = reports[-1][2] if reports else {}
        return {k: int(v) for k, v in values.items() if k.startswith("dropped_total.")}

    def worst_since(self, node: str, wall: float) -> tuple[int, str]:
        """(level, message) of the node's worst /diagnostics report since wall time `wall`."""
        with self.cond:
            return max(((lvl, msg) for t, lvl, _, msg in self.diag.get(node, []) if t >= wall), default=(0, ""))

    def close(self) -> None:
        self._spin.close()


def consumers(graph, topic: str) -> list[str]:
    """The stepped nodes reading `topic` (the scorer is outside the step barrier)."""
    return sorted({s.partition(".")[0] for t in graph.topics if t.name == topic for s in t.sub} - {"scorer"})


def counter(topic: str, kind: str) -> str:
    """The /diagnostics drop counter a consumer raises for one hostile message of `kind` on `topic`. NaN and
    mismatched messages are stamped on a step to come, whose real message follows: the barrier keeps the
    count its producer announced, the latest, and drops the injected one as surplus."""
    if kind == "foreign_step_done":
        return f"dropped_total.step_rejected_foreign.{STEP_DONE}"
    reason = {"far_future": "future", "past": "past", "off_grid": "off_grid"}.get(kind, "surplus")
    return f"dropped_total.step_rejected_{reason}.{topic}"


def run_graph(domain_id: int, injections: list[tuple[str, str]], profile: str = "bot",
              log_dir=None, timeout_s: float = 150.0) -> RunResult:
    """Run the profile's default scenario in lockstep up to END_S (and a little past), injecting each
    (topic, kind) at INJECT_AT_S; returns what it published up to END_S and, per injection, whether it was
    counted and the worst /diagnostics level of its consumers afterwards."""
    from qiki.plan import Watcher, make_plan
    from qiki_tools.replay import DETERMINISM_ENV
    from qiki.supervisor import GraphSupervisor, graph_env

    from qiki.graph import load_graph
    from qiki.plan import config_dir
    compared, inputs = Injector.topics(load_graph(config_dir() / "graph.yaml"))
    plan = make_plan(profile)
    step_ns = round(1e9 * __import__("qiki_sim.scenario", fromlist=["load_scenario"])
                    .load_scenario(plan.scenario_file).dt_s)
    # wall-clock timeouts far above any stall of a loaded machine: the sim never steps without a slow member
    # (that changes the run, and this compares runs), so lockstep stays deterministic
    patient = [f"sync.producer_timeout_s:={PATIENT_S}"]
    sim = ["clock.mode:=lockstep", f"clock.member_timeout_s:={PATIENT_S}", f"clock.agent_timeout_s:={PATIENT_S}"]
    env = graph_env(domain_id)
    env.update(DETERMINISM_ENV)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    injector = Injector(plan.graph, domain_id)
    # the graph's publishers wait for the injector's subscriptions: it compares from the first step on
    watcher = Watcher(injector.node.get_fully_qualified_name(), tuple(sorted(set(compared) | set(inputs))) + ("/diagnostics",))
    commands = [(n, cmd + [a for p in patient + (sim if n.name == "sim" else []) for a in ("-p", p)])
                for n, cmd in plan.commands([watcher])]
    cells = [Cell(topic, kind, consumers(plan.graph, topic)) for topic, kind in injections]
    result = RunResult(0.0, {}, cells)
    try:
        with GraphSupervisor(commands, env, log_dir=log_dir):
            if not injector.wait(lambda: injector.sim_s >= INJECT_AT_S and
                                 all(t in injector.latest for t, _ in injections), timeout_s):
                result.error = f"the graph did not reach t={INJECT_AT_S} s"
                return result
            before = {n: injector.drops(n) for n in {n for c in cells for n in c.nodes}}
            wall = time.monotonic()
            for cell in cells:
                cell.injected = injector.inject(cell.topic, cell.kind, step_ns)
            # the graph must step on past END_S; then every consumer has reported at least twice since
            stepped = injector.wait(lambda: injector.sim_s >= END_S + 1.0, timeout_s)
            result.stepped_to_s = injector.sim_s
            if not stepped:
                result.error = f"the graph stopped stepping at t={injector.sim_s:.2f} s"
            reported = lambda: all(sum(t > wall + 2.0 for t, *_ in injector.diag.get(n, [])) >= 1
                                   for c in cells for n in c.nodes)
            injector.wait(reported, 30.0)
            for cell in cells:
                after = {n: injector.drops(n) for n in cell.nodes}
                key = counter(cell.topic, cell.kind)
                cell.counted = any(after[n].get(key, 0) > before[n].get(key, 0) for n in cell.nodes)
                cell.level, cell.why = max(injector.worst_since(n, wall) for n in cell.nodes)
            # every compared output up to END_S has reached us (the injector is a late joiner too: its
            # subscriptions may match after the graph ran past END_S; the history then arrives on match)
            injector.wait(lambda: all(any(t >= (END_S - 1.1) * 1e9 for t, _ in injector.outputs.get(topic, ()))
                                      for topic in injector.compared), timeout_s)
    finally:
        injector.close()
    with injector.cond:
        result.outputs = {t: sorted(v) for t, v in injector.outputs.items()}
    return result


def main() -> int:
    from qiki.plan import make_plan
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="bot")
    parser.add_argument("--topics", nargs="*")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "77")))
    args = parser.parse_args()
    graph = make_plan(args.profile).graph
    topics = args.topics or sorted({t.name for t in graph.topics if t.type.startswith("qiki_msgs") and
                                    any(not s.startswith("scorer.") for s in t.sub) and t.name != STEP_DONE})
    print(f"# fault matrix: {args.profile}, lockstep, injected at t={INJECT_AT_S} s, compared up to t={END_S} s")
    clean = run_graph(args.domain_id, [], args.profile)
    if clean.error:
        print(f"clean run failed: {clean.error}")
        return 1
    rows = []
    for topic in topics:
        kinds = list(args.kinds)
        t0 = time.monotonic()
        run = run_graph(args.domain_id, [(topic, k) for k in kinds], args.profile)
        same = run.outputs == clean.outputs and not run.error
        for cell in run.cells:
            rows.append((topic, cell, run, same))
        print(f"# {topic}: {time.monotonic() - t0:.0f} s wall, stepped to t={run.stepped_to_s:.1f} s, "
              f"outputs {'equal' if same else 'DIFFER'} {run.error}", flush=True)
    print("\n| topic | kind | survived | counted (counter) | diagnostics level (consumers) | outputs = clean run |")
    print("|---|---|---|---|---|---|")
    worst = {}
    names = {0: "OK", 1: "WARN", 2: "ERROR"}
    for topic, cell, run, same in rows:
        if not cell.injected:
            print(f"| {topic} | {cell.kind} | n/a (no such field) | | | |")
            continue
        print(f"| {topic} | {cell.kind} | {'yes' if not run.error else 'NO'} | {'yes' if cell.counted else 'NO'} "
              f"({counter(topic, cell.kind).removeprefix('dropped_total.step_rejected_').partition('.')[0]}) "
              f"| {names.get(cell.level, cell.level)} ({', '.join(cell.nodes)}) | {'yes' if same else 'NO'} |")
        worst.setdefault(topic, cell.why)
    print("\nworst /diagnostics message of the consumers after the injections, per graph run:")
    for topic, why in worst.items():
        print(f"- {topic}: {why[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
