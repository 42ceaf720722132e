"""`qiki bag record | play | info`: the ``ros2 bag`` twins for this workspace (no rosbag2 here).

    qiki bag record [--topics T ...] [-a] [-x PATTERN ...] [-o DIR] [-s mcap|sqlite3] [--compression zstd]
                    [-b SIZE] [-d SECONDS] [--max-total-size SIZE] [--duration SECONDS] [--include-history]
                    [--use-sim-time] [--graph FILE] [--domain-id N]
    qiki bag play BAG [-r RATE] [-l] [--start-offset S] [--topics T ...] [--sync-from NODE ...] [--clock [HZ]]
                      [--delay S] [--wait-for-subscribers S] [--graph FILE] [--domain-id N]
    qiki bag info BAG [--verify]
    qiki bag reindex BAG

The recorder logs ``qiki bag record: ready`` on stderr once it is subscribed (start the graph after it).

Errors in arguments or bag files print one line naming the file and the problem and exit with code 2.
A damaged bag is read as far as it is readable (warnings name the file and offset of what was skipped);
``info --verify`` exits 1 when it finds damage; ``reindex`` rebuilds metadata.yaml and the index of every
file that lacks one (a killed recording, a cut or damaged file).
Ctrl-C / SIGTERM ends a recording cleanly (pending messages written, metadata.yaml complete) with code 0.
A write error (disk full...) ends it with code 1 and one line naming the bag, the messages kept and the
``qiki bag reindex`` command that recovers the unfinished split.
Standalone: ``python -m qiki_bag.commands record ...`` (same options).
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from qiki_bag.catalog import SYNC_TOPIC, TopicCatalog, load_catalog
from qiki_bag.drain import pending_writers
from qiki_ros.stop_signal import StopRequest, stop_on_signals

PROG = "qiki bag"
READY = "ready"                    # logged (stderr) once the recorder is subscribed: start the graph then
TIME_LINE_KEY = "qiki_bag.time"    # custom_data: "system" (receive time) or "sim" (/clock, --use-sim-time)
DRAIN_MAX_S = 20.0                 # after Ctrl-C, take what is queued for at most this long
TEARDOWN_S = 10.0                  # after the bag is closed, the ROS teardown may take this long
GRAPH_HELP = ("graph description whose topics: list gives each topic's type and QoS (default: the QIKI graph's "
              "when run as 'qiki bag', else none: topics found by discovery)")
_SIZE_UNITS = {"": 1, "B": 1, "K": 10**3, "KB": 10**3, "M": 10**6, "MB": 10**6, "G": 10**9, "GB": 10**9,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


# ------------------------------------------------------------------------------------------ arguments
def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive finite number")
    return value


def _node_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"'{text}' is not a ROS node name (letters, digits and _, "
                                         f"not starting with a digit)")
    return text


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a finite number >= 0")
    return value


def parse_size(text: str) -> int:
    """'1000000', '500K', '100MB', '2GiB' -> bytes."""
    raw = text.strip().upper().replace(" ", "")
    num = raw.rstrip("KMGIB")
    unit = raw[len(num):]
    try:
        value = float(num) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (bytes, or with K/M/G/KiB/MiB/GiB)") from None
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1 byte")
    return int(value)


def add_bag_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bag`` (record / play / info / reindex) on a CLI's subparsers; returns the bag parser."""
    bag = subparsers.add_parser("bag", help="record, play and inspect rosbag2 (MCAP) bags of the graph")
    add_bag_arguments(bag)
    return bag


