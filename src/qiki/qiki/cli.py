"""`qiki`: start the QIKI graph (`bringup`), run a headless job and summarise it (`run`), watch and steer a
running graph (`console`), show the layered configuration (`config show`).

Errors in arguments or configuration print one line and exit with code 2; a node that dies prints
one line naming it and exits with code 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

from qiki.domains import DomainError, graph_domain, requested_domain
from qiki.graph import ConfigError
from qiki.layered_config import OVERRIDES_ENV, EffectiveConfig, configure
from qiki.output_rotation import DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, describe, rotate
from qiki.plan import GraphPlan, UsageError, Watcher, make_plan
from qiki.plots import PlotInputError
from qiki_ros.terminal_progress import TerminalProgress


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive finite number")
    return value


def _whole(unit: str):
    """argparse type: a whole number >= 1 of `unit`."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of {unit} >= 1")
        return int(text)
    return parse


def _port(text: str) -> int:
    if not text.isdigit() or not 1024 <= int(text) <= 65000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number in 1024..65000")
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="qiki", description="QIKI digital twin: ROS 2 graph of sim, radar, tracker and agent.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def config_args(sp: argparse.ArgumentParser, mode_default: str) -> None:
        sp.add_argument("--profile", help="vehicle profile (default: the graph's default_profile)")
        sp.add_argument("--scenario", help="scenario name in config/scenarios/ or a YAML path")
        sp.add_argument("--mode", choices=("realtime", "lockstep"),
                        help="clock mode: realtime (at --rate) or lockstep (as fast as the slowest node); "
                             f"default: {mode_default}")
        sp.add_argument("--rate", type=_positive, metavar="R", help="realtime mode: sim seconds per wall second")
        sp.add_argument("--command-lag", type=_whole("steps"), metavar="N",
                        help="actuation latency in sim steps (clock.command_lag_steps; default: the params file): "
                             "in lockstep the sim may run N steps ahead of the agent")
        sp.add_argument("--overrides", type=Path, metavar="FILE",
                        help=f"runtime overrides, a ROS 2 params file (default: ${OVERRIDES_ENV} if set)")
        sp.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="set one parameter (repeatable; value read as YAML), e.g. tracker.tracker.confirm_m=3")

    def graph_args(sp: argparse.ArgumentParser) -> None:
        config_args(sp, "lockstep" if sp.prog.endswith("run") else "from the configuration")
        sp.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds of sim time")
        sp.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID, 0..232 (default: $ROS_DOMAIN_ID, else the "
                                                        "first domain from 0 up without a QIKI graph)")
        sp.add_argument("--metrics-port", type=_port, metavar="BASE",
                        help="serve Prometheus metrics on 127.0.0.1: node i of config/graph.yaml on port BASE+i "
                             "(default: off)")
        sp.add_argument("--no-standby", action="store_true",
                        help="keep no warm spare processes (graph.yaml restart.standby): a node that dies is then "
                             "restarted from scratch, which takes seconds instead of ~0.1 s")

    b = sub.add_parser("bringup", help="start the graph with logs on the console until Ctrl-C (or --duration)")
    graph_args(b)
    r = sub.add_parser("run", help="run a scenario headless and write DIR/summary.json")
    graph_args(r)
    r.add_argument("--out", type=Path, help="run directory (default: runs/<time>-<profile>)")
    r.add_argument("--record", action="store_true", help="record the graph's topics into DIR/bag (rosbag2, MCAP)")
    r.add_argument("--keep-runs", type=_whole("runs"), metavar="N",
                   help=f"keep at most N finished run directories in runs/ (or --out's parent), this one included, "
                        f"removing the oldest (default {DEFAULT_MAX_COUNT}; with --out only when a cap is given)")
    r.add_argument("--max-output-mb", type=_positive, metavar="M",
                   help=f"keep the finished run directories under M MiB in total, removing the oldest "
                        f"(default {DEFAULT_MAX_BYTES // 1024 ** 2})")
    from qiki_bag.commands import add_bag_parser
    add_bag_parser(sub)
    pl = sub.add_parser("plot", help="PNG figures of a recorded run: radar scope, FSM timeline, GOSPA")
    pl.add_argument("input", type=Path, metavar="RUN_DIR_OR_BAG",
                    help="run directory of 'qiki run --record' (with bag/) or a bag directory")
    pl.add_argument("--out", type=Path, metavar="DIR",
                    help="output directory (default: the run directory; for a bag, BAG-plots next to it)")
    c = sub.add_parser("console", help="terminal console on a running graph: FSM, BIOS, tracks, events, "
                                       "operator commands (keys s, r, m, a)")
    c.add_argument("--profile", help="vehicle profile of the graph (default: the graph's default_profile)")
    c.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID of the graph (default: $ROS_DOMAIN_ID or 0)")
    c.add_argument("--wait", type=_positive, default=3.0, metavar="S",
                   help="say that no graph is reachable after S seconds without agent status (default 3)")
    cf = sub.add_parser("config", help="the layered configuration: defaults < profile < overrides < env < cli")
    cfs = cf.add_subparsers(dest="config_command", required=True, metavar="show", parser_class=_Parser)
    show = cfs.add_parser("show", help="print every node parameter's effective value and where it came from")
    config_args(show, "lockstep for --for run, else from the configuration")
    show.add_argument("--for", dest="for_command", choices=("run", "bringup"), default="run",
                      help="the command whose configuration to show (default: run, which defaults to lockstep)")
    show.add_argument("--json", action="store_true", help="machine-readable: facts and {parameter: {value, source}}")
    g = sub.add_parser("graph", help="print the graph's topics and services as a Markdown table")
    g.add_argument("--profile", help=argparse.SUPPRESS)
    return p


