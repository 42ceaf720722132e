"""Run one graph for a soak: `qiki run`'s supervision (lockstep by default, no end of scenario: the graph keeps
stepping past the scenario's duration) for a wall-clock time, sampling on a fixed schedule the RSS of every
node process and of this process (observer + latency probe), the sim time and the end-to-end latency.

The graph is started once and never restarted, so a leak accumulates instead of being reset.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from qiki.run_loop import ConfigFlags, RunOptions, configured_plan, supervise
from qiki.plan import GraphPlan
from qiki_tools.soak import LatencyHistogram, SoakSample, read_rss_kb

RUNNER = "runner"      # the soak process itself: observer, latency probe (qiki.latency_probe), sampling


@dataclass
class SoakRun:
    samples: list[SoakSample] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)      # nodes that exited on their own
    exit_codes: dict[str, int] = field(default_factory=dict)
    signal: int | None = None
    wall_time_s: float = 0.0
    sim_time_s: float = 0.0


class _Sampler:
    """tick() of supervise: one sample every interval_s of wall time, True once the soak has lasted long enough.
    The latencies of a sample are those the run's LatencyProbe paired since the previous sample."""

    def __init__(self, duration_s: float, interval_s: float, on_sample) -> None:
        self.duration_s, self.interval_s, self.on_sample = duration_s, interval_s, on_sample
        self.samples: list[SoakSample] = []
        self.t0 = time.monotonic()
        self.next_t = interval_s
        self.paired = 0

    def __call__(self, sup, observer, latency_watch) -> bool:
        t = time.monotonic() - self.t0
        if t < self.next_t:
            return False
        self.next_t += self.interval_s * (int((t - self.next_t) // self.interval_s) + 1)
        rss = {p.spec.name: read_rss_kb(p.popen.pid) for p in sup.procs if p.popen}
        rss[RUNNER] = read_rss_kb(os.getpid())
        latency = LatencyHistogram()
        new, self.paired = latency_watch.probe.latency.since(self.paired)
        latency.add(new)
        sample = SoakSample(t, observer.read(lambda s: s.sim_time_s), rss, latency, os.getloadavg()[0])
        self.samples.append(sample)
        if self.on_sample is not None:
            self.on_sample(sample)
        return t >= self.duration_s


def run_soak(plan: GraphPlan, duration_s: float, interval_s: float, domain_id: int, log_dir: Path | None,
             mode: str = "lockstep", on_sample=None) -> SoakRun:
    """Start the graph, sample it every interval_s until duration_s of wall time (or a node dies, or
    SIGINT/SIGTERM), stop it; on_sample(sample) sees each sample as it is taken."""
    sampler = _Sampler(duration_s, interval_s, on_sample)
    with tempfile.TemporaryDirectory(prefix="qiki-soak-") as tmp:
        plan = configured_plan(plan, ConfigFlags(mode=mode), "run", Path(tmp) / "params.yaml")  # as qiki run
        report = supervise(plan, RunOptions(domain_id=domain_id), log_dir, tick=sampler)
    # a node the runner restarted crashed all the same: the soak counts it
    crashed = [p.spec.name for p in report["failed"]] + [r["node"] for r in report["restarts"]]
    return SoakRun(samples=sampler.samples, crashed=crashed,
                   exit_codes=report["codes"], signal=report["signal"], wall_time_s=report["wall_time_s"],
                   sim_time_s=report["observer"].sim_time_s)
