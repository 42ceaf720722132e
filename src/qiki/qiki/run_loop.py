"""The run loop: start a planned graph, watch it until its sim duration, a signal, a node that dies for good or a
caller's stop condition, restart what its policy allows, stop it and report. Library code shared by
`qiki run`, `qiki bringup` and the tools that start graphs (soak); arguments are typed, argparse stays in
the CLI.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from qiki.layered_config import EffectiveConfig, configure
from qiki.plan import GraphPlan, Watcher, config_dir
from qiki_ros.terminal_progress import TerminalProgress


@dataclass(frozen=True)
class ConfigFlags:
    """The configuration a command line gives (`--mode`, `--rate`, `--command-lag`, `--overrides`, `--set`) and
    the run's duration (`qiki run`: the clock holds there)."""

    mode: str | None = None
    rate: float | None = None
    command_lag: int | None = None
    overrides: Path | None = None
    sets: tuple[str, ...] = ()
    duration_s: float | None = None


@dataclass(frozen=True)
class RunOptions:
    """How to run a graph: its domain (already validated), when to stop, metrics ports, warm spares."""

    domain_id: int
    duration_s: float | None = None     # sim seconds; None: until a signal or the stop condition
    metrics_port: int | None = None     # node i of the graph serves Prometheus on 127.0.0.1:metrics_port + i
    standby: bool = True                # keep the warm spare processes graph.yaml asks for
    handle_signals: bool = True         # SIGINT/SIGTERM stop the run (False: the caller's handlers stay)


class _Stop:
    """SIGINT/SIGTERM set a flag the supervision loop watches; nodes are stopped in order.
    The flag is lock-free (qiki_ros.stop_signal.StopRequest): a signal landing inside the handler cannot hang us.
    `install=False` leaves the caller's handlers (a campaign worker ignores the terminal's SIGINT: its run must
    finish); `restore()` puts them back."""

    def __init__(self, install: bool = True) -> None:
        from qiki_ros.stop_signal import StopRequest
        self.event = StopRequest()
        self.signal = None
        self.previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)} \
            if install else {}

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, _frame) -> None:
        self.signal = signum
        self.event.set()


def configure_for(plan: GraphPlan, flags: ConfigFlags, command: str) -> EffectiveConfig:
    """The layered configuration of `plan` for `command` (run or bringup) from flags and the environment.

    `mode`, `rate` (realtime unless mode says otherwise) and `command_lag` are command-line entries for the
    clock owner's `clock.*` parameters; `qiki run` itself defaults to lockstep and holds the clock at its
    duration (`clock.hold_at_s`), so the graph ends on that step and every watcher can take all of it.
    """
    clock = next(n.name for n in plan.graph.nodes if not n.use_sim_time)
    entries = []
    if flags.mode is not None or flags.rate is not None:
        entries.append((f"{clock}.clock.mode", flags.mode or "realtime", "cli --mode" if flags.mode else "cli --rate"))
    if flags.rate is not None:
        entries.append((f"{clock}.clock.rate_factor", flags.rate, "cli --rate"))
    if flags.command_lag is not None:
        entries.append((f"{clock}.clock.command_lag_steps", flags.command_lag, "cli --command-lag"))
    run_defaults = [(f"{clock}.clock.mode", "lockstep")] if command == "run" else []
    if command == "run" and flags.duration_s is not None:
        run_defaults.append((f"{clock}.clock.hold_at_s", flags.duration_s))
    return configure(plan, os.environ, overrides=flags.overrides, run_defaults=run_defaults,
                     command_line=entries, sets=list(flags.sets))


def with_params(plan: GraphPlan, config: EffectiveConfig, path: Path) -> GraphPlan:
    """`plan` started with the effective params file written to `path` instead of the profile's."""
    path.write_text(config.params_yaml())
    return dataclasses.replace(plan, params_file=path)


def configured_plan(plan: GraphPlan, flags: ConfigFlags, command: str, params_path: Path) -> GraphPlan:
    """`plan` with the layered configuration of `command` (run or bringup), its params file written to
    params_path: what `qiki run` starts, for tools that start graphs (soak)."""
    return with_params(plan, configure_for(plan, flags, command), params_path)


def finish_held(plan: GraphPlan, observer, recorder, duration_s: float, timeout_s: float = 10.0) -> dict:
    """A run that reached its duration holds its clock there (`clock.hold_at_s`): wait until every stepping
    node has announced that last step, then stop the recorder while the graph is still up, so what the recorder
    has not taken yet is still served by the graph's writers (a stopped writer's unread samples are gone)."""
    stepping = [p.partition(".")[0] for t in plan.graph.topics for p in t.pub if p.endswith(".step_done")]
    if not observer.wait_for_step(stepping, round(duration_s * 1e9), timeout_s):
        print(f"qiki: warning: not every node announced the last step within {timeout_s:g} s: stopping anyway",
              file=sys.stderr)
    return recorder.finish()


