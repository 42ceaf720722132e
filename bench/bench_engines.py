"""Graph engine vs core engine: real-time factor of each on the same scenarios, side by side in one run, their
ratio, and where the core engine's time goes (cumulative seconds per step class).

The graph engine runs `qiki run --engine graph` (one process per node, DDS, the step barrier); the core engine
runs `qiki run --engine core` (the same step classes in one process, no rclpy). Each case runs both engines
`--repeat` times, alternating; the real-time factors are summary.json's (sim seconds per wall second between the
first and the last /clock; start-up excluded), the best of the repeats (the least disturbed by other work on the
machine); CPU is the user + system time of the `qiki run` process and every process it waited for (the nodes,
the recorder), start-up included, the mean over the repeats: a figure other work on the machine hardly moves.
The per-step-class seconds are the core engine's `step_time_s` of its best run.
Usage: .venv/bin/python bench/bench_engines.py [--duration S] [--repeat N] [--domain-id N] [--cases bot_patrol,...]
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from qiki_tools.soak import bench_header, load_average

QIKI = Path(sys.executable).with_name("qiki")
CASES = {"bot_patrol": "bot", "ship_station_keeping": "ship", "bot_crossing": "bot", "ship_debris_field": "ship"}
STEPS = ("sim", "radar", "tracker", "agent", "scorer", "route")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(engine: str, profile: str, scenario: str, duration: float, domain_id: int) -> dict:
    """summary.json of one `qiki run`, with "cpu_s": the CPU time of its processes."""
    cpu0 = children_cpu_s()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(QIKI), "run", "--engine", engine, "--profile", profile, "--scenario", scenario,
               "--duration", str(duration), "--out", tmp]
        if engine == "graph":
            cmd += ["--domain-id", str(domain_id)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{engine} {scenario}: {proc.stderr.strip()[-300:]}")
        return {**json.loads((Path(tmp) / "summary.json").read_text()), "cpu_s": children_cpu_s() - cpu0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per case and engine")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each engine per case, alternating")
    ap.add_argument("--domain-id", type=int, default=160, help="ROS_DOMAIN_ID of the graph runs")
    ap.add_argument("--cases", default="bot_patrol,ship_station_keeping", help="scenarios, comma separated")
    args = ap.parse_args()
    print(bench_header())
    print("| scenario | sim s | graph RTF | core RTF | RTF ratio | graph CPU s | core CPU s | CPU ratio | "
          + " | ".join(f"core {s} s" for s in STEPS) + " |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(STEPS))
    for scenario in args.cases.split(","):
        profile = CASES[scenario]
        runs = {"graph": [], "core": []}
        for _ in range(args.repeat):
            for engine in runs:
                runs[engine].append(run(engine, profile, scenario, args.duration, args.domain_id))
        graph, core = (max(runs[e], key=lambda s: s["rtf"] or 0.0) for e in ("graph", "core"))
        cpu = {e: sum(r["cpu_s"] for r in runs[e]) / len(runs[e]) for e in runs}
        ratio = core["rtf"] / graph["rtf"] if graph["rtf"] and core["rtf"] else float("nan")
        steps = core["step_time_s"]
        print(f"| {scenario} | {core['sim_time_s']:.0f} | {graph['rtf']} | {core['rtf']} | {ratio:.1f} | "
              f"{cpu['graph']:.1f} | {cpu['core']:.1f} | {cpu['graph'] / cpu['core']:.1f} | "
              + " | ".join(f"{steps.get(s, 0.0):.2f}" for s in STEPS) + " |")
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
