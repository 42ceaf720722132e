"""Run one scenario with either engine and write its run directory: `qiki run` and `qiki campaign` call this.

- "graph": today's ROS 2 graph (one process per node, DDS, the step barrier), watched by an observer.
- "core": the same step classes in one process, in the graph's lockstep order, without DDS or rclpy
  (qiki.core_engine).
Both write config.json, params.yaml and summary.json (qiki.run_summary: the same keys, plus "engine").
Nothing on this module's import path imports rclpy: a campaign runs the core engine in worker processes.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qiki.plan import UsageError, make_plan
from qiki.run_loop import ConfigFlags, RunOptions, configure_for, with_params
from qiki.run_summary import GraphFacts, run_summary

ENGINES = ("graph", "core")


@dataclass(frozen=True)
class RunRequest:
    scenario: str                      # name (config/scenarios/<name>.yaml) or path to a scenario YAML
    out: Path                          # run directory: summary.json, config.json, params.yaml (bag/ with record)
    profile: str | None = None         # default: the scenario's own profile
    engine: str = "core"               # "core" (one process, no DDS, no rclpy) | "graph" (today's ROS graph)
    duration_s: float | None = None    # default: the scenario's duration_s
    overrides: Path | None = None      # a ROS 2 params file layered like `qiki run --overrides FILE`
    sets: tuple[str, ...] = ()         # "node.param=value" entries like `qiki run --set`
    record: bool = False               # write out/bag (rosbag2 MCAP) with the graph's topics
    domain_id: int | None = None       # graph engine only; None: claimed as `qiki run` does
    quiet: bool = True                 # no terminal output (a campaign runs many); the core engine then leaves
                                       # SIGTERM to the caller (a process pool stops its workers with it)
    # `qiki run`'s other flags (ConfigFlags, RunOptions); the core engine is lockstep only
    mode: str | None = None
    rate: float | None = None
    command_lag: int | None = None
    metrics_port: int | None = None    # graph engine only
    standby: bool = True               # graph engine only: warm spare processes
    nodes: tuple[str, ...] | None = None   # graph engine only: start only these, the rest runs on other machines
    run_id: str | None = None          # graph engine only: the run's identity (with nodes: the same on every machine)
    plots: bool = True                 # with record: draw the installed figure writers' plots


class RunFailed(RuntimeError):
    """A graph run whose node died for good or whose recording did not complete (one line; summary.json is
    written)."""


@dataclass(frozen=True)
class RunOutcome:
    summary: dict
    failure: str | None          # one line: why the run failed (a node died, the bag did not complete)
    signal: int | None           # the signal that stopped the run, if any
    plot_note: str               # what became of the plots, for `qiki run`'s report


def run_scenario(request: RunRequest) -> dict:
    """Run one scenario with the chosen engine; returns the summary (also written to out/summary.json).
    Raises the project's one-line errors (UsageError, ConfigError, ScenarioError...) for bad input, and
    RunFailed when a graph's node died or its recording failed."""
    outcome = execute(request)
    if outcome.failure:
        raise RunFailed(outcome.failure)
    return outcome.summary


