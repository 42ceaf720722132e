"""NodeHealth: rates over a sliding wall window, latency percentiles in bounded memory, drop counters,
level rules; and its Prometheus view."""
import math

import pytest

from qiki_ros.node_health import ERROR, OK, WARN, LatencyWindow, NodeHealth


def values(report):
    return dict(report.values)


def test_percentiles_over_the_window_count_and_max_over_everything():
    w = LatencyWindow(capacity=100)
    assert all(math.isnan(v) for v in w.percentiles(50, 99))
    for i in range(1, 1001):                 # 1 .. 1000 ms; the window holds the latest 100
        w.add(i * 1e-3)
    p50, p99 = w.percentiles(50, 99)
    assert p50 == pytest.approx(0.9505) and p99 == pytest.approx(0.99901)
    assert w.count == 1000 and w.max_s == pytest.approx(1.0) and w.sum_s == pytest.approx(500.5)
    assert w._ring.nbytes == 800             # bounded: 100 float64 whatever the run length


def test_percentiles_are_numpys_linear_interpolation():
    import numpy as np
    samples = np.random.default_rng(3).exponential(0.01, 5000)
    w = LatencyWindow(capacity=4096)
    for x in samples:
        w.add(float(x))
    assert w.percentiles(0, 50, 95, 99, 100) == pytest.approx(np.percentile(samples[-4096:], [0, 50, 95, 99, 100]))


def test_rates_per_topic_over_the_sliding_window():
    h = NodeHealth("radar", window_s=5.0)
    topic = "/qiki/sim/truth"
    h.report(0.0)
    for second in range(1, 21):              # 10 Hz for 10 s, then 2 Hz
        for _ in range(10 if second <= 10 else 2):
            h.received[topic] += 1
        h.published["/qiki/radar/frame"] += 1
        r = values(h.report(float(second)))
        if second == 10:
            assert r[f"rate_hz.{topic}"] == "10.00" and r["published_rate_hz./qiki/radar/frame"] == "1.00"
    assert r[f"rate_hz.{topic}"] == "2.00"           # the 10 Hz seconds left the 5 s window
    assert r[f"received_total.{topic}"] == "120"
    assert len(h._snapshots) <= 7


def test_latency_keys_and_level_rules():
    h = NodeHealth("tracker", warn_latency_s=0.05, error_latency_s=0.1)
    for _ in range(100):
        h.step_done(0.010, 0.020, 0.004)
    r = h.report(1.0)
    v = values(r)
    assert r.level == OK and r.message == "OK"
    assert v["steps_total"] == "100" and v["latency_p50_ms"] == "10.000" and v["latency_p99_ms"] == "10.000"
    assert v["input_to_output_p99_ms"] == "20.000" and v["latency_max_ms"] == "10.000"
    assert v["cpu_p50_ms"] == "4.000" and v["cpu_p99_ms"] == "4.000"
    for _ in range(5):
        h.step_done(0.070)
    r = h.report(2.0)
    assert r.level == WARN and "processing p99" in r.message
    for _ in range(10):
        h.step_done(0.200)
    r = h.report(3.0)
    assert r.level == ERROR and "> 100 ms" in r.message and values(r)["latency_max_ms"] == "200.000"


def test_drop_counters_discovered_and_registered_warn_only_while_growing():
    class Node:
        pass
    node = Node()
    node.frames_dropped_malformed, node.commands_rejected, node.commands_clamped = 0, 0, 0
    node.started = True                      # bool, not a counter
    h = NodeHealth("sim")
    h.count_drop_attributes(node)
    skipped = [0]
    h.count_drops("steps_skipped", lambda: skipped[0])
    assert h.report(0.0).level == OK
    node.inputs_dropped = 2                  # counters added later are found too
    node.commands_rejected = 1
    r = h.report(1.0)
    assert r.level == WARN and "commands_rejected=1" in r.message and "inputs_dropped=2" in r.message
    assert {k for k in values(r) if k.startswith("dropped_total.")} == {
        "dropped_total.frames_dropped_malformed", "dropped_total.commands_rejected",
        "dropped_total.inputs_dropped", "dropped_total.steps_skipped"}
    assert h.report(2.0).level == OK         # not growing any more
    skipped[0] = 3
    r = h.report(3.0)
    assert r.level == WARN and values(r)["dropped_total.steps_skipped"] == "3"


def test_drop_maps_and_conditions_raise_the_level_naming_what():
    """Per-topic rejections of the step barrier and states no counter shows (a dropped producer, no step)."""
    h = NodeHealth("tracker")
    rejected = {}
    state = [None]
    h.count_drop_map(lambda: dict(rejected))
    h.conditions.append(lambda: state[0])
    assert h.report(0.0).level == OK
    rejected["step_rejected_future./qiki/radar/lr/frame"] = 1
    r = h.report(1.0)
    assert r.level == WARN and "step_rejected_future./qiki/radar/lr/frame=1" in r.message
    assert values(r)["dropped_total.step_rejected_future./qiki/radar/lr/frame"] == "1"
    state[0] = (ERROR, "not stepping for 3.0 s")
    r = h.report(2.0)
    assert r.level == ERROR and r.message == "not stepping for 3.0 s"
    state[0] = (WARN, "stepping without /qiki/radar (no StepDone)")
    assert h.report(3.0).level == WARN               # however long it lasts, not only when a counter grows
    assert h.report(4.0).level == WARN
    state[0] = None
    assert h.report(5.0).level == OK


def test_prometheus_view_has_qiki_metrics_with_node_label():
    from prometheus_client import CollectorRegistry, generate_latest

    from qiki_ros.metrics_export import HealthCollector
    h = NodeHealth("agent")
    h.received["/qiki/tracks"] += 3
    h.published["/qiki/cmd"] += 2
    h.count_drops("inputs_rejected", lambda: 4)
    h.count_drop_map(lambda: {"step_rejected_past./qiki/tracks": 2})
    for _ in range(10):
        h.step_done(0.002, 0.005, 0.001)
    reg = CollectorRegistry(auto_describe=False)
    reg.register(HealthCollector(h))
    text = generate_latest(reg).decode()
    assert 'qiki_processing_latency_seconds{node="agent",quantile="0.99"} 0.002' in text
    assert 'qiki_processing_latency_seconds_count{node="agent"} 10.0' in text
    assert 'qiki_processing_cpu_seconds{node="agent",quantile="0.5"} 0.001' in text
    assert 'qiki_input_to_output_latency_seconds{node="agent",quantile="0.5"} 0.005' in text
    assert 'qiki_messages_received_total{node="agent",topic="/qiki/tracks"} 3.0' in text
    assert 'qiki_messages_published_total{node="agent",topic="/qiki/cmd"} 2.0' in text
    assert 'qiki_dropped_total{counter="inputs_rejected",node="agent"} 4.0' in text
    assert 'qiki_dropped_total{counter="step_rejected_past./qiki/tracks",node="agent"} 2.0' in text
    assert 'qiki_steps_total{node="agent"} 10.0' in text
    assert 'qiki_health_level{node="agent"} 0.0' in text


def test_metrics_port_in_use_is_one_line_naming_node_and_port():
    import socket

    from qiki_ros.metrics_export import MetricsPortError, serve_metrics
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(MetricsPortError) as err:
            serve_metrics(NodeHealth("tracker"), port)
    msg = str(err.value)
    assert "node 'tracker'" in msg and str(port) in msg and "\n" not in msg
