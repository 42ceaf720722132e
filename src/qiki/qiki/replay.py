"""Replay regression: drive the tracker and the agent from a recorded bag, in lockstep, and collect what
they publish.

The step barrier makes a node's outputs a function of its stamped inputs alone (see qiki_ros.step_barrier).
So replaying the inputs of the tracker and the agent -- the sim's vehicle state and device health, the
radar's frames, and the StepDone announcements of the sim and the radar -- must reproduce, bit for bit,
the tracks, agent status, events, actuator commands and StepDone announcements recorded with the whole
graph. Only those two node processes are started (their command lines from :func:`qiki.plan.make_plan`,
with the graph's parameters and ``sync.upstream``); this process plays the bag into them (qiki_bag's
Player, no timing: paced on the agent's progress) and subscribes to their outputs.

    >>> out = replay("tests/fixtures/bot_replay", domain_id=123)            # doctest: +SKIP
    >>> out.differences(load_fixture("tests/fixtures/bot_replay").expected)  # doctest: +SKIP
    []

A *fixture* is a rosbag2 (MCAP, zstd) directory holding the replay inputs plus the small outputs in full
(agent status, events, commands, every node's StepDone), and ``replay.json`` beside ``metadata.yaml``: the
profile and scenario, the replayed steps, and the SHA-256 of every recorded TrackArray (the full track
arrays would make the fixtures megabytes). :func:`write_fixture` makes one from a recording of the whole
graph (``scripts/record_fixtures.py``).

Outputs are compared as SHA-256 digests of their canonical CDR (:func:`canonical_cdr`: the bytes as
published, alignment padding zeroed), per output in publication order: equal digests mean bit-identical
messages. Recording and replay run the nodes with :data:`DETERMINISM_ENV`.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPLAYED_NODES = ("tracker", "agent")
COLLECTOR_NODE = "qiki_replay_collector"   # the replayed nodes' publishers wait for it by name
# Outputs compared, as <node>.<port> of config/graph.yaml (markers, BIOS and diagnostics are not stepped).
OUTPUT_PORTS = ("tracker.tracks_lr", "tracker.tracks_sr", "tracker.tracks", "agent.status", "agent.events",
                "agent.cmd")
# Outputs too large to keep in a fixture bag: only their digests go to replay.json.
DIGEST_ONLY_PORTS = ("tracker.tracks_lr", "tracker.tracks_sr", "tracker.tracks")
STEP_DONE_KEY = "{topic} {node}"            # output key of one node's StepDone announcements
FIXTURE_FILE = "replay.json"
FIXTURE_FORMAT = 1
# Pin the numeric code paths of numpy (SIMD dispatch) and OpenBLAS (kernel, threads), so that float
# results do not depend on which x86-64 CPU runs the replay (AVX2/FMA is the common ground); used both when
# recording the fixtures and when replaying them.
DETERMINISM_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell",
                   "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
# Lockstep, as the sim runs the graph: the inputs of step t go out once the agent finished step t-1. Running
# further ahead would let a consumer's barrier see a later step complete before an earlier one whose
# message on another topic is still in flight (DDS orders messages per writer only, and at start-up each
# topic's endpoints match separately): the barrier then skips the earlier step and the outputs change.
STEPS_AHEAD = 1


class ReplayError(RuntimeError):
    """The replay could not run to its last step (node died, stalled, messages lost, bad fixture)."""


# ---------------------------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class Output:
    stamp_ns: int                  # header stamp: the sim step that produced it
    digest: str                    # SHA-256 of the canonical CDR bytes
    data: bytes | None = None      # the canonical CDR bytes (None for outputs kept as digests only)
    msgtype: str = ""


CONFIG_PLACEHOLDER = "$QIKI_CONFIG"


def canonical_cdr(data: bytes, msgtype: str, store, config_dirs: tuple[str, ...] = ()) -> bytes:
    """The message's CDR with its alignment padding zeroed (decoded and encoded again with rosbags) and
    a StepDone's incarnation and run id zeroed.

    Publishers serialise into buffers that are not cleared, so the padding bytes between fields of the
    same message can differ from one run to the next; every field's bytes are kept as they are, except
    that in an Event's text the installed config directory (``config_dirs``: where the fixture was
    recorded, or where it is replayed) reads ``$QIKI_CONFIG`` (the agent's boot event names its files).
    Surplus bytes after the message (``rclpy.serialization.serialize_message`` leaves some) are dropped."""
    from qiki_bag.reader import deserialize
    msg = deserialize(store, bytes(data), msgtype)
    if msgtype == "qiki_msgs/msg/StepDone":
        msg.incarnation = 0     # which process ran (a start time), not what it computed
        msg.run_id = ""         # which graph run, likewise
    if msgtype == "qiki_msgs/msg/Event" and config_dirs:
        text = msg.message
        for path in sorted(config_dirs, key=len, reverse=True):
            text = text.replace(path, CONFIG_PLACEHOLDER)
        msg.message = text
    return bytes(store.serialize_cdr(msg, msgtype))


def output(data: bytes, msgtype: str, store, config_dirs: tuple[str, ...] = ()) -> Output:
    """Output of one received or recorded message: its canonical CDR and the digest of that."""
    canon = canonical_cdr(data, msgtype, store, config_dirs)
    return Output(header_stamp_ns(canon), hashlib.sha256(canon).hexdigest(), canon, msgtype)


def config_dirs() -> tuple[str, ...]:
    """The installed config directory as the node parameters name it (resolved) and as found."""
    from qiki.plan import config_dir
    return tuple(dict.fromkeys((str(config_dir().resolve()), str(config_dir()))))


@dataclass
class Outputs:
    """What the tracker and the agent published, per output key (a topic, or ``'<sync topic> <node>'`` for
    StepDone) in publication order, for steps ``steps[0]`` .. ``steps[-1]``."""

    by_key: dict[str, list[Output]]
    steps: list[int]
    wall_time_s: float = 0.0

    def digests(self) -> dict[str, list[tuple[int, str]]]:
        return {k: [(o.stamp_ns, o.digest) for o in v] for k, v in sorted(self.by_key.items())}

    def differences(self, expected: Outputs, limit: int = 3) -> list[str]:
        """Human-readable differences from ``expected`` (empty: bit-identical), first ones per output."""
        out = []
        for key in sorted(set(self.by_key) | set(expected.by_key)):
            got, want = self.by_key.get(key, []), expected.by_key.get(key, [])
            if [(o.stamp_ns, o.digest) for o in got] == [(o.stamp_ns, o.digest) for o in want]:
                continue
            line = f"{key}: {len(got)} messages, expected {len(want)}"
            diffs = [i for i in range(min(len(got), len(want)))
                     if (got[i].stamp_ns, got[i].digest) != (want[i].stamp_ns, want[i].digest)]
            for i in diffs[:limit]:
                line += (f"; #{i} at t={got[i].stamp_ns / 1e9:.3f} s differs"
                         + (f" (expected t={want[i].stamp_ns / 1e9:.3f} s)" if got[i].stamp_ns != want[i].stamp_ns
                            else ""))
            out.append(line)
        return out

    def messages(self, key: str) -> list:
        """Decoded messages of one output (those kept in full)."""
        from qiki_bag.recorder import import_message
        from rclpy.serialization import deserialize_message
        return [deserialize_message(o.data, import_message(o.msgtype)) for o in self.by_key.get(key, [])
                if o.data is not None]

    def tracks(self, topic: str = "/qiki/tracks") -> list[tuple[int, list[int], list[int], bytes]]:
        """Per TrackArray: (stamp_ns, track ids, statuses, state as float64 bytes)."""
        return [(from_ns(m.header.stamp), list(m.id), list(m.status), m.state.tobytes())
                for m in self.messages(topic)]

    def transitions(self, status_topic: str = "/qiki/agent/status") -> list[tuple[int, str, str]]:
        """Agent state transitions (stamp_ns, from, to) seen on its status (as `qiki run` counts them)."""
        out, state = [], ""
        for m in self.messages(status_topic):
            if m.state != state and (state or m.previous_state):
                out.append((from_ns(m.header.stamp), m.previous_state or state, m.state))
            state = m.state
        return out


def from_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def header_stamp_ns(data: bytes) -> int:
    """Stamp of the std_msgs/Header that starts a message, read from its CDR bytes (no decoding)."""
    sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)
    return sec * 1_000_000_000 + nanosec


# ---------------------------------------------------------------------------------------------- the graph
@dataclass(frozen=True)
class ReplayTopics:
    """Topic names of a replay, from the graph description."""

    namespace: str
    inputs: tuple[str, ...]            # data topics the replayed nodes read and other nodes publish
    producers: tuple[str, ...]         # fully qualified nodes whose StepDone is replayed (/qiki/sim ...)
    replayed: tuple[str, ...]          # fully qualified replayed nodes (/qiki/tracker, /qiki/agent)
    outputs: tuple[str, ...]           # compared output topics
    digest_only: tuple[str, ...]
    sync: str                          # the StepDone topic
    types: dict[str, str]              # topic -> message type, every topic of the graph

    def step_done_key(self, node: str) -> str:
        return STEP_DONE_KEY.format(topic=self.sync, node=node)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.outputs + tuple(self.step_done_key(n) for n in self.replayed)


def replay_topics(graph) -> ReplayTopics:
    from qiki.graph import SYNC_TYPE
    replayed = set(REPLAYED_NODES)
    inputs, producers = [], set()
    for t in graph.topics:
        if t.type == SYNC_TYPE:
            continue
        pubs = {p.partition(".")[0] for p in t.pub}
        if any(s.partition(".")[0] in replayed for s in t.sub) and not pubs & replayed:
            inputs.append(t.name)
    for node in REPLAYED_NODES:
        producers.update(n for n in graph.upstream(node) if n not in replayed)
    ns = "/" + graph.namespace.strip("/")
    sync = next(t.name for t in graph.topics if t.type == SYNC_TYPE)
    return ReplayTopics(ns, tuple(inputs), tuple(f"{ns}/{n}" for n in sorted(producers)),
                        tuple(f"{ns}/{n}" for n in REPLAYED_NODES), tuple(graph.topic_of(p) for p in OUTPUT_PORTS),
                        tuple(graph.topic_of(p) for p in DIGEST_ONLY_PORTS), sync,
                        {t.name: t.type for t in graph.topics})


def _load_graph():
    from qiki.graph import load_graph
    from qiki.plan import config_dir
    return load_graph(config_dir() / "graph.yaml")


# ---------------------------------------------------------------------------------------------- fixtures
@dataclass
class Fixture:
    path: Path
    profile: str
    scenario: str
    steps: list[int]               # sim steps replayed, in order [ns]
    expected: Outputs              # what the whole graph published for them
    meta: dict = field(default_factory=dict)
    run_id: str = ""                # sync.run_id of the recorded graph (its StepDone carry it)


def _classify(topics: ReplayTopics, topic: str, data: bytes):
    """Output key of a recorded message (None when it is not a compared output): StepDone and events count
    only when a replayed node sent them."""
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import Event, StepDone
    if topic == topics.sync:
        node = deserialize_message(bytes(data), StepDone).node
        return topics.step_done_key(node) if node in topics.replayed else None
    if topic not in topics.outputs:
        return None
    if topics.types[topic] == "qiki_msgs/msg/Event":
        source = deserialize_message(bytes(data), Event).source
        return topic if f"{topics.namespace}/{source}" in topics.replayed else None
    return topic


def load_fixture(path: Path | str) -> Fixture:
    """A fixture directory: its replay.json, its steps and the outputs recorded for them."""
    from qiki_bag.reader import open_bag
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import StepDone

    path = Path(path)
    meta_file = path / FIXTURE_FILE
    if not meta_file.is_file():
        raise ReplayError(f"{path}: not a replay fixture (no {FIXTURE_FILE}); record it with "
                          "scripts/record_fixtures.py")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FIXTURE_FORMAT:
        raise ReplayError(f"{meta_file}: format {meta.get('format')}, this version reads {FIXTURE_FORMAT}")
    topics = replay_topics(_load_graph())
    last = int(meta["last_step_ns"])
    by_key: dict[str, list[Output]] = {k: [] for k in topics.keys}
    steps: set[int] = set()
    run_id = ""
    with open_bag(path) as bag:
        for conn, _stamp, data in bag.messages():
            data = bytes(data)
            if header_stamp_ns(data) > last:
                continue
            if conn.topic == topics.sync:
                msg = deserialize_message(data, StepDone)
                if msg.node in topics.producers:
                    steps.add(from_ns(msg.header.stamp))
                    run_id = msg.run_id
            key = _classify(topics, conn.topic, data)
            if key is not None and conn.topic not in topics.digest_only:
                by_key[key].append(output(data, conn.msgtype, bag.typestore, tuple(meta.get("config_dirs", ()))))
    for topic in topics.digest_only:
        by_key[topic] = [Output(int(t), d) for t, d in meta["digests"].get(topic, [])]
    steps = sorted(steps)
    if len(steps) != meta["steps"] or (steps and steps[-1] != last):
        raise ReplayError(f"{path}: the bag holds {len(steps)} steps up to {steps[-1] if steps else '-'} ns, "
                          f"{FIXTURE_FILE} says {meta['steps']} up to {last} ns")
    return Fixture(path, meta["profile"], meta["scenario"], steps, Outputs(by_key, steps), meta, run_id)


def write_fixture(recording: Path | str, out_dir: Path | str, profile: str, scenario: str,
                  last_step_ns: int | None = None, note: str = "") -> Fixture:
    """Make a replay fixture from a bag of the whole graph (``qiki bag record`` next to ``qiki run``).

    Keeps the steps up to ``last_step_ns`` (default: the last one every node finished), after checking
    that for each of them every node announced StepDone and every message it listed is in the recording.
    Writes the replay inputs and the small outputs into a zstd MCAP bag and the digests of the tracks
    into replay.json."""
    from qiki_bag.reader import open_bag
    from qiki_bag.writer import BagWriter
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import StepDone

    out_dir = Path(out_dir)
    topics = replay_topics(_load_graph())
    everyone = topics.producers + topics.replayed
    kept_topics = set(topics.inputs) | set(topics.outputs) | {topics.sync}
    done: dict[str, dict[int, dict[str, int]]] = {n: {} for n in everyone}
    counts: dict[tuple[str, int], int] = {}
    with open_bag(recording) as bag:
        recorded = {c.topic for c in bag.connections}
        missing = sorted((set(topics.inputs) | set(topics.outputs) | {topics.sync}) - recorded)
        if missing:
            raise ReplayError(f"{recording}: no message on {', '.join(missing)}")
        report = json.loads(bag.custom_data.get("qiki_bag.publication_sequence", "{}"))
        missed = {t: r["missed"] for t, r in report.items() if t in kept_topics and r.get("missed")}
        if missed:           # e.g. a latched status published twice before the recorder matched its writer
            raise ReplayError(f"{recording}: the recorder missed messages the graph published: "
                              + ", ".join(f"{t} {n}" for t, n in sorted(missed.items())))
        for conn, _stamp, data in bag.messages(sorted(kept_topics)):
            t = header_stamp_ns(bytes(data))
            counts[(conn.topic, t)] = counts.get((conn.topic, t), 0) + 1
            if conn.topic == topics.sync:
                msg = deserialize_message(bytes(data), StepDone)
                if msg.node in done:
                    done[msg.node][t] = dict(zip(msg.topics, msg.counts))
        sim_steps = sorted(set().union(*(done[n] for n in topics.producers)))
        finished = [t for t in sim_steps if all(t in done[n] for n in everyone)]
        if not finished:
            raise ReplayError(f"{recording}: no step was finished by all of {', '.join(everyone)}")
        if last_step_ns is not None and last_step_ns > finished[-1]:
            raise ReplayError(f"{recording}: the last step every node finished is t={finished[-1] / 1e9:.3f} s, "
                              f"before t={last_step_ns / 1e9:.3f} s")
        steps = [t for t in sim_steps if t <= (finished[-1] if last_step_ns is None else last_step_ns)]
        last = steps[-1]
        for t in steps:
            for node in everyone:
                if t not in done[node]:
                    raise ReplayError(f"{recording}: {node} did not announce step t={t / 1e9:.3f} s")
                for topic, n in done[node][t].items():
                    if topic in kept_topics and counts.get((topic, t), 0) != n:
                        raise ReplayError(f"{recording}: step t={t / 1e9:.3f} s: {node} published {n} on "
                                          f"{topic}, the recording has {counts.get((topic, t), 0)}")
        digests: dict[str, list] = {topic: [] for topic in topics.digest_only}
        with BagWriter(out_dir, compression="zstd") as writer:
            for conn in bag.connections:
                if conn.topic in kept_topics and conn.topic not in topics.digest_only:
                    writer.add_topic(conn.topic, conn.msgtype, list(conn.ext.offered_qos_profiles),
                                     msgdef=conn.msgdef.data, rihs01=conn.digest)
            for conn, stamp, data in bag.messages(sorted(kept_topics)):
                data = bytes(data)
                t = header_stamp_ns(data)
                if t > last:
                    continue
                if conn.topic in topics.digest_only:
                    digests[conn.topic].append([t, output(data, conn.msgtype, bag.typestore).digest])
                else:
                    writer.write(conn.topic, stamp, data)
    meta = {
        "format": FIXTURE_FORMAT,
        "about": "QIKI replay fixture: inputs of the tracker and agent plus their outputs for the steps below; "
                 "the TrackArrays are kept as SHA-256 of their canonical CDR (padding zeroed). See "
                 "tests/fixtures/README.md; re-record: .venv/bin/python scripts/record_fixtures.py",
        "profile": profile,
        "scenario": scenario,
        "steps": len(steps),
        "first_step_ns": steps[0],
        "last_step_ns": last,
        "env": DETERMINISM_ENV,
        "config_dirs": list(config_dirs()),
        "note": note,
        "digests": digests,
    }
    (out_dir / FIXTURE_FILE).write_text(_dump(meta))
    return load_fixture(out_dir)


def _dump(meta: dict) -> str:
    """replay.json: indented, one [stamp, digest] per line."""
    head = json.dumps({k: v for k, v in meta.items() if k != "digests"}, indent=1)[:-2]
    lines = [head + ',\n "digests": {']
    for i, (topic, entries) in enumerate(meta["digests"].items()):
        rows = ",\n".join(f"   {json.dumps(e)}" for e in entries)
        body = f"[\n{rows}\n  ]" if entries else "[]"
        lines.append(f"  {json.dumps(topic)}: {body}" + ("," if i < len(meta["digests"]) - 1 else ""))
    return "\n".join(lines) + "\n }\n}\n"


# ---------------------------------------------------------------------------------------------- replay
class _Collector:
    """Subscribes (raw CDR) to the replayed nodes' outputs and StepDone; lets the player wait on them."""

    def __init__(self, context, topics: ReplayTopics, steps: list[int]) -> None:
        from rclpy.node import Node
        from rclpy.qos import HistoryPolicy, QoSProfile
        from rclpy.serialization import deserialize_message

        from qiki_bag.commands import graph_topics
        from qiki_bag.recorder import import_message
        from qiki_msgs.msg import StepDone
        from qiki_ros.spin_thread import SpinThread

        self._decode_done = lambda data: deserialize_message(data, StepDone)
        self.topics = topics
        self.steps = steps
        self.index = {t: i for i, t in enumerate(steps)}
        self.by_key: dict[str, list[tuple[int, str, bytes]]] = {k: [] for k in topics.keys}  # stamp, type, CDR
        self.done: dict[str, dict[int, dict[str, int]]] = {n: {} for n in topics.replayed}
        self.progress = -1                 # index of the last step the agent finished
        self.gaps: list[str] = []
        self.last_message = time.monotonic()
        self.cond = threading.Condition()
        self._seq: dict[tuple[str, bytes], int] = {}
        self.node = Node(COLLECTOR_NODE, context=context, start_parameter_services=False)
        known = graph_topics()
        for topic in topics.outputs + (topics.sync,):
            q = known[topic][1]
            qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1000, reliability=q.reliability,
                             durability=q.durability)
            self.node.create_subscription(import_message(topics.types[topic]), topic, self._callback(topic), qos,
                                          raw=True)
        self._spinner = SpinThread(self.node, "qiki-replay-collector")

    def _callback(self, topic: str):
        def on_message(data: bytes, info) -> None:
            self._on_message(topic, bytes(data), info)
        return on_message

    def _on_message(self, topic: str, data: bytes, info) -> None:
        seq = info.get("publication_sequence_number") if isinstance(info, dict) else None
        with self.cond:
            self.last_message = time.monotonic()
            if seq is not None:
                gid = bytes((info.get("publisher_gid") or {}).get("data", b""))
                last = self._seq.get((topic, gid), 0)
                if seq != last + 1:
                    self.gaps.append(f"{topic}: message {seq} after {last}")
                self._seq[(topic, gid)] = max(last, seq)
            if topic == self.topics.sync:
                msg = self._decode_done(data)
                if msg.node not in self.done:
                    return                         # the player's own StepDone (sim, radar)
                t = from_ns(msg.header.stamp)
                self.done[msg.node][t] = dict(zip(msg.topics, msg.counts))
                self.by_key[self.topics.step_done_key(msg.node)].append((t, self.topics.types[topic], data))
                if msg.node == self.topics.replayed[-1] and t in self.index:
                    self.progress = max(self.progress, self.index[t])
            else:
                key = _classify(self.topics, topic, data)
                if key is not None:
                    self.by_key[key].append((header_stamp_ns(data), self.topics.types[topic], data))
            self.cond.notify_all()

    def complete(self) -> bool:
        """Every replayed node finished every step and everything their StepDone listed arrived."""
        if self.progress < len(self.steps) - 1:
            return False
        have: dict[tuple[str, int], int] = {}
        for key, outs in self.by_key.items():
            for t, _msgtype, _data in outs:
                have[(key, t)] = have.get((key, t), 0) + 1
        for node, per_step in self.done.items():
            for t in self.steps:
                if t not in per_step:
                    return False
                if any(topic in self.by_key and have.get((topic, t), 0) < n for topic, n in per_step[t].items()):
                    return False
        return True

    def close(self) -> None:
        self._spinner.close(shutdown_context=False)     # replay() owns the context


