"""The one error type of reading and writing bags."""
from __future__ import annotations

from pathlib import Path


class BagError(ValueError):
    """A bag cannot be read or written. ``str()`` is one line: '<file>: <problem>'."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())          # one line, whatever the cause said
        super().__init__(f"{self.path}: {self.problem}")
