"""The agent's decision core: closes the loop from vehicle state, tracks and device health to actuator commands.

Plain Python (no ROS): the node feeds it inputs stamped in sim time and publishes what it reports; unit
tests drive it directly against the simulator cores. Events go out through `emit(code, severity, text)`.

Each tick (`tick(now_s) -> Command`):
  1. BIOS self test when due (periodically, and at once when a device reports a new level);
  2. boot decisions (BOOTING -> IDLE / SAFE_MODE);
  3. threat assessment of the latest tracks (ThreatAssessment, parameters from the rules YAML);
  4. mission bookkeeping: completion, autostart from IDLE;
  5. the safety rules (config/rules/<profile>.yaml) fire FSM triggers from a `Facts` snapshot;
  6. the command of the resulting state: MISSION_ACTIVE -> the mission (bot: waypoint patrol with obstacle
     avoidance, through a rate limiter; ship: station keeping on the target spacecraft, through the thrust
     allocator); ALERT -> avoidance (bot: the patrol with obstacles, or evasion when no mission is running;
     ship: an avoidance burn); IDLE / BOOTING / SAFE_MODE -> stop (bot v = w = 0; ship zero throttle).

Frames. Bot: everything in `map`. Ship: the vehicle state is in ECI, the tracks in the chaser-centred LVLH
frame (ego at the origin, at rest); the ego attitude is converted to LVLH-from-body for the mission.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.bios import OK, BiosResult, Reading, SelfTest, Threshold
from qiki_agent.fsm import AgentStateMachine, Transition
from qiki_agent.mission_file import KINDS, PatrolMission, StationKeepingMission, load_mission
from qiki_agent.missions import (PatrolParams, ShipCommand, StationKeeping, StationParams, WaypointPatrol,
                                 choose_velocity, wrap_angle)
from qiki_agent.rate_limiter import RateLimiter
from qiki_agent.rules import Facts, RuleEngine
from qiki_agent.threat import (BAND_SR, IFF_FRIEND, STATUS_COASTING, STATUS_CONFIRMED, STATUS_TENTATIVE, Threat,
                               ThreatAssessment, ThreatReport, closest_approach)
from qiki_agent.thrust_allocation import ThrustAllocator
from qiki_description.loader import load_description
from qiki_description.rcs import Rcs
from qiki_description.vehicle import BotDescription, ShipDescription
from qiki_geometry.lvlh import lvlh_rate, lvlh_rotation
from qiki_geometry.orbit_elements import mean_motion_of
from qiki_geometry.state_bounds import MAX_ABS_STATE
from qiki_ros.events import EventCode
from qiki_tracks.track_set import TrackSet

INFO, WARN, ERROR = 0, 1, 2
#: Operator command number (OperatorCommand.srv) -> FSM trigger.
OPERATOR_TRIGGERS = {1: "start_mission", 2: "abort", 3: "enter_safe_mode", 4: "reset"}
#: FSM states in which the vehicle is commanded to stop.
STOP_STATES = ("BOOTING", "IDLE", "SAFE_MODE")
#: A far, motionless pseudo-threat: StationKeeping.avoid() of it asks for zero force and holds attitude.
_NO_THREAT = Threat(id=0, index=-1, tcpa_s=0.0, dcpa_m=math.inf, radius_m=1.0,
                    rel_pos=np.array([1e12, 0.0, 0.0]), rel_vel=np.zeros(3))


@dataclass(frozen=True)
class Command:
    """What the agent asks of the vehicle this tick: bot (v, w), ship one throttle per thruster."""

    profile: str  # "bot" or "ship"
    reason: str  # one line: state and what the command does
    v: float = 0.0  # bot: forward speed [m/s]
    w: float = 0.0  # bot: yaw rate [rad/s], CCW positive
    throttle: Optional[np.ndarray] = None  # ship: (N,) in [0, 1], thruster order of the description's RCS


@dataclass(frozen=True)
class EgoState:
    """Latest vehicle state (world frame: map for the bot, ECI for the ship)."""

    t_s: float
    position: np.ndarray  # (3,)
    quaternion_wxyz: np.ndarray  # (4,) world-from-body, unit
    velocity_world: np.ndarray  # (3,)
    angular_velocity_body: np.ndarray  # (3,) inertial body rate in body axes

    @property
    def yaw(self) -> float:
        w, x, y, z = self.quaternion_wxyz
        return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class AgentCore:
    """BIOS + state machine + safety rules + threat assessment + mission, for one vehicle (bot or ship).

    Inputs: on_device_health, on_vehicle_state, on_tracks, on_radar_frame (each stamped in sim time; malformed
    ones are counted in `inputs_rejected`, never raised); operator commands: command(number). Output: tick().
    Status: fsm.state, bios, threat_report, mission_name, mission_progress, mission_result, inputs_rejected.
    """

    def __init__(self, cfg: AgentNodeConfig, emit: Callable[[int, int, str], None],
                 description: BotDescription | ShipDescription | None = None,
                 mission: PatrolMission | StationKeepingMission | None = None, rules_file: Optional[str] = None):
        """cfg: node parameters; description: the vehicle (None: load cfg.description); mission: what it flies
        (None: load cfg.mission_file); rules_file: the safety rules (None: cfg.rules_file). The agent never
        reads the scenario (the world): what it knows of its orbit comes from its navigation state. Config
        problems raise ValueError subclasses (one line)."""
        self.cfg = cfg
        self.emit = emit
        b = cfg.bios
        self.self_test = SelfTest(b.devices, {"power": Threshold(b.power_warn_below, b.power_error_below)}
                                  if "power" in b.devices else None, stale_after_s=b.stale_after_s)
        self.readings: dict[str, Reading] = {}
        self.bios: BiosResult | None = None
        self.bios_seq = 0
        self.now_s = 0.0
        self._boot_t: float | None = None
        self._start_t: float | None = None
        self._next_test_s = 0.0
        self._retest = False
        self.fsm = AgentStateMachine.from_yaml(
            cfg.fsm_file,
            guards={"all_systems_go": lambda: bool(self.bios and self.bios.all_systems_go),
                    "mission_pending": lambda: self._result == "active"},
            actions={"run_self_test": self._on_boot, "start_mission": self._on_start_mission,
                     "start_avoidance": self._on_start_avoidance, "stop_vehicle": self._on_stop_vehicle},
            on_transition=self._on_transition,
            on_guard_hold=lambda a, b, until: self.emit(
                EventCode.FSM_OSCILLATION_HOLD, WARN, f"{a} <-> {b} flapping: held until t={until:.1f} s"),
        )
        self.fsm.validate_triggers(list(OPERATOR_TRIGGERS.values()) + ["self_test_passed", "self_test_failed"])
        self._state_since = 0.0

        if description is None:
            if not cfg.description:
                raise ValueError("agent: parameter description is empty (set it to a vehicle name, e.g. bot)")
            description = load_description(cfg.description)
        if mission is None:
            if not cfg.mission_file:
                raise ValueError("agent: parameter mission_file is empty (set it to config/missions/<name>.yaml)")
            mission = load_mission(cfg.mission_file)
        rules_file = rules_file or cfg.rules_file
        if not rules_file:
            raise ValueError("agent: parameter rules_file is empty (set it to config/rules/<profile>.yaml)")
        self.description = description
        self.mission_spec = mission
        self.profile = description.profile
        if mission.kind != KINDS[self.profile]:
            raise ValueError(f"agent: a {self.profile} flies a {KINDS[self.profile]} mission, not {mission.kind} "
                             f"({cfg.mission_file or 'mission'})")
        devices = list(description.devices)
        unknown = sorted(set(b.devices) - set(devices))
        if unknown:
            raise ValueError(f"agent: bios.devices {unknown} are not devices of vehicle '{description.name}' (they "
                             f"would never report; use some of {devices})")
        self.rules = RuleEngine.from_yaml(rules_file, self.fsm.spec)
        if self.rules.threat is None:
            raise ValueError(f"{rules_file}: threat: section missing (the agent needs the threat parameters)")
        self.threat_assessment = ThreatAssessment(self.rules.threat)
        self.limiter: Optional[RateLimiter] = None
        self.allocator: Optional[ThrustAllocator] = None
        self.mission = self._build_bot_mission() if self.profile == "bot" else self._build_ship_mission()

        # inputs
        self.ego: Optional[EgoState] = None
        self._tracks = TrackSet.empty()
        self._codes = np.zeros(0, np.uint32)  # transponder code per track
        self._tracks_t = 0.0
        self._health_t = -math.inf  # stamp of the newest device health accepted
        self._last_radar_t: Optional[float] = None
        self._last_tracks_t: Optional[float] = None
        self.upstream_silent: tuple[str, ...] = ()   # upstream nodes whose step heartbeat stopped
        self._upstream_gap_t = -math.inf              # sim time an upstream node last came back from a gap
        self.inputs_rejected = 0
        # outputs and bookkeeping
        self.threat_report: ThreatReport = self.threat_assessment.assess(np.zeros(3), np.zeros(3), self._tracks)
        self._result = "none"  # mission_result
        self._operator_aborted = False
        self._safe_mode_commanded = False
        self._avoidance_started = False  # set on entering ALERT; the 505 event goes out with the first command
        self._avoided: Optional[Threat] = None  # ship: the threat the current avoidance burn is about
        self._last_cmd_t: Optional[float] = None
        self._warned: dict[str, tuple[float, int]] = {}  # key -> (last emitted t, suppressed since)

    # --- construction -------------------------------------------------------------------------
    def _build_bot_mission(self) -> WaypointPatrol:
        m = self.mission_spec
        bp = self.description.chassis
        v_max = bp.max_wheel_speed_radps * bp.wheel_radius_m  # straight line, both wheels at the limit
        a_max = bp.max_wheel_accel_radps2 * bp.wheel_radius_m
        # turning on the spot: w = 2 v_rim / wheel_base
        self.limiter = RateLimiter([a_max, 2.0 * a_max / bp.wheel_base_m], [-v_max, -2.0 * v_max / bp.wheel_base_m],
                                   [v_max, 2.0 * v_max / bp.wheel_base_m])
        # avoid what the rules call a threat: inside the safe radius, within the threat look-ahead
        threat = self.rules.threat
        params = PatrolParams(cruise_speed_mps=min(m.cruise_speed_mps, v_max), safe_radius_m=threat.safe_radius_m,
                              horizon_s=max(PatrolParams().horizon_s, threat.tcpa_max_s))
        return WaypointPatrol(m.waypoints, params, laps=m.laps or None)

    def _build_ship_mission(self) -> StationKeeping:
        """Station keeping; its orbit rate and attitude target come from the first navigation state."""
        m, p = self.mission_spec, self.description.ship
        self.allocator = ThrustAllocator(Rcs(p.rcs))
        self._orbit_known = False
        params = StationParams(offset_lvlh_m=m.offset_lvlh_m, mass_kg=p.dry_mass_kg + p.propellant_kg,
                               inertia_kg_m2=tuple(np.diag(p.inertia_kg_m2)), max_force_n=m.max_force_n,
                               hold_s=m.hold_s or None, pos_tol_m=m.pos_tol_m, vel_tol_mps=m.vel_tol_mps)
        return StationKeeping(params)

    def _learn_orbit(self, ego: EgoState) -> None:
        """Ship, first navigation state: the orbit's mean motion and the attitude to hold (the one the ship
        starts in, as LVLH-from-body) from the vehicle's own state, never from the scenario."""
        r, v = ego.position, ego.velocity_world
        attitude_lvlh = mat2quat(lvlh_rotation(r, v).T @ quat2mat(ego.quaternion_wxyz))
        self.mission.params = self.mission.params.model_copy(update={
            "mean_motion_radps": mean_motion_of(r, v), "attitude_target": tuple(attitude_lvlh)})
        self._orbit_known = True

    # --- status -------------------------------------------------------------------------------
    @property
    def mission_name(self) -> str:
        return "patrol" if self.profile == "bot" else "station_keeping"

    @property
    def mission_progress(self) -> float:
        return float(self.mission.progress)

    @property
    def mission_result(self) -> str:
        """'none' (never started), 'active', 'complete' or 'aborted'."""
        return self._result

    # --- inputs -------------------------------------------------------------------------------
    def on_device_health(self, names, levels, values, stamp_s: float) -> None:
        """Raw device readings; rejected (inputs_rejected) with inconsistent lengths or a stamp older than the
        last accepted. A NaN value is the device's problem, not the input's: the BIOS grades it ERROR."""
        if not (len(names) == len(levels) == len(values)):
            self._reject(stamp_s, "device_health", f"{len(names)} names, {len(levels)} levels, {len(values)} values")
            return
        if not _finite(stamp_s) or stamp_s < self._health_t:
            self._reject(stamp_s, "device_health", f"stamp {stamp_s!r} is not finite or older than the last "
                         f"({self._health_t:.3f} s)")
            return
        self._health_t = float(stamp_s)
        for name, level, value in zip(names, levels, values):
            previous = self.readings.get(name)
            if previous is None or previous.level != int(level):
                self._retest = True  # a device changed its mind: grade it at the next tick, not in retest_s
            self.readings[name] = Reading(int(level), float(value), stamp_s)

    def on_vehicle_state(self, t_s: float, position, quaternion_wxyz, velocity_world, angular_velocity_body) -> None:
        """Ego state at sim time t_s in the world frame (map / ECI); angular velocity: inertial, body axes.
        Rejected (inputs_rejected): NaN/inf/absurd values, a non-unit quaternion, a stamp older than the last."""
        try:
            parts = [np.asarray(a, dtype=float).reshape(n) for a, n in
                     ((position, 3), (quaternion_wxyz, 4), (velocity_world, 3), (angular_velocity_body, 3))]
        except (TypeError, ValueError) as exc:
            self._reject(t_s, "vehicle_state", f"malformed: {exc}")
            return
        if not (_finite(t_s) and all(np.all(np.abs(a) < MAX_ABS_STATE) for a in parts)):
            self._reject(t_s, "vehicle_state", f"NaN/inf or |value| >= {MAX_ABS_STATE:g} in the vehicle state")
            return
        if self.ego is not None and t_s < self.ego.t_s:
            self._reject(t_s, "vehicle_state", f"stamp {t_s:.3f} s is older than the last ({self.ego.t_s:.3f} s)")
            return
        norm = float(np.linalg.norm(parts[1]))
        if abs(norm - 1.0) > 0.1:
            self._reject(t_s, "vehicle_state", f"quaternion norm {norm:.3g} is not 1")
            return
        pos, q, vel, omega = parts
        self.ego = EgoState(float(t_s), pos, q / norm, vel, omega)
        if self.profile == "ship" and not self._orbit_known:
            self._learn_orbit(self.ego)

    def on_tracks(self, t_s: float, ids, status, iff, band, state, covariance=None, transponder_code=None) -> None:
        """A TrackArray at sim time t_s in the tracking frame (map / LVLH). state: (N, 6) or 6N; covariance:
        (N, 6, 6), 36N or None; transponder_code: (N,) or None. Inconsistent lengths or a stamp older than the
        last tracks: the whole array is ignored; tracks with a NaN/inf/absurd (>= MAX_ABS_STATE) state or a
        NaN/inf covariance are dropped. Each counts once in inputs_rejected."""
        try:
            ids_f = np.asarray(ids, dtype=float).ravel()
            if not (np.all(np.isfinite(ids_f)) and np.all(ids_f >= 0) and np.all(ids_f < 2**32)):
                raise ValueError("track ids must be integers in [0, 2^32)")
            tracks = TrackSet.from_arrays(ids_f.astype(np.uint32), status, iff, band, state, covariance,
                                          transponder_code)
        except (TypeError, ValueError, OverflowError) as exc:
            self._reject(t_s, "tracks", f"ignored: {exc}")
            return
        if not _finite(t_s):
            self._reject(self.now_s, "tracks", f"ignored: stamp {t_s!r} is not finite")
            return
        if t_s < self._tracks_t:
            self._reject(t_s, "tracks", f"ignored: stamp {t_s:.3f} s is older than the last ({self._tracks_t:.3f} s)")
            return
        good = tracks.usable()
        if not good.all():
            self._reject(t_s, "tracks", f"{int((~good).sum())} of {len(tracks)} tracks with NaN/inf/absurd values dropped "
                         f"(ids {tracks.id[~good][:5].tolist()})")
            tracks = tracks.select(good)
        self._tracks, self._codes, self._tracks_t = tracks, tracks.code, float(t_s)
        self._last_tracks_t = float(t_s)

    def on_radar_frame(self, t_s: float) -> None:
        """A radar frame arrived (radar liveness, fact seconds_since_radar_frame)."""
        if _finite(t_s):
            self._last_radar_t = float(t_s)

    def on_upstream(self, t_s: float, silent, missed: dict[str, int] | None = None, restarted=()) -> None:
        """The upstream nodes (sim, radar, tracker) whose StepDone heartbeat the step barrier lost
        (fact upstream_silent), those that just came back after missing steps before it noticed
        (`missed`: node -> steps), and those that announced a new process incarnation without missing a
        step (`restarted`: a standby took over between two steps). Either of the last two is a gap (fact
        seconds_since_upstream_gap): the node lost its state. A change is an event."""
        silent = tuple(sorted(silent))
        missed = missed or {}
        restarted = sorted(set(restarted) - set(missed))
        if (missed or restarted) and _finite(t_s):
            self._upstream_gap_t = float(t_s)
            gaps = [f"{name} missed {n} step{'s' if n != 1 else ''}" for name, n in sorted(missed.items())]
            gaps += [f"{name} restarted" for name in restarted]
            self.emit(EventCode.UPSTREAM_SILENT, ERROR, f"{', '.join(gaps)}: its state is lost")
            self.emit(EventCode.UPSTREAM_RESUMED, INFO,
                      f"step heartbeat back from {', '.join(sorted([*missed, *restarted]))}")
        if silent == self.upstream_silent:
            return
        lost, back = sorted(set(silent) - set(self.upstream_silent)), sorted(set(self.upstream_silent) - set(silent))
        self.upstream_silent = silent
        if lost:
            self.emit(EventCode.UPSTREAM_SILENT, ERROR, f"no step heartbeat from {', '.join(lost)}: "
                      "running without it")
        if back:
            self.emit(EventCode.UPSTREAM_RESUMED, INFO, f"step heartbeat back from {', '.join(back)}")

    # --- ticking ------------------------------------------------------------------------------
    def start(self, now_s: float) -> None:
        self.now_s = now_s
        self._start_t = now_s
        self._state_since = now_s
        self.emit(EventCode.BOOT_STARTED, INFO, f"agent booting ({self.profile}, vehicle {self.description.name}, "
                  f"mission {self.mission_name}), state machine {self.cfg.fsm_file}")
        self.fsm.start()

    def tick(self, now_s: float) -> Command:
        """Advance the agent to sim time now_s and return the command for the vehicle."""
        if self._start_t is None:
            self.start(now_s)
        self.now_s = now_s
        if now_s >= self._next_test_s or self._retest:
            self.run_self_test()
        if self.fsm.state == "BOOTING":
            if self.bios and self.bios.all_systems_go:
                if self.fsm.fire("self_test_passed", now_s):
                    self.emit(EventCode.BOOT_COMPLETE, INFO, f"boot complete in {now_s - self._boot_t:.2f} s")
            elif now_s - self._boot_t >= self.cfg.bios.boot_timeout_s:
                self.fsm.fire("self_test_failed", now_s)

        tracks = self._tracks_at(self.ego.t_s if self.ego else now_s)
        threat_tracks = self._assess(tracks)
        if self._result == "active" and self.mission.done:
            self._result = "complete"
            self.emit(EventCode.MISSION_COMPLETE, INFO, f"mission {self.mission_name} complete at t={now_s:.1f} s")
        if self.fsm.state == "IDLE" and self.cfg.mission.autostart and (
                self._result == "none" or (self._result == "aborted" and not self._operator_aborted)):
            self.fsm.fire("start_mission", now_s)

        firing = self.rules.step(self._facts(now_s), now_s, self.fsm.fire)
        if firing:
            severe = firing.trigger in ("enter_safe_mode", "threat_detected")
            self.emit(EventCode.RULE_FIRED, WARN if severe else INFO, f"{firing.trigger}: {firing.reason}")

        state = self.fsm.state
        if state == "MISSION_ACTIVE":
            cmd = self._mission_command(now_s, tracks, threat_tracks)
        elif state == "ALERT":
            cmd = self._avoidance_command(now_s, tracks, threat_tracks)
        else:
            cmd = self._stop(f"{state}: stop")
        self._last_cmd_t = now_s
        return cmd

    def command(self, number: int) -> tuple[bool, str]:
        """Operator command -> (accepted, reason); the resulting state is `self.fsm.state`."""
        trigger = OPERATOR_TRIGGERS.get(number)
        if trigger is None:
            return False, f"unknown command {number} (valid: {sorted(OPERATOR_TRIGGERS)})"
        before, commanded = self.fsm.state, self._safe_mode_commanded
        if trigger == "enter_safe_mode":
            self._safe_mode_commanded = True  # set first: the stop action reads it
        if self.fsm.fire(trigger, self.now_s):
            return True, f"{trigger}: {before} -> {self.fsm.state}"
        self._safe_mode_commanded = commanded
        reason = f"{trigger} not allowed in state {before}"
        self.emit(EventCode.FSM_TRIGGER_REFUSED, WARN, reason)
        return False, reason

    # --- decisions ----------------------------------------------------------------------------
    def run_self_test(self) -> BiosResult:
        previous = self.bios
        self.bios = self.self_test.run(self.now_s, self.readings)
        self.bios_seq += 1
        self._retest = False
        self._next_test_s = self.now_s + self.cfg.bios.retest_s
        if previous is not None:
            for old, new in zip(previous.devices, self.bios.devices):
                if old.level != new.level:
                    self.emit(EventCode.BIOS_DEVICE_CHANGED, WARN if new.level > old.level else INFO,
                              f"{new.name}: {old.level.name} -> {new.level.name} ({new.message})")
        if previous is None or previous.all_systems_go != self.bios.all_systems_go:
            bad = [f"{d.name}={d.level.name}" for d in self.bios.devices if d.level != OK]
            if self.bios.all_systems_go:
                self.emit(EventCode.BIOS_PASSED, INFO, f"self test passed, health {self.bios.health_score:.2f}")
            else:
                self.emit(EventCode.BIOS_FAILED, ERROR if previous else WARN,
                          f"self test: not all systems go ({', '.join(bad)})")
        return self.bios

    def _facts(self, now_s: float) -> Facts:
        report, bios = self.threat_report, self.bios
        radar_t = self._last_radar_t if self._last_radar_t is not None else self._start_t
        tracks_t = self._last_tracks_t if self._last_tracks_t is not None else self._start_t
        return Facts(state=self.fsm.state, seconds_in_state=now_s - self._state_since,
                     bios_ok=bool(bios and bios.all_systems_go), health_score=bios.health_score if bios else 0.0,
                     seconds_since_radar_frame=max(0.0, now_s - radar_t),
                     seconds_since_tracks=max(0.0, now_s - tracks_t),
                     upstream_silent=len(self.upstream_silent),
                     seconds_since_upstream_gap=max(0.0, now_s - self._upstream_gap_t), threat_count=report.count,
                     min_tcpa_s=report.min_tcpa_s, min_dcpa_m=report.min_dcpa_m,
                     mission_pending=self._result == "active", mission_done=bool(self.mission.done),
                     mission_progress=self.mission_progress, safe_mode_commanded=self._safe_mode_commanded)

    def _tracks_at(self, t_s: float) -> TrackSet:
        """The latest tracks, positions extrapolated (constant velocity, at most 1 s) to time t_s."""
        tr = self._tracks
        dt = float(np.clip(t_s - self._tracks_t, 0.0, 1.0))
        if dt == 0.0 or not len(tr):
            return tr
        state = tr.state.copy()
        state[:, :3] += state[:, 3:] * dt
        return dataclasses.replace(tr, state=state)

    def _threat_geometry(self, tracks: TrackSet) -> tuple[np.ndarray, np.ndarray, TrackSet]:
        """Ego position, velocity and tracks in a frame where straight-line motion is a good prediction.

        Bot: the map frame. Ship: the non-rotating frame aligned with LVLH at this instant, ego at the origin
        at rest; a track's velocity becomes its inertial relative velocity v + omega x r. In the rotating LVLH
        frame the Coriolis term bends relative paths by ~n v t^2 (45 m for 19 m/s over 45 s in LEO), while
        the gravity gradient the inertial straight line neglects is ~1.5 n^2 r t^2 (1.6 m for the same pass).
        """
        if self.profile == "bot":
            if self.ego is None:  # no vehicle state yet (none arrived, or every one was rejected)
                return np.zeros(3), np.zeros(3), tracks
            return self.ego.position, self.ego.velocity_world, tracks
        if len(tracks):
            omega = (lvlh_rate(self.ego.position, self.ego.velocity_world) if self.ego is not None
                     else np.array([0.0, 0.0, self.mission.params.mean_motion_radps]))
            state = tracks.state.copy()
            state[:, 3:] += np.cross(omega, state[:, :3])
            tracks = dataclasses.replace(tracks, state=state)
        return np.zeros(3), np.zeros(3), tracks

    def _assess(self, tracks: TrackSet) -> TrackSet:
        """Threat assessment of the tracks; THREAT_DETECTED / THREAT_CLEARED events on changes. Returns the
        tracks in the assessment frame (see _threat_geometry); Threat.index rows refer to them."""
        if self.profile == "bot" and self.ego is None:
            tracks = TrackSet.empty()  # no ego position yet: nothing to assess against
        ego_pos, ego_vel, tracks = self._threat_geometry(tracks)
        before = {t.id: t for t in self.threat_report.threats}
        self.threat_report = report = self.threat_assessment.assess(ego_pos, ego_vel, tracks)
        now = {t.id: t for t in report.threats}
        for tid, t in now.items():
            if tid not in before:
                self.emit(EventCode.THREAT_DETECTED, WARN, f"track {tid}: TCPA {t.tcpa_s:.1f} s, DCPA {t.dcpa_m:.2f} m "
                          f"< {t.radius_m:.2f} m, range {np.linalg.norm(t.rel_pos):.1f} m")
        for tid in before.keys() - now.keys():
            rows = np.flatnonzero(tracks.id == tid)
            if rows.size:
                i = rows[0]
                self.emit(EventCode.THREAT_CLEARED, INFO, f"track {tid}: TCPA {report.tcpa_s[i]:.1f} s, "
                          f"DCPA {report.dcpa_m[i]:.2f} m")
            else:
                self.emit(EventCode.THREAT_CLEARED, INFO, f"track {tid}: lost")
        return tracks

    def _obstacles(self, tracks: TrackSet) -> np.ndarray:
        """(K, 6) states of confirmed/coasting, non-friend SR tracks: what the patrol steers around."""
        keep = (np.isin(tracks.status, (STATUS_CONFIRMED, STATUS_COASTING)) & (tracks.iff != IFF_FRIEND)
                & (tracks.band == BAND_SR))
        return tracks.state[keep]

    # --- commands -----------------------------------------------------------------------------
    def _mission_command(self, now_s: float, tracks: TrackSet, threat_tracks: TrackSet) -> Command:
        if self.ego is None:
            return self._stop("MISSION_ACTIVE: no vehicle state yet, stop")
        if self.profile == "bot":
            bc = self.mission.update(self.ego.position[0], self.ego.position[1], self.ego.yaw, self._obstacles(tracks))
            what = "avoiding" if bc.avoiding else "on path"
            return self._bot(now_s, bc.v, bc.w, f"MISSION_ACTIVE: patrol to waypoint {bc.target_index} ({what})")
        attitude, omega = self._lvlh_attitude()
        self._avoided = self._refresh_avoided(threat_tracks)
        if self._avoided is not None:  # do not steer back into the path of what we just dodged
            t = self._avoided
            return self._ship(self.mission.avoid(now_s, t, attitude, omega), f"MISSION_ACTIVE: standing off until "
                              f"track {t.id} has passed (TCPA {t.tcpa_s:.1f} s, DCPA {t.dcpa_m:.1f} m)")
        target = self._target(tracks)
        if target is None:
            return self._stop(f"MISSION_ACTIVE: target {self.mission_spec.target_code} not tracked, coast")
        sc = self.mission.update(now_s, target[:3], target[3:], attitude, omega)
        return self._ship(sc, f"MISSION_ACTIVE: station keeping, error {self.mission.position_error_m:.2f} m")

    def _avoidance_command(self, now_s: float, tracks: TrackSet, threat_tracks: TrackSet) -> Command:
        """tracks: tracking frame; threat_tracks: the assessment frame (ship: non-rotating, see _threat_geometry)."""
        if self.ego is None:
            return self._stop("ALERT: no vehicle state yet, stop")
        threat = self.threat_report.most_urgent
        if self.profile == "bot":
            ego, obstacles = self.ego, self._obstacles(tracks)
            if self._result == "active":
                bc = self.mission.update(ego.position[0], ego.position[1], ego.yaw, obstacles)
                v, w, u, what = bc.v, bc.w, np.asarray(bc.velocity_world), "patrol with avoidance"
            else:  # no mission to follow: stand still unless something comes at us
                u = (choose_velocity(ego.position[:2], ego.yaw, np.zeros(2), obstacles, self.mission.params)
                     if len(obstacles) else np.zeros(2))
                (v, w), what = self._steer(u, ego.yaw), "evading"
            if self._avoidance_started and threat is not None:
                miss = closest_approach(ego.position, np.r_[u, 0.0], threat_tracks.state[threat.index],
                                        planar=True)[1][0]
                self._announce_avoidance(threat, miss, f"steering ({u[0]:.2f}, {u[1]:.2f}) m/s")
            return self._bot(now_s, v, w, f"ALERT: {what}")
        attitude, omega = self._lvlh_attitude()
        threat = threat or self._refresh_avoided(threat_tracks)
        if threat is None:
            self._avoided = None
            return self._ship(self.mission.avoid(now_s, _NO_THREAT, attitude, omega), "ALERT: coasting, no threat")
        self._avoided = threat
        if self._avoidance_started:
            burn = self.mission.avoidance_burn(threat)
            miss = closest_approach(np.zeros(3), burn.delta_v_lvlh, np.r_[threat.rel_pos, threat.rel_vel])[1][0]
            self._announce_avoidance(threat, miss, f"delta-v {burn.delta_v_mps:.2f} m/s along "
                                     f"{np.round(burn.direction_lvlh, 2).tolist()} (LVLH)")
        sc = self.mission.avoid(now_s, threat, attitude, omega)
        return self._ship(sc, f"ALERT: avoidance burn from track {threat.id}, DCPA {threat.dcpa_m:.1f} m")

    def _announce_avoidance(self, threat: Threat, planned_miss_m: float, how: str) -> None:
        self._avoidance_started = False
        self.emit(EventCode.AVOIDANCE_MANOEUVRE, WARN, f"avoiding track {threat.id} (TCPA {threat.tcpa_s:.1f} s, "
                  f"DCPA {threat.dcpa_m:.2f} m): {how}, planned miss {planned_miss_m:.1f} m "
                  f"(safe radius {threat.radius_m:.1f} m)")

    def _refresh_avoided(self, tracks: TrackSet) -> Optional[Threat]:
        """Ship: the track last avoided, from the current tracks (assessment frame), while it still approaches.
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

    def _target(self, tracks: TrackSet) -> Optional[np.ndarray]:
        """Ship: LVLH state (6,) of the station-keeping target, found by its transponder code."""
        rows = np.flatnonzero(self._codes == self.mission_spec.target_code)
        if not rows.size:
            return None
        confirmed = rows[tracks.status[rows] != STATUS_TENTATIVE]
        return tracks.state[(confirmed if confirmed.size else rows)[0]]

    def _lvlh_attitude(self) -> tuple[np.ndarray, np.ndarray]:
        """Ship: LVLH-from-body quaternion (w, x, y, z) and body rate relative to LVLH (body axes)."""
        e = self.ego
        lvlh_from_body = lvlh_rotation(e.position, e.velocity_world).T @ quat2mat(e.quaternion_wxyz)
        omega = e.angular_velocity_body - lvlh_from_body.T @ lvlh_rate(e.position, e.velocity_world)
        return mat2quat(lvlh_from_body), omega

    def _steer(self, u: np.ndarray, yaw: float) -> tuple[float, float]:
        """Bot: (v, w) turning towards world velocity u at the patrol's heading gain (as the patrol does)."""
        p = self.mission.params
        speed = float(np.linalg.norm(u))
        if speed < 1e-9:
            return 0.0, 0.0
        err = float(wrap_angle(math.atan2(u[1], u[0]) - yaw))
        return speed * max(math.cos(err), 0.0), float(np.clip(p.heading_gain * err, -p.max_w_radps, p.max_w_radps))

    def _bot(self, now_s: float, v: float, w: float, reason: str) -> Command:
        dt = now_s - self._last_cmd_t if self._last_cmd_t is not None else 1.0 / self.cfg.tick_hz
        v, w = self.limiter.step([v, w], max(dt, 0.0))
        report = self.limiter.report
        if report.clamped.any() or report.non_finite.any() or report.rate_limited.any():
            self._warn(now_s, "limiter", EventCode.COMMAND_CLAMPED, f"(v, w) {report.reason}")
        return Command("bot", reason, v=float(v), w=float(w))

    def _ship(self, sc: ShipCommand, reason: str) -> Command:
        alloc = self.allocator.allocate(sc.force_body, sc.torque_body)
        if alloc.saturated or not alloc.feasible:
            reason += ", thrust saturated" if alloc.feasible else ", wrench infeasible"
        return Command("ship", reason, throttle=alloc.throttle)

    def _stop(self, reason: str) -> Command:
        if self.profile == "bot":
            self.limiter.reset()  # a stop is not slewed: the drive brakes at its own limit
            return Command("bot", reason)
        return Command("ship", reason, throttle=np.zeros(self.allocator.rcs.n))

    # --- FSM actions --------------------------------------------------------------------------
    def _on_boot(self) -> None:
        """Entering BOOTING (start or operator reset): self test now, mission back to not started."""
        if self._boot_t is not None:  # a reset, not the first boot
            if self._result == "active":
                self.emit(EventCode.MISSION_ABORTED, WARN, f"mission {self.mission_name} aborted: reset")
            self.mission.reset()
            self.rules.reset()
            self._result, self._operator_aborted, self._safe_mode_commanded = "none", False, False
            self._avoided = None
        self._boot_t = self.now_s
        self._next_test_s = self.now_s

    def _on_start_mission(self) -> None:
        """Entering MISSION_ACTIVE: resume after an ALERT or a safe-mode interruption, else start afresh."""
        if self._result == "active":
            return  # back from ALERT
        if self._result == "aborted" and not self._operator_aborted:
            verb = "resumed"
        else:
            self.mission.reset()
            verb = "started"
        self._result, self._operator_aborted = "active", False
        if self.profile == "bot":
            what = f"{len(self.mission.waypoints)} waypoint(s) x {self.mission.laps or 'endless'} lap(s)"
        else:
            what = f"hold {list(self.mission_spec.offset_lvlh_m)} m LVLH from target {self.mission_spec.target_code}"
        self.emit(EventCode.MISSION_STARTED, INFO, f"mission {self.mission_name} {verb}: {what}")

    def _on_start_avoidance(self) -> None:
        self._avoidance_started = True
        self._avoided = None

    def _on_stop_vehicle(self) -> None:
        """Entering SAFE_MODE: the running mission is aborted (resumed after recovery unless commanded)."""
        if self._result == "active":
            self._result = "aborted"
            self._operator_aborted = self._safe_mode_commanded
            self.emit(EventCode.MISSION_ABORTED, WARN, f"mission {self.mission_name} aborted: safe mode")

    def _on_transition(self, tr: Transition) -> None:
        """After every transition (and after the destination's entry actions); bookkeeping before the events,
        so that a status published on the transition event is already consistent."""
        self._state_since = tr.t_s
        interrupted = tr.dest == "IDLE" and self._result == "active"
        if interrupted:
            # the operator's abort, or ALERT -> IDLE while the oscillation guard holds ALERT <-> MISSION_ACTIVE
            # (autostart then resumes the mission)
            self._result, self._operator_aborted = "aborted", tr.trigger == "abort"
        self.emit(EventCode.FSM_TRANSITION, INFO, f"{tr.source} -> {tr.dest} ({tr.trigger})")
        if interrupted:
            why = ("aborted by the operator" if tr.trigger == "abort"
                   else f"interrupted ({tr.source} -> IDLE, {tr.trigger})")
            self.emit(EventCode.MISSION_ABORTED, WARN, f"mission {self.mission_name} {why} "
                      f"at {100 * self.mission_progress:.0f} %")

    # --- events -------------------------------------------------------------------------------
    def _warn(self, t_s: float, key: str, code: int, text: str) -> None:
        """A recurring warning: emitted at most once per warn_interval_s, with the count held back."""
        last, held = self._warned.get(key, (-math.inf, 0))
        if t_s - last >= self.cfg.warn_interval_s or t_s < last:
            self.emit(code, WARN, text + (f" (+{held} more since t={last:.1f} s)" if held else ""))
            self._warned[key] = (t_s, 0)
        else:
            self._warned[key] = (last, held + 1)

    def _reject(self, t_s, what: str, why: str) -> None:
        self.inputs_rejected += 1
        t = float(t_s) if _finite(t_s) else self.now_s
        self._warn(t, f"input:{what}", EventCode.INPUT_REJECTED, f"{what} input rejected: {why} "
                   f"[{self.inputs_rejected} rejected so far]")


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
