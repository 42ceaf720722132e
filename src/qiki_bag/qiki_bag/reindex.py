"""``qiki bag reindex BAG``: rebuild a bag's metadata.yaml and each split's index from the messages in it.

rosbag2's ``ros2 bag reindex`` rebuilds metadata.yaml from the storage files. Here an MCAP file also
has to be readable on its own by every reader, so a file that is not intact (cut short by a killed
recorder or a copy, no summary section, damaged chunks) is rewritten: every readable message (see
:class:`qiki_bag.mcap_file.McapFile`) goes into a new file of the same name, with schemas, channels,
chunk CRCs and a summary, and the original is kept beside it as ``<name>.mcap.damaged`` when it has
parts that could not be read (nothing is thrown away). A split a killed recorder left in
``.recording/<name>_<i>/`` is rewritten the same way into the bag directory. Intact files are left as
they are. metadata.yaml is then written from the files: their message counts per topic and time ranges,
the topics' types, QoS and definition hashes, and the ``custom_data`` of the previous metadata.yaml (or
of the files' rosbag2 metadata records) when there was one.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from qiki_bag.errors import BagError
from qiki_bag.mcap_file import McapFile, McapSplitWriter
from qiki_bag.reader import RECORDING_DIR, _McapStorage, _split_order, bag_layout, recording_files
from qiki_bag.writer import bag_metadata, dump_split_metadata, split_metadata, topic_metadata, write_metadata_yaml


@dataclass
class ReindexReport:
    """What reindex did: files kept, files rewritten (with the messages they hold), messages in the bag."""

    bag: Path
    kept: list[Path] = field(default_factory=list)
    rewritten: list[tuple[Path, Path | None]] = field(default_factory=list)  # (new file, original kept as)
    unreadable: list[str] = field(default_factory=list)
    messages: int = 0
    lost: int = 0                         # messages lost in damaged parts
    lost_exact: bool = True               # False: a lower bound (a file without its summary to count from)
    counts: dict[str, int] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f"reindexed {self.bag}: {self.messages} messages in {len(self.kept) + len(self.rewritten)} "
                 f"file(s) ({len(self.kept)} intact, {len(self.rewritten)} rewritten)"]
        lines += [f"  rewrote {new.name} " + (f"(original kept as {old.name}: it has unreadable parts)" if old else
                                              "(the original held no message more)") for new, old in self.rewritten]
        if self.lost:
            lines.append(f"  {'' if self.lost_exact else 'at least '}{self.lost} message(s) in damaged parts "
                         "could not be recovered")
        lines += [f"  skipped: {line}" for line in self.unreadable]
        return "\n".join(lines)


def reindex(path: Path | str, compression: str | None = None) -> ReindexReport:
    """Rebuild the bag directory ``path`` (or a single .mcap file) in place; returns what was done.
    Raises BagError (one line) when nothing in it can be read."""
    path = Path(path)
    layout = bag_layout(path)
    if layout.storage != "mcap":
        raise BagError(path, "reindex reads MCAP bags only (this one is sqlite3)")
    report = ReindexReport(path)
    if path.is_file():
        _rebuild_file(path, path, compression, report)
        return report
    custom = dict((layout.metadata or {}).get("custom_data") or {})
    custom.pop("writer", None)
    staged = set(recording_files(path))
    sources = sorted(set(layout.files) | staged, key=lambda p: _split_order(_target(path, p)))
    finals, unreadable = [], []
    for source in sources:
        try:
            finals.append(_rebuild_file(source, _target(path, source), compression, report))
        except BagError as exc:
            unreadable.append((source, exc))
    if not finals:
        if len(unreadable) == 1:
            raise unreadable[0][1]
        raise BagError(path, "no readable storage file: " + "; ".join(str(e) for _s, e in unreadable))
    for source, exc in unreadable:               # out of the bag, kept for whoever wants to look at it
        kept_as = path / f"{source.name}.damaged"
        source.replace(kept_as)
        report.unreadable.append(f"{exc} (moved to {kept_as.name})")
    storage = _McapStorage(path, finals, warn=lambda _text: None)
    try:
        if not custom:
            custom = {k: v for k, v in storage.custom_data().items() if k != "writer"}
        metas, names, topics = [], [], {}
        for index, mf in enumerate(storage.files):
            counts: dict[str, int] = {}
            for cid, n in mf.counts().items():
                conn = storage._conn_of.get((index, cid))
                if conn is not None:
                    counts[conn.topic] = counts.get(conn.topic, 0) + n
            for cid in sorted(mf.channels):
                conn = storage._conn_of.get((index, cid))
                if conn is not None and conn.topic not in topics:
                    topics[conn.topic] = _topic_entry(layout.metadata, conn)
            span = mf.time_range() or (None, 0)
            metas.append(split_metadata(mf.path.name, span[0], span[1], counts, list(topics.values())))
            names.append(mf.path.name)
        info = bag_metadata(metas, names, list(topics.values()), "mcap", custom)
        report.counts = {t["topic_metadata"]["name"]: t["message_count"] for t in info["topics_with_message_count"]}
        report.messages = info["message_count"]
    finally:
        storage.close()
    write_metadata_yaml(path, info)
    shutil.rmtree(path / RECORDING_DIR, ignore_errors=True)
    return report


def _target(bag: Path, source: Path) -> Path:
    """Where a storage file belongs in the bag: a split in .recording/ moves up into the bag directory."""
    return bag / source.name if source.parent.parent == bag / RECORDING_DIR else source


def _parse_qos(text: str) -> list:
    from rosbags.rosbag2.metadata import parse_qos
    try:
        return parse_qos(text)
    except Exception:
        return []


def _topic_entry(metadata: dict | None, conn) -> dict:
    """The topic's entry in the old metadata.yaml when it has one (keeps its type hash), else from the file."""
    for entry in (metadata or {}).get("topics_with_message_count") or []:
        md = entry.get("topic_metadata") if isinstance(entry, dict) else None
        if isinstance(md, dict) and md.get("name") == conn.topic and md.get("type") == conn.msgtype:
            return md
    return topic_metadata(conn.topic, conn.msgtype, conn.ext.offered_qos_profiles, conn.digest)


