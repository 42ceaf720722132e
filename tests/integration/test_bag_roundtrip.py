"""`qiki bag record` / `play` as real processes over Fast DDS: every published message is recorded (count per
topic), the bag decodes with nothing but its embedded definitions, playback delivers every message again,
SIGTERM/SIGINT finish the bag cleanly, and recording the whole QIKI graph misses nothing."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("bag_helper.py")
BAG_CMD = [sys.executable, "-m", "qiki_bag.commands"]
RECORDED = ("/qiki/test/events", "/qiki/test/frame", "/clock", "/qiki/test/status")


@pytest.fixture
def bag_env(monkeypatch):
    """Environment of this test's processes: a private ROS_DOMAIN_ID in 100-199, loopback discovery."""
    dom = random.Random(os.getpid() * 31 + time.monotonic_ns()).randrange(100, 200)
    env = dict(os.environ, ROS_DOMAIN_ID=str(dom), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src" / "qiki_bag")] + [p for p in [env.get("PYTHONPATH")] if p])
    monkeypatch.setenv("ROS_DOMAIN_ID", str(dom))          # for an in-process observer
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


class Proc:
    """A child process in its own session whose output lines are collected; killed (group) on close."""

    def __init__(self, cmd: list[str], env: dict, cwd: Path | None = None) -> None:
        self.cmd = cmd
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(s, dst), daemon=True)
                         for s, dst in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))]
        for t in self._threads:
            t.start()

    def _pump(self, stream, dst: list[str]) -> None:
        for line in stream:
            with self._changed:
                dst.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_line(self, pred, timeout_s: float, stream: str = "out") -> str | None:
        """The first line of stdout/stderr matching pred, waiting up to timeout_s (None on timeout/exit)."""
        lines = self.out if stream == "out" else self.err
        deadline = time.monotonic() + timeout_s
        with self._changed:
            seen = 0
            while True:
                for line in lines[seen:]:
                    if pred(line):
                        return line
                seen = len(lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not any(t.is_alive() for t in self._threads)):
                    return None
                self._changed.wait(min(left, 0.2))

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def finish(self, timeout_s: float = 30) -> int:
        rc = self.popen.wait(timeout=timeout_s)
        for t in self._threads:
            t.join(timeout=5)
        return rc

    def close(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=10)

    def log(self) -> str:
        return "\n".join(self.out[-20:] + self.err[-20:])


def _recorded_total(line: str) -> int | None:
    m = re.search(r"recorded (\d+) messages", line)
    return int(m.group(1)) if m else None


def _record(env, out: Path, *extra) -> Proc:
    return Proc(BAG_CMD + ["record", "-o", str(out), "--status-period", "0.2", *extra], env)


def _publish_and_stop(rec: Proc, pub: Proc, sig: int) -> dict[str, int]:
    """Wait for the publisher to finish and for the recorder to have logged every message, then signal it."""
    line = pub.wait_line(lambda s: s.startswith("PUBLISHED "), 90)
    assert line, f"publisher did not finish:\n{pub.log()}\n--- recorder:\n{rec.log()}"
    published = json.loads(line.split(" ", 1)[1])
    expected = sum(published[t] for t in RECORDED)
    got = rec.wait_line(lambda s: (_recorded_total(s) or 0) >= expected, 30, stream="err")
    rec.signal(sig)
    assert rec.finish() == 0, rec.log()
    assert got, f"recorder never logged {expected} messages:\n{rec.log()}"
    return published


def _fresh_strict_decode(path: Path) -> dict[str, list]:
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(Stores.EMPTY)
    out: dict[str, list] = {}
    with Reader(path) as reader:
        for conn in reader.connections:
            store.register({k: v for k, v in get_types_from_msg(conn.msgdef.data, conn.msgtype).items()
                            if k not in store.types})
        for conn, _stamp, data in reader.messages():
            out.setdefault(conn.topic, []).append(store.deserialize_cdr(data, conn.msgtype))  # strict
    return out


