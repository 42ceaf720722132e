"""The core engine runs in worker processes without ROS: nothing on its import path imports rclpy."""
import os
import subprocess
import sys


def test_core_engine_and_run_scenario_import_no_rclpy():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    code = ("import sys, qiki.engines, qiki.core_engine, qiki.core_recording, qiki.run_state, qiki.run_summary; "
            "assert 'rclpy' not in sys.modules, sorted(m for m in sys.modules if m.startswith('rclpy'))")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
