"""Strict lockstep (`sim.clock.agent_timeout_s` 0) never starts without its barrier members: the vehicle's stack,
started elsewhere long after the sim's start-up timeout (here on this host, after the sim said it waits), still
runs the whole scenario, and the waiting sim reports WARN on /diagnostics meanwhile. Started without them, the
sim's first step would go to nobody (streams are volatile) and the graph would wait for it forever."""
import hashlib
import json
import os

import pytest

from netns_hosts import finish, start_qiki, wait_for_line
from qiki_ros.node_health import WARN
from test_engines import STRICT, set_args

pytestmark = pytest.mark.integration
QUICK_START = set_args("sim.start.wait_timeout_s=0.5", "sim.sync.gate_timeout_s=0.5")


def sim_level(state) -> int | None:
    """The sim's latest /diagnostics level as the observer saw it."""
    return next((d["level"] for name, d in state.diagnostics.items() if name.endswith("/sim")), None)


def test_strict_lockstep_waits_for_members_that_come_late(tmp_path, domain_id, observer, leftover_processes):
    run_id = f"run-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]}"
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    out = tmp_path / "world"

    def qiki(args: list[str], log: str):
        return start_qiki([*args, "--run-id", run_id, "--scenario", "bot_patrol", *STRICT], env, tmp_path / log)

    world = qiki(["run", "--nodes", "sim,scorer", "--duration", "3", "--out", str(out), *QUICK_START], "world.log")
    stack = None
    try:
        assert wait_for_line(out / "logs" / "sim.log", "the first step waits for the barrier members", world, 120), \
            (tmp_path / "world.log").read_text()[-3000:]
        assert observer.wait_for(lambda s: sim_level(s) == WARN, timeout_s=60), "the waiting sim did not report WARN"
        stack = qiki(["bringup", "--nodes", "radar,tracker,agent"], "stack.log")
        world_rc = finish(world, 180)
    finally:
        stack_rc = finish(stack, 0) if stack is not None else None
        finish(world, 0)
    assert world_rc == 0, (tmp_path / "world.log").read_text()[-3000:]
    assert stack_rc == 0, (tmp_path / "stack.log").read_text()[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is False and summary["sim_time_s"] == pytest.approx(3.0)
    assert summary["agent_state_final"] not in ("", None)
    sim_health = summary["health"]["nodes"]["sim"]
    assert sim_health["worst"] == "WARN" and "the first step waits for" in sim_health["why"], sim_health
    assert "the first step waits for" not in sim_health["final_message"], sim_health   # over once all were there
    sim_log = (out / "logs" / "sim.log").read_text()
    assert "starting without subscribers" not in sim_log and "waiting for the agent to finish" not in sim_log
    assert leftover_processes(domain_id) == []
