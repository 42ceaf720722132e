"""`qiki`: start the QIKI graph (`bringup`), run a headless job and summarise it (`run`), show the layered
configuration (`config show`) and the graph (`graph`), record and play bags (`bag`, from qiki_bag).

Commands are verbs registered by packages through the entry point group `qiki.verbs` (as ros2cli's), so a
package that depends on qiki adds its own (qiki_tools: `plot`, `console`) without qiki importing it.

Errors in arguments or configuration print one line and exit with code 2; a node that dies prints
one line naming it and exits with code 1.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import signal
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from qiki.domains import DomainError, graph_domain, requested_domain
from qiki.engines import ENGINES, RunRequest, execute, failure_line, run_profile
from qiki.graph import ConfigError
from qiki.layered_config import OVERRIDES_ENV
from qiki.output_rotation import DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, describe, rotate
from qiki.plan import GraphPlan, UsageError, make_plan
from qiki.share import config_dir
from qiki.run_loop import ConfigFlags, RunOptions, configure_for, supervise, with_params
from qiki_ros.discovery import DiscoveryError, discovery_env, profiles_env


def positive(text: str) -> float:
    """argparse type: a positive finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive finite number")
    return value


def whole(unit: str):
    """argparse type: a whole number >= 1 of `unit`."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of {unit} >= 1")
        return int(text)
    return parse


def port(text: str) -> int:
    """argparse type: a port number in 1024..65000."""
    if not text.isdigit() or not 1024 <= int(text) <= 65000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number in 1024..65000")
    return int(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def config_args(sp: argparse.ArgumentParser, mode_default: str) -> None:
    """The configuration flags (ConfigFlags) of `qiki run|bringup|config show`."""
    sp.add_argument("--profile", help="vehicle profile (default: the graph's default_profile)")
    sp.add_argument("--scenario", help="scenario name in config/scenarios/ or a YAML path")
    sp.add_argument("--mode", choices=("realtime", "lockstep"),
                    help="clock mode: realtime (at --rate) or lockstep (as fast as the slowest node); "
                         f"default: {mode_default}")
    sp.add_argument("--rate", type=positive, metavar="R", help="realtime mode: sim seconds per wall second")
    sp.add_argument("--command-lag", type=whole("steps"), metavar="N",
                    help="actuation latency in sim steps (clock.command_lag_steps; default: the params file): "
                         "in lockstep the sim may run N steps ahead of the agent")
    sp.add_argument("--overrides", type=Path, metavar="FILE",
                    help=f"runtime overrides, a ROS 2 params file (default: ${OVERRIDES_ENV} if set)")
    sp.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                    help="set one parameter (repeatable; value read as YAML), e.g. tracker.tracker.confirm_m=3")


def graph_args(sp: argparse.ArgumentParser, mode_default: str) -> None:
    """The flags of the commands that start a graph (`qiki run|bringup`)."""
    config_args(sp, mode_default)
    sp.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds of sim time")
    sp.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID, 0..232 (default: $ROS_DOMAIN_ID, else the "
                                                    "first domain from 0 up without a QIKI graph)")
    sp.add_argument("--metrics-port", type=port, metavar="BASE",
                    help="serve Prometheus metrics on 127.0.0.1: node i of config/graph.yaml on port BASE+i "
                         "(default: off)")
    sp.add_argument("--no-standby", action="store_true",
                    help="keep no warm spare processes (graph.yaml restart.standby): a node that dies is then "
                         "restarted from scratch, which takes seconds instead of ~0.1 s")
    sp.add_argument("--nodes", type=names, metavar="NAME[,NAME...]",
                    help="start only these nodes of the graph (default: all); the others run on other machines "
                         "on the same domain (see README 'Running on several machines'): the run waits for them")
    sp.add_argument("--run-id", metavar="ID",
                    help="the run's identity carried by every StepDone (default: a new one); required with "
                         "--nodes, the same on every machine")


def names(text: str) -> list[str]:
    """argparse type: a comma-separated list of names."""
    return [n.strip() for n in text.split(",")]


VERB_GROUP = "qiki.verbs"


def discover_verbs() -> dict:
    """name -> verb for every entry point of group `qiki.verbs` of the installed packages (as ros2cli finds
    its verbs). A verb is a class with `help` (one line), `add_arguments(parser)` and `main(args) -> int`;
    optional: `errors`, exception types it reports as one line with exit code 2, and `order`, its place in
    `qiki --help` (then the name)."""
    found = {}
    for ep in importlib.metadata.entry_points(group=VERB_GROUP):
        if ep.name in found:
            continue                  # the same distribution seen twice on sys.path: the first one wins
        try:
            found[ep.name] = ep.load()()
        except Exception as exc:      # a broken plugin (missing module or name, error at import): one line, not a traceback
            print(f"qiki: warning: command '{ep.name}' ({ep.value}) cannot be loaded: {exc}", file=sys.stderr)
    return dict(sorted(found.items(), key=lambda kv: (getattr(kv[1], "order", 100), kv[0])))


def _parser(verbs: dict | None = None) -> argparse.ArgumentParser:
    """The `qiki` parser with the given verbs (default: those discovered)."""
    verbs = discover_verbs() if verbs is None else verbs
    p = _Parser(prog="qiki", description="QIKI digital twin: ROS 2 graph of sim, radar, tracker and agent.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, verb in verbs.items():
        verb.add_arguments(sub.add_parser(name, help=verb.help))
    return p


def command_domain(args) -> int:
    """The validated domain of the command (--domain-id, else $ROS_DOMAIN_ID, else 0)."""
    asked = requested_domain(args.domain_id, os.environ)
    return 0 if asked is None else asked


def claim_domain(plan: GraphPlan, args, prog: str) -> int:
    """Set args.domain_id to the domain the new graph runs on: the one asked for if no QIKI graph is there
    (else DomainError), or with none asked for, a free one, printed with the command that attaches to it."""
    domain, chosen = graph_domain(args.domain_id, os.environ, plan.graph, prog, nodes=plan.hosted)
    if chosen:
        print(f"{prog}: ROS_DOMAIN_ID={domain} (the first without a QIKI graph; attach with: "
              f"qiki console --domain-id {domain})", file=sys.stderr)
    args.domain_id = domain
    return domain


def run_options(args) -> RunOptions:
    """The run loop's options from `qiki run|bringup` arguments (after claim_domain)."""
    return RunOptions(domain_id=args.domain_id, duration_s=args.duration, metrics_port=args.metrics_port,
                      standby=not args.no_standby)


