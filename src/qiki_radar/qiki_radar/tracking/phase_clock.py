"""Instrumentation: wall time per phase of a tracker frame, measured around the components' calls.

A phase runs from the call of a component that opens it until the next phase opens or the frame ends, so
the components and glue in between are counted in it, and only the component opening a phase needs timing.
"""
from __future__ import annotations

import time


class PhaseClock:
    """Accumulated wall time per phase [s]; wrap each component with `timed`, each frame in `begin`/`end`."""

    def __init__(self, phases: tuple[str, ...]):
        self.phases = phases
        self.total_s = dict.fromkeys(phases, 0.0)
        self.reset()

    def reset(self) -> None:
        """Zero the totals."""
        self.total_s.update(dict.fromkeys(self.phases, 0.0))
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
