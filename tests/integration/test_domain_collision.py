"""One graph per ROS domain: a second `qiki run` on a domain with a running graph stops with one line (exit 2)
and leaves the first alone; the first, interrupted, says so in its summary. DDS discovery finds a QIKI graph
that no process of this machine's /proc scan would show (a participant publishing one of its topics)."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def test_second_run_on_a_busy_domain_is_refused_and_the_first_reports_its_interruption(
        tmp_path, domain_id, observer, leftover_processes):
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    first = subprocess.Popen([str(QIKI), "run", "--rate", "1", "--duration", "300", "--out", str(first_out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert observer.wait_for(lambda s: s.sim_time_s >= 1.0, timeout_s=120), "first graph never ran"
        second = subprocess.run([str(QIKI), "run", "--duration", "5", "--out", str(second_out)],
                                capture_output=True, text=True, timeout=120, env=env)
        assert second.returncode == 2, second.stderr[-2000:]
        assert second.stdout == "" and second.stderr.count("\n") == 1, second.stderr
        assert f"ROS domain {domain_id} already has a QIKI graph" in second.stderr
        assert "--domain-id" in second.stderr and "Traceback" not in second.stderr
        assert not second_out.exists()
        # the first graph is unaffected: still stepping, and ends only when told
        reached = observer.read(lambda s: s.sim_time_s)
        assert observer.wait_for(lambda s: s.sim_time_s >= reached + 0.5, timeout_s=60)
        assert first.poll() is None
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 128 + signal.SIGINT, err[-2000:]
    summary = json.loads((first_out / "summary.json").read_text())
    stopped = summary["interrupted"]
    assert stopped["by"] == "SIGINT" and stopped["duration_s"] == 300
    assert 1.5 <= stopped["sim_time_s"] == summary["sim_time_s"] < 300
    assert summary["domain_id"] == domain_id
    assert f"interrupted       by SIGINT at sim {stopped['sim_time_s']:.1f} s of 300 s" in out
    health = summary["health"]
    assert set(health["nodes"]) == {"sim", "radar", "tracker", "scorer", "agent"}
    assert health["nodes"]["sim"]["reports"] >= 1      # /diagnostics statuses were seen and kept
    assert health["level"] in ("OK", "WARN", "ERROR", "STALE")
    assert leftover_processes(domain_id) == []


def test_dds_discovery_finds_a_graph_topic_publisher_and_nothing_on_a_free_domain(domain_id):
    import rclpy
    from rclpy.qos import QoSProfile

    from qiki.domains import discovered_graph
    from qiki_msgs.msg import TrackArray
    from qiki_ros.spin_thread import private_context

    assert discovered_graph(domain_id, "qiki", ["/qiki/tracks"], wait_s=1.0) is None
    context = private_context()
    node = rclpy.create_node("other_tool", namespace="/elsewhere", context=context)
    node.create_publisher(TrackArray, "/qiki/tracks", QoSProfile(depth=1))
    try:   # returns as soon as discovery sees it; the wait bounds a machine under load
        assert discovered_graph(domain_id, "qiki", ["/qiki/tracks"], wait_s=60.0) == "publisher of /qiki/tracks"
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
