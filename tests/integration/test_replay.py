"""Replay regression (tests/fixtures/<profile>_replay, re-recorded by scripts/record_fixtures.py).

The recorded radar frames, vehicle state, device health and the sim's and radar's StepDone, replayed in
lockstep through real tracker and agent processes, reproduce bit for bit (canonical CDR: padding zeroed)
the tracks, agent status, events, commands and StepDone recorded with the whole graph -- and the replay
is bit-identical run to run. A failure here means the tracker's or the agent's outputs changed: if that
is intended, re-record the fixtures (see tests/fixtures/README.md).
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
PROFILES = ("bot", "ship")
MAX_FIXTURE_BYTES = 300_000


@pytest.fixture
def private_domain(monkeypatch):
    """A ROS_DOMAIN_ID in 100-199 for this test, loopback discovery (this process and its children)."""
    dom = random.Random(os.getpid() * 7 + time.monotonic_ns()).randrange(100, 200)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(dom))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return dom


@pytest.mark.parametrize("profile", PROFILES)
def test_fixture_is_small_and_complete(profile):
    from qiki.plan import make_plan
    from qiki_tools.replay import load_fixture, replay_topics
    from qiki_bag.reader import bag_info

    path = FIXTURES / f"{profile}_replay"
    assert path.is_dir(), f"{path} missing: run scripts/record_fixtures.py"
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size <= MAX_FIXTURE_BYTES, f"{path}: {size} bytes"
    fixture = load_fixture(path)
    assert (fixture.profile, fixture.scenario) == (profile, make_plan(profile).scenario)
    assert len(fixture.steps) >= 100 and fixture.steps == sorted(set(fixture.steps))
    topics = replay_topics(make_plan(profile).graph)
    counts = bag_info(path).counts()
    for topic in topics.inputs:
        assert counts.get(topic, 0) > 0, f"{path}: no {topic}"
    expected = fixture.expected
    assert all(expected.by_key[k] for k in topics.keys), {k: len(v) for k, v in expected.by_key.items()}
    assert len(expected.by_key[topics.step_done_key("/qiki/agent")]) == len(fixture.steps)
    assert [t[1:] for t in expected.transitions()][:2] == [("BOOTING", "IDLE"), ("IDLE", "MISSION_ACTIVE")]


@pytest.mark.parametrize("profile", PROFILES)
def test_replay_reproduces_the_recording_bit_identically_run_to_run(profile, private_domain, tmp_path,
                                                                    leftover_processes):
    from qiki_tools.replay import load_fixture, replay

    path = FIXTURES / f"{profile}_replay"
    expected = load_fixture(path).expected
    first = replay(path, profile, domain_id=private_domain, log_dir=tmp_path / "first")
    assert leftover_processes(private_domain) == []
    assert first.differences(expected) == [], "replay differs from the recording (intended? re-record " \
                                              "with scripts/record_fixtures.py)"
    assert first.transitions() == expected.transitions()
    second = replay(path, profile, domain_id=private_domain, log_dir=tmp_path / "second")
    assert leftover_processes(private_domain) == []
    assert second.differences(first) == []
    assert second.digests() == first.digests() == expected.digests()
    n = sum(len(v) for v in first.by_key.values())
    assert n > 3 * len(first.steps)
    print(f"{profile}: {len(first.steps)} steps, {n} outputs identical; replays took "
          f"{first.wall_time_s:.1f} s and {second.wall_time_s:.1f} s")


def test_canonical_cdr_ignores_padding_garbage_only():
    from rclpy.serialization import serialize_message

    from qiki_tools.replay import canonical_cdr, header_stamp_ns, output
    from qiki_bag.typestore import workspace_typestore
    from qiki_msgs.msg import Event, StepDone

    store = workspace_typestore()
    msg = StepDone(node="/qiki/agent", topics=["/qiki/cmd"], counts=[1])
    msg.header.stamp.sec, msg.header.stamp.nanosec = 3, 250_000_000
    clean = canonical_cdr(serialize_message(msg), "qiki_msgs/msg/StepDone", store)
    assert header_stamp_ns(clean) == 3_250_000_000
    # "/qiki/cmd\0" ends 2 bytes before the uint32 sequence length: those 2 bytes are padding
    pad = clean.index(b"/qiki/cmd\0") + len(b"/qiki/cmd\0")
    assert clean[pad:pad + 2] == b"\0\0"
    dirty = clean[:pad] + b"tr" + clean[pad + 2:]
    assert canonical_cdr(dirty, "qiki_msgs/msg/StepDone", store) == clean
    other = StepDone(node="/qiki/agent", topics=["/qiki/cmd"], counts=[2])
    other.header.stamp = msg.header.stamp
    assert output(serialize_message(other), "qiki_msgs/msg/StepDone", store).digest != \
        output(clean, "qiki_msgs/msg/StepDone", store).digest
    ev = serialize_message(Event(code=101, message="state machine /opt/x/share/qiki/config/fsm/bot.yaml"))
    ev2 = serialize_message(Event(code=101, message="state machine /work/install/share/qiki/config/fsm/bot.yaml"))
    assert output(ev, "qiki_msgs/msg/Event", store, ("/opt/x/share/qiki/config",)).digest == \
        output(ev2, "qiki_msgs/msg/Event", store, ("/work/install/share/qiki/config",)).digest


def test_replay_topics_come_from_the_graph():
    from qiki.plan import make_plan
    from qiki_tools.replay import replay_topics

    topics = replay_topics(make_plan("bot").graph)
    assert set(topics.inputs) == {"/qiki/sim/vehicle_state", "/qiki/sim/device_health", "/qiki/radar/lr/frame",
                                  "/qiki/radar/sr/frame", "/qiki/radar/frame"}
    assert topics.producers == ("/qiki/radar", "/qiki/sim")
    assert topics.replayed == ("/qiki/tracker", "/qiki/agent")
    assert topics.sync == "/qiki/sync/step_done"


def test_write_fixture_refuses_an_incomplete_recording(tmp_path):
    """A recording missing one message a StepDone announced cannot become a fixture."""
    from rclpy.serialization import deserialize_message, serialize_message

    from qiki_tools.replay import ReplayError, header_stamp_ns, write_fixture
    from qiki_bag.reader import open_bag
    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import StepDone, TrackArray

    def synthetic(out: Path, drop: str | None) -> Path:
        """The bot fixture's first 20 steps as a raw recording, tracks made up to match the StepDone."""
        with open_bag(FIXTURES / "bot_replay") as bag, BagWriter(out) as w:
            for c in bag.connections:
                w.add_topic(c.topic, c.msgtype, list(c.ext.offered_qos_profiles))
            for topic in ("/qiki/tracks", "/qiki/tracks/lr", "/qiki/tracks/sr"):
                w.add_topic(topic, "qiki_msgs/msg/TrackArray")
            dropped = False
            for conn, stamp, data in bag.messages():
                t = header_stamp_ns(bytes(data))
                if t > 1_900_000_000:
                    continue
                if conn.topic == drop and not dropped:
                    dropped = True
                    continue
                w.write(conn.topic, stamp, bytes(data))
                msg = deserialize_message(bytes(data), StepDone) if conn.topic == "/qiki/sync/step_done" else None
                if msg is not None and msg.node == "/qiki/tracker":
                    for topic, n in zip(msg.topics, msg.counts):
                        for _ in range(n):
                            tracks = TrackArray()
                            tracks.header.stamp = msg.header.stamp
                            w.write(topic, stamp, serialize_message(tracks))
        return out

    fixture = write_fixture(synthetic(tmp_path / "raw_ok", None), tmp_path / "ok", "bot", "bot_patrol")
    assert len(fixture.steps) == 20 and fixture.steps[-1] == 1_900_000_000
    assert len(fixture.expected.by_key["/qiki/tracks"]) > 0
    with pytest.raises(ReplayError, match="radar/lr/frame, the recording has 0"):
        write_fixture(synthetic(tmp_path / "raw_bad", "/qiki/radar/lr/frame"), tmp_path / "bad", "bot", "bot_patrol")


