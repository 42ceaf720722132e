"""Graph engine vs core engine: real-time factor of each on the same scenarios, side by side in one run, their
ratio, and where the core engine's time goes (cumulative seconds per step class).

The graph engine runs `qiki run --engine graph` (one process per node, DDS, the step barrier); the core engine
runs `qiki run --engine core` (the same step classes in one process, no rclpy). Both real-time factors are
summary.json's (sim seconds per wall second between the first and the last /clock; start-up excluded); the wall
column includes start-up.
Usage: .venv/bin/python bench/bench_engines.py [--duration S] [--domain-id N] [--cases bot_patrol,...]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from qiki_tools.soak import bench_header, load_average

QIKI = Path(sys.executable).with_name("qiki")
CASES = {"bot_patrol": "bot", "ship_station_keeping": "ship", "bot_crossing": "bot", "ship_debris_field": "ship"}
STEPS = ("sim", "radar", "tracker", "agent", "scorer", "route")


def run(engine: str, profile: str, scenario: str, duration: float, domain_id: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(QIKI), "run", "--engine", engine, "--profile", profile, "--scenario", scenario,
               "--duration", str(duration), "--out", tmp]
        if engine == "graph":
            cmd += ["--domain-id", str(domain_id)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{engine} {scenario}: {proc.stderr.strip()[-300:]}")
        return json.loads((Path(tmp) / "summary.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per case and engine")
    ap.add_argument("--domain-id", type=int, default=160, help="ROS_DOMAIN_ID of the graph runs")
    ap.add_argument("--cases", default="bot_patrol,ship_station_keeping", help="scenarios, comma separated")
    args = ap.parse_args()
    print(bench_header())
    print("| scenario | sim s | graph RTF | core RTF | ratio | graph wall s | core wall s | "
          + " | ".join(f"core {s} s" for s in STEPS) + " | core other s |")
    print("|---|---|---|---|---|---|---|" + "---|" * (len(STEPS) + 1))
    for scenario in args.cases.split(","):
        profile = CASES[scenario]
        graph = run("graph", profile, scenario, args.duration, args.domain_id)
        core = run("core", profile, scenario, args.duration, args.domain_id)
        steps = core["step_time_s"]
        other = core["wall_time_s"] - sum(steps.values())
        ratio = core["rtf"] / graph["rtf"] if graph["rtf"] and core["rtf"] else float("nan")
        print(f"| {scenario} | {core['sim_time_s']:.0f} | {graph['rtf']} | {core['rtf']} | {ratio:.1f} | "
              f"{graph['wall_time_s']:.1f} | {core['wall_time_s']:.2f} | "
              + " | ".join(f"{steps.get(s, 0.0):.2f}" for s in STEPS) + f" | {other:.2f} |")
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
