"""Soak verdicts over periodic samples of a long graph run: liveness, RSS growth after warm-up, stability
of the end-to-end latency (first vs last span). No rclpy: qiki_tools.soak_graph feeds it from a running graph.

Figures follow issue #8: zero crashes, RSS growth of every process < 10 % after warm-up, latency p99 of
the first and the last span (5 minutes in a 30-minute soak) within 20 % of each other.
"""
from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RSS_GROWTH_LIMIT = 0.10     # fraction of the RSS after warm-up
P99_CHANGE_LIMIT = 0.20     # |last p99 / first p99 - 1|
WARMUP_S = 120.0            # start-up, DDS discovery, first scenario transients, allocator pools filling
SPAN_S = 300.0              # latency comparison span: first / last 5 minutes after warm-up
RSS_SPAN_S = 60.0           # RSS baseline / end: median over one minute (samples are noisy by a page or two)


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages as printed by the benches ("2.41 2.89 3.37")."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_header() -> str:
    """What every bench prints first: the command that produced its figures, and the load before them."""
    command = f".venv/bin/python bench/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".rstrip()
    return f"command: {command}\n\nload average before: {load_average()}\n"


def read_rss_kb(pid: int) -> int | None:
    """VmRSS of a live process in kB from /proc/<pid>/status; None when it is gone (or a zombie)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class LatencyHistogram:
    """Latencies [s] in log-spaced bins (2 % wide, 0.1 ms to 10 s): constant memory however long the soak,
    percentiles to within one bin. Values outside the range count in the first / last bin."""

    LO_S, HI_S, RATIO = 1e-4, 10.0, 1.02
    EDGES = LO_S * RATIO ** np.arange(int(math.ceil(math.log(HI_S / LO_S) / math.log(RATIO))) + 1)

    def __init__(self) -> None:
        self.counts = np.zeros(len(self.EDGES) - 1, dtype=np.int32)

    def add(self, values_s) -> None:
        v = np.asarray(values_s, dtype=float)
        v = v[np.isfinite(v)]
        if len(v):
            idx = np.clip(np.searchsorted(self.EDGES, v, side="right") - 1, 0, len(self.counts) - 1)
            np.add.at(self.counts, idx, 1)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def percentile(self, q: float) -> float | None:
        """q-th percentile (0..100) as the geometric centre of its bin; None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * total))
        i = int(np.searchsorted(np.cumsum(self.counts), rank))
        return float(math.sqrt(self.EDGES[i] * self.EDGES[i + 1]))

    @classmethod
    def merged(cls, hists) -> LatencyHistogram:
        out = cls()
        for h in hists:
            out.counts += h.counts
        return out


@dataclass
class SoakSample:
    """One sampling instant: wall time since the graph started, sim time, RSS per process, and the
    latencies that arrived since the previous sample."""

    t_s: float
    sim_time_s: float
    rss_kb: dict[str, int | None]
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    load_1min: float | None = None      # machine load average (the machine may be shared)

    def row(self) -> dict:
        """Flat record for CSV / JSON."""
        p50, p99 = self.latency.percentile(50), self.latency.percentile(99)
        return {"t_s": round(self.t_s, 2), "sim_time_s": round(self.sim_time_s, 2),
                **{f"rss_kb.{name}": kb for name, kb in self.rss_kb.items()},
                "load_1min": self.load_1min, "latency_n": self.latency.count,
                "latency_p50_ms": None if p50 is None else round(p50 * 1e3, 3),
                "latency_p99_ms": None if p99 is None else round(p99 * 1e3, 3)}


@dataclass
class RssFigure:
    process: str
    after_warmup_kb: float
    end_kb: float

    @property
    def growth(self) -> float:
        return self.end_kb / self.after_warmup_kb - 1.0


@dataclass
class LatencySpan:
    start_s: float
    end_s: float
    count: int
    p50_s: float | None
    p99_s: float | None
    sim_speed: float | None = None      # sim seconds per wall second over the span (load shows here)
    load_1min: float | None = None      # mean machine load average over the span


@dataclass
class Verdict:
    name: str
    ok: bool
    detail: str


def windows(duration_s: float, warmup_s: float | None = None) -> tuple[float, float]:
    """(warm-up, comparison span) of a soak of duration_s: 120 s / 300 s for a long soak, scaled down to
    20 % / 40 % of a short one (the smoke test) so both spans still fit after the warm-up."""
    warm = min(WARMUP_S, 0.2 * duration_s) if warmup_s is None else warmup_s
    return warm, max(0.0, min(SPAN_S, 0.5 * (duration_s - warm)))


def rss_figures(samples: list[SoakSample], warmup_s: float) -> list[RssFigure]:
    """Per process: median RSS over the first minute after warm-up and over the last minute."""
    if not samples:
        return []
    end_t = samples[-1].t_s
    span = min(RSS_SPAN_S, max(0.0, (end_t - warmup_s) / 2))
    figures = []
    for name in samples[0].rss_kb:
        first = [s.rss_kb[name] for s in samples if warmup_s <= s.t_s <= warmup_s + span and s.rss_kb.get(name)]
        last = [s.rss_kb[name] for s in samples if s.t_s >= end_t - span and s.rss_kb.get(name)]
        if first and last:
            figures.append(RssFigure(name, statistics.median(first), statistics.median(last)))
    return figures


