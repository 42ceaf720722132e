"""Read bags (rosbag2 directory, or a single ``.mcap`` / ``.db3`` file), keeping whatever is readable.

MCAP storage files are read by :class:`qiki_bag.mcap_file.McapFile`: a file cut short is read up to the
cut, a damaged chunk is skipped, counted and named once (file and offset) in a warning, and the bag says
when ``qiki bag reindex`` would rebuild its index (no metadata.yaml, a split left in ``.recording/`` by a
killed recorder, a file without its summary). sqlite3 (``.db3``) bags are read through ``rosbags``.

What cannot be read at all is a :class:`BagError` whose ``str()`` is one line naming the file and the
problem: a missing path, something that is not a bag, bad metadata with no storage file to fall back on.
Message types whose definition is missing from the bag (or cannot be parsed) are not errors: the topics
are skipped with a warning when messages are decoded; a message that cannot be decoded is skipped and
counted (one warning per topic).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.rosbag2 import Reader, ReaderError

from qiki_bag.errors import BagError
from qiki_bag.mcap_file import Damage, McapFile, merge_by_time
from qiki_bag.typestore import typestore_from_definitions

LOG = logging.getLogger("qiki_bag")
STORAGE_SUFFIXES = (".mcap", ".db3")
RECORDING_DIR = ".recording"


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


REINDEX_HINT = "run 'qiki bag reindex {path}' to rebuild its index and metadata.yaml"


def _explain(reason: str) -> str:
    """rosbags' ReaderError text (sqlite3 bags) -> the problem in user terms."""
    text = reason.strip().rstrip(".")
    low = text.lower()
    if "file is not a database" in low or "no such table" in low:
        return f"corrupted or not a rosbag2 sqlite3 file ({text})"
    if "metadata" in low or "yaml" in low:
        return f"invalid bag metadata ({text})"
    return f"corrupted bag file ({text})"


def _split_order(path: Path) -> tuple:
    """Sort key of split files: by the split index ending the name (bag_2 before bag_10), then by name."""
    match = re.search(r"_(\d+)$", path.stem)
    return (int(match.group(1)) if match else -1, path.name)


@dataclass
class _Layout:
    """Which storage files a bag path holds, and what is wrong with its listing."""

    files: list[Path]
    storage: str
    metadata: dict | None                         # rosbag2_bagfile_information of metadata.yaml
    notes: list[str] = field(default_factory=list)
    stale: bool = False                           # metadata.yaml missing or not matching the files: reindex


def _read_metadata(path: Path) -> dict:
    from ruamel.yaml import YAML
    try:
        meta = YAML(typ="safe").load(path.read_text())["rosbag2_bagfile_information"]
        if not isinstance(meta, dict) or not isinstance(meta.get("relative_file_paths", []), list):
            raise ValueError("rosbag2_bagfile_information is not a mapping with relative_file_paths")
        return meta
    except Exception as exc:
        raise BagError(path, f"invalid bag metadata ({type(exc).__name__}: {exc})") from None


def recording_files(path: Path) -> list[Path]:
    """Storage files a recorder left in ``path/.recording/`` (split being written, or killed)."""
    staging = path / RECORDING_DIR
    if not staging.is_dir():
        return []
    return sorted((f for d in staging.iterdir() if d.is_dir() for f in d.iterdir()
                   if f.suffix in STORAGE_SUFFIXES), key=_split_order)