def execute(request: RunRequest, out_what: str = "--out",
            before_start: Callable[[], None] | None = None) -> RunOutcome:
    """Run `request` and write its run directory. `out_what` names the directory in errors; `before_start`
    is called once the directory exists (`qiki run` rotates older runs there)."""
    if request.engine not in ENGINES:
        raise UsageError(f"engine '{request.engine}' is not one of {', '.join(ENGINES)}")
    if request.engine == "core" and (request.nodes is not None or request.run_id is not None):
        raise UsageError("--nodes and --run-id are for --engine graph (the core engine runs every node in one process)")
    plan = make_plan(run_profile(request.profile, request.scenario), request.scenario, nodes=request.nodes,
                     run_id=request.run_id)
    from qiki_sim.scenario import load_scenario, whole_steps
    scenario = load_scenario(plan.scenario_file)
    duration = scenario.duration_s if request.duration_s is None else request.duration_s
    if whole_steps(duration, scenario.dt_s) is None:
        below = max(1, int(duration / scenario.dt_s))
        raise UsageError(f"--duration {duration:g} s is not a whole number of the scenario's {scenario.dt_s:g} s "
                         f"steps: use e.g. " + " or ".join(f"{n * scenario.dt_s:g}" for n in sorted({below, below + 1})))
    flags = ConfigFlags(mode=request.mode, rate=request.rate, command_lag=request.command_lag,
                        overrides=request.overrides, sets=tuple(request.sets), duration_s=duration)
    config = configure_for(plan, flags, "run")
    clock = next(n.name for n in plan.graph.nodes if not n.use_sim_time)
    hold = config.settings[f"{clock}.clock.hold_at_s"]
    if 0 < hold.value < duration:
        raise UsageError(f"{clock}.clock.hold_at_s = {hold.value:g} s ({hold.source}) is before the run's duration "
                         f"{duration:g} s: the run would never end (leave it to qiki run)")
    if request.engine == "core" and config.settings[f"{clock}.clock.mode"].value != "lockstep":
        raise UsageError("the core engine runs lockstep only (drop --mode realtime / --rate, or use --engine graph)")
    out = Path(request.out)
    writable_dir(out, out_what)
    domain = claimed_domain(request, plan) if request.engine == "graph" else None
    out.mkdir(parents=True, exist_ok=True)
    if before_start is not None:
        before_start()
    (out / "config.json").write_text(json.dumps(config.as_json(), indent=2) + "\n")
    plan = with_params(plan, config, out / "params.yaml")
    bag_dir = out / "bag" if request.record else None
    run = (graph_run(plan, request, duration, out, bag_dir, domain) if request.engine == "graph"
           else core_run(plan, config, request, duration, out, bag_dir))
    summary = run_summary(plan.profile, plan.scenario, [n.name for n in plan.graph.nodes], run.state,
                          engine=request.engine, wall_time_s=run.wall_time_s, ended=run.ended, duration_s=duration,
                          graph=run.facts)
    summary["step_time_s"] = run.step_time_s
    summary["plots"] = []
    summary["config"], summary["params_file"] = "config.json", "params.yaml"
    plot_note = "none (not recorded: 'qiki run --record' writes them, or 'qiki plot' a bag)"
    if request.record:
        summary["bag"] = dict(run.bag, path="bag")
        if not run.failure and request.plots:
            plot_note = draw_plots(out, summary, request.quiet)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return RunOutcome(summary=summary, failure=run.failure, signal=run.signal, plot_note=plot_note)


@dataclass(frozen=True)
class EngineRun:
    """What one engine's run gives the summary."""

    state: object                       # qiki.run_state.GraphState
    wall_time_s: float
    ended: str | None
    signal: int | None
    bag: dict | None
    failure: str | None
    facts: GraphFacts | None            # the graph's own facts (None: core engine)
    step_time_s: dict | None            # the core engine's seconds per step class (None: graph)


def claimed_domain(request: RunRequest, plan) -> int:
    """The domain the graph runs on: the one asked for if no QIKI graph is there (else DomainError), or with
    none asked for, a free one (printed unless quiet)."""
    from qiki.domains import graph_domain
    domain, chosen = graph_domain(request.domain_id, os.environ, plan.graph, "qiki run", nodes=plan.hosted)
    if chosen and not request.quiet:
        print(f"qiki run: ROS_DOMAIN_ID={domain} (the first without a QIKI graph; attach with: "
              f"qiki console --domain-id {domain})", file=sys.stderr)
    return domain