def test_player_replays_only_the_chosen_step_done_with_the_graph_qos(private_domain, tmp_path):
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    from qiki_bag.catalog import load_catalog
    from qiki_bag.commands import _ros_context
    from qiki_bag.player import Player, sync_filter
    from qiki_bag.reader import open_bag
    from qiki_ros import qos

    with open_bag(FIXTURES / "bot_replay") as bag, _ros_context() as context:
        player = Player(bag, rate=float("inf"), topics=["/qiki/sync/step_done"], context=context,
                        message_filter=sync_filter(["/qiki/sim", "/qiki/radar"]),
                        catalog=load_catalog(REPO / "config" / "graph.yaml"))
        try:
            published = player.play()
            q = player.publishers_by_topic["/qiki/sync/step_done"].qos_profile
        finally:
            player.destroy_node()
    steps = 151
    assert published == 2 * steps
    assert (q.reliability, q.durability, q.depth) == (ReliabilityPolicy.RELIABLE,
                                                      DurabilityPolicy.TRANSIENT_LOCAL, qos.SYNC.depth)


def test_background_recorder_is_ready_before_publishing_and_stops_cleanly(private_domain, tmp_path):
    """What `qiki run --record` uses: ready means subscribed; SIGINT leaves a complete bag."""
    import rclpy
    from rclpy.duration import Duration
    from rclpy.signals import SignalHandlerOptions

    from qiki_bag.background import BackgroundRecorder
    from qiki_bag.reader import bag_info
    from qiki_msgs.msg import Event
    from qiki_ros import qos

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src" / "qiki_bag")] +
                                                      [p for p in [os.environ.get("PYTHONPATH")] if p]))
    bag = tmp_path / "bag"
    rec = BackgroundRecorder(bag, private_domain, topics=["/qiki/events"], log_path=tmp_path / "bag.log",
                             env=env, compression="zstd", graph_file=REPO / "config" / "graph.yaml")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=private_domain, signal_handler_options=SignalHandlerOptions.NO)
    try:
        with rec:
            node = rclpy.create_node("qiki_test_events", context=context)
            pub = node.create_publisher(Event, "/qiki/events", qos.EVENTS)
            deadline = time.monotonic() + 30
            while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            for i in range(5):
                pub.publish(Event(code=100 + i, source="test"))
            pub.wait_for_all_acked(Duration(seconds=10))
            assert rec.wait_line(lambda line: "recorded 5 messages" in line, 20), rec.tail()
            node.destroy_node()
        assert rec.popen.returncode == 0
    finally:
        rec.kill()
        rclpy.shutdown(context=context)
    assert bag_info(bag).counts() == {"/qiki/events": 5}
    assert (tmp_path / "bag.log").read_text().splitlines().count("qiki bag record: ready") == 1
