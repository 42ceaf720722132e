"""Damaged bags written by the project's own BagWriter: cut files, flipped bytes, a recorder killed mid-split.

"Fully written" is counted independently of qiki_bag's reader: the chunks of the intact file (its summary,
read by the ``mcap`` library) that end before the cut, or the chunks a streaming ``mcap`` reader reads from
a killed recorder's file. After ``qiki bag reindex`` the ``rosbags`` reader must read exactly those messages.
"""
from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcap.data_stream import ReadDataStream
from mcap.reader import make_reader
from mcap.records import Chunk
from mcap.stream_reader import StreamReader, breakup_chunk
from rosbags.rosbag2 import Reader

from qiki_bag.commands import main as bag_main
from qiki_bag.mcap_file import CHUNK_SIZE
from qiki_bag.reader import BagError, open_bag
from qiki_bag.reindex import reindex
from qiki_bag.writer import BagWriter

T0 = 1_700_000_000_000_000_000
TOPICS = {"/qiki/events": "qiki_msgs/msg/Event", "/qiki/radar/frame": "qiki_msgs/msg/RadarFrame"}


def _payloads(n: int) -> list[tuple[str, int, bytes]]:
    """(topic, log time, CDR) of n messages, events and radar frames of varying size; rosbags' serializer
    gives the same bytes in every process (rclpy's may leave undefined padding after the message)."""
    import numpy as np

    from qiki_bag.typestore import workspace_typestore
    ts = workspace_typestore()
    T = ts.types
    out = []
    for i in range(n):
        t = T0 + i * 10_000_000
        hdr = T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](i, 0), "map")
        if i % 3:
            msg = T["qiki_msgs/msg/Event"](hdr, i % 60000, i % 3, "unit", f"e{i}")
        else:
            k = 50 + i % 200
            f64 = np.arange(k, dtype=np.float64) + i
            pose = T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](0.0, 0.0, 0.0),
                                                T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0))
            msg = T["qiki_msgs/msg/RadarFrame"](hdr, i % 3, i, "map", pose, 0.1, 1.0, 5000.0, 1.0, 0.01, 0.01,
                                                0.1, f64, f64, f64, f64, f64, np.zeros(k, np.uint32),
                                                np.zeros(k, np.uint8))
        out.append((("/qiki/events", "/qiki/radar/frame")[i % 3 == 0], t,
                    bytes(ts.serialize_cdr(msg, msg.__msgtype__))))
    return out