def add_bag_arguments(bag: argparse.ArgumentParser) -> None:
    """The subcommands record / play / info / reindex and their options, on the ``bag`` parser."""
    bag.description = "Record, play and inspect rosbag2 bags (MCAP by default)."
    sub = bag.add_subparsers(dest="bag_command", required=True, parser_class=type(bag))

    rec = sub.add_parser("record", help="record topics into a bag until Ctrl-C",
                         description="Record the graph's topics (default: /qiki/*, /clock, /diagnostics) "
                                     "into a rosbag2 bag with the message definitions embedded.")
    rec.add_argument("--topics", nargs="+", metavar="TOPIC", help="topics or glob patterns to record "
                     "(default: /qiki/* /clock /diagnostics)")
    rec.add_argument("-a", "--all", action="store_true", help="record every topic")
    rec.add_argument("-x", "--exclude", nargs="+", default=[], metavar="PATTERN",
                     help="topics or glob patterns not to record")
    rec.add_argument("-o", "--out", "--output", dest="out", type=Path, metavar="DIR",
                     help="bag directory to create (default: rosbag2_<date>-<time>)")
    rec.add_argument("-s", "--storage", choices=("mcap", "sqlite3"), default="mcap",
                     help="storage format (default: mcap)")
    rec.add_argument("-b", "--max-bag-size", type=parse_size, metavar="SIZE",
                     help="start a new split when the current one reaches SIZE (bytes, or 100M, 1GiB...)")
    rec.add_argument("-d", "--max-bag-duration", type=_positive, metavar="S",
                     help="start a new split every S seconds of recording")
    rec.add_argument("--max-total-size", type=parse_size, metavar="SIZE",
                     help="delete the oldest splits when the bag exceeds SIZE (use with -b or -d)")
    rec.add_argument("--compression", choices=("zstd",),
                     help="compress the MCAP chunks (zstd; readers of MCAP decode it transparently)")
    rec.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    rec.add_argument("--include-history", action="store_true",
                     help="also record the history transient-local publishers keep for late joiners (the "
                          "graph's events and step announcements; streams keep none); default: from now on, "
                          "plus latched states")
    rec.add_argument("--use-sim-time", action="store_true",
                     help="stamp messages with the newest /clock instead of the receive time (the bag's "
                          "duration is then sim time; 'qiki bag play --clock' replays that time line)")
    rec.add_argument("--node-name", type=_node_name, default="qiki_bag_recorder", metavar="NAME",
                     help="the recorder's ROS node name (default: qiki_bag_recorder)")
    rec.add_argument("--no-graph", action="store_true",
                     help="do not subscribe in advance to the topics of the QIKI graph description")
    rec.add_argument("--graph", type=Path, metavar="FILE", help=GRAPH_HELP)
    rec.add_argument("--status-period", type=_positive, default=1.0, metavar="S", help=argparse.SUPPRESS)
    rec.add_argument("--executor", choices=("events", "single"), default="single", help=argparse.SUPPRESS)
    rec.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID or 0)")

    play = sub.add_parser("play", help="publish a bag's messages with the recorded timing",
                          description="Replay a bag on its topics, like ros2 bag play.")
    play.add_argument("bag", type=Path, metavar="BAG", help="bag directory (or a .mcap / .db3 file)")
    play.add_argument("-r", "--rate", type=_positive, default=1.0, metavar="R", help="rate factor (default 1)")
    play.add_argument("-l", "--loop", action="store_true", help="replay until Ctrl-C")
    play.add_argument("--start-offset", type=_non_negative, default=0.0, metavar="S",
                      help="start S seconds into the bag")
    play.add_argument("--topics", nargs="+", metavar="TOPIC", help="replay only these topics")
    play.add_argument("--sync-from", nargs="+", metavar="NODE",
                      help=f"on {SYNC_TOPIC}, replay only the StepDone announcements of these nodes "
                           "(e.g. /qiki/sim /qiki/radar, to drive the other nodes of the graph in lockstep)")
    play.add_argument("--clock", type=_positive, nargs="?", const=40.0, metavar="HZ",
                      help="publish /clock from the bag's time at HZ (default 40 Hz)")
    play.add_argument("--delay", type=_non_negative, default=0.0, metavar="S",
                      help="wait S seconds before playing (lets subscribers discover the publishers)")
    play.add_argument("--wait-for-subscribers", type=_positive, metavar="S",
                      help="before playing, wait up to S seconds until every topic has a subscriber")
    play.add_argument("--graph", type=Path, metavar="FILE", help=GRAPH_HELP)
    play.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID or 0)")

    info = sub.add_parser("info", help="print a bag's duration, topics, types and message counts",
                          description="Print what ros2 bag info prints.")
    info.add_argument("bag", type=Path, metavar="BAG", help="bag directory (or a .mcap / .db3 file)")
    info.add_argument("--verify", action="store_true",
                      help="decode every message and check every chunk CRC; report the damage per topic "
                           "(exit 1 when damaged)")

    reindex = sub.add_parser("reindex", help="rebuild metadata.yaml and the files' indexes from the messages",
                             description="Like ros2 bag reindex: rebuild metadata.yaml (and rewrite every MCAP "
                                         "file that is cut, damaged or left in .recording/ by a killed recorder, "
                                         "keeping the original as <name>.mcap.damaged) from the messages that "
                                         "are readable.")
    reindex.add_argument("bag", type=Path, metavar="BAG", help="bag directory (or a .mcap file)")


