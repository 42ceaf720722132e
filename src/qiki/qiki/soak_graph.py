"""Run one graph for a soak: `qiki run`'s supervision (lockstep by default, no end of scenario: the graph keeps
stepping past the scenario's duration) for a wall-clock time, sampling on a fixed schedule the RSS of every
node process and of this process (observer + latency probe), the sim time and the end-to-end latency.

The graph is started once and never restarted, so a leak accumulates instead of being reset.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from qiki.cli import supervise
from qiki.plan import GraphPlan
from qiki.soak import LatencyHistogram, SoakSample, read_rss_kb

RUNNER = "runner"      # the soak process itself: observer, latency probe, sampling


@dataclass
class SoakRun:
    samples: list[SoakSample] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)      # nodes that exited on their own
    exit_codes: dict[str, int] = field(default_factory=dict)
    signal: int | None = None
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0


class _Sampler:
    """tick() of supervise: one sample every interval_s of wall time, True once the soak has lasted long enough."""

    def __init__(self, duration_s: float, interval_s: float, latency_source, on_sample) -> None:
        """latency_source.drain() returns the latencies [s] seen since its last call."""
        self.duration_s, self.interval_s = duration_s, interval_s
        self.latency_source, self.on_sample = latency_source, on_sample
        self.samples: list[SoakSample] = []
        self.t0 = time.monotonic()
        self.next_t = interval_s

    def __call__(self, sup, observer) -> bool:
        t = time.monotonic() - self.t0
        if t < self.next_t:
            return False
        self.next_t += self.interval_s * max(1, int((t - self.next_t) // self.interval_s) + 1)
        rss = {p.spec.name: read_rss_kb(p.popen.pid) for p in sup.procs if p.popen}
        rss[RUNNER] = read_rss_kb(os.getpid())
        latency = LatencyHistogram()
        latency.add(self.latency_source.drain())
        sample = SoakSample(t, observer.read(lambda s: s.sim_time_s), rss, latency)
        self.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        return t >= self.duration_s


def run_soak(plan: GraphPlan, duration_s: float, interval_s: float, domain_id: int, log_dir: Path | None,
             mode: str = "lockstep", on_sample=None) -> SoakRun:
    """Start the graph, sample it every interval_s until duration_s of wall time (or a node dies, or
    SIGINT/SIGTERM), stop it; on_sample(sample) sees each sample as it is taken."""
    args = argparse.Namespace(domain_id=domain_id, mode=mode, rate=None, command_lag=None, duration=None)
    latency = LatencyListener(plan, domain_id)
    sampler = _Sampler(duration_s, interval_s, latency, on_sample)
    try:
        report = supervise(plan, args, log_dir, tick=sampler)
    finally:
        latency.close()
    return SoakRun(samples=sampler.samples, crashed=[p.spec.name for p in report["failed"]],
                   exit_codes=report["codes"], signal=report["signal"], wall_time_s=report["wall_time_s"],
                   sim_time_s=report["observer"].sim_time_s)

class LatencyListener:
    """ROS adapter of StampPairing: its own node (private context, spun in a thread) subscribing the truth
    and the agent's command, volatile (a late match must not replay old steps with fresh receive times)."""

    def __init__(self, plan: GraphPlan, domain_id: int) -> None:
        import threading

        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

        from qiki.soak_latency import StampPairing
        from qiki_msgs.msg import ActuatorCommand, WorldTruth
        from qiki_ros.graph_node import GraphNode
        from qiki_ros.spin_thread import SpinThread, private_context
        from qiki_ros.step_sync import stamp_ns

        self.pairing = StampPairing()
        self._lock = threading.Lock()
        self.node = GraphNode("qiki_soak_latency", context=private_context(domain_id))
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)

        def on(handler):
            def callback(msg) -> None:
                now = time.monotonic()
                with self._lock:
                    handler(stamp_ns(msg.header.stamp), now)
            return callback
        self.node.create_subscription(WorldTruth, plan.graph.topic_of("sim.truth"), on(self.pairing.on_truth), qos)
        self.node.create_subscription(ActuatorCommand, plan.graph.topic_of("agent.cmd"), on(self.pairing.on_cmd), qos)
        self._spinner = SpinThread(self.node, "qiki-soak-latency")

    def drain(self) -> list[float]:
        with self._lock:
            return self.pairing.drain()

    def close(self) -> None:
        self._spinner.close()
