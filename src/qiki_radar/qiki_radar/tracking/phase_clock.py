"""Instrumentation: wall time per phase of a tracker frame, measured around the components' calls.

A phase runs from the start of a call to a component of that phase until the start of the next timed call
or the end of the frame, so the glue between calls is counted in the phase before it.
"""
from __future__ import annotations

import time


class PhaseClock:
    """Accumulated wall time per phase [s]; wrap each component with `timed`, each frame in `begin`/`end`."""

    def __init__(self, phases: tuple[str, ...]):
        self.phases = phases
        self.reset()

    def reset(self) -> None:
        """Zero the totals."""
        self.total_s = dict.fromkeys(self.phases, 0.0)
        self._phase: str | None = None
        self._mark = 0.0

    def begin(self) -> None:
        self._phase = None

    def enter(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase is not None:
            self.total_s[self._phase] += now - self._mark
        self._phase, self._mark = phase, now

    def end(self) -> None:
        self.enter(None)

    def timed(self, component, phase: str):
        """`component` whose method calls enter `phase` first."""
        return _Timed(component, phase, self)


class _Timed:
    """A component whose method calls tell the clock their phase starts."""

    def __init__(self, component, phase: str, clock: PhaseClock):
        self._component, self._phase, self._clock = component, phase, clock

    def __getattr__(self, name: str):
        method = getattr(self._component, name)
        if not callable(method):
            return method
        enter, phase = self._clock.enter, self._phase

        def timed(*args, **kwargs):
            enter(phase)
            return method(*args, **kwargs)

        self.__dict__[name] = timed  # built once per method
        return timed
