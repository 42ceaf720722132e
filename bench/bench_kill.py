"""SIGKILL of the runner: does any process it started survive it, and how long until the last one is gone.

Starts `qiki run` / `qiki run --record` / `qiki bringup` (bot profile) N times each, SIGKILLs it at a
moment of its life taken in turn from qiki_tools.runner_kill.MOMENTS (starting: a delay spread over
[0, --max-start-delay]; nodes-up / standbys-up / stepping: that state, then a delay spread over
[0, 1] s), and prints per runner and moment: kills, survivors, and the seconds from the kill until the
last child died (median, max). Exit status 1 if any process survived.
Usage: .venv/bin/python bench/bench_kill.py [--kills N] [--runners run,run --record,bringup]
       [--domain-id N] [--max-start-delay S]
"""
import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from qiki_tools.soak import bench_header

QIKI = Path(sys.executable).with_name("qiki")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20, help="kills per runner (default 20)")
    ap.add_argument("--runners", default="run,run --record,bringup", help="comma-separated runner commands")
    ap.add_argument("--domain-id", type=int, default=131)
    ap.add_argument("--max-start-delay", type=float, default=2.0, help="longest kill delay at 'starting' [s]")
    args = ap.parse_args()
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)            # the observer's
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki_tools.runner_kill import MOMENTS, kill_runner

    print(bench_header())
    graph = make_plan("bot").graph
    n_nodes, n_spares = len(graph.nodes), sum(n.restart.standby for n in graph.nodes)
    observer = GraphObserver(graph)
    outcomes = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-kill-") as tmp:
            for runner in args.runners.split(","):
                for i in range(args.kills):
                    moment = MOMENTS[i % len(MOMENTS)]
                    rounds = max(1, args.kills // len(MOMENTS))
                    spread = (i // len(MOMENTS)) / rounds
                    delay = spread * (args.max_start_delay if moment == "starting" else 1.0)
                    out = kill_runner(QIKI, runner, args.domain_id, Path(tmp) / f"{runner.replace(' ', '')}-{i}",
                                      moment, delay, n_nodes, n_spares, observer=observer)
                    outcomes.append(out)
                    print(f"{runner:<13} {moment:<12} kill at {out.kill_at_s:6.2f} s  children {out.children:2d}  "
                          f"last gone after {out.last_exit_s if out.last_exit_s is not None else '-':>6} s"
                          + ("" if out.reached else "  (moment not reached)")
                          + (f"  SURVIVORS {out.survivors}" if out.survivors else ""), flush=True)
    finally:
        observer.close()
    print(f"\n| runner | moment | kills | survivors | last child gone after kill, median / max [s] |")
    print("|---|---|---|---|---|")
    for runner in args.runners.split(","):
        for moment in MOMENTS:
            group = [o for o in outcomes if o.runner == runner and o.moment == moment]
            times = [o.last_exit_s for o in group if o.last_exit_s is not None]
            if group:
                figures = f"{statistics.median(times):.2f} / {max(times):.2f}" if times else "-"
                print(f"| {runner} | {moment} | {len(group)} | {sum(len(o.survivors) for o in group)} | {figures} |")
    survivors = sum(len(o.survivors) for o in outcomes)
    print(f"\n{len(outcomes)} kills, {survivors} surviving processes")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
