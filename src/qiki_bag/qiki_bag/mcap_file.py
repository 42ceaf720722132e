"""One MCAP storage file of a rosbag2 bag: read whatever is intact, write with chunk CRCs.

:class:`McapFile` opens a file however it was left: complete (its summary section indexes the chunks),
cut short (killed recorder, truncated copy: the records are walked from the start up to the cut) or with
damaged bytes (a chunk whose CRC or structure fails is skipped and recorded as :class:`Damage` with its
offset; after a record header that cannot be read, the walk resynchronises on the next well-formed chunk).
Every chunk is checked once when the file is opened, so the message counts and the damage are known before
any message is read. Only a file that is not MCAP at all (empty, bad magic, no header record, another
profile) raises :class:`~qiki_bag.errors.BagError`.

:class:`McapSplitWriter` writes a ``ros2``-profile file with the ``mcap`` library: schemas ``ros2msg``,
channels with rosbag2's ``offered_qos_profiles`` metadata, chunk CRCs, and every finished chunk handed to
the operating system at once, so a killed process leaves all its finished chunks readable.
"""
from __future__ import annotations

import functools
import heapq
import mmap
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from mcap.data_stream import ReadDataStream
from mcap.records import Channel, ChunkIndex, Metadata, MetadataIndex, Schema, Statistics
from mcap.writer import CompressionType, IndexType, Writer

from qiki_bag.errors import BagError

MAGIC = b"\x89MCAP0\r\n"
PROFILE = "ros2"
_FOOTER_SIZE = 9 + 20 + 8                      # footer record (opcode, length, 20-byte body) + magic
_OP_HEADER, _OP_FOOTER, _OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
_OP_CHUNK_INDEX, _OP_METADATA, _OP_METADATA_INDEX, _OP_STATISTICS, _OP_DATA_END = 0x08, 0x0C, 0x0D, 0x0B, 0x0F
_LAST_OPCODE = 0x10
_COMPRESSIONS = ("", "zstd", "lz4")
CHUNK_SIZE = 32 * 1024                          # bytes of messages per chunk: the most a kill or a flipped byte costs
_U64 = struct.Struct("<Q")
_MESSAGE_HEAD = struct.Struct("<HIQQ")          # channel id, sequence, log time, publish time


@dataclass
class Damage:
    """An unreadable part of a file: where it starts, what is wrong, messages known lost per channel id, and
    how many bytes that may hold messages were skipped (0: only the index was lost, every message was read)."""

    offset: int
    problem: str
    lost: dict[int, int] = field(default_factory=dict)
    skipped_bytes: int = 0

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())


@dataclass
class _Span:
    """A chunk (or the messages outside chunks) whose readable messages are known."""

    offset: int
    length: int
    start_ns: int = 0
    end_ns: int = 0
    counts: dict[int, int] = field(default_factory=dict)      # channel id -> readable messages
    loose: list | None = None                                 # messages outside chunks, kept in memory


