"""End-to-end latency, sim truth -> agent decision, with 1000 world objects in realtime at rate 1 (agent 10 Hz).

Per case, a scenario generated from a stock one with its random objects raised to N objects in all
(written to a temp dir), the whole graph started as `qiki run` does (qiki.plan + qiki.supervisor), and in
this process a LatencyWatch (qiki.latency_probe: truth and cmd receive times, paired by stamp) and the
GraphObserver (each node's qiki/<node> status on /diagnostics). Prints a Markdown table: end-to-end
p50/p95/p99/max after the warm-up, each node's processing latency (its diagnostics, whole run) and the load.
Usage: .venv/bin/python bench/bench_latency.py [--duration S] [--warmup S] [--objects N] [--cases bot,ship]
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from qiki_tools.soak import bench_header, load_average

# case -> (profile, stock scenario, key of its random objects)
CASES = {"bot": ("bot", "bot_crossing", "random_movers"), "ship": ("ship", "ship_debris_field", "random_debris")}
NODES = ("sim", "radar", "tracker", "agent", "scorer")


def scenario_with_objects(stock: Path, key: str, objects: int, out_dir: Path) -> Path:
    """The stock scenario with `key.count` set so that it holds `objects` objects in all."""
    data = yaml.safe_load(stock.read_text())
    data[key]["count"] = objects - len(data.get("objects", []))
    data["name"] = f"{data['name']}_{objects}"
    path = out_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_case(case: str, args, domain_id: int, tmp: Path) -> dict:
    from qiki.latency_probe import LatencyProbe, LatencyWatch
    from qiki.observer import GraphObserver
    from qiki.plan import config_dir, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    profile, stock, key = CASES[case]
    scenario = scenario_with_objects(config_dir() / "scenarios" / f"{stock}.yaml", key, args.objects, tmp)
    plan = make_plan(profile, str(scenario))
    env = graph_env(domain_id)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    observer = GraphObserver(plan.graph, streams=False)   # sim time and /diagnostics: not on the measured cores
    commands = plan.commands([observer.watcher])
    for node, cmd in commands:
        if not node.use_sim_time:
            cmd += ["-p", "clock.mode:=realtime", "-p", "clock.rate_factor:=1.0"]
    watch = LatencyWatch(plan.graph.topic_of("sim.truth"), plan.graph.topic_of("agent.cmd"),
                         LatencyProbe(warmup_ns=int(args.warmup * 1e9)))
    sup = GraphSupervisor(commands, env, tmp / "logs")
    try:
        sup.start()
        deadline, done = time.monotonic() + 3 * args.duration + 120, False
        while not done and not sup.dead() and time.monotonic() < deadline:
            done = observer.wait_for(lambda s: s.sim_time_s >= args.duration, timeout_s=1.0)
        dead = [f"{p.spec.name}: {p.last_lines(5)}" for p in sup.dead()]
        health = observer.read(lambda s: {k.removeprefix("qiki/"): dict(v["values"]) for k, v in s.diagnostics.items()})
        rtf = observer.read(lambda s: s.rtf())
    finally:
        sup.stop()
        watch.close()
        observer.close()
    if dead or not done:
        raise SystemExit(f"bench_latency: case {case}: " + ("; ".join(dead) if dead
                                                             else "the graph did not reach the duration"))
    return {"e2e": watch.probe.summary(), "health": health, "rtf": rtf}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per case (default 60)")
    ap.add_argument("--warmup", type=float, default=5.0, help="sim seconds of start-up not counted (default 5)")
    ap.add_argument("--objects", type=int, default=1000, help="world objects in all (default 1000)")
    ap.add_argument("--cases", default="bot,ship", help="comma-separated: bot, ship (default both)")
    ap.add_argument("--domain-id", type=int, default=160, help="ROS_DOMAIN_ID of the first case (+1 per case)")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {unknown} (valid: {', '.join(CASES)})")
    print(bench_header())
    rows = []
    for i, case in enumerate(cases):
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            r = run_case(case, args, args.domain_id + i, Path(tmp))
        e = r["e2e"]
        rows.append(f"| {case}, {args.objects} objects | {e['count']} | {e['p50_ms']} | {e['p95_ms']} | {e['p99_ms']} | "
                    f"{e['max_ms']} | {r['rtf']:.2f} | {time.monotonic() - t0:.0f} s |")
        nodes = ["| node | steps | processing p50 / p99 / max [ms] | its CPU p50 / p99 [ms] "
                 "| first input -> done p50 / p99 / max [ms] |", "|---|---|---|---|---|"]
        for name in NODES:
            v = r["health"].get(name, {})
            io = " / ".join(v.get(f"input_to_output_{k}_ms", "-") for k in ("p50", "p99", "max"))
            nodes.append(f"| {name} | {v.get('steps_total', '-')} | "
                         f"{' / '.join(v.get(f'latency_{k}_ms', '-') for k in ('p50', 'p99', 'max'))} | "
                         f"{' / '.join(v.get(f'cpu_{k}_ms', '-') for k in ('p50', 'p99'))} | {io} |")
        rows.append("\n" + f"{case}, per node (their /diagnostics at the end of the run):\n\n" + "\n".join(nodes) + "\n")
    print("| case | decisions | e2e p50 [ms] | p95 | p99 | max | real-time factor | wall |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(r for r in rows if r.startswith("| ")))
    print("".join("\n" + r for r in rows if not r.startswith("| ")))
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
