"""Real-time factor of the whole graph (sim + radar + tracker + agent processes over DDS) in lockstep.

Runs `qiki run --mode lockstep` per case and prints a Markdown table of the real-time factor measured
by the observer between the first and the last /clock (start-up excluded).
Usage: .venv/bin/python bench/bench_graph.py [--duration S] [--command-lag N] [--domain-id N]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from qiki_tools.soak import bench_header, load_average

QIKI = Path(sys.executable).with_name("qiki")
CASES = [("bot", "bot_patrol", "bot, 10 objects"), ("bot", "bot_crossing", "bot, 101 objects"),
         ("ship", "ship_station_keeping", "ship, 66 objects"), ("ship", "ship_debris_field", "ship, 84 objects")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per case")
    ap.add_argument("--command-lag", type=int, help="actuation latency in steps (default: the params files)")
    ap.add_argument("--domain-id", type=int, default=150, help="ROS_DOMAIN_ID of the first case (+1 per case)")
    args = ap.parse_args()
    lag = [] if args.command_lag is None else ["--command-lag", str(args.command_lag)]
    print(bench_header())
    print("| case | sim s | wall s (incl. start-up) | real-time factor | radar frames LR/SR | agent final |")
    print("|---|---|---|---|---|---|")
    for i, (profile, scenario, label) in enumerate(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([str(QIKI), "run", "--profile", profile, "--scenario", scenario, "--mode", "lockstep",
                                   "--duration", str(args.duration), "--out", tmp, "--domain-id", str(args.domain_id + i)] + lag,
                                  capture_output=True, text=True)
            if proc.returncode:
                print(f"| {label} | failed: {proc.stderr.strip()[-200:]} |")
                continue
            s = json.loads((Path(tmp) / "summary.json").read_text())
        print(f"| {label} | {s['sim_time_s']:.0f} | {s['wall_time_s']:.1f} | {s['rtf']} | "
              f"{s['frames']['lr']}/{s['frames']['sr']} | {s['agent_state_final']} |")
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
