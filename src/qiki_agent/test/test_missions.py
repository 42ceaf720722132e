"""Missions on simple kinematic/dynamic models: bot patrol + avoidance, ship station keeping, rate limiter."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qiki_agent.missions import (PatrolParams, StationKeeping, StationParams, WaypointPatrol, avoidance_burn,
                                 cw_acceleration, quat_multiply, quat_to_matrix, time_to_collision)
from qiki_agent.rate_limiter import RateLimiter
from qiki_agent.threat import Threat, closest_approach

# ====================================================================== bot


class Unicycle:
    """Exact-arc unicycle with linear/angular acceleration limits (a stand-in for the diff-drive sim)."""

    def __init__(self, x=0.0, y=0.0, yaw=0.0, accel=1.5, alpha=3.0):
        self.x, self.y, self.yaw, self.v, self.w = x, y, yaw, 0.0, 0.0
        self.accel, self.alpha = accel, alpha

    def step(self, v_cmd, w_cmd, dt):
        self.v += float(np.clip(v_cmd - self.v, -self.accel * dt, self.accel * dt))
        self.w += float(np.clip(w_cmd - self.w, -self.alpha * dt, self.alpha * dt))
        h = 0.5 * self.w * dt
        chord = self.v * dt * float(np.sinc(h / math.pi))
        self.x += chord * math.cos(self.yaw + h)
        self.y += chord * math.sin(self.yaw + h)
        self.yaw = math.remainder(self.yaw + self.w * dt, 2 * math.pi)


def drive(patrol, bot, movers=(), avoid=True, t_max=200.0, dt=0.1):  # agent ticks at 10 Hz
    """Run the closed loop; movers are constant-velocity (x, y, vx, vy). Returns the log and min miss distance."""
    movers = [np.array(m, dtype=float) for m in movers]
    log, miss, t = [], math.inf, 0.0
    while t < t_max:
        obstacles = np.array([[m[0], m[1], 0, m[2], m[3], 0] for m in movers]) if avoid and movers else None
        cmd = patrol.update(bot.x, bot.y, bot.yaw, obstacles)
        bot.step(cmd.v, cmd.w, dt)
        for m in movers:
            m[:2] += m[2:] * dt
            miss = min(miss, math.hypot(m[0] - bot.x, m[1] - bot.y))
        log.append((t, bot.x, bot.y, patrol.progress, patrol.done, cmd))
        t += dt
        if patrol.done and abs(bot.v) < 1e-6:
            break
    return log, miss


SQUARE = [(10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (0.0, 0.0)]


@pytest.mark.parametrize("laps", [1, 2])
def test_unicycle_patrols_a_square_reaches_every_waypoint_in_order_and_reports_done(laps):
    params = PatrolParams()
    patrol, bot = WaypointPatrol(SQUARE, params, laps=laps), Unicycle()
    log, _ = drive(patrol, bot)
    assert patrol.done and log[-1][4]
    xy = np.array([(r[1], r[2]) for r in log])
    # each waypoint of each lap is visited, in order
    k = 0
    for wp in SQUARE * laps:
        d = np.linalg.norm(xy[k:] - wp, axis=1)
        hit = int(np.argmax(d < params.arrive_radius_m))
        assert d[hit] < params.arrive_radius_m, f"waypoint {wp} not reached after sample {k}"
        k += hit + 1
    assert math.hypot(bot.x, bot.y) < params.arrive_radius_m and abs(bot.v) < 1e-6
    lap_m, t_end = 40.0 * laps, log[-1][0]
    assert lap_m / params.cruise_speed_mps < t_end < 1.3 * lap_m / params.cruise_speed_mps + 10.0
    progress = np.array([r[3] for r in log])
    assert progress[0] < 0.05 and progress[-1] == 1.0
    assert np.all(np.diff(progress) > -0.02)  # near-monotone (small dips while turning at corners)
    assert not any(r[4] for r in log[: len(log) // 2])  # not done halfway
    stop = patrol.update(bot.x, bot.y, bot.yaw)
    assert (stop.v, stop.w, stop.target_index) == (0.0, 0.0, -1)


def test_patrol_forever_never_finishes_and_counts_laps():
    patrol, bot = WaypointPatrol(SQUARE, laps=None), Unicycle()
    log, _ = drive(patrol, bot, t_max=150.0)
    assert not patrol.done and patrol.lap >= 3
    assert all(0.0 <= r[3] <= 1.0 for r in log)


def test_single_waypoint():
    once = WaypointPatrol([(1.0, 0.0)], laps=3)
    once.update(0.9, 0.0, 0.0)
    assert once.done
    forever = WaypointPatrol([(1.0, 0.0)], laps=None)
    for _ in range(5):
        cmd = forever.update(0.9, 0.0, 0.0)
    assert not forever.done and forever.lap == 0 and cmd.target_index == 0


def test_progress_counts_waypoints_and_the_current_leg():
    patrol = WaypointPatrol([(10.0, 0.0), (20.0, 0.0)], laps=1)
    patrol.update(0.0, 0.0, 0.0)
    assert patrol.progress == pytest.approx(0.0)
    patrol.update(5.0, 0.0, 0.0)
    assert patrol.progress == pytest.approx(0.25)
    patrol.update(9.8, 0.0, 0.0)  # inside the arrive radius: first waypoint reached
    assert patrol.index == 1 and patrol.progress == pytest.approx(0.5)
    patrol.update(15.0, 0.0, 0.0)
    assert patrol.progress == pytest.approx(0.75)
    patrol.update(19.9, 0.1, 0.0)
    assert patrol.done and patrol.progress == 1.0


def test_patrol_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one waypoint"):
        WaypointPatrol([])
    with pytest.raises(ValueError, match="laps must be >= 1"):
        WaypointPatrol(SQUARE, laps=0)
    with pytest.raises(ValueError, match="finite"):
        WaypointPatrol([(0.0, math.nan)])


# Movers on collision courses with an ego driving east along y = 0 at 1 m/s towards (60, 0).
COLLISION_COURSES = {
    "head_on": (40.0, 0.0, -1.5, 0.0),
    "crossing_from_right": (20.0, -20.0, 0.0, 1.0),
    "crossing_from_left": (20.0, 20.0, 0.0, -1.0),
    "oblique": (40.0, 12.0, -1.2, -0.6),
    "slow_ahead": (10.0, 0.0, 0.3, 0.0),
}


@pytest.mark.parametrize("name", list(COLLISION_COURSES))
def test_avoidance_keeps_the_mover_outside_the_safe_radius(name):
    params = PatrolParams()
    mover = COLLISION_COURSES[name]
    _, miss_blind = drive(WaypointPatrol([(60.0, 0.0)], params), Unicycle(), [mover], avoid=False)
    assert miss_blind < params.safe_radius_m  # really a collision course
    patrol = WaypointPatrol([(60.0, 0.0)], params)
    log, miss = drive(patrol, Unicycle(), [mover], avoid=True)
    assert miss > params.safe_radius_m
    assert any(r[5].avoiding for r in log)
    assert patrol.done  # and still gets there


def test_avoidance_among_many_movers_never_closer_than_the_safe_radius():
    params = PatrolParams()
    rng = np.random.default_rng(0)
    movers = [m for m in (np.r_[rng.uniform(-10, 70), rng.uniform(-30, 30), rng.uniform(-1.2, 1.2, 2)]
                          for _ in range(15)) if math.hypot(m[0], m[1]) > 6.0]
    _, miss_blind = drive(WaypointPatrol([(60.0, 0.0), (0.0, 0.0)], params), Unicycle(), movers, avoid=False,
                          t_max=300.0)
    patrol = WaypointPatrol([(60.0, 0.0), (0.0, 0.0)], params)
    _, miss = drive(patrol, Unicycle(), movers, avoid=True, t_max=300.0)
    assert miss_blind < params.safe_radius_m < miss
    assert patrol.done


def test_time_to_collision():
    r = 2.0
    ttc = time_to_collision(np.array([[10.0, 0.0], [10.0, 0.0], [10.0, 3.0], [1.0, 0.0], [1.0, 0.0]]),
                            np.array([[-2.0, 0.0], [2.0, 0.0], [-2.0, 0.0], [-1.0, 0.0], [1.0, 0.0]]), r)
    assert ttc[0] == pytest.approx(4.0)  # reaches distance 2 after 8 m at 2 m/s
    assert ttc[1] == math.inf  # receding
    assert ttc[2] == math.inf  # passes 3 m off
    assert ttc[3] == 0.0  # inside and closing
    assert ttc[4] == math.inf  # inside and opening


# ====================================================================== ship

N = 0.00113  # LEO mean motion [rad/s]


def cw_step(r, v, accel, dt, n=N):
    """RK4 step of the Clohessy-Wiltshire equations with a constant extra acceleration."""
    def f(s):
        return np.r_[s[3:], cw_acceleration(s[:3], s[3:], n) + accel]
    s = np.r_[r, v]
    k1 = f(s)
    k2 = f(s + dt / 2 * k1)
    k3 = f(s + dt / 2 * k2)
    k4 = f(s + dt * k3)
    s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s[:3], s[3:]


def test_cw_helper_matches_the_closed_form_solution():
    r0, v0, t = np.array([10.0, 0.0, 5.0]), np.array([0.0, 0.02, 0.01]), 1500.0
    r, v = r0, v0
    for _ in range(1500):
        r, v = cw_step(r, v, np.zeros(3), 1.0)
    nt, (x0, y0, z0), (vx0, vy0, vz0) = N * t, r0, v0
    x = (4 - 3 * math.cos(nt)) * x0 + math.sin(nt) / N * vx0 + 2 / N * (1 - math.cos(nt)) * vy0
    y = 6 * (math.sin(nt) - nt) * x0 + y0 - 2 / N * (1 - math.cos(nt)) * vx0 + (4 * math.sin(nt) - 3 * nt) / N * vy0
    z = z0 * math.cos(nt) + vz0 / N * math.sin(nt)
    assert r == pytest.approx([x, y, z], abs=1e-6)


def unit_quat(w, x, y, z):
    q = np.array([w, x, y, z], dtype=float)
    return q / np.linalg.norm(q)


_AXIS = np.array([1.0, 2.0, 3.0]) / math.sqrt(14.0)
# Body turned 150 deg from LVLH: a force left in the wrong frame points mostly the wrong way and diverges.
ATT = np.r_[math.cos(math.radians(75)), math.sin(math.radians(75)) * _AXIS]
PARAMS = StationParams(offset_lvlh_m=(0.0, -100.0, 0.0), mass_kg=500.0, inertia_kg_m2=(100.0, 120.0, 80.0),
                       mean_motion_radps=N, max_force_n=20.0, hold_s=60.0)


def fly_station(sk, r, v, t_max, dt=1.0, attitude=ATT, until_done=True):
    """Chaser state (r, v) relative to the target in LVLH; the target track is (-r, -v) from the chaser."""
    rot = quat_to_matrix(attitude)
    t, dv = 0.0, 0.0
    while t < t_max:
        cmd = sk.update(t, -r, -v, attitude, omega_body=np.zeros(3))
        assert np.linalg.norm(cmd.force_body) <= sk.params.max_force_n + 1e-9
        accel = rot @ cmd.force_body / sk.params.mass_kg
        dv += np.linalg.norm(accel) * dt
        r, v = cw_step(r, v, accel, dt)
        t += dt
        if until_done and sk.done:
            break
    return r, v, t, dv


def test_station_keeping_converges_to_the_lvlh_offset_under_cw_dynamics():
    sk = StationKeeping(PARAMS)
    r0, v0 = np.array([30.0, -160.0, 10.0]), np.array([0.05, 0.1, -0.02])
    offset = np.array(PARAMS.offset_lvlh_m)
    r, v, t, _ = fly_station(sk, r0, v0, 3000.0)
    assert sk.done and sk.progress == 1.0
    assert t < 1000.0
    assert np.linalg.norm(r - offset) < PARAMS.pos_tol_m and np.linalg.norm(v) < PARAMS.vel_tol_mps
    # and it keeps station for an orbit-fraction afterwards
    r, v, _, _ = fly_station(sk, r, v, 2000.0, until_done=False)
    assert np.linalg.norm(r - offset) < 0.05
    # without control, the same start drifts far away (the test is not trivially satisfied)
    r_free, v_free = r0, v0
    for _ in range(1000):
        r_free, v_free = cw_step(r_free, v_free, np.zeros(3), 1.0)
    assert np.linalg.norm(r_free - offset) > 100.0


def test_station_keeping_progress_rises_then_holds():
    sk = StationKeeping(PARAMS)
    assert sk.progress == 0.0 and not sk.done
    r, v = np.array([30.0, -160.0, 10.0]), np.zeros(3)
    history = []
    for step in range(300):
        cmd = sk.update(float(step), -r, -v, ATT, np.zeros(3))
        r, v = cw_step(r, v, quat_to_matrix(ATT) @ cmd.force_body / PARAMS.mass_kg, 1.0)
        history.append((sk.progress, sk.done))
    prog = [p for p, _ in history]
    assert prog[0] < 0.05 and 0.2 < prog[60] < 0.5 and prog[-1] == 1.0
    first_done = next(i for i, (_, d) in enumerate(history) if d)
    assert prog[first_done - int(PARAMS.hold_s) - 1] <= 0.5 + 1e-9  # hold phase is the second half


def test_station_keeping_without_hold_never_done():
    sk = StationKeeping(PARAMS.model_copy(update={"hold_s": None}))
    fly_station(sk, np.array([0.0, -110.0, 0.0]), np.zeros(3), 1500.0)
    assert not sk.done and sk.progress == pytest.approx(1.0)


def rigid_body_step(q, omega, torque, inertia, dt):
    omega = omega + dt * (torque - np.cross(omega, inertia * omega)) / inertia
    q = quat_multiply(q, np.r_[math.cos(np.linalg.norm(omega) * dt / 2),
                              math.sin(np.linalg.norm(omega) * dt / 2) * omega / max(np.linalg.norm(omega), 1e-12)])
    return q / np.linalg.norm(q), omega


@pytest.mark.parametrize("use_rate", [True, False])
def test_attitude_hold_brings_the_body_to_the_target_attitude(use_rate):
    target = unit_quat(1.0, 0.0, 0.0, 0.3)
    sk = StationKeeping(PARAMS.model_copy(update={"attitude_target": tuple(target)}))
    inertia = np.array(PARAMS.inertia_kg_m2)
    q, omega, dt = unit_quat(0.5, 0.5, -0.4, 0.6), np.array([0.05, -0.02, 0.03]), 0.1
    for k in range(600):
        cmd = sk.update(k * dt, [0.0, 100.0, 0.0], np.zeros(3), q, omega if use_rate else None)
        assert np.linalg.norm(cmd.torque_body) <= PARAMS.max_torque_nm + 1e-9
        q, omega = rigid_body_step(q, omega, cmd.torque_body, inertia, dt)
    angle = 2 * math.acos(min(1.0, abs(float(np.dot(q, target)))))
    assert angle < math.radians(0.5) and np.linalg.norm(omega) < 1e-3


def test_avoidance_burn_pushes_the_closest_approach_out_and_is_perpendicular():
    radius = 50.0
    for rel_pos, rel_vel in [([400.0, 0.0, 0.0], [-2.0, 0.0, 0.0]),          # dead head-on
                             ([300.0, 20.0, -5.0], [-1.5, 0.0, 0.0]),       # 20.6 m miss
                             ([0.0, 200.0, 30.0], [0.1, -1.0, -0.2])]:
        p, v = np.array(rel_pos), np.array(rel_vel)
        burn = avoidance_burn(p, v, radius, margin=1.5, max_dv_mps=5.0)
        t0, d0 = closest_approach([0, 0, 0], [0, 0, 0], [np.r_[p, v]])
        assert burn.dcpa_m == pytest.approx(d0[0]) and burn.tcpa_s == pytest.approx(t0[0]) and d0[0] < radius
        assert np.linalg.norm(burn.direction_lvlh) == pytest.approx(1.0)
        assert abs(burn.direction_lvlh @ v) < 1e-9  # widens the miss, does not change its time
        _, d1 = closest_approach([0, 0, 0], burn.delta_v_lvlh, [np.r_[p, v]])  # ego after the impulse
        assert d1[0] == pytest.approx(1.5 * radius)  # enough, and no more
    clipped = avoidance_burn([100.0, 0.0, 0.0], [-5.0, 0.0, 0.0], radius, max_dv_mps=0.5)
    assert clipped.delta_v_mps == 0.5
    far = avoidance_burn([0.0, 300.0, 0.0], [0.0, -1.0, 0.0 + 0.5], 50.0)
    assert far.delta_v_mps == 0.0  # already misses by more than margin * radius


def test_avoid_command_accelerates_along_the_burn_in_lvlh():
    sk = StationKeeping(PARAMS)
    threat = Threat(id=7, index=0, tcpa_s=100.0, dcpa_m=10.0, radius_m=50.0,
                    rel_pos=np.array([200.0, 10.0, 0.0]), rel_vel=np.array([-2.0, 0.0, 0.0]))
    burn = sk.avoidance_burn(threat)
    assert burn.direction_lvlh == pytest.approx([0.0, -1.0, 0.0])  # away from where it will pass
    cmd = sk.avoid(0.0, threat, ATT, np.zeros(3))
    assert cmd.mode == "avoidance"
    force_lvlh = quat_to_matrix(ATT) @ cmd.force_body
    assert force_lvlh == pytest.approx(cmd.force_lvlh)
    assert force_lvlh / np.linalg.norm(force_lvlh) == pytest.approx(burn.direction_lvlh)
    assert np.linalg.norm(force_lvlh) == pytest.approx(min(PARAMS.max_force_n, PARAMS.mass_kg * burn.delta_v_mps
                                                          / PARAMS.avoid_burn_s))


# ====================================================================== rate limiter


def test_rate_limiter_limits_rate_and_clamps_bounds():
    lim = RateLimiter([1.0, 2.0], lower=[-0.5, -1.0], upper=[1.5, 1.0])
    out = lim.step([3.0, -3.0], 0.1)
    assert out == pytest.approx([0.1, -0.2])
    assert lim.report.clamped.tolist() == [True, True] and lim.report.rate_limited.tolist() == [True, True]
    assert lim.report and "clamped [0, 1]" in lim.report.reason
    for _ in range(30):
        out = lim.step([3.0, -3.0], 0.1)
    assert out == pytest.approx([1.5, -1.0])  # reached the bounds, never beyond
    out = lim.step([1.45, -0.95], 0.1)
    assert out == pytest.approx([1.45, -0.95]) and not lim.report and lim.report.reason == ""


def test_rate_limiter_non_finite_holds_and_dt_zero_freezes():
    lim = RateLimiter(1.0, -1.0, 1.0, initial=0.5)
    assert lim.step(math.nan, 0.1) == pytest.approx([0.5]) and lim.report.non_finite.tolist() == [True]
    assert lim.step(-1.0, 0.0) == pytest.approx([0.5])
    with pytest.raises(ValueError):
        lim.step(0.0, -0.1)
    with pytest.raises(ValueError):
        RateLimiter([1.0, 0.0], -1.0, 1.0)
    with pytest.raises(ValueError):
        RateLimiter(1.0, 1.0, -1.0)
    lim.reset(5.0)
    assert lim.output == pytest.approx([1.0])  # reset is clamped too


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10), st.floats(0.0, 0.5)), min_size=1, max_size=40))
def test_rate_limiter_output_always_bounded_in_value_and_rate(steps):
    rate, lo, hi = np.array([1.5, 3.0]), np.array([-0.5, -1.5]), np.array([2.0, 1.5])
    lim = RateLimiter(rate, lo, hi)
    prev = lim.output
    for a, b, dt in steps:
        out = lim.step([a, b], dt)
        assert np.all(out >= lo - 1e-12) and np.all(out <= hi + 1e-12)
        assert np.all(np.abs(out - prev) <= rate * dt + 1e-12)
        target = np.clip([a, b], lo, hi)
        reached = np.abs(target - prev) <= rate * dt
        assert np.allclose(out[reached], target[reached])
        prev = out
