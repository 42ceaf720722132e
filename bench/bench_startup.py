"""Repeated graph start-ups: how often does a healthy graph, with nothing injected, blame a producer for a
lost step (the agent's event 908, which its rules turn into SAFE_MODE) or enter SAFE_MODE while it starts?
(The expected answer is never.)

Each start-up runs the default scenario in lockstep, with the standbys `qiki run` keeps, until sim time
--until-s, then stops the graph; it counts agent transitions to SAFE_MODE, events 908, and (shown, not a
failure) the sim's events 906: a member more than `clock.member_timeout_s` of wall time behind, which on a
loaded machine happens at start-up and only sets the pace to real time until it catches up.

    .venv/bin/python bench/bench_startup.py                 # 20 start-ups
    .venv/bin/python bench/bench_startup.py --runs 5 --profile ship

tests/integration/test_fault_injection.py::test_repeated_start_ups_never_lose_a_step runs a few (`start_up`).
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

UPSTREAM_SILENT, NODE_SILENT = 908, 906     # qiki_ros.events.EventCode


@dataclass
class StartUp:
    wall_s: float
    reached_s: float
    safe_mode: list[dict]                 # agent transitions to SAFE_MODE
    blamed: list[tuple[float, int, str]]  # the agent's events UPSTREAM_SILENT
    slow: list[tuple[float, int, str]]    # the sim's events NODE_SILENT
    error: str = ""


def start_up(domain_id: int, profile: str = "bot", until_s: float = 5.0, timeout_s: float = 90.0,
             log_dir=None) -> StartUp:
    """Start the graph as `qiki run` does (lockstep, warm standbys), run it to sim time until_s, stop it."""
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    plan = make_plan(profile)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)        # the observer's participant joins the graph's domain
    observer = GraphObserver(plan.graph, streams=False)
    commands = [(n, cmd + ["-p", "clock.mode:=lockstep"] if n.name == "sim" else cmd)
                for n, cmd in plan.commands([observer.watcher])]
    t0 = time.monotonic()
    error = ""
    try:
        with GraphSupervisor(commands, graph_env(domain_id), log_dir=log_dir, standby=True) as sup:
            if not observer.wait_for(lambda s: s.sim_time_s >= until_s, timeout_s):
                error = f"sim time {observer.read(lambda s: s.sim_time_s):.2f} s after {timeout_s:g} s"
            if sup.dead():
                error = f"node died: {sup.dead()[0].spec.name}"
        observer.drain(quiet_s=0.3, timeout_s=5.0)
        return observer.read(lambda s: StartUp(
            time.monotonic() - t0, s.sim_time_s, [t for t in s.fsm_transitions if t["to"] == "SAFE_MODE"],
            [e for e in s.events if e[1] == UPSTREAM_SILENT], [e for e in s.events if e[1] == NODE_SILENT], error))
    finally:
        observer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--profile", default="bot")
    parser.add_argument("--until-s", type=float, default=5.0)
    parser.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "78")))
    args = parser.parse_args()
    print(f"# {args.runs} start-ups of {args.profile} (lockstep, standbys), each to sim t={args.until_s:g} s; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    bad = 0
    for i in range(args.runs):
        r = start_up(args.domain_id, args.profile, args.until_s)
        bad += bool(r.safe_mode or r.blamed or r.error)
        print(f"{i + 1:2d}: {r.wall_s:5.1f} s wall, reached t={r.reached_s:.2f} s, SAFE_MODE {len(r.safe_mode)}, "
              f"908 {len(r.blamed)} {r.blamed[:2] if r.blamed else ''}, 906 {len(r.slow)} {r.error}", flush=True)
    print(f"start-ups with a SAFE_MODE, a producer blamed (908) or an error: {bad}/{args.runs}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
