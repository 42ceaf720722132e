"""Power-on self test ("BIOS"): grade every declared device and decide whether the vehicle may move.

Pure Python (no rclpy) so it can be unit-tested without ROS; the agent node feeds it the latest
reading per device and publishes the result as diagnostics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Mapping, Optional, Sequence

from qiki_msgs.msg import DeviceStatus


class Level(IntEnum):
    """Device health: the qiki_msgs/DeviceStatus levels (numerically equal to diagnostic_msgs/DiagnosticStatus)."""

    OK = DeviceStatus.OK
    WARN = DeviceStatus.WARN
    ERROR = DeviceStatus.ERROR
    STALE = DeviceStatus.STALE


OK, WARN, ERROR, STALE = Level.OK, Level.WARN, Level.ERROR, Level.STALE

# Contribution of one device to the health score.
_SCORE = {OK: 1.0, WARN: 0.5, ERROR: 0.0, STALE: 0.0}


@dataclass(frozen=True)
class Reading:
    """Latest report from one device: its own level, a scalar value and when it was taken."""

    level: int
    value: float
    stamp_s: float


@dataclass(frozen=True)
class Threshold:
    """Lower limits on a device's value: below warn_below is WARN, below error_below is ERROR."""

    warn_below: float
    error_below: float

    def __post_init__(self) -> None:
        if not self.error_below <= self.warn_below:
            raise ValueError(f"error_below ({self.error_below}) must not exceed warn_below ({self.warn_below})")

    def grade(self, value: float) -> tuple[Level, str]:
        if value < self.error_below:
            return ERROR, f"value {value:g} below {self.error_below:g}"
        if value < self.warn_below:
            return WARN, f"value {value:g} below {self.warn_below:g}"
        return OK, ""


@dataclass(frozen=True)
class DeviceResult:
    name: str
    level: Level
    message: str


@dataclass(frozen=True)
class BiosResult:
    devices: tuple[DeviceResult, ...]
    health_score: float
    all_systems_go: bool


class SelfTest:
    """Grades the devices a profile declares; readings for anything else are ignored."""

    def __init__(
        self,
        devices: Sequence[str],
        min_value: Optional[Mapping[str, Threshold]] = None,
        stale_after_s: float = 2.0,
    ) -> None:
        self.devices = tuple(devices)
        self.min_value = dict(min_value or {})
        self.stale_after_s = float(stale_after_s)
        if not self.devices:
            raise ValueError("SelfTest needs at least one declared device")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError(f"duplicate device names in {list(self.devices)}")
        undeclared = sorted(set(self.min_value) - set(self.devices))
        if undeclared:
            raise ValueError(f"min_value given for undeclared devices {undeclared} (declared: {list(self.devices)})")
        if not (math.isfinite(self.stale_after_s) and self.stale_after_s > 0):
            raise ValueError(f"stale_after_s must be a positive number, got {stale_after_s!r}")

    def run(self, now_s: float, readings: Mapping[str, Reading]) -> BiosResult:
        """Grade every declared device at time now_s."""
        results = tuple(self._grade(name, readings.get(name), now_s) for name in self.devices)
        score = sum(_SCORE[r.level] for r in results) / len(results)
        go = all(r.level in (OK, WARN) for r in results)
        return BiosResult(devices=results, health_score=score, all_systems_go=go)

    def _grade(self, name: str, reading: Optional[Reading], now_s: float) -> DeviceResult:
        """One device: staleness first, then value sanity, then the worse of reported level and threshold."""
        if reading is None:
            return DeviceResult(name, STALE, "no reading")
        age = now_s - reading.stamp_s
        if not math.isfinite(age):
            return DeviceResult(name, STALE, f"unusable timestamp {reading.stamp_s!r}")
        if age > self.stale_after_s:
            return DeviceResult(name, STALE, f"last reading {age:.2f} s old (limit {self.stale_after_s:g} s)")
        if not math.isfinite(reading.value):
            return DeviceResult(name, ERROR, f"value is {reading.value!r} (not a finite number)")
        try:
            reported = Level(reading.level)
        except ValueError:
            return DeviceResult(name, ERROR, f"unknown level {reading.level!r}")
        limit, why = self.min_value[name].grade(reading.value) if name in self.min_value else (OK, "")
        level = max(reported, limit)
        if level == OK:
            return DeviceResult(name, OK, "ok")
        return DeviceResult(name, level, why if limit == level else f"device reports {reported.name}")
