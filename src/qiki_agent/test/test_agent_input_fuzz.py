"""Property-based: whatever VehicleState, TrackArray, DeviceHealth and RadarFrame messages reach the agent,
in whatever stamp order, its adapter (qiki_agent.input_codec) drops the ones whose arrays do not describe
one set of items with a one-line reason, AgentCore rejects NaN/inf/absurd values and stamps older than
the last accepted, each bad input moves a counter by exactly one and each good input moves none, and
every tick's command stays finite (hypothesis)."""
import math
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import FLOATS, fuzz_settings, is_finite, item_counts
from qiki_agent.agent_core import AgentCore
from qiki_agent.input_codec import device_health_args, radar_frame_args, tracks_args, vehicle_state_args
from qiki_msgs.msg import DeviceHealth, RadarFrame, TrackArray, VehicleState
from qiki_ros.packing import to_stamp
from qiki_description.loader import load_description
from qiki_sim.ship_simulation import initial_chaser_state
from qiki_geometry.state_bounds import MAX_ABS_STATE
from test_agent_core import agent_config, scenario  # the agent exactly as the launcher configures it

SCENARIOS = {"bot": scenario("bot_patrol"), "ship": scenario("ship_station_keeping")}
BOOT_S = 1.0  # the agent's mission runs from here on (see _booted)
TRACK_FIELDS = ("id", "status", "iff", "track_band", "state", "covariance", "transponder_code")


def _ego_nominal(profile: str):
    """(position, velocity) of a plausible ego: the scenario's start."""
    sc = SCENARIOS[profile]
    if profile == "bot":
        return np.array([sc.ego.x, sc.ego.y, 0.0]), np.zeros(3)
    r, v, _, _ = initial_chaser_state(sc.ego)
    return r, v


def _spoil(draw, values: np.ndarray) -> np.ndarray:
    """values, or a copy with one entry replaced by a fuzzed float."""
    if values.size and draw(st.integers(0, 3)) == 0:
        values = values.copy()
        values.flat[draw(st.integers(0, values.size - 1))] = draw(FLOATS)
    return values


@st.composite
def vehicle_states(draw, profile: str, t: float) -> VehicleState:
    msg = VehicleState()
    msg.header.stamp = to_stamp(t)
    r, v = _ego_nominal(profile)
    r, v = _spoil(draw, r + draw(st.floats(-5.0, 5.0))), _spoil(draw, v)
    yaw = draw(st.floats(-math.pi, math.pi))
    q = _spoil(draw, np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]))
    w = _spoil(draw, np.zeros(3))
    p, o, vw, av = msg.pose.position, msg.pose.orientation, msg.velocity_world, msg.twist.angular
    p.x, p.y, p.z = (float(c) for c in r)
    o.w, o.x, o.y, o.z = (float(c) for c in q)
    vw.x, vw.y, vw.z = (float(c) for c in v)
    av.x, av.y, av.z = (float(c) for c in w)
    return msg


@st.composite
def track_arrays(draw, profile: str, t: float) -> TrackArray:
    n = draw(st.integers(0, 6))
    counts = draw(item_counts(n, TRACK_FIELDS))
    msg = TrackArray(band=RadarFrame.BAND_UNION)
    msg.header.stamp = to_stamp(t)
    msg.id = np.arange(1, counts["id"] + 1, dtype=np.uint32)
    for name in ("status", "iff", "track_band"):
        setattr(msg, name, np.array(draw(st.lists(st.integers(0, 2), min_size=counts[name], max_size=counts[name])),
                                    np.uint8))
    ego = _ego_nominal(profile)[0] if profile == "bot" else np.zeros(3)   # tracks: map (bot) or LVLH (ship)
    k = counts["state"]
    state = np.hstack([ego + np.array(draw(st.lists(st.floats(-40.0, 40.0), min_size=3 * k, max_size=3 * k))
                                      ).reshape(k, 3), np.full((k, 3), draw(st.floats(-3.0, 3.0)))])
    if profile == "bot":
        state[:, [2, 5]] = 0.0
    msg.state = _spoil(draw, state).ravel()
    msg.covariance = _spoil(draw, np.tile(0.1 * np.eye(6).ravel(), counts["covariance"]))
    msg.transponder_code = np.array(draw(st.lists(st.sampled_from([0, 100, 200, 300]), min_size=counts["transponder_code"],
                                                  max_size=counts["transponder_code"])), np.uint32)
    return msg


