"""The graph's step barrier, without ROS: decide when a node may process sim time t.

Each node announces StepDone(t) after publishing everything it had for step t, with the number of
messages per topic. A consumer may process t once every upstream node has announced t and every
message it listed on the consumer's topics has arrived. Steps are released in time order, so a
node's outputs are a function of its stamped inputs alone, never of delivery timing.

A producer that stops announcing (its process died) would hold the barrier forever: `expire()` drops
a producer the oldest pending step has waited on for longer than a wall-clock timeout, so the graph
runs on without it (degraded, and counted), and its next StepDone re-admits it from that step on.
A producer that comes back before that timeout (a fast restart) leaves a gap instead: the steps it
never announced are given up once a later step completes, and `missed` counts them per producer. A
restart that misses no step at all (a warm standby taking over between two steps) still announces a new
incarnation, and `restarted` counts those per producer.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class _Step:
    opened_s: float                                                     # wall time the first part arrived
    done: dict[str, dict[str, int]] = field(default_factory=dict)      # producer -> {topic: count}
    data: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


class StepBarrier:
    def __init__(self, upstream: set[str], topics: set[str], clock: Callable[[], float] | None = None):
        self.upstream = set(upstream)
        self.topics = set(topics)
        self._clock = clock or time.monotonic
        self._steps: dict[int, _Step] = {}
        self.last_released: int | None = None
        self.skipped = 0          # steps given up because a later step completed first (start-up)
        self.stale_dropped = 0    # messages and announcements for a step already released (late, duplicate)
        self.done_rejected = 0    # StepDone announcements whose topics and counts differ in length
        self.absent: set[str] = set()          # producers dropped by expire(), not waited for
        self.rejoined_at: dict[str, int] = {}  # producer -> first step it announced after coming back
        self.first_heard: dict[str, int] = {}  # producer -> stamp of its first announcement (seen at all)
        self.missed: dict[str, int] = defaultdict(int)  # producer -> steps given up without its StepDone
        self.incarnation: dict[str, int] = {}           # producer -> incarnation of its latest StepDone
        self.restarted: dict[str, int] = defaultdict(int)  # producer -> times its incarnation changed
        self.expired = 0          # producers dropped by expire() so far
        self.rejoined = 0         # producers re-admitted so far

    def _step(self, stamp_ns: int) -> _Step:
        step = self._steps.get(stamp_ns)
        if step is None:
            step = self._steps[stamp_ns] = _Step(self._clock())
        return step

    def add_data(self, topic: str, stamp_ns: int, msg: Any) -> None:
        """A message stamped stamp_ns arrived on `topic`; dropped (counted) if its step was released."""
        if self.last_released is not None and stamp_ns <= self.last_released:
            self.stale_dropped += 1
            return
        self._step(stamp_ns).data[topic].append(msg)

    def add_done(self, producer: str, stamp_ns: int, topics: list[str], counts: list[int],
                 incarnation: int = 0) -> None:
        """`producer` announced StepDone(stamp_ns) with its message counts per topic, from its process
        `incarnation` (0 = unknown: never counted as a restart).

        Raises ValueError (one line, nothing recorded) when topics and counts differ in length."""
        if producer not in self.upstream:
            return
        if len(topics) != len(counts):
            self.done_rejected += 1
            raise ValueError(f"StepDone from {producer}: {len(topics)} topics but {len(counts)} counts")
        if incarnation:
            if self.incarnation.get(producer, incarnation) != incarnation:
                self.restarted[producer] += 1
            self.incarnation[producer] = incarnation
        late = self.last_released is not None and stamp_ns <= self.last_released
        if producer in self.absent:
            # heard again: waited for from this step on, or from the next one if we ran past it already
            # (while it was dropped we release steps without it, so its first announcements come late)
            self.absent.discard(producer)
            self.rejoined_at[producer] = self.last_released + 1 if late else stamp_ns
            self.rejoined += 1
        if late:
            self.stale_dropped += 1
            return
        self.first_heard.setdefault(producer, stamp_ns)
        expected = {t: int(c) for t, c in zip(topics, counts) if t in self.topics}
        self._step(stamp_ns).done[producer] = expected

    def _required(self, stamp_ns: int) -> set[str]:
        """Producers step t waits for: not dropped, and (if they came back) announced from before t."""
        return {p for p in self.upstream - self.absent if self.rejoined_at.get(p, -1) <= stamp_ns}

    def _complete(self, stamp_ns: int) -> bool:
        step = self._steps[stamp_ns]
        if not self._required(stamp_ns) <= set(step.done):
            return False
        return all(len(step.data.get(t, ())) >= n for per in step.done.values() for t, n in per.items())

    def expire(self, timeout_s: float, unseen_timeout_s: float | None = None) -> list[str]:
        """Drop the producers the oldest pending step has waited on for more than timeout_s (wall);
        returns their names. A producer that never announced (still starting) gets unseen_timeout_s
        (default 10 x timeout_s). Their StepDone, when it comes, re-admits them."""
        if not self._steps:
            return []
        t = min(self._steps)
        step = self._steps[t]
        waited = self._clock() - step.opened_s
        if waited <= timeout_s or self._complete(t):
            return []
        unseen_timeout_s = 10 * timeout_s if unseen_timeout_s is None else unseen_timeout_s
        waiting = self._required(t) - set(step.done)
        missing = sorted(p for p in waiting if p in self.first_heard or waited > unseen_timeout_s)
        if waiting and not missing:
            return []
        self.absent.update(missing)
        self.expired += len(missing)
        if not waiting:   # every producer announced, a listed message never came: give the step up
            del self._steps[t]
            self.skipped += 1
        return missing

    def release(self) -> list[tuple[int, dict[str, list[Any]]]]:
        """Steps that became complete, oldest first, with their messages by topic.

        A complete step releases every older incomplete step as skipped (it can no longer
        complete: per-producer order guarantees its missing messages are lost). A producer that
        announced an earlier step but not a skipped one has missed it (it restarted or stalled).
        """
        out = []
        while self._steps:
            t = next((t for t in sorted(self._steps) if self._complete(t)), None)
            if t is None:
                break
            for older in [s for s in self._steps if s < t]:
                for p in self._required(older) - set(self._steps.pop(older).done):
                    if self.first_heard.get(p, older) < older:
                        self.missed[p] += 1
                self.skipped += 1
            out.append((t, dict(self._steps.pop(t).data)))
            self.last_released = t
        return out

    def pending(self) -> list[int]:
        return sorted(self._steps)
