"""The ship's pilot: station keeping on the target spacecraft in LVLH, avoidance burns, thrust allocation.

Frames: the vehicle state is in ECI, the tracks in the chaser-centred LVLH frame (ego at the origin, at
rest); the ego attitude is converted to LVLH-from-body for the mission. What the ship knows of its orbit
(mean motion, the attitude to hold) comes from its first navigation state, never from the scenario.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat

from qiki_agent.ego_state import EgoState
from qiki_agent.mission_file import StationKeepingMission
from qiki_agent.missions import ShipCommand, StationKeeping, StationParams
from qiki_agent.pilot import Command, announce_avoidance
from qiki_agent.threat import Threat, ThreatReport, closest_approach
from qiki_agent.thrust_allocation import ThrustAllocator
from qiki_description.rcs import Rcs
from qiki_description.vehicle import ShipDescription
from qiki_geometry.lvlh import lvlh_rate, lvlh_rotation
from qiki_geometry.orbit_elements import mean_motion_of
from qiki_msgs.msg import TrackArray
from qiki_tracks.track_set import TrackSet

#: A far, motionless pseudo-threat: StationKeeping.avoid() of it asks for zero force and holds attitude.
_NO_THREAT = Threat(id=0, index=-1, tcpa_s=0.0, dcpa_m=math.inf, radius_m=1.0,
                    rel_pos=np.array([1e12, 0.0, 0.0]), rel_vel=np.zeros(3))


class ShipPilot:
    """Station keeping, LVLH attitude, avoidance burns and the thrust allocator for an RCS spacecraft."""

    profile = "ship"
    mission_name = "station_keeping"

    def __init__(self, description: ShipDescription, spec: StationKeepingMission,
                 emit: Callable[[int, int, str], None]) -> None:
        """Station keeping; its orbit rate and attitude target come from the first navigation state."""
        self.spec, self.emit = spec, emit
        self.sr_band_m = description.radar.sr_threshold_m  # the farthest offset the operator may set
        p = description.ship
        self.allocator = ThrustAllocator(Rcs(p.rcs))
        self._orbit_known = False
        params = StationParams(offset_lvlh_m=spec.offset_lvlh_m, mass_kg=p.dry_mass_kg + p.propellant_kg,
                               inertia_kg_m2=tuple(np.diag(p.inertia_kg_m2)), max_force_n=spec.max_force_n,
                               hold_s=spec.hold_s or None, pos_tol_m=spec.pos_tol_m, vel_tol_mps=spec.vel_tol_mps)
        self.mission = StationKeeping(params)
        self._announce = False  # set on entering ALERT; the 505 event goes out with the first command
        self._avoided: Optional[Threat] = None  # the threat the current avoidance burn is about

    def on_ego(self, ego: EgoState) -> None:
        """First navigation state: the orbit's mean motion and the attitude to hold (the one the ship starts
        in, as LVLH-from-body) from the vehicle's own state."""
        if self._orbit_known:
            return
        r, v = ego.position, ego.velocity_world
        attitude_lvlh = mat2quat(lvlh_rotation(r, v).T @ quat2mat(ego.quaternion_wxyz))
        self.mission.params = self.mission.params.model_copy(update={
            "mean_motion_radps": mean_motion_of(r, v), "attitude_target": tuple(attitude_lvlh)})
        self._orbit_known = True

    def threat_geometry(self, ego: Optional[EgoState], tracks: TrackSet) -> tuple[np.ndarray, np.ndarray, TrackSet]:
        return inertial_threat_geometry(ego, tracks, self.mission.params.mean_motion_radps)

    def set_offset(self, offset_lvlh_m) -> tuple[bool, str]:
        """Operator SET_OFFSET: hold a new offset (chaser minus target, LVLH) from now on; the approach starts
        over (progress and time in tolerance). Refused (one line) unless 3 finite values within the SR band."""
        limit = self.sr_band_m
        values = [float(c) for c in offset_lvlh_m]
        if len(values) != 3 or not all(math.isfinite(c) for c in values):
            return False, f"SET_OFFSET: expected offset_lvlh_m as 3 finite numbers [x, y, z] m, got {values}"
        if math.hypot(*values) > limit:
            return False, (f"SET_OFFSET: offset {values} m is {math.hypot(*values):.0f} m from the target, beyond "
                           f"the short-range band ({limit:.0f} m) the mission's tolerance needs")
        self.spec = self.spec.model_copy(update={"offset_lvlh_m": tuple(values)})
        self.mission.params = self.mission.params.model_copy(update={"offset_lvlh_m": tuple(values)})
        self.mission.reset()
        return True, f"SET_OFFSET: {self.mission_started()}"

    def mission_started(self) -> str:
        return f"hold {list(self.spec.offset_lvlh_m)} m LVLH from target {self.spec.target_code}"

    def mission_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, codes: np.ndarray,
                        threat_tracks: TrackSet) -> Command:
        attitude, omega = lvlh_attitude(ego)
        self._avoided = self._refresh_avoided(threat_tracks)
        if self._avoided is not None:  # do not steer back into the path of what we just dodged
            t = self._avoided
            return self._thrust(self.mission.avoid(now_s, t, attitude, omega), f"MISSION_ACTIVE: standing off until "
                                f"track {t.id} has passed (TCPA {t.tcpa_s:.1f} s, DCPA {t.dcpa_m:.1f} m)")
        target = self._target(tracks, codes)
        if target is None:
            return self.stop(f"MISSION_ACTIVE: target {self.spec.target_code} not tracked, coast")
        sc = self.mission.update(now_s, target[:3], target[3:], attitude, omega)
        return self._thrust(sc, f"MISSION_ACTIVE: station keeping, error {self.mission.position_error_m:.2f} m")

    def start_avoidance(self) -> None:
        self._announce = True
        self._avoided = None

    def avoidance_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, threat_tracks: TrackSet,
                          report: ThreatReport, mission_active: bool) -> Command:
        """An avoidance burn from the most urgent threat (or the one being avoided while it approaches)."""
        attitude, omega = lvlh_attitude(ego)
        threat = report.most_urgent or self._refresh_avoided(threat_tracks)
        if threat is None:
            self._avoided = None
            return self._thrust(self.mission.avoid(now_s, _NO_THREAT, attitude, omega), "ALERT: coasting, no threat")
        self._avoided = threat
        if self._announce:
            burn = self.mission.avoidance_burn(threat)
            miss = closest_approach(np.zeros(3), burn.delta_v_lvlh, np.r_[threat.rel_pos, threat.rel_vel])[1][0]
            self._announce = False
            announce_avoidance(self.emit, threat, miss, f"delta-v {burn.delta_v_mps:.2f} m/s along "
                               f"{np.round(burn.direction_lvlh, 2).tolist()} (LVLH)")
        sc = self.mission.avoid(now_s, threat, attitude, omega)
        return self._thrust(sc, f"ALERT: avoidance burn from track {threat.id}, DCPA {threat.dcpa_m:.1f} m")

    def stop(self, reason: str) -> Command:
        return Command("ship", reason, throttle=np.zeros(self.allocator.rcs.n))

    def reset(self) -> None:
        self.mission.reset()
        self._avoided = None

    def _refresh_avoided(self, tracks: TrackSet) -> Optional[Threat]:
        """The track last avoided, from the current tracks (assessment frame), while it still approaches.
        Until it has passed, the burn goes on (in ALERT and after) until its miss distance reaches the
        avoidance margin (StationParams.avoid_margin x its threat radius), then the ship coasts."""
        if self._avoided is None:
            return None
        rows = np.flatnonzero(tracks.id == self._avoided.id)
        if not rows.size:
            return None
        i = int(rows[0])
        tcpa, dcpa = closest_approach(np.zeros(3), np.zeros(3), tracks.state[i])
        if tcpa[0] <= 0.0:
            return None
        return dataclasses.replace(self._avoided, index=i, tcpa_s=float(tcpa[0]), dcpa_m=float(dcpa[0]),
                                   rel_pos=tracks.state[i, :3].copy(), rel_vel=tracks.state[i, 3:].copy())

    def _target(self, tracks: TrackSet, codes: np.ndarray) -> Optional[np.ndarray]:
        """LVLH state (6,) of the station-keeping target, found by its transponder code."""
        rows = np.flatnonzero(codes == self.spec.target_code)
        if not rows.size:
            return None
        confirmed = rows[tracks.status[rows] != TrackArray.STATUS_TENTATIVE]
        return tracks.state[(confirmed if confirmed.size else rows)[0]]

    def _thrust(self, sc: ShipCommand, reason: str) -> Command:
        alloc = self.allocator.allocate(sc.force_body, sc.torque_body)
        if alloc.saturated or not alloc.feasible:
            reason += ", thrust saturated" if alloc.feasible else ", wrench infeasible"
        return Command("ship", reason, throttle=alloc.throttle)