class McapFile:
    """An MCAP file opened for damage-tolerant reading (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.schemas: dict[int, Schema] = {}
        self.channels: dict[int, Channel] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.damage: list[Damage] = []
        self.indexed = False                       # the summary section was read (file complete)
        self.end = 0                               # where the readable data ends (cut offset when truncated)
        self.expected_messages: int | None = None  # message count the summary announces
        self._spans: list[_Span] = []
        try:
            self._file = self.path.open("rb")
        except OSError as exc:
            raise BagError(self.path, f"cannot open: {exc.strerror}") from None
        try:
            self.size = self.path.stat().st_size
            if self.size == 0:
                raise BagError(self.path, "empty file (not a bag)")
            self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        mm = getattr(self, "_mm", None)
        if mm is not None:
            mm.close()
            self._mm = None
        self._file.close()

    def __enter__(self) -> McapFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------ results
    @property
    def truncated(self) -> bool:
        return not self.indexed and any("end of the file" in d.problem for d in self.damage)

    @property
    def intact(self) -> bool:
        """Complete and undamaged: any MCAP reader reads it as it is."""
        return self.indexed and not self.damage

    def nothing_readable(self) -> BagError | None:
        """The one-line error of a damaged file without a single complete message, None otherwise."""
        if not self.damage or self.counts():
            return None
        return BagError(self.path, f"truncated or corrupted MCAP ({self.damage[0].problem}): no complete message "
                                   "in it, nothing readable")

    def lost(self) -> tuple[int, bool]:
        """(messages lost, exact?): exact from the summary's message count when the file has one, else the
        messages counted in damaged chunks (a lower bound: a cut or undecompressable chunk is not counted)."""
        if self.expected_messages is not None:
            return max(0, self.expected_messages - sum(self.counts().values())), True
        return sum(d.lost_total for d in self.damage), False

    def counts(self) -> dict[int, int]:
        """Channel id -> readable messages."""
        out: dict[int, int] = {}
        for span in self._spans:
            for cid, n in span.counts.items():
                out[cid] = out.get(cid, 0) + n
        return out

    def time_range(self) -> tuple[int, int] | None:
        """(first, last) log time of the readable messages [ns], None when there is none."""
        spans = [s for s in self._spans if s.counts]
        if not spans:
            return None
        return min(s.start_ns for s in spans), max(s.end_ns for s in spans)

    def spans(self) -> list[_Span]:
        return [s for s in self._spans if s.counts]

    def span_messages(self, span: _Span) -> list[tuple[int, int, bytes]]:
        """(channel id, log time, data) of one span, in file order."""
        if span.loose is not None:
            return span.loose
        messages, _error = self._read_chunk(span.offset)
        return messages

    def messages(self, channel_ids: Iterable[int] | None = None) -> Iterator[tuple[int, int, bytes]]:
        """(channel id, log time, data) of every readable message, in file order."""
        wanted = None if channel_ids is None else set(channel_ids)
        for span in self.spans():
            for cid, stamp, data in self.span_messages(span):
                if wanted is None or cid in wanted:
                    yield cid, stamp, data

    # ------------------------------------------------------------------------------------------ opening
    def _open(self) -> None:
        mm = self._mm
        head = mm[:8]
        if head != MAGIC[:len(head)]:
            raise BagError(self.path, "not an MCAP file (bad magic bytes)")
        if self.size < 8 + 9:
            raise BagError(self.path, f"MCAP file cut after {self.size} bytes, before its header record: "
                                      "nothing was recorded in it")
        op, length = mm[8], _U64.unpack_from(mm, 9)[0]
        if op != _OP_HEADER or 17 + length > self.size:
            raise BagError(self.path, "MCAP file without a readable header record: nothing readable")
        try:
            stream = ReadDataStream(BytesIO(mm[17:17 + length]))
            profile = stream.read_prefixed_string()
        except Exception:
            raise BagError(self.path, "MCAP header record is unreadable: nothing readable") from None
        if profile != PROFILE:
            raise BagError(self.path, f"MCAP file is not a ROS 2 bag (profile is '{profile}', not 'ros2')")
        data_start = 17 + length
        if not self._read_summary(data_start):
            self._walk(data_start)
        if self.indexed:
            self.end = self.size
            for span in self._spans:
                self._check_chunk(span)
        found = sum(self.counts().values())
        if self.expected_messages is not None and found < self.expected_messages and not self.damage:
            self.damage.append(Damage(data_start, f"the index announces {self.expected_messages} messages, "
                                                  f"{found} found"))

    def _read_summary(self, data_start: int) -> bool:
        """Read the summary section (schemas, channels, chunk index, statistics); False when absent or bad."""
        mm, size = self._mm, self.size
        if size < data_start + _FOOTER_SIZE or mm[size - 8:] != MAGIC:
            return False
        footer = size - _FOOTER_SIZE
        if mm[footer] != _OP_FOOTER or _U64.unpack_from(mm, footer + 1)[0] != 20:
            return False
        summary_start = _U64.unpack_from(mm, footer + 9)[0]
        summary_crc = struct.unpack_from("<I", mm, footer + 25)[0]
        if not data_start <= summary_start <= footer or summary_start == 0:
            return False
        if summary_crc and zlib.crc32(mm[summary_start:footer + 25]) != summary_crc:
            return False
        schemas, channels, chunks, stats, meta_index = {}, {}, [], None, []
        try:
            for op, body in self._records(summary_start, footer):
                stream = ReadDataStream(BytesIO(body))
                if op == _OP_SCHEMA:
                    s = Schema.read(stream)
                    schemas[s.id] = s
                elif op == _OP_CHANNEL:
                    c = Channel.read(stream)
                    channels[c.id] = c
                elif op == _OP_CHUNK_INDEX:
                    chunks.append(ChunkIndex.read(stream))
                elif op == _OP_STATISTICS:
                    stats = Statistics.read(stream)
                elif op == _OP_METADATA_INDEX:
                    meta_index.append(MetadataIndex.read(stream))
        except Exception:
            return False
        if stats is not None and stats.message_count and not chunks:
            return False                                 # messages outside chunks: found by walking
        for index in chunks:
            if not data_start <= index.chunk_start_offset < index.chunk_start_offset + index.chunk_length \
                    <= summary_start:
                return False
        self.schemas.update(schemas)
        self.channels.update(channels)
        self._spans = [_Span(c.chunk_start_offset, c.chunk_length) for c in
                       sorted(chunks, key=lambda c: c.chunk_start_offset)]
        self.expected_messages = stats.message_count if stats is not None else None
        for index in meta_index:
            self._read_metadata(index.offset)
        self.indexed = True
        return True

    def _records(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        pos = start
        while pos < end:
            op, length = self._mm[pos], _U64.unpack_from(self._mm, pos + 1)[0]
            if pos + 9 + length > end:
                raise ValueError(f"record at {pos} overruns its section")
            yield op, self._mm[pos + 9:pos + 9 + length]
            pos += 9 + length

    def _read_metadata(self, offset: int) -> None:
        try:
            length = _U64.unpack_from(self._mm, offset + 1)[0]
            if self._mm[offset] == _OP_METADATA:
                record = Metadata.read(ReadDataStream(BytesIO(self._mm[offset + 9:offset + 9 + length])))
                self.metadata[record.name] = dict(record.metadata)
        except Exception:
            pass                                          # metadata is optional: the messages are what counts

    def _walk(self, pos: int) -> None:
        """No usable summary: walk the records from the start, to the end of the data or the cut."""
        mm, size = self._mm, self.size
        loose: list = []
        while True:
            if pos + 9 > size:
                self._cut(pos)
                break
            op, length = mm[pos], _U64.unpack_from(mm, pos + 1)[0]
            if pos + 9 + length > size:
                nxt = self._next_chunk(pos + 1)          # a damaged length, or really the cut?
                if nxt is None:
                    self._cut(pos)
                    break
                self.damage.append(Damage(pos, f"record claims {length} bytes, past the end of the file; "
                                               f"skipped {nxt - pos} bytes to the next chunk",
                                          skipped_bytes=nxt - pos))
                pos = nxt
                continue
            body = mm[pos + 9:pos + 9 + length]
            try:
                if op == 0 or op > _LAST_OPCODE:
                    raise ValueError(f"unknown record opcode 0x{op:02x}")
                if op == _OP_CHUNK:
                    span = _Span(pos, 9 + length)
                    self._spans.append(span)
                    self._check_chunk(span)
                elif op in (_OP_SCHEMA, _OP_CHANNEL):
                    self._take_definition(op, body)
                elif op == _OP_MESSAGE:
                    cid, _seq, stamp, _pub = _MESSAGE_HEAD.unpack_from(body)
                    loose.append((cid, stamp, body[_MESSAGE_HEAD.size:]))
                elif op == _OP_METADATA:
                    self._read_metadata(pos)
                elif op in (_OP_DATA_END, _OP_FOOTER):
                    self.end = pos
                    self.damage.append(Damage(pos, "the summary section (index) is unreadable: messages "
                                                   "found by reading the file from the start"))
                    break
            except Exception as exc:
                nxt = self._next_chunk(pos + 1)
                skipped = (nxt if nxt is not None else size) - pos
                self.damage.append(Damage(pos, f"unreadable record ({exc}); skipped {skipped} bytes",
                                          skipped_bytes=skipped))
                if nxt is None:
                    self.end = size
                    break
                pos = nxt
                continue
            pos += 9 + length
        if loose:
            span = _Span(0, 0, min(m[1] for m in loose), max(m[1] for m in loose), loose=loose)
            for cid, _stamp, _data in loose:
                span.counts[cid] = span.counts.get(cid, 0) + 1
            self._spans.append(span)

    def _cut(self, pos: int) -> None:
        self.end = pos
        if pos == self.size:
            self.damage.append(Damage(pos, "the file ends after its last complete record, without its summary: "
                                           "recording interrupted; every complete record read"))
        else:
            self.damage.append(Damage(pos, f"the file ends at byte {self.size} inside the record at {pos}: "
                                           "recording interrupted or file cut; read up to the cut",
                                      skipped_bytes=self.size - pos))

    def _next_chunk(self, start: int) -> int | None:
        """Offset of the next well-formed chunk record header at or after ``start`` (None: none left)."""
        mm, size = self._mm, self.size
        pos = mm.find(bytes([_OP_CHUNK]), start)
        while pos != -1:
            if self._chunk_header(pos) is not None:
                return pos
            pos = mm.find(bytes([_OP_CHUNK]), pos + 1)
        return None

    def _chunk_header(self, pos: int):
        """(start, end, uncompressed size, crc, compression, data offset, data length) of a plausible chunk
        record at ``pos``, None when the bytes there are not one."""
        mm, size = self._mm, self.size
        if pos + 9 + 36 > size or mm[pos] != _OP_CHUNK:
            return None
        length = _U64.unpack_from(mm, pos + 1)[0]
        start, end, usize, crc, clen = struct.unpack_from("<QQQII", mm, pos + 9)
        if clen > 8 or pos + 9 + length > size or start > end:
            return None
        comp_at = pos + 9 + 32
        try:
            compression = bytes(mm[comp_at:comp_at + clen]).decode()
        except UnicodeDecodeError:
            return None
        if compression not in _COMPRESSIONS or comp_at + clen + 8 > size:
            return None
        dlen = _U64.unpack_from(mm, comp_at + clen)[0]
        if 32 + clen + 8 + dlen != length:
            return None
        return start, end, usize, crc, compression, comp_at + clen + 8, dlen

    # ------------------------------------------------------------------------------------------ chunks
    def _take_definition(self, op: int, body) -> None:
        """A schema or channel record (the first of each id wins)."""
        if op == _OP_SCHEMA:
            schema = Schema.read(ReadDataStream(BytesIO(body)))
            self.schemas.setdefault(schema.id, schema)
        else:
            channel = Channel.read(ReadDataStream(BytesIO(body)))
            self.channels.setdefault(channel.id, channel)

    def _check_chunk(self, span: _Span) -> None:
        """Read a chunk once: its readable messages per channel, or its damage."""
        messages, error = self._read_chunk(span.offset)
        for cid, _stamp, _data in messages:
            span.counts[cid] = span.counts.get(cid, 0) + 1
        if messages:
            stamps = [m[1] for m in messages]
            span.start_ns, span.end_ns = min(stamps), max(stamps)
        if error is not None:
            self.damage.append(Damage(span.offset, error[0], error[1], skipped_bytes=span.length))

    def _read_chunk(self, pos: int):
        """([(channel id, log time, data)], None) or (readable part, (problem, lost per channel))."""
        header = self._chunk_header(pos)
        if header is None:
            return [], ("chunk record is unreadable (bad header)", {})
        _start, _end, usize, crc, compression, data_at, dlen = header
        raw = self._mm[data_at:data_at + dlen]
        try:
            if compression == "zstd":
                import zstandard
                raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=usize)
            elif compression == "lz4":
                import lz4.frame
                raw = lz4.frame.decompress(raw)
        except Exception as exc:
            return [], (f"chunk cannot be decompressed ({compression}: {exc})", {})
        if len(raw) != usize:
            return [], (f"chunk holds {len(raw)} bytes, its header says {usize}", {})
        messages, problem = self._chunk_records(raw)
        if crc and zlib.crc32(raw) != crc:
            lost: dict[int, int] = {}
            for cid, _stamp, _data in messages:
                lost[cid] = lost.get(cid, 0) + 1
            return [], (f"chunk CRC mismatch: {sum(lost.values())} message(s) in it not trusted", lost)
        if problem is not None:
            return messages, (problem, {})
        return messages, None

    def _chunk_records(self, raw: bytes):
        """Messages of an uncompressed chunk (schemas and channels registered); stops at a bad record."""
        view = memoryview(raw)
        pos, messages = 0, []
        while pos < len(raw):
            if pos + 9 > len(raw):
                return messages, f"chunk record cut at byte {pos} of the chunk"
            op, length = raw[pos], _U64.unpack_from(raw, pos + 1)[0]
            if pos + 9 + length > len(raw):
                return messages, f"record overruns its chunk at byte {pos} of the chunk"
            body = view[pos + 9:pos + 9 + length]
            try:
                if op == _OP_MESSAGE:
                    cid, _seq, stamp, _pub = _MESSAGE_HEAD.unpack_from(body)
                    messages.append((cid, stamp, bytes(body[_MESSAGE_HEAD.size:])))
                elif op in (_OP_SCHEMA, _OP_CHANNEL):
                    self._take_definition(op, body)
            except Exception as exc:
                return messages, f"unreadable record at byte {pos} of the chunk ({exc})"
            pos += 9 + length
        return messages, None


def merge_by_time(sources: list[tuple[object, _Span]], load) -> Iterator[tuple[int, int, object]]:
    """Messages of many spans in log-time order, a span read only when its first message is due.

    ``sources`` are (owner, span) pairs; ``load(owner, span)`` returns [(log time, item)]. Yields
    (log time, sequence, item); equal log times keep the order in which they were loaded."""
    order = sorted(sources, key=lambda s: s[1].start_ns)
    heap: list = []
    seq = 0
    i = 0
    while i < len(order) or heap:
        while i < len(order) and (not heap or order[i][1].start_ns <= heap[0][0]):
            owner, span = order[i]
            for stamp, item in load(owner, span):
                heapq.heappush(heap, (stamp, seq, item))
                seq += 1
            i += 1
        if heap:
            yield heapq.heappop(heap)


class _DirectFile:
    """A file whose every write goes to the operating system at once (no user-space buffer): the mcap
    writer hands over whole records, so a killed process leaves every finished chunk on disk."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "xb", buffering=0)          # noqa: SIM115 (closed by close())

    def write(self, data) -> int:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += self._raw.write(view[done:])
        return done

    def tell(self) -> int:
        return self._raw.tell()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._raw.close()


