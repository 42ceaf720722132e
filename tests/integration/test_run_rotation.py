"""`qiki run` caps its output parent: with --keep-runs the oldest finished runs beside the new one go, the
new one stays, and no node writes a log file outside the run (rcl's per-process file in $ROS_LOG_DIR)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def test_run_removes_the_oldest_runs_and_writes_no_ros_log_files(tmp_path, domain_id, leftover_processes):
    runs = tmp_path / "runs"
    for i, name in enumerate(["20260101-000000-bot", "20260102-000000-bot", "20260103-000000-bot"]):
        (runs / name / "logs").mkdir(parents=True)
        (runs / name / "summary.json").write_text("{}")
        os.utime(runs / name / "summary.json", (1_700_000_000 + i, 1_700_000_000 + i))
    (runs / "notes").mkdir()                       # not a run: never touched
    ros_log = tmp_path / "ros_log"
    env = dict(os.environ, ROS_LOG_DIR=str(ros_log))
    proc = subprocess.run([str(QIKI), "run", "--duration", "2", "--keep-runs", "2", "--domain-id", str(domain_id)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "removed 2 oldest output(s)" in proc.stderr and "20260101-000000-bot .. 20260102-000000-bot" in proc.stderr
    left = sorted(p.name for p in runs.iterdir())
    new = [n for n in left if n not in ("20260103-000000-bot", "notes")]
    assert len(left) == 3 and "20260103-000000-bot" in left and "notes" in left and len(new) == 1
    assert json.loads((runs / new[0] / "summary.json").read_text())["sim_time_s"] >= 2.0
    assert not ros_log.exists() or not any(ros_log.rglob("*.log")), list(ros_log.rglob("*"))
    assert leftover_processes(domain_id) == []
