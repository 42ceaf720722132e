"""Bag writer: raw CDR messages into a rosbag2 bag (MCAP by default) through ``rosbags.rosbag2.Writer``.

Layout (rosbag2's own convention for split bags)::

    OUT_DIR/
      metadata.yaml          # rosbag2 metadata (version 9) listing every closed split
      OUT_DIR_0.mcap         # split 0 (each split is a complete, indexed MCAP file with its schemas)
      OUT_DIR_1.mcap
      .recording/OUT_DIR_2/  # the split being written (moved up when it is closed)

Each split is written in ``.recording/<name>_<i>/`` (MCAP by :class:`qiki_bag.mcap_file.McapSplitWriter`:
chunk CRCs, each finished chunk handed to the operating system at once; sqlite3 by ``rosbags``); when the
split is closed (size or duration reached, or at the end) its file is moved into OUT_DIR and
OUT_DIR/metadata.yaml is rewritten to list all closed splits. So OUT_DIR is always a readable bag of the
closed splits, also while recording, and ``ros2 bag``, ``rosbags`` and ``mcap`` readers open it as one bag.
A recorder killed mid-split leaves its finished chunks in ``.recording/``: ``qiki bag reindex`` makes them
part of the bag (:mod:`qiki_bag.reindex`).

``max_total_bytes`` caps the bag: after a split is closed, the oldest closed splits are deleted while the
total size exceeds the cap (the split being written is never deleted).

Messages are stored as received (CDR bytes, no re-serialisation). Each topic's schema is the full
``ros2msg`` definition from :mod:`qiki_bag.typestore`, embedded in every split.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

from rosbags.interfaces import Qos
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from ruamel.yaml import YAML

from qiki_bag.errors import BagError
from qiki_bag.mcap_file import McapSplitWriter
from qiki_bag.typestore import definition, ensure_type, workspace_typestore

LOG = logging.getLogger("qiki_bag")

STORAGES = {"mcap": (StoragePlugin.MCAP, ".mcap"), "sqlite3": (StoragePlugin.SQLITE3, ".db3")}
# MCAP chunk compression (rosbag2's storage-level compression: every reader of MCAP decodes it; the bag's
# metadata.yaml keeps compression_format empty, as rosbag2 does for it).
COMPRESSIONS = (None, "zstd")
RECORDING_DIR = ".recording"
_MCAP_RECORD_OVERHEAD = 1 + 8 + 2 + 4 + 8 + 8 + 16      # message record header + its index entry
_MCAP_FILE_OVERHEAD = 2048                              # magic, header, footer, statistics, indexes


class BagWriteError(BagError):
    """The bag cannot be written (output exists, disk error...). str() is one line naming the path."""


@dataclass
class _Topic:
    name: str
    msgtype: str
    msgdef: str
    rihs01: str
    qos: tuple[Qos, ...]
    count: int = 0

    def overhead(self, with_schema: bool) -> int:
        """Bytes this topic adds to a split besides its messages: schema and channel records, written
        once at the start of the split and again in the summary section, and its entry in the rosbag2
        metadata record."""
        qos_length = max(len(qos_text(self.qos)), 2)
        channel = 2 + 2 + 4 + len(self.name) + 4 + 3 + 4 + 4 + len("offered_qos_profiles") + 4 + qos_length + 9
        schema = 2 + 4 + len(self.msgtype) + 4 + 7 + 4 + len(self.msgdef) + 9 if with_schema else 0
        metadata = len(self.name) + len(self.msgtype) + qos_length + 200
        return 2 * (channel + schema) + metadata


@dataclass
class _Split:
    index: int
    path: Path                      # final storage file in out_dir
    start_ns: int | None = None
    end_ns: int = 0
    count: int = 0
    bytes_estimate: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class BagWriter:
    """Write raw serialized messages into a (split) rosbag2 bag.

    >>> with BagWriter("run1") as bag:                        # doctest: +SKIP
    ...     bag.add_topic("/qiki/events", "qiki_msgs/msg/Event")
    ...     bag.write("/qiki/events", time.time_ns(), cdr_bytes)
    """

    def __init__(self, out_dir: Path | str, storage: str = "mcap", split_size_bytes: int | None = None,
                 split_duration_s: float | None = None, max_total_bytes: int | None = None,
                 typestore=None, compression: str | None = None) -> None:
        self.out_dir = Path(out_dir)
        if storage not in STORAGES:
            raise BagWriteError(self.out_dir, f"unknown storage '{storage}' (use one of: "
                                f"{', '.join(STORAGES)})")
        if compression not in COMPRESSIONS:
            raise BagWriteError(self.out_dir, f"unknown compression '{compression}' (use one of: "
                                f"{', '.join(c for c in COMPRESSIONS if c)})")
        if compression and storage != "mcap":
            raise BagWriteError(self.out_dir, f"compression '{compression}' needs the mcap storage")
        self.compression = compression
        for name, value in (("split size", split_size_bytes), ("split duration", split_duration_s),
                            ("size cap", max_total_bytes)):
            if value is not None and not value > 0:
                raise BagWriteError(self.out_dir, f"{name} must be positive, got {value}")
        self.storage = storage
        self.plugin, self.suffix = STORAGES[storage]
        self.split_size_bytes = split_size_bytes
        self.split_duration_ns = None if split_duration_s is None else int(split_duration_s * 1e9)
        self.max_total_bytes = max_total_bytes
        self.typestore = typestore if typestore is not None else workspace_typestore()
        self.name = self.out_dir.name
        self.topics: dict[str, _Topic] = {}
        self.counts: dict[str, int] = {}          # messages written per topic (deleted splits included)
        self.bytes_written = 0                     # payload bytes written
        self.closed_splits: list[_Split] = []      # closed and still on disk, oldest first
        self.deleted_splits: list[Path] = []
        self.custom_data: dict[str, str] = {}       # rosbag2 metadata custom_data (string -> string)
        self._metadata: dict[int, dict] = {}       # split index -> rosbags' metadata of that split
        self._split: _Split | None = None
        self._writer: Writer | None = None
        self._connections: dict[str, object] = {}
        self._next_index = 0
        self._opened = False
        self._closed = False
        self.error: BagWriteError | None = None     # the first write error; the bag takes nothing after it
        self.partial_messages = 0                  # messages of the split that could not be finished

    # ----------------------------------------------------------------------------------------- setup
    def open(self) -> BagWriter:
        if self.out_dir.exists() and (not self.out_dir.is_dir() or any(self.out_dir.iterdir())):
            raise BagWriteError(self.out_dir, "output exists already and is not an empty directory "
                                "(choose another --out)")
        try:
            (self.out_dir / RECORDING_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BagWriteError(self.out_dir, f"cannot create the bag directory: {exc.strerror}") from None
        self._opened = True
        return self

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def add_topic(self, topic: str, msgtype: str, qos: list[Qos] | tuple = (), msgdef: str | None = None,
                  rihs01: str | None = None) -> bool:
        """Declare a topic before writing to it. Returns False (and warns) when ``msgtype`` is unknown."""
        if topic in self.topics:
            known = self.topics[topic]
            if known.msgtype != msgtype:
                LOG.warning("topic %s: type %s differs from recorded %s, ignored", topic, msgtype,
                            known.msgtype)
                return False
            return True
        if msgdef is None or rihs01 is None:
            if not ensure_type(self.typestore, msgtype):
                LOG.warning("topic %s: unknown message type %s (no definition installed), skipped",
                            topic, msgtype)
                return False
            msgdef, rihs01 = definition(self.typestore, msgtype)
        new_type = all(t.msgtype != msgtype for t in self.topics.values())
        self.topics[topic] = _Topic(topic, msgtype, msgdef, rihs01, tuple(qos))
        self.counts[topic] = 0
        if self._writer is not None:
            self._connect(self.topics[topic])
            self._split.bytes_estimate += self.topics[topic].overhead(with_schema=new_type)
        return True

    # ----------------------------------------------------------------------------------------- writing
    def write(self, topic: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        """Write one serialized (CDR) message with its log time [ns since epoch]."""
        if self.error is not None:
            raise self.error
        if self._closed or not self._opened:
            raise BagWriteError(self.out_dir, "bag is not open for writing")
        if topic not in self.topics:
            raise BagWriteError(self.out_dir, f"topic {topic} was not added (add_topic first)")
        try:
            split = self._split
            if split is not None and split.count and (
                    (self.split_size_bytes is not None and split.bytes_estimate >= self.split_size_bytes)
                    or (self.split_duration_ns is not None
                        and timestamp_ns - split.start_ns >= self.split_duration_ns)):
                self._close_split()
                split = None
            if split is None:
                split = self._open_split()
            self._writer.write(self._connections[topic], timestamp_ns, data)
        except BagWriteError as exc:
            self.error = exc
            raise
        except (OSError, WriterError) as exc:
            self.error = BagWriteError(self.out_dir, f"write failed: {getattr(exc, 'strerror', None) or exc}")
            raise self.error from None
        size = len(data)
        split.count += 1
        split.counts[topic] = split.counts.get(topic, 0) + 1
        split.bytes_estimate += size + _MCAP_RECORD_OVERHEAD
        split.start_ns = timestamp_ns if split.start_ns is None else min(split.start_ns, timestamp_ns)
        split.end_ns = max(split.end_ns, timestamp_ns)
        self.counts[topic] += 1
        self.bytes_written += size

    def close(self) -> None:
        """Close the current split and write the final metadata.yaml. Idempotent."""
        if self._closed or not self._opened:
            return
        self._closed = True
        if self.error is not None:
            self._close_after_error()
            return
        try:
            if self._writer is not None:
                self._close_split()
            if not self.closed_splits:
                self._write_metadata()           # empty bag: still a valid bag with its topics
        except (OSError, WriterError, BagWriteError) as exc:
            self.error = exc if isinstance(exc, BagWriteError) else BagWriteError(
                self.out_dir, f"closing the bag failed: {getattr(exc, 'strerror', None) or exc}")
            self._close_after_error()
            raise self.error from None
        shutil.rmtree(self.out_dir / RECORDING_DIR, ignore_errors=True)

    def _close_after_error(self) -> None:
        """After a write error: try to finish the open split; when that fails too, its file stays
        unindexed in RECORDING_DIR (``partial_messages`` of them, for ``qiki bag reindex``) and
        metadata.yaml lists the closed splits."""
        if self._writer is not None:
            try:
                self._close_split()
            except (OSError, WriterError, BagWriteError):
                pass
        try:
            self._write_metadata()
        except OSError:
            (self.out_dir / "metadata.yaml.tmp").unlink(missing_ok=True)

    # ----------------------------------------------------------------------------------------- splits
    @property
    def split_paths(self) -> list[Path]:
        """Storage files of the closed splits still on disk, oldest first."""
        return [s.path for s in self.closed_splits]

    @property
    def total_bytes(self) -> int:
        """Bytes on disk of the closed splits plus the estimate of the open one."""
        done = sum(s.path.stat().st_size for s in self.closed_splits if s.path.exists())
        return done + (self._split.bytes_estimate if self._split else 0)

    def _staging(self, index: int) -> Path:
        return self.out_dir / RECORDING_DIR / f"{self.name}_{index}"

    def _open_split(self) -> _Split:
        index = self._next_index
        self._next_index += 1
        staging = self._staging(index)
        try:
            if self.storage == "mcap":
                staging.mkdir(parents=True)
                self._writer = McapSplitWriter(staging / f"{staging.name}{self.suffix}", self.compression)
            else:
                self._writer = Writer(staging, version=9, storage_plugin=self.plugin)
                self._writer.open()
        except (OSError, WriterError) as exc:
            self._writer = None
            raise BagWriteError(staging, f"cannot open split: {exc}") from None
        self._connections = {}
        for topic in self.topics.values():
            self._connect(topic)
        self._split = _Split(index, self.out_dir / f"{self.name}_{index}{self.suffix}")
        seen: set[str] = set()
        for topic in self.topics.values():
            self._split.bytes_estimate += topic.overhead(with_schema=topic.msgtype not in seen)
            seen.add(topic.msgtype)
        self._split.bytes_estimate += _MCAP_FILE_OVERHEAD
        return self._split

    def _connect(self, topic: _Topic) -> None:
        if isinstance(self._writer, McapSplitWriter):
            self._connections[topic.name] = self._writer.add_channel(
                topic.name, topic.msgtype, topic.msgdef, qos_text(topic.qos), topic.rihs01)
            return
        self._connections[topic.name] = self._writer.add_connection(
            topic.name, topic.msgtype, msgdef=topic.msgdef, rihs01=topic.rihs01,
            offered_qos_profiles=list(topic.qos))

    def _close_split(self) -> None:
        writer, split = self._writer, self._split
        self._writer, self._split, self._connections = None, None, {}
        staging = self._staging(split.index)
        try:
            if isinstance(writer, McapSplitWriter):
                meta = split_metadata(split.path.name, split.start_ns, split.end_ns,
                                      {name: split.counts.get(name, 0) for name in self.topics},
                                      [topic_metadata(t.name, t.msgtype, t.qos, t.rihs01)
                                       for t in self.topics.values()])
                writer.close(dump_split_metadata(meta, self.storage))
            else:
                writer.close()
                meta = YAML(typ="safe").load((staging / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        except (OSError, WriterError) as exc:
            try:
                writer.abort()
            except (OSError, WriterError):
                pass
            self.partial_messages = split.count
            raise BagWriteError(staging, f"closing the split failed: {getattr(exc, 'strerror', None) or exc}") \
                from None
        (staging / f"{staging.name}{self.suffix}").replace(split.path)
        shutil.rmtree(staging, ignore_errors=True)
        self._metadata[split.index] = meta
        self.closed_splits.append(split)
        self._apply_cap()
        self._write_metadata()

    def _apply_cap(self) -> None:
        if self.max_total_bytes is None:
            return
        while len(self.closed_splits) > 1 and self.total_bytes > self.max_total_bytes:
            oldest = self.closed_splits.pop(0)
            self._metadata.pop(oldest.index, None)
            oldest.path.unlink(missing_ok=True)
            self.deleted_splits.append(oldest.path)
            LOG.info("size cap %d B reached: deleted oldest split %s", self.max_total_bytes, oldest.path.name)
        if (len(self.closed_splits) == 1 and self._split is None and self.closed_splits[0].path.exists()
                and self.closed_splits[0].path.stat().st_size > self.max_total_bytes):
            LOG.warning("split %s alone is larger than the size cap (%d B): use a split size below the cap",
                        self.closed_splits[0].path.name, self.max_total_bytes)

    def _write_metadata(self) -> None:
        """metadata.yaml of the closed splits: the per-split metadata merged into one bag."""
        template = {t["topic_metadata"]["name"]: t["topic_metadata"]
                    for t in (self._metadata[self.closed_splits[-1].index]["topics_with_message_count"]
                              if self.closed_splits else [])}
        topics = [template.get(name) or topic_metadata(t.name, t.msgtype, t.qos, t.rihs01)
                  for name, t in self.topics.items()]
        info = bag_metadata([self._metadata[s.index] for s in self.closed_splits],
                            [s.path.name for s in self.closed_splits], topics, self.storage, self.custom_data)
        write_metadata_yaml(self.out_dir, info)


def qos_text(qos) -> str:
    """Offered QoS profiles as the YAML text rosbag2 stores in an MCAP channel's metadata."""
    from rosbags.rosbag2.metadata import dump_qos_v9
    if not qos:
        return ""
    text = StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump(dump_qos_v9(list(qos)), text)
    return text.getvalue().strip()