class _Stop:
    """SIGINT/SIGTERM set a flag the supervision loop watches; nodes are stopped in order.
    The flag is lock-free (qiki_ros.stop_signal.StopRequest): a signal landing inside the handler cannot hang us."""

    def __init__(self) -> None:
        from qiki_ros.stop_signal import StopRequest
        self.event = StopRequest()
        self.signal = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, _frame) -> None:
        self.signal = signum
        self.event.set()


def _domain(args) -> int:
    """The validated domain of the command (--domain-id, else $ROS_DOMAIN_ID, else 0)."""
    asked = requested_domain(args.domain_id, os.environ)
    return 0 if asked is None else asked


def claim_domain(plan: GraphPlan, args, prog: str) -> int:
    """Set args.domain_id to the domain the new graph runs on: the one asked for if no QIKI graph is there
    (else DomainError), or with none asked for, a free one, printed with the command that attaches to it."""
    domain, chosen = graph_domain(args.domain_id, os.environ, plan.graph, prog)
    if chosen:
        print(f"{prog}: ROS_DOMAIN_ID={domain} (the first without a QIKI graph; attach with: "
              f"qiki console --domain-id {domain})", file=sys.stderr)
    args.domain_id = domain
    return domain


def supervise(plan: GraphPlan, args, log_dir: Path | None, bag_dir: Path | None = None, tick=None) -> dict:
    """Start the graph, watch it until duration / signal / a node dies / tick(supervisor, observer, latency)
    returns True (called on every poll), stop it. Returns a report."""
    from qiki.latency_probe import LatencyWatch
    from qiki.observer import GraphObserver
    from qiki.supervisor import GraphSupervisor, graph_env

    env = graph_env(_domain(args))
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE") if k in env})
    stop = _Stop()
    recorder = None
    observer = GraphObserver(plan.graph)
    watchers = [observer.watcher]        # the graph's publishers wait for these before the first step
    if bag_dir is not None:
        from qiki_bag.background import BackgroundRecorder
        try:
            recorder = BackgroundRecorder(bag_dir, _domain(args), log_path=(log_dir or bag_dir.parent) / "bag.log",
                                          use_sim_time=True).start()
        except BaseException:
            observer.close()
            raise
        watchers.append(Watcher(f"/{recorder.node_name}",
                                tuple(t.name for t in plan.graph.topics if recorder.records(t.name))))
    commands = plan.commands(watchers)
    for i, (node, cmd) in enumerate(commands):
        if args.metrics_port:
            cmd += ["-p", f"metrics.port:={args.metrics_port + i}"]
    latency = LatencyWatch(plan.graph.topic_of("sim.truth"), plan.graph.topic_of("agent.cmd"))
    sup = GraphSupervisor(commands, env, log_dir, restart_args=["-p", "sync.join_running:=true"],  # qiki_ros.step_sync
                          standby=not args.no_standby)
    t0 = time.monotonic()
    sup.start()
    failed, restarts, ended = [], [], None
    # qiki run (logs to files) shows sim time / duration on a terminal; bringup's console has the node logs
    progress = TerminalProgress("sim", args.duration or 0.0) if log_dir is not None and args.duration else None
    try:
        with progress or nullcontext():
            while not stop.event.is_set():
                # poll: waking on every message of a fast lockstep run costs the graph CPU
                stop.event.wait(0.02 if args.duration is not None else 0.1)
                if args.duration is not None and observer.read(lambda s: s.sim_time_s >= args.duration):
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
        codes = sup.stop()
        wall = time.monotonic() - t0
        observer.drain()
        observer.close()
        latency.close()
        bag = recorder.finish() if recorder is not None else None   # never raises: summary.json says it
    if stop.signal is not None:
        ended = signal.Signals(stop.signal).name
    return {"observer": observer.state, "codes": codes, "failed": failed, "wall_time_s": wall,
            "signal": stop.signal, "ended": ended, "domain_id": _domain(args), "restarts": restarts,
            "e2e_latency": latency.probe.summary(), "bag": bag}