def latency_spans(samples: list[SoakSample], warmup_s: float, span_s: float) -> tuple[LatencySpan, LatencySpan]:
    """Latency percentiles of the first span after warm-up and of the last span of the run."""
    end_t = samples[-1].t_s if samples else 0.0

    def span(lo: float, hi: float) -> LatencySpan:
        inside = [s for s in samples if lo < s.t_s <= hi]
        h = LatencyHistogram.merged(s.latency for s in inside)
        speed = ((inside[-1].sim_time_s - inside[0].sim_time_s) / (inside[-1].t_s - inside[0].t_s)
                 if len(inside) > 1 else None)
        loads = [s.load_1min for s in inside if s.load_1min is not None]
        return LatencySpan(lo, hi, h.count, h.percentile(50), h.percentile(99), speed,
                           statistics.fmean(loads) if loads else None)
    return span(warmup_s, warmup_s + span_s), span(end_t - span_s, end_t)


def verdicts(samples: list[SoakSample], crashed: list[str], warmup_s: float, span_s: float) -> list[Verdict]:
    """crashes, sim time advancing in every interval once stepping, RSS growth per process, latency p99 stability."""
    out = [Verdict("crashes", not crashed, f"{len(crashed)} ({', '.join(crashed) or 'none'})")]
    # start-up (sim time still 0: processes loading, DDS discovery) is not a stall, however long it takes
    stalls = [b.t_s for a, b in zip(samples, samples[1:]) if 0 < a.sim_time_s >= b.sim_time_s]
    if stalls or not samples:
        out.append(Verdict("sim time advances", False,
                           f"stalled at t = {stalls[0]:.0f} s wall" if stalls else "no samples"))
    else:
        out.append(Verdict("sim time advances", samples[-1].sim_time_s > 0,
                           f"{samples[-1].sim_time_s:.0f} s sim in {samples[-1].t_s:.0f} s wall"))
    figures = rss_figures(samples, warmup_s)
    names = list(samples[0].rss_kb) if samples else []
    missing = [n for n in names if n not in {f.process for f in figures}]
    worst = max(figures, key=lambda f: f.growth, default=None)
    out.append(Verdict(f"RSS growth < {RSS_GROWTH_LIMIT:.0%}",
                       bool(figures) and not missing and worst.growth < RSS_GROWTH_LIMIT,
                       f"no RSS samples for {', '.join(missing)}" if missing or not figures else
                       f"worst {worst.process} {worst.growth:+.1%}"))
    first, last = latency_spans(samples, warmup_s, span_s)
    if not first.p99_s or not last.p99_s:
        out.append(Verdict("latency p99 stable", False, f"no latency samples (first {first.count}, last {last.count})"))
    else:
        change = last.p99_s / first.p99_s - 1.0
        out.append(Verdict(f"latency p99 stable (within {P99_CHANGE_LIMIT:.0%})", abs(change) <= P99_CHANGE_LIMIT,
                           f"first {first.p99_s * 1e3:.2f} ms, last {last.p99_s * 1e3:.2f} ms ({change:+.1%})"))
    return out


def soak_figure(samples: list[SoakSample], warmup_s: float, span_s: float, title: str = ""):
    """RSS per process and latency p50/p99 per sampling interval over wall time; warm-up and the two
    latency comparison spans shaded. Matplotlib Figure (Agg, no pyplot)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10.0, 7.5), dpi=80, layout="constrained")
    ax_rss, ax_lat, ax_rtf = fig.subplots(3, 1, sharex=True, height_ratios=(3, 3, 2))
    t = np.array([s.t_s for s in samples]) / 60.0
    for name in (samples[0].rss_kb if samples else {}):
        kb = np.array([s.rss_kb.get(name) or np.nan for s in samples], dtype=float)
        ax_rss.plot(t, kb / 1024.0, lw=1.2, label=name)
    ax_rss.set_ylabel("RSS [MiB]")
    ax_rss.set_title(title or "Soak: resident memory per process", fontsize=10)
    for q, style in ((50, "-"), (99, "--")):
        ms = np.array([np.nan if s.latency.percentile(q) is None else s.latency.percentile(q) * 1e3
                       for s in samples], dtype=float)
        ax_lat.plot(t, ms, style, lw=1.0, color="black" if q == 99 else "tab:blue", label=f"p{q}")
    ax_lat.set_ylabel("truth -> cmd latency [ms]")
    rtf = [(b.sim_time_s - a.sim_time_s) / (b.t_s - a.t_s) if a.sim_time_s > 0 else np.nan
           for a, b in zip(samples, samples[1:])]
    ax_rtf.plot(t[1:], rtf, lw=1.0, color="tab:green", label="sim speed (x real time)")
    load = np.array([np.nan if s.load_1min is None else s.load_1min for s in samples], dtype=float)
    if np.isfinite(load).any():
        ax_rtf.plot(t, load, lw=1.0, color="0.4", label="machine load average (1 min)")
    ax_rtf.set_ylim(bottom=0.0)
    ax_rtf.legend(loc="upper left", fontsize=7, ncols=2)
    ax_rtf.set_xlabel("wall time [min]")
    ax_lat.set_ylim(bottom=0.0)
    end = t[-1] if len(t) else 0.0
    for ax in (ax_rss, ax_lat, ax_rtf):
        ax.axvspan(0.0, warmup_s / 60.0, color="0.9", label="warm-up" if ax is ax_rss else None)
        ax.grid(True, lw=0.3)
    ax_rss.set_ylim(bottom=0.0)
    for lo, hi in ((warmup_s, warmup_s + span_s), (end * 60.0 - span_s, end * 60.0)):
        ax_lat.axvspan(lo / 60.0, hi / 60.0, color="tab:green", alpha=0.08)
    ax_rss.legend(loc="upper left", fontsize=7, ncols=4)
    ax_lat.legend(loc="upper left", fontsize=7)
    return fig