# ------------------------------------------------------------------------------------------ plumbing
def _err(text: str) -> None:
    print(f"{PROG}: error: {' '.join(str(text).split())}", file=sys.stderr, flush=True)


def _env(args) -> None:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if getattr(args, "domain_id", None) is not None:
        os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)


@contextmanager
def _ros_context():
    import rclpy

    from qiki_ros.spin_thread import private_context
    context = private_context()
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)


def _executor(kind: str, context):
    """SingleThreadedExecutor; 'events' tries rclpy's experimental C++ EventsExecutor (in rclpy 9.1.2 it
    fails on raw subscriptions with message info: "SystemError: null argument to internal routine")."""
    from rclpy.executors import SingleThreadedExecutor
    if kind == "events":
        try:
            from rclpy.experimental import EventsExecutor
            return EventsExecutor(context=context)
        except ImportError:
            pass
    return SingleThreadedExecutor(context=context)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


# ------------------------------------------------------------------------------------------ commands
def cmd_info(args) -> int:
    from qiki_bag.reader import open_bag
    with open_bag(args.bag, warn=lambda _text: None) as bag:       # warnings are part of the info text
        print(bag.info().format())
        print(f"Time line:         {time_line(args.bag)}")
        if not args.verify:
            return 0
        report = bag.verify()
    print(report.format())
    return 0 if report.clean else 1


def cmd_reindex(args) -> int:
    from qiki_bag.reindex import reindex
    print(reindex(args.bag).format())
    return 0


def time_line(path: Path) -> str:
    """Which clock the bag's log times come from (``qiki bag record --use-sim-time`` or not)."""
    from qiki_bag.reader import open_bag
    with open_bag(path, warn=lambda _text: None) as bag:
        kind = bag.custom_data.get(TIME_LINE_KEY)
    return {"sim": "sim time (/clock; replay it with 'qiki bag play --clock')",
            "system": "receive time (system clock)"}.get(kind, "receive time (system clock; not recorded by qiki)")


def write_error_line(out: Path | str, error, kept: int, unindexed: int) -> str:
    """The one line a recording that hit a write error ends with (parsed back by :func:`parse_write_error`)."""
    where = f", {unindexed} of them in the unfinished split under {Path(out) / '.recording'}" if unindexed else ""
    return (f"{out}: recording stopped, {getattr(error, 'problem', error)}: {kept} messages kept{where}; "
            f"recover them with 'qiki bag reindex {out}'")


def parse_write_error(line: str) -> tuple[int, str] | None:
    """(messages kept, the problem) from a :func:`write_error_line` line, None for any other line."""
    m = re.search(r"recording stopped, (.*): (\d+) messages kept", line)
    return (int(m.group(2)), m.group(1)) if m else None


class TeardownDeadline:
    """Leaves the process with its exit code if the ROS teardown takes more than ``seconds``: the bag is
    closed before the teardown starts, and a DDS teardown stuck under load must not keep the process.
    A teardown stuck in native code that holds the GIL is ended at twice that by faulthandler's own
    thread, which prints every thread's stack first (exit code 1)."""

    def __init__(self, seconds: float, log) -> None:
        self.seconds, self.log, self._timer = seconds, log, None

    def start(self, code: int) -> None:
        def expire() -> None:
            self.log(f"ROS teardown still running after {self.seconds:g} s: exiting with code {code}")
            sys.stderr.flush()
            os._exit(code)
        self._timer = threading.Timer(self.seconds, expire)
        self._timer.daemon = True
        self._timer.start()
        faulthandler.dump_traceback_later(2 * self.seconds, exit=True)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            faulthandler.cancel_dump_traceback_later()