@functools.cache
def _library() -> str:
    """The MCAP header's library field."""
    from importlib.metadata import version
    return f"qiki_bag (mcap {version('mcap')})"


class McapSplitWriter:
    """Write one ``ros2``-profile MCAP file (a split of a bag) with chunk CRCs."""

    def __init__(self, path: Path | str, compression: str | None = None, chunk_size: int = CHUNK_SIZE) -> None:
        self.path = Path(path)
        self._file = _DirectFile(self.path)
        self._writer = Writer(self._file, chunk_size=chunk_size,
                              compression=CompressionType.ZSTD if compression == "zstd" else CompressionType.NONE,
                              index_types=IndexType.ALL, enable_crcs=True)
        self._writer.start(profile=PROFILE, library=_library())
        self._schemas: dict[str, int] = {}
        self.channels: dict[str, int] = {}        # topic -> channel id
        self.closed = False

    def add_channel(self, topic: str, msgtype: str, msgdef: str, offered_qos_profiles: str,
                    type_hash: str = "", encoding: str = "ros2msg") -> int:
        """Register a topic (its type's schema once per file); returns the channel id. Channel metadata as
        rosbag2 writes it: ``offered_qos_profiles`` (YAML) and ``topic_type_hash`` (RIHS01)."""
        if msgtype not in self._schemas:
            self._schemas[msgtype] = self._writer.register_schema(msgtype, encoding, msgdef.encode())
        metadata = {"offered_qos_profiles": offered_qos_profiles}
        if type_hash:
            metadata["topic_type_hash"] = type_hash
        self.channels[topic] = self._writer.register_channel(topic, "cdr", self._schemas[msgtype], metadata)
        return self.channels[topic]

    def write(self, channel_id: int, timestamp_ns: int, data) -> None:
        self._writer.add_message(channel_id, timestamp_ns, bytes(data), timestamp_ns)

    def close(self, rosbag2_metadata: str | None = None) -> None:
        """Write the summary (and rosbag2's ``serialized_metadata`` record) and close the file."""
        if self.closed:
            return
        self.closed = True
        try:
            if rosbag2_metadata is not None:
                self._writer.add_metadata("rosbag2", {"serialized_metadata": rosbag2_metadata})
            self._writer.finish()
        finally:
            self._file.close()

    def abort(self) -> None:
        self.closed = True
        self._file.close()
