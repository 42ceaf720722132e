"""DiffDriveBot: kinematics, exact arc integration, limits, battery."""
import math

import pytest

from qiki_sim.bot import BotParams, DiffDriveBot

# Acceleration high enough that the ramp takes one step, so kinematic checks are exact.
FAST = BotParams(max_wheel_accel_radps2=1e6)


def run(bot, v, w, seconds, dt=0.05):
    bot.command(v, w)
    for _ in range(round(seconds / dt)):
        bot.step(dt)
    return bot.state


def test_straight_line_reaches_commanded_distance():
    bot = DiffDriveBot(FAST, x=1.0, y=2.0, yaw=math.pi / 2)
    bot.command(1.0, 0.0)
    bot.step(0.05)  # ramp: mean speed 0.5 m/s over the first step
    s = run(bot, 1.0, 0.0, 10.0)
    assert s.v == pytest.approx(1.0)
    assert s.x == pytest.approx(1.0, abs=1e-9)
    assert s.y == pytest.approx(2.0 + 0.025 + 10.0, abs=1e-9)


def test_pure_rotation_turns_by_w_t():
    bot = DiffDriveBot(FAST)
    bot.command(0.0, 0.5)
    bot.step(0.05)  # ramp step turns 0.5 * 0.5 * 0.05
    s = run(bot, 0.0, 0.5, 2.0)
    assert s.yaw == pytest.approx(0.0125 + 1.0, abs=1e-12)
    assert (s.x, s.y) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_arc_integration_closes_the_circle():
    bot = DiffDriveBot(FAST)
    bot.command(1.0, 0.5)
    bot.step(1e-3)  # reach speed within a short step
    x0, y0, yaw0 = bot.state.x, bot.state.y, bot.state.yaw
    period = 2 * math.pi / 0.5
    n = 100  # coarse steps: Euler would miss by metres, the arc is exact
    for _ in range(n):
        bot.step(period / n)
    s = bot.state
    assert math.hypot(s.x - x0, s.y - y0) < 1e-9
    assert abs(math.remainder(s.yaw - yaw0, 2 * math.pi)) < 1e-9
    # Half a lap later the robot is a diameter (2 v / w = 4 m) away, to the left.
    for _ in range(n // 2):
        bot.step(period / n)
    s = bot.state
    assert (s.x, s.y) == pytest.approx((x0 - 4.0 * math.sin(yaw0), y0 + 4.0 * math.cos(yaw0)), abs=1e-9)


def test_wheel_speed_limit_clamps_and_reports():
    p = BotParams()
    bot = DiffDriveBot(p)
    top = p.max_wheel_speed_radps * p.wheel_radius_m
    report = bot.command(10.0, 1.0)
    assert report and bot.clamp_report().clamped
    assert report.v_applied < top + 1e-12 and report.v_applied > 0
    assert report.w_applied / report.v_applied == pytest.approx(0.1)  # turn radius kept
    s = run(bot, 10.0, 1.0, 5.0)
    assert max(abs(s.wheel_left_radps), abs(s.wheel_right_radps)) == pytest.approx(p.max_wheel_speed_radps)
    assert not bot.command(0.5, 0.0)
    assert bot.command(float("nan"), 0.0).v_applied == 0.0


def test_acceleration_limit_ramps_speed():
    p = BotParams(max_wheel_accel_radps2=10.0)  # 1 m/s^2 at the rim
    bot = DiffDriveBot(p)
    bot.command(1.5, 0.0)
    speeds = [bot.step(0.1).v for _ in range(20)]
    assert speeds[0] == pytest.approx(0.1)
    assert speeds[4] == pytest.approx(0.5)
    assert all(b >= a for a, b in zip(speeds, speeds[1:]))
    assert speeds[-1] == pytest.approx(1.5)


def test_battery_drains_more_when_driving():
    idle, driving = DiffDriveBot(), DiffDriveBot()
    a = run(idle, 0.0, 0.0, 60.0)
    b = run(driving, 1.5, 0.0, 60.0)
    p = BotParams()
    assert a.battery_soc == pytest.approx(1.0 - p.idle_power_w * 60 / 3600 / p.battery_capacity_wh)
    assert b.battery_soc < a.battery_soc < 1.0


def test_empty_battery_stops_the_robot():
    bot = DiffDriveBot(FAST, battery_soc=0.0)
    s = run(bot, 1.0, 0.0, 1.0)
    assert s.v == 0.0 and s.x == 0.0


def test_deterministic():
    def trace():
        bot = DiffDriveBot()
        out = []
        for k in range(200):
            bot.command(1.0 + 0.5 * math.sin(k / 10), 0.3 * math.cos(k / 7))
            out.append(bot.step(0.05))
        return out
    assert trace() == trace()
