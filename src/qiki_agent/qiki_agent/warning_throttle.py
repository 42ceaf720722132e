"""Recurring warnings, rate limited: a warning that repeats goes out at most once per interval, with the count of
those held back since. Keeps a flood of bad inputs or clamped commands from drowning the event stream."""
from __future__ import annotations

import math
from typing import Callable

from qiki_msgs.msg import Event


class WarningThrottle:
    """emit(code, severity, text) at most once per interval_s for each key; later ones are counted."""

    def __init__(self, interval_s: float, emit: Callable[[int, int, str], None]) -> None:
        self.interval_s = interval_s
        self.emit = emit
        self._warned: dict[str, tuple[float, int]] = {}  # key -> (last emitted t, suppressed since)

    def warn(self, t_s: float, key: str, code: int, text: str) -> None:
        """A WARN event now, or counted if `key` was emitted less than interval_s ago (a clock going back
        emits at once)."""
        last, held = self._warned.get(key, (-math.inf, 0))
        if t_s - last >= self.interval_s or t_s < last:
            self.emit(code, Event.WARN, text + (f" (+{held} more since t={last:.1f} s)" if held else ""))
            self._warned[key] = (t_s, 0)
        else:
            self._warned[key] = (last, held + 1)