def interruption(report: dict, duration_s: float | None) -> dict | bool:
    """False if the run reached its sim duration, else what stopped it and the sim time reached (for
    summary.json: an interrupted run must not look finished)."""
    if report["ended"] == "duration":
        return False
    return {"by": report["ended"] or "unknown", "sim_time_s": round(report["observer"].sim_time_s, 3),
            "duration_s": duration_s}


def _summary(plan: GraphPlan, report: dict, duration_s: float | None = None) -> dict:
    s = report["observer"]
    families: dict[str, int] = {}
    codes: dict[str, int] = {}
    for _, code, _ in s.events:
        key = f"{code // 100}xx"
        families[key] = families.get(key, 0) + 1
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {
        "profile": plan.profile,
        "scenario": plan.scenario,
        "domain_id": report["domain_id"],
        "sim_time_s": round(s.sim_time_s, 3),
        "interrupted": interruption(report, duration_s),
        "health": s.health.summary([n.name for n in plan.graph.nodes]),
        "wall_time_s": round(report["wall_time_s"], 3),
        "rtf": round(s.rtf(), 2) if s.rtf() else None,
        "nodes": [{"name": n, "exit_code": c} for n, c in report["codes"].items()],
        "restarts": report["restarts"],
        "frames": dict(s.frames),
        "detections": dict(s.detections),
        "tracks_confirmed": s.tracks_confirmed(),
        "agent_state_final": s.agent_state,
        "fsm_transitions": s.fsm_transitions,
        "events_count": len(s.events),
        "events_by_family": dict(sorted(families.items())),
        "events_by_code": dict(sorted(codes.items())),
        "gospa_mean": {b: round(m.gospa_mean_m, 3) for b, m in sorted(s.scores.items())},
        "gospa_c_m": next((m.gospa_c_m for m in s.scores.values()), None),
        "track_counts": {b: {"confirmed": m.distinct_confirmed, "false": m.false_tracks,
                             "missed": m.missed_targets, "id_switches": m.id_switches}
                         for b, m in sorted(s.scores.items())},
        "transponder_tracks": {str(code): [{"t_s": t, "id": tid, "band": band} for t, tid, band in history]
                               for code, history in sorted(s.coded_tracks.items())},
        "mission_result": s.mission_result,
        "min_miss_distance_m": round(s.min_miss_distance_m, 3) if s.min_miss_distance_m < float("inf") else None,
        "min_miss_object_id": s.min_miss_object or None,
        "e2e_latency_ms": report["e2e_latency"],
        "node_health": {name.removeprefix("qiki/"): {"level": d["level"], "message": d["message"], **{
            k: d["values"][k] for k in HEALTH_SUMMARY_KEYS if k in d["values"]}}
            for name, d in sorted(s.diagnostics.items()) if "latency_p99_ms" in d["values"]},
    }