@st.composite
def device_healths(draw, profile: str, t: float) -> DeviceHealth:
    names = list(load_description(profile).devices)
    counts = draw(item_counts(len(names), ("name", "level", "value")))
    msg = DeviceHealth()
    msg.header.stamp = to_stamp(t)
    msg.name = (names * 2)[:counts["name"]]
    msg.level = np.array(draw(st.lists(st.sampled_from([0, 0, 0, 1, 2, 3, 9]), min_size=counts["level"],
                                       max_size=counts["level"])), np.uint8)
    msg.value = _spoil(draw, np.full(counts["value"], 0.9))
    return msg


def _radar_frame(t: float) -> RadarFrame:
    msg = RadarFrame(band=RadarFrame.BAND_UNION)
    msg.header.stamp = to_stamp(t)
    return msg


@st.composite
def input_steps(draw, profile: str):
    """Per 0.1 s tick: a few input messages, stamped at the tick or up to 3 s before it (going backwards)."""
    steps = []
    for k in range(draw(st.integers(1, 12))):
        t = BOOT_S + 0.1 * (k + 1)
        msgs = []
        for _ in range(draw(st.integers(0, 4))):
            stamp = max(0.0, t - draw(st.sampled_from([0.0, 0.0, 0.0, 0.1, 3.0])))
            kind = draw(st.sampled_from([vehicle_states, track_arrays, device_healths, "radar"]))
            msgs.append(_radar_frame(stamp) if kind == "radar" else draw(kind(profile, stamp)))
        steps.append((t, msgs))
    return steps


class Oracle:
    """What the agent must reject: the same rules, written out independently of AgentCore."""

    def __init__(self, booted_s: float):
        self.ego_t, self.tracks_t, self.health_t = booted_s, 0.0, booted_s

    def vehicle_state_bad(self, a: dict) -> bool:
        parts = [np.asarray(a[k], float) for k in ("position", "quaternion_wxyz", "velocity_world",
                                                    "angular_velocity_body")]
        bad = (not all((np.abs(p) < MAX_ABS_STATE).all() for p in parts) or a["t_s"] < self.ego_t
               or abs(np.linalg.norm(parts[1]) - 1.0) > 0.1)
        self.ego_t = self.ego_t if bad else a["t_s"]
        return bad

    def tracks_bad(self, a: dict) -> bool:
        if a["t_s"] < self.tracks_t:
            return True
        self.tracks_t = a["t_s"]
        cov_ok = a["covariance"] is None or np.isfinite(a["covariance"]).all()
        return not ((np.abs(a["state"]) < MAX_ABS_STATE).all() and cov_ok)

    @staticmethod
    def shape_ok(msg) -> bool:
        """Do the message's flat arrays describe one set of N items (covariance and codes may be empty)?"""
        if isinstance(msg, TrackArray):
            n = len(msg.id)
            return (len(msg.status) == len(msg.iff) == len(msg.track_band) == n and len(msg.state) == 6 * n
                    and len(msg.covariance) in (0, 36 * n) and len(msg.transponder_code) in (0, n))
        if isinstance(msg, DeviceHealth):
            return len(msg.name) == len(msg.level) == len(msg.value)
        if isinstance(msg, RadarFrame):
            return len({len(getattr(msg, f)) for f in RADAR_FRAME_ARRAYS}) == 1
        return True

    def device_health_bad(self, a: dict) -> bool:
        bad = a["stamp_s"] < self.health_t
        self.health_t = self.health_t if bad else a["stamp_s"]
        return bad


RADAR_FRAME_ARRAYS = ("range_m", "azimuth_rad", "elevation_rad", "range_rate_mps", "snr_db", "transponder_code",
                      "detection_band")
CODECS = {VehicleState: (vehicle_state_args, "on_vehicle_state", "vehicle_state_bad"),
          TrackArray: (tracks_args, "on_tracks", "tracks_bad"),
          DeviceHealth: (device_health_args, "on_device_health", "device_health_bad"),
          RadarFrame: (radar_frame_args, "on_radar_frame", None)}


def _booted(profile: str) -> AgentCore:
    """An agent fed good inputs until its mission runs (t = BOOT_S), so the fuzzed inputs reach the mission
    and avoidance commands, not only the stop of BOOTING."""
    core = AgentCore(agent_config(profile), lambda *event: None)
    r, v = _ego_nominal(profile)
    names = list(load_description(profile).devices)
    for k in range(round(BOOT_S / 0.1) + 1):
        t = 0.1 * k
        core.on_device_health(names, np.zeros(len(names), np.uint8), np.full(len(names), 0.9), t)
        core.on_vehicle_state(t, r, [1.0, 0.0, 0.0, 0.0], v, [0.0, 0.0, 0.0])
        core.on_radar_frame(t)
        core.tick(t)
    assert core.fsm.state == "MISSION_ACTIVE" and core.inputs_rejected == 0
    return core