def _rebuild_file(source: Path, target: Path, compression: str | None, report: ReindexReport) -> Path:
    """Keep ``source`` when intact and in place, else rewrite its readable messages into ``target``."""
    with McapFile(source) as mf:
        intact = mf.intact
        if mf.nothing_readable() is not None:
            raise mf.nothing_readable()
        if intact and source == target:
            report.kept.append(source)
            return source
    if intact:                                     # a finished split the recorder had not moved yet
        source.replace(target)
        report.kept.append(target)
        return target
    with McapFile(source) as mf:
        lost, exact = mf.lost()
        report.lost += lost
        report.lost_exact = report.lost_exact and exact
        tmp = target.with_name(f".{target.name}.reindex")
        tmp.unlink(missing_ok=True)
        writer = McapSplitWriter(tmp, compression=compression)
        try:
            channel_of: dict[int, int] = {}
            topics: dict[int, dict] = {}
            for cid, channel in sorted(mf.channels.items()):
                schema = mf.schemas.get(channel.schema_id)
                if schema is None:
                    continue
                qos = channel.metadata.get("offered_qos_profiles", "")
                type_hash = channel.metadata.get("topic_type_hash", "")
                channel_of[cid] = writer.add_channel(channel.topic, schema.name,
                                                     schema.data.decode("utf-8", "replace"), qos, type_hash,
                                                     encoding=schema.encoding)
                topics[cid] = topic_metadata(channel.topic, schema.name, _parse_qos(qos), type_hash)
            for cid, stamp, data in mf.messages(channel_of):
                writer.write(channel_of[cid], stamp, data)
            counts = {}
            for cid, n in mf.counts().items():
                if cid in topics:
                    counts[topics[cid]["name"]] = counts.get(topics[cid]["name"], 0) + n
            span = mf.time_range() or (None, 0)
            meta = split_metadata(target.name, span[0], span[1], counts, list(topics.values()))
            writer.close(dump_split_metadata(meta, "mcap"))
        except BaseException:
            writer.abort()
            tmp.unlink(missing_ok=True)
            raise
    if any(d.skipped_bytes for d in mf.damage):
        kept_as = target.with_name(f"{source.name}.damaged")
        source.replace(kept_as)
    else:                                          # only the index was missing: the new file holds it all
        kept_as = None
        source.unlink()
    tmp.replace(target)
    report.rewritten.append((target, kept_as))
    return target
