"""Property-based: whatever WorldTruth and VehicleState arrive, the radar's input adapter
(qiki_radar.truth_codec) rejects the message with a one-line reason naming the field, or drops and counts
the unusable objects; the radar model then produces finite detections that the tracker's own adapter
accepts in full (hypothesis). Also: a clock jump does not make the scan scheduler loop."""
import math
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import FLOATS, NASTY, float_list, fuzz_settings, is_finite, item_counts
from qiki_msgs.msg import RadarFrame, VehicleState, WorldTruth
from qiki_radar.frame_codec import detections_to_frame, frame_measurements
from qiki_radar.radar_model import LR_DEFAULT, SR_DEFAULT, next_scan_time, observe
from qiki_radar.truth_codec import ego_view, truth_objects
from qiki_sim.simulation import MAX_ABS_STATE

BANDS = (LR_DEFAULT, SR_DEFAULT)


@st.composite
def truths(draw, max_objects: int = 30) -> WorldTruth:
    n = draw(st.integers(0, max_objects))
    counts = draw(item_counts(n, ("id", "position", "velocity", "rcs_m2", "transponder_code")))
    msg = WorldTruth()
    msg.id = np.arange(counts["id"], dtype=np.uint32)
    msg.kind = np.zeros(n, np.uint8)
    position = [draw(st.one_of(st.floats(-900.0, 900.0), FLOATS)) for _ in range(3 * counts["position"])]
    msg.position, msg.velocity = np.array(position), np.array(draw(float_list(3 * counts["velocity"])))
    k = counts["rcs_m2"]
    msg.rcs_m2 = np.array(draw(st.lists(st.one_of(st.floats(0.0, 100.0), FLOATS), min_size=k, max_size=k)))
    msg.transponder_code = np.arange(counts["transponder_code"], dtype=np.uint32)
    return msg


@st.composite
def egos(draw) -> VehicleState:
    msg = VehicleState()
    p, v, q = msg.pose.position, msg.velocity_world, msg.pose.orientation
    p.x, p.y, p.z = (draw(st.one_of(st.floats(-100.0, 100.0), NASTY)) for _ in range(3))
    v.x, v.y = draw(st.one_of(st.just(7.5e3), FLOATS)), draw(FLOATS)
    yaw = draw(st.floats(-math.pi, math.pi))
    q.w, q.z = draw(st.sampled_from([(math.cos(yaw / 2), math.sin(yaw / 2))] * 4 + [(math.nan, 0.0), (0.5, 0.0),
                                                                                    (0.0, 0.0), (math.inf, 1.0)]))
    return msg


def _consistent(msg: WorldTruth) -> bool:
    n = len(msg.id)
    return (len(msg.position) == len(msg.velocity) == 3 * n and len(msg.rcs_m2) == len(msg.transponder_code) == n)


def _ego_usable(msg: VehicleState, frame: str) -> bool:
    p, v, q = msg.pose.position, msg.velocity_world, msg.pose.orientation
    r, vel = np.array([p.x, p.y, p.z]), np.array([v.x, v.y, v.z])
    ok = (np.abs(r) < MAX_ABS_STATE).all() and (np.abs(vel) < MAX_ABS_STATE).all()
    ok = ok and math.isfinite(q.w) and abs(math.hypot(q.w, q.z) - 1.0) <= 1e-3
    return bool(ok and (frame == "map" or np.linalg.norm(np.cross(r, vel)) > 0.0))


