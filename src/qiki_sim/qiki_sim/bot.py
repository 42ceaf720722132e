"""Differential-drive ground robot: wheel limits, exact unicycle integration, battery drain.

Frame: map ENU (x east, y north), yaw CCW from +x (REP-103). Body: x forward, y left.
Pure numpy, deterministic: the same commands and steps give the same states.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qiki_description.vehicle import BotParams
from qiki_geometry.angles import wrap_angle


@dataclass(frozen=True)
class BotState:
    """Snapshot of the robot: pose in map, body twist, battery, wheel speeds."""

    x: float  # [m] east
    y: float  # [m] north
    yaw: float  # [rad] CCW from +x, in (-pi, pi]
    v: float  # [m/s] body forward speed
    w: float  # [rad/s] body yaw rate
    battery_soc: float  # state of charge [0..1]
    wheel_left_radps: float
    wheel_right_radps: float

    @property
    def velocity_world(self) -> tuple[float, float]:
        """Linear velocity in the map frame [m/s]."""
        return self.v * math.cos(self.yaw), self.v * math.sin(self.yaw)


@dataclass(frozen=True)
class ClampReport:
    """What the last command asked for and what the wheel speed limit let through; truthy when clamped."""

    clamped: bool
    v_requested: float
    w_requested: float
    v_applied: float
    w_applied: float
    reason: str = ""

    def __bool__(self) -> bool:
        return self.clamped


def body_to_wheels(v: float, w: float, p: BotParams) -> tuple[float, float]:
    """Body twist (v, w) -> wheel speeds (left, right) [rad/s]."""
    half = 0.5 * p.wheel_base_m
    return (v - w * half) / p.wheel_radius_m, (v + w * half) / p.wheel_radius_m


def wheels_to_body(wl: float, wr: float, p: BotParams) -> tuple[float, float]:
    """Wheel speeds (left, right) [rad/s] -> body twist (v, w)."""
    r = p.wheel_radius_m
    return 0.5 * r * (wl + wr), r * (wr - wl) / p.wheel_base_m


def integrate_arc(x: float, y: float, yaw: float, v: float, w: float, dt: float) -> tuple[float, float, float]:
    """Exact unicycle motion at constant (v, w) for dt: move along the chord of the arc.

    The chord has length v*dt*sin(h)/h with h = w*dt/2 and points along yaw + h; this is
    exact for any w, including w -> 0 (straight line), so circles close without drift.
    """
    h = 0.5 * w * dt
    chord = v * dt * float(np.sinc(h / math.pi))
    heading = yaw + h
    return x + chord * math.cos(heading), y + chord * math.sin(heading), wrap_angle(yaw + w * dt)


class DiffDriveBot:
    """Differential-drive robot driven by body velocity commands."""

    def __init__(self, params: BotParams, x: float = 0.0, y: float = 0.0, yaw: float = 0.0,
                 battery_soc: float = 1.0) -> None:
        self.params = params
        self._x, self._y, self._yaw = float(x), float(y), wrap_angle(float(yaw))
        self._soc = float(np.clip(battery_soc, 0.0, 1.0))
        self._wl = self._wr = 0.0  # current wheel speeds [rad/s]
        self._target = (0.0, 0.0)  # wheel speeds the last command asks for, after the speed limit
        self._report = ClampReport(False, 0.0, 0.0, 0.0, 0.0)

    def command(self, v: float, w: float) -> ClampReport:
        """Store a body velocity command (v [m/s], w [rad/s]); clamp it to the wheel speed limit.

        Both wheel speeds are scaled by the same factor so the commanded turn radius is kept.
        Non-finite commands are replaced by a stop. Returns the clamp report.
        """
        p = self.params
        v_req, w_req = float(v), float(w)
        if not (math.isfinite(v_req) and math.isfinite(w_req)):
            self._target = (0.0, 0.0)
            self._report = ClampReport(True, v_req, w_req, 0.0, 0.0, "non-finite command replaced by stop")
            return self._report
        wl, wr = body_to_wheels(v_req, w_req, p)
        peak = max(abs(wl), abs(wr))
        reason = ""
        if not math.isfinite(peak):  # finite but huge (v, w) overflow: clamp the direction, not inf * 0
            big = max(abs(v_req), abs(w_req))
            wl, wr = body_to_wheels(v_req / big, w_req / big, p)
        if peak > p.max_wheel_speed_radps:
            scale = p.max_wheel_speed_radps / max(abs(wl), abs(wr))
            wl, wr = wl * scale, wr * scale
            reason = f"wheel speed {peak:.2f} rad/s exceeds limit {p.max_wheel_speed_radps:.2f} rad/s"
        self._target = (wl, wr)
        v_app, w_app = wheels_to_body(wl, wr, p)
        self._report = ClampReport(bool(reason), v_req, w_req, v_app, w_app, reason)
        return self._report

    def clamp_report(self) -> ClampReport:
        """Whether (and how) the last command was clamped; truthy when it was."""
        return self._report

    def step(self, dt: float) -> BotState:
        """Advance dt seconds: ramp wheels under the acceleration limit, move along the arc, drain battery.

        The twist over the step is the mean of the wheel speeds before and after the ramp, which is
        exact for a ramp that does not end mid-step. An empty battery stops the wheels.
        """
        if dt <= 0.0:
            return self.state
        p = self.params
        target_l, target_r = self._target if self._soc > 0.0 else (0.0, 0.0)
        max_dw = p.max_wheel_accel_radps2 * dt
        wl1 = self._wl + float(np.clip(target_l - self._wl, -max_dw, max_dw))
        wr1 = self._wr + float(np.clip(target_r - self._wr, -max_dw, max_dw))
        v, w = wheels_to_body(0.5 * (self._wl + wl1), 0.5 * (self._wr + wr1), p)
        self._x, self._y, self._yaw = integrate_arc(self._x, self._y, self._yaw, v, w, dt)
        rim_speed = 0.25 * p.wheel_radius_m * (abs(self._wl) + abs(wl1) + abs(self._wr) + abs(wr1))
        power_w = p.idle_power_w + p.drive_power_w_per_mps * rim_speed
        self._soc = max(0.0, self._soc - power_w * dt / 3600.0 / p.battery_capacity_wh)
        self._wl, self._wr = wl1, wr1
        return self.state

    @property
    def state(self) -> BotState:
        v, w = wheels_to_body(self._wl, self._wr, self.params)
        return BotState(self._x, self._y, self._yaw, v, w, self._soc, self._wl, self._wr)