def cmd_record(args, stop: StopRequest, catalog: TopicCatalog) -> int:
    from qiki_bag.recorder import DEFAULT_TOPICS, Recorder
    from qiki_bag.writer import BagWriteError, BagWriter

    if args.max_total_size is not None and args.max_bag_size is None and args.max_bag_duration is None:
        _err(f"{args.out or 'bag'}: --max-total-size needs splits: add --max-bag-size or --max-bag-duration")
        return 2
    out = args.out or Path(f"rosbag2_{datetime.now():%Y_%m_%d-%H_%M_%S}")
    _env(args)
    writer = BagWriter(out, storage=args.storage, split_size_bytes=args.max_bag_size,
                       split_duration_s=args.max_bag_duration, max_total_bytes=args.max_total_size,
                       compression=args.compression)
    writer.open()
    writer.custom_data[TIME_LINE_KEY] = "sim" if args.use_sim_time else "system"
    patterns = args.topics or list(DEFAULT_TOPICS)
    known = {} if args.no_graph else catalog
    log = lambda text: print(f"{PROG} record: {text}", file=sys.stderr, flush=True)  # noqa: E731
    log(f"recording {'all topics' if args.all else ' '.join(patterns)} into {out} (Ctrl-C to stop)")
    t0 = time.monotonic()
    if stop.is_set():                    # Ctrl-C during the imports: an empty bag, no DDS participant
        writer.close()
        log(f"stopped before recording: empty bag {out}")
        return 0
    code, error = 1, None
    teardown = TeardownDeadline(TEARDOWN_S, log)
    with _ros_context() as context:
        rec = executor = None
        try:
            rec = Recorder(writer, patterns, all_topics=args.all, exclude=args.exclude, known=known, log=log,
                           node_name=args.node_name, context=context, include_history=args.include_history,
                           use_sim_time=args.use_sim_time)
            executor = _executor(args.executor, context)
            executor.add_node(rec)
            log(READY)
            last_status, last_total = time.monotonic(), -1
            while not stop.is_set() and rec.error is None:
                executor.spin_once(timeout_sec=0.05)
                now = time.monotonic()
                if now - last_status >= args.status_period and rec.total != last_total:
                    last_status, last_total = now, rec.total
                    log(f"recorded {rec.total} messages ({_mb(rec.bytes)}) on {len(rec.counts)} topics")
                if args.duration is not None and now - t0 >= args.duration:
                    break
            # drain what the publishers sent before the stop (qiki_bag.drain): a recorder behind a fast lockstep
            # graph on a loaded machine may hold many steps in its queues, and a sample lost on the wire holds back
            # its writer's later ones until it is resent
            deadline, stop_ns = time.monotonic() + DRAIN_MAX_S, time.time_ns()
            while time.monotonic() < deadline and rec.error is None:
                executor.spin_once(timeout_sec=0.02)
                if not pending_writers(rec.last_received_ns, stop_ns, time.time_ns()):
                    break
            if rec.use_sim_time and rec.held:
                log(f"warning: no /clock received: {len(rec.held)} messages stamped 0")
                rec.flush_early(0)
            report = rec.sequence_report()
            writer.custom_data["qiki_bag.publication_sequence"] = json.dumps(report, separators=(",", ":"))
            error = rec.error
            try:
                writer.close()                # the bag is complete before any DDS teardown
            except BagWriteError as exc:
                error = error or exc
            code = 1 if error is not None else 0
        except BaseException:
            try:
                writer.close()
            except BagWriteError:
                pass
            raise
        finally:
            teardown.start(code)
            if executor is not None:
                executor.remove_node(rec)
                executor.shutdown(timeout_sec=1.0)
            if rec is not None:
                rec.destroy_node()
    teardown.cancel()
    if error is not None:
        kept = sum(split.count for split in writer.closed_splits) + writer.partial_messages
        _err(write_error_line(out, error, kept, writer.partial_messages))
        return 1
    counts = ", ".join(f"{t} {n}" for t, n in sorted(rec.counts.items()))
    log(f"recorded {rec.total} messages ({_mb(rec.bytes)}) in {time.monotonic() - t0:.1f} s into {out} "
        f"({len(writer.split_paths)} split(s)): {counts or 'no topic'}")
    missed = {t: r for t, r in report.items() if r["missed"]}
    log("publication sequence numbers: " + (
        "every message the publishers sent was recorded" if not missed else
        "missed " + ", ".join(f"{t} {r['missed']} ({r['gaps']} while recording)" for t, r in missed.items()) +
        "; the rest were sent before the recorder's subscription matched"))
    return 0