def test_record_counts_every_message_then_play_delivers_them(bag_env, tmp_path):
    from qiki_bag.reader import bag_info, open_bag

    bag = tmp_path / "roundtrip"
    procs = []
    try:
        rec = _record(bag_env, bag)
        procs.append(rec)
        pub = Proc([sys.executable, str(HELPER), "publish", "--count", "300", "--rate", "300",
                    "--latched", "5"], bag_env)
        procs.append(pub)
        published = _publish_and_stop(rec, pub, signal.SIGINT)
        pub.signal(signal.SIGTERM)
        assert pub.finish() == 0, pub.log()

        info = bag_info(bag)
        assert info.counts() == {t: published[t] for t in RECORDED}, rec.log()
        assert "/other/not_recorded" not in info.counts()
        assert dict((t.name, t.type) for t in info.topics)["/qiki/test/frame"] == "qiki_msgs/msg/RadarFrame"
        with open_bag(bag) as b:
            report = json.loads(b.custom_data["qiki_bag.publication_sequence"])
        assert {t: (r["published"], r["recorded"], r["missed"]) for t, r in report.items()} == {
            t: (published[t], published[t], 0) for t in RECORDED}

        decoded = _fresh_strict_decode(bag)                 # exact CDR from DDS, embedded definitions only
        assert [m.message for m in decoded["/qiki/test/events"]] == [f"event {i}" for i in range(300)]
        assert [m.frame_seq for m in decoded["/qiki/test/frame"]] == list(range(300))
        assert decoded["/qiki/test/frame"][7].range_m.tolist() == [float(7 + k) for k in range(50)]
        assert [m.state for m in decoded["/qiki/test/status"]] == [f"STATE_{i}" for i in range(5)]

        expect = {t: published[t] for t in RECORDED}
        counter = Proc([sys.executable, str(HELPER), "count", "--expect", json.dumps(expect), "--timeout", "60"],
                       bag_env)
        procs.append(counter)
        assert counter.wait_line(lambda s: s == "READY", 30), counter.log()
        play = Proc(BAG_CMD + ["play", str(bag), "--rate", "4", "--wait-for-subscribers", "30"], bag_env)
        procs.append(play)
        assert play.finish(timeout_s=90) == 0, play.log()
        line = counter.wait_line(lambda s: s.startswith("COUNTS "), 60)
        assert line, counter.log()
        assert json.loads(line.split(" ", 1)[1]) == expect
        assert counter.finish() == 0
    finally:
        for p in procs:
            p.close()


def test_sigterm_finishes_a_split_bag_cleanly_and_play_filters_topics(bag_env, tmp_path):
    from qiki_bag.reader import bag_info

    bag = tmp_path / "split"
    procs = []
    try:
        rec = _record(bag_env, bag, "--max-bag-size", "30K", "--topics", "/qiki/test/*", "/clock")
        procs.append(rec)
        pub = Proc([sys.executable, str(HELPER), "publish", "--count", "200", "--rate", "400",
                    "--latched", "3"], bag_env)
        procs.append(pub)
        published = _publish_and_stop(rec, pub, signal.SIGTERM)
        pub.signal(signal.SIGTERM)
        pub.finish()

        info = bag_info(bag)
        assert len(info.files) >= 3, info.format()
        assert [f.name for f in info.files] == [f"split_{i}.mcap" for i in range(len(info.files))]
        assert info.counts() == {t: published[t] for t in RECORDED}
        assert not (bag / ".recording").exists()
        assert "recorded" in rec.err[-2] and f"into {bag}" in rec.err[-2]

        expect = {"/qiki/test/events": published["/qiki/test/events"]}
        counter = Proc([sys.executable, str(HELPER), "count", "--expect", json.dumps(expect), "--timeout", "60"],
                       bag_env)
        procs.append(counter)
        assert counter.wait_line(lambda s: s == "READY", 30), counter.log()
        play = Proc(BAG_CMD + ["play", str(bag), "--rate", "10", "--topics", "/qiki/test/events",
                               "--wait-for-subscribers", "30"], bag_env)
        procs.append(play)
        assert play.finish(timeout_s=90) == 0, play.log()
        assert play.wait_line(lambda s: f"published {expect['/qiki/test/events']} messages" in s, 5,
                              stream="err"), play.log()
        line = counter.wait_line(lambda s: s.startswith("COUNTS "), 60)
        assert line and json.loads(line.split(" ", 1)[1]) == expect, counter.log()
    finally:
        for p in procs:
            p.close()


