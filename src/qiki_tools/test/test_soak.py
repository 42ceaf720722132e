"""Soak verdicts (qiki_tools.soak) on made-up samples; the probe window hands the soak what is new since a count."""
import os
import sys

import numpy as np
import pytest

from qiki_tools.soak import (LatencyHistogram, SoakSample, bench_header, latency_spans, read_rss_kb, rss_figures, soak_figure,
                       verdicts, windows)


def hist(values_s):
    h = LatencyHistogram()
    h.add(values_s)
    return h


def soak(minutes=30, interval=10.0, rss=lambda name, t: 100_000, latency=lambda t: [0.010] * 50 + [0.030]):
    """Samples of a healthy soak unless the rss / latency functions say otherwise."""
    out = []
    for i in range(1, int(minutes * 60 / interval) + 1):
        t = i * interval
        out.append(SoakSample(t, 5.0 * t, {n: rss(n, t) for n in ("sim", "tracker", "runner")}, hist(latency(t))))
    return out


def by_name(checks):
    return {v.name.split(" (")[0].split(" <")[0]: v for v in checks}


def test_histogram_percentiles_within_one_bin():
    rng = np.random.default_rng(1)
    values = rng.lognormal(np.log(0.015), 0.5, 20_000)
    h = hist(values)
    assert h.count == 20_000
    for q in (50, 99):
        assert h.percentile(q) == pytest.approx(np.percentile(values, q), rel=0.02)
    assert LatencyHistogram().percentile(99) is None
    edge = hist([1e-9, 1e3, float("nan")])              # out of range: first / last bin; nan dropped
    assert edge.count == 2 and edge.percentile(100) > 9.0


def test_merged_histograms_keep_memory_constant():
    parts = [hist([0.01 * (i + 1)] * 10) for i in range(3)]
    merged = LatencyHistogram.merged(parts)
    assert merged.count == 30 and merged.counts.shape == parts[0].counts.shape
    assert merged.percentile(50) == pytest.approx(0.02, rel=0.02)


def test_windows_scale_down_for_a_short_soak():
    assert windows(1800) == (120.0, 300.0)
    warm, span = windows(60)
    assert warm == 12.0 and span == 24.0 and warm + 2 * span <= 60
    assert windows(60, warmup_s=0) == (0, 30)


def test_healthy_soak_passes_every_verdict():
    checks = verdicts(soak(), [], *windows(1800))
    assert all(v.ok for v in checks), checks
    assert len(checks) == 4


def test_rss_growth_compares_after_warmup_with_the_end_and_ignores_the_warmup():
    # big start-up growth (warm-up), then +5 %: passes; a leak of +15 % in one process: fails naming it
    def rss(name, t, leak):
        base = 50_000 if t < 100 else 100_000
        return base * (1 + (leak if name == "tracker" else 0.05) * max(0.0, t - 120) / 1680)
    ok = soak(rss=lambda n, t: rss(n, t, 0.05))
    bad = soak(rss=lambda n, t: rss(n, t, 0.15))
    figures = {f.process: f for f in rss_figures(ok, 120)}
    assert figures["tracker"].growth == pytest.approx(0.05, abs=0.01)
    assert by_name(verdicts(ok, [], 120, 300))["RSS growth"].ok
    v = by_name(verdicts(bad, [], 120, 300))["RSS growth"]
    assert not v.ok and "tracker" in v.detail


def test_missing_rss_of_a_process_fails():
    samples = soak(rss=lambda n, t: None if n == "sim" else 100_000)
    v = by_name(verdicts(samples, [], 120, 300))["RSS growth"]
    assert not v.ok and "sim" in v.detail


def test_latency_p99_first_vs_last_span():
    drift = soak(latency=lambda t: [0.010] * 50 + [0.030 if t < 1500 else 0.040])
    first, last = latency_spans(drift, 120, 300)
    assert (first.start_s, first.end_s, last.start_s, last.end_s) == (120, 420, 1500, 1800)
    assert first.p99_s == pytest.approx(0.030, rel=0.02) and last.p99_s == pytest.approx(0.040, rel=0.02)
    assert not by_name(verdicts(drift, [], 120, 300))["latency p99 stable"].ok
    assert not by_name(verdicts(soak(latency=lambda t: []), [], 120, 300))["latency p99 stable"].ok


def test_crash_and_stall_fail():
    checks = by_name(verdicts(soak(), ["tracker"], 120, 300))
    assert not checks["crashes"].ok and "tracker" in checks["crashes"].detail
    stalled = soak()
    for s in stalled[100:]:
        s.sim_time_s = stalled[99].sim_time_s
    assert not by_name(verdicts(stalled, [], 120, 300))["sim time advances"].ok
    assert not by_name(verdicts([], [], 120, 300))["sim time advances"].ok


def test_samples_before_the_graph_steps_are_not_a_stall():
    samples = soak()
    for s in samples[:20]:         # a slow start-up on a loaded machine, longer than the warm-up: sim time 0
        s.sim_time_s = 0.0
    assert by_name(verdicts(samples, [], 120, 300))["sim time advances"].ok


def test_rows_and_figure(tmp_path):
    samples = soak(minutes=2)
    row = samples[0].row()
    assert row["rss_kb.tracker"] == 100_000 and row["latency_n"] == 51 and row["latency_p99_ms"] > 20
    soak_figure(samples, *windows(120)).savefig(tmp_path / "soak.png")
    assert (tmp_path / "soak.png").stat().st_size > 1000


def test_read_rss_of_this_process_and_of_no_process():
    assert read_rss_kb(os.getpid()) > 1000
    assert read_rss_kb(2 ** 22 + 1) is None



def test_latency_window_since_a_count():
    from qiki_ros.node_health import LatencyWindow
    w = LatencyWindow(capacity=4)
    assert len(w.since(0)[0]) == 0 and w.since(0)[1] == 0
    for v in (1.0, 2.0, 3.0):
        w.add(v)
    assert w.since(1)[0].tolist() == [2.0, 3.0] and w.since(1)[1] == 3
    for v in (4.0, 5.0, 6.0):
        w.add(v)                      # wrapped: only the latest 4 are kept
    assert w.since(0)[0].tolist() == [3.0, 4.0, 5.0, 6.0]
    assert w.since(4)[0].tolist() == [5.0, 6.0] and w.since(6)[0].tolist() == [] and w.since(6)[1] == 6


def test_bench_header_names_the_command_as_run_and_the_load(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/any/where/bench_x.py", "--cases", "bot"])
    command, blank, load, end = bench_header().split("\n")
    assert command == "command: .venv/bin/python bench/bench_x.py --cases bot" and blank == end == ""
    assert load.startswith("load average before: ") and len(load.split(": ")[1].split()) == 3
