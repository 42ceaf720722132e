"""Health of one node without ROS: message rates, processing latency percentiles, drop counters, level.

Bounded memory whatever the run length: latencies live in fixed-size ring buffers (percentiles over
the latest `capacity` samples, count / sum / max over the whole run), rates come from a few
(wall time, cumulative count) snapshots taken at each report. The ROS shell is qiki_ros.diagnostics.
"""
from __future__ import annotations

import re
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus

OK, WARN, ERROR = ord(DiagnosticStatus.OK), ord(DiagnosticStatus.WARN), ord(DiagnosticStatus.ERROR)
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}
# node attributes counted as drops without registration: frames_dropped_malformed, commands_rejected, ...
DROP_ATTRIBUTE = re.compile(r"(^|_)(dropped|rejected|skipped)(_|$)")


class LatencyWindow:
    """Latency samples [s]: percentiles over the latest `capacity`, count / sum / max over all of them."""

    def __init__(self, capacity: int = 4096):
        self._ring = np.zeros(capacity)
        self._next = 0
        self.count = 0
        self.sum_s = 0.0
        self.max_s = float("-inf")
        self._lock = threading.Lock()      # add() in the executor thread, reads from a scrape thread

    def add(self, seconds: float) -> None:
        with self._lock:
            self._ring[self._next] = seconds
            self._next = (self._next + 1) % len(self._ring)
            self.count += 1
            self.sum_s += seconds
            self.max_s = max(self.max_s, seconds)

    def since(self, count: int) -> tuple[np.ndarray, int]:
        """The samples added after the first `count` (oldest first; at most the latest `capacity`), and the
        total count they bring it to, read together so that the next call neither misses nor repeats one."""
        with self._lock:
            n = min(self.count - count, len(self._ring))
            if n <= 0:
                return np.zeros(0), self.count
            return np.roll(self._ring, -self._next)[-n:].copy(), self.count

    def percentiles(self, *qs: float) -> list[float]:
        """Percentiles (0-100) of the samples in the window [s]; NaN before the first sample."""
        with self._lock:
            window = self._ring[:min(self.count, len(self._ring))].copy()
        if not len(window):
            return [float("nan")] * len(qs)
        window.sort()          # one sort, then numpy's default (linear) interpolation: ~20x np.percentile
        pos = np.asarray(qs, dtype=float) / 100.0 * (len(window) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, len(window) - 1)
        return [float(v) for v in window[lo] + (window[hi] - window[lo]) * (pos - lo)]


@dataclass
class HealthReport:
    level: int
    message: str
    values: list[tuple[str, str]]       # (key with unit, value) as DiagnosticStatus KeyValues


