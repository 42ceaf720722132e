"""Missions: what the vehicle does in MISSION_ACTIVE (and how it dodges in ALERT).

* WaypointPatrol (bot): carrot-following (pure-pursuit style) along a waypoint polyline at a cruise
  speed, for N laps or forever, with sampling velocity-obstacle avoidance of moving obstacles.
  Output: body velocity command (v [m/s], w [rad/s]).
* StationKeeping (ship): hold an offset from a target in LVLH with a PD law plus Clohessy-Wiltshire
  feed-forward, and hold attitude with a quaternion PD law. Output: requested body force [N] and
  torque [N m] for the thrust allocator. `avoidance_burn` gives a delta-v away from a threat's
  closest-approach geometry.

* Observe (ship, e.g. a station): no manoeuvre at all; done after its duration (if any).

All expose `progress` in [0, 1] and `done`. The only state kept is what a mission must remember
(waypoint index and lap; initial error and time in tolerance); everything else is an input.

Frames. Bot: map ENU, yaw CCW from +x. Ship LVLH (Hill): x radial (away from the central body),
y along-track, z orbit normal; the ego is at the LVLH origin, so a target track's state is the
target relative to the ego. Quaternions are (w, x, y, z) and rotate body vectors into LVLH.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from qiki_agent.threat import Threat
from qiki_geometry.angles import wrap_angle
from qiki_geometry.quaternions import quat_conjugate, quat_multiply, quat_to_matrix


# ====================================================================== bot

class PatrolParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cruise_speed_mps: float = Field(1.0, gt=0)
    lookahead_m: float = Field(3.0, gt=0, description="carrot distance along the path")
    arrive_radius_m: float = Field(0.5, gt=0, description="a waypoint counts as reached inside this radius")
    slow_down_m: float = Field(2.0, ge=0, description="ramp the speed down over this distance to the final waypoint")
    min_speed_mps: float = Field(0.2, gt=0, description="floor of the final-approach speed ramp")
    heading_gain: float = Field(2.5, gt=0, description="yaw rate per rad of heading error [1/s]")
    max_w_radps: float = Field(1.5, gt=0)
    # --- avoidance (sampling velocity obstacle)
    safe_radius_m: float = Field(2.0, gt=0, description="keep obstacle centres at least this far (both radii + margin)")
    avoid_margin_m: float = Field(0.5, ge=0, description="plan for safe_radius_m + this, so noise does not cut in")
    horizon_s: float = Field(10.0, gt=0, description="ignore collisions further ahead than this")
    collision_weight_m: float = Field(4.0, gt=0, description="cost of a candidate = |u - u_pref| + weight / ttc")
    heading_samples: int = Field(72, ge=8, description="candidate headings around the full circle")
    speed_fractions: tuple[float, ...] = Field((1.0, 0.7, 0.4, 0.0), min_length=1)
    port_penalty_mps: float = Field(0.3, ge=0, description="cost of turning left of the preferred heading: "
                                    "pass obstacles on the right unless left is much cheaper (no dithering)")


@dataclass(frozen=True)
class BotCommand:
    v: float  # [m/s] body forward
    w: float  # [rad/s] yaw rate
    avoiding: bool  # avoidance changed the preferred velocity
    target_index: int  # waypoint being approached (-1 when done)
    velocity_world: tuple[float, float]  # velocity the command is steering towards [m/s]


class WaypointPatrol:
    """Follow `waypoints` [(x, y), ...] `laps` times (None: forever). Done after the last waypoint of
    the last lap is reached; then update() returns a stop."""

    def __init__(self, waypoints: Sequence[Sequence[float]], params: Optional[PatrolParams] = None,
                 laps: Optional[int] = 1) -> None:
        self.waypoints = np.asarray(waypoints, dtype=float).reshape(-1, 2)
        if len(self.waypoints) == 0:
            raise ValueError("WaypointPatrol needs at least one waypoint")
        if not np.all(np.isfinite(self.waypoints)):
            raise ValueError("waypoints must be finite")
        if laps is not None and laps < 1:
            raise ValueError(f"laps must be >= 1 or None (forever), got {laps}")
        self.params = params or PatrolParams()
        self.laps = laps
        self.reset()

    def reset(self) -> None:
        self.index = 0  # waypoint being approached
        self.lap = 0  # completed laps
        self.done = False
        self._seg_start: Optional[np.ndarray] = None  # start of the current path segment
        self._last_pos: Optional[np.ndarray] = None

    # -- progress
    @property
    def progress(self) -> float:
        """Waypoints reached (plus the fraction of the current leg) over all waypoints of all laps;
        when patrolling forever, over the current lap. 1.0 once done."""
        if self.done:
            return 1.0
        n = len(self.waypoints)
        partial = 0.0
        if self._seg_start is not None and self._last_pos is not None:
            target = self.waypoints[self.index]
            leg = float(np.linalg.norm(target - self._seg_start))
            if leg > 1e-9:
                partial = float(np.clip(1.0 - np.linalg.norm(target - self._last_pos) / leg, 0.0, 1.0))
        if self.laps is None:
            return min((self.index + partial) / n, 1.0)
        return min((self.lap * n + self.index + partial) / (self.laps * n), 1.0)

    @property
    def final_leg(self) -> bool:
        """Approaching the last waypoint of the last lap (a single waypoint is one lap whatever `laps`)."""
        n = len(self.waypoints)
        return self.laps is not None and self.index == n - 1 and (self.lap == self.laps - 1 or n == 1)

    # -- control
    def update(self, x: float, y: float, yaw: float, obstacles=None) -> BotCommand:
        """Command for the current pose. obstacles: (K, 6) world states [x, y, z, vx, vy, vz] of movers to
        avoid (e.g. the threat tracks; z ignored), or None for no avoidance."""
        p = self.params
        pos = np.array([x, y], dtype=float)
        if self._seg_start is None:
            self._seg_start = pos.copy()
        self._last_pos = pos
        self._advance(pos)
        if self.done:
            return BotCommand(0.0, 0.0, False, -1, (0.0, 0.0))
        target = self.waypoints[self.index]
        carrot = self._carrot(pos, target)
        to_carrot = carrot - pos
        dist_c = float(np.linalg.norm(to_carrot))
        speed_pref = p.cruise_speed_mps
        if self.final_leg and p.slow_down_m > 0:
            dist_t = float(np.linalg.norm(target - pos))
            speed_pref = float(np.clip(p.cruise_speed_mps * dist_t / p.slow_down_m, p.min_speed_mps,
                                       p.cruise_speed_mps))
        u_pref = to_carrot / dist_c * speed_pref if dist_c > 1e-9 else np.zeros(2)
        u, avoiding = u_pref, False
        if obstacles is not None and np.size(obstacles):
            u = choose_velocity(pos, yaw, u_pref, np.asarray(obstacles, dtype=float).reshape(-1, 6), p)
            avoiding = bool(np.linalg.norm(u - u_pref) > 1e-6)
        v, w = self._track(u, yaw)
        return BotCommand(v, w, avoiding, self.index, (float(u[0]), float(u[1])))

    def _advance(self, pos: np.ndarray) -> None:
        n = len(self.waypoints)
        while not self.done and np.linalg.norm(self.waypoints[self.index] - pos) < self.params.arrive_radius_m:
            if self.final_leg:
                self.done = True
                return
            if n == 1:  # a single waypoint patrolled forever: hold it
                return
            self._seg_start = self.waypoints[self.index].copy()
            self.index += 1
            if self.index == n:
                self.index = 0
                self.lap += 1

    def _carrot(self, pos: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Point lookahead_m along the segment beyond the projection of pos, clipped to the target."""
        a = self._seg_start
        seg = target - a
        length = float(np.linalg.norm(seg))
        if length < 1e-9:
            return target
        d = seg / length
        s = float(np.clip(np.dot(pos - a, d), 0.0, length))
        return a + d * min(s + self.params.lookahead_m, length)

    def _track(self, u: np.ndarray, yaw: float) -> tuple[float, float]:
        """Unicycle command steering the heading towards u and driving at |u| scaled by cos(error)."""
        p = self.params
        speed = float(np.linalg.norm(u))
        if speed < 1e-9:
            return 0.0, 0.0
        err = float(wrap_angle(math.atan2(u[1], u[0]) - yaw))
        w = float(np.clip(p.heading_gain * err, -p.max_w_radps, p.max_w_radps))
        v = speed * max(math.cos(err), 0.0)
        return v, w


