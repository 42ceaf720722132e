"""The core engine: the graph's step classes (qiki_sim.sim_step, qiki_radar.radar_step / tracker_step /
scorer_step, qiki_agent.agent_step) in one process, in the order the lockstep graph's step barrier enforces,
with no DDS and no rclpy.

Each step n: the sim's outputs of n -> radar(n) -> tracker(n) -> agent(n) (its command applies from step
n + clock.command_lag_steps, as in the sim node) -> scorer (the step's messages in the order they were sent);
then the sim steps to n + 1. A fleet (the plan's graph expanded per vehicle) runs every vehicle's stack in
vehicle order: the stacks read only the sim's outputs of step n, never each other's. Messages go from each output port to the ports config/graph.yaml subscribes to
the same topic, as the same message objects a DDS round trip would rebuild (every float is a float64).
The run stops after step round(duration / dt): exactly at the duration.
"""
from __future__ import annotations

import signal as signals
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from qiki.layered_config import EffectiveConfig
from qiki.plan import GraphPlan
from qiki.run_state import GraphState, graph_state, observe, routes
from qiki_ros.params import nest, validate_model
from qiki_ros.step_ports import WARN, LogThrottle

BARRIER_ORDER = ("radar", "tracker", "agent")     # after the sim, in the order of the graph's upstream chain
STEP_CLASSES = {"sim": "qiki_sim.sim_step:SimStep", "radar": "qiki_radar.radar_step:RadarStep",
                "tracker": "qiki_radar.tracker_step:TrackerStep", "agent": "qiki_agent.agent_step:AgentStep",
                "scorer": "qiki_radar.scorer_step:ScorerStep"}   # graph.yaml node -> its step class
LOG_LINES = 1000                                  # kept per run (throttled per key: at most one a wall second)


@dataclass
class CoreResult:
    state: GraphState
    wall_time_s: float
    ended: str | None
    signal: int | None
    bag: dict | None
    step_time_s: dict[str, float]                  # node -> cumulative seconds in its step class
    counters: dict[str, dict[str, int]]            # node -> input counter -> total
    log: list[str] = field(default_factory=list)


class EnginePorts:
    """StepPorts of one node in the core engine: messages go to the engine's router, counters stay here."""

    def __init__(self, engine: CoreEngine, node: str):
        self.engine, self.node = engine, node
        self.counters: Counter = Counter()
        self.throttle = LogThrottle()

    def publish(self, port: str, msg) -> None:
        self.engine.route(self.node, port, msg)

    def has_readers(self, port: str) -> bool:
        return self.engine.has_readers(self.node, port)

    def count_input(self, counter: str, text: str, n: int = 1) -> None:
        self.counters[counter] += n
        self.log(WARN, f"{text} ({self.counters[counter]} {counter} so far)", throttle_key=counter)

    def count(self, counter: str) -> int:
        return self.counters[counter]

    def log(self, level: int, text: str, throttle_key: str | None = None) -> None:
        if self.throttle.allows(throttle_key):
            self.engine.log.append(f"[{'WARN' if level >= WARN else 'INFO'}] [{self.node}] {text}")


def node_config(plan: GraphPlan, config: EffectiveConfig, node: str):
    """The node's validated parameter model, from the same settings the graph's params file carries plus
    the launcher's `files` and `vehicle` parameters (as the node's declare_model would build it). A fleet's
    `alpha/radar` takes the settings of graph.yaml's `radar` (one params file) and its own vehicle's."""
    spec = plan.graph.node(node)
    flat = {s.param: s.value for s in config.settings.values()
            if s.node == spec.ros_name and s.param != "use_sim_time"}
    launcher = set(spec.files) | set(spec.vehicle)
    flat.update({k: v for k, v in plan.node_overrides[node].items() if k in launcher})
    return validate_model(spec.model(), nest(flat), f"node '{node}' parameter")


