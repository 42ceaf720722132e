"""qiki_bag files without DDS: write with BagWriter, read back with a fresh rosbags reader whose typestore
holds only the definitions embedded in the bag; splits, size cap, info, and one-line errors on bad input."""
from __future__ import annotations

import random
import shutil

import pytest
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from qiki_bag.commands import main as bag_main
from qiki_bag.reader import BagError, bag_info, deserialize, open_bag
from qiki_bag.recorder import import_message
from qiki_bag.writer import BagWriteError, BagWriter

T0 = 1_700_000_000_000_000_000          # ns since epoch


def _event(i):
    from qiki_msgs.msg import Event
    return Event(code=100 + i, severity=i % 3, source="unit", message=f"event {i}")


def _frame(i, n=500):
    from qiki_msgs.msg import RadarFrame
    msg = RadarFrame(band=i % 3, frame_seq=i, world_frame_id="map")
    msg.range_m = [float(i + k) for k in range(n)]
    msg.transponder_code = list(range(i % 5))
    msg.sensor_pose.orientation.w = 1.0
    return msg


def _bios(i):
    from qiki_msgs.msg import BiosReport, DeviceStatus
    return BiosReport(test_seq=i, health_score=0.25 * (i % 4), all_systems_go=bool(i % 2),
                      devices=[DeviceStatus(name=f"dev{k}", level=k % 4, message=f"m{k}") for k in range(3)])


def _state(i):
    from qiki_msgs.msg import VehicleState
    msg = VehicleState(child_frame_id="base_link", mass_kg=10.0 + i)
    msg.pose.position.x, msg.twist.angular.z = float(i), -0.5 * i
    return msg


def _write(path, n=20, **kwargs) -> BagWriter:
    with BagWriter(path, **kwargs) as bag:
        assert bag.add_topic("/qiki/events", "qiki_msgs/msg/Event")
        assert bag.add_topic("/qiki/radar/frame", "qiki_msgs/msg/RadarFrame")
        assert bag.add_topic("/qiki/agent/bios", "qiki_msgs/msg/BiosReport")
        assert bag.add_topic("/qiki/sim/vehicle_state", "qiki_msgs/msg/VehicleState")
        for i in range(n):
            t = T0 + i * 100_000_000                          # 10 Hz
            bag.write("/qiki/events", t, serialize_message(_event(i)))
            bag.write("/qiki/radar/frame", t + 1, serialize_message(_frame(i)))
            bag.write("/qiki/agent/bios", t + 2, serialize_message(_bios(i)))
            bag.write("/qiki/sim/vehicle_state", t + 3, serialize_message(_state(i)))
    return bag


def _fresh_decode(path):
    """Decode with rosbags only: a typestore built from nothing but the bag's embedded definitions."""
    store = get_typestore(Stores.EMPTY)
    assert "qiki_msgs/msg/Event" not in store.types and "std_msgs/msg/Header" not in store.types
    out = {}
    with Reader(path) as reader:
        for conn in reader.connections:
            assert conn.msgdef.data, f"{conn.topic}: no definition embedded"
            store.register({k: v for k, v in get_types_from_msg(conn.msgdef.data, conn.msgtype).items()
                            if k not in store.types})
        for conn, stamp, data in reader.messages():
            out.setdefault(conn.topic, []).append((stamp, deserialize(store, data, conn.msgtype)))
    return out


def test_roundtrip_decodes_from_embedded_definitions_only(tmp_path):
    _write(tmp_path / "bag", n=20)
    got = _fresh_decode(tmp_path / "bag")
    assert {t: len(v) for t, v in got.items()} == {"/qiki/events": 20, "/qiki/radar/frame": 20,
                                                   "/qiki/agent/bios": 20, "/qiki/sim/vehicle_state": 20}
    for i, (stamp, ev) in enumerate(got["/qiki/events"]):
        assert stamp == T0 + i * 100_000_000
        assert (ev.code, ev.severity, ev.source, ev.message) == (100 + i, i % 3, "unit", f"event {i}")
    for i, (_, fr) in enumerate(got["/qiki/radar/frame"]):
        assert (fr.band, fr.frame_seq, fr.world_frame_id) == (i % 3, i, "map")
        assert fr.range_m.tolist() == [float(i + k) for k in range(500)]
        assert fr.transponder_code.tolist() == list(range(i % 5))
        assert fr.sensor_pose.orientation.w == 1.0
    for i, (_, b) in enumerate(got["/qiki/agent/bios"]):
        assert (b.test_seq, b.health_score, b.all_systems_go) == (i, 0.25 * (i % 4), bool(i % 2))
        assert [(d.name, d.level, d.message) for d in b.devices] == [(f"dev{k}", k % 4, f"m{k}") for k in range(3)]
    for i, (_, s) in enumerate(got["/qiki/sim/vehicle_state"]):
        assert (s.child_frame_id, s.mass_kg, s.pose.position.x, s.twist.angular.z) == ("base_link", 10.0 + i,
                                                                                       float(i), -0.5 * i)


