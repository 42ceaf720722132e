"""Fault recovery of the real graph: SIGKILL the tracker during `qiki run`; the runner restarts it (its warm
standby takes over, or with --no-standby a fresh process starts), tracks resume, the agent passes through
SAFE_MODE and returns to its mission, the summary records it.
How fast (the 3 s target) is measured by bench/bench_recovery.py, not asserted here."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def _pids_of(processes, executable: str) -> list[int]:
    """Oldest first: the running process, then its standby."""
    return [pid for pid, cmd in processes if f"/{executable} " in cmd]


@pytest.mark.parametrize("standby", [True, False], ids=["standby", "fresh-process"])
def test_sigkilled_tracker_is_restarted_tracks_resume_and_the_agent_recovers(domain_id, observer, tmp_path,
                                                                           leftover_processes, standby):
    out = tmp_path / "run"
    proc = subprocess.Popen([str(QIKI), "run", "--profile", "bot", "--duration", "600", "--out", str(out),
                             "--domain-id", str(domain_id)] + ([] if standby else ["--no-standby"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # steady state: on its mission, tracks confirmed, 10 s of sim time (every node announced many steps;
        # a node killed before its first StepDone is one still starting, waited for longer)
        assert observer.wait_for(lambda s: s.agent_state == "MISSION_ACTIVE" and "tracks" in s.seen_wall
                                 and s.sim_time_s >= 10.0, timeout_s=120), \
            f"graph never came up: {observer.state.agent_state}, sim {observer.state.sim_time_s} s"
        if standby:   # every warm standby (graph.yaml restart.standby: radar, tracker, agent), and no more
            from qiki.observer import standby_count
            names = observer.wait_for_standbys(timeout_s=60)
            assert names is not None, f"standbys never came up: {observer.node.get_node_names()}"
            assert standby_count(names) == observer.standbys, names
        trackers = _pids_of(leftover_processes(domain_id), "tracker_node")
        assert len(trackers) == (2 if standby else 1), trackers
        tracker = trackers[0]
        killed_sim_s = observer.read(lambda s: s.sim_time_s)
        killed = time.monotonic()
        os.kill(tracker, signal.SIGKILL)

        # the restarted tracker announces steps again: the agent's event 909 (the dead one's last messages
        # may still arrive after the kill, so tracks alone would not prove the new process works)
        def heartbeat_back(s):
            return any(code == 909 and "tracker" in text and t >= killed_sim_s for t, code, text in s.events)
        assert observer.wait_for(heartbeat_back, timeout_s=60), \
            f"the agent never heard the tracker again; events since the kill at t={killed_sim_s}: " \
            f"{[e for e in observer.state.events if e[0] >= killed_sim_s - 1][:20]}"
        back = time.monotonic()
        new_tracker = _pids_of(leftover_processes(domain_id), "tracker_node")[0]
        assert new_tracker == trackers[1] if standby else new_tracker != tracker
        assert observer.wait_for(lambda s: s.seen_wall["tracks"] > back, timeout_s=60), "tracks never resumed"
        resumed_after = observer.read(lambda s: s.seen_wall["tracks"]) - killed

        def after_kill(s):
            return [t for t in s.fsm_transitions if t["t_s"] >= killed_sim_s]

        def recovered(s):
            path = [t["to"] for t in after_kill(s)]
            return "SAFE_MODE" in path and path[-1] in ("IDLE", "MISSION_ACTIVE") and path.index("SAFE_MODE") < len(path) - 1
        assert observer.wait_for(recovered, timeout_s=60), f"agent path after the kill: {after_kill(observer.state)}"
        path = after_kill(observer.state)
        assert path[0]["to"] == "SAFE_MODE"
        assert any(t["from"] == "SAFE_MODE" and t["to"] == "IDLE" for t in path)   # rule `recovered`
        print(f"\ntracker SIGKILLed at sim {killed_sim_s:.1f} s: confirmed tracks again after {resumed_after:.2f} s "
              f"wall; agent {' -> '.join([path[0]['from']] + [t['to'] for t in path])}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)       # what a terminal's Ctrl-C does
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, stderr
    how = "its standby took over" if standby else "restarted"
    assert f"node 'tracker' exited with code -9: {how} (1 of 3" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["node"], r["exit_code"], r["attempt"], r["standby"]) for r in summary["restarts"]] == \
        [("tracker", -9, 1, standby)]
    # the runner's observer and this test's are separate subscribers, either may be a step or two behind
    assert abs(summary["restarts"][0]["sim_time_s"] - killed_sim_s) <= 1.0, (summary["restarts"], killed_sim_s)
    assert {n["name"]: n["exit_code"] for n in summary["nodes"]} == {n: 0 for n in
                                                                    ("sim", "radar", "tracker", "scorer", "agent")}
    assert any(t["to"] == "SAFE_MODE" for t in summary["fsm_transitions"])
    assert leftover_processes(domain_id) == []
