"""The recording node: discovers topics, subscribes raw (CDR bytes) and hands every message to a BagWriter.

Like ``ros2 bag record``:
- topics are discovered periodically (``get_topic_names_and_types``) and matched against the requested
  names or glob patterns (default: ``/qiki/*``, ``/clock``, ``/diagnostics``);
- the subscription QoS adapts to the publishers: reliable when every publisher is reliable, keep-last
  with a deep queue so a burst is not dropped; volatile, so a recording of a running graph starts now and
  not with the history the publishers keep for late joiners (up to 1000 old steps per stream), except on
  latched topics (every publisher transient-local with at most LATCHED_MAX_DEPTH messages: the current
  state, e.g. agent status); ``include_history`` takes every transient-local history (a recorder started
  before the graph then loses nothing whose match completed after the first messages);
- the log time of a message is its receive time (``MessageInfo.received_timestamp``, system clock), or
  with ``use_sim_time`` the newest /clock received (rosbag2's ``--use-sim-time``; messages that arrive
  before the first /clock are held and stamped with it);
- messages are written as received, never deserialised;
- the first write error (disk full...) stops the recording: ``error`` is set and nothing more is written.

Topics known in advance (``known``: name -> (type, QoSProfile), e.g. from the QIKI graph description) are
subscribed at start, before their publishers exist (their QoS is the publishers' one, adapted as above),
so a recorder started before the graph with ``include_history`` loses nothing from the very first message
(``qiki run --record``). When a publisher that does not match that QoS shows up, the subscription is
re-created with the adapted QoS.
"""
from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterable

from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from qiki_bag.qos import qos_to_bag
from qiki_bag.topic_choice import DEFAULT_TOPICS, topic_wanted  # noqa: F401 (DEFAULT_TOPICS: the recorders' default)
from qiki_bag.typestore import ensure_type
from qiki_bag.writer import BagWriteError, BagWriter
from qiki_ros.qos import matches

QUEUE_DEPTH = 1000
DRAIN_BATCH = 500
LATCHED_MAX_DEPTH = 10        # transient-local this shallow is a latched state, recorded also without history
EARLY_MAX = 100_000           # messages held (use_sim_time) until the first /clock


def import_message(msgtype: str):
    """The Python message class of ``pkg/msg/Name`` (None when the package is not importable)."""
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError):
        return None


def takes_history(publisher_qos: list[QoSProfile], include_history: bool) -> bool:
    """Whether to subscribe transient-local: every publisher keeps history, and either the history is
    wanted or it is a latched state (at most LATCHED_MAX_DEPTH messages)."""
    return bool(publisher_qos) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in publisher_qos) \
        and (include_history or all(q.depth <= LATCHED_MAX_DEPTH for q in publisher_qos))


def adapted_qos(publisher_qos: list[QoSProfile], include_history: bool = False) -> QoSProfile:
    """Subscription QoS compatible with every publisher (rosbag2's adaptive QoS, deeper history)."""
    reliable = bool(publisher_qos) and all(q.reliability == ReliabilityPolicy.RELIABLE for q in publisher_qos)
    return recording_qos(ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                         DurabilityPolicy.TRANSIENT_LOCAL if takes_history(publisher_qos, include_history)
                         else DurabilityPolicy.VOLATILE)


def recording_qos(reliability, durability) -> QoSProfile:
    """Reliable topics: keep-all, so a burst the recorder has not taken yet is held back by DDS flow
    control (the publisher resends) instead of overwritten; best effort: keep-last QUEUE_DEPTH."""
    history = HistoryPolicy.KEEP_ALL if reliability == ReliabilityPolicy.RELIABLE else HistoryPolicy.KEEP_LAST
    return QoSProfile(history=history, depth=QUEUE_DEPTH, reliability=reliability, durability=durability)


def _qos_text(q: QoSProfile) -> str:
    return f"{q.reliability.name.lower()}, {q.durability.name.lower()}"


