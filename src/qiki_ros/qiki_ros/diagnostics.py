"""ROS shell of NodeHealth: a DiagnosticStatus `qiki/<node>` on /diagnostics every second (wall time),
and, when the `metrics.port` parameter is > 0 (both from the node's GraphNodeConfig), a Prometheus endpoint on 127.0.0.1:<port>/metrics.

StepSync gives every stepped node one (`node.sync.health` counts and times steps); a node outside the
barrier (the scorer) creates its own and subscribes through `subscribe` to be counted and timed.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType

from qiki_ros import qos
from qiki_ros.node_health import NodeHealth
from qiki_ros.params import ConfigError

if TYPE_CHECKING:
    from qiki_ros.node_config import GraphNodeConfig


class NodeDiagnostics:
    def __init__(self, node, config: "GraphNodeConfig", ports: qos.PortProfiles | None = None):
        self.node = node
        diag = config.diagnostics
        self.health = NodeHealth(node.get_name(), diag.warn_latency_ms * 1e-3, diag.error_latency_ms * 1e-3)
        self.health.count_drop_attributes(node)
        # StepSync passes the profiles it already parsed from the same `qos.ports`
        self.ports = ports or qos.PortProfiles(config.qos.ports, node.get_name())
        self.pub = node.create_publisher(DiagnosticArray, "diagnostics", self.ports["diagnostics"])
        # steady clock: reports keep coming when sim time stalls (lockstep waiting) or runs fast
        self.timer = node.create_timer(diag.period_s, self.publish, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.metrics_server = None
        port = config.metrics.port
        if port:
            from qiki_ros.metrics_export import MetricsPortError, serve_metrics
            try:
                self.metrics_server = serve_metrics(self.health, port)
            except MetricsPortError as exc:
                raise ConfigError(str(exc)) from None

    def status(self) -> DiagnosticStatus:
        report = self.health.report(time.monotonic())
        return DiagnosticStatus(level=bytes([report.level]), name=f"qiki/{self.health.name}",
                                message=report.message, hardware_id=self.node.get_fully_qualified_name(),
                                values=[KeyValue(key=k, value=v) for k, v in report.values])

    def publish(self) -> None:
        msg = DiagnosticArray(status=[self.status()])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)

    @contextmanager
    def timed(self):
        """Count the enclosed work as one step of processing."""
        t0, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.health.step_done(time.perf_counter() - t0, cpu_s=time.thread_time() - cpu)

    def subscribe(self, msg_type, port: str, callback):
        """create_subscription (with the port's QoS) whose messages are counted and whose callback is timed."""
        holder: dict[str, str] = {}

        def counted(msg) -> None:
            self.health.received[holder["topic"]] += 1
            with self.timed():
                callback(msg)
        sub = self.node.create_subscription(msg_type, port, counted, self.ports[port])
        holder["topic"] = sub.topic_name
        return sub
