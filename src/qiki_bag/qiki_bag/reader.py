"""Read bags (rosbag2 directory, or a single ``.mcap`` / ``.db3`` file) through ``rosbags``.

Every failure is a :class:`BagError` whose ``str()`` is one line naming the file and the problem:
a missing path, something that is not a bag, a truncated or corrupted storage file, bad metadata.
Message types whose definition is missing from the bag (or cannot be parsed) are not errors: the
topics are skipped with a warning when messages are decoded.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, ReaderError

from qiki_bag.typestore import typestore_from_definitions

LOG = logging.getLogger("qiki_bag")
STORAGE_SUFFIXES = (".mcap", ".db3")
RECORDING_DIR = ".recording"


class BagError(ValueError):
    """A bag cannot be read or written. ``str()`` is one line: '<file>: <problem>'."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())          # one line, whatever the cause said
        super().__init__(f"{self.path}: {self.problem}")


def _default_warn(message: str) -> None:
    LOG.warning(message)


class TopicCount(tuple):
    """(name, type, count) of one topic; also readable as .name / .type / .count."""

    def __new__(cls, name: str, type_: str, count: int):
        return super().__new__(cls, (name, type_, count))

    name = property(lambda self: self[0])
    type = property(lambda self: self[1])
    count = property(lambda self: self[2])


@dataclass
class BagInfo:
    path: Path
    storage: str
    files: list[Path]
    size: int                      # bytes of the storage files
    message_count: int
    start_ns: int                  # log time of the first message [ns since epoch] (0 if empty)
    end_ns: int                    # log time of the last message
    topics: list[TopicCount]       # sorted by topic name
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def start(self) -> float:
        return self.start_ns / 1e9

    @property
    def end(self) -> float:
        return self.end_ns / 1e9

    def counts(self) -> dict[str, int]:
        return {t.name: t.count for t in self.topics}

    def format(self) -> str:
        """Text like ``ros2 bag info``."""
        def stamp(ns: int) -> str:
            dt = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).astimezone()
            return f"{dt:%b %d %Y %H:%M:%S}.{dt.microsecond // 1000:03d} ({ns / 1e9:.9f})"

        width = max((len(t.name) for t in self.topics), default=0)
        twidth = max((len(t.type) for t in self.topics), default=0)
        lines = [
            f"Files:             {', '.join(f.name for f in self.files) or '(none)'}",
            f"Bag size:          {_human(self.size)}",
            f"Storage id:        {self.storage}",
            f"Duration:          {self.duration_s:.9f}s",
            f"Start:             {stamp(self.start_ns) if self.message_count else '-'}",
            f"End:               {stamp(self.end_ns) if self.message_count else '-'}",
            f"Messages:          {self.message_count}",
        ]
        for i, t in enumerate(self.topics):
            head = "Topic information: " if i == 0 else " " * 19
            lines.append(f"{head}Topic: {t.name:<{width}} | Type: {t.type:<{twidth}} | Count: {t.count} | "
                         "Serialization Format: cdr")
        if not self.topics:
            lines.append("Topic information: (none)")
        lines += [f"Warning:           {w}" for w in self.warnings]
        return "\n".join(lines)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _explain(reason: str) -> str:
    """rosbags' ReaderError text -> the problem in user terms."""
    text = reason.strip().rstrip(".")
    low = text.lower()
    if "seems to be empty" in low:
        return "empty file (not a bag)"
    if "file magic is invalid" in low and "end" not in low:
        return "not an MCAP file (bad magic bytes)"
    if "end magic" in low or "footer" in low or "truncated" in low or "summary offset" in low:
        return (f"truncated or corrupted MCAP ({text}): the recording was interrupted or the file was cut; "
                "it cannot be read")
    if "profile is not ros2" in low:
        return "MCAP file is not a ROS 2 bag (profile is not ros2)"
    if "file is not a database" in low or "no such table" in low:
        return f"corrupted or not a rosbag2 sqlite3 file ({text})"
    return f"corrupted bag file ({text})"


def _storage_files(path: Path) -> list[Path]:
    """Storage files a bag directory lists (or the file itself)."""
    if path.is_file():
        return [path]
    try:
        from ruamel.yaml import YAML
        meta = YAML(typ="safe").load((path / "metadata.yaml").read_text())
        return [path / Path(p).name for p in meta["rosbag2_bagfile_information"]["relative_file_paths"]]
    except Exception:
        return sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES)


def _locate(path: Path, exc: Exception) -> BagError:
    """The BagError naming the storage file that fails (tried one by one), else the bag itself."""
    if path.is_dir():
        for file in _storage_files(path):
            if not file.exists():
                return BagError(file, "listed in metadata.yaml but missing")
            try:
                with Reader(file) as single:
                    for _ in single.messages():
                        pass
            except (ReaderError, OSError, ValueError, KeyError, IndexError) as inner:
                return BagError(file, _explain(str(inner)))
    text = str(exc)
    if "metadata" in text.lower() or "yaml" in text.lower():
        return BagError(path / "metadata.yaml" if path.is_dir() else path, f"invalid bag metadata ({text})")
    return BagError(path, _explain(text))


def _check_path(path: Path) -> None:
    if not path.exists():
        raise BagError(path, "no such file or directory")
    if path.is_dir():
        if not (path / "metadata.yaml").exists():
            if (path / RECORDING_DIR).exists():
                raise BagError(path, "recording was interrupted before its first split was closed "
                                     "(no metadata.yaml); nothing readable")
            raise BagError(path, "not a rosbag2 bag (no metadata.yaml in this directory)")
    elif path.suffix not in STORAGE_SUFFIXES:
        raise BagError(path, "not a bag (expected a rosbag2 directory, a .mcap or a .db3 file)")