def time_to_collision(rel_pos: np.ndarray, rel_vel: np.ndarray, radius: float) -> np.ndarray:
    """Earliest t >= 0 with |rel_pos + rel_vel t| <= radius, broadcast over leading axes; inf if never.
    Already inside the radius: 0 if closing, inf if opening."""
    a = np.einsum("...i,...i->...", rel_vel, rel_vel)
    b = np.einsum("...i,...i->...", rel_pos, rel_vel)
    c = np.einsum("...i,...i->...", rel_pos, rel_pos) - radius * radius
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    ttc = np.where((disc >= 0) & (b < 0) & (a > 1e-12), np.maximum(t, 0.0), np.inf)
    return np.where(c <= 0, np.where(b < 0, 0.0, np.inf), ttc)


def choose_velocity(pos: np.ndarray, yaw: float, u_pref: np.ndarray, obstacles: np.ndarray,
                    p: PatrolParams) -> np.ndarray:
    """Sampling velocity obstacle: among candidate world velocities (the preferred one, and headings
    around the circle at fractions of the cruise speed), pick the one minimising
    |u - u_pref| + collision_weight / ttc (ttc within the horizon, radius safe_radius + margin), plus
    port_penalty for headings left of the preferred one (pass on the right, like COLREG rule 14)."""
    headings = np.linspace(-math.pi, math.pi, p.heading_samples, endpoint=False)
    speeds = p.cruise_speed_mps * np.asarray(p.speed_fractions, dtype=float)
    cands = np.concatenate([u_pref[None, :], (speeds[:, None, None] * np.stack(
        [np.cos(headings), np.sin(headings)], axis=-1)[None]).reshape(-1, 2)])
    rel_pos = obstacles[:, :2] - pos  # (K, 2)
    rel_vel = obstacles[None, :, 3:5] - cands[:, None, :]  # (C, K, 2)
    ttc = time_to_collision(np.broadcast_to(rel_pos, rel_vel.shape), rel_vel, p.safe_radius_m + p.avoid_margin_m)
    worst = ttc.min(axis=1)  # (C,)
    with np.errstate(divide="ignore"):
        penalty = np.where(worst < p.horizon_s, p.collision_weight_m / np.maximum(worst, 1e-3), 0.0)
    cost = np.linalg.norm(cands - u_pref, axis=1) + penalty
    pref_heading = math.atan2(u_pref[1], u_pref[0]) if np.linalg.norm(u_pref) > 1e-9 else yaw
    turn = wrap_angle(np.arctan2(cands[:, 1], cands[:, 0]) - pref_heading)
    moving = np.linalg.norm(cands, axis=1) > 1e-9
    cost = cost + np.where(moving & (turn > 1e-6), p.port_penalty_mps, 0.0)
    return cands[int(np.argmin(cost))]


