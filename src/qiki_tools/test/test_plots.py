"""`qiki plot` without DDS: figures from the committed replay bags (which hold agent status, events, ego
state and radar frames but neither truth, tracks nor scores: those figures must say so and still be
written), the batched LVLH transform against the scorer's helper, and one-line errors on bad input."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from qiki_tools import plots
from qiki.cli import main

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
QIKI = Path(sys.executable).with_name("qiki")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_PX = {name: (int(w * plots.DPI), int(h * plots.DPI))
               for name, (w, h) in ((plots.FILES[k], plots.SIZES_IN[k]) for k in plots.FILES)}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; asserts the PNG signature and the IHDR's CRC."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, ctype = struct.unpack(">I4s", data[8:16])
    assert ctype == b"IHDR" and length == 13
    body = data[16:16 + length]
    (crc,) = struct.unpack(">I", data[16 + length:20 + length])
    assert crc == zlib.crc32(ctype + body)
    return struct.unpack(">II", body[:8])


def check_pngs(out: Path, names: list[str]) -> None:
    import matplotlib.image as mpimg
    assert sorted(names) == sorted(plots.FILES.values())
    for name in names:
        path = out / name
        assert path.stat().st_size > 5000, f"{path} is nearly empty"
        assert png_size(path) == EXPECTED_PX[name]
        pixels = mpimg.imread(path)
        assert pixels.shape[:2] == EXPECTED_PX[name][::-1]
        assert pixels[..., :3].std() > 0.05, f"{path} is a blank image"     # something was drawn


@pytest.mark.parametrize("fixture, frame", [("bot_replay", "map"), ("ship_replay", "lvlh")])
def test_figures_from_the_replay_fixtures(tmp_path, fixture, frame):
    data = plots.load_run(FIXTURES / fixture)
    assert data.frame == frame
    assert len(data.status) > 5 and len(data.events) > 3 and len(data.ego) > 100
    assert data.sr_range_m is not None and data.sr_range_m > 0
    # the fixtures keep tracks only as digests, and have no truth nor scores: the figures say so
    assert set(data.missing) == {"/qiki/tracks", "/qiki/sim/truth", "/qiki/eval/track_score"}
    assert "IDLE" in data.status["state"] and data.status["t"].max() <= data.end_t
    if frame == "lvlh":
        assert np.all(data.ego["x"] == 0) and np.all(data.ego["y"] == 0)       # the chaser is the origin
    names = plots.write_plots(data, tmp_path)
    check_pngs(tmp_path, names)


def test_scope_figure_draws_tracks_truth_and_the_sr_circle():
    t = np.repeat(np.arange(50) * 0.2, 2)
    data = plots.RunData(
        tracks=plots._records(t=t, id=np.tile([3, 7], 50).astype(np.uint32), iff=np.tile([1, 2], 50).astype(np.uint8),
                              band=np.zeros(100, np.uint8), x=np.tile([10.0, -20.0], 50) + t, y=np.tile([5.0, 30.0], 50)),
        truth=plots._records(t=t, id=np.tile([1, 2], 50).astype(np.uint32), kind=np.ones(100, np.uint8),
                             x=np.tile([10.0, -20.0], 50) + t, y=np.tile([5.0, 31.0], 50)),
        ego=plots._records(t=np.arange(50) * 0.2, x=np.linspace(0, 5, 50), y=np.zeros(50)),
        sr_range_m=60.0)
    ax = plots.scope_figure(data).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert {"confirmed track: friend", "confirmed track: foe", "ego path", "truth trajectories"} <= set(labels)
    assert any(lbl.startswith("LR/SR boundary 60 m") for lbl in labels)
    assert sorted(txt.get_text() for txt in ax.texts) == ["3", "7"]            # one label per track id
    circle = ax.patches[0]
    assert circle.center == (5.0, 0.0) and circle.radius == 60.0              # around the ego's last position


def test_timeline_and_gospa_figures():
    data = plots.RunData(
        status=plots._records(t=np.array([0.0, 1.0, 2.0, 5.0]), state=np.array(["BOOTING", "IDLE", "ALERT", "IDLE"])),
        events=plots._records(t=np.array([0.5, 2.0, 3.0]), code=np.array([101, 401, 901], np.uint16),
                              severity=np.array([0, 1, 2], np.uint8)),
        score=plots._records(t=np.tile(np.arange(10.0), 3), band=np.repeat([0, 1, 2], 10).astype(np.uint8),
                             gospa=np.linspace(0, 5, 30)),
        gospa_c_m=5.0, end_t=8.0)
    ax = plots.timeline_figure(data).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["events", "BOOTING", "IDLE", "ALERT"]
    assert {"event INFO", "event WARN", "event ERROR"} <= set(ax.get_legend_handles_labels()[1])
    line = ax.lines[0]
    assert list(line.get_xdata()) == [0, 1, 2, 5, 8] and list(line.get_ydata()) == [1, 2, 3, 2, 2]
    ax = plots.gospa_figure(data).axes[0]
    assert [lbl.split(" ")[0] for lbl in ax.get_legend_handles_labels()[1]] == ["LR", "SR", "union", "cut-off"]


def test_rowwise_lvlh_of_the_scope_matches_the_scorers_sensor_view():
    from qiki_radar.sensor_frame import sensor_view
    from qiki_geometry.lvlh import to_lvlh, to_lvlh_rowwise
    rng = np.random.default_rng(3)
    r = np.array([6_778_000.0, 1000.0, -500.0]) + rng.normal(0, 1e3, 3)
    v = np.array([10.0, 7_668.0, 30.0])
    obj = r + rng.normal(0, 2000, (5, 3))
    want = sensor_view("lvlh", r, v, np.array([1.0, 0, 0, 0]), obj, np.tile(v, (5, 1))).target_position
    got = to_lvlh_rowwise(np.tile(r, (5, 1)), np.tile(v, (5, 1)), obj)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # a different chaser state on every row (a recorded run): each row in its own frame
    rs, vs = r + rng.normal(0, 5e4, (5, 3)), v + rng.normal(0, 50, (5, 3))
    rows = to_lvlh_rowwise(rs, vs, obj)
    for k in range(5):
        np.testing.assert_allclose(rows[k], to_lvlh(rs[k], vs[k], obj[k:k + 1], vs[k:k + 1])[0][0], atol=1e-6)


def test_qiki_plot_cli_on_a_bag(tmp_path, capsys):
    assert main(["plot", str(FIXTURES / "bot_replay"), "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("qiki plot: ") and "scope.png" in out
    check_pngs(tmp_path / "figs", sorted(p.name for p in (tmp_path / "figs").iterdir()))


def test_qiki_plot_on_a_run_directory_lists_the_figures_in_its_summary(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "ship_replay", run / "bag")
    (run / "summary.json").write_text(json.dumps({"profile": "ship", "plots": []}))
    assert main(["plot", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["plots"] == ["scope.png", "fsm_timeline.png", "gospa.png"]
    check_pngs(run, summary["plots"])


@pytest.mark.parametrize("text", ["{\"profile\": ", "[1, 2]"])
def test_qiki_plot_on_a_run_directory_with_a_broken_summary_warns_in_one_line(tmp_path, capsys, text):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "bot_replay", run / "bag")
    (run / "summary.json").write_text(text)
    assert main(["plot", str(run)]) == 0
    err = capsys.readouterr().err
    assert "summary.json is not a JSON object" in err and len(err.strip().splitlines()) == 1
    assert (run / "summary.json").read_text() == text          # left as it was
    check_pngs(run, ["scope.png", "fsm_timeline.png", "gospa.png"])


def _bag_without_plot_topics(path: Path) -> Path:
    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import DeviceHealth
    from rclpy.serialization import serialize_message
    with BagWriter(path) as bag:
        bag.add_topic("/qiki/sim/device_health", "qiki_msgs/msg/DeviceHealth")
        bag.write("/qiki/sim/device_health", 1_700_000_000_000_000_000, serialize_message(DeviceHealth()))
    return path


def _corrupted_bag(path: Path) -> Path:
    shutil.copytree(FIXTURES / "bot_replay", path)
    mcap = next(path.glob("*.mcap"))
    from mcap.reader import make_reader
    with mcap.open("rb") as f:
        first = make_reader(f).get_summary().chunk_indexes[0]
    cut = first.chunk_start_offset + first.chunk_length // 2  # inside the first chunk: no complete message
    mcap.write_bytes(mcap.read_bytes()[:cut])
    return path


def _run_dir_without_bag(path: Path) -> Path:
    path.mkdir()
    (path / "summary.json").write_text("{}")
    return path


def _not_a_bag(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("hello")
    return path


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "nowhere", ["nowhere: no such file or directory", "qiki run --record"]),
    (_not_a_bag, ["not_a_bag: not a rosbag2 bag (no metadata.yaml", "qiki bag info"]),
    (_corrupted_bag, ["corrupted_bag/bot_replay_0.mcap: truncated or corrupted MCAP", "qiki bag info"]),
    (_run_dir_without_bag, ["run_dir_without_bag: run directory without a bag", "qiki run --record"]),
    (_bag_without_plot_topics, ["none of the plotted topics (/qiki/tracks, /qiki/sim/truth, /qiki/agent/status",
                                "qiki run --record"]),
], ids=["missing", "not-a-bag", "corrupted", "run-without-bag", "no-plot-topics"])
def test_bad_input_is_one_line_naming_the_thing_and_the_fix_exit_2(tmp_path, make, expected):
    path = make(tmp_path / make.__name__.strip("_")) if make.__name__ != "<lambda>" else make(tmp_path)
    proc = subprocess.run([str(QIKI), "plot", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qiki plot: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