class Bag:
    """An open bag. Use as a context manager, or call close()."""

    def __init__(self, path: Path | str, warn: Callable[[str], None] = _default_warn) -> None:
        self.path = Path(path)
        self.warn = warn
        _check_path(self.path)
        self.reader = Reader(self.path)
        try:
            self.reader.open()
        except (ReaderError, OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise _locate(self.path, exc) from None
        self._typestore = None
        self._skipped: set[str] = set()

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.reader is not None:
            try:
                self.reader.close()
            finally:
                self.reader = None

    @property
    def connections(self) -> list[Connection]:
        return list(self.reader.connections)

    @property
    def files(self) -> list[Path]:
        return _storage_files(self.path)

    @property
    def custom_data(self) -> dict[str, str]:
        """The bag's rosbag2 ``custom_data`` (e.g. ``qiki_bag.publication_sequence``), {} when none."""
        meta = getattr(self.reader.storage, "metadata", None)
        return dict(getattr(meta, "custom", None) or {})

    def topic_types(self) -> dict[str, str]:
        return {c.topic: c.msgtype for c in self.reader.connections}

    def info(self) -> BagInfo:
        r = self.reader
        counts: dict[tuple[str, str], int] = {}
        for c in r.connections:
            counts[(c.topic, c.msgtype)] = counts.get((c.topic, c.msgtype), 0) + c.msgcount
        n = r.message_count
        files = self.files
        storage = "sqlite3" if files and files[0].suffix == ".db3" else "mcap"
        warnings = []
        if self.path.is_dir() and (self.path / RECORDING_DIR).exists():
            warnings.append(f"{self.path / RECORDING_DIR}: a split is still being recorded or the recording "
                            "was interrupted; only closed splits are listed")
        return BagInfo(
            path=self.path, storage=storage, files=files,
            size=sum(f.stat().st_size for f in files if f.exists()), message_count=n,
            start_ns=r.start_time if n else 0, end_ns=(r.end_time - 1) if n else 0,
            topics=[TopicCount(t, ty, c) for (t, ty), c in sorted(counts.items())], warnings=warnings)

    def messages(self, topics: list[str] | None = None, start_ns: int | None = None,
                 stop_ns: int | None = None) -> Iterator[tuple[Connection, int, bytes]]:
        """(connection, log time [ns], CDR bytes) in log-time order, optionally for some topics only."""
        conns = [c for c in self.reader.connections if topics is None or c.topic in topics]
        if not conns:
            return
        try:
            yield from self.reader.messages(connections=conns, start=start_ns, stop=stop_ns)
        except (ReaderError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise _locate(self.path, exc) from None

    # ------------------------------------------------------------------------- decoding (embedded defs)
    @property
    def typestore(self):
        """Typestore built only from the definitions embedded in the bag (no workspace needed)."""
        if self._typestore is None:
            defs = {}
            for c in self.reader.connections:
                if c.msgtype not in defs or not defs[c.msgtype]:
                    defs[c.msgtype] = c.msgdef.data if c.msgdef is not None else ""

            def warn(msgtype: str, reason: str) -> None:
                topics = sorted({c.topic for c in self.reader.connections if c.msgtype == msgtype})
                self.warn(f"{self.path}: unknown message type {msgtype} ({reason}); topic(s) "
                          f"{', '.join(topics)} skipped")

            self._typestore, skipped = typestore_from_definitions(defs, warn)
            self._skipped = set(skipped)
        return self._typestore

    def decoded(self, topics: list[str] | None = None) -> Iterator[tuple[str, int, object]]:
        """(topic, log time [ns], decoded message) using the embedded definitions; unknown types skipped."""
        store = self.typestore
        for conn, stamp, data in self.messages(topics):
            if conn.msgtype in self._skipped:
                continue
            try:
                msg = deserialize(store, data, conn.msgtype)
            except Exception as exc:
                raise BagError(self.path, f"message on {conn.topic} at {stamp} cannot be decoded as "
                                          f"{conn.msgtype} ({exc})") from None
            yield conn.topic, stamp, msg


def deserialize(store, data: bytes, msgtype: str):
    """CDR bytes -> message, like ``store.deserialize_cdr`` but accepting surplus bytes after the message.

    ``rclpy.serialization.serialize_message`` (rmw_fastrtps) returns a buffer sized by its size estimate,
    i.e. with up to tens of undefined bytes after the message; DDS subscribers ignore them, rosbags'
    strict check rejects them. Messages received over DDS are exact and take the strict path.
    """
    try:
        return store.deserialize_cdr(data, msgtype)
    except Exception as exc:
        if "size mismatch" not in str(exc):
            raise
    msgdef = store.get_msgdef(msgtype)
    func = msgdef.deserialize_cdr_le if data[1] else msgdef.deserialize_cdr_be
    message, _pos = func(bytes(data[4:]), 0, msgdef.cls, store)
    return message


def open_bag(path: Path | str, warn: Callable[[str], None] = _default_warn) -> Bag:
    """Open a bag for reading. Raises BagError (one line naming the file) when it cannot be read."""
    return Bag(path, warn)


def bag_info(path: Path | str) -> BagInfo:
    """Duration, start/end, topics with types and counts, and size of a bag."""
    with open_bag(path) as bag:
        return bag.info()