# ====================================================================== ship

def cw_acceleration(rel_pos, rel_vel, n: float) -> np.ndarray:
    """Natural (unforced) Clohessy-Wiltshire acceleration of a chaser at rel_pos/rel_vel from the target
    in the target's LVLH (x radial, y along-track, z normal), mean motion n [rad/s]."""
    x, _, z = rel_pos
    vx, vy, _ = rel_vel
    return np.array([3 * n * n * x + 2 * n * vy, -2 * n * vx, -n * n * z])


class StationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offset_lvlh_m: tuple[float, float, float] = Field(description="where to hold, chaser minus target, LVLH")
    mass_kg: float = Field(gt=0)
    inertia_kg_m2: tuple[float, float, float] = Field(description="principal moments, body axes")
    mean_motion_radps: float = Field(0.00113, ge=0, description="orbit rate for CW feed-forward (0 = off)")
    bandwidth_radps: float = Field(0.05, gt=0, description="translation loop natural frequency")
    damping: float = Field(1.0, gt=0)
    max_force_n: float = Field(20.0, gt=0, description="force vector magnitude limit (direction kept)")
    att_bandwidth_radps: float = Field(0.5, gt=0)
    att_damping: float = Field(1.0, gt=0)
    max_torque_nm: float = Field(5.0, gt=0)
    attitude_target: tuple[float, float, float, float] = Field((1.0, 0.0, 0.0, 0.0), description="(w,x,y,z) in LVLH")
    pos_tol_m: float = Field(0.5, gt=0)
    vel_tol_mps: float = Field(0.02, gt=0)
    hold_s: Optional[float] = Field(None, ge=0, description="done after this long in tolerance; None = never")
    avoid_margin: float = Field(1.5, ge=1.0, description="aim the burn for margin * threat radius")
    max_avoid_dv_mps: float = Field(1.0, gt=0)
    avoid_burn_s: float = Field(5.0, gt=0, description="spread the avoidance delta-v over this long")