HEALTH_SUMMARY_KEYS = ("steps_total", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "cpu_p50_ms", "cpu_p99_ms",
                       "input_to_output_p50_ms", "input_to_output_p99_ms", "input_to_output_max_ms")


def _failure_line(report: dict) -> str | None:
    for p in report["failed"]:
        tail = p.last_lines()
        return (f"qiki: error: node '{p.spec.name}' ({p.spec.package}/{p.spec.executable}) exited with code "
                f"{p.popen.returncode}" + (f": {tail}" if tail else ""))
    bag = report.get("bag")
    if bag and bag["state"] != "complete":
        return f"qiki: error: the recording in {bag['path']} did not complete ({bag['state']}): {bag['error']}"
    return None


def _configure(plan: GraphPlan, args, command: str) -> EffectiveConfig:
    """The layered configuration of `plan` for `command` (run or bringup) from flags and environment.

    `--mode`, `--rate` (realtime unless --mode says otherwise) and `--command-lag` are command-line
    entries for the clock owner's `clock.*` parameters; `qiki run` itself defaults to lockstep.
    """
    clock = next(n.name for n in plan.graph.nodes if not n.use_sim_time)
    flags = []
    if args.mode is not None or args.rate is not None:
        flags.append((f"{clock}.clock.mode", args.mode or "realtime", "cli --mode" if args.mode else "cli --rate"))
    if args.rate is not None:
        flags.append((f"{clock}.clock.rate_factor", args.rate, "cli --rate"))
    if args.command_lag is not None:
        flags.append((f"{clock}.clock.command_lag_steps", args.command_lag, "cli --command-lag"))
    run_defaults = [(f"{clock}.clock.mode", "lockstep")] if command == "run" else []
    return configure(plan, os.environ, overrides=args.overrides, run_defaults=run_defaults,
                     command_line=flags, sets=args.set)


def _with_params(plan: GraphPlan, config: EffectiveConfig, path: Path) -> GraphPlan:
    """`plan` started with the effective params file written to `path` instead of the profile's."""
    path.write_text(config.params_yaml())
    return dataclasses.replace(plan, params_file=path)


def configured_plan(plan: GraphPlan, args, command: str, params_path: Path) -> GraphPlan:
    """`plan` with the layered configuration of `command` (run or bringup) from args and the environment,
    its params file written to params_path: what `qiki run` starts, for tools that start graphs (soak)."""
    return _with_params(plan, _configure(plan, args, command), params_path)


def cmd_config(args) -> int:
    config = _configure(make_plan(args.profile, args.scenario), args, args.for_command)
    print(json.dumps(config.as_json(), indent=2) if args.json else config.table())
    return 0