def lvlh_attitude(ego: EgoState) -> tuple[np.ndarray, np.ndarray]:
    """LVLH-from-body quaternion (w, x, y, z) and body rate relative to LVLH (body axes)."""
    lvlh_from_body = lvlh_rotation(ego.position, ego.velocity_world).T @ quat2mat(ego.quaternion_wxyz)
    omega = ego.angular_velocity_body - lvlh_from_body.T @ lvlh_rate(ego.position, ego.velocity_world)
    return mat2quat(lvlh_from_body), omega


def inertial_threat_geometry(ego: Optional[EgoState], tracks: TrackSet, mean_motion_radps: float
                             ) -> tuple[np.ndarray, np.ndarray, TrackSet]:
    """The non-rotating frame aligned with LVLH at this instant, ego at the origin at rest; a track's
    velocity becomes its inertial relative velocity v + omega x r. In the rotating LVLH frame the Coriolis
    term bends relative paths by ~n v t^2 (45 m for 19 m/s over 45 s in LEO), while the gravity gradient
    the inertial straight line neglects is ~1.5 n^2 r t^2 (1.6 m for the same pass). Without a navigation
    state the orbit rate is mean_motion_radps about LVLH z."""
    if len(tracks):
        omega = (lvlh_rate(ego.position, ego.velocity_world) if ego is not None
                 else np.array([0.0, 0.0, mean_motion_radps]))
        state = tracks.state.copy()
        state[:, 3:] += np.cross(omega, state[:, :3])
        tracks = dataclasses.replace(tracks, state=state)
    return np.zeros(3), np.zeros(3), tracks
