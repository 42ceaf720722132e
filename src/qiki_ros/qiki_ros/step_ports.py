"""What a step class (the per-step logic of a node, without ROS) sends out: messages by port, input
counters, log lines. A node implements it with its publishers and rclpy logger (qiki_ros.node_ports), the core
engine (qiki.core_engine) by routing the messages in process. No rclpy."""
from __future__ import annotations

import time
from typing import Protocol

INFO, WARN = 20, 30


class StepPorts(Protocol):
    def publish(self, port: str, msg) -> None:
        """Send `msg` on the node's output `port` (a port name of config/graph.yaml, e.g. frame_lr)."""

    def has_readers(self, port: str) -> bool:
        """Whether anything reads `port` (outputs only tools read may be skipped when nobody does)."""

    def count_input(self, counter: str, text: str, n: int = 1) -> None:
        """Add n to the input counter `counter` (e.g. truth_dropped) and log `text`: bad inputs are counted,
        never raised."""

    def count(self, counter: str) -> int:
        """The input counter's total so far."""

    def log(self, level: int, text: str, throttle_key: str | None = None) -> None:
        """A log line (INFO or WARN); with `throttle_key`, at most one a second per key."""


class LogThrottle:
    """At most one log line a wall second per key."""

    def __init__(self, period_s: float = 1.0):
        self.period_s = period_s
        self._last: dict[str, float] = {}

    def allows(self, key: str | None) -> bool:
        if key is None:
            return True
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.period_s:
            return False
        self._last[key] = now
        return True