def topic_metadata(name: str, msgtype: str, qos, rihs01: str) -> dict:
    """A topic's ``topic_metadata`` entry in metadata.yaml (version 9)."""
    from rosbags.rosbag2.metadata import dump_qos_v9
    return {"name": name, "type": msgtype, "serialization_format": "cdr",
            "offered_qos_profiles": dump_qos_v9(list(qos)), "type_description_hash": rihs01 or ""}


def split_metadata(file_name: str, start_ns: int | None, end_ns: int, counts: dict[str, int],
                   topics: list[dict]) -> dict:
    """Metadata of one split file (the shape rosbags writes for a one-file bag)."""
    total = sum(counts.values())
    start = start_ns if total and start_ns is not None else 0
    duration = max(0, end_ns - start) if total else 0
    return {"files": [{"path": file_name, "starting_time": {"nanoseconds_since_epoch": start},
                       "duration": {"nanoseconds": duration}, "message_count": total}],
            "message_count": total, "starting_time": {"nanoseconds_since_epoch": start},
            "duration": {"nanoseconds": duration},
            "topics_with_message_count": [{"topic_metadata": t, "message_count": counts.get(t["name"], 0)}
                                          for t in topics]}


def dump_split_metadata(meta: dict, storage: str) -> str:
    """The rosbag2 metadata text stored in an MCAP split's ``rosbag2`` metadata record."""
    info = bag_metadata([meta], [meta["files"][0]["path"]],
                        [t["topic_metadata"] for t in meta["topics_with_message_count"]], storage, {})
    return _yaml_text(info).strip()