def _run(profile: str, steps) -> AgentCore:
    """Feed the steps as the agent node does; check counters per input and every command."""
    core = _booted(profile)
    oracle, dropped = Oracle(BOOT_S), 0
    for t, msgs in steps:
        for msg in msgs:
            to_args, method, judge = CODECS[type(msg)]
            try:
                args = to_args(msg)
            except ValueError as exc:                         # the node counts these in inputs_dropped
                assert str(exc).startswith(f"{type(msg).__name__}: ") and "\n" not in str(exc)
                assert not oracle.shape_ok(msg), str(exc)
                dropped += 1
                continue
            assert oracle.shape_ok(msg), type(msg).__name__
            before = core.inputs_rejected
            getattr(core, method)(**args)
            bad = getattr(oracle, judge)(args) if judge else False
            assert core.inputs_rejected - before == int(bad), (type(msg).__name__, args)
        cmd = core.tick(t)
        if profile == "bot":
            assert is_finite(cmd.v, cmd.w)
        else:
            assert cmd.throttle.shape == (core.pilot.allocator.rcs.n,) and is_finite(cmd.throttle)
            assert (cmd.throttle >= 0.0).all() and (cmd.throttle <= 1.0).all()
    return core


@fuzz_settings(40)
@given(input_steps("bot"))
def test_bot_agent_rejects_and_counts_bad_inputs_and_commands_finitely(steps):
    _run("bot", steps)


@fuzz_settings(25)
@given(input_steps("ship"))
def test_ship_agent_rejects_and_counts_bad_inputs_and_commands_finitely(steps):
    _run("ship", steps)


def test_mismatched_inputs_name_the_field():
    msg = TrackArray()
    msg.id, msg.status, msg.iff, msg.track_band = np.arange(3, dtype=np.uint32), *(np.zeros(3, np.uint8),) * 3
    msg.state, msg.covariance = np.zeros(18), np.zeros(35)
    with pytest.raises(ValueError, match=r"^TrackArray: covariance has 35 values for 3 tracks \(expected 36 per track\)$"):
        tracks_args(msg)
    msg.covariance = []
    assert tracks_args(msg)["covariance"] is None                  # an empty covariance is allowed
    health = DeviceHealth(name=["power", "comms"], level=[0], value=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"^DeviceHealth: level has 1 values for 2 devices"):
        device_health_args(health)


def test_a_malformed_radar_frame_is_no_frame():
    """Arrays of different lengths: dropped (the node counts it in inputs_dropped), not radar liveness."""
    frame = RadarFrame(range_m=[1.0, 2.0], azimuth_rad=[0.0], elevation_rad=[0.0, 0.0], range_rate_mps=[0.0, 0.0],
                       snr_db=[9.0, 9.0], transponder_code=[0, 0], detection_band=[0, 0])
    with pytest.raises(ValueError, match=r"^RadarFrame: azimuth_rad has 1 values for 2 detections"):
        radar_frame_args(frame)
    frame.azimuth_rad = [0.0, 0.1]
    assert radar_frame_args(frame) == {"t_s": 0.0}


def test_ticks_without_any_vehicle_state_stop_the_vehicle():
    """No vehicle state yet (or every one rejected): the agent commands a stop instead of crashing."""
    for profile in ("bot", "ship"):
        core = AgentCore(agent_config(profile), lambda *event: None)
        core.on_vehicle_state(0.0, [math.nan, 0, 0], [1, 0, 0, 0], [0, 0, 0], [0, 0, 0])
        for k in range(30):
            cmd = core.tick(0.1 * k)
        assert core.ego is None and core.inputs_rejected == 1
        assert (cmd.v, cmd.w) == (0.0, 0.0) if profile == "bot" else not cmd.throttle.any()


def test_a_thousand_tracks_are_taken_in_one_vectorised_pass():
    core = AgentCore(agent_config("bot"), lambda *event: None)
    rng = np.random.default_rng(0)
    n = 1000
    state = np.hstack([rng.uniform(-300.0, 300.0, (n, 2)), np.zeros((n, 1)), rng.normal(0, 1, (n, 2)), np.zeros((n, 1))])
    state[::100, 0] = np.nan
    core.on_vehicle_state(0.1, [0, 0, 0], [1, 0, 0, 0], [0, 0, 0], [0, 0, 0])
    t0 = time.perf_counter()
    core.on_tracks(0.1, np.arange(n), np.ones(n), np.zeros(n), np.ones(n), state)
    cmd = core.tick(0.1)
    assert time.perf_counter() - t0 < 2.0
    assert len(core.inputs.tracks) == n - 10 and core.inputs_rejected == 1 and is_finite(cmd.v, cmd.w)
