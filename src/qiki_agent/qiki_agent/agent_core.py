"""The agent's decision core: closes the loop from vehicle state, tracks and device health to actuator commands.

Plain Python (no ROS): the node feeds it inputs stamped in sim time and publishes what it reports; unit
tests drive it directly against the simulator cores. Events go out through `emit(code, severity, text)`.

AgentCore orchestrates parts with one job each: InputChecks (validated latest inputs), the BIOS self test, the
YAML state machine, the safety rules, the threat assessment, the MissionLifecycle (what became of the
mission) and a per-profile pilot (BotPilot / ShipPilot / StationPilot, chosen once from the vehicle description
and the mission).

Each tick (`tick(now_s) -> Command`):
  1. BIOS self test when due (periodically, and at once when a device reports a new level);
  2. boot decisions (BOOTING -> IDLE / SAFE_MODE);
  3. threat assessment of the latest tracks, in the pilot's threat frame (parameters from the rules YAML);
  4. mission bookkeeping: completion, autostart from IDLE;
  5. the safety rules (config/rules/<profile>.yaml) fire FSM triggers from a `Facts` snapshot;
  6. the command of the resulting state, from the pilot: MISSION_ACTIVE -> the mission; ALERT -> avoidance;
     any other state (BOOTING, IDLE, SAFE_MODE) -> stop.

The FSM states this code names must exist in the FSM YAML: checked at load, as the triggers it fires are.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.bios import OK, BiosResult, SelfTest, Threshold
from qiki_agent.bot_pilot import BotPilot
from qiki_agent.ego_state import EgoState
from qiki_agent.fsm import AgentStateMachine, Transition
from qiki_agent.input_checks import InputChecks, finite
from qiki_agent.mission_file import KINDS, ObserveMission, PatrolMission, StationKeepingMission, load_mission
from qiki_agent.mission_lifecycle import MissionLifecycle
from qiki_agent.pilot import Command, Pilot
from qiki_agent.rules import Facts, RuleEngine
from qiki_agent.ship_pilot import ShipPilot
from qiki_agent.station_pilot import StationPilot
from qiki_agent.threat import ThreatAssessment, ThreatReport
from qiki_agent.warning_throttle import WarningThrottle
from qiki_description.loader import load_description
from qiki_description.vehicle import BotDescription, ShipDescription
from qiki_msgs.msg import Event
from qiki_msgs.srv import OperatorCommand
from qiki_ros.events import EventCode
from qiki_tracks.track_set import TrackSet

__all__ = ["AgentCore", "Command", "EgoState", "OPERATOR_TRIGGERS", "REQUIRED_STATES"]

_Op = OperatorCommand.Request
#: Operator command number (OperatorCommand.srv) -> FSM trigger.
OPERATOR_TRIGGERS = {_Op.START_MISSION: "start_mission", _Op.ABORT: "abort", _Op.SAFE_MODE: "enter_safe_mode",
                     _Op.RESET: "reset"}
#: FSM states the agent names (the YAML must define them).
BOOTING, IDLE, MISSION_ACTIVE, ALERT = "BOOTING", "IDLE", "MISSION_ACTIVE", "ALERT"
REQUIRED_STATES = (BOOTING, IDLE, MISSION_ACTIVE, ALERT)


class AgentCore:
    """BIOS + state machine + safety rules + threat assessment + mission lifecycle + pilot, for one vehicle.

    Inputs: on_device_health, on_vehicle_state, on_tracks, on_radar_frame (each stamped in sim time; malformed
    ones are counted in `inputs_rejected`, never raised); operator commands: command(number). Output: tick().
    Status: fsm.state, bios, threat_report, mission_name, mission_progress, mission_result, inputs_rejected.
    """

    def __init__(self, cfg: AgentNodeConfig, emit: Callable[[int, int, str], None],
                 description: BotDescription | ShipDescription | None = None,
                 mission: PatrolMission | StationKeepingMission | ObserveMission | None = None, rules_file: Optional[str] = None):
        """cfg: node parameters; description: the vehicle (None: load cfg.description); mission: what it flies
        (None: load cfg.mission_file); rules_file: the safety rules (None: cfg.rules_file). The agent never
        reads the scenario (the world): what it knows of its orbit comes from its navigation state. Config
        problems raise ValueError subclasses (one line)."""
        self.cfg = cfg
        self.emit = emit
        b = cfg.bios
        self.self_test = SelfTest(b.devices, {"power": Threshold(b.power_warn_below, b.power_error_below)}
                                  if "power" in b.devices else None, stale_after_s=b.stale_after_s)
        self.bios: BiosResult | None = None
        self.bios_seq = 0
        self.now_s = 0.0
        self._boot_t: float | None = None
        self._start_t: float | None = None
        self._next_test_s = 0.0
        self.warnings = WarningThrottle(cfg.warn_interval_s, emit)
        self.inputs = InputChecks(self.warnings, lambda: self.now_s)
        self.lifecycle = MissionLifecycle()
        self.fsm = AgentStateMachine.from_yaml(
            cfg.fsm_file,
            guards={"all_systems_go": lambda: bool(self.bios and self.bios.all_systems_go),
                    "mission_pending": lambda: self.lifecycle.active},
            actions={"run_self_test": self._on_boot, "start_mission": self._on_start_mission,
                     "start_avoidance": self._on_start_avoidance, "stop_vehicle": self._on_stop_vehicle},
            on_transition=self._on_transition,
            on_guard_hold=lambda a, b, until: self.emit(
                EventCode.FSM_OSCILLATION_HOLD, Event.WARN, f"{a} <-> {b} flapping: held until t={until:.1f} s"),
        )
        self.fsm.validate_triggers(list(OPERATOR_TRIGGERS.values()) + ["self_test_passed", "self_test_failed"])
        self.fsm.validate_states(REQUIRED_STATES)
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
        if mission.kind not in KINDS[self.profile]:
            raise ValueError(f"agent: a {self.profile} flies a {' or '.join(KINDS[self.profile])} mission, not "
                             f"{mission.kind} ({cfg.mission_file or 'mission'})")
        devices = list(description.devices)
        unknown = sorted(set(b.devices) - set(devices))
        if unknown:
            raise ValueError(f"agent: bios.devices {unknown} are not devices of vehicle '{description.name}' (they "
                             f"would never report; use some of {devices})")
        self.rules = RuleEngine.from_yaml(rules_file, self.fsm.spec)
        if self.rules.threat is None:
            raise ValueError(f"{rules_file}: threat: section missing (the agent needs the threat parameters)")
        self.threat_assessment = ThreatAssessment(self.rules.threat)
        self.pilot: Pilot = (BotPilot(description, mission, self.rules.threat, emit, self.warnings)
                             if self.profile == "bot" else StationPilot(description, mission, emit)
                             if mission.kind == "observe" else ShipPilot(description, mission, emit))

        self.upstream_silent: tuple[str, ...] = ()   # upstream nodes whose step heartbeat stopped
        self._upstream_gap_t = -math.inf              # sim time an upstream node last came back from a gap
        self.threat_report: ThreatReport = self.threat_assessment.assess(np.zeros(3), np.zeros(3), TrackSet.empty())
        self._last_cmd_t: Optional[float] = None

    # --- status -------------------------------------------------------------------------------
    @property
    def mission_name(self) -> str:
        return self.pilot.mission_name

    @property
    def mission(self):
        """The pilot's mission (WaypointPatrol or StationKeeping)."""
        return self.pilot.mission

    @property
    def mission_progress(self) -> float:
        return float(self.mission.progress)

    @property
    def mission_result(self) -> str:
        """'none' (never started), 'active', 'complete' or 'aborted'."""
        return self.lifecycle.result.value

    @property
    def ego(self) -> Optional[EgoState]:
        """The latest accepted vehicle state."""
        return self.inputs.ego

    @property
    def inputs_rejected(self) -> int:
        return self.inputs.rejected

    # --- inputs (checked by InputChecks) -------------------------------------------------------
    def on_device_health(self, names, levels, values, stamp_s: float) -> None:
        """Raw device readings (see InputChecks.device_health); a new level is graded at the next tick."""
        self.inputs.device_health(names, levels, values, stamp_s)

    def on_vehicle_state(self, t_s: float, position, quaternion_wxyz, velocity_world, angular_velocity_body) -> None:
        """Ego state at sim time t_s in the world frame (map / ECI); angular velocity: inertial, body axes."""
        if self.inputs.vehicle_state(t_s, position, quaternion_wxyz, velocity_world, angular_velocity_body):
            self.pilot.on_ego(self.inputs.ego)

    def on_tracks(self, t_s: float, ids, status, iff, band, state, covariance=None, transponder_code=None) -> None:
        """A TrackArray at sim time t_s in the tracking frame (map / LVLH), see InputChecks.track_array."""
        self.inputs.track_array(t_s, ids, status, iff, band, state, covariance, transponder_code)

    def on_radar_frame(self, t_s: float) -> None:
        """A radar frame arrived (radar liveness, fact seconds_since_radar_frame)."""
        self.inputs.radar_frame(t_s)

    def on_upstream(self, t_s: float, silent, missed: dict[str, int] | None = None, restarted=()) -> None:
        """The upstream nodes (sim, radar, tracker) whose StepDone heartbeat the step barrier lost
        (fact upstream_silent), those that just came back after missing steps before it noticed
        (`missed`: node -> steps), and those that announced a new process incarnation without missing a
        step (`restarted`: a standby took over between two steps). Either of the last two is a gap (fact
        seconds_since_upstream_gap): the node lost its state. A change is an event."""
        silent = tuple(sorted(silent))
        missed = missed or {}
        restarted = sorted(set(restarted) - set(missed))
        if (missed or restarted) and finite(t_s):
            self._upstream_gap_t = float(t_s)
            gaps = [f"{name} missed {n} step{'s' if n != 1 else ''}" for name, n in sorted(missed.items())]
            gaps += [f"{name} restarted" for name in restarted]
            self.emit(EventCode.UPSTREAM_SILENT, Event.ERROR, f"{', '.join(gaps)}: its state is lost")
            self.emit(EventCode.UPSTREAM_RESUMED, Event.INFO,
                      f"step heartbeat back from {', '.join(sorted([*missed, *restarted]))}")
        if silent == self.upstream_silent:
            return
        lost, back = sorted(set(silent) - set(self.upstream_silent)), sorted(set(self.upstream_silent) - set(silent))
        self.upstream_silent = silent
        if lost:
            self.emit(EventCode.UPSTREAM_SILENT, Event.ERROR, f"no step heartbeat from {', '.join(lost)}: "
                      "running without it")
        if back:
            self.emit(EventCode.UPSTREAM_RESUMED, Event.INFO, f"step heartbeat back from {', '.join(back)}")

    # --- ticking ------------------------------------------------------------------------------
    def start(self, now_s: float) -> None:
        self.now_s = now_s
        self._start_t = now_s
        self._state_since = now_s
        self.emit(EventCode.BOOT_STARTED, Event.INFO, f"agent booting ({self.profile}, vehicle "
                  f"{self.description.name}, mission {self.mission_name}), state machine {self.cfg.fsm_file}")
        self.fsm.start()

    def tick(self, now_s: float) -> Command:
        """Advance the agent to sim time now_s and return the command for the vehicle."""
        if self._start_t is None:
            self.start(now_s)
        self.now_s = now_s
        if now_s >= self._next_test_s or self.inputs.readings_changed:
            self.run_self_test()
        if self.fsm.state == BOOTING:
            if self.bios and self.bios.all_systems_go:
                if self.fsm.fire("self_test_passed", now_s):
                    self.emit(EventCode.BOOT_COMPLETE, Event.INFO, f"boot complete in {now_s - self._boot_t:.2f} s")
            elif now_s - self._boot_t >= self.cfg.bios.boot_timeout_s:
                self.fsm.fire("self_test_failed", now_s)

        tracks = self.inputs.tracks_at(self.ego.t_s if self.ego else now_s)
        threat_tracks = self._assess(tracks)
        if self.lifecycle.active and self.mission.done:
            self.lifecycle.complete()
            self.emit(EventCode.MISSION_COMPLETE, Event.INFO,
                      f"mission {self.mission_name} complete at t={now_s:.1f} s")
        if self.fsm.state == IDLE and self.cfg.mission.autostart and self.lifecycle.may_autostart:
            self.fsm.fire("start_mission", now_s)

        firing = self.rules.step(self._facts(now_s), now_s, self.fsm.fire)
        if firing:
            severe = firing.trigger in ("enter_safe_mode", "threat_detected")
            self.emit(EventCode.RULE_FIRED, Event.WARN if severe else Event.INFO, f"{firing.trigger}: {firing.reason}")

        state, ego = self.fsm.state, self.ego
        dt_s = now_s - self._last_cmd_t if self._last_cmd_t is not None else 1.0 / self.cfg.tick_hz
        if state in (MISSION_ACTIVE, ALERT) and ego is None:
            cmd = self.pilot.stop(f"{state}: no vehicle state yet, stop")
        elif state == MISSION_ACTIVE:
            cmd = self.pilot.mission_command(now_s, dt_s, ego, tracks, self.inputs.codes, threat_tracks)
        elif state == ALERT:
            cmd = self.pilot.avoidance_command(now_s, dt_s, ego, tracks, threat_tracks, self.threat_report,
                                               self.lifecycle.active)
        else:
            cmd = self.pilot.stop(f"{state}: stop")
        self._last_cmd_t = now_s
        return cmd

    def command(self, number: int, offset_lvlh_m=()) -> tuple[bool, str]:
        """Operator command -> (accepted, reason); the resulting state is `self.fsm.state`. SET_OFFSET takes
        offset_lvlh_m (station keeping only)."""
        if number == _Op.SET_OFFSET:
            return self._set_offset(offset_lvlh_m)
        trigger = OPERATOR_TRIGGERS.get(number)
        if trigger is None:
            return False, f"unknown command {number} (valid: {sorted([*OPERATOR_TRIGGERS, _Op.SET_OFFSET])})"
        before, commanded = self.fsm.state, self.lifecycle.safe_mode_commanded
        if trigger == "enter_safe_mode":
            self.lifecycle.command_safe_mode()  # set first: the stop action reads it
        if self.fsm.fire(trigger, self.now_s):
            return True, f"{trigger}: {before} -> {self.fsm.state}"
        self.lifecycle.refused_safe_mode(commanded)
        reason = f"{trigger} not allowed in state {before}"
        self.emit(EventCode.FSM_TRIGGER_REFUSED, Event.WARN, reason)
        return False, reason

    def _set_offset(self, offset_lvlh_m) -> tuple[bool, str]:
        """The station-keeping mission holds a new offset (ShipPilot.set_offset); refused in one line otherwise."""
        set_offset = getattr(self.pilot, "set_offset", None)
        if set_offset is None:
            accepted, reason = False, f"SET_OFFSET: mission {self.mission_name} has no station-keeping offset"
        else:
            accepted, reason = set_offset(offset_lvlh_m)
        self.emit(EventCode.MISSION_STARTED if accepted else EventCode.FSM_TRIGGER_REFUSED,
                  Event.INFO if accepted else Event.WARN, reason)
        return accepted, reason

    # --- decisions ----------------------------------------------------------------------------
    def run_self_test(self) -> BiosResult:
        previous = self.bios
        self.bios = self.self_test.run(self.now_s, self.inputs.readings)
        self.bios_seq += 1
        self.inputs.readings_changed = False
        self._next_test_s = self.now_s + self.cfg.bios.retest_s
        if previous is not None:
            for old, new in zip(previous.devices, self.bios.devices):
                if old.level != new.level:
                    self.emit(EventCode.BIOS_DEVICE_CHANGED, Event.WARN if new.level > old.level else Event.INFO,
                              f"{new.name}: {old.level.name} -> {new.level.name} ({new.message})")
        if previous is None or previous.all_systems_go != self.bios.all_systems_go:
            bad = [f"{d.name}={d.level.name}" for d in self.bios.devices if d.level != OK]
            if self.bios.all_systems_go:
                self.emit(EventCode.BIOS_PASSED, Event.INFO, f"self test passed, health {self.bios.health_score:.2f}")
            else:
                self.emit(EventCode.BIOS_FAILED, Event.ERROR if previous else Event.WARN,
                          f"self test: not all systems go ({', '.join(bad)})")
        return self.bios

    def _facts(self, now_s: float) -> Facts:
        report, bios = self.threat_report, self.bios
        inputs = self.inputs
        radar_t = inputs.last_radar_t if inputs.last_radar_t is not None else self._start_t
        tracks_t = inputs.last_tracks_t if inputs.last_tracks_t is not None else self._start_t
        return Facts(state=self.fsm.state, seconds_in_state=now_s - self._state_since,
                     bios_ok=bool(bios and bios.all_systems_go), health_score=bios.health_score if bios else 0.0,
                     seconds_since_radar_frame=max(0.0, now_s - radar_t),
                     seconds_since_tracks=max(0.0, now_s - tracks_t),
                     upstream_silent=len(self.upstream_silent),
                     seconds_since_upstream_gap=max(0.0, now_s - self._upstream_gap_t), threat_count=report.count,
                     min_tcpa_s=report.min_tcpa_s, min_dcpa_m=report.min_dcpa_m,
                     mission_pending=self.lifecycle.active, mission_done=bool(self.mission.done),
                     mission_progress=self.mission_progress, safe_mode_commanded=self.lifecycle.safe_mode_commanded)

    def _assess(self, tracks: TrackSet) -> TrackSet:
        """Threat assessment of the tracks; THREAT_DETECTED / THREAT_CLEARED events on changes. Returns the
        tracks in the assessment frame (the pilot's threat_geometry); Threat.index rows refer to them."""
        ego_pos, ego_vel, tracks = self.pilot.threat_geometry(self.ego, tracks)
        before = {t.id: t for t in self.threat_report.threats}
        self.threat_report = report = self.threat_assessment.assess(ego_pos, ego_vel, tracks)
        now = {t.id: t for t in report.threats}
        for tid, t in now.items():
            if tid not in before:
                self.emit(EventCode.THREAT_DETECTED, Event.WARN, f"track {tid}: TCPA {t.tcpa_s:.1f} s, "
                          f"DCPA {t.dcpa_m:.2f} m < {t.radius_m:.2f} m, range {np.linalg.norm(t.rel_pos):.1f} m")
        for tid in before.keys() - now.keys():
            rows = np.flatnonzero(tracks.id == tid)
            if rows.size:
                i = rows[0]
                self.emit(EventCode.THREAT_CLEARED, Event.INFO, f"track {tid}: TCPA {report.tcpa_s[i]:.1f} s, "
                          f"DCPA {report.dcpa_m[i]:.2f} m")
            else:
                self.emit(EventCode.THREAT_CLEARED, Event.INFO, f"track {tid}: lost")
        return tracks

    # --- FSM actions --------------------------------------------------------------------------
    def _on_boot(self) -> None:
        """Entering BOOTING (start or operator reset): self test now, mission back to not started."""
        if self._boot_t is not None:  # a reset, not the first boot
            if self.lifecycle.active:
                self.emit(EventCode.MISSION_ABORTED, Event.WARN, f"mission {self.mission_name} aborted: reset")
            self.pilot.reset()
            self.rules.reset()
            self.lifecycle.reset()
        self._boot_t = self.now_s
        self._next_test_s = self.now_s

    def _on_start_mission(self) -> None:
        """Entering MISSION_ACTIVE: resume after an ALERT or a safe-mode interruption, else start afresh."""
        verb = self.lifecycle.start()
        if verb is None:
            return  # back from ALERT
        if verb == "started":
            self.mission.reset()
        self.emit(EventCode.MISSION_STARTED, Event.INFO,
                  f"mission {self.mission_name} {verb}: {self.pilot.mission_started()}")

    def _on_start_avoidance(self) -> None:
        self.pilot.start_avoidance()

    def _on_stop_vehicle(self) -> None:
        """Entering SAFE_MODE: the running mission is aborted (resumed after recovery unless commanded)."""
        if self.lifecycle.enter_safe_mode():
            self.emit(EventCode.MISSION_ABORTED, Event.WARN, f"mission {self.mission_name} aborted: safe mode")

    def _on_transition(self, tr: Transition) -> None:
        """After every transition (and after the destination's entry actions); bookkeeping before the events,
        so that a status published on the transition event is already consistent."""
        self._state_since = tr.t_s
        interrupted = tr.dest == IDLE and self.lifecycle.active
        if interrupted:
            # the operator's abort, or ALERT -> IDLE while the oscillation guard holds ALERT <-> MISSION_ACTIVE
            # (autostart then resumes the mission)
            self.lifecycle.interrupt(by_operator=tr.trigger == "abort")
        self.emit(EventCode.FSM_TRANSITION, Event.INFO, f"{tr.source} -> {tr.dest} ({tr.trigger})")
        if interrupted:
            why = ("aborted by the operator" if tr.trigger == "abort"
                   else f"interrupted ({tr.source} -> {IDLE}, {tr.trigger})")
            self.emit(EventCode.MISSION_ABORTED, Event.WARN, f"mission {self.mission_name} {why} "
                      f"at {100 * self.mission_progress:.0f} %")