def _scan(frame: str, truth: WorldTruth, ego: VehicleState, rng) -> int:
    """One radar scan as the radar node does it; returns the number of truth objects dropped."""
    try:
        objects, dropped = truth_objects(truth)
    except ValueError as exc:
        assert not _consistent(truth) and str(exc).startswith("WorldTruth: ") and "\n" not in str(exc)
        return 0
    assert _consistent(truth)
    assert dropped + len(objects) == len(truth.id)
    assert (np.abs(objects.position) < MAX_ABS_STATE).all() and is_finite(objects.velocity, objects.rcs_m2)
    try:
        view = ego_view(frame, ego, objects)
    except ValueError as exc:
        assert not _ego_usable(ego, frame) and str(exc).startswith("VehicleState: ")
        return dropped
    assert _ego_usable(ego, frame)
    assert is_finite(view.sensor_position, view.sensor_rotation, view.target_position, view.target_velocity)
    for band in BANDS:
        det = observe(band, rng, view.sensor_position, view.sensor_rotation, view.sensor_velocity,
                      view.target_position, view.target_velocity, objects.rcs_m2, objects.transponder_code)
        assert det.validate().all()
        msg = detections_to_frame(det, RadarFrame(band=band.band_id), band)
        w, x, y, z = (float(c) for c in view.sensor_quaternion_wxyz())
        msg.sensor_pose.orientation.w, msg.sensor_pose.orientation.x = w, x
        msg.sensor_pose.orientation.y, msg.sensor_pose.orientation.z = y, z
        meas, _, lost = frame_measurements(msg, 3)
        assert lost == 0 and len(meas) == len(det)            # the tracker takes every radar detection
    return dropped


@fuzz_settings(100)
@given(st.sampled_from(["map", "lvlh"]), truths(), egos())
def test_any_truth_and_ego_are_rejected_with_a_reason_or_scanned_finitely(frame, truth, ego):
    with np.errstate(invalid="raise", over="raise"):   # no silent NaN/overflow arithmetic on the way either
        dropped = _scan(frame, truth, ego, np.random.default_rng(0))
    if _consistent(truth):
        pos = np.asarray(truth.position).reshape(-1, 3)
        bad = ~((np.abs(pos) < MAX_ABS_STATE).all(axis=1) & (np.abs(np.asarray(truth.velocity).reshape(-1, 3))
                                                             < MAX_ABS_STATE).all(axis=1))
        bad |= ~(np.asarray(truth.rcs_m2) >= 0.0) | ~np.isfinite(truth.rcs_m2)
        assert dropped == int(bad.sum())                     # the counter moves by exactly the bad objects


def test_empty_and_huge_worlds_are_scanned():
    ego = VehicleState()
    ego.pose.orientation.w = 1.0
    rng = np.random.default_rng(1)
    for n in (0, 20_000):
        truth = WorldTruth()
        truth.id, truth.transponder_code = np.arange(n, dtype=np.uint32), np.zeros(n, np.uint32)
        truth.position, truth.velocity = rng.uniform(-500.0, 500.0, 3 * n), rng.normal(0.0, 1.0, 3 * n)
        truth.rcs_m2 = rng.uniform(0.1, 10.0, n)
        t0 = time.perf_counter()
        assert _scan("map", truth, ego, rng) == 0
        assert time.perf_counter() - t0 < 5.0


def test_mismatched_truth_names_the_field():
    truth = WorldTruth()
    truth.id, truth.position, truth.velocity = np.arange(3, dtype=np.uint32), np.zeros(9), np.zeros(6)
    truth.rcs_m2, truth.transponder_code = np.ones(3), np.zeros(3, np.uint32)
    with pytest.raises(ValueError, match=r"WorldTruth: velocity has 6 values for 3 objects \(expected 3 per object\)"):
        truth_objects(truth)


@pytest.mark.parametrize("jump_s", [0.0, 0.05, 0.1, 0.35, 1e3, 4e9])
def test_scan_schedule_skips_a_clock_jump_without_looping(jump_s):
    """Next scan after a scan at t: strictly later, at most one period later, on the period grid from the old
    next time. A loop period by period over the 4e9 s jump would take hours, not a second."""
    period = 0.1
    t0 = time.perf_counter()
    nxt = next_scan_time(0.2, 0.2 + jump_s, 10.0)
    assert time.perf_counter() - t0 < 1.0
    assert 0.2 + jump_s < nxt <= 0.2 + jump_s + period + 1e-6 * max(1.0, jump_s * 1e-9)


def test_scan_schedule_of_a_steady_run_is_stepping_period_by_period():
    period = 0.1
    steady, stepped = 0.0, 0.0
    for k in range(100):
        steady = next_scan_time(steady, k * period, 10.0)
        while stepped <= k * period + 1e-9:
            stepped += period
        assert steady == stepped
