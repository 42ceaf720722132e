"""Start-up match gate: hold a node's join until each of its stream publishers matched its subscribers.

The graph's streams are volatile (qiki_ros.qos): a sample written before a reader matched is never
delivered to it. A reliable writer that has matched a reader delivers every sample written afterwards,
so a node that joins the step barrier (or, outside it, starts consuming) only once its publishers
matched the subscribers config/graph.yaml lists loses nothing at start-up. The expected counts come from
the `sync.expected_subscribers` parameter, entries `<topic>=<count>` (the launcher derives them from
the graph); a gate that is still not open after `sync.gate_timeout_s` wall seconds logs one warning and
opens anyway (a partial graph, a subscriber that never came).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:       # the counting logic above the class is pure (unit-tested without ROS)
    from rclpy.node import Node


def parse_expected(entries: list[str]) -> dict[str, int]:
    """{topic: count} from `<topic>=<count>` entries; ValueError naming the bad entry."""
    out: dict[str, int] = {}
    for entry in entries:
        if not entry:
            continue
        topic, sep, count = entry.rpartition("=")
        if not sep or not topic.startswith("/") or not count.isdigit():
            raise ValueError(f"sync.expected_subscribers: entry '{entry}' is not <topic>=<count> "
                             f"(e.g. /qiki/tracks=2)")
        out[topic] = int(count)
    return out


def unmatched(expected: dict[str, int], matched: dict[str, int]) -> dict[str, tuple[int, int]]:
    """{topic: (matched, expected)} of the topics with fewer matched subscribers than expected."""
    return {t: (matched.get(t, 0), n) for t, n in expected.items() if matched.get(t, 0) < n}


class SubscriberGate:
    """Calls `on_open` once, when every publisher of `node` on an expected topic has matched the expected
    number of subscribers, or after the timeout (one warning). Opens at once when nothing is expected."""

    def __init__(self, node: "Node", on_open: Callable[[], None]):
        self.node, self.on_open = node, on_open
        entries = node.declare_parameter("sync.expected_subscribers", [""]).value
        self.timeout_s = float(node.declare_parameter("sync.gate_timeout_s", 15.0).value)
        try:
            self.expected = parse_expected(list(entries))
        except ValueError as exc:
            node.get_logger().error(f"{exc}: joining without the start-up match gate")
            self.expected = {}
        self.is_open = False
        self._since = time.monotonic()
        self._timer = None

    def start(self) -> None:
        from rclpy.clock import Clock, ClockType
        if self._poll():
            return
        self._timer = self.node.create_timer(0.05, self._poll, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def matched(self) -> dict[str, int]:
        """{topic: matched subscriptions} of this node's publishers."""
        counts: dict[str, int] = {}
        for pub in self.node.publishers:
            if pub.topic_name in self.expected:
                counts[pub.topic_name] = max(counts.get(pub.topic_name, 0), pub.get_subscription_count())
        return counts

    def expected_on(self, topic: str, default: int = 1) -> int:
        return self.expected.get(topic, default)

    def _poll(self) -> bool:
        if self.is_open:
            return True
        missing = unmatched(self.expected, self.matched())
        waited = time.monotonic() - self._since
        if missing and waited < self.timeout_s:
            return False
        if missing:
            self.node.get_logger().warning(
                "start-up gate: joining after %.1f s without all subscribers matched: %s" % (waited, ", ".join(
                    f"{t} {m}/{n}" for t, (m, n) in sorted(missing.items()))))
        self.is_open = True
        if self._timer is not None:
            self._timer.cancel()
        self.on_open()
        return True