def graph_run(plan, request: RunRequest, duration: float, out: Path, bag_dir: Path | None, domain: int) -> EngineRun:
    """The ROS graph (qiki.run_loop.supervise), watched by its observer."""
    from qiki.run_loop import supervise
    options = RunOptions(domain_id=domain, duration_s=duration, metrics_port=request.metrics_port,
                         standby=request.standby, handle_signals=not request.quiet)
    report = supervise(plan, options, log_dir=out / "logs", bag_dir=bag_dir, show_progress=not request.quiet)
    facts = GraphFacts(domain_id=report["domain_id"], codes=report["codes"], restarts=report["restarts"],
                       e2e_latency=report["e2e_latency"])
    return EngineRun(state=report["observer"], wall_time_s=report["wall_time_s"], ended=report["ended"],
                     signal=report["signal"], bag=report["bag"], failure=failure_line(report), facts=facts,
                     step_time_s=None)


def core_run(plan, config, request: RunRequest, duration: float, out: Path, bag_dir: Path | None) -> EngineRun:
    """The step classes in this process (qiki.core_engine)."""
    from qiki.core_engine import run_core
    result = run_core(plan, config, duration, bag_dir=bag_dir, show_progress=not request.quiet,
                      log_path=out / "logs" / "core.log", handle_sigterm=not request.quiet)
    return EngineRun(state=result.state, wall_time_s=result.wall_time_s, ended=result.ended, signal=result.signal,
                     bag=result.bag, failure=failure_line({"failed": [], "bag": result.bag}), facts=None,
                     step_time_s=result.step_time_s)


def run_profile(profile: str | None, scenario: str | None) -> str | None:
    """The profile to run: the one given, else the scenario's own (None: the graph's default profile)."""
    if profile is not None or scenario is None:
        return profile
    from qiki.plan import config_dir
    from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario
    try:
        return load_scenario(find_scenario(scenario, config_dir() / "scenarios")).profile
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def draw_plots(out: Path, summary: dict, quiet: bool) -> str:
    """Draw the recorded run's figures into `out` (their names into summary["plots"]); what became of them."""
    t0 = time.monotonic()
    try:
        names = make_plots(out / "bag", out)
    except ValueError as exc:           # the writers' one-line errors (PlotInputError, BagError)
        if not quiet:
            print(f"qiki run: warning: no plots: {exc}", file=sys.stderr)
        return f"none ({exc})"
    summary["plots"] = names or []
    return (f"{', '.join(names)} ({time.monotonic() - t0:.1f} s)" if names is not None
            else "none (no figure writer installed: the qiki_tools package draws them)")


def failure_line(report: dict) -> str | None:
    """One line naming the node that died for good, or the recording that did not complete; None if neither."""
    for p in report["failed"]:
        tail = p.last_lines()
        return (f"qiki: error: node '{p.spec.name}' ({p.spec.package}/{p.spec.executable}) exited with code "
                f"{p.popen.returncode}" + (f": {tail}" if tail else ""))
    bag = report.get("bag")
    if bag and bag["state"] != "complete":
        return f"qiki: error: the recording in {bag['path']} did not complete ({bag['state']}): {bag['error']}"
    return None


def writable_dir(path: Path, what: str) -> None:
    """Check that `path` is, or can become, a directory we can write in (UsageError naming it otherwise), without
    leaving anything behind: a run that cannot write its summary must not start."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path}: exists and is not a directory (give a new or existing directory)")
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir():
        raise UsageError(f"{what} {path}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot write in {existing} ({exc.strerror}); "
                         "give a directory you can write to") from None


FIGURES_GROUP = "qiki.run_figures"


def make_plots(bag: Path, out: Path) -> list[str] | None:
    """Figures of a recorded run drawn by the installed figure writers (entry points of group `qiki.run_figures`,
    e.g. qiki_tools' plots: `writer(bag, out) -> file names`, ValueError with one line when the bag cannot be
    drawn); None when no writer is installed."""
    writers = importlib.metadata.entry_points(group=FIGURES_GROUP)
    if not writers:
        return None
    names: list[str] = []
    for ep in sorted(writers, key=lambda e: e.name):
        names += [n for n in ep.load()(bag, out) if n not in names]
    return names
