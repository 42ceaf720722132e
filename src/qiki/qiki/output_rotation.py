"""Size and count caps of an output parent directory (runs/): the oldest finished outputs are removed until
the parent is under both caps. No rclpy.

Only directories that carry a marker file count (a finished `qiki run` has summary.json, a soak soak.json,
a rosbag2 bag metadata.yaml): anything else in the parent, and an output still being written by a
concurrent run (no marker yet), is never touched; neither is `keep` (the output this run writes).
Age is the marker's modification time (when the output was finished), then the name.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

RUN_MARKERS = ("summary.json", "soak.json")
BAG_MARKERS = ("metadata.yaml",)
DEFAULT_MAX_COUNT = 50
DEFAULT_MAX_BYTES = 2 * 1024 ** 3


@dataclass
class Output:
    path: Path
    bytes: int
    finished: float       # marker mtime (s since the epoch)


def tree_bytes(path: Path) -> int:
    """Bytes of the files under path (symlinks not followed, counted as themselves)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for root, dirs, files in os.walk(path):      # symlinked directories are listed in dirs, not walked
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:            # removed meanwhile
                pass
    return total


def finished_outputs(parent: Path, markers: tuple[str, ...] = RUN_MARKERS) -> list[Output]:
    """The parent's finished output directories, oldest first."""
    found = []
    if not parent.is_dir():
        return found
    for child in parent.iterdir():
        if child.is_symlink() or not child.is_dir():
            continue
        stamps = [(child / m).stat().st_mtime for m in markers if (child / m).is_file()]
        if stamps:
            found.append(Output(child, tree_bytes(child), max(stamps)))
    return sorted(found, key=lambda o: (o.finished, o.path.name))


def rotate(parent: Path, max_bytes: int | None = DEFAULT_MAX_BYTES, max_count: int | None = DEFAULT_MAX_COUNT,
           keep: Path | None = None, markers: tuple[str, ...] = RUN_MARKERS) -> list[Output]:
    """Remove the oldest finished outputs of parent until they, plus `keep` (counted, never removed), are at
    most max_count directories and max_bytes bytes. Returns what was removed, oldest first."""
    keep_resolved = keep.resolve() if keep is not None else None
    outputs = [o for o in finished_outputs(parent, markers) if o.path.resolve() != keep_resolved]
    kept_bytes = tree_bytes(keep) if keep is not None and keep.exists() else 0
    count = len(outputs) + (1 if keep is not None else 0)
    total = sum(o.bytes for o in outputs) + kept_bytes
    removed = []
    for o in outputs:
        if (max_count is None or count <= max_count) and (max_bytes is None or total <= max_bytes):
            break
        shutil.rmtree(o.path, ignore_errors=True)
        removed.append(o)
        count -= 1
        total -= o.bytes
    return removed


def describe(removed: list[Output]) -> str:
    """One line: how many outputs were removed, their size and the oldest / newest name."""
    mib = sum(o.bytes for o in removed) / 1024 ** 2
    names = removed[0].path.name + (f" .. {removed[-1].path.name}" if len(removed) > 1 else "")
    return f"removed {len(removed)} oldest output(s), {mib:.1f} MiB ({names})"