def cmd_bringup(args) -> int:
    plan = make_plan(args.profile, args.scenario)
    config = _configure(plan, args, "bringup")
    domain = claim_domain(plan, args, "qiki bringup")
    print(f"qiki: bringup profile={plan.profile} scenario={plan.scenario} domain={domain} nodes="
          f"{','.join(n.name for n in plan.graph.nodes)} (Ctrl-C to stop)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="qiki-bringup-") as tmp:
        report = supervise(_with_params(plan, config, Path(tmp) / "params.yaml"), args, log_dir=None)
    line = _failure_line(report)
    if line:
        print(line, file=sys.stderr)
        return 1
    return 0


def cmd_run(args) -> int:
    plan = make_plan(args.profile, args.scenario)
    config = _configure(plan, args, "run")
    if args.duration is None:
        from qiki_sim.scenario import load_scenario
        args.duration = load_scenario(plan.scenario_file).duration_s
    out = args.out or Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{plan.profile}"
    writable_dir(out, "--out" if args.out else "run directory")
    claim_domain(plan, args, "qiki run")
    out.mkdir(parents=True, exist_ok=True)
    rotate_outputs(out, args.keep_runs, args.max_output_mb, explicit_out=args.out is not None)
    (out / "config.json").write_text(json.dumps(config.as_json(), indent=2) + "\n")
    plan = _with_params(plan, config, out / "params.yaml")
    report = supervise(plan, args, log_dir=out / "logs", bag_dir=out / "bag" if args.record else None)
    summary = _summary(plan, report, args.duration)
    summary["plots"] = []
    summary["config"], summary["params_file"] = "config.json", "params.yaml"
    plot_note = "none (not recorded: 'qiki run --record' writes them, or 'qiki plot' a bag)"
    if args.record:
        summary["bag"] = dict(report["bag"], path="bag")
        if not report["failed"] and report["bag"]["state"] == "complete":
            from qiki_bag.reader import BagError
            t0 = time.monotonic()
            try:
                summary["plots"] = make_plots(out / "bag", out)
                plot_note = f"{', '.join(summary['plots'])} ({time.monotonic() - t0:.1f} s)"
            except (PlotInputError, BagError) as exc:
                plot_note = f"none ({exc})"
                print(f"qiki run: warning: no plots: {exc}", file=sys.stderr)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    line = _failure_line(report)
    if line:
        print(line, file=sys.stderr)
        return 1
    print(f"qiki run: profile={summary['profile']} scenario={summary['scenario']} "
          f"sim {summary['sim_time_s']:.1f} s in {summary['wall_time_s']:.1f} s wall (real-time factor {summary['rtf']})")
    print(f"  radar frames      LR {summary['frames']['lr']:5d}  SR {summary['frames']['sr']:5d}")
    print(f"  confirmed tracks  LR {summary['tracks_confirmed']['lr']:5d}  SR {summary['tracks_confirmed']['sr']:5d}")
    path = " -> ".join([t["from"] for t in summary["fsm_transitions"][:1]] +
                       [t["to"] for t in summary["fsm_transitions"]]) or summary["agent_state_final"]
    print(f"  agent             {path} (final {summary['agent_state_final']}), events {summary['events_count']}")
    print("  GOSPA mean [m]    " + "  ".join(f"{b.upper()} {v}" for b, v in summary["gospa_mean"].items())
          + f" (c = {summary['gospa_c_m']} m, p = 2)")
    print(f"  mission           {summary['mission_result']}, closest approach {summary['min_miss_distance_m']} m "
          f"(object {summary['min_miss_object_id']})")
    e2e = summary["e2e_latency_ms"]
    print(f"  latency truth->cmd p50 {e2e['p50_ms']} ms  p99 {e2e['p99_ms']} ms  max {e2e['max_ms']} ms "
          f"({e2e['count']} decisions)")
    print(f"  plots             {plot_note}")
    print(f"  config            {out / 'config.json'} (every parameter and its source; nodes got params.yaml)")
    print(f"  summary           {out / 'summary.json'}")
    stopped = summary["interrupted"]
    health = summary["health"]
    print(f"  health            worst {health['level']}" + "".join(
        f"; {n} {h['worst']}: {h['why']}" for n, h in health["nodes"].items() if h["worst"] != "OK"))
    if stopped:
        print(f"  interrupted       by {stopped['by']} at sim {stopped['sim_time_s']:.1f} s of {args.duration:g} s")
    return 0 if report["signal"] is None else 128 + report["signal"]


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


def rotate_outputs(out: Path, keep_runs: int | None, max_output_mb: float | None, explicit_out: bool,
                   prog: str = "qiki run") -> None:
    """Cap the finished outputs beside `out` (never out itself): always under the default runs/, under an
    explicit --out's parent only when a cap is given (it may be a shared directory such as /tmp)."""
    if explicit_out and keep_runs is None and max_output_mb is None:
        return
    max_bytes = DEFAULT_MAX_BYTES if max_output_mb is None else int(max_output_mb * 1024 ** 2)
    removed = rotate(out.parent, max_bytes=max_bytes, max_count=keep_runs or DEFAULT_MAX_COUNT, keep=out)
    if removed:
        print(f"{prog}: {out.parent}: {describe(removed)}", file=sys.stderr)


def make_plots(bag: Path, out: Path) -> list[str]:
    """Figures of a bag into out (qiki.plots); returns the file names. Raises PlotInputError / BagError."""
    from qiki.plots import load_run, write_plots
    return write_plots(load_run(bag), out)


def cmd_plot(args) -> int:
    from qiki.plots import resolve_input
    t0 = time.monotonic()
    bag, default_out = resolve_input(args.input)
    out = args.out or default_out
    from qiki_bag.reader import BagError
    try:
        names = make_plots(bag, out)
    except BagError as exc:
        raise PlotInputError(f"{exc}; qiki plot reads a run directory of 'qiki run --record' or a readable "
                             "rosbag2 bag (check it with 'qiki bag info')") from None
    summary = out / "summary.json"
    if summary.exists() and out.resolve() == default_out.resolve() and (out / "bag").exists():
        data = json.loads(summary.read_text())       # the run directory: list the figures in its summary
        data["plots"] = names
        summary.write_text(json.dumps(data, indent=2) + "\n")
    print(f"qiki plot: {', '.join(str(out / n) for n in names)} ({time.monotonic() - t0:.1f} s)")
    return 0


def graph_table(graph) -> str:
    """Markdown table of topics and services (the README's table is this output)."""
    rows = ["| topic / service | type | QoS | rate | publishers -> subscribers |", "|---|---|---|---|---|"]
    for t in graph.topics:
        rows.append(f"| `{t.name}` | `{t.type}` | {t.qos} | {t.rate} | "
                    f"{', '.join(p.split('.')[0] for p in t.pub)} -> {', '.join(s.split('.')[0] for s in t.sub) or '(tools)'} |")
    for s in graph.services:
        rows.append(f"| `{s.name}` (service) | `{s.type}` | services | on request | server: {s.server.split('.')[0]} |")
    return "\n".join(rows)


def cmd_graph(args) -> int:
    from qiki.graph import load_graph
    from qiki.plan import config_dir
    print(graph_table(load_graph(config_dir() / "graph.yaml")))
    return 0


def cmd_console(args) -> int:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    domain = _domain(args)
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    from qiki.console import run_console
    return run_console(domain, args.profile, unreachable_after_s=args.wait)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from qiki_bag.reader import BagError
    try:
        if hasattr(args, "domain_id"):   # every command that joins a domain (bag record/play too), before it starts
            requested_domain(args.domain_id, os.environ)
        from qiki_bag.commands import run_bag
        return {"bringup": cmd_bringup, "run": cmd_run, "graph": cmd_graph, "bag": run_bag,
                "plot": cmd_plot, "console": cmd_console, "config": cmd_config}[args.command](args)
    except (UsageError, ConfigError, PlotInputError, BagError, DomainError) as exc:   # one line naming the thing and the fix
        print(f"qiki {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a graph started (loading, domain discovery): nothing to stop
        print(f"qiki {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
