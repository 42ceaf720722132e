"""ROS side of the step barrier: counted publishers, stamped subscriptions and StepDone messages.

A node declares what it publishes and subscribes through StepSync; its `on_step(t_ns, inputs)`
callback runs once per sim step, when the barrier releases it, and StepDone(t) follows automatically.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from rclpy.node import Node

from qiki_msgs.msg import StepDone
from qiki_ros import qos
from qiki_ros.step_barrier import StepBarrier



def stamp_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class CountedPublisher:
    """A publisher that counts what it sent for the current step."""

    def __init__(self, publisher, counts: Counter):
        self.publisher, self._counts = publisher, counts
        self.topic_name = publisher.topic_name

    def publish(self, msg) -> None:
        self.publisher.publish(msg)
        self._counts[self.topic_name] += 1

    def get_subscription_count(self) -> int:
        return self.publisher.get_subscription_count()


class StepSync:
    """Barrier membership of one node. Upstream node names come from the `sync.upstream` parameter,
    which the launcher derives from config/graph.yaml (the producers of the topics the node reads).
    `announce=False` for the sim, which announces its own steps rather than its inputs'."""

    def __init__(self, node: Node, on_step: Callable[[int, dict[str, list[Any]]], None], announce: bool = True):
        self.node = node
        ns = node.get_namespace().rstrip("/")
        upstream = node.declare_parameter("sync.upstream", [""]).value
        self.members = node.declare_parameter("sync.members", 1).value   # nodes in the barrier
        self.upstream = {f"{ns}/{name}" for name in upstream if name}
        self.on_step = on_step
        self.announce = announce
        self.counts: Counter = Counter()
        self.barrier = StepBarrier(self.upstream, set())
        self.pub_done = node.create_publisher(StepDone, "step_done", qos.SYNC)
        self.name = node.get_fully_qualified_name()
        node.create_subscription(StepDone, "step_done", self._on_done, qos.SYNC)

    def publisher(self, msg_type, port: str, qos) -> CountedPublisher:
        return CountedPublisher(self.node.create_publisher(msg_type, port, qos), self.counts)

    def subscribe(self, msg_type, port: str, qos) -> str:
        """Subscribe a stamped topic into the barrier; returns its resolved name (the inputs key)."""
        holder: dict[str, str] = {}

        def callback(msg) -> None:
            self.barrier.add_data(holder["topic"], stamp_ns(msg.header.stamp), msg)
            self._release()
        sub = self.node.create_subscription(msg_type, port, callback, qos)
        holder["topic"] = sub.topic_name
        self.barrier.topics.add(sub.topic_name)
        return sub.topic_name

    def _on_done(self, msg: StepDone) -> None:
        self.barrier.add_done(msg.node, stamp_ns(msg.header.stamp), list(msg.topics), list(msg.counts))
        self._release()

    def _release(self) -> None:
        for t_ns, inputs in self.barrier.release():
            self.on_step(t_ns, inputs)
            if self.announce:
                self.done(t_ns)

    def done(self, t_ns: int) -> None:
        """Announce that this node published everything it had for step t."""
        msg = StepDone(node=self.name, topics=list(self.counts), counts=list(self.counts.values()))
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
        self.pub_done.publish(msg)
        self.counts.clear()
