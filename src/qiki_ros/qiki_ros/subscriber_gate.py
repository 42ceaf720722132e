"""Start-up match gate: hold a node's join until each of its stream publishers matched the named subscribers.

The graph's streams are volatile (qiki_ros.qos): a sample written before a reader matched is never
delivered to it. A reliable writer that has matched a reader delivers every sample written afterwards,
so a node that joins the step barrier (or, outside it, starts consuming) only once its publishers
matched the subscribers it must not starve loses nothing at start-up. Those subscribers are named, not
counted: the `sync.expected_subscribers` parameter holds entries `<topic>=<node>` (fully qualified node
names; the launcher derives them from config/graph.yaml plus the runner's observer and recorder). A
topic is ready when every named node has a subscription on it in the ROS graph and the publisher has
matched at least as many subscriptions as the graph shows with its type and a compatible QoS: an extra subscriber (a
console, a test's own observer) can then neither stand in for a named one nor hold the gate. A gate
still not open after `sync.gate_timeout_s` wall seconds logs one warning and opens anyway (a partial
graph, a subscriber that never came).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:       # the logic above the class is pure (unit-tested without ROS)
    from rclpy.node import Node

    from qiki_ros.node_config import SyncConfig


def parse_expected(entries: list[str]) -> dict[str, frozenset[str]]:
    """{topic: node names} from `<topic>=<node>` entries; ValueError naming the bad entry."""
    out: dict[str, set[str]] = {}
    for entry in entries:
        if not entry:
            continue
        topic, sep, node = entry.partition("=")
        if not sep or not topic.startswith("/") or not node.startswith("/") or "=" in node:
            raise ValueError(f"sync.expected_subscribers: entry '{entry}' is not <topic>=<node> "
                             f"(e.g. /qiki/tracks=/qiki/agent)")
        out.setdefault(topic, set()).add(node)
    return {t: frozenset(n) for t, n in out.items()}


def unmatched(expected: dict[str, frozenset[str]], present: dict[str, list[str]],
              matched: dict[str, int]) -> dict[str, str]:
    """{topic: why it is not ready} for each expected topic whose named subscribers are not all
    present (`present`: the node names of the compatible subscriptions the ROS graph shows) or whose
    publisher matched fewer subscriptions than are present."""
    out = {}
    for topic, names in expected.items():
        seen = present.get(topic, [])
        absent = sorted(names - set(seen))
        if absent:
            out[topic] = "no subscription yet from " + " ".join(absent)
        elif matched.get(topic, 0) < len(seen):
            out[topic] = f"{matched.get(topic, 0)} of {len(seen)} subscriptions matched"
    return out


def endpoint_node(info) -> str:
    """Fully qualified node name of a ROS graph endpoint (rclpy TopicEndpointInfo)."""
    return f"{info.node_namespace.rstrip('/')}/{info.node_name}"


def type_name(msg_type) -> str:
    """`pkg/msg/Name` of a generated message class, as the ROS graph reports endpoint types."""
    return f"{msg_type.__module__.partition('.')[0]}/msg/{msg_type.__name__}"


def readers(infos, qos, msg_type: str) -> list[str]:
    """Node names of the subscriptions among `infos` (the ROS graph's view of a topic) that DDS can match to
    a publisher of `msg_type` with `qos`: another type on the same topic name, or an incompatible QoS, never
    matches, so it must neither be waited for nor counted."""
    from qiki_ros.qos import matches
    return [endpoint_node(i) for i in infos if i.topic_type == msg_type and matches(qos, i.qos_profile)]


class SubscriberGate:
    """Calls `on_open` once, when every publisher of `node` on an expected topic has matched its named
    subscribers, or after the timeout (one warning). Opens at once when nothing is expected."""

    def __init__(self, node: "Node", sync: "SyncConfig", on_open: Callable[[], None]):
        self.node, self.on_open = node, on_open
        self.timeout_s = sync.gate_timeout_s
        try:
            self.expected = parse_expected(list(sync.expected_subscribers))
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

    def not_ready(self) -> dict[str, str]:
        """{topic: why} of the expected topics this node's publishers are not ready on."""
        present: dict[str, list[str]] = {}
        matched: dict[str, int] = {}
        for pub in self.node.publishers:
            topic = pub.topic_name
            if topic not in self.expected:
                continue
            matched[topic] = max(matched.get(topic, 0), pub.get_subscription_count())
            present[topic] = readers(self.node.get_subscriptions_info_by_topic(topic), pub.qos_profile,
                                     type_name(pub.msg_type))
        return unmatched(self.expected, present, matched)

    def _poll(self) -> bool:
        if self.is_open:
            return True
        missing = self.not_ready() if self.expected else {}
        waited = time.monotonic() - self._since
        if missing and waited < self.timeout_s:
            if waited >= 5.0:       # a normal start-up opens well before: say what it is waiting for
                self.node.get_logger().info(
                    "start-up gate: waiting: " + "; ".join(f"{t}: {why}" for t, why in sorted(missing.items())),
                    throttle_duration_sec=5.0)
            return False
        if missing:
            self.node.get_logger().warning(
                "start-up gate: joining after %.1f s without all subscribers matched: %s" % (waited, "; ".join(
                    f"{t}: {why}" for t, why in sorted(missing.items()))))
        self.is_open = True
        if self._timer is not None:
            self._timer.cancel()
        self.on_open()
        return True