def bag_metadata(metas: list[dict], names: list[str], topics: list[dict], storage: str,
                 custom_data: dict) -> dict:
    """rosbag2_bagfile_information (version 9) of a bag made of the splits ``metas`` (files ``names``)."""
    files, counts = [], {}
    start, end = None, 0
    for name, meta in zip(names, metas):
        entry = dict(meta["files"][0])
        entry["path"] = name
        files.append(entry)
        if meta["message_count"]:
            s0 = meta["starting_time"]["nanoseconds_since_epoch"]
            start = s0 if start is None else min(start, s0)
            end = max(end, s0 + meta["duration"]["nanoseconds"])
        for t in meta["topics_with_message_count"]:
            counts[t["topic_metadata"]["name"]] = counts.get(t["topic_metadata"]["name"], 0) + t["message_count"]
    return {
        "version": 9,
        "storage_identifier": storage,
        "relative_file_paths": list(names),
        "duration": {"nanoseconds": max(0, end - start) if start is not None else 0},
        "starting_time": {"nanoseconds_since_epoch": start if start is not None else 0},
        "message_count": sum(counts.values()),
        "topics_with_message_count": [{"topic_metadata": md, "message_count": counts.get(md["name"], 0)}
                                      for md in topics],
        "compression_format": "",
        "compression_mode": "",
        "files": files,
        "custom_data": {"writer": "qiki_bag", **{str(k): str(v) for k, v in custom_data.items()}},
        "ros_distro": "kilted",
    }


def _yaml_text(info: dict) -> str:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    text = StringIO()
    yaml.dump({"rosbag2_bagfile_information": info}, text)
    return text.getvalue()


def write_metadata_yaml(out_dir: Path, info: dict) -> None:
    """Replace OUT_DIR/metadata.yaml atomically."""
    tmp = out_dir / "metadata.yaml.tmp"
    tmp.write_text(_yaml_text(info), "utf8")
    tmp.replace(out_dir / "metadata.yaml")