def replay(bag_dir: Path | str, profile: str | None = None, domain_id: int | None = None,
           scenario: str | None = None, log_dir: Path | str | None = None, timeout_s: float = 60.0,
           quiet_s: float = 0.3) -> Outputs:
    """Replay a fixture through the tracker and agent node processes; return what they published.

    ``profile``/``scenario`` default to the fixture's (they must match it when given). ``domain_id`` is
    the private ROS_DOMAIN_ID of the replay (required; discovery stays on the loopback). Node logs go to
    ``log_dir`` (a temporary directory by default). Raises ReplayError when a node dies, when the agent
    makes no progress for ``timeout_s``, or when a message was lost. Returns once the agent announced the
    last step, every counted output of every step arrived, and no message came for ``quiet_s`` (the agent's
    status and events are not counted in its StepDone)."""
    import rclpy

    from qiki.plan import Watcher, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_bag.commands import graph_topics, sync_filter
    from qiki_bag.player import Player
    from qiki_bag.reader import open_bag
    from qiki_bag.typestore import workspace_typestore
    from qiki_ros.spin_thread import private_context

    if domain_id is None:
        raise ReplayError("replay needs a private domain_id")
    fixture = load_fixture(bag_dir)
    if profile not in (None, fixture.profile) or scenario not in (None, fixture.scenario):
        raise ReplayError(f"{bag_dir}: fixture of {fixture.profile}/{fixture.scenario}, asked for "
                          f"{profile}/{scenario or fixture.scenario}")
    plan = make_plan(fixture.profile, fixture.scenario)
    topics = replay_topics(plan.graph)
    # the bag holds every producer's StepDone: never run on without one (that would make outputs timing-dependent)
    # ... and run as the recorded graph (its run id), whose StepDone are played into them
    run_id = ["-p", f"sync.run_id:={fixture.run_id}"] if fixture.run_id else []
    # the partial graph: each replayed node waits at start-up for the replayed subscribers and the collector
    commands = [(n, cmd + ["-p", "sync.producer_timeout_s:=0.0"] + run_id)
                for n, cmd in plan.commands([Watcher(f"/{COLLECTOR_NODE}", OUTPUT_PORTS)], started=REPLAYED_NODES)]
    env = graph_env(domain_id)
    env.update(DETERMINISM_ENV)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"     # this process's participant too
    tmp = None
    if log_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="qiki-replay-")
        log_dir = tmp.name
    steps = fixture.steps
    context = private_context(int(domain_id))
    collector = sup = None
    stop = threading.Event()
    t0 = time.monotonic()
    try:
        collector = _Collector(context, topics, steps)
        sup = GraphSupervisor(commands, env, Path(log_dir))
        sup.start()

        def wait(pred, what: str) -> None:
            """Block until pred() (under the collector's lock), failing on a dead node or no progress."""
            with collector.cond:
                progress, since = collector.progress, time.monotonic()
                while not pred():
                    dead = sup.dead()
                    if dead:
                        p = dead[0]
                        raise ReplayError(f"node '{p.spec.name}' exited with code {p.popen.returncode} while "
                                          f"waiting for {what}: {p.last_lines()}")
                    if collector.progress != progress:
                        progress, since = collector.progress, time.monotonic()
                    if time.monotonic() - since > timeout_s:
                        logs = "; ".join(f"{p.spec.name}: {p.last_lines()}" for p in sup.procs)
                        raise ReplayError(f"no progress for {timeout_s:g} s waiting for {what} (agent finished "
                                          f"{collector.progress + 1}/{len(steps)} steps): {logs}")
                    collector.cond.wait(0.1)

        def gate(_topic: str, data: bytes) -> None:
            i = bisect.bisect_left(steps, header_stamp_ns(data))
            if i - STEPS_AHEAD > collector.progress:
                wait(lambda: collector.progress >= i - STEPS_AHEAD,
                     f"the agent to finish step t={steps[i - STEPS_AHEAD] / 1e9:.3f} s")

        known = graph_topics()
        with open_bag(fixture.path) as bag:
            missing = sorted(set(topics.inputs) - set(bag.topic_types()))
            if missing:
                raise ReplayError(f"{fixture.path}: no {', '.join(missing)} to replay (re-record the fixture)")
            player = Player(bag, rate=math.inf, topics=list(topics.inputs) + [topics.sync],
                            qos={t: known[t][1] for t in list(topics.inputs) + [topics.sync] if t in known},
                            message_filter=_until(steps[-1], sync_filter(topics.producers, topics.sync)),
                            order_by=lambda _topic, _log_ns, data: header_stamp_ns(data),
                            context=context, node_name="qiki_replay_player", log=lambda _text: None)
            try:
                # volatile streams: play only once the replayed nodes' input subscriptions matched
                if not player.wait_for_subscribers(timeout_s, stop):
                    missing = [t for t, p in player.publishers_by_topic.items() if p.get_subscription_count() == 0]
                    raise ReplayError(f"no subscriber after {timeout_s:g} s on: {' '.join(missing)}")
                player.play(stop, gate)
                wait(collector.complete, f"the outputs of all {len(steps)} steps")
                with collector.cond:                      # uncounted outputs (status, events): let them land
                    while time.monotonic() - collector.last_message < quiet_s:
                        collector.cond.wait(quiet_s)
            finally:
                player.destroy_node()
        with collector.cond:
            if collector.gaps:
                raise ReplayError("messages lost in the replay: " + "; ".join(collector.gaps[:5]))
            received = {k: list(v) for k, v in collector.by_key.items()}
        store, dirs = workspace_typestore(), config_dirs()
        return Outputs({k: [output(data, msgtype, store, dirs) for t, msgtype, data in v if t <= steps[-1]]
                        for k, v in received.items()}, steps, time.monotonic() - t0)
    finally:
        stop.set()
        if sup is not None:
            sup.stop()
        if collector is not None:
            collector.close()
        if context.ok():
            rclpy.shutdown(context=context)
        if tmp is not None:
            tmp.cleanup()


def _until(last_ns: int, accept):
    """message_filter: messages of steps up to last_ns that ``accept`` keeps."""
    def keep(topic: str, data: bytes) -> bool:
        return header_stamp_ns(bytes(data)) <= last_ns and accept(topic, data)
    return keep
