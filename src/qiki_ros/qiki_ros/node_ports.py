"""StepPorts of a ROS node: its publishers by port, its input counters and its rclpy logger."""
from __future__ import annotations

from qiki_ros.step_ports import WARN, LogThrottle


class NodePorts:
    """`publishers`: port -> publisher (or CountedPublisher); counters are the node's attributes
    (GraphNode.count_input), which its /diagnostics report."""

    def __init__(self, node, publishers: dict):
        self.node = node
        self.publishers = publishers
        self.throttle = LogThrottle()

    def publish(self, port: str, msg) -> None:
        self.publishers[port].publish(msg)

    def has_readers(self, port: str) -> bool:
        return self.publishers[port].get_subscription_count() > 0

    def count_input(self, counter: str, text: str, n: int = 1) -> None:
        self.node.count_input(counter, text, n)

    def count(self, counter: str) -> int:
        return getattr(self.node, counter, 0)

    def log(self, level: int, text: str, throttle_key: str | None = None) -> None:
        if not self.throttle.allows(throttle_key):
            return
        if level >= WARN:       # rclpy wants one severity per call site: two calls
            self.node.get_logger().warning(text)
        else:
            self.node.get_logger().info(text)
