"""The console's pure model: track rows from arrays (range, bearing, closing speed), IFF colours, caps."""
import argparse
import re
import time
from pathlib import Path

import numpy as np
import pytest

from qiki_tools import console_model as cm
from qiki_tools.verbs import offset_lvlh
from qiki_tracks.track_set import TrackSet

ROOT = Path(__file__).resolve().parents[3]


def _consts(path: Path) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^uint8 (\w+) = (\d+)", path.read_text(), re.M)}


def test_constants_match_the_interfaces():
    tr = _consts(ROOT / "src/qiki_msgs/msg/TrackArray.msg")
    assert {tr[f"STATUS_{v.upper()}"]: v for v in cm.STATUS_NAMES.values()} == cm.STATUS_NAMES
    assert {tr[f"IFF_{v.upper()}"]: v for v in cm.IFF_NAMES.values()} == cm.IFF_NAMES
    rf = _consts(ROOT / "src/qiki_msgs/msg/RadarFrame.msg")            # TrackArray's band values are RadarFrame's
    assert {rf[f"BAND_{v}"]: v for v in cm.BAND_NAMES.values()} == cm.BAND_NAMES
    ds = _consts(ROOT / "src/qiki_msgs/msg/DeviceStatus.msg")
    assert {ds[v]: v for v in cm.LEVEL_NAMES.values()} == cm.LEVEL_NAMES
    srv = _consts(ROOT / "src/qiki_msgs/srv/OperatorCommand.srv")
    assert {srv[v]: v for v in cm.COMMAND_NAMES.values()} == cm.COMMAND_NAMES
    assert {n for n, _ in cm.COMMAND_KEYS.values()} == set(srv.values())   # every command has a key


def _tracks(state, iff=None, frame="map", band=None, ids=None):
    state = np.asarray(state, float).reshape(-1, 6)
    n = len(state)
    return TrackSet.from_arrays(np.asarray(ids if ids is not None else np.arange(1, n + 1), np.uint32),
                                np.ones(n, np.uint8), np.asarray(iff if iff is not None else np.zeros(n), np.uint8),
                                np.asarray(band if band is not None else np.ones(n), np.uint8), state,
                                stamp_s=12.5, frame_id=frame)


def test_range_bearing_closing_relative_to_ego_pose_and_velocity():
    # ego at (10, 0) heading +90 deg (north), moving north at 1 m/s
    ego = cm.Ego("map", np.array([10.0, 0, 0]), np.array([0.0, 1, 0]), np.pi / 2)
    tracks = _tracks([[10, 20, 0, 0, -2, 0],      # dead ahead, 20 m, coming at us: closing 2 + 1
                      [0, 0, 0, 0, 0, 0],         # 10 m to the west = 90 deg left of the nose
                      [13, -4, 0, 3, -4, 0]])     # behind-right, 5 m, moving away along the line of sight
    rng, brg, closing = cm.relative_kinematics(tracks, ego)
    np.testing.assert_allclose(rng, [20, 10, 5])
    np.testing.assert_allclose(brg, [0, 90, np.degrees(np.arctan2(-4, 3)) - 90], atol=1e-9)
    np.testing.assert_allclose(closing, [3.0, 0.0, -((3 * 3 + (-4) * (-5)) / 5)])
    assert cm.quat_yaw(np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)) == pytest.approx(np.pi / 2)


def test_bearing_wraps_to_plus_minus_180():
    ego = cm.Ego("map", np.zeros(3), np.zeros(3), np.radians(170))
    _, brg, _ = cm.relative_kinematics(_tracks([[-1, -0.2, 0, 0, 0, 0], [-1, 0, 0, 0, 0, 0]]), ego)
    assert -180 < brg[0] <= 180 and brg[0] == pytest.approx(np.degrees(np.arctan2(-0.2, -1)) - 170 + 360)
    assert brg[1] == pytest.approx(10.0)


def test_lvlh_tracks_are_already_relative_to_the_ego():
    ego = cm.Ego("eci", np.array([7e6, 0, 0]), np.array([0, 7.6e3, 0]), 0.3)   # ship: ECI state, ignored
    rng, brg, closing = cm.relative_kinematics(_tracks([[0, 100, 0, 0, -0.5, 0]], frame="lvlh"), ego)
    np.testing.assert_allclose([rng[0], brg[0], closing[0]], [100, 90, 0.5])


