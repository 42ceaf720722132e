"""The graph's step barrier, without ROS: decide when a node may process sim time t.

Each node announces StepDone(t) after publishing everything it had for step t, with the number of
messages per topic. A consumer may process t once every upstream node has announced t and every
message it listed on the consumer's topics has arrived. Steps are released in time order, so a
node's outputs are a function of its stamped inputs alone, never of delivery timing.

Nothing enters unchecked (qiki_ros.step_admission): a stamp off the sim's step grid, not after the last
released step, or beyond the horizon of the newest known step is dropped and counted per topic and
reason, and so is a StepDone of another graph run (its `run_id` differs). A step that only data opened
(no producer announced it) is never waited on by `expire()` and never counts as a producer's missed step:
a stray message cannot drop, hold or blame a producer. Messages beyond the count their producer announced
are surplus: the latest ones are kept, the others dropped and counted.

A producer that stops announcing (its process died) would hold the barrier forever: `expire()` drops
a producer the oldest announced step has waited on for longer than a wall-clock timeout, so the graph
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

from qiki_ros.step_admission import FOREIGN, FUTURE, ORPHAN, PAST, SURPLUS, Rejections, StepGrid

STEP_DONE = "step_done"      # the topic label of StepDone rejections


@dataclass
class _Step:
    announced_s: float | None = None                                    # wall time of its first StepDone
    done: dict[str, dict[str, int]] = field(default_factory=dict)      # producer -> {topic: count}
    data: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))


class StepBarrier:
    def __init__(self, upstream: set[str], topics: set[str], clock: Callable[[], float] | None = None,
                 grid: StepGrid | None = None, run_id: str = "", sync_topic: str = STEP_DONE,
                 members: set[str] | None = None):
        self.upstream = set(upstream)
        self.members = None if members is None else set(members) | self.upstream   # None: anyone is ignored
        self.topics = set(topics)
        self.grid = grid or StepGrid()
        self.run_id = run_id        # StepDone of another run id: foreign, ignored
        self.sync_topic = sync_topic
        self._clock = clock or time.monotonic
        self._steps: dict[int, _Step] = {}
        self.last_released: int | None = None
        self.newest_announced: int | None = None   # newest step an upstream producer announced (admitted)
        self.own_step: int | None = None           # the sim's own newest step (set by the node that steps)
        self.rejections = Rejections()
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
        # called as on_reject(topic, reason, stamp_ns, opens_burst) for every rejection (log it, report a burst)
        self.on_reject: Callable[[str, str, int, bool], None] | None = None

    # --- admission ---------------------------------------------------------------------------------
    def newest_known(self) -> int | None:
        """The newest step this node knows is real: released, announced upstream, or its own."""
        known = [t for t in (self.last_released, self.newest_announced, self.own_step) if t is not None]
        return max(known) if known else None

    def _reject(self, topic: str, reason: str, stamp_ns: int, n: int = 1) -> str:
        if reason == PAST:
            self.stale_dropped += n
        first = self.rejections.add(topic, reason, self._clock(), n)
        if self.on_reject is not None:
            self.on_reject(topic, reason, stamp_ns, first)
        return reason

    def observe_own_step(self, stamp_ns: int) -> None:
        """The node's own newest step (the sim): the reference of the admission horizon."""
        self.own_step = stamp_ns if self.own_step is None else max(self.own_step, stamp_ns)
        self._prune()

    def _prune(self) -> None:
        """Drop the pending steps (opened by data only) that lie beyond the horizon of the newest known step."""
        newest = self.newest_known()
        for t in [t for t in self._steps if self.grid.beyond(t, newest)]:
            for topic, msgs in self._steps.pop(t).data.items():
                if msgs:
                    self._reject(topic, FUTURE, t, len(msgs))

    # --- input -------------------------------------------------------------------------------------
    def _step(self, stamp_ns: int) -> _Step:
        step = self._steps.get(stamp_ns)
        if step is None:
            step = self._steps[stamp_ns] = _Step()
        return step

    def add_data(self, topic: str, stamp_ns: int, msg: Any) -> str | None:
        """A message stamped stamp_ns arrived on `topic`; returns why it was dropped (counted), or None."""
        reason = self.grid.judge(stamp_ns, self.last_released, self.newest_known())
        if reason:
            return self._reject(topic, reason, stamp_ns)
        self._step(stamp_ns).data[topic].append(msg)
        return None

    def add_done(self, producer: str, stamp_ns: int, topics: list[str], counts: list[int],
                 incarnation: int = 0, run_id: str | None = None) -> str | None:
        """`producer` announced StepDone(stamp_ns) with its message counts per topic, from its process
        `incarnation` (0 = unknown: never counted as a restart) in graph run `run_id` (None: this run).
        Returns why it was dropped (counted), or None; a producer outside `upstream` is ignored (None), and
        counted as FOREIGN when `members` is given and it is none of them (no node of this graph).

        Raises ValueError (one line, nothing recorded) when topics and counts differ in length."""
        if run_id is not None and run_id != self.run_id:
            return self._reject(self.sync_topic, FOREIGN, stamp_ns)
        if producer not in self.upstream:
            if self.members is None or producer in self.members:
                return None
            return self._reject(self.sync_topic, FOREIGN, stamp_ns)
        if len(topics) != len(counts):
            self.done_rejected += 1
            raise ValueError(f"StepDone from {producer}: {len(topics)} topics but {len(counts)} counts")
        reason = self.grid.judge(stamp_ns, None, self.newest_known())
        if reason:
            return self._reject(self.sync_topic, reason, stamp_ns)
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
            return self._reject(self.sync_topic, PAST, stamp_ns)
        self.first_heard.setdefault(producer, stamp_ns)
        expected = {t: int(c) for t, c in zip(topics, counts) if t in self.topics}
        step = self._step(stamp_ns)
        step.done[producer] = expected
        if step.announced_s is None:
            step.announced_s = self._clock()
        if self.newest_announced is None or stamp_ns > self.newest_announced:
            self.newest_announced = stamp_ns
            self._prune()
        return None

    # --- stepping ----------------------------------------------------------------------------------
    def _required(self, stamp_ns: int) -> set[str]:
        """Producers step t waits for: not dropped, and (if they came back) announced from before t."""
        return {p for p in self.upstream - self.absent if self.rejoined_at.get(p, -1) <= stamp_ns}

    def _complete(self, stamp_ns: int) -> bool:
        step = self._steps[stamp_ns]
        if not self._required(stamp_ns) <= set(step.done):
            return False
        return all(len(step.data.get(t, ())) >= n for per in step.done.values() for t, n in per.items())

    def expire(self, timeout_s: float, unseen_timeout_s: float | None = None) -> list[str]:
        """Drop the producers the oldest announced step has waited on for more than timeout_s (wall);
        returns their names. A producer that never announced (still starting) gets unseen_timeout_s
        (default 10 x timeout_s). Their StepDone, when it comes, re-admits them. A step every producer
        announced but whose listed messages have not all arrived is given up after unseen_timeout_s (its
        data is on its way: reliable delivery from a live producer only lags, e.g. while a late joiner takes
        the transient-local history)."""
        announced = [t for t, s in self._steps.items() if s.done]
        if not announced:
            return []
        t = min(announced)
        step = self._steps[t]
        waited = self._clock() - step.announced_s
        if waited <= timeout_s or self._complete(t):
            return []
        unseen_timeout_s = 10 * timeout_s if unseen_timeout_s is None else unseen_timeout_s
        waiting = self._required(t) - set(step.done)
        missing = sorted(p for p in waiting if p in self.first_heard or waited > unseen_timeout_s)
        if waiting and not missing:
            return []
        self.absent.update(missing)
        self.expired += len(missing)
        if not waiting and waited > unseen_timeout_s:   # a listed message never came: give the step up
            self._give_up_older(t + 1)
            self.last_released = t if self.last_released is None else max(self.last_released, t)
        return missing

    def _give_up_older(self, t: int) -> None:
        """Give up every pending step before t: a step some producer announced is skipped (and missed by
        the producers heard before it that did not announce it); one opened by data only is orphan data."""
        for older in sorted(s for s in self._steps if s < t):
            step = self._steps.pop(older)
            if not step.done:
                for topic, msgs in step.data.items():
                    if msgs:
                        self._reject(topic, ORPHAN, older, len(msgs))
                continue
            for p in self._required(older) - set(step.done):
                if self.first_heard.get(p, older) < older:
                    self.missed[p] += 1
            self.skipped += 1

    def _announced_only(self, t: int, step: _Step) -> dict[str, list[Any]]:
        """The step's messages by topic, at most the count its producers announced (the latest ones)."""
        data = dict(step.data)
        for topic, msgs in data.items():
            listed = [per[topic] for per in step.done.values() if topic in per]
            if listed and len(msgs) > sum(listed):
                keep = sum(listed)
                self._reject(topic, SURPLUS, t, len(msgs) - keep)
                data[topic] = msgs[len(msgs) - keep:]
        return data

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
            self._give_up_older(t)
            out.append((t, self._announced_only(t, self._steps.pop(t))))
            self.last_released = t
        return out

    def pending(self) -> list[int]:
        return sorted(self._steps)