@dataclass(frozen=True)
class ShipCommand:
    force_body: np.ndarray  # (3,) [N] requested, for ThrustAllocator.allocate
    torque_body: np.ndarray  # (3,) [N m] requested
    force_lvlh: np.ndarray  # (3,) [N] the same force in LVLH
    force_saturated: bool  # force magnitude was limited to max_force_n
    torque_saturated: bool  # torque magnitude was limited to max_torque_nm
    mode: str  # "station_keeping" or "avoidance"


@dataclass(frozen=True)
class AvoidanceBurn:
    direction_lvlh: np.ndarray  # (3,) unit vector the ego should accelerate along
    delta_v_mps: float  # magnitude needed to reach margin * radius at closest approach (clipped)
    tcpa_s: float
    dcpa_m: float  # miss distance without the burn

    @property
    def delta_v_lvlh(self) -> np.ndarray:
        return self.direction_lvlh * self.delta_v_mps


def avoidance_burn(rel_pos, rel_vel, radius_m: float, margin: float = 1.5, max_dv_mps: float = 1.0) -> AvoidanceBurn:
    """Impulsive delta-v for the ego that moves the closest approach of a threat (rel_pos/rel_vel: threat
    minus ego) out to margin * radius_m (exactly, unless clipped to max_dv_mps). The direction is away
    from the threat's position at closest approach, perpendicular to the relative velocity, the
    cheapest way to widen the miss distance. Head-on (miss distance ~ 0): the direction perpendicular to the
    relative velocity closest to the LVLH axis least aligned with it."""
    p = np.asarray(rel_pos, dtype=float).reshape(3)
    v = np.asarray(rel_vel, dtype=float).reshape(3)
    v2 = float(v @ v)
    tcpa = max(0.0, -float(p @ v) / v2) if v2 > 1e-12 else 0.0
    r_cpa = p + v * tcpa
    dcpa = float(np.linalg.norm(r_cpa))
    goal = margin * radius_m
    if dcpa > 1e-6 * max(goal, 1.0):
        direction = -r_cpa / dcpa
    else:
        ref = v if v2 > 1e-12 else p
        axis = np.eye(3)[int(np.argmin(np.abs(ref)))]
        perp = axis - (axis @ ref) / max(ref @ ref, 1e-300) * ref
        direction = perp / np.linalg.norm(perp)
    # In the plane of v and r_cpa the threat is at (-A, R) [along v, along r_cpa], moving (s, 0); the
    # ego's burn adds (0, dv) to the threat's relative velocity. The miss distance becomes
    # (A dv + R s) / sqrt(s^2 + dv^2), which equals `goal` when the relative velocity is tangent to the
    # circle of radius goal.
    s = math.sqrt(v2)
    along = s * tcpa  # A: distance to go along the relative velocity
    if dcpa >= goal:
        dv = 0.0
    elif tcpa > 1e-9 and along > goal * (1 + 1e-9):
        dv = s * (goal * math.sqrt(along ** 2 + dcpa ** 2 - goal ** 2) - along * dcpa) / (along ** 2 - goal ** 2)
    else:  # too close to turn the relative velocity past the circle, or receding inside it: all we have
        dv = max_dv_mps
    return AvoidanceBurn(direction, float(min(dv, max_dv_mps)), tcpa, dcpa)