def _write_bag(path: Path, messages, **kwargs) -> Path:
    with BagWriter(path, **kwargs) as bag:
        for topic, msgtype in TOPICS.items():
            assert bag.add_topic(topic, msgtype)
        for topic, t, data in messages:
            bag.write(topic, t, data)
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One single-split bag of 1500 messages (several chunks) and the messages written into it."""
    messages = _payloads(1500)
    bag = _write_bag(tmp_path_factory.mktemp("written") / "bag", messages)
    return bag, bag / "bag_0.mcap", messages


def _chunks(file: Path) -> list[tuple[int, int, int]]:
    """(start offset, end offset, messages) of each chunk of an intact file, read by the mcap library."""
    with file.open("rb") as f:
        summary = make_reader(f).get_summary()
        data = file.read_bytes()
    out = []
    for ci in sorted(summary.chunk_indexes, key=lambda c: c.chunk_start_offset):
        body = data[ci.chunk_start_offset + 9:ci.chunk_start_offset + ci.chunk_length]
        inner = breakup_chunk(Chunk.read(ReadDataStream(io.BytesIO(body))), validate_crc=True)
        out.append((ci.chunk_start_offset, ci.chunk_start_offset + ci.chunk_length,
                    sum(type(r).__name__ == "Message" for r in inner)))
    return out


def _rosbags_messages(path: Path) -> list[tuple[str, int, bytes]]:
    with Reader(path) as reader:
        return [(c.topic, t, bytes(d)) for c, t, d in reader.messages()]


def _qiki_messages(path: Path, warnings: list | None = None) -> list[tuple[str, int, bytes]]:
    with open_bag(path, warn=(warnings.append if warnings is not None else lambda _t: None)) as bag:
        return [(c.topic, t, bytes(d)) for c, t, d in bag.messages()]


def _copy_bag(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_writer_enables_chunk_crcs_and_small_chunks(written):
    _bag, file, messages = written
    chunks = _chunks(file)
    assert len(chunks) >= 3 and sum(n for _s, _e, n in chunks) == len(messages)
    with file.open("rb") as f:
        records = list(StreamReader(f, emit_chunks=True).records)
    crcs = [r.uncompressed_crc for r in records if type(r).__name__ == "Chunk"]
    assert crcs and all(crcs)


@pytest.mark.parametrize("cut", ["size-1", "size-200", "3/4", "1/2", "1/4", "first-chunk"])
def test_truncated_file_is_read_up_to_the_cut_and_reindexed(written, tmp_path, cut, capsys):
    src, file, messages = written
    size = file.stat().st_size
    chunks = _chunks(file)
    offset = {"size-1": size - 1, "size-200": size - 200, "3/4": size * 3 // 4, "1/2": size // 2,
              "1/4": size // 4, "first-chunk": chunks[0][1] - 10}[cut]
    expected = sum(n for _start, end, n in chunks if end <= offset)
    bag = _copy_bag(src, tmp_path / "bag")
    with (bag / "bag_0.mcap").open("r+b") as f:
        f.truncate(offset)
    if expected == 0:                                 # cut inside the first chunk: nothing to recover
        with pytest.raises(BagError, match="nothing readable"):
            _qiki_messages(bag)
        assert bag_main(["reindex", str(bag)]) == 2 and capsys.readouterr().err.count("\n") == 1
        return
    warnings: list[str] = []
    got = _qiki_messages(bag, warnings)
    assert got == messages[:expected]
    assert len(warnings) == 1 and "bag_0.mcap" in warnings[0] and "reindex" not in warnings[0]
    assert bag_main(["info", str(bag)]) == 0
    out = capsys.readouterr().out
    assert f"Messages:          {expected}\n" in out and "qiki bag reindex" in out

    report = reindex(bag)
    assert report.messages == expected and [p.name for p, _ in report.rewritten] == ["bag_0.mcap"]
    if expected < len(messages):                                           # the original is kept
        assert (bag / "bag_0.mcap.damaged").stat().st_size == offset
    else:                                                                  # only the summary was cut off
        assert not (bag / "bag_0.mcap.damaged").exists()
    assert _rosbags_messages(bag) == messages[:expected]
    assert _qiki_messages(bag) == messages[:expected]
    with open_bag(bag) as b:
        assert not b.needs_reindex and b.info().message_count == expected
    assert reindex(bag).rewritten == []                                    # idempotent


def _flip(file: Path, offsets: list[int]) -> None:
    data = bytearray(file.read_bytes())
    for o in offsets:
        data[o] ^= 0xFF
    file.write_bytes(bytes(data))


def test_flipped_byte_in_a_chunk_skips_that_chunk_only(written, tmp_path, capsys):
    src, file, messages = written
    chunks = _chunks(file)
    start, end, lost = chunks[1]
    bag = _copy_bag(src, tmp_path / "bag")
    _flip(bag / "bag_0.mcap", [(start + end) // 2])
    before = sum(n for _s, _e, n in chunks[:1])
    expected = messages[:before] + messages[before + lost:]
    warnings: list[str] = []
    assert _qiki_messages(bag, warnings) == expected
    assert len(warnings) == 1 and f"offset {start}" in warnings[0] and "CRC" in warnings[0]

    assert bag_main(["info", "--verify", str(bag)]) == 1
    out = capsys.readouterr().out
    assert f"Messages:          {len(expected)}\n" in out and "DAMAGED" in out
    lost_by_topic = {}
    for topic, _t, _d in messages[before:before + lost]:
        lost_by_topic[topic] = lost_by_topic.get(topic, 0) + 1
    for topic, n in lost_by_topic.items():
        assert f"lost in damaged chunks {n}" in next(line for line in out.splitlines() if topic in line
                                                     and "decoded" in line)
    reindex(bag)
    assert _rosbags_messages(bag) == expected
    assert bag_main(["info", "--verify", str(bag)]) == 0
    assert "no damage" in capsys.readouterr().out


def test_flipped_chunk_header_in_a_cut_file_resynchronises_on_the_next_chunk(written, tmp_path):
    src, file, messages = written
    chunks = _chunks(file)
    bag = _copy_bag(src, tmp_path / "bag")
    victim = bag / "bag_0.mcap"
    _flip(victim, [chunks[1][0] + 3])                   # length field of chunk 1: the walk loses the record
    with victim.open("r+b") as f:
        f.truncate(file.stat().st_size - 100)           # and no summary to find the chunks by
    n0, n1 = chunks[0][2], chunks[1][2]
    expected = messages[:n0] + messages[n0 + n1:sum(n for _s, _e, n in chunks)]
    assert _qiki_messages(bag) == expected
    reindex(bag)
    assert _rosbags_messages(bag) == expected


def _killed_recorder(out: Path, n: int, split_size: int | None = None) -> None:
    """A real process writes n messages with BagWriter, then SIGKILLs itself (no close, no metadata)."""
    code = (
        "import os, signal, sys\n"
        "sys.path[:0] = sys.argv[3].split(os.pathsep)\n"
        "from test_bag_damage import _payloads, TOPICS\n"
        "from qiki_bag.writer import BagWriter\n"
        "split = int(sys.argv[4]) or None\n"
        "bag = BagWriter(sys.argv[1], split_size_bytes=split).open()\n"
        "for topic, msgtype in TOPICS.items():\n"
        "    bag.add_topic(topic, msgtype)\n"
        "for topic, t, data in _payloads(int(sys.argv[2])):\n"
        "    bag.write(topic, t, data)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    path = os.pathsep.join([str(Path(__file__).parent)] + [p for p in sys.path if p])
    proc = subprocess.run([sys.executable, "-c", code, str(out), str(n), path, str(split_size or 0)],
                          timeout=120, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def _streamed(file: Path) -> int:
    """Messages an independent streaming reader (mcap library) gets out of a file before its end."""
    n = 0
    with file.open("rb") as f:
        try:
            for record in StreamReader(f, validate_crcs=True).records:
                n += type(record).__name__ == "Message"
        except Exception:                     # its first error ends what it reads, whatever the error
            pass
    return n


def test_recording_left_by_a_killed_recorder_is_reindexed(tmp_path, capsys):
    n = 1200
    _killed_recorder(tmp_path / "rec", n)
    staged = tmp_path / "rec" / ".recording" / "rec_0" / "rec_0.mcap"
    assert not (tmp_path / "rec" / "metadata.yaml").exists() and staged.exists()
    written = _payloads(n)
    full = _streamed(staged)
    unfinished = sum(9 + 22 + len(d) for _t, _s, d in written[full:])
    assert 0 < full < n and unfinished <= CHUNK_SIZE + 9 + 22 + max(len(d) for _t, _s, d in written)
    # only the chunk being filled is lost: every finished chunk reached the file before the kill
    assert _qiki_messages(tmp_path / "rec") == written[:full]         # readable before reindex too
    assert bag_main(["info", str(tmp_path / "rec")]) == 0
    out = capsys.readouterr().out
    assert f"Messages:          {full}\n" in out and f"qiki bag reindex {tmp_path / 'rec'}" in out

    assert bag_main(["reindex", str(tmp_path / "rec")]) == 0
    assert not (tmp_path / "rec" / ".recording").exists()
    assert not list((tmp_path / "rec").glob("*.damaged"))     # the kill cut between records: nothing unreadable
    assert _rosbags_messages(tmp_path / "rec") == written[:full]
    with open_bag(tmp_path / "rec") as bag:
        assert not bag.needs_reindex
        assert [(c.topic, t, bytes(d)) for c, t, d in bag.messages()] == written[:full]   # the player's source


def test_killed_recorder_with_closed_splits(tmp_path):
    n = 900
    _killed_recorder(tmp_path / "rec", n, split_size=300_000)
    closed = sorted(p.name for p in (tmp_path / "rec").glob("*.mcap"))
    assert len(closed) >= 2 and (tmp_path / "rec" / "metadata.yaml").exists()
    in_closed = len(_rosbags_messages(tmp_path / "rec"))
    staged = next((tmp_path / "rec" / ".recording").rglob("*.mcap"))
    full = in_closed + _streamed(staged)
    with open_bag(tmp_path / "rec") as bag:
        assert bag.needs_reindex and bag.info().message_count == in_closed    # metadata.yaml lists closed ones
    report = reindex(tmp_path / "rec")
    assert report.messages == full and full > in_closed
    assert _rosbags_messages(tmp_path / "rec") == _payloads(n)[:full]


@pytest.mark.parametrize("content", [b"\x89MCAP0\r\n", b"\x89MCAP0\r", b"", b"not an mcap at all"])
def test_tiny_and_garbage_files_are_one_line_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(content)
    for argv in (["info", str(bad)], ["info", "--verify", str(bad)], ["play", str(bad)], ["reindex", str(bad)]):
        assert bag_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err


def test_one_unreadable_split_does_not_lose_the_others(tmp_path):
    messages = _payloads(600)
    bag = _write_bag(tmp_path / "bag", messages, split_size_bytes=300_000)
    files = sorted(bag.glob("*.mcap"))
    assert len(files) >= 3
    files[1].write_bytes(b"garbage")
    warnings: list[str] = []
    got = _qiki_messages(bag, warnings)
    assert got and set(got) < set(messages)
    assert any(str(files[1]) in w and "skipped" in w for w in warnings)


def test_undecodable_message_is_skipped_and_counted(tmp_path):
    bag_path = tmp_path / "bag"
    good = _payloads(2)[1][2]
    with BagWriter(bag_path) as bag:
        bag.add_topic("/qiki/events", "qiki_msgs/msg/Event")
        bag.write("/qiki/events", T0, good)
        bag.write("/qiki/events", T0 + 1, good[:6])                   # cut inside the CDR: undecodable
        bag.write("/qiki/events", T0 + 2, good)
    warnings: list[str] = []
    with open_bag(bag_path, warn=warnings.append) as bag:
        assert [t for _topic, t, _m in bag.decoded()] == [T0, T0 + 2]
        assert bag.undecodable == {"/qiki/events": 1} and len(warnings) == 1
        report = bag.verify()
    assert not report.clean and report.topics[0].undecodable == 1


#: reproducible like the input fuzz tests (tests/unit/fuzz_inputs.py): CI runs the same examples every time
DAMAGE_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    messages = _payloads(400)
    bag = _write_bag(tmp_path_factory.mktemp("small") / "bag", messages)
    return bag / "bag_0.mcap", messages


@DAMAGE_SETTINGS
@given(data=st.data())
def test_random_cut_reads_exactly_the_chunks_before_it(small, tmp_path, data):
    file, messages = small
    size = file.stat().st_size
    cut = data.draw(st.integers(min_value=9, max_value=size - 1))
    chunks = _chunks(file)
    victim = tmp_path / f"cut_{cut}.mcap"
    victim.write_bytes(file.read_bytes()[:cut])
    try:
        got = _qiki_messages(victim)
    except BagError as exc:                                # cut before the end of the first chunk: one line
        assert cut < chunks[0][1] and "\n" not in str(exc)
        return
    assert got == messages[:sum(n for _s, end, n in chunks if end <= cut)]


@DAMAGE_SETTINGS
@given(data=st.data())
def test_random_flips_never_yield_a_message_that_was_not_written(small, tmp_path, data):
    file, messages = small
    raw = bytearray(file.read_bytes())
    seed = data.draw(st.integers(min_value=0, max_value=2**32 - 1))
    count = data.draw(st.integers(min_value=1, max_value=50))
    rng = random.Random(seed)
    for _ in range(count):
        raw[rng.randrange(8, len(raw))] ^= 1 << rng.randrange(8)
    victim = tmp_path / f"flip_{seed}_{count}.mcap"
    victim.write_bytes(bytes(raw))
    try:
        got = _qiki_messages(victim)
    except BagError as exc:
        assert "\n" not in str(exc)
        return
    assert set(got) <= set(messages)
    assert got == sorted(got, key=lambda m: m[1])


def test_lost_metadata_yaml_is_rebuilt_from_the_splits(tmp_path, capsys):
    messages = _payloads(600)
    bag = _write_bag(tmp_path / "bag", messages, split_size_bytes=300_000)
    before = (bag / "metadata.yaml").read_text()
    (bag / "metadata.yaml").unlink()
    assert _qiki_messages(bag) == messages                         # still readable, in order
    assert bag_main(["info", str(bag)]) == 0
    assert f"qiki bag reindex {bag}" in capsys.readouterr().out
    report = reindex(bag)
    assert report.rewritten == [] and len(report.kept) >= 3         # intact splits are left as they are
    assert _rosbags_messages(bag) == messages
    with open_bag(bag) as b:
        assert not b.needs_reindex
    from ruamel.yaml import YAML
    old, new = (YAML(typ="safe").load(text)["rosbag2_bagfile_information"]
                for text in (before, (bag / "metadata.yaml").read_text()))
    for key in ("relative_file_paths", "message_count", "starting_time", "duration", "files",
                "topics_with_message_count"):
        assert new[key] == old[key], key