class CoreEngine:
    """The step classes of one plan, wired by config/graph.yaml's topic table."""

    def __init__(self, plan: GraphPlan, config: EffectiveConfig, recorder=None):
        import importlib

        graph = plan.graph
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.state = graph_state(plan)
        self.recorder = recorder
        self.topic_of = {p: t.name for t in graph.topics for p in t.pub}     # "node.port" -> topic
        self.subscribers: dict[str, list[tuple[str, str]]] = defaultdict(list)   # topic -> [(node, port)]
        for t in graph.topics:
            for s in t.sub:
                node, _, port = s.partition(".")
                self.subscribers[t.name].append((node, port))
        self.updates = {topic: update for _, topic, update in routes(graph)}
        # the barrier's nodes in stepping order: each vehicle's radar, tracker, agent (one unnamed vehicle: as named)
        self.order = [f"{v}/{b}" if v else b for v in graph.vehicles or [""] for b in BARRIER_ORDER]
        self.inbox: dict[str, dict[str, list]] = {n: defaultdict(list) for n in self.order + ["sim"]}
        self.scorer_queue: list[tuple[str, str, object]] = []
        self.ports = {n.name: EnginePorts(self, n.name) for n in graph.nodes}
        self.steps = {}
        for n in graph.nodes:
            module, _, cls = STEP_CLASSES[n.ros_name].partition(":")
            self.steps[n.name] = getattr(importlib.import_module(module), cls)(node_config(plan, config, n.name),
                                                                             self.ports[n.name])
        self.sim = self.steps["sim"]
        self.scorer_inputs = {n.name: {"vehicle_state": s.on_ego, "truth": s.on_truth, "frame_lr": s.on_frame,
                                       "frame_sr": s.on_frame, "tracks": s.on_tracks}     # its subscriptions
                              for n in graph.nodes if n.ros_name == "scorer" for s in [self.steps[n.name]]}
        self.time_s: Counter = Counter()      # step class (and "route") -> cumulative seconds
        self._routed = 0.0                    # seconds spent routing so far

    def has_readers(self, node: str, port: str) -> bool:
        topic = self.topic_of[f"{node}.{port}"]
        return bool(self.subscribers[topic]) or topic in self.updates or (
            self.recorder is not None and self.recorder.records(topic))

    def route(self, node: str, port: str, msg) -> None:
        """A message sent on node.port: to the subscribed ports, the run's state and the recording."""
        t0 = time.perf_counter()
        topic = self.topic_of[f"{node}.{port}"]
        for sub_node, sub_port in self.subscribers[topic]:
            if sub_node in self.scorer_inputs:
                self.scorer_queue.append((sub_node, sub_port, msg))
            else:
                self.inbox[sub_node][sub_port].append(msg)
        update = self.updates.get(topic)
        if update is not None:
            observe(self.state, update, msg, time.monotonic())
        if self.recorder is not None:
            self.recorder.write(topic, msg)
        spent = time.perf_counter() - t0
        self.time_s["route"] += spent
        self._routed += spent

    def _timed(self, name: str, fn, *args):
        """fn(*args), its time counted for `name` (less the routing of what it sent, counted as route)."""
        t0, routed = time.perf_counter(), self._routed
        result = fn(*args)
        self.time_s[name] += time.perf_counter() - t0 - (self._routed - routed)
        return result

    def run_step(self, t_ns: int) -> None:
        """Everything the graph does for sim step t_ns once the sim has published it."""
        for name in self.order:
            inputs, self.inbox[name] = self.inbox[name], defaultdict(list)
            self._timed(name.rpartition("/")[2], self.steps[name].step, t_ns, inputs)
        commands, self.inbox["sim"] = self.inbox["sim"], defaultdict(list)
        self._timed("sim", self.sim.on_agents_step, t_ns, commands)   # by port: `cmd` or a fleet's `<vehicle>/cmd`
        queue, self.scorer_queue = self.scorer_queue, []
        self._timed("scorer", self._score, queue)

    def _score(self, queue: list) -> None:
        """The scorers take the step's messages in the order they were sent (outside the barrier, on arrival)."""
        for node, port, msg in queue:
            self.scorer_inputs[node][port](msg)

    def run(self, duration_s: float, progress=None, stop=None) -> str:
        """Step until the step at the duration (a whole number of sim steps) is done, or `stop` (a
        qiki_ros.stop_signal.StopRequest) is set between two steps; what ended the run."""
        end_ns = round(duration_s * 1e9)
        t_ns = self._timed("sim", self.sim.publish_step)
        next_progress = 0.0
        while True:
            self.run_step(t_ns)
            if t_ns >= end_ns:
                return "duration"
            if stop is not None and stop.is_set():
                return "signal"
            if not self.sim.next_step_allowed():     # cannot happen with command_lag_steps >= 1
                raise RuntimeError(f"lockstep order broken at t={t_ns * 1e-9:.3f} s")
            t_ns = self._timed("sim", self.sim.step)
            if progress is not None and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + 0.25
                rtf = self.state.rtf()
                progress.update(self.state.sim_time_s, f"x{rtf:.1f}" if rtf else "")


def run_core(plan: GraphPlan, config: EffectiveConfig, duration_s: float, bag_dir: Path | None = None,
             show_progress: bool = True, log_path: Path | None = None, handle_sigterm: bool = True) -> CoreResult:
    """Run `plan` with the core engine for duration_s of sim time (recording into bag_dir if given).
    With handle_sigterm (in the main thread only) SIGINT and SIGTERM are stop requests the run checks between two
    steps: it ends there, `ended` names the signal, the bag is closed. Without it the caller's handlers stay (a
    process pool stops its worker with SIGTERM; a KeyboardInterrupt still ends the run and closes the bag)."""
    from contextlib import nullcontext

    from qiki_ros.stop_signal import stop_on_signals
    from qiki_ros.terminal_progress import TerminalProgress

    wall0 = time.monotonic()
    recorder = None
    if bag_dir is not None:
        from qiki.core_recording import CoreRecorder
        recorder = CoreRecorder(bag_dir, plan.graph)
    engine = CoreEngine(plan, config, recorder)
    ended, signal = None, None
    progress = TerminalProgress("sim", duration_s) if show_progress else None
    main = handle_sigterm and threading.current_thread() is threading.main_thread()
    with stop_on_signals() if main else nullcontext(None) as stop:
        try:
            with progress or nullcontext():
                ended = engine.run(duration_s, progress, stop)
        except KeyboardInterrupt:
            ended, signal = "SIGINT", int(signals.SIGINT)
        finally:
            bag = recorder.finish() if recorder is not None else None
    if stop is not None and stop.signal is not None:
        ended, signal = signals.Signals(stop.signal).name, int(stop.signal)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(line + "\n" for line in engine.log))
    return CoreResult(state=engine.state, wall_time_s=time.monotonic() - wall0, ended=ended, signal=signal, bag=bag,
                      step_time_s={k: round(v, 3) for k, v in sorted(engine.time_s.items())},
                      counters={n: dict(p.counters) for n, p in engine.ports.items() if p.counters},
                      log=list(engine.log))
