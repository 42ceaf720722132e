"""Prometheus view of a NodeHealth (`qiki_*` metrics, label `node`), without ROS.

Read at scrape time from the node's counters: counters stay counters (rates are PromQL's `rate()`),
latencies are summaries with the window's p50/p99 plus `_count`/`_sum` over the whole run. Each node
has its own CollectorRegistry and HTTP server, bound to 127.0.0.1 only.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from qiki_ros.node_health import LatencyWindow, NodeHealth

QUANTILES = (0.5, 0.99)


class HealthCollector(Collector):
    def __init__(self, health: NodeHealth):
        self.health = health

    def collect(self):
        h, node = self.health, {"node": self.health.name}
        yield _summary("qiki_processing_latency_seconds", "Work of one sim step (callback for the scorer)",
                       node, h.processing)
        if h.input_to_output.count:
            yield _summary("qiki_input_to_output_latency_seconds",
                           "First input of sim step t received -> step t done (agent: its decision)",
                           node, h.input_to_output)
        yield _metric("qiki_steps", "counter", "Sim steps processed", [(node, h.steps)])
        yield _metric("qiki_messages_received", "counter", "Messages received per input topic",
                      [({**node, "topic": t}, n) for t, n in sorted(dict(h.received).items())])
        yield _metric("qiki_messages_published", "counter", "Messages published per stepped output topic",
                      [({**node, "topic": t}, n) for t, n in sorted(dict(h.published).items())])
        yield _metric("qiki_dropped", "counter", "Drop / reject counters of the node",
                      [({**node, "counter": k}, v) for k, v in h.drops().items()])
        yield _metric("qiki_health_level", "gauge", "Level of the latest /diagnostics status (0 OK, 1 WARN, 2 ERROR)",
                      [(node, h.level)])


def _metric(name: str, kind: str, doc: str, samples) -> Metric:
    m = Metric(name, doc, kind)
    suffix = "_total" if kind == "counter" else ""
    for labels, value in samples:
        m.add_sample(name + suffix, labels, float(value))
    return m


def _summary(name: str, doc: str, labels: dict, window: LatencyWindow) -> Metric:
    m = Metric(name, doc, "summary")
    for q, v in zip(QUANTILES, window.percentiles(*(100 * q for q in QUANTILES))):
        m.add_sample(name, {**labels, "quantile": str(q)}, v)
    m.add_sample(name + "_count", labels, float(window.count))
    m.add_sample(name + "_sum", labels, window.sum_s)
    return m


class MetricsPortError(OSError):
    """The metrics port cannot be bound (one-line message)."""


def serve_metrics(health: NodeHealth, port: int):
    """Serve health on http://127.0.0.1:port/metrics from a daemon thread; returns the server."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(health))
    try:
        server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    except OSError as exc:
        raise MetricsPortError(f"node '{health.name}': metrics port {port} on 127.0.0.1: {exc.strerror or exc}") from None
    return server
