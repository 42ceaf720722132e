"""Lockstep cost of a fleet: real-time factor and per-step wall time of 1, 3 and 5 bots in one world, on the graph
(one radar, tracker, agent and scorer process per vehicle, one sim) and on the core engine, and where the time
goes (each node kind's CPU per step, summed over the vehicles).

The fleets come from config/scenarios/bot_fleet.yaml: its first vehicles (alpha, bravo, charlie) and, for 5, two
more (delta, echo) flying alpha's and bravo's loops 150 m east (written beside the scenario copy, with their
missions). Real-time factor: summary.json's (sim seconds per wall second between the first and the last /clock,
start-up excluded); wall per step = 1000 / (RTF x steps per sim second); `<kind> ms`: per step, summed over the
vehicles, on the graph the nodes' `cpu_p50_ms` (summary.json's node_health: CPU of the median step), on the core
engine the mean time in the step class (summary.json's step_time_s / steps); the lockstep
critical path of one step is the sim, then every vehicle's radar -> tracker -> agent (2 cores share the stacks),
then the DDS hops; `e2e p50/p99`: truth publish -> the first vehicle's command (summary.json e2e_latency_ms).
Usage: .venv/bin/python bench/bench_fleet.py [--duration S] [--sizes 1,3,5] [--engines graph,core] [--domain-id N]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from bench_engines import run   # one `qiki run` with its CPU time, as the engines bench takes it
from qiki_tools.soak import bench_header, load_average

CONFIG = Path(__file__).resolve().parents[1] / "config"
EXTRA = (("delta", "alpha"), ("echo", "bravo"))      # name, whose loop it flies 150 m east
SHIFT_M = 150.0
KINDS = ("sim", "radar", "tracker", "agent", "scorer")


def fleet_scenario(n: int, out: Path) -> Path:
    """bot_fleet with its first n vehicles (n <= 5), written to out/fleet_<n>.yaml with the missions it needs."""
    base = yaml.safe_load((CONFIG / "scenarios" / "bot_fleet.yaml").read_text())
    vehicles = base["vehicles"]
    missions = {v["name"]: CONFIG / "missions" / f"{v['mission']}.yaml" for v in vehicles}
    by_name = {v["name"]: v for v in vehicles}
    for i, (name, twin) in enumerate(EXTRA):
        mission = yaml.safe_load(missions[twin].read_text())
        mission["waypoints"] = [[x + SHIFT_M, y] for x, y in mission["waypoints"]]
        (out / f"bot_fleet_{name}.yaml").write_text(yaml.safe_dump(mission))
        ego = dict(by_name[twin]["ego"], x=by_name[twin]["ego"]["x"] + SHIFT_M)
        vehicles.append({**by_name[twin], "name": name, "mission": f"bot_fleet_{name}.yaml", "ego": ego,
                         "id": 104 + i, "transponder_code": 2004 + i})
    if n > len(vehicles):
        raise SystemExit(f"--sizes: at most {len(vehicles)} vehicles")
    scenario = out / f"fleet_{n}.yaml"
    scenario.write_text(yaml.safe_dump({**base, "name": f"fleet_{n}", "vehicles": vehicles[:n]}, sort_keys=False))
    return scenario


def ms_by_kind(summary: dict, steps: int) -> dict[str, float]:
    """Node kind -> milliseconds per step summed over the vehicles: the graph's nodes' cpu_p50_ms (node_health keys
    are `<vehicle>/<kind>` in a fleet), the core engine's mean time in each step class (step_time_s / steps)."""
    out = dict.fromkeys(KINDS, 0.0)
    if summary.get("engine") == "core":
        return {k: 1000.0 * float((summary.get("step_time_s") or {}).get(k, 0.0)) / steps for k in KINDS}
    for name, health in (summary.get("node_health") or {}).items():
        kind = name.rsplit("/", 1)[-1]
        if kind in out and "cpu_p50_ms" in health:
            out[kind] += float(health["cpu_p50_ms"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per run")
    ap.add_argument("--sizes", default="1,3,5", help="fleet sizes, comma separated (at most 5)")
    ap.add_argument("--engines", default="graph,core", help="graph, core or both")
    ap.add_argument("--domain-id", type=int, default=161, help="ROS_DOMAIN_ID of the graph runs")
    args = ap.parse_args()
    print(bench_header())
    print("| vehicles | engine | RTF | wall per step ms | CPU s | " + " | ".join(f"{k} ms" for k in KINDS)
          + " | e2e p50 / p99 ms | mission results |")
    print("|---|---|---|---|---|" + "---|" * len(KINDS) + "---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            scenario = fleet_scenario(n, Path(tmp))
            steps_per_s = 1.0 / yaml.safe_load(scenario.read_text())["dt_s"]
            for engine in args.engines.split(","):
                s = run(engine, "bot", str(scenario), args.duration, args.domain_id)
                rtf = float(s["rtf"] or 0.0)
                cpu = ms_by_kind(s, round(args.duration * steps_per_s))
                e2e = s.get("e2e_latency_ms") or {}
                results = ", ".join(f"{k} {v.get('mission_result')}" for k, v in (s.get("vehicles") or {}).items())
                print(f"| {n} | {engine} | {rtf:.2f} | {1000.0 / (rtf * steps_per_s) if rtf else float('nan'):.1f} | "
                      f"{s['cpu_s']:.1f} | " + " | ".join(f"{cpu[k]:.2f}" for k in KINDS) + " | "
                      f"{e2e.get('p50_ms', '-')} / {e2e.get('p99_ms', '-')} | {results or s.get('mission_result')} |",
                      flush=True)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