def test_play_of_a_cut_bag_publishes_every_complete_message(bag_env, tmp_path):
    """A split cut in the middle (a killed recorder, a partial copy): play publishes every message of the
    chunks before the cut, counted by an independent streaming reader, and warns once naming the file."""
    from mcap.stream_reader import StreamReader
    from qiki_bag.writer import BagWriter
    from rclpy.serialization import serialize_message

    from qiki_msgs.msg import Event

    with BagWriter(tmp_path / "cut") as w:
        w.add_topic("/qiki/test/events", "qiki_msgs/msg/Event")
        for i in range(1500):
            w.write("/qiki/test/events", 1_000_000 * (i + 1),
                    serialize_message(Event(code=i % 900, source="cut", message="x" * 100)))
    victim = tmp_path / "cut" / "cut_0.mcap"
    victim.write_bytes(victim.read_bytes()[:victim.stat().st_size // 2])
    complete = 0
    with victim.open("rb") as f:
        try:
            for record in StreamReader(f, validate_crcs=True).records:
                complete += type(record).__name__ == "Message"
        except Exception:                         # the cut ends what a streaming reader reads
            pass
    assert 0 < complete < 1500
    expect = {"/qiki/test/events": complete}
    procs = []
    try:
        counter = Proc([sys.executable, str(HELPER), "count", "--expect", json.dumps(expect), "--timeout", "60"],
                       bag_env)
        procs.append(counter)
        assert counter.wait_line(lambda s: s == "READY", 30), counter.log()
        play = Proc(BAG_CMD + ["play", str(tmp_path / "cut"), "--rate", "50", "--wait-for-subscribers", "30"],
                    bag_env)
        procs.append(play)
        assert play.finish(timeout_s=90) == 0, play.log()
        warnings = [line for line in play.err if "warning" in line]
        assert len(warnings) == 1 and str(victim) in warnings[0], play.log()
        assert any(f"published {complete} messages" in line for line in play.err), play.log()
        line = counter.wait_line(lambda s: s.startswith("COUNTS "), 60)
        assert line and json.loads(line.split(" ", 1)[1]) == expect, counter.log()
    finally:
        for p in procs:
            p.close()


def test_recording_the_whole_graph_misses_no_message(bag_env, tmp_path, leftover_processes):
    """The QIKI graph at its default rates, recorder started first. Per topic and publisher, the DDS
    publication sequence numbers count what was published: nothing published while recording is missing
    (no gap), and topics that keep history for late joiners (transient-local) and are published by the sim
    (which starts once its subscribers are there) or latched are complete from message 1. /clock is
    volatile (depth 1, as ROS clocks are): messages sent before its DDS match completes are not
    replayed to the recorder, so for /clock only the absence of gaps is asserted. Recorded as `qiki run
    --record` does (--include-history --use-sim-time), the bag's time line is the run's sim time."""
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    from qiki_bag.commands import time_line
    from qiki_bag.reader import bag_info, open_bag

    domain = int(bag_env["ROS_DOMAIN_ID"])
    bag = tmp_path / "graph"
    plan = make_plan("bot")
    rec = _record(bag_env, bag, "--include-history", "--use-sim-time",
                  "--graph", str(REPO / "config" / "graph.yaml"))      # what `qiki bag record` passes
    observer = None
    try:
        assert rec.wait_line(lambda s: "subscribed in advance" in s, 60, stream="err"), rec.log()
        observer = GraphObserver(plan.graph)
        with GraphSupervisor(plan.commands([observer.watcher]), graph_env(domain), log_dir=tmp_path / "logs") as sup:
            assert observer.wait_for(lambda s: s.sim_time_s >= 12.0, timeout_s=150), "graph did not run"
            assert sup.dead() == []
        rec.signal(signal.SIGINT)
        assert rec.finish(timeout_s=60) == 0, rec.log()
        sim_end = observer.read(lambda s: s.sim_time_s)
    finally:
        if observer is not None:
            observer.close()
        rec.close()
    info = bag_info(bag)
    assert time_line(bag).startswith("sim time")
    assert info.start_ns < 0.5e9 and abs(info.end_ns / 1e9 - sim_end) < 0.5, (info.format(), sim_end)
    with open_bag(bag) as b:
        report = json.loads(b.custom_data["qiki_bag.publication_sequence"])
    counts = info.counts()
    graph = {t.name: t for t in plan.graph.topics}
    ran = {t for t in graph if counts.get(t, 0) > 0}
    assert {"/clock", "/qiki/sim/vehicle_state", "/qiki/radar/lr/frame", "/qiki/radar/sr/frame",
            "/qiki/tracks", "/qiki/agent/status", "/qiki/events"} <= ran, info.format()
    assert set(report) == set(counts)
    for topic, r in report.items():
        assert r["recorded"] == counts[topic]
        assert r["gaps"] == 0, f"{topic}: messages dropped while recording: {r}"
        complete = topic in graph and graph[topic].qos != "clock" and (
            all(p.startswith("sim.") for p in graph[topic].pub) or graph[topic].qos in ("latched", "events"))
        if complete:
            assert (r["published"], r["missed"]) == (r["recorded"], 0), f"{topic}: {r}\n{rec.log()}"
    decoded = _fresh_strict_decode(bag)           # every type of the graph, from the bag's definitions
    assert {t: len(v) for t, v in decoded.items()} == {t: n for t, n in counts.items() if n}
    assert leftover_processes(domain) == []


def test_play_loop_with_clock_until_ctrl_c(bag_env, tmp_path):
    """--loop replays until Ctrl-C, --clock publishes /clock from the bag's time, exit code 0."""
    from rclpy.serialization import serialize_message

    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import Event

    with BagWriter(tmp_path / "loop") as w:
        w.add_topic("/qiki/test/events", "qiki_msgs/msg/Event")
        for i in range(20):
            w.write("/qiki/test/events", 1_700_000_000_000_000_000 + i * 50_000_000,
                    serialize_message(Event(code=i)))
    expect = {"/qiki/test/events": 60, "/clock": 20}          # three passes at least
    counter = Proc([sys.executable, str(HELPER), "count", "--expect", json.dumps(expect), "--timeout", "60"],
                   bag_env)
    play = None
    try:
        assert counter.wait_line(lambda s: s == "READY", 30), counter.log()
        play = Proc(BAG_CMD + ["play", str(tmp_path / "loop"), "--loop", "--rate", "5", "--clock", "50",
                               "--wait-for-subscribers", "30"], bag_env)
        line = counter.wait_line(lambda s: s.startswith("COUNTS "), 60)
        got = json.loads(line.split(" ", 1)[1]) if line else {}
        assert all(got.get(t, 0) >= n for t, n in expect.items()), f"{got}\n{play.log()}"
        play.signal(signal.SIGINT)
        assert play.finish(timeout_s=30) == 0, play.log()
        assert play.wait_line(lambda s: "published" in s, 5, stream="err")
    finally:
        counter.close()
        if play is not None:
            play.close()


def test_player_start_offset_rate_and_topic_filter_in_process(bag_env, tmp_path):
    """Player node in this process: --start-offset skips the first seconds, --rate scales the timing."""
    from rclpy.serialization import serialize_message

    from qiki_bag.commands import _ros_context
    from qiki_bag.player import Player
    from qiki_bag.reader import open_bag
    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import Event
    from std_msgs.msg import String

    t0 = 1_700_000_000_000_000_000
    with BagWriter(tmp_path / "offset") as w:
        w.add_topic("/qiki/a", "qiki_msgs/msg/Event")
        w.add_topic("/qiki/b", "std_msgs/msg/String")
        for i in range(40):                                   # 4 s of bag at 10 Hz per topic
            w.write("/qiki/a", t0 + i * 100_000_000, serialize_message(Event(code=i)))
            w.write("/qiki/b", t0 + i * 100_000_000 + 1, serialize_message(String(data=str(i))))
    with open_bag(tmp_path / "offset") as bag, _ros_context() as context:
        player = Player(bag, rate=4.0, start_offset_s=2.5, topics=["/qiki/a"], context=context)
        try:
            start = time.monotonic()
            assert player.play() == 15                        # messages 25..39 of /qiki/a only
            elapsed = time.monotonic() - start
        finally:
            player.destroy_node()
    assert player.counts == {"/qiki/a": 15}
    assert 1.4 / 4 <= elapsed < 1.4 / 4 + 3.5                 # 1.4 s of bag at rate 4 (+ ack flush)