def config_flags(args) -> ConfigFlags:
    """The configuration flags of `qiki run|bringup|config show`."""
    return ConfigFlags(mode=args.mode, rate=args.rate, command_lag=args.command_lag, overrides=args.overrides,
                       sets=tuple(args.set))


def cmd_config(args) -> int:
    config = configure_for(make_plan(args.profile, args.scenario), config_flags(args), args.for_command)
    print(json.dumps(config.as_json(), indent=2) if args.json else config.table())
    return 0


def cmd_bringup(args) -> int:
    plan = make_plan(args.profile, args.scenario, nodes=args.nodes, run_id=args.run_id)
    config = configure_for(plan, config_flags(args), "bringup")
    domain = claim_domain(plan, args, "qiki bringup")
    print(f"qiki: bringup profile={plan.profile} scenario={plan.scenario} domain={domain} nodes="
          f"{','.join(plan.hosted or [n.name for n in plan.graph.nodes])} (Ctrl-C to stop)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="qiki-bringup-") as tmp:
        report = supervise(with_params(plan, config, Path(tmp) / "params.yaml"), run_options(args), log_dir=None)
    line = failure_line(report)
    if line:
        print(line, file=sys.stderr)
        return 1
    return 0


def run_request(args) -> RunRequest:
    """The engine request of `qiki run`'s arguments (the run directory defaults to runs/<time>-<profile>)."""
    profile = make_plan(run_profile(args.profile, args.scenario), args.scenario).profile
    out = args.out or Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{profile}"
    return RunRequest(scenario=args.scenario, out=out, profile=args.profile, engine=args.engine,
                      duration_s=args.duration, overrides=args.overrides, sets=tuple(args.set), record=args.record,
                      domain_id=args.domain_id, quiet=False, mode=args.mode, rate=args.rate,
                      command_lag=args.command_lag, metrics_port=args.metrics_port, standby=not args.no_standby,
                      nodes=None if args.nodes is None else tuple(args.nodes), run_id=args.run_id)


def cmd_run(args) -> int:
    request = run_request(args)
    if request.engine == "core" and (request.metrics_port or args.no_standby):
        raise UsageError("--metrics-port and --no-standby are for --engine graph (the core engine has no processes)")
    out = request.out
    outcome = execute(request, out_what="--out" if args.out else "run directory",
                      before_start=lambda: rotate_outputs(out, args.keep_runs, args.max_output_mb,
                                                          explicit_out=args.out is not None))
    summary = outcome.summary
    if outcome.failure:
        print(outcome.failure, file=sys.stderr)
        return 1
    print(f"qiki run: engine={summary['engine']} profile={summary['profile']} scenario={summary['scenario']} "
          f"sim {summary['sim_time_s']:.1f} s in {summary['wall_time_s']:.1f} s wall (real-time factor {summary['rtf']})")
    if "vehicles" not in summary:      # a fleet's figures are its vehicles'
        print(f"  radar frames      LR {summary['frames']['lr']:5d}  SR {summary['frames']['sr']:5d}")
        print(f"  confirmed tracks  LR {summary['tracks_confirmed']['lr']:5d}  SR {summary['tracks_confirmed']['sr']:5d}")
        path = " -> ".join([t["from"] for t in summary["fsm_transitions"][:1]] +
                           [t["to"] for t in summary["fsm_transitions"]]) or summary["agent_state_final"]
        print(f"  agent             {path} (final {summary['agent_state_final']}), events {summary['events_count']}")
        print("  GOSPA mean [m]    " + "  ".join(f"{b.upper()} {v}" for b, v in summary["gospa_mean"].items())
              + f" (c = {summary['gospa_c_m']} m, p = 2)")
        print(f"  mission           {summary['mission_result']}, closest approach {summary['min_miss_distance_m']} m "
              f"(object {summary['min_miss_object_id']})")
    for name, v in summary.get("vehicles", {}).items():
        near = v["closest_approach_m"]
        print(f"  vehicle {name:<9} {v['mission_result']}, final {v['agent_state_final']}, confirmed tracks "
              f"LR {v['tracks_confirmed']['lr']} SR {v['tracks_confirmed']['sr']}, closest approach {near['objects']} m "
              f"(object {v['closest_object_id']}), {near['vehicles']} m ({v['closest_vehicle']}), "
              f"events {v['events_count']}")
    e2e = summary["e2e_latency_ms"]
    if e2e is not None:
        print(f"  latency truth->cmd p50 {e2e['p50_ms']} ms  p99 {e2e['p99_ms']} ms  max {e2e['max_ms']} ms "
              f"({e2e['count']} decisions)")
    print(f"  plots             {outcome.plot_note}")
    print(f"  config            {out / 'config.json'} (every parameter and its source; nodes got params.yaml)")
    print(f"  summary           {out / 'summary.json'}")
    stopped = summary["interrupted"]
    health = summary["health"]
    if health is not None:
        print(f"  health            worst {health['level']}" + "".join(
            f"; {n} {h['worst']}: {h['why']}" for n, h in health["nodes"].items() if h["worst"] != "OK"))
    if stopped:
        print(f"  interrupted       by {stopped['by']} at sim {stopped['sim_time_s']:.1f} s of {stopped['duration_s']:g} s")
    return 0 if outcome.signal is None else 128 + outcome.signal


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


def graph_table(graph) -> str:
    """Markdown table of topics and services (the README's table is this output)."""
    rows = ["| topic / service | scope | type | QoS | rate | publishers -> subscribers |", "|---|---|---|---|---|---|"]
    for t in graph.topics:
        rows.append(f"| `{t.name}` | {t.scope} | `{t.type}` | {t.qos} | {t.rate} | "
                    f"{', '.join(p.split('.')[0] for p in t.pub)} -> {', '.join(s.split('.')[0] for s in t.sub) or '(tools)'} |")
    for s in graph.services:
        rows.append(f"| `{s.name}` (service) | {s.scope} | `{s.type}` | services | on request | "
                    f"server: {s.server.split('.')[0]} |")
    return "\n".join(rows)


def cmd_graph(args) -> int:
    from qiki.graph import load_graph
    if args.scenario:       # a fleet's graph: one stack per vehicle (a one-vehicle scenario: as graph.yaml)
        print(graph_table(make_plan(run_profile(None, args.scenario), args.scenario).graph))
        return 0
    print(graph_table(load_graph(config_dir() / "graph.yaml")))
    return 0


class BringupVerb:
    order = 10
    help = "start the graph with logs on the console until Ctrl-C (or --duration)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        graph_args(parser, "from the configuration")

    def main(self, args) -> int:
        return cmd_bringup(args)


class RunVerb:
    order = 20
    help = "run a scenario headless and write DIR/summary.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        graph_args(parser, "lockstep")
        parser.add_argument("--engine", choices=ENGINES, default="graph",
                            help="graph: the ROS 2 graph, one process per node (default); core: the same steps "
                                 "in one process, lockstep, no DDS (much faster, same results)")
        parser.add_argument("--out", type=Path, help="run directory (default: runs/<time>-<profile>)")
        parser.add_argument("--record", action="store_true",
                            help="record the graph's topics into DIR/bag (rosbag2, MCAP)")
        parser.add_argument("--keep-runs", type=whole("runs"), metavar="N",
                            help=f"keep at most N finished run directories in runs/ (or --out's parent), this one "
                                 f"included, removing the oldest (default {DEFAULT_MAX_COUNT}; with --out only "
                                 f"when a cap is given)")
        parser.add_argument("--max-output-mb", type=positive, metavar="M",
                            help=f"keep the finished run directories under M MiB in total, removing the oldest "
                                 f"(default {DEFAULT_MAX_BYTES // 1024 ** 2})")

    def main(self, args) -> int:
        return cmd_run(args)


class ConfigVerb:
    order = 60
    help = "the layered configuration: defaults < profile < overrides < env < cli"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        cfs = parser.add_subparsers(dest="config_command", required=True, metavar="show", parser_class=_Parser)
        show = cfs.add_parser("show", help="print every node parameter's effective value and where it came from")
        config_args(show, "lockstep for --for run, else from the configuration")
        show.add_argument("--for", dest="for_command", choices=("run", "bringup"), default="run",
                          help="the command whose configuration to show (default: run, which defaults to lockstep)")
        show.add_argument("--json", action="store_true",
                          help="machine-readable: facts and {parameter: {value, source}}")

    def main(self, args) -> int:
        return cmd_config(args)


class GraphVerb:
    order = 70
    help = "print the graph's topics and services as a Markdown table"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--profile", help=argparse.SUPPRESS)
        parser.add_argument("--scenario", help="the graph of this scenario: a fleet's has one stack per vehicle")

    def main(self, args) -> int:
        return cmd_graph(args)


class BagVerb:
    """`qiki bag` (qiki_bag.commands) with the installed graph description as its topic catalog."""

    order = 30
    help = "record, play and inspect rosbag2 (MCAP) bags of the graph"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from qiki_bag.commands import add_bag_arguments
        add_bag_arguments(parser)

    def main(self, args) -> int:
        from qiki_bag.catalog import load_catalog
        from qiki_bag.commands import run_bag
        catalog = None
        if args.bag_command in ("record", "play") and args.graph is None and not getattr(args, "no_graph", False):
            catalog = load_catalog(config_dir() / "graph.yaml")
        return run_bag(args, catalog=catalog)


def main(argv: list[str] | None = None) -> int:
    verbs = discover_verbs()
    args = _parser(verbs).parse_args(argv)
    from qiki_bag.reader import BagError
    verb = verbs[args.command]
    errors = (UsageError, ConfigError, BagError, DomainError, DiscoveryError) + tuple(getattr(verb, "errors", ()))
    try:
        if hasattr(args, "domain_id"):   # every command that joins a domain (bag record/play too), before it starts
            requested_domain(args.domain_id, os.environ)
            discovery_env(os.environ)
            # its own participants (observer, latency probe, domain probe) read the project's Fast DDS profile too
            os.environ.update(profiles_env(os.environ, config_dir() / "fastdds.xml"))
        return verb.main(args)
    except errors as exc:   # one line naming the thing and the fix
        print(f"qiki {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a graph started (loading, domain discovery): nothing to stop
        print(f"qiki {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
