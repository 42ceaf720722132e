"""Recorders joining a running graph: does each recording start now, and does the churn cost any node a step?

Starts the graph (lockstep, warm spares), waits until it runs, then N in-process recorders (each a DDS
participant of its own) join it in turn, record until they have a vehicle state, and leave
(qiki_tools.recorder_churn). Prints the age of each recording's first vehicle state at the join (sim seconds:
how far in the past it starts; median, max), the UPSTREAM_SILENT / UPSTREAM_RESUMED events (908/909) and
SAFE_MODE entries from the first join on, and the node processes that died. Exit status 1 if a recorder
got no vehicle state, started more than 1 s in the past, or the graph lost a step (908/909, SAFE_MODE, a
dead node). tests/integration/test_bag_record_endings.py runs the same with 8 recorders.
Usage: .venv/bin/python bench/bench_recorder_join.py [--joins N] [--profile bot|ship] [--domain-id N]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qiki_tools.soak import bench_header


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--joins", type=int, default=30, help="recorders joining in turn (default 30)")
    ap.add_argument("--profile", default="bot")
    ap.add_argument("--domain-id", type=int, default=133)
    args = ap.parse_args()
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)            # the observer's
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki_tools.recorder_churn import recorder_churn
    from qiki_ros.events import EventCode

    print(bench_header())
    observer = GraphObserver(make_plan(args.profile).graph)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-recorder-join-") as tmp:
            t0 = time.monotonic()
            out = recorder_churn(args.domain_id, observer, Path(tmp), args.joins, args.profile)
            wall = time.monotonic() - t0
    finally:
        observer.close()
    silent = [e for e in out.events if e[1] in (EventCode.UPSTREAM_SILENT, EventCode.UPSTREAM_RESUMED)]
    safe = out.states.count("SAFE_MODE")
    lags = out.lags_s
    figures = f"{statistics.median(lags):.3f} / {max(lags):.3f}" if lags else "-"
    print("| profile | recorders | got a vehicle state | first message age at join, median / max [s] "
          "| events 908/909 | SAFE_MODE | dead nodes |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.profile} | {args.joins} | {len(lags)} | {figures} | {len(silent)} | {safe} | "
          f"{', '.join(out.dead) or 0} |")
    print(f"\n{wall:.0f} s wall in all (graph start-up included)")
    for event in silent:
        print("event", event)
    failed = out.missing or (lags and max(lags) >= 1.0) or silent or safe or out.dead
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
