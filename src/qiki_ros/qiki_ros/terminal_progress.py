"""Progress of long work (a run's sim time, a bag's playback) on a terminal, and silence elsewhere.

A `rich` progress bar on stderr, drawn only when stderr is a terminal (logs, pipes and CI stay clean)
and removed when done; updates are cheap to call often (rich redraws at 4 Hz)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class TerminalProgress:
    """`with TerminalProgress("sim", total_s) as p: p.update(done_s, note="RTF 8.1")`."""

    def __init__(self, label: str, total: float, unit: str = "s", stream=None):
        stream = stream or sys.stderr
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._progress = None
        if self.enabled:
            self._progress = Progress(
                TextColumn(f"[bold]{label}"), BarColumn(),
                TextColumn(f"{{task.completed:.1f}} / {{task.total:.1f}} {unit}"), TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(), console=Console(file=stream), transient=True, refresh_per_second=4)
            self._task = self._progress.add_task(label, total=max(total, 1e-9), note="")

    def __enter__(self) -> TerminalProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def update(self, done: float, note: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, note=note)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
