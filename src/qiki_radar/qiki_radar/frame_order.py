"""Put radar frames from several band topics back in time order before they reach the tracker.

Frames of one band arrive in order, but LR and SR come on separate topics, so an LR frame can be
delivered after a later SR frame. A frame is released once no band can still deliver an earlier
one: band b's next frame is not due before its last stamp + its scan period. A frame stamped
exactly when another band is due waits for that band's frame, and frames of one instant are
released in band order (LR before SR), so processing order never depends on delivery order.
A band that falls silent holds nothing back for longer than `max_wait_s` of sim time.
"""
from __future__ import annotations

import heapq
from typing import Any


class FrameReorderBuffer:
    def __init__(self, bands: tuple[int, ...], max_wait_s: float):
        self.bands = bands
        self.max_wait_s = max_wait_s
        self._next_due: dict[int, float] = {}
        self._heap: list[tuple[float, int, int, Any]] = []
        self._count = 0
        self._newest = float("-inf")

    def push(self, t: float, band: int, period_s: float, item: Any) -> list[tuple[float, Any]]:
        """Add a frame; return the frames now safe to process, oldest first, as (t, item)."""
        self._next_due[band] = t + max(period_s, 0.0)
        self._newest = max(self._newest, t)
        heapq.heappush(self._heap, (t, band, self._count, item))
        self._count += 1
        watermark = min(self._next_due.get(b, float("-inf")) for b in self.bands)
        watermark = max(watermark, self._newest - self.max_wait_s + 2e-9)
        ready = []
        while self._heap and self._heap[0][0] < watermark - 1e-9:
            t0, _, _, it = heapq.heappop(self._heap)
            ready.append((t0, it))
        return ready

    def __len__(self) -> int:
        return len(self._heap)
