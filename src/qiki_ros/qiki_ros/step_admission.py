"""Which stamps the step barrier admits, without ROS: a message or StepDone must name a sim step that can
still come, or it would hold, expire or skip the barrier's real steps.

A stamp is admitted when it lies on the sim's step grid (multiples of the step `step_ns`, anchored at 0),
after the last released step (later is stale: a late, duplicate or replayed message), and at most
`horizon_steps` ahead of the newest step the node knows is real (its last released step, the newest
StepDone it accepted, the sim's own step). The largest legitimate lead: in lockstep the sim runs
`clock.command_lag_steps` ahead of the agent, so every node sees data at most that many steps past its own;
in realtime mode a slow consumer's inputs lead the StepDone it has processed by delivery skew only (both
come from the same producer, data first). The default horizon (`sync.horizon_steps`) leaves a wide margin
over both; before a node knows any step (start-up, joining a running graph) only the grid is checked, and
steps admitted then that turn out to be beyond the horizon are dropped once a step is known.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

PAST, FUTURE, OFF_GRID, FOREIGN, SURPLUS, ORPHAN = "past", "future", "off_grid", "foreign", "surplus", "orphan"
REASONS = (PAST, FUTURE, OFF_GRID, FOREIGN, SURPLUS, ORPHAN)
GRID_TOLERANCE_NS = 1000     # stamps are sim time rounded to ns: a step's stamp is within this of k * step_ns


@dataclass(frozen=True)
class StepGrid:
    """The sim's step grid and the admission horizon; step_ns 0 = grid unknown (only past is checked)."""
    step_ns: int = 0
    horizon_steps: int = 0     # 0 = no horizon

    def judge(self, stamp_ns: int, last_released: int | None, newest_known: int | None) -> str | None:
        """The reason the stamp is not admitted (OFF_GRID, PAST, FUTURE), or None. Off the grid comes first: it is
        the stamp's own fault, whenever it arrives."""
        if self.step_ns > 0:
            off = stamp_ns % self.step_ns
            if min(off, self.step_ns - off) > GRID_TOLERANCE_NS:
                return OFF_GRID
        if last_released is not None and stamp_ns <= last_released:
            return PAST
        if self.beyond(stamp_ns, newest_known):
            return FUTURE
        return None

    def beyond(self, stamp_ns: int, newest_known: int | None) -> bool:
        """Is the stamp further ahead of the newest known step than the horizon allows?"""
        if newest_known is None or self.step_ns <= 0 or self.horizon_steps <= 0:
            return False
        return stamp_ns > newest_known + self.horizon_steps * self.step_ns


@dataclass
class Rejections:
    """Inputs the barrier did not take, per (topic, reason); `bursts` tells the first of each burst."""
    quiet_s: float = 5.0                 # a rejection after this long without one on its key starts a burst
    counts: Counter = field(default_factory=Counter)
    _last: dict = field(default_factory=dict)

    def add(self, topic: str, reason: str, now_s: float, n: int = 1) -> bool:
        """Count n rejections; True when this one opens a burst (report it once)."""
        key = (topic, reason)
        self.counts[key] += n
        last, self._last[key] = self._last.get(key), now_s
        return last is None or now_s - last > self.quiet_s

    def total(self, reason: str | None = None) -> int:
        return sum(n for (_, r), n in self.counts.items() if reason is None or r == reason)

    def by_key(self) -> dict[str, int]:
        """Drop counters named `step_rejected_<reason>.<topic>` (for /diagnostics and Prometheus)."""
        counts = dict(self.counts)      # one copy under the GIL: a scrape thread reads while the executor counts
        return {f"step_rejected_{reason}.{topic}": n for (topic, reason), n in sorted(counts.items())}