def bag_layout(path: Path) -> _Layout:
    """The storage files of a bag path. Raises BagError when there is nothing that could be a bag."""
    if not path.exists():
        raise BagError(path, "no such file or directory")
    if path.is_file():
        if path.suffix not in STORAGE_SUFFIXES:
            raise BagError(path, "not a bag (expected a rosbag2 directory, a .mcap or a .db3 file)")
        return _Layout([path], "sqlite3" if path.suffix == ".db3" else "mcap", None)
    meta_path = path / "metadata.yaml"
    found = sorted((p for p in path.iterdir() if p.is_file() and p.suffix in STORAGE_SUFFIXES), key=_split_order)
    staged = recording_files(path)
    hint = REINDEX_HINT.format(path=path)
    if not meta_path.exists():
        if not found and not staged:
            if (path / RECORDING_DIR).exists():
                raise BagError(path, "recording was interrupted before anything was written (no metadata.yaml, "
                                     "no storage file in .recording/); nothing readable")
            raise BagError(path, "not a rosbag2 bag (no metadata.yaml in this directory)")
        files = found + staged
        what = "a recording interrupted before its first split was closed" if staged and not found else \
            "a bag whose metadata.yaml is missing"
        return _Layout(files, "sqlite3" if files[0].suffix == ".db3" else "mcap", None,
                       [f"no metadata.yaml: {what}; reading the {len(files)} storage file(s) found; {hint}"],
                       stale=True)
    try:
        meta = _read_metadata(meta_path)
    except BagError:
        if not found and not staged:
            raise
        return _Layout(found + staged, "sqlite3" if (found + staged)[0].suffix == ".db3" else "mcap", None,
                       [f"{meta_path}: unreadable; reading the storage files found; {hint}"], stale=True)
    storage = "sqlite3" if meta.get("storage_identifier") == "sqlite3" else "mcap"
    listed = [path / Path(str(p)).name for p in meta.get("relative_file_paths") or []]
    layout = _Layout([p for p in listed if p.exists()], storage, meta)
    missing = [p for p in listed if not p.exists()]
    extra = [p for p in found if p not in listed]
    if missing and not layout.files and not extra and not staged:
        raise BagError(missing[0], "listed in metadata.yaml but missing")
    if missing:
        layout.notes.append(f"{', '.join(str(p) for p in missing)}: listed in metadata.yaml but missing; {hint}")
    if extra:
        layout.notes.append(f"{', '.join(p.name for p in extra)}: not listed in metadata.yaml (read anyway); {hint}")
        layout.files = sorted(layout.files + extra, key=_split_order)
    if staged:
        layout.notes.append(f"{path / RECORDING_DIR}: a split is still being recorded, or the recorder was "
                            f"killed: then {hint} (recovers its messages)")
    layout.stale = bool(missing or extra)
    return layout


