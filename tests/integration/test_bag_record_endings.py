"""How a `qiki bag record` ends when things go wrong, as real processes over Fast DDS: a full disk (a small
tmpfs this test mounts) stops the recording with one line naming the bag, the messages kept and the
reindex command; SIGKILL leaves the closed splits readable; and a recorder joining a running graph starts
now (not with the publishers' history) and, started and stopped 8 times, costs no node a step."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_bag_roundtrip import BAG_CMD, HELPER, Proc, bag_env  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration
STATE = "/qiki/sim/vehicle_state"
JOINS = 8    # recorders joining the running graph in turn (bench/bench_recorder_join.py: 30 and more)


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs mounted (and unmounted) by the test: a real disk-full error. (1 MiB was not always
    filled: one `qiki run --duration 6 --record`, its recorder subscribing volatile, wrote a 1,023,598-byte
    bag into it and exited 0.)"""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "qiki-test-disk", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _publisher(env, count: int, rate: float = 400.0) -> Proc:
    return Proc([sys.executable, str(HELPER), "publish", "--count", str(count), "--rate", str(rate)], env)


def test_a_full_disk_ends_the_recording_with_one_line_and_keeps_what_was_written(bag_env, small_disk):
    from qiki_bag.commands import parse_write_error

    bag = small_disk / "bag"
    rec = Proc(BAG_CMD + ["record", "-o", str(bag), "--topics", "/qiki/test/*", "/clock"], bag_env)
    pub = None
    try:
        assert rec.wait_line(lambda s: s.endswith(": ready"), 60, stream="err"), rec.log()
        pub = _publisher(bag_env, 4000)              # ~3.5 MB of frames: more than the disk holds
        assert rec.finish(timeout_s=120) == 1, rec.log()
    finally:
        rec.close()
        if pub is not None:
            pub.close()
    errors = [line for line in rec.err if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1, rec.log()
    assert str(bag) in errors[0] and f"qiki bag reindex {bag}" in errors[0], errors[0]
    kept, problem = parse_write_error(errors[0])
    assert kept > 0 and "No space left on device" in problem, errors[0]
    partial = list((bag / ".recording").rglob("*.mcap"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0, sorted(bag.rglob("*"))
    assert not (bag / "metadata.yaml.tmp").exists()


def test_qiki_run_record_on_a_full_disk_still_writes_its_summary(tmp_path, small_disk, domain_id,
                                                                 leftover_processes):
    """The run's bag directory is the small tmpfs: the recorder stops at the disk-full error, the graph
    runs on, and `qiki run` writes summary.json with the bag's state and exits non-zero."""
    out = tmp_path / "run"
    (out / "bag").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(small_disk), str(out / "bag")], check=True)
    try:
        proc = subprocess.run([str(Path(sys.executable).with_name("qiki")), "run", "--duration", "6", "--record",
                               "--out", str(out), "--domain-id", str(domain_id)],
                              capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["umount", "-l", str(out / "bag")], check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    bag = json.loads((out / "summary.json").read_text())["bag"]
    assert bag["path"] == "bag" and bag["state"] == "write_error", bag
    assert bag["messages"] > 0 and "No space left on device" in bag["error"], bag
    assert "did not complete (write_error)" in proc.stderr, proc.stderr[-3000:]
    assert leftover_processes(domain_id) == []


def _closed_splits(bag: Path) -> int:
    from ruamel.yaml import YAML
    meta = bag / "metadata.yaml"
    if not meta.exists():
        return 0
    return len(YAML(typ="safe").load(meta.read_text())["rosbag2_bagfile_information"]["relative_file_paths"])


def test_sigkill_leaves_the_closed_splits_readable(bag_env, tmp_path):
    from qiki_bag.reader import bag_info

    bag = tmp_path / "killed"
    rec = Proc(BAG_CMD + ["record", "-o", str(bag), "--topics", "/qiki/test/*", "/clock", "-b", "40K"], bag_env)
    pub = None
    try:
        assert rec.wait_line(lambda s: s.endswith(": ready"), 60, stream="err"), rec.log()
        pub = _publisher(bag_env, 100_000, rate=200.0)
        deadline = time.monotonic() + 60
        while _closed_splits(bag) < 2 and time.monotonic() < deadline and rec.popen.poll() is None:
            rec.wait_line(lambda s: False, 0.1, stream="err")    # poll metadata.yaml (replaced atomically)
        assert _closed_splits(bag) >= 2, rec.log()
        rec.signal(9)
        assert rec.finish(timeout_s=30) == -9
    finally:
        rec.close()
        if pub is not None:
            pub.close()
    info = bag_info(bag)                         # metadata.yaml lists the closed splits, each complete
    assert info.message_count > 0 and len(info.files) >= 2, info.format()
    # whether a split was open at the kill depends on the instant (a split is opened on its first message);
    # what a killed open split keeps is tested in src/qiki_bag/test/test_bag_damage.py


def test_recorders_joining_a_running_graph_start_now_and_cost_no_step(domain_id, observer, leftover_processes,
                                                                      tmp_path):
    """8 in-process recorders, each a DDS participant of its own, join the running lockstep graph, record
    until they have a vehicle state, and leave. Each recording starts at the graph's current step (no
    history), and no node misses a step or its heartbeat for it: no UPSTREAM_SILENT (908) event, the
    agent never leaves its nominal states for SAFE_MODE, from the first recorder on.
    bench/bench_recorder_join.py does the same with 30 (docs/RELIABILITY.md)."""
    from qiki_tools.recorder_churn import recorder_churn
    from qiki_ros.events import EventCode

    out = recorder_churn(domain_id, observer, tmp_path, JOINS)
    assert out.missing == [], f"recorders {out.missing} got no vehicle state within 30 s"
    assert len(out.lags_s) == JOINS and out.dead == [], out
    lag = max(out.lags_s)
    assert lag < 1.0, f"a recorder started in the past: its first vehicle state was {lag:.2f} s old"
    silent = [e for e in out.events if e[1] in (EventCode.UPSTREAM_SILENT, EventCode.UPSTREAM_RESUMED)]
    assert silent == [], silent
    assert "SAFE_MODE" not in out.states, out.states
    assert leftover_processes(domain_id) == []
    print(json.dumps({"recorders": JOINS, "max_first_message_age_s": round(lag, 3)}))