class StationKeeping:
    """Hold `offset_lvlh_m` from a target and hold `attitude_target`.

    update() takes the target's LVLH state relative to the ego (its track state, the ego being the LVLH
    origin), the ego attitude and body rate, and returns the requested body force and torque.
    """

    def __init__(self, params: StationParams) -> None:
        self.params = params
        p = params
        self.kp, self.kd = p.bandwidth_radps ** 2, 2.0 * p.damping * p.bandwidth_radps
        self.att_kp, self.att_kd = p.att_bandwidth_radps ** 2, 2.0 * p.att_damping * p.att_bandwidth_radps
        self.reset()

    def reset(self) -> None:
        self._initial_error: Optional[float] = None
        self._error = math.inf
        self._in_tol_since: Optional[float] = None
        self._held_s = 0.0
        self._prev_att: Optional[tuple[float, np.ndarray]] = None

    # -- progress
    @property
    def position_error_m(self) -> float:
        return self._error

    @property
    def progress(self) -> float:
        """Approach (initial error -> tolerance) in [0, 1]; with hold_s > 0 the first half is the
        approach and the second half the time held in tolerance."""
        p = self.params
        if self._initial_error is None:
            return 0.0
        span = self._initial_error - p.pos_tol_m
        approach = 1.0 if span <= 0 else float(np.clip((self._initial_error - self._error) / span, 0.0, 1.0))
        if self._in_tol_since is not None:
            approach = 1.0
        if not p.hold_s:  # None (hold forever) or 0 (done on arrival)
            return approach
        return 0.5 * approach + 0.5 * min(self._held_s / p.hold_s, 1.0)

    @property
    def done(self) -> bool:
        p = self.params
        return p.hold_s is not None and self._in_tol_since is not None and self._held_s >= p.hold_s

    # -- control
    def update(self, now_s: float, target_rel_pos, target_rel_vel, attitude, omega_body=None) -> ShipCommand:
        """Station-keeping command. target_rel_*: target minus ego in LVLH [m], [m/s]. attitude: ego
        (w, x, y, z) body -> LVLH. omega_body: body rate relative to LVLH [rad/s]; None = estimated from
        the attitude of the previous call."""
        p = self.params
        chaser_pos = -np.asarray(target_rel_pos, dtype=float).reshape(3)
        chaser_vel = -np.asarray(target_rel_vel, dtype=float).reshape(3)
        err = chaser_pos - np.asarray(p.offset_lvlh_m)
        self._track_progress(now_s, err, chaser_vel)
        accel = -self.kp * err - self.kd * chaser_vel - cw_acceleration(chaser_pos, chaser_vel, p.mean_motion_radps)
        return self._command(now_s, p.mass_kg * accel, attitude, omega_body, "station_keeping")

    def avoidance_burn(self, threat: Threat) -> AvoidanceBurn:
        """Delta-v away from a threat's closest-approach geometry (see module function avoidance_burn)."""
        p = self.params
        return avoidance_burn(threat.rel_pos, threat.rel_vel, threat.radius_m, p.avoid_margin, p.max_avoid_dv_mps)

    def avoid(self, now_s: float, threat: Threat, attitude, omega_body=None) -> ShipCommand:
        """Command realising avoidance_burn(threat) over avoid_burn_s (force limited), attitude held."""
        burn = self.avoidance_burn(threat)
        force = self.params.mass_kg * burn.delta_v_lvlh / self.params.avoid_burn_s
        return self._command(now_s, force, attitude, omega_body, "avoidance")

    def _track_progress(self, now_s: float, err: np.ndarray, vel: np.ndarray) -> None:
        p = self.params
        self._error = float(np.linalg.norm(err))
        if self._initial_error is None:
            self._initial_error = self._error
        if self._error < p.pos_tol_m and float(np.linalg.norm(vel)) < p.vel_tol_mps:
            if self._in_tol_since is None:
                self._in_tol_since = now_s
            self._held_s = now_s - self._in_tol_since
        else:
            self._in_tol_since, self._held_s = None, 0.0

    def _command(self, now_s: float, force_lvlh: np.ndarray, attitude, omega_body, mode: str) -> ShipCommand:
        p = self.params
        q = np.asarray(attitude, dtype=float).reshape(4)
        q = q / np.linalg.norm(q)
        saturated = False
        mag = float(np.linalg.norm(force_lvlh))
        if mag > p.max_force_n:
            force_lvlh, saturated = force_lvlh * (p.max_force_n / mag), True
        force_body = quat_to_matrix(q).T @ force_lvlh
        torque, sat_t = self._attitude_torque(now_s, q, omega_body)
        return ShipCommand(force_body, torque, np.asarray(force_lvlh, dtype=float), saturated, sat_t, mode)

    def _attitude_torque(self, now_s: float, q: np.ndarray, omega_body) -> tuple[np.ndarray, bool]:
        p = self.params
        if omega_body is None:
            omega = np.zeros(3)
            if self._prev_att is not None and now_s > self._prev_att[0]:
                dq = quat_multiply(quat_conjugate(self._prev_att[1]), q)
                dq = dq if dq[0] >= 0 else -dq
                omega = 2.0 * dq[1:] / (now_s - self._prev_att[0])
        else:
            omega = np.asarray(omega_body, dtype=float).reshape(3)
        self._prev_att = (now_s, q)
        q_err = quat_multiply(quat_conjugate(np.asarray(p.attitude_target, dtype=float)
                                             / np.linalg.norm(p.attitude_target)), q)
        if q_err[0] < 0:  # shortest way round
            q_err = -q_err
        angle_vec = 2.0 * q_err[1:]  # ~ rotation vector for small errors, bounded for large ones
        inertia = np.asarray(p.inertia_kg_m2, dtype=float)
        torque = -inertia * (self.att_kp * angle_vec + self.att_kd * omega)
        mag = float(np.linalg.norm(torque))
        if mag > p.max_torque_nm:
            return torque * (p.max_torque_nm / mag), True
        return torque, False


class Observe:
    """Only watch: progress is the time observed over `duration_s` (0: forever, never done)."""

    def __init__(self, duration_s: float = 0.0) -> None:
        self.duration_s = duration_s
        self.reset()

    def reset(self) -> None:
        self._since: Optional[float] = None
        self._observed_s = 0.0

    def update(self, now_s: float) -> None:
        """One more tick of observing."""
        if self._since is None:
            self._since = now_s
        self._observed_s = now_s - self._since

    @property
    def progress(self) -> float:
        return min(self._observed_s / self.duration_s, 1.0) if self.duration_s else 0.0

    @property
    def done(self) -> bool:
        return bool(self.duration_s) and self._observed_s >= self.duration_s