class NodeHealth:
    """Counters of one node. `received`/`published` per message, `processing`/`input_to_output` per
    step, `report(now)` about once a second (it also takes the rate snapshot)."""

    def __init__(self, name: str, warn_latency_s: float = 0.05, error_latency_s: float = 0.1,
                 window_s: float = 5.0, capacity: int = 4096):
        self.name = name
        self.warn_latency_s, self.error_latency_s = warn_latency_s, error_latency_s
        self.window_s = window_s
        self.received: Counter = Counter()      # input topic -> messages
        self.published: Counter = Counter()     # output topic -> messages
        self.steps = 0
        self.processing = LatencyWindow(capacity)       # duration of one step's (or callback's) work [s]
        self.input_to_output = LatencyWindow(capacity)  # first input of step t -> step t done [s]
        self.cpu = LatencyWindow(capacity)          # CPU time of the thread during that work [s]
        self.drop_sources: dict[str, Callable[[], int]] = {}
        self.drop_maps: list[Callable[[], dict[str, int]]] = []   # sources of several named drop counters
        # node states the counters do not show (a dropped producer, no step): each returns (level, problem) or None
        self.conditions: list[Callable[[], tuple[int, str] | None]] = []
        self._drop_owner = None
        self._snapshots: deque = deque(maxlen=64)   # (wall s, received, published, steps)
        self._last_drops: dict[str, int] = {}
        self.level = OK                             # of the latest report

    # --- counting -----------------------------------------------------------------------------
    def count_drops(self, name: str, read: Callable[[], int]) -> None:
        """Register a drop counter read at each report: `health.count_drops("x_dropped", lambda: obj.x)`."""
        self.drop_sources[name] = read

    def count_drop_map(self, read: Callable[[], dict[str, int]]) -> None:
        """Register a source of named drop counters read at each report (e.g. per topic and reason)."""
        self.drop_maps.append(read)

    def count_drop_attributes(self, obj) -> None:
        """Register every int attribute of obj named like *_dropped*, *_rejected*, *_skipped* (now or later)."""
        self._drop_owner = obj

    def step_done(self, processing_s: float, since_first_input_s: float | None = None,
                  cpu_s: float | None = None) -> None:
        """One step's wall time of work, first input -> done, and CPU time (wall >> CPU: starved of CPU)."""
        self.steps += 1
        self.processing.add(processing_s)
        if cpu_s is not None:
            self.cpu.add(cpu_s)
        if since_first_input_s is not None:
            self.input_to_output.add(since_first_input_s)

    def drops(self) -> dict[str, int]:
        found = {}
        if self._drop_owner is not None:
            found = {k: v for k, v in vars(self._drop_owner).items()
                     if DROP_ATTRIBUTE.search(k) and isinstance(v, int) and not isinstance(v, bool)}
        found.update({k: int(read()) for k, read in self.drop_sources.items()})
        for read in self.drop_maps:
            found.update({k: int(v) for k, v in read().items()})
        return dict(sorted(found.items()))

    # --- reporting ----------------------------------------------------------------------------
    def rates(self, now: float) -> tuple[dict[str, float], dict[str, float], float]:
        """(received Hz, published Hz, steps Hz) over the window before the latest snapshot at or before now."""
        self._snapshots.append((now, Counter(self.received), Counter(self.published), self.steps))
        while len(self._snapshots) > 2 and now - self._snapshots[1][0] >= self.window_s:
            self._snapshots.popleft()
        t0, rx0, tx0, s0 = self._snapshots[0]
        span = now - t0
        if span <= 0:
            return {t: 0.0 for t in self.received}, {t: 0.0 for t in self.published}, 0.0
        return ({t: (n - rx0[t]) / span for t, n in self.received.items()},
                {t: (n - tx0[t]) / span for t, n in self.published.items()}, (self.steps - s0) / span)

    def report(self, now: float) -> HealthReport:
        """Level and KeyValues at wall time `now` [s, monotonic]. WARN: a drop counter grew since the
        previous report, processing p99 > warn budget, or a condition says so; ERROR: processing p99 > error
        budget, or a condition says so."""
        rx, tx, steps_hz = self.rates(now)
        p50, p99 = self.processing.percentiles(50, 99)
        io50, io99 = self.input_to_output.percentiles(50, 99)
        drops = self.drops()
        grown = [k for k, v in drops.items() if v > self._last_drops.get(k, 0)]
        self._last_drops = drops
        level, problems = OK, []
        if p99 > self.error_latency_s:
            level = ERROR
            problems.append(f"processing p99 {p99 * 1e3:.1f} ms > {self.error_latency_s * 1e3:.0f} ms")
        elif p99 > self.warn_latency_s:
            level = WARN
            problems.append(f"processing p99 {p99 * 1e3:.1f} ms > {self.warn_latency_s * 1e3:.0f} ms")
        if grown:
            level = max(level, WARN)
            problems.append("drops growing: " + ", ".join(f"{k}={drops[k]}" for k in grown))
        for condition in self.conditions:
            found = condition()
            if found:
                level = max(level, found[0])
                problems.append(found[1])
        values = [("steps_total", str(self.steps)), ("step_rate_hz", f"{steps_hz:.2f}")]
        values += [(f"latency_{name}_ms", _ms(v)) for name, v in
                   (("p50", p50), ("p99", p99), ("max", self.processing.max_s if self.processing.count else None))]
        if self.cpu.count:
            values += [(f"cpu_{name}_ms", _ms(v)) for name, v in zip(("p50", "p99"), self.cpu.percentiles(50, 99))]
        if self.input_to_output.count:
            values += [("input_to_output_p50_ms", _ms(io50)), ("input_to_output_p99_ms", _ms(io99)),
                       ("input_to_output_max_ms", _ms(self.input_to_output.max_s))]
        values += [(f"rate_hz.{t}", f"{v:.2f}") for t, v in sorted(rx.items())]
        values += [(f"received_total.{t}", str(n)) for t, n in sorted(self.received.items())]
        values += [(f"published_rate_hz.{t}", f"{v:.2f}") for t, v in sorted(tx.items())]
        values += [(f"dropped_total.{k}", str(v)) for k, v in drops.items()]
        self.level = level
        return HealthReport(level, "; ".join(problems) or "OK", values)


def _ms(seconds: float | None) -> str:
    return "nan" if seconds is None or seconds != seconds else f"{seconds * 1e3:.3f}"
