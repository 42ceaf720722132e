"""Device health as the vehicle reports it; the agent's BIOS tests these readings.

Each device has a level (OK/WARN/ERROR/STALE, as DeviceStatus.msg) and a value in [0..1].
Failures scheduled by the scenario switch a device's level when sim time passes their at_s.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from qiki_msgs.msg import DeviceStatus

OK, WARN, ERROR, STALE = DeviceStatus.OK, DeviceStatus.WARN, DeviceStatus.ERROR, DeviceStatus.STALE

# Reading reported for a device whose value is not measured (everything but power): 1 = healthy.
_VALUE_BY_LEVEL = np.array([1.0, 0.5, 0.0, 0.0])


def _field(spec: Any, key: str, default: Any = None) -> Any:
    """Read a key from a pydantic model or a mapping."""
    if isinstance(spec, Mapping):
        return spec.get(key, default)
    return getattr(spec, key, default)


class DeviceHealthModel:
    """Levels and values of the devices a profile declares, with scheduled and injected failures."""

    def __init__(self, devices: Sequence[str], failures: Iterable[Any] = (), *,
                 power_warn_soc: float = 0.2, power_error_soc: float = 0.05) -> None:
        self.names: list[str] = list(devices)
        self._index = {n: i for i, n in enumerate(self.names)}
        self.power_warn_soc = power_warn_soc
        self.power_error_soc = power_error_soc
        schedule = []
        for f in failures:
            device, level = _field(f, "device"), int(_field(f, "level"))
            self._check(device, level)
            schedule.append((float(_field(f, "at_s")), device, level, _field(f, "value")))
        self._schedule = sorted(schedule, key=lambda s: s[0])  # stable: same at_s keeps file order
        self.reset()

    def reset(self) -> None:
        """All devices OK, no scheduled failure applied yet (scenario restart)."""
        n = len(self.names)
        self._levels = np.zeros(n, dtype=np.uint8)
        self._values = np.full(n, np.nan)  # NaN = derive the value from the level
        self._next = 0  # index of the first scheduled failure not applied yet

    def _check(self, device: str, level: int) -> None:
        if device not in self._index:
            raise ValueError(f"unknown device {device!r}; expected one of {', '.join(self.names)}")
        if not OK <= level <= STALE:
            raise ValueError(f"device level {level} out of range; expected 0 (OK) .. 3 (STALE)")

    def inject(self, device: str, level: int, value: float | None = None) -> None:
        """Force a device to a level now (tests, operator services); value defaults by level."""
        self._check(device, int(level))
        i = self._index[device]
        self._levels[i] = level
        self._values[i] = np.nan if value is None else float(np.clip(value, 0.0, 1.0))

    def readings(self, t_s: float, battery_soc: float) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Apply failures due by t_s and return (names, levels uint8, values float64 in [0..1]).

        power reports the battery state of charge; its level is at least WARN below
        power_warn_soc and at least ERROR below power_error_soc.
        """
        while self._next < len(self._schedule) and self._schedule[self._next][0] <= t_s:
            _, device, level, value = self._schedule[self._next]
            self.inject(device, level, value)
            self._next += 1
        levels = self._levels.copy()
        values = np.where(np.isnan(self._values), _VALUE_BY_LEVEL[levels], self._values)
        if "power" in self._index:
            i = self._index["power"]
            soc = float(np.clip(battery_soc, 0.0, 1.0))
            values[i] = soc
            floor = ERROR if soc < self.power_error_soc else WARN if soc < self.power_warn_soc else OK
            levels[i] = max(int(levels[i]), floor)
        return list(self.names), levels, values.astype(np.float64)
