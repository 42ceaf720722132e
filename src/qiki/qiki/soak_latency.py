"""End-to-end latency of the graph for the soak: wall time from the receipt of /qiki/sim/truth stamped t to
the receipt of the agent's /qiki/cmd stamped t, both received in one process (one clock, no skew).

Stopgap pairing owned by the soak (the general `qiki.latency_probe` is being written separately; the two
are to be unified). Memory is bounded: at most `max_pending` truth stamps wait for their command.
No rclpy: qiki.soak_graph feeds it from its subscriptions.
"""
from __future__ import annotations

from collections import OrderedDict


class StampPairing:
    """Pairs truth and command receipts by stamp; drain() hands over the latencies [s] paired so far."""

    def __init__(self, max_pending: int = 1000) -> None:
        self.max_pending = max_pending
        self._truth: OrderedDict[int, float] = OrderedDict()   # stamp ns -> wall receive time s
        self._latencies: list[float] = []
        self.unpaired_cmds = 0

    def on_truth(self, stamp_ns: int, wall_s: float) -> None:
        self._truth.setdefault(stamp_ns, wall_s)
        while len(self._truth) > self.max_pending:
            self._truth.popitem(last=False)

    def on_cmd(self, stamp_ns: int, wall_s: float) -> None:
        truth_wall = self._truth.pop(stamp_ns, None)
        while self._truth and next(iter(self._truth)) < stamp_ns:   # older steps never get a command
            self._truth.popitem(last=False)
        if truth_wall is None:
            self.unpaired_cmds += 1
        else:
            self._latencies.append(wall_s - truth_wall)

    @property
    def pending(self) -> int:
        """Truth stamps waiting for their command."""
        return len(self._truth)

    def drain(self) -> list[float]:
        out, self._latencies = self._latencies, []
        return out
