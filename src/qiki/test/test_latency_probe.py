"""LatencyProbe: pairing truth and command receive times by stamp, out of order, missing pairs, bounds."""
import struct

import pytest

from qiki.latency_probe import LatencyProbe, cdr_stamp_ns

MS = 1_000_000
STEP = 100 * MS


def test_pairs_by_stamp_and_reports_percentiles():
    probe = LatencyProbe()
    for k in range(100):
        probe.truth(k * STEP, k * 0.1)
        probe.command(k * STEP, k * 0.1 + (k + 1) * 1e-4)     # 0.1 .. 10 ms
    s = probe.summary()
    assert s["count"] == 100
    assert s["p50_ms"] == pytest.approx(5.05, abs=0.01)
    assert s["p99_ms"] == pytest.approx(9.901, abs=0.01)
    assert s["max_ms"] == pytest.approx(10.0)
    assert s["unmatched_commands"] == 0 and s["negative"] == 0


def test_command_before_its_truth_still_pairs_and_is_flagged():
    probe = LatencyProbe()
    probe.command(5 * STEP, 1.000)
    probe.truth(5 * STEP, 1.002)
    s = probe.summary()
    assert s["count"] == 1 and s["negative"] == 1 and s["max_ms"] == pytest.approx(-2.0)


def test_steps_without_decision_are_not_paired_and_lost_truths_count_commands_unmatched():
    probe = LatencyProbe()
    for k in range(10):                     # sim at 20 Hz, agent decides every other step
        probe.truth(k * STEP // 2, k * 0.05)
        if k % 2 == 0:
            probe.command(k * STEP // 2, k * 0.05 + 0.003)
    assert probe.summary()["count"] == 5
    probe.command(20 * STEP, 2.0)           # its truth was lost ...
    probe.truth(21 * STEP, 2.1)
    probe.command(21 * STEP, 2.104)         # ... which the next pair reveals
    s = probe.summary()
    assert s["count"] == 6 and s["unmatched_commands"] == 1
    assert s["max_ms"] == pytest.approx(4.0)


def test_memory_is_bounded():
    probe = LatencyProbe(capacity=50, max_pending=20)
    for k in range(1000):                   # truths nobody answers, then commands without truth
        probe.truth(k * STEP, k * 0.1)
    assert len(probe._truth) == 20
    for k in range(2000, 3000):
        probe.command(k * STEP, k * 0.1)
    assert len(probe._cmd) == 20 and probe.unmatched_commands == 980
    for k in range(5000, 5200):
        probe.truth(k * STEP, 0.0)
        probe.command(k * STEP, 0.001 * (k < 5100))   # the latest 100 pairs are 0 ms
    s = probe.summary()
    assert s["count"] == 200 and s["max_ms"] == pytest.approx(1.0)
    assert s["p99_ms"] == 0.0               # percentiles over the latest `capacity` pairs only
    assert len(probe.latency._ring) == 50


def test_summary_before_any_pair():
    s = LatencyProbe().summary()
    assert s["count"] == 0 and s["p99_ms"] is None and s["max_ms"] is None


@pytest.mark.parametrize("endian", ["<", ">"])
def test_stamp_read_from_cdr_header(endian):
    head = b"\x00\x01\x00\x00" if endian == "<" else b"\x00\x00\x00\x00"
    data = head + struct.pack(endian + "iI", 12, 300_000_000) + b"\x04\x00\x00\x00map\x00"
    assert cdr_stamp_ns(data) == 12_300_000_000


def test_warmup_steps_are_paired_but_not_counted():
    probe = LatencyProbe(warmup_ns=5 * STEP)
    for k in range(10):
        probe.truth(k * STEP, k * 0.1)
        probe.command(k * STEP, k * 0.1 + (0.5 if k < 5 else 0.002))
    s = probe.summary()
    assert s["count"] == 5 and s["max_ms"] == pytest.approx(2.0)
    assert not probe._truth and not probe._cmd
