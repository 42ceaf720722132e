"""The playback node: publishes a bag's raw messages on their topics with the recorded timing.

Like ``ros2 bag play``: the gaps between log times are reproduced, divided by ``rate``; ``start_offset_s``
skips the first seconds of the bag; ``topics`` restricts playback; ``loop`` replays until stopped;
``clock_hz`` publishes ``/clock`` from the bag's time at that wall rate (the bag's own ``/clock`` is then not
replayed, so there is one time source). Publisher QoS follows the recorded offered QoS (latched topics
stay transient-local). Messages are published as stored (CDR bytes), never deserialised. A topic whose
message type is not installed here is skipped with a warning.

For replaying into a subset of the graph (``qiki_tools.replay``): ``message_filter(topic, cdr)`` keeps only
some messages of a topic (:func:`sync_filter` (e.g. the StepDone announcements of the nodes that are not running), ``order_by``
publishes in another order than the log time (e.g. by sim step), ``qos`` overrides
the publisher QoS per topic (e.g. the graph's own profiles), and :meth:`play` takes a ``gate(topic, cdr)``
called before each message is published, which may block (lockstep pacing on the consumers' progress).
A topic recorded without any offered QoS falls back to the QoS of the ``catalog`` (qiki_bag.catalog: the QIKI
graph description when started by ``qiki bag play``), so the step barrier (``/qiki/sync/step_done``) is
replayed reliable and transient-local, as the graph has it.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from qiki_bag.catalog import SYNC_TOPIC, TopicCatalog
from qiki_bag.qos import playback_qos
from qiki_bag.reader import Bag
from qiki_bag.recorder import import_message

CLOCK_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)


def _catalog_qos(catalog: TopicCatalog, topic: str) -> QoSProfile | None:
    """The QoS the catalog gives ``topic`` (None when unknown), history at least 1000 deep."""
    known = catalog.get(topic)
    if known is None:
        return None
    q = known[1]
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(int(q.depth), 1000), reliability=q.reliability,
                      durability=q.durability)


def sync_filter(nodes, topic: str = SYNC_TOPIC):
    """message_filter for Player: on ``topic`` keep only the StepDone of ``nodes`` (fully qualified names);
    every other topic passes."""
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import StepDone
    keep = set(nodes)

    def accept(name: str, data: bytes) -> bool:
        return name != topic or deserialize_message(bytes(data), StepDone).node in keep
    return accept



class Player(Node):
    """Publishes ``bag``; call :meth:`play` (returns when done or when ``stop`` is set)."""

    def __init__(self, bag: Bag, rate: float = 1.0, loop: bool = False, start_offset_s: float = 0.0,
                 topics: list[str] | None = None, clock_hz: float | None = None,
                 log: Callable[[str], None] | None = None, node_name: str = "qiki_bag_player", context=None,
                 message_filter: Callable[[str, bytes], bool] | None = None,
                 qos: dict[str, QoSProfile] | None = None,
                 order_by: Callable[[str, int, bytes], object] | None = None,
                 catalog: TopicCatalog | None = None) -> None:
        super().__init__(node_name, context=context, start_parameter_services=False)
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.bag = bag
        self.rate = rate
        self.loop = loop
        self.start_offset_ns = int(max(0.0, start_offset_s) * 1e9)
        self.clock_hz = clock_hz
        self.message_filter = message_filter
        self.order_by = order_by
        self.log = log or (lambda text: print(f"qiki bag play: {text}", file=sys.stderr, flush=True))
        self.counts: dict[str, int] = {}
        self.publishers_by_topic = {}
        wanted = None if not topics else set(topics)
        known = {c.topic for c in bag.connections}
        for missing in sorted((wanted or set()) - known):
            self.log(f"warning: {bag.path}: topic {missing} is not in the bag")
        for conn in bag.connections:
            if conn.topic in self.publishers_by_topic or (wanted is not None and conn.topic not in wanted):
                continue
            if clock_hz and conn.topic == "/clock":
                self.log("--clock given: the bag's own /clock is not replayed")
                continue
            cls = import_message(conn.msgtype)
            if cls is None:
                self.log(f"warning: {bag.path}: unknown message type {conn.msgtype} (not installed here), "
                         f"topic {conn.topic} skipped")
                continue
            offered = [q for c in bag.connections if c.topic == conn.topic
                       for q in getattr(c.ext, "offered_qos_profiles", [])]
            profile = (qos or {}).get(conn.topic)
            if profile is None:
                profile = playback_qos(offered) if offered else _catalog_qos(catalog or {}, conn.topic) or playback_qos(offered)
            self.publishers_by_topic[conn.topic] = self.create_publisher(cls, conn.topic, profile)
            self.counts[conn.topic] = 0
        self.clock_pub = None
        if clock_hz:
            from rosgraph_msgs.msg import Clock
            self.clock_pub = self.create_publisher(Clock, "/clock", CLOCK_QOS)
        info = bag.info()
        self.bag_start_ns = info.start_ns
        self.bag_end_ns = info.end_ns

    # ----------------------------------------------------------------------------------------- helpers
    def wait_for_subscribers(self, timeout_s: float, stop: threading.Event) -> bool:
        """Wait until every playback topic has at least one subscriber (or timeout / stop)."""
        deadline = time.monotonic() + timeout_s
        while not stop.is_set() and time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in self.publishers_by_topic.values()):
                return True
            stop.wait(0.05)
        return False

    def _publish_clock(self, bag_ns: int) -> None:
        from rosgraph_msgs.msg import Clock
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(int(bag_ns), 1_000_000_000)
        self.clock_pub.publish(msg)

    def _sleep_until(self, due: float, wall0: float, t0_ns: int, stop: threading.Event) -> None:
        """Sleep until monotonic ``due``, publishing /clock ticks in between when asked to."""
        while not stop.is_set():
            now = time.monotonic()
            if self.clock_pub is not None:
                bag_now = t0_ns + (now - wall0) * self.rate * 1e9
                if now >= self._next_clock:
                    self._publish_clock(bag_now)
                    self._next_clock += 1.0 / self.clock_hz
                    if self._next_clock < now:              # fell behind: do not burst
                        self._next_clock = now + 1.0 / self.clock_hz
                    continue
                wake = min(due, self._next_clock)
            else:
                wake = due
            if now >= due:
                return
            stop.wait(min(wake - now, 0.5))

    # ----------------------------------------------------------------------------------------- playback
    def play(self, stop: threading.Event | None = None,
             gate: Callable[[str, bytes], None] | None = None,
             progress: Callable[[float], None] | None = None) -> int:
        """Play the bag (again and again with ``loop``). Returns the number of messages published.

        ``gate(topic, cdr)``, when given, is called before each message is published and may block (it
        returns when the message may go, and may set ``stop``). ``rate=math.inf`` publishes as fast as the
        gate allows, without the recorded timing. ``progress(bag seconds played)`` is called after each
        published message."""
        stop = stop or threading.Event()
        topics = list(self.publishers_by_topic)
        total = 0
        t0_ns = self.bag_start_ns + self.start_offset_ns
        while not stop.is_set():
            wall0 = time.monotonic()
            self._next_clock = wall0
            n = 0
            if topics:
                for conn, stamp, data in self._messages(topics, t0_ns):
                    if self.message_filter is not None and not self.message_filter(conn.topic, data):
                        continue
                    self._sleep_until(wall0 + (stamp - t0_ns) / 1e9 / self.rate, wall0, t0_ns, stop)
                    if gate is not None and not stop.is_set():
                        gate(conn.topic, data)
                    if stop.is_set():
                        break
                    self.publishers_by_topic[conn.topic].publish(data)
                    self.counts[conn.topic] += 1
                    n += 1
                    if progress is not None:
                        progress((stamp - t0_ns) / 1e9)
            total += n
            if not self.loop or stop.is_set() or n == 0:
                break
        self._flush(stop)
        return total

    def _messages(self, topics: list[str], t0_ns: int):
        """The bag's messages in log-time order, or sorted (stable) by ``order_by(topic, log time, cdr)``."""
        if self.order_by is None:
            yield from self.bag.messages(topics, start_ns=t0_ns)
            return
        messages = [(conn, stamp, bytes(data)) for conn, stamp, data in self.bag.messages(topics, start_ns=t0_ns)]
        messages.sort(key=lambda m: self.order_by(m[0].topic, m[1], m[2]))
        yield from messages

    def _flush(self, stop: threading.Event, timeout_s: float = 3.0) -> None:
        """Give reliable subscribers time to acknowledge the last messages before the node goes away."""
        from rclpy.duration import Duration
        deadline = time.monotonic() + timeout_s
        for pub in self.publishers_by_topic.values():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))
            except Exception:  # best effort publishers or an rmw without the call
                pass
