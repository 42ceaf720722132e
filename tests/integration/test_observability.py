"""Observability on the real graph: every node's qiki/<node> status on /diagnostics with its rates,
latencies and drop counters, the Prometheus endpoint of every node, and the truth -> cmd latency."""
import socket
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_every_node_reports_diagnostics_and_metrics(domain_id, leftover_processes):
    from qiki.latency_probe import LatencyWatch
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki.graph import SYNC_TYPE

    plan = make_plan("bot")
    graph = plan.graph
    ports = dict(zip((n.name for n in graph.nodes), free_ports(len(graph.nodes))))
    commands = plan.commands()
    for node, cmd in commands:
        cmd += ["-p", f"metrics.port:={ports[node.name]}"]
    inputs = {n.name: {t.name for t in graph.topics for s in t.sub
                       if s.startswith(n.name + ".") and t.type != SYNC_TYPE} for n in graph.nodes}
    stepped = {"radar", "tracker", "agent"}
    want = {name: {"steps_total", "step_rate_hz", "latency_p50_ms", "latency_p99_ms", "latency_max_ms"}
            | {f"rate_hz.{t}" for t in topics} | {f"received_total.{t}" for t in topics}
            | ({"input_to_output_p99_ms", "dropped_total.steps_skipped"} if name in stepped else set())
            for name, topics in inputs.items()}
    want["sim"] |= {"dropped_total.commands_rejected", "published_rate_hz./qiki/sim/truth"}
    want["tracker"] |= {"dropped_total.frames_dropped_malformed", "dropped_total.frames_rejected_old"}
    want["agent"] |= {"dropped_total.inputs_dropped", "dropped_total.inputs_rejected",
                      "published_rate_hz./qiki/cmd"}

    def all_reported(state):
        got = {name.removeprefix("qiki/"): d["values"] for name, d in state.diagnostics.items()}
        return all(name in got and want[name] <= set(got[name]) and int(got[name]["steps_total"]) > 0
                   for name in want)

    observer = GraphObserver(graph)
    latency = LatencyWatch(graph.topic_of("sim.truth"), graph.topic_of("agent.cmd"))
    try:
        with GraphSupervisor(commands, graph_env(domain_id), log_dir=None) as sup:
            ok = observer.wait_for(all_reported, timeout_s=120)
            diag = observer.read(lambda s: {k: dict(v) for k, v in s.diagnostics.items()})
            missing = {n: sorted(want[n] - set(diag.get(f"qiki/{n}", {}).get("values", {}))) for n in want}
            assert ok, f"missing diagnostics keys: {missing}"
            assert {f"qiki/{n.name}" for n in graph.nodes} <= set(diag)
            for name, d in diag.items():
                if name.removeprefix("qiki/") in want:
                    assert d["level"] in (0, 1, 2) and d["message"]
                    assert float(d["values"]["latency_p99_ms"]) >= float(d["values"]["latency_p50_ms"]) >= 0
            for name, port in ports.items():
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
                assert f'qiki_processing_latency_seconds{{node="{name}",quantile="0.99"}}' in text, name
                assert f'qiki_messages_received_total{{node="{name}",topic=' in text, name
                assert f'qiki_steps_total{{node="{name}"}}' in text, name
            agent = urllib.request.urlopen(f"http://127.0.0.1:{ports['agent']}/metrics", timeout=10).read().decode()
            assert 'qiki_input_to_output_latency_seconds{node="agent",quantile="0.99"}' in agent
            assert 'qiki_dropped_total{counter="inputs_rejected",node="agent"}' in agent
            assert observer.wait_for(lambda _: latency.probe.latency.count >= 10, timeout_s=60)
            e2e = latency.probe.summary()
            assert e2e["count"] >= 10 and 0 < e2e["p50_ms"] <= e2e["p99_ms"] <= e2e["max_ms"]
            assert sup.dead() == []
    finally:
        latency.close()
        observer.close()
    assert leftover_processes(domain_id) == []