def test_rows_are_nearest_first_with_iff_colours_and_band():
    tracks = _tracks([[30, 0, 0, 0, 0, 0], [10, 0, 0, 0, 0, 0], [20, 0, 0, 0, 0, 0]],
                     iff=[2, 1, 0], band=[0, 1, 0], ids=[7, 8, 9])
    view = cm.track_rows(tracks, cm.Ego("map", np.zeros(3), np.zeros(3), 0.0))
    assert view.keys == ["8", "9", "7"]
    assert [r[1] for r in view.rows] == ["SR", "LR", "LR"]
    assert [r[5] for r in view.rows] == [("friend", "green"), ("unknown", "yellow"), ("foe", "bold red")]
    assert view.rows[0][2].strip() == "10.0" and view.rows[0][4].strip() == "+0.00"
    assert view.by_iff == {"unknown": 1, "friend": 1, "foe": 1} and view.total == 3
    empty = cm.track_rows(TrackSet.empty(), None)
    assert (empty.total, empty.rows) == (0, [])


def test_1000_tracks_are_capped_and_fast():
    rng = np.random.default_rng(1)
    n = 1000
    state = np.hstack([rng.uniform(-500, 500, (n, 2)), np.zeros((n, 1)), rng.normal(0, 3, (n, 2)), np.zeros((n, 1))])
    tracks = _tracks(state, iff=rng.integers(0, 3, n), band=rng.integers(0, 2, n))
    ego = cm.Ego("map", np.zeros(3), np.zeros(3), 0.0)
    view = cm.track_rows(tracks, ego, max_rows=100)
    t0 = time.perf_counter()
    for _ in range(20):
        view = cm.track_rows(tracks, ego, max_rows=100)
    per_call = (time.perf_counter() - t0) / 20
    assert len(view.rows) == 100 and view.total == n
    full, _, _ = cm.relative_kinematics(tracks, ego)
    shown = np.array([float(r[2]) for r in view.rows])
    np.testing.assert_allclose(shown, np.sort(full)[:100], atol=0.051)   # the 100 nearest, in order
    assert sum(view.by_iff.values()) == n
    page2 = cm.track_rows(tracks, ego, max_rows=100, offset=100)
    np.testing.assert_allclose([float(r[2]) for r in page2.rows], np.sort(full)[100:200], atol=0.051)
    last = cm.track_rows(tracks, ego, max_rows=100, offset=950)
    assert len(last.rows) == 50 and last.offset == 950
    assert per_call < 0.02, f"{per_call * 1e3:.1f} ms per 1000-track view"


def test_unreachable_message_only_after_the_wait_and_before_any_status():
    snap = cm.Snapshot(connected_s=1.0, domain_id=83)
    assert cm.unreachable_message(snap, after_s=3.0) is None
    snap.connected_s = 3.5
    text = cm.unreachable_message(snap, after_s=3.0)
    assert "No QIKI graph reachable on ROS_DOMAIN_ID=83" in text and "Traceback" not in text
    snap.agent_seen = True
    assert cm.unreachable_message(snap, after_s=3.0) is None


def test_answer_and_status_lines():
    snap = cm.Snapshot(domain_id=5)
    assert "s = safe mode" in cm.answer_line(snap)
    snap.pending = "SAFE_MODE"
    assert "waiting" in cm.answer_line(snap)
    snap.pending, snap.answer = "", cm.Answer("SAFE_MODE", True, "enter_safe_mode: IDLE -> SAFE_MODE", "SAFE_MODE")
    assert cm.answer_line(snap) == "SAFE_MODE: ACCEPTED - enter_safe_mode: IDLE -> SAFE_MODE (state SAFE_MODE)"
    snap.answer = cm.Answer("RESET", None, "service /qiki/agent/command not available")
    assert cm.answer_line(snap) == "RESET: no answer (service /qiki/agent/command not available)"
    snap.agent_seen, snap.state = True, "IDLE"
    assert cm.status_line(snap).startswith("FSM IDLE")


def test_transition_events_are_parsed():
    assert cm.parse_transition("BOOTING -> IDLE (self_test_passed)") == ("BOOTING", "IDLE", "self_test_passed")
    assert cm.parse_transition("mission patrol started: 4 waypoint(s)") is None


def test_console_offset_option_takes_three_finite_numbers():
    assert offset_lvlh("0,150,-2.5") == (0.0, 150.0, -2.5)
    for bad in ("0,150", "0,x,0", "0,nan,0", "1,2,3,4"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not three finite numbers X,Y,Z"):
            offset_lvlh(bad)