class Recorder(Node):
    """Records matching topics into ``writer`` until destroyed. ``counts`` holds messages per topic."""

    def __init__(self, writer: BagWriter, topics: Iterable[str] = DEFAULT_TOPICS, all_topics: bool = False,
                 exclude: Iterable[str] = (), known: dict[str, tuple[str, QoSProfile]] | None = None,
                 discovery_period_s: float = 0.2, log: Callable[[str], None] | None = None,
                 node_name: str = "qiki_bag_recorder", context=None, include_history: bool = False,
                 use_sim_time: bool = False) -> None:
        super().__init__(node_name, context=context, start_parameter_services=False,
                         parameter_overrides=[Parameter("use_sim_time", value=bool(use_sim_time))])
        self.writer = writer
        self.include_history = include_history
        self.use_sim_time = use_sim_time
        self.error: BagWriteError | None = None          # the write error that ended the recording
        self.held: list[tuple[str, bytes]] = []        # use_sim_time: received before the first /clock
        self.patterns = list(topics)
        self.all_topics = all_topics
        self.exclude = list(exclude)
        self.log = log or (lambda text: print(f"qiki bag record: {text}", file=sys.stderr, flush=True))
        self.counts: dict[str, int] = {}
        self.bytes = 0
        self.duplicates = 0
        self.batch_take = True
        self._seq: dict[tuple[str, bytes], list[int]] = {}      # (topic, publisher gid) -> [first, last, n]
        self.last_received_ns: dict[tuple[str, bytes], int] = {}  # (topic, publisher gid) -> newest receive time
        self._subs: dict[str, tuple[object, QoSProfile]] = {}
        self._skipped: set[str] = set()
        self._types: dict[str, str] = {}
        for name, (msgtype, qos) in (known or {}).items():
            if self.wanted(name):
                self._subscribe(name, msgtype, adapted_qos([qos], include_history), publishers=[], announce=False)
        if self._subs:
            self.log(f"subscribed in advance to {len(self._subs)} topic(s) of the graph description")
        self._discover()
        self.timer = self.create_timer(discovery_period_s, self._discover)

    # ------------------------------------------------------------------------------------------ topics
    def wanted(self, topic: str) -> bool:
        return topic_wanted(topic, self.patterns, self.exclude, self.all_topics)

    def _discover(self) -> None:
        for name, types in self.get_topic_names_and_types():
            if name in self._skipped or not self.wanted(name):
                continue
            pubs = self.get_publishers_info_by_topic(name)
            if not pubs:
                continue                              # only subscribers so far: no QoS to adapt to
            pub_qos = [p.qos_profile for p in pubs]
            if name in self._subs:
                _, qos = self._subs[name]
                if all(matches(q, qos) for q in pub_qos):
                    continue
                new = adapted_qos(pub_qos, self.include_history)
                self.log(f"{name}: a publisher does not offer {_qos_text(qos)}; re-subscribing with "
                         f"{_qos_text(new)}")
                self.destroy_subscription(self._subs.pop(name)[0])
                self._subscribe(name, self._types[name], new, pubs)
                continue
            if len(types) != 1:
                self.log(f"warning: {name} has several types {types}: recording {types[0]}")
            self._subscribe(name, types[0], adapted_qos(pub_qos, self.include_history), pubs)

    def _subscribe(self, name: str, msgtype: str, qos: QoSProfile, publishers: list, announce: bool = True) -> None:
        cls = import_message(msgtype)
        if cls is None or not ensure_type(self.writer.typestore, msgtype):
            self._skipped.add(name)
            self.log(f"warning: {name}: unknown message type {msgtype} (not installed here), topic skipped")
            return
        self._types[name] = msgtype

        holder: list = []

        def on_message(data: bytes, info: dict, topic: str = name) -> None:
            self._on_message(topic, data, info)
            self._drain(topic, holder[0])

        sub = self.create_subscription(cls, name, on_message, qos, raw=True)
        holder.append(sub)
        self._subs[name] = (sub, qos)
        if announce:
            self.log(f"recording {name} [{msgtype}] ({_qos_text(qos)})")

    def _register(self, topic: str) -> None:
        """Declare the topic in the bag at its first message (a topic that never publishes stays out)."""
        offered = [qos_to_bag(p.qos_profile) for p in self.get_publishers_info_by_topic(topic)]
        self.writer.add_topic(topic, self._types[topic], offered)
        self.counts[topic] = 0

    # ------------------------------------------------------------------------------------------ messages
    def _drain(self, topic: str, sub) -> None:
        """Take the messages already waiting on this subscription in one go (up to DRAIN_BATCH): the
        executor's per-callback overhead would otherwise bound the record rate at small messages."""
        if not self.batch_take or self.error is not None:
            return
        try:
            with sub.handle:
                for _ in range(DRAIN_BATCH):
                    taken = sub.handle.take_message(sub.msg_type, True)
                    if taken is None or self.error is not None:
                        return
                    self._on_message(topic, taken[0], taken[1])
        except (AttributeError, TypeError):     # an rclpy without this handle API: one per callback
            self.batch_take = False

    def _on_message(self, topic: str, data: bytes, info: dict) -> None:
        gid = (info.get("publisher_gid") or {}).get("data", b"")
        self.last_received_ns[(topic, bytes(gid))] = info.get("received_timestamp") or time.time_ns()
        seq = info.get("publication_sequence_number")
        if seq is not None:
            key = (topic, bytes(gid))
            track = self._seq.get(key)
            if track is None:
                self._seq[key] = [seq, seq, 1]
            elif seq <= track[1]:
                self.duplicates += 1                  # e.g. latched history sent again after re-subscribing
                return
            else:
                track[1] = seq
                track[2] += 1
        if self.error is not None:
            return
        if not self.use_sim_time:
            self._write(topic, info.get("received_timestamp") or time.time_ns(), data)
            return
        stamp = self.get_clock().now().nanoseconds
        if stamp == 0 and len(self.held) < EARLY_MAX:
            self.held.append((topic, bytes(data)))      # no /clock yet
            return
        if self.held:
            self.flush_early(stamp)
        self._write(topic, stamp, data)

    def flush_early(self, stamp: int) -> None:
        """Write the messages held until the first /clock, stamped ``stamp``."""
        early, self.held = self.held, []
        for topic, data in early:
            self._write(topic, stamp, data)

    def _write(self, topic: str, stamp: int, data: bytes) -> None:
        if self.error is not None:
            return
        try:
            if topic not in self.counts:
                self._register(topic)
            self.writer.write(topic, stamp, data)
        except BagWriteError as exc:
            self.error = exc
            return
        except OSError as exc:
            self.error = BagWriteError(self.writer.out_dir, f"write failed: {exc.strerror or exc}")
            return
        self.counts[topic] += 1
        self.bytes += len(data)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def sequence_report(self) -> dict[str, dict[str, int]]:
        """Per topic, from the publishers' sequence numbers (each DDS writer numbers its samples from 1):
        ``published`` = samples the publishers sent up to the last one received, ``recorded`` = messages
        written, ``missed`` = published - recorded, of which ``gaps`` were missed between the first and
        the last message received (dropped while recording) and the rest were sent before the recorder's
        subscription matched the publisher."""
        report: dict[str, dict[str, int]] = {}
        for (topic, _gid), (first, last, n) in self._seq.items():
            r = report.setdefault(topic, {"publishers": 0, "published": 0, "recorded": 0, "missed": 0, "gaps": 0})
            r["publishers"] += 1
            r["published"] += last
            r["recorded"] += n
            r["missed"] += last - n
            r["gaps"] += last - first + 1 - n
        return dict(sorted(report.items()))
