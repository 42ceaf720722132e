"""Recovery after SIGKILL of one node (sim excepted): how long until the graph is back to nominal.

For each node, starts `qiki run` (bot, lockstep, the default graph), waits until the agent is on its
mission with confirmed tracks and scores, SIGKILLs the node and measures, in wall seconds from the kill:
- output: the node's output flows again (radar frames, confirmed tracks, track scores, agent status);
- rejoined: the graph steps with it again (the agent hears the radar's / tracker's StepDone: event 909;
  the sim hears the agent's: event 907; the scorer is outside the step barrier);
- nominal: the later of the two; and, for information, when the agent is back on its mission.
The kill comes once the warm standbys (graph.yaml `restart.standby`) are up, as in any run older than
a few seconds; "process restarted" is then the takeover by the standby.
Usage: .venv/bin/python bench/bench_recovery.py [--repeats N] [--domain-id N] [--nodes radar,...] [--out DIR]
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qiki_tools.soak import bench_header, load_average

QIKI = Path(sys.executable).with_name("qiki")
OUTPUT = {"radar": "frame", "tracker": "tracks", "scorer": "score", "agent": "status"}
REJOIN_EVENT = {"radar": 909, "tracker": 909, "agent": 907}   # UPSTREAM_RESUMED (agent), NODE_RESUMED (sim)


def node_pid(domain_id: int, executable: str) -> int | None:
    from qiki.supervisor import processes_in_domain
    return next((pid for pid, cmd in processes_in_domain(domain_id) if f"/{executable} " in cmd), None)


def one_case(node: str, domain_id: int, keep: Path | None) -> dict:
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki_ros.parent_death import die_with_parent
    obs = GraphObserver(make_plan().graph)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(keep / f"{node}-{domain_id}") if keep else scratch
        proc = subprocess.Popen([str(QIKI), "run", "--profile", "bot", "--duration", "3000", "--out", tmp,
                                 "--domain-id", str(domain_id)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=die_with_parent())   # SIGTERM to qiki run if this bench is killed
        try:
            # steady state (as tests/integration/test_recovery.py): every node announced many steps
            if not obs.wait_for(lambda s: s.agent_state == "MISSION_ACTIVE" and {"tracks", "score"} <= set(s.seen_wall)
                                and s.sim_time_s >= 10.0, timeout_s=120):
                return {"error": "graph never came up"}
            # and every warm standby (graph.yaml restart.standby) is up: its placeholder node is in the graph
            if obs.wait_for_standbys(timeout_s=60) is None:
                return {"error": f"fewer than {obs.standbys} standby processes after 60 s"}
            pid = node_pid(domain_id, f"{node}_node")
            killed_sim = obs.read(lambda s: s.sim_time_s)
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            restarted = None
            while restarted is None and time.monotonic() - killed < 30:
                new = node_pid(domain_id, f"{node}_node")
                restarted = time.monotonic() if new not in (None, pid) else time.sleep(0.01)   # polling /proc
            if restarted is None:
                return {"error": "not restarted within 30 s"}

            def output(s):       # from the new process: the old one's last messages may still be in flight
                return s.seen_wall.get(OUTPUT[node], 0) > restarted

            def rejoined(s):
                return node == "scorer" or any(code == REJOIN_EVENT[node] and node in text and t >= killed_sim
                                               for t, code, text in s.events)

            def on_mission(s):   # left it (SAFE_MODE, or a reboot whose first statuses we may miss) and back
                left = any(t["t_s"] >= killed_sim for t in s.fsm_transitions) or output(s) and node == "agent"
                return node == "scorer" or (left and s.agent_state == "MISSION_ACTIVE")
            checks = {"output": output, "rejoined": rejoined, "mission": on_mission}
            first: dict[str, float] = {}

            def all_true(s) -> bool:   # evaluated on every message: records when each check first held
                for name, check in checks.items():
                    if name not in first and check(s):
                        first[name] = time.monotonic()
                return len(first) == len(checks)
            if not obs.wait_for(all_true, timeout_s=90):
                return {"error": f"not back within 90 s: only {sorted(first)}"}
            path = obs.read(lambda s: [t["to"] for t in s.fsm_transitions if t["t_s"] >= killed_sim])
            r = {k: v - killed for k, v in first.items()}
            return {"restart": restarted - killed, "output": r["output"], "rejoined": r["rejoined"],
                    "nominal": max(r["output"], r["rejoined"]), "mission": None if node == "scorer" else r["mission"],
                    "path": path}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=60)
            obs.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1, help="kills per node")
    ap.add_argument("--domain-id", type=int, default=160, help="ROS_DOMAIN_ID of the first case (+1 per case)")
    ap.add_argument("--nodes", default="radar,tracker,scorer,agent", help="comma-separated nodes to kill")
    ap.add_argument("--out", type=Path, help="keep each case's run directory (node logs, summary) under OUT")
    args = ap.parse_args()
    last = args.domain_id + len(args.nodes.split(",")) * args.repeats - 1
    from qiki.domains import DOMAIN_MAX
    if not 0 <= args.domain_id or last > DOMAIN_MAX:   # Fast DDS derives UDP ports from the domain id
        ap.error(f"--domain-id {args.domain_id}: the cases use domains {args.domain_id}..{last}, "
                 f"ROS_DOMAIN_ID must stay within 0..{DOMAIN_MAX}")
    print(bench_header())
    print("| node killed | process replaced [s] | output again [s] | graph steps with it again [s] | "
          "back to nominal [s] | agent back on mission [s] | agent path after the kill |")
    print("|---|---|---|---|---|---|---|")
    case = 0
    for node in args.nodes.split(","):
        for _ in range(args.repeats):
            r = one_case(node, args.domain_id + case, args.out)
            case += 1
            if "error" in r:
                print(f"| {node} | failed: {r['error']} |")
                continue
            mission = f"{r['mission']:.2f}" if r["mission"] is not None else "-"
            print(f"| {node} | {r['restart']:.2f} | {r['output']:.2f} | {r['rejoined']:.2f} | {r['nominal']:.2f} | {mission} | "
                  f"{' -> '.join(r['path']) or '(no change)'} |", flush=True)
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