def topic_catalog(plan: GraphPlan, run_dir: Path) -> Path:
    """The graph file a recorder catalogues its topics from: config/graph.yaml, or for a fleet its topics per
    vehicle, written to run_dir/graph_topics.yaml (qiki_bag.catalog reads the `topics:` list)."""
    if not plan.graph.vehicles:
        return config_dir() / "graph.yaml"
    import yaml
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "graph_topics.yaml"
    path.write_text(yaml.safe_dump({"topics": [{"name": t.name, "type": t.type, "qos": t.qos}
                                               for t in plan.graph.topics]}, sort_keys=False))
    return path


def supervise(plan: GraphPlan, options: RunOptions, log_dir: Path | None, bag_dir: Path | None = None,
              tick=None, show_progress: bool = True) -> dict:
    """Start the graph, watch it until duration / signal / a node dies / tick(supervisor, observer, latency)
    returns True (called on every poll), stop it. Returns a report. `show_progress`: show sim time / duration on
    a terminal when logging to files (a campaign's runs show none)."""
    from qiki.latency_probe import LatencyWatch
    from qiki.observer import GraphObserver
    from qiki.run_state import graph_state
    from qiki.supervisor import GraphSupervisor, graph_env

    env = graph_env(options.domain_id)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE") if k in env})
    stop = _Stop(options.handle_signals)
    recorder = None
    observer = GraphObserver(plan.graph, state=graph_state(plan))
    watchers = [observer.watcher]        # the graph's publishers wait for these before the first step
    if bag_dir is not None:
        from qiki_bag.background import BackgroundRecorder
        try:
            recorder = BackgroundRecorder(bag_dir, options.domain_id, log_path=(log_dir or bag_dir.parent) / "bag.log",
                                          use_sim_time=True, graph_file=topic_catalog(plan, log_dir or bag_dir.parent)
                                          ).start()
        except BaseException:
            observer.close()
            raise
        watchers.append(Watcher(f"/{recorder.node_name}",
                                tuple(t.name for t in plan.graph.topics if recorder.records(t.name))))
    commands = plan.commands(watchers)
    for i, (node, cmd) in enumerate(commands):
        if options.metrics_port:
            cmd += ["-p", f"metrics.port:={options.metrics_port + i}"]
    first = (plan.graph.vehicles or [""])[0]      # a fleet's end-to-end latency: its first vehicle's
    latency = LatencyWatch(plan.graph.topic_of("sim.truth"),
                           plan.graph.topic_of(plan.graph.vehicle_endpoint(first, "agent.cmd")))
    sup = GraphSupervisor(commands, env, log_dir, restart_args=["-p", "sync.join_running:=true"],  # qiki_ros.step_sync
                          standby=options.standby)
    duration = options.duration_s
    t0 = time.monotonic()
    sup.start()
    failed, restarts, ended = [], [], None
    # qiki run (logs to files) shows sim time / duration on a terminal; bringup's console has the node logs
    progress = TerminalProgress("sim", duration or 0.0) if show_progress and log_dir is not None and duration else None
    try:
        with progress or nullcontext():
            while not stop.event.is_set():
                # poll: waking on every message of a fast lockstep run costs the graph CPU
                stop.event.wait(0.02 if duration is not None else 0.1)
                if duration is not None and observer.read(lambda s: s.sim_time_s >= duration):
                    ended = "duration"
                    break
                if progress is not None:
                    sim_s, rtf = observer.read(lambda s: (s.sim_time_s, s.rtf()))
                    progress.update(sim_s, f"x{rtf:.1f}" if rtf else "")
                made, failed = sup.restart_dead()
                sup.keep_standbys()
                for r in made:
                    sim_s = observer.read(lambda s: s.sim_time_s)
                    restarts.append({"node": r.node, "exit_code": r.exit_code, "wall_s": r.wall_s,
                                     "sim_time_s": round(sim_s, 3), "attempt": r.attempt, "standby": r.standby})
                    policy = plan.graph.node(r.node).restart
                    how = "its standby took over" if r.standby else "restarted"
                    print(f"qiki: node '{r.node}' exited with code {r.exit_code}: {how} ({r.attempt} of "
                          f"{policy.max_restarts} within {policy.within_s:g} s)", file=sys.stderr)
                if failed:
                    ended = f"node '{failed[0].spec.name}' exited"
                    break
                if tick is not None and tick(sup, observer, latency):
                    ended = "stop condition"
                    break
    finally:
        bag = None
        if ended == "duration" and recorder is not None:
            bag = finish_held(plan, observer, recorder, duration)
        codes = sup.stop()
        wall = time.monotonic() - t0
        observer.drain()
        observer.close()
        latency.close()
        if recorder is not None and bag is None:
            bag = recorder.finish()         # never raises: summary.json says it
        stop.restore()
    if stop.signal is not None:
        ended = signal.Signals(stop.signal).name
    return {"observer": observer.state, "codes": codes, "failed": failed, "wall_time_s": wall,
            "signal": stop.signal, "ended": ended, "domain_id": options.domain_id, "restarts": restarts,
            "e2e_latency": latency.probe.summary(), "bag": bag}