def cmd_play(args, stop: StopRequest, catalog: TopicCatalog) -> int:
    from qiki_bag.player import Player, sync_filter
    from qiki_bag.reader import open_bag
    from qiki_ros.terminal_progress import TerminalProgress

    _env(args)
    log = lambda text: print(f"{PROG} play: {text}", file=sys.stderr, flush=True)  # noqa: E731
    with open_bag(args.bag, warn=lambda text: log(f"warning: {text}")) as bag:
        info = bag.info()
        if args.start_offset > info.duration_s:
            _err(f"{args.bag}: --start-offset {args.start_offset:g} s is past the end of the bag "
                 f"({info.duration_s:.3f} s long)")
            return 2
        t0, total = time.monotonic(), 0
        if stop.is_set():                # Ctrl-C during the imports: nothing to publish
            log("stopped before playing: published 0 messages")
            return 0
        teardown = TeardownDeadline(TEARDOWN_S, log)
        with _ros_context() as context:
            player = Player(bag, rate=args.rate, loop=args.loop, start_offset_s=args.start_offset,
                            topics=args.topics, clock_hz=args.clock, log=log, context=context, catalog=catalog,
                            message_filter=sync_filter(args.sync_from) if args.sync_from else None)
            try:
                if args.wait_for_subscribers is not None and not player.wait_for_subscribers(
                        args.wait_for_subscribers, stop):
                    missing = [t for t, p in player.publishers_by_topic.items() if p.get_subscription_count() == 0]
                    log(f"warning: no subscriber after {args.wait_for_subscribers:g} s on: {' '.join(missing)}")
                if args.delay:
                    stop.wait(args.delay)
                t0 = time.monotonic()
                with TerminalProgress("play", info.duration_s - args.start_offset) as bar:
                    total = player.play(stop, progress=bar.update if bar.enabled else None)
            finally:
                teardown.start(0)
                player.destroy_node()
        teardown.cancel()
    log(f"published {total} messages in {time.monotonic() - t0:.1f} s")
    return 0


def record_command(out_dir: Path | str, domain_id: int | None = None, topics: list[str] | None = None,
                   compression: str | None = None, python: str | None = None, include_history: bool = False,
                   use_sim_time: bool = False, node_name: str | None = None,
                   graph_file: Path | str | None = None) -> list[str]:
    """argv of a ``qiki bag record`` process writing ``out_dir`` (for ``qiki run --record``, the fixture
    recorder...). Start it with the graph's environment in its own session, wait for the line ``READY``
    (:data:`READY`) on its stderr before starting the graph, stop it with SIGINT after the graph stopped
    (exit code 0, metadata.yaml complete). :class:`qiki_bag.background.BackgroundRecorder` does all that."""
    cmd = [python or sys.executable, "-m", "qiki_bag.commands", "record", "-o", str(out_dir)]
    if domain_id is not None:
        cmd += ["--domain-id", str(int(domain_id))]
    if topics:
        cmd += ["--topics", *topics]
    if compression:
        cmd += ["--compression", compression]
    if node_name:
        cmd += ["--node-name", node_name]
    if graph_file:
        cmd += ["--graph", str(graph_file)]
    return cmd + ["--include-history"] * include_history + ["--use-sim-time"] * use_sim_time


def run_bag(args, stop: StopRequest | None = None, catalog: TopicCatalog | None = None) -> int:
    """Run ``qiki bag <record|play|info|reindex>`` from parsed arguments; returns the exit code. ``stop``: the
    event SIGINT/SIGTERM set (installed here when not given); ``catalog``: the topics known in advance
    (``--graph FILE`` replaces it)."""
    from qiki_bag.reader import BagError
    if stop is None:
        with stop_on_signals() as stop:
            return run_bag(args, stop, catalog)
    try:
        if args.bag_command in ("info", "reindex"):
            return {"info": cmd_info, "reindex": cmd_reindex}[args.bag_command](args)
        if args.graph is not None:
            catalog = load_catalog(args.graph)
        return {"record": cmd_record, "play": cmd_play}[args.bag_command](args, stop, catalog or {})
    except BagError as exc:
        _err(exc)
        return 2
    except KeyboardInterrupt:
        return 130


# ------------------------------------------------------------------------------------------ standalone
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def main(argv: list[str] | None = None) -> int:
    with stop_on_signals() as stop:          # first: a Ctrl-C during the imports below is a clean stop too
        argv = list(sys.argv[1:] if argv is None else argv)
        if not argv or argv[0] != "bag":
            argv.insert(0, "bag")
        parser = _Parser(prog="qiki")
        add_bag_parser(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
        return run_bag(parser.parse_args(argv), stop)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)      # the bag is closed and ROS torn down: skip the DDS library's exit-time destructors