class _McapStorage:
    """The MCAP files of a bag read as one: connections merged by (topic, type), messages in log-time order."""

    def __init__(self, path: Path, files: list[Path], warn: Callable[[str], None]) -> None:
        self.files: list[McapFile] = []
        self.unreadable: list[BagError] = []
        for file in files:
            try:
                self.files.append(McapFile(file))
            except BagError as exc:
                self.unreadable.append(exc)
        if not self.files and self.unreadable:
            raise self.unreadable[0]
        if self.files and all(mf.nothing_readable() is not None for mf in self.files):
            error = self.files[0].nothing_readable()
            self.close()
            raise error
        for exc in self.unreadable:
            warn(f"{exc}; file skipped")
        self.connections: list[Connection] = []
        self._conn_of: dict[tuple[int, int], Connection] = {}     # (file index, channel id) -> connection
        by_key: dict[tuple[str, str], int] = {}
        counts: dict[int, int] = {}
        for index, mf in enumerate(self.files):
            file_counts = mf.counts()
            for cid, channel in sorted(mf.channels.items()):
                schema = mf.schemas.get(channel.schema_id)
                msgtype = schema.name if schema is not None else ""
                key = (channel.topic, msgtype)
                if key not in by_key:
                    by_key[key] = len(self.connections)
                    self.connections.append(_connection(len(self.connections) + 1, channel, schema))
                conn_index = by_key[key]
                counts[conn_index] = counts.get(conn_index, 0) + file_counts.get(cid, 0)
                self._conn_of[(index, cid)] = conn_index
        self.connections = [c._replace(msgcount=counts.get(i, 0)) for i, c in enumerate(self.connections)]
        self._conn_of = {k: self.connections[i] for k, i in self._conn_of.items()}
        for mf in self.files:
            if mf.damage:
                warn(_damage_line(mf))

    def close(self) -> None:
        for mf in self.files:
            mf.close()

    def damage(self) -> list[tuple[McapFile, Damage]]:
        return [(mf, d) for mf in self.files for d in mf.damage]

    def time_range(self) -> tuple[int, int] | None:
        ranges = [r for r in (mf.time_range() for mf in self.files) if r is not None]
        if not ranges:
            return None
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def messages(self, conns: list[Connection], start_ns: int | None, stop_ns: int | None):
        wanted = {id(c) for c in conns}
        sources = [(index, span) for index, mf in enumerate(self.files) for span in mf.spans()
                   if (start_ns is None or span.end_ns >= start_ns) and (stop_ns is None or span.start_ns < stop_ns)]

        def load(index: int, span):
            out = []
            for cid, stamp, data in self.files[index].span_messages(span):
                conn = self._conn_of.get((index, cid))
                if conn is not None and id(conn) in wanted and (start_ns is None or stamp >= start_ns) \
                        and (stop_ns is None or stamp < stop_ns):
                    out.append((stamp, (conn, data)))
            return out

        for stamp, _seq, (conn, data) in merge_by_time(sources, load):
            yield conn, stamp, data

    def custom_data(self) -> dict[str, str]:
        """custom_data of the rosbag2 metadata record of the last file that has one."""
        from ruamel.yaml import YAML
        for mf in reversed(self.files):
            text = mf.metadata.get("rosbag2", {}).get("serialized_metadata")
            if text:
                try:
                    info = YAML(typ="safe").load(text)
                    info = info.get("rosbag2_bagfile_information", info)
                    return {str(k): str(v) for k, v in (info.get("custom_data") or {}).items()}
                except Exception:
                    continue
        return {}


def _connection(cid: int, channel, schema) -> Connection:
    from rosbags.rosbag2.metadata import parse_qos
    try:
        qos = parse_qos(channel.metadata.get("offered_qos_profiles", ""))
    except Exception:
        qos = []
    if schema is None:
        msgdef = MessageDefinition(MessageDefinitionFormat.NONE, "")
    else:
        fmt = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}.get(
            schema.encoding, MessageDefinitionFormat.NONE)
        msgdef = MessageDefinition(fmt, schema.data.decode("utf-8", "replace"))
    return Connection(cid, channel.topic, schema.name if schema is not None else "", msgdef,
                      channel.metadata.get("topic_type_hash", ""), 0,
                      ConnectionExtRosbag2(channel.message_encoding, qos), None)


def _damage_line(mf: McapFile) -> str:
    """One line: what of a file could not be read, and how many messages that cost."""
    lost, exact = mf.lost()
    first = mf.damage[0]
    parts = f"{len(mf.damage)} damaged part(s) skipped, first at offset {first.offset}: {first.problem}"
    if len(mf.damage) == 1:
        parts = f"damaged at offset {first.offset}: {first.problem}"
    if lost:
        parts += f"; {'' if exact else 'at least '}{lost} message(s) lost"
    return f"{mf.path}: {parts}; {sum(mf.counts().values())} message(s) readable"


