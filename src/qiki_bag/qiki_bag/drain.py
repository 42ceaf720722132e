"""When a stopped recorder has taken everything its publishers sent before the stop. Pure: no rclpy.

A reliable DDS reader delivers each writer's samples in order: a sample lost on the wire holds back every later
one of that writer until the writer's next heartbeat makes the reader ask for it again. So a writer is done
once it delivered something well after the stop (nothing of it from before the stop is still held back), or
once it has been silent for longer than a repair takes (several heartbeat periods: config/fastdds.xml).
A writer that keeps publishing on wall time (/diagnostics) is done within one of its periods.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping

QUIET_NS = 500_000_000        # several heartbeat periods of the graph's reliable writers (0.1 s)


def pending_writers(last_received_ns: Mapping[Hashable, int], stop_ns: int, now_ns: int,
                    quiet_ns: int = QUIET_NS) -> list[Hashable]:
    """The writers (keys of `last_received_ns`: writer -> receive time of its newest delivered sample) whose
    samples from before `stop_ns` may still be on their way at `now_ns` (all times on one clock)."""
    return [w for w, rx in last_received_ns.items() if rx < stop_ns + quiet_ns and now_ns - rx < quiet_ns]
