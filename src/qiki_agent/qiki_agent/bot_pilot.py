"""The ground bot's pilot: waypoint patrol around obstacles, evasion when no mission runs, every (v, w) through
the drive's rate limiter. Everything is in the `map` frame; threats are assessed in the plane."""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from qiki_agent.ego_state import EgoState
from qiki_agent.mission_file import PatrolMission
from qiki_agent.missions import PatrolParams, WaypointPatrol, choose_velocity, wrap_angle
from qiki_agent.pilot import Command, announce_avoidance
from qiki_agent.rate_limiter import RateLimiter
from qiki_agent.threat import ThreatParams, ThreatReport, closest_approach
from qiki_agent.warning_throttle import WarningThrottle
from qiki_description.vehicle import BotDescription
from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_ros.events import EventCode
from qiki_tracks.track_set import TrackSet


class BotPilot:
    """Patrol + rate limiter + evasion steering for a differential-drive bot."""

    profile = "bot"
    mission_name = "patrol"

    def __init__(self, description: BotDescription, spec: PatrolMission, threat: ThreatParams,
                 emit: Callable[[int, int, str], None], warnings: WarningThrottle) -> None:
        """threat: the rules' threat parameters (the patrol avoids what the rules call a threat)."""
        self.emit, self.warnings = emit, warnings
        bp = description.chassis
        v_max = bp.max_wheel_speed_radps * bp.wheel_radius_m  # straight line, both wheels at the limit
        a_max = bp.max_wheel_accel_radps2 * bp.wheel_radius_m
        # turning on the spot: w = 2 v_rim / wheel_base
        self.limiter = RateLimiter([a_max, 2.0 * a_max / bp.wheel_base_m], [-v_max, -2.0 * v_max / bp.wheel_base_m],
                                   [v_max, 2.0 * v_max / bp.wheel_base_m])
        # avoid what the rules call a threat: inside the safe radius, within the threat look-ahead
        params = PatrolParams(cruise_speed_mps=min(spec.cruise_speed_mps, v_max), safe_radius_m=threat.safe_radius_m,
                              horizon_s=max(PatrolParams().horizon_s, threat.tcpa_max_s))
        self.mission = WaypointPatrol(spec.waypoints, params, laps=spec.laps or None)
        self._announce = False  # set on entering ALERT; the 505 event goes out with the first command

    def on_ego(self, ego: EgoState) -> None:
        pass

    def threat_geometry(self, ego: Optional[EgoState], tracks: TrackSet) -> tuple[np.ndarray, np.ndarray, TrackSet]:
        """The map frame; no tracks to assess before the first vehicle state (none arrived, or all rejected)."""
        if ego is None:
            return np.zeros(3), np.zeros(3), TrackSet.empty()
        return ego.position, ego.velocity_world, tracks

    def mission_started(self) -> str:
        return f"{len(self.mission.waypoints)} waypoint(s) x {self.mission.laps or 'endless'} lap(s)"

    def mission_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, codes: np.ndarray,
                        threat_tracks: TrackSet) -> Command:
        bc = self.mission.update(ego.position[0], ego.position[1], ego.yaw, obstacles(tracks))
        what = "avoiding" if bc.avoiding else "on path"
        return self._drive(now_s, dt_s, bc.v, bc.w, f"MISSION_ACTIVE: patrol to waypoint {bc.target_index} ({what})")

    def start_avoidance(self) -> None:
        self._announce = True

    def avoidance_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, threat_tracks: TrackSet,
                          report: ThreatReport, mission_active: bool) -> Command:
        """The patrol with obstacles while a mission runs, else evasion (stand still unless something comes)."""
        threat, obs = report.most_urgent, obstacles(tracks)
        if mission_active:
            bc = self.mission.update(ego.position[0], ego.position[1], ego.yaw, obs)
            v, w, u, what = bc.v, bc.w, np.asarray(bc.velocity_world), "patrol with avoidance"
        else:
            u = (choose_velocity(ego.position[:2], ego.yaw, np.zeros(2), obs, self.mission.params)
                 if len(obs) else np.zeros(2))
            (v, w), what = self._steer(u, ego.yaw), "evading"
        if self._announce and threat is not None:
            miss = closest_approach(ego.position, np.r_[u, 0.0], threat_tracks.state[threat.index], planar=True)[1][0]
            self._announce = False
            announce_avoidance(self.emit, threat, miss, f"steering ({u[0]:.2f}, {u[1]:.2f}) m/s")
        return self._drive(now_s, dt_s, v, w, f"ALERT: {what}")

    def stop(self, reason: str) -> Command:
        self.limiter.reset()  # a stop is not slewed: the drive brakes at its own limit
        return Command("bot", reason)

    def reset(self) -> None:
        self.mission.reset()

    def _steer(self, u: np.ndarray, yaw: float) -> tuple[float, float]:
        """(v, w) turning towards world velocity u at the patrol's heading gain (as the patrol does)."""
        p = self.mission.params
        speed = float(np.linalg.norm(u))
        if speed < 1e-9:
            return 0.0, 0.0
        err = float(wrap_angle(math.atan2(u[1], u[0]) - yaw))
        return speed * max(math.cos(err), 0.0), float(np.clip(p.heading_gain * err, -p.max_w_radps, p.max_w_radps))

    def _drive(self, now_s: float, dt_s: float, v: float, w: float, reason: str) -> Command:
        v, w = self.limiter.step([v, w], max(dt_s, 0.0))
        report = self.limiter.report
        if report.clamped.any() or report.non_finite.any() or report.rate_limited.any():
            self.warnings.warn(now_s, "limiter", EventCode.COMMAND_CLAMPED, f"(v, w) {report.reason}")
        return Command("bot", reason, v=float(v), w=float(w))


def obstacles(tracks: TrackSet) -> np.ndarray:
    """(K, 6) states of confirmed/coasting SR tracks, friends included (IFF sets the threat, not whether to
    steer around a mover): what the patrol steers around."""
    keep = (np.isin(tracks.status, (TrackArray.STATUS_CONFIRMED, TrackArray.STATUS_COASTING))
            & (tracks.band == RadarFrame.BAND_SR))
    return tracks.state[keep]
