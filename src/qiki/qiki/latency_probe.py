"""End-to-end latency of the graph, sim truth -> agent decision, measured from outside the graph.

Definition: for every sim step t the agent decided on, latency(t) = wall time at which this process
received the agent's /qiki/cmd stamped t - wall time at which it received /qiki/sim/truth stamped t.
Both receive times come from one process and one clock (time.monotonic), so no clock sync is
involved; both include one DDS hop to this process. Steps without a command (the agent ticks slower
than the sim) are not paired. Memory is bounded: pending stamps are capped, latencies kept in a ring.

`LatencyProbe` is the pure pairing core; `LatencyWatch` subscribes it to a live graph (raw CDR
subscriptions: only the header stamp is read, a 1000-object truth is never deserialised).
Interface used by `qiki run`, bench/bench_latency.py and the soak:
    watch = LatencyWatch(truth_topic, cmd_topic)   # own node, context and spin thread
    ...; watch.probe.summary() -> {"count", "p50_ms", "p95_ms", "p99_ms", "max_ms", ...}; watch.close()
"""
from __future__ import annotations

import struct
import threading
import time
from collections import OrderedDict

from qiki_ros.node_health import LatencyWindow


class LatencyProbe:
    """Pairs truth and command receive times by stamp; thread-safe."""

    def __init__(self, capacity: int = 100_000, max_pending: int = 1000):
        self.latency = LatencyWindow(capacity)
        self.max_pending = max_pending
        self._truth: OrderedDict[int, float] = OrderedDict()     # stamp ns -> wall s, not yet paired
        self._cmd: OrderedDict[int, float] = OrderedDict()
        self.unmatched_commands = 0      # commands whose truth never reached us (lost or before we joined)
        self.negative = 0                # pairs where the command arrived before its truth (reported as is)
        self._lock = threading.Lock()

    def truth(self, stamp_ns: int, wall_s: float) -> None:
        with self._lock:
            if stamp_ns in self._cmd:
                self._pair(stamp_ns, wall_s, self._cmd.pop(stamp_ns))
            else:
                self._remember(self._truth, stamp_ns, wall_s)

    def command(self, stamp_ns: int, wall_s: float) -> None:
        with self._lock:
            if stamp_ns in self._truth:
                self._pair(stamp_ns, self._truth.pop(stamp_ns), wall_s)
            else:
                self._remember(self._cmd, stamp_ns, wall_s)

    def _remember(self, pending: OrderedDict, stamp_ns: int, wall_s: float) -> None:
        pending[stamp_ns] = wall_s
        while len(pending) > self.max_pending:
            pending.popitem(last=False)
            if pending is self._cmd:
                self.unmatched_commands += 1

    def _pair(self, stamp_ns: int, truth_wall: float, cmd_wall: float) -> None:
        latency = cmd_wall - truth_wall
        self.negative += latency < 0
        self.latency.add(latency)
        # per-topic delivery is in order: older truths had no decision, older commands lost their truth
        for old in [t for t in self._truth if t < stamp_ns]:
            del self._truth[old]
        for old in [t for t in self._cmd if t < stamp_ns]:
            del self._cmd[old]
            self.unmatched_commands += 1

    def summary(self) -> dict:
        """Latency figures [ms] of the pairs so far (percentiles over the latest `capacity`)."""
        p50, p95, p99 = self.latency.percentiles(50, 95, 99)
        with self._lock:
            count, mx = self.latency.count, self.latency.max_s
            return {"count": count, "p50_ms": _ms(p50), "p95_ms": _ms(p95), "p99_ms": _ms(p99),
                    "max_ms": _ms(mx) if count else None, "unmatched_commands": self.unmatched_commands,
                    "negative": self.negative}


def _ms(seconds: float) -> float | None:
    return None if seconds != seconds else round(seconds * 1e3, 3)


_HEADER = struct.Struct("<iI")        # builtin_interfaces/Time after the 4-byte CDR encapsulation


def cdr_stamp_ns(data: bytes) -> int:
    """header.stamp [ns] of a serialised message whose first field is std_msgs/Header."""
    sec, nanosec = (_HEADER if data[1] == 1 else struct.Struct(">iI")).unpack_from(data, 4)
    return sec * 1_000_000_000 + nanosec


class LatencyWatch:
    """A LatencyProbe fed by raw subscriptions to the truth and command topics, in its own node,
    rclpy context and spin thread (so a busy caller does not delay the receive times)."""

    def __init__(self, truth_topic: str = "/qiki/sim/truth", cmd_topic: str = "/qiki/cmd",
                 probe: LatencyProbe | None = None, domain_id: int | None = None):
        from qiki_msgs.msg import ActuatorCommand, WorldTruth
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

        from qiki_ros.graph_node import GraphNode
        from qiki_ros.spin_thread import SpinThread, private_context

        self.probe = probe or LatencyProbe()
        self.node = GraphNode("qiki_latency_probe", context=private_context(domain_id))
        clock = time.monotonic
        # volatile: no history replayed at join (its receive times would be the join time, not latency)
        live = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
        self.node.create_subscription(WorldTruth, truth_topic,
                                      lambda data: self.probe.truth(cdr_stamp_ns(data), clock()),
                                      live, raw=True)
        self.node.create_subscription(ActuatorCommand, cmd_topic,
                                      lambda data: self.probe.command(cdr_stamp_ns(data), clock()),
                                      live, raw=True)
        self._spinner = SpinThread(self.node, "qiki-latency-probe")

    def close(self) -> None:
        self._spinner.close()
