"""The graph's step barrier, without ROS: decide when a node may process sim time t.

Each node announces StepDone(t) after publishing everything it had for step t, with the number of
messages per topic. A consumer may process t once every upstream node has announced t and every
message it listed on the consumer's topics has arrived. Steps are released in time order, so a
node's outputs are a function of its stamped inputs alone, never of delivery timing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Step:
    done: dict[str, dict[str, int]] = field(default_factory=dict)      # producer -> {topic: count}
    data: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


class StepBarrier:
    def __init__(self, upstream: set[str], topics: set[str]):
        self.upstream = set(upstream)
        self.topics = set(topics)
        self._steps: dict[int, _Step] = {}
        self.last_released: int | None = None
        self.skipped = 0          # steps given up because a later step completed first (start-up)
        self.stale_dropped = 0    # messages and announcements for a step already released (late, duplicate)
        self.done_rejected = 0    # StepDone announcements whose topics and counts differ in length

    def add_data(self, topic: str, stamp_ns: int, msg: Any) -> None:
        """A message stamped stamp_ns arrived on `topic`; dropped (counted) if its step was released."""
        if self.last_released is not None and stamp_ns <= self.last_released:
            self.stale_dropped += 1
            return
        self._steps.setdefault(stamp_ns, _Step()).data[topic].append(msg)

    def add_done(self, producer: str, stamp_ns: int, topics: list[str], counts: list[int]) -> None:
        """`producer` announced StepDone(stamp_ns) with its message counts per topic.

        Raises ValueError (one line, nothing recorded) when topics and counts differ in length."""
        if producer not in self.upstream:
            return
        if len(topics) != len(counts):
            self.done_rejected += 1
            raise ValueError(f"StepDone from {producer}: {len(topics)} topics but {len(counts)} counts")
        if self.last_released is not None and stamp_ns <= self.last_released:
            self.stale_dropped += 1
            return
        expected = {t: int(c) for t, c in zip(topics, counts) if t in self.topics}
        self._steps.setdefault(stamp_ns, _Step()).done[producer] = expected

    def _complete(self, step: _Step) -> bool:
        if set(step.done) != self.upstream:
            return False
        return all(len(step.data.get(t, ())) >= n for per in step.done.values() for t, n in per.items())

    def release(self) -> list[tuple[int, dict[str, list[Any]]]]:
        """Steps that became complete, oldest first, with their messages by topic.

        A complete step releases every older incomplete step as skipped (it can no longer
        complete: per-producer order guarantees its missing messages were lost before we joined).
        """
        out = []
        while self._steps:
            complete = [t for t in sorted(self._steps) if self._complete(self._steps[t])]
            if not complete:
                break
            t = complete[0]
            for older in [s for s in self._steps if s < t]:
                del self._steps[older]
                self.skipped += 1
            out.append((t, dict(self._steps.pop(t).data)))
            self.last_released = t
        return out

    def pending(self) -> list[int]:
        return sorted(self._steps)