def test_embedded_definitions_decode_exact_cdr_strictly(tmp_path):
    """CDR as a DDS subscriber receives it (exact length) decodes with rosbags' strict deserializer."""
    from qiki_bag.typestore import workspace_typestore
    ws = workspace_typestore()
    Frame = ws.types["qiki_msgs/msg/RadarFrame"]
    import numpy as np
    H, T = ws.types["std_msgs/msg/Header"], ws.types["builtin_interfaces/msg/Time"]
    P, Pt, Q = (ws.types[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion"))
    f64 = np.array([1.5, 2.5, 3.5])
    msg = Frame(H(T(1, 2), "radar_link"), 1, 7, "map", P(Pt(1.0, 2.0, 0.0), Q(0.0, 0.0, 0.0, 1.0)),
                0.1, 1.0, 100.0, 0.5, 0.01, 0.02, 0.1, f64, f64, f64, f64, f64,
                np.array([5, 6, 7], dtype=np.uint32), np.array([0, 1, 0], dtype=np.uint8))
    with BagWriter(tmp_path / "exact") as bag:
        bag.add_topic("/qiki/radar/frame", "qiki_msgs/msg/RadarFrame")
        bag.write("/qiki/radar/frame", T0, bytes(ws.serialize_cdr(msg, "qiki_msgs/msg/RadarFrame")))
    store = get_typestore(Stores.EMPTY)
    with Reader(tmp_path / "exact") as reader:
        conn = reader.connections[0]
        store.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        (_, _, data), = list(reader.messages())
        back = store.deserialize_cdr(data, conn.msgtype)           # strict: no surplus bytes accepted
    assert back.header.frame_id == "radar_link" and back.frame_seq == 7
    assert back.transponder_code.tolist() == [5, 6, 7] and back.range_m.tolist() == [1.5, 2.5, 3.5]
    assert conn.digest == ws.hash_rihs01("qiki_msgs/msg/RadarFrame")


def test_bag_layout_is_rosbag2(tmp_path):
    _write(tmp_path / "run", n=5)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metadata.yaml", "run_0.mcap"]
    with Reader(tmp_path / "run") as reader:
        assert reader.message_count == 20
        assert {c.topic: c.msgcount for c in reader.connections}["/qiki/events"] == 5


def test_split_by_size_makes_several_readable_splits(tmp_path):
    bag = _write(tmp_path / "big", n=60, split_size_bytes=40_000)      # ~4.2 kB frames -> ~9 frames/split
    names = [p.name for p in bag.split_paths]
    assert len(names) >= 5
    assert names == [f"big_{i}.mcap" for i in range(len(names))]
    for path in bag.split_paths:                                        # every split stands alone
        with Reader(path) as single:
            assert single.message_count > 0
            assert path.stat().st_size < 40_000 + 10_000
    with open_bag(tmp_path / "big") as b:
        stamps = [s for _, s, _ in b.messages()]
        assert len(stamps) == 240 and stamps == sorted(stamps)
    assert not (tmp_path / "big" / ".recording").exists()


def test_split_by_duration(tmp_path):
    bag = _write(tmp_path / "dur", n=50, split_duration_s=1.0)          # 5 s of messages at 10 Hz
    assert len(bag.split_paths) == 5
    info = bag_info(tmp_path / "dur")
    assert info.message_count == 200
    assert abs(info.duration_s - 4.9) < 1e-6


def test_size_cap_removes_oldest_splits(tmp_path):
    bag = _write(tmp_path / "cap", n=80, split_size_bytes=40_000, max_total_bytes=100_000)
    assert bag.deleted_splits, "the cap should have deleted splits"
    assert bag.deleted_splits[0].name == "cap_0.mcap"
    remaining = sorted(p.name for p in (tmp_path / "cap").glob("*.mcap"))
    assert remaining == sorted(p.name for p in bag.split_paths)
    assert "cap_0.mcap" not in remaining and bag.split_paths[-1].name == f"cap_{len(bag.deleted_splits) + len(remaining) - 1}.mcap"
    info = bag_info(tmp_path / "cap")
    assert info.size <= 100_000
    assert info.message_count < 320
    assert info.start_ns > T0                                           # the oldest messages are gone
    with open_bag(tmp_path / "cap") as b:
        assert sum(1 for _ in b.messages()) == info.message_count
    assert bag.counts["/qiki/events"] == 80                             # written, deleted ones included


def test_info_reports_duration_topics_types_counts_size(tmp_path):
    _write(tmp_path / "info", n=10)
    info = bag_info(tmp_path / "info")
    assert info.topics == [("/qiki/agent/bios", "qiki_msgs/msg/BiosReport", 10),
                           ("/qiki/events", "qiki_msgs/msg/Event", 10),
                           ("/qiki/radar/frame", "qiki_msgs/msg/RadarFrame", 10),
                           ("/qiki/sim/vehicle_state", "qiki_msgs/msg/VehicleState", 10)]
    assert info.start_ns == T0 and info.end_ns == T0 + 9 * 100_000_000 + 3
    assert info.duration_s == pytest.approx(0.9, abs=1e-6)
    assert info.size == (tmp_path / "info" / "info_0.mcap").stat().st_size
    text = info.format()
    assert "Duration:          0.900000003s" in text and "Messages:          40" in text
    assert "Topic: /qiki/events" in text and "Count: 10" in text


def test_cli_info(tmp_path, capsys):
    _write(tmp_path / "cli", n=3)
    assert bag_main(["info", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "qiki_msgs/msg/RadarFrame" in out and "Messages:          12" in out


def _one_line_error(capsys, *argv) -> str:
    assert bag_main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_truncated_split_loses_only_its_unfinished_chunk(tmp_path, capsys):
    bag = _write(tmp_path / "cut", n=60, split_size_bytes=40_000)
    victim = bag.split_paths[1]
    whole = bag_info(tmp_path / "cut").counts()
    with open_bag(victim) as single:
        in_victim = single.info().message_count
    with victim.open("r+b") as f:
        f.truncate(victim.stat().st_size // 2)          # a split smaller than a chunk: its one chunk is cut
    info = bag_info(tmp_path / "cut")
    assert info.message_count == sum(whole.values()) - in_victim
    assert any(str(victim) in w and "cut" in w for w in info.warnings)
    assert any(f"qiki bag reindex {tmp_path / 'cut'}" in w for w in info.warnings)
    with pytest.raises(BagError, match="nothing readable") as exc:
        bag_info(victim)                                 # the file on its own: one line naming it
    assert str(exc.value).startswith(str(victim)) and "\n" not in str(exc.value)
    assert bag_main(["info", str(tmp_path / "cut")]) == 0
    out = capsys.readouterr().out
    assert f"Messages:          {info.message_count}" in out and str(victim) in out


def test_garbage_and_empty_files(tmp_path, capsys):
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(random.Random(1).randbytes(5000))
    with pytest.raises(BagError, match="not an MCAP file") as exc:
        bag_info(garbage)
    assert str(exc.value).startswith(str(garbage))
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    with pytest.raises(BagError, match="empty file"):
        bag_info(empty)
    # a bag directory whose split was replaced by garbage names that split
    _write(tmp_path / "g", n=3)
    (tmp_path / "g" / "g_0.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\x00" * 300)
    err = _one_line_error(capsys, "info", str(tmp_path / "g"))
    assert str(tmp_path / "g" / "g_0.mcap") in err


def test_missing_paths_and_non_bags(tmp_path, capsys):
    with pytest.raises(BagError, match="no such file or directory"):
        bag_info(tmp_path / "nope")
    err = _one_line_error(capsys, "info", str(tmp_path / "nope"))
    assert str(tmp_path / "nope") in err
    (tmp_path / "dir").mkdir()
    with pytest.raises(BagError, match="no metadata.yaml"):
        bag_info(tmp_path / "dir")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(BagError, match="not a bag"):
        bag_info(tmp_path / "x.txt")
    _write(tmp_path / "lost", n=2)
    (tmp_path / "lost" / "lost_0.mcap").unlink()
    with pytest.raises(BagError, match="missing") as exc:
        bag_info(tmp_path / "lost")
    assert "lost_0.mcap" in str(exc.value)
    (tmp_path / "badmeta").mkdir()
    (tmp_path / "badmeta" / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9\n")
    with pytest.raises(BagError, match="metadata") as exc:
        bag_info(tmp_path / "badmeta")
    assert "\n" not in str(exc.value)


def test_unknown_message_type_is_skipped_with_a_warning(tmp_path, caplog):
    with BagWriter(tmp_path / "unk") as bag:
        assert not bag.add_topic("/ghost", "ghost_msgs/msg/Ghost")       # writer: nothing installed -> skip
        assert "unknown message type ghost_msgs/msg/Ghost" in caplog.text
        bag.add_topic("/qiki/events", "qiki_msgs/msg/Event")
        # a type whose embedded definition cannot be parsed (as if written by a broken tool)
        bag.add_topic("/broken", "broken_msgs/msg/Broken", msgdef="this is not [ a message definition",
                      rihs01="RIHS01_" + "0" * 64)
        for i in range(3):
            bag.write("/qiki/events", T0 + i, serialize_message(_event(i)))
            bag.write("/broken", T0 + i, b"\x00\x01\x00\x00" + b"\x00" * 8)
    warnings = []
    with open_bag(tmp_path / "unk", warn=warnings.append) as b:
        assert b.info().counts() == {"/broken": 3, "/qiki/events": 3}
        decoded = list(b.decoded())
    assert [t for t, _, _ in decoded] == ["/qiki/events"] * 3
    assert len(warnings) == 1 and "broken_msgs/msg/Broken" in warnings[0] and "/broken" in warnings[0]
    assert "\n" not in warnings[0]
    assert import_message("ghost_msgs/msg/Ghost") is None               # recorder / player skip it too
    assert import_message("qiki_msgs/msg/Event") is not None


def test_writer_refuses_existing_output_and_bad_options(tmp_path, capsys):
    _write(tmp_path / "exists", n=1)
    err = _one_line_error(capsys, "record", "-o", str(tmp_path / "exists"))
    assert str(tmp_path / "exists") in err and "exists already" in err
    with pytest.raises(BagWriteError, match="exists already") as exc:
        BagWriter(tmp_path / "exists").open()
    assert str(exc.value).startswith(str(tmp_path / "exists"))
    with pytest.raises(BagWriteError, match="unknown storage"):
        BagWriter(tmp_path / "x", storage="parquet")
    with pytest.raises(BagWriteError, match="must be positive"):
        BagWriter(tmp_path / "x", split_size_bytes=0)


def test_sqlite3_storage(tmp_path):
    bag = _write(tmp_path / "db", n=4, storage="sqlite3")
    assert [p.name for p in bag.split_paths] == ["db_0.db3"]
    info = bag_info(tmp_path / "db")
    assert info.storage == "sqlite3" and info.message_count == 16
    assert len(_fresh_decode(tmp_path / "db")["/qiki/events"]) == 4


def test_empty_bag_is_valid(tmp_path):
    with BagWriter(tmp_path / "empty") as bag:
        bag.add_topic("/qiki/events", "qiki_msgs/msg/Event")
    info = bag_info(tmp_path / "empty")
    assert info.message_count == 0 and info.duration_s == 0.0


def test_cli_argument_errors_are_one_line(capsys):
    for argv in (["play", "x", "--rate", "-1"], ["record", "--max-bag-size", "lots"], ["frobnicate"]):
        with pytest.raises(SystemExit) as exc:
            bag_main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err, err


def test_cap_without_splits_is_refused(tmp_path, capsys):
    assert bag_main(["record", "-o", str(tmp_path / "r"), "--max-total-size", "10M"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-bag-size" in err
    assert not (tmp_path / "r").exists()


def test_mcap_library_reads_the_bag(tmp_path):
    """Independent reader: the `mcap` + `mcap-ros2-support` packages decode qiki_msgs from the bag alone."""
    import mcap.reader as mcap_reader
    import mcap_ros2.decoder as decoder
    _write(tmp_path / "m", n=3)
    with open(tmp_path / "m" / "m_0.mcap", "rb") as f:
        reader = mcap_reader.make_reader(f, decoder_factories=[decoder.DecoderFactory()])
        got = [(c.topic, m) for _s, c, _m, m in reader.iter_decoded_messages(topics=["/qiki/agent/bios"])]
    assert [m.test_seq for _, m in got] == [0, 1, 2]
    assert got[2][1].devices[1].name == "dev1"
    shutil.rmtree(tmp_path / "m")


@pytest.mark.parametrize("content, expected", [
    (None, "cannot read the graph description"),                         # missing file
    (b"\xff\xfe\x00binary", "not a text file"),                           # e.g. a bag passed by mistake
    (b"topics: [\n", "not valid YAML"),
    (b"nodes: []\n", "expected a 'topics:' list"),
])
def test_graph_file_errors_are_one_line(tmp_path, content, expected):
    from qiki_bag.catalog import load_catalog
    path = tmp_path / "graph.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BagError) as err:
        load_catalog(path)
    assert expected in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_graph_file_topic_with_unknown_qos_is_left_to_discovery(tmp_path):
    from qiki_bag.catalog import load_catalog
    path = tmp_path / "graph.yaml"
    path.write_text("topics:\n- {name: /a, type: std_msgs/msg/String, qos: [stream]}\n"
                    "- {name: /b, type: std_msgs/msg/String, qos: nonsense}\n"
                    "- {name: /c, type: std_msgs/msg/String, qos: stream}\n")
    assert list(load_catalog(path)) == ["/c"]