class _RosbagsStorage:
    """A sqlite3 bag through rosbags (all or nothing, as rosbags reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = Reader(path)
        try:
            self.reader.open()
        except (ReaderError, OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise BagError(path, _explain(str(exc))) from None
        self.connections = list(self.reader.connections)

    def close(self) -> None:
        self.reader.close()

    def damage(self) -> list:
        return []

    def time_range(self) -> tuple[int, int] | None:
        r = self.reader
        return (r.start_time, r.end_time - 1) if r.message_count else None

    def messages(self, conns, start_ns, stop_ns):
        try:
            yield from self.reader.messages(connections=conns, start=start_ns, stop=stop_ns)
        except (ReaderError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise BagError(self.path, _explain(str(exc))) from None

    def custom_data(self) -> dict[str, str]:
        meta = getattr(self.reader.storage, "metadata", None)
        return dict(getattr(meta, "custom", None) or {})


@dataclass
class TopicHealth:
    """What --verify found on one topic."""

    name: str
    type: str
    decoded: int = 0
    undecodable: int = 0
    lost: int = 0                 # in damaged chunks (CRC mismatch, unreadable)


@dataclass
class VerifyReport:
    topics: list[TopicHealth]
    damage: list[str]             # one line per damaged part: file, offset, problem

    @property
    def clean(self) -> bool:
        return not self.damage and not any(t.undecodable or t.lost for t in self.topics)

    def format(self) -> str:
        width = max((len(t.name) for t in self.topics), default=0)
        lines = [f"Verify:            every message decoded, every chunk CRC checked: "
                 f"{'no damage' if self.clean else 'DAMAGED'}"]
        for t in self.topics:
            lines.append(f"                   {t.name:<{width}} | decoded {t.decoded} | undecodable {t.undecodable}"
                         f" | lost in damaged chunks {t.lost}")
        lines += [f"Damage:            {d}" for d in self.damage]
        return "\n".join(lines)


class Bag:
    """An open bag. Use as a context manager, or call close()."""

    def __init__(self, path: Path | str, warn: Callable[[str], None] = _default_warn) -> None:
        self.path = Path(path)
        self.warn = warn
        self.layout = bag_layout(self.path)
        for note in self.layout.notes:
            warn(f"{self.path}: {note}" if not note.startswith(str(self.path)) else note)
        if self.layout.storage == "sqlite3":
            self.storage = _RosbagsStorage(self.path if self.layout.metadata is not None or self.path.is_file()
                                           else self.layout.files[0])
        else:
            self.storage = _McapStorage(self.path, self.layout.files, warn)
        self._typestore = None
        self._skipped: set[str] = set()
        self.undecodable: dict[str, int] = {}           # topic -> messages skipped by decoded()

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.storage is not None:
            try:
                self.storage.close()
            finally:
                self.storage = None

    @property
    def connections(self) -> list[Connection]:
        return list(self.storage.connections)

    @property
    def files(self) -> list[Path]:
        return list(self.layout.files)

    @property
    def custom_data(self) -> dict[str, str]:
        """The bag's rosbag2 ``custom_data`` (e.g. ``qiki_bag.publication_sequence``), {} when none."""
        if self.layout.metadata is not None:
            return {str(k): str(v) for k, v in (self.layout.metadata.get("custom_data") or {}).items()}
        return self.storage.custom_data()

    @property
    def needs_reindex(self) -> bool:
        """metadata.yaml missing or stale, a split left in .recording/, or a file without a usable index."""
        return (self.layout.stale or bool(recording_files(self.path) if self.path.is_dir() else False)
                or bool(self.storage.damage()) or bool(getattr(self.storage, "unreadable", [])))

    def topic_types(self) -> dict[str, str]:
        return {c.topic: c.msgtype for c in self.storage.connections}

    def info(self) -> BagInfo:
        counts: dict[tuple[str, str], int] = {}
        for c in self.storage.connections:
            counts[(c.topic, c.msgtype)] = counts.get((c.topic, c.msgtype), 0) + c.msgcount
        n = sum(counts.values())
        span = self.storage.time_range()
        files = self.files
        warnings = list(self.layout.notes)
        for exc in getattr(self.storage, "unreadable", []):
            warnings.append(f"{exc}; file skipped")
        for mf in getattr(self.storage, "files", []):
            if mf.damage:
                warnings.append(_damage_line(mf))
        meta = self.layout.metadata
        if meta is not None and isinstance(meta.get("message_count"), int) and meta["message_count"] != n:
            warnings.append(f"metadata.yaml lists {meta['message_count']} messages, {n} are readable")
        if self.needs_reindex and not any("reindex" in w for w in warnings):
            warnings.append(f"this bag needs its index rebuilt: {REINDEX_HINT.format(path=self.path)}")
        return BagInfo(
            path=self.path, storage=self.layout.storage, files=files,
            size=sum(f.stat().st_size for f in files if f.exists()), message_count=n,
            start_ns=span[0] if n and span else 0, end_ns=span[1] if n and span else 0,
            topics=[TopicCount(t, ty, c) for (t, ty), c in sorted(counts.items())], warnings=warnings)

    def messages(self, topics: list[str] | None = None, start_ns: int | None = None,
                 stop_ns: int | None = None) -> Iterator[tuple[Connection, int, bytes]]:
        """(connection, log time [ns], CDR bytes) in log-time order, optionally for some topics only;
        damaged parts of the files are skipped (they were named in a warning when the bag was opened)."""
        conns = [c for c in self.storage.connections if topics is None or c.topic in topics]
        if not conns:
            return
        yield from self.storage.messages(conns, start_ns, stop_ns)

    # ------------------------------------------------------------------------- decoding (embedded defs)
    @property
    def typestore(self):
        """Typestore built only from the definitions embedded in the bag (no workspace needed)."""
        if self._typestore is None:
            defs = {}
            for c in self.storage.connections:
                if c.msgtype not in defs or not defs[c.msgtype]:
                    defs[c.msgtype] = c.msgdef.data if c.msgdef is not None else ""

            def warn(msgtype: str, reason: str) -> None:
                topics = sorted({c.topic for c in self.storage.connections if c.msgtype == msgtype})
                self.warn(f"{self.path}: unknown message type {msgtype} ({reason}); topic(s) "
                          f"{', '.join(topics)} skipped")

            self._typestore, skipped = typestore_from_definitions(defs, warn)
            self._skipped = set(skipped)
        return self._typestore

    def decoded(self, topics: list[str] | None = None) -> Iterator[tuple[str, int, object]]:
        """(topic, log time [ns], decoded message) using the embedded definitions; unknown types skipped,
        a message that cannot be decoded skipped and counted in :attr:`undecodable` (one warning per topic)."""
        store = self.typestore
        for conn, stamp, data in self.messages(topics):
            if conn.msgtype in self._skipped:
                continue
            try:
                msg = deserialize(store, data, conn.msgtype)
            except Exception as exc:
                if not self.undecodable.get(conn.topic):
                    self.warn(f"{self.path}: message on {conn.topic} at {stamp} cannot be decoded as "
                              f"{conn.msgtype} ({' '.join(str(exc).split())}); skipped (further ones counted)")
                self.undecodable[conn.topic] = self.undecodable.get(conn.topic, 0) + 1
                continue
            yield conn.topic, stamp, msg

    def verify(self) -> VerifyReport:
        """Decode every message and collect the damage of every file, per topic."""
        health = {c.topic: TopicHealth(c.topic, c.msgtype) for c in self.storage.connections}
        self.undecodable = {}
        for topic, _stamp, _msg in self.decoded():
            health[topic].decoded += 1
        for topic, n in self.undecodable.items():
            health[topic].undecodable = n
        lines = []
        for index, mf in enumerate(getattr(self.storage, "files", [])):
            for d in mf.damage:
                lines.append(f"{mf.path}: offset {d.offset}: {d.problem}")
                for cid, n in d.lost.items():
                    conn = self.storage._conn_of.get((index, cid))
                    if conn is not None:
                        health[conn.topic].lost += n
        lines += [f"{exc}; file skipped" for exc in getattr(self.storage, "unreadable", [])]
        for topic in self._skipped_topics():
            lines.append(f"{topic}: message type unknown (no usable definition in the bag); not decoded")
        return VerifyReport(sorted(health.values(), key=lambda t: t.name), lines)

    def _skipped_topics(self) -> list[str]:
        return sorted({c.topic for c in self.storage.connections if c.msgtype in self._skipped})


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
    """Duration, start/end, topics with types and counts, and size of a bag (its warnings included)."""
    with open_bag(path, warn=lambda _text: None) as bag:
        return bag.info()
