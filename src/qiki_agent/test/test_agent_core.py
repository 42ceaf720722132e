"""AgentCore closed loop without ROS: the real simulator cores, tracks synthesised from truth, the shipped
config (config/params/<profile>.yaml agent parameters, config/fsm, config/rules, config/scenarios).

The loop mimics the lockstep graph: the sim steps at its dt, device health goes out at 2 Hz, vehicle state
every step, radar frames and tracks at 10 Hz (SR band rate), and the agent ticks at its tick_hz (10 Hz).
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field

import numpy as np
import pytest
import yaml

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_core import AgentCore, Command
from qiki_agent.fsm import FsmConfigError
from qiki_agent.mission_file import load_mission
from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_ros.events import EventCode
from qiki_sim.scenario import Scenario, load_scenario
from qiki_sim.ship_simulation import ShipSimulation
from qiki_sim.simulation import BotSimulation

CONFIG = pathlib.Path(__file__).parents[3] / "config"


def node_params(profile: str) -> dict:
    return yaml.safe_load((CONFIG / "params" / f"{profile}.yaml").read_text())


#: the default scenario (and so mission) of each profile, as config/graph.yaml
DEFAULT_SCENARIO = {"bot": "bot_patrol", "ship": "ship_station_keeping"}


def agent_config(profile: str, scenario_name: str | None = None, **overrides) -> AgentNodeConfig:
    """The agent's parameters exactly as the launcher gives them: params file + `files` paths + the
    scenario's vehicle (description and mission; the default scenario's unless named)."""
    params = node_params(profile)["/**/agent"]["ros__parameters"]
    vehicle = load_scenario(CONFIG / "scenarios" / f"{scenario_name or DEFAULT_SCENARIO[profile]}.yaml").vehicle
    return AgentNodeConfig.model_validate({**params, "fsm_file": str(CONFIG / "fsm" / f"{profile}.yaml"),
                                           "rules_file": str(CONFIG / "rules" / f"{profile}.yaml"),
                                           "description": vehicle.description,
                                           "mission_file": str(CONFIG / "missions" / f"{vehicle.mission}.yaml"),
                                           **overrides})


#: the ship mission as shipped, but holding station forever (these tests watch the holding, not its end)
HOLD_STATION_FOREVER = {"hold_s": 0.0}


def scenario(name: str, **changes) -> Scenario:
    sc = load_scenario(CONFIG / "scenarios" / f"{name}.yaml")
    return sc.model_copy(update=changes) if changes else sc


@dataclass
class Loop:
    """One vehicle + agent. Tracks: every object within the SR range of the ego, confirmed, SR band, IFF from
    the tracker's friend/foe codes, state from truth (map for the bot, the chaser's LVLH for the ship)."""

    sim: object
    agent: AgentCore
    events: list = field(default_factory=list)
    states: list = field(default_factory=list)  # (t, FSM state) after every tick
    commands: list = field(default_factory=list)  # (t, Command)
    watch_id: int | None = None  # object whose distance to the ego is recorded every step
    distance: list = field(default_factory=list)  # (t, distance to watch_id) [m]
    closest: tuple = (math.inf, -1, 0.0)  # (distance, id, t) of the nearest approach of any object [m]
    tracker_down: tuple = (math.inf, math.inf)  # sim time window with no tracks and the tracker's heartbeat lost
    # (sim time, how) the tracker comes back with its state lost: "missed" 12 steps, or "restarted" (none missed)
    tracker_gaps: list = field(default_factory=list)

    @classmethod
    def make(cls, sc: Scenario, mission_changes: dict | None = None, **cfg_overrides) -> "Loop":
        """sc: the world; mission_changes: keys of its mission file replaced; cfg_overrides: agent parameters."""
        events = []
        sim = BotSimulation(sc) if sc.profile == "bot" else ShipSimulation(sc)
        cfg = agent_config(sc.profile, sc.name, **cfg_overrides)
        mission = load_mission(cfg.mission_file).model_copy(update=mission_changes or {})
        agent = AgentCore(cfg, lambda code, sev, text: events.append((sim.time_s, int(code), sev, text)),
                          mission=mission)
        loop = cls(sim, agent, events)
        params = node_params(sc.profile)
        trk = params["/**/tracker"]["ros__parameters"]["tracker"]
        loop.friend, loop.foe = set(trk["friend_codes"]), set(trk["foe_codes"])
        loop.sr_m = sim.description.radar.sr_threshold_m
        return loop

    @property
    def t(self) -> float:
        return self.sim.time_s

    def relative_truth(self):
        """Objects in the tracking frame: map (bot) or the chaser's LVLH (ship)."""
        return self.sim.truth() if self.agent.profile == "bot" else self.sim.relative_truth_lvlh()

    def tracks(self):
        truth = self.relative_truth()
        ego = self.sim.ego_state().position if self.agent.profile == "bot" else np.zeros(3)
        near = np.linalg.norm(truth.position - ego, axis=1) < self.sr_m
        codes = truth.transponder_code[near]
        iff = np.where(np.isin(codes, list(self.friend)), TrackArray.IFF_FRIEND,
                       np.where(np.isin(codes, list(self.foe)), TrackArray.IFF_FOE, TrackArray.IFF_UNKNOWN))
        n = int(near.sum())
        cov = np.tile(np.diag([0.01, 0.01, 0.01, 0.0025, 0.0025, 0.0025]), (n, 1, 1))
        return dict(ids=truth.id[near], status=np.full(n, TrackArray.STATUS_CONFIRMED), iff=iff,
                    band=np.full(n, RadarFrame.BAND_SR),
                    state=np.hstack([truth.position[near], truth.velocity[near]]), covariance=cov,
                    transponder_code=codes)

    def run(self, until_s: float, stop=lambda loop: False) -> "Loop":
        sim, agent = self.sim, self.agent
        tick_steps = round(1.0 / (agent.cfg.tick_hz * sim.dt))
        health_steps = round(0.5 / sim.dt)
        while sim.time_s < until_s - 1e-9:
            k, t = sim.step_index, sim.time_s
            if k % health_steps == 0:
                agent.on_device_health(*sim.device_readings(), t)
            e = sim.ego_state()
            agent.on_vehicle_state(t, e.position, e.quaternion_wxyz, e.velocity_world, e.angular_velocity_body)
            if k % tick_steps == 0:
                agent.on_radar_frame(t)
                down = self.tracker_down[0] <= t < self.tracker_down[1]
                gap = self.tracker_gaps[0][1] if self.tracker_gaps and t >= self.tracker_gaps[0][0] - 1e-9 else None
                agent.on_upstream(t, ["tracker"] if down else [], {"tracker": 12} if gap == "missed" else None,
                                  ["tracker"] if gap == "restarted" else ())
                if gap:
                    self.tracker_gaps.pop(0)
                if not down:
                    agent.on_tracks(t, **self.tracks())
                cmd = agent.tick(t)
                self.apply(cmd)
                self.states.append((t, agent.fsm.state))
                self.commands.append((t, cmd))
                if stop(self):
                    break
            sim.step()
            if self.watch_id is not None:
                truth = self.relative_truth()
                ego = sim.ego_state().position if agent.profile == "bot" else np.zeros(3)
                d = np.linalg.norm((truth.position - ego)[:, :2 if agent.profile == "bot" else 3], axis=1)
                self.distance.append((sim.time_s, float(d[truth.id == self.watch_id][0])))
                i = int(np.argmin(d))
                self.closest = min(self.closest, (float(d[i]), int(truth.id[i]), sim.time_s))
        return self

    def apply(self, cmd: Command) -> None:
        if cmd.profile == "bot":
            self.sim.command(cmd.v, cmd.w)
        else:
            self.sim.command_thrusters(cmd.throttle)

    def codes(self) -> list[int]:
        return [e[1] for e in self.events]

    def first(self, code: int):
        return next((e for e in self.events if e[1] == code), None)

    def state_times(self, name: str) -> list[float]:
        return [t for t, s in self.states if s == name]

    def min_distance(self) -> tuple[float, float]:
        t, d = min(self.distance, key=lambda td: td[1])
        return d, t


def rules_threat(profile: str) -> dict:
    return yaml.safe_load((CONFIG / "rules" / f"{profile}.yaml").read_text())["threat"]


def transitions(agent: AgentCore) -> list[tuple[str, str, str]]:
    return [(h.source, h.dest, h.trigger) for h in agent.fsm.history]


def done_and_idle(loop: Loop) -> bool:
    return loop.agent.mission_result == "complete" and loop.agent.fsm.state == "IDLE"


# ====================================================================== bot


def test_bot_boots_autostarts_patrols_to_completion_and_idles():
    sc = scenario("bot_patrol")
    loop = Loop.make(sc).run(sc.duration_s, stop=done_and_idle)
    agent = loop.agent
    assert transitions(agent)[:2] == [("BOOTING", "IDLE", "self_test_passed"),
                                      ("IDLE", "MISSION_ACTIVE", "start_mission")]
    assert transitions(agent)[-1] == ("MISSION_ACTIVE", "IDLE", "mission_complete")
    assert agent.mission_name == "patrol" and agent.mission_result == "complete" and agent.mission_progress == 1.0
    started, complete = loop.first(EventCode.MISSION_STARTED), loop.first(EventCode.MISSION_COMPLETE)
    assert started[0] < 1.0 and complete[0] < sc.duration_s
    assert not {EventCode.MISSION_ABORTED, EventCode.INPUT_REJECTED} & set(loop.codes())
    assert "SAFE_MODE" not in {s for _, s in loop.states}
    # stopped at the last waypoint; no autostart after completion
    ego = loop.sim.ego_state()
    assert np.hypot(*(ego.position[:2] - np.array(agent.mission_spec.waypoints[-1]))) < agent.mission.params.arrive_radius_m + 0.1
    last = loop.commands[-1][1]
    assert (last.v, last.w) == (0.0, 0.0) and last.reason == "IDLE: stop"
    loop.run(loop.t + 2.0)
    assert agent.fsm.state == "IDLE" and loop.codes().count(EventCode.MISSION_STARTED) == 1
    # commands inside the BotParams-derived bounds; the rate limiter's warning is rate limited itself
    bp = loop.sim.description.chassis
    v_max = bp.max_wheel_speed_radps * bp.wheel_radius_m
    assert max(abs(c.v) for _, c in loop.commands) <= v_max
    clamped = [e[0] for e in loop.events if e[1] == EventCode.COMMAND_CLAMPED]
    assert clamped and all(b - a >= agent.cfg.warn_interval_s for a, b in zip(clamped, clamped[1:]))
    print(f"\nbot patrol: mission complete at t={complete[0]:.1f} s (scenario {sc.duration_s:.0f} s), "
          f"{len(clamped)} rate-limit warnings")


def test_bot_avoids_a_foe_on_a_collision_course_and_finishes_the_patrol():
    """bot_crossing as shipped: a foe (transponder 6601, id 1) head-on at 2.5 m/s closing, 100 random movers."""
    sc = scenario("bot_crossing")
    loop = Loop.make(sc)
    loop.watch_id = 1
    loop.run(sc.duration_s, stop=done_and_idle)
    agent, safe_radius = loop.agent, rules_threat("bot")["safe_radius_m"]
    assert ("MISSION_ACTIVE", "ALERT", "threat_detected") in transitions(agent)
    detected = next(e for e in loop.events if e[1] == EventCode.THREAT_DETECTED and e[3].startswith("track 1:"))
    avoid = next(e for e in loop.events if e[1] == EventCode.AVOIDANCE_MANOEUVRE and "track 1 " in e[3])
    assert avoid[0] == detected[0] and "planned miss" in avoid[3]
    miss, when = loop.min_distance()
    assert miss > safe_radius, f"foe passed {miss:.2f} m from the ego at t={when:.1f} s"
    # back to the mission after the threat, then the patrol completes within the scenario
    alert_end = next(h for h in agent.fsm.history if h.source == "ALERT")
    assert alert_end.dest in ("MISSION_ACTIVE", "IDLE") and alert_end.trigger == "threat_cleared"
    assert done_and_idle(loop) and loop.t < sc.duration_s
    print(f"\nbot crossing: foe min distance {miss:.2f} m at t={when:.1f} s (safe radius {safe_radius} m); "
          f"closest of all objects {loop.closest[0]:.2f} m (id {loop.closest[1]}); complete at t={loop.t:.1f} s")


def test_bot_without_a_mission_evades_a_foe_in_alert():
    """autostart off: the robot idles; a foe heading straight at it -> ALERT, it steps aside, then IDLE again."""
    base = scenario("bot_crossing")
    foe = base.objects[0].model_copy(update={"position": (40.0, 0.3, 0.0)})
    sc = base.model_copy(update={"objects": [foe], "random_movers": None})
    loop = Loop.make(sc, mission={"autostart": False})
    loop.watch_id = 1
    loop.run(45.0)
    agent = loop.agent
    assert agent.mission_result == "none"
    steps = [t[:2] for t in transitions(agent)]
    assert steps[:2] == [("BOOTING", "IDLE"), ("IDLE", "ALERT")] and agent.fsm.state == "IDLE"
    assert set(steps[1:]) == {("IDLE", "ALERT"), ("ALERT", "IDLE")}
    assert any(c.reason == "ALERT: evading" and c.v > 0 for _, c in loop.commands)
    miss, _ = loop.min_distance()
    assert miss > rules_threat("bot")["safe_radius_m"]
    print(f"\nbot evading without a mission: foe min distance {miss:.2f} m")


def test_radar_failure_puts_the_bot_in_safe_mode_within_a_second_and_it_resumes_after_recovery():
    fail_at, fixed_at = 20.25, 24.0  # between two device-health messages (2 Hz)
    sc = scenario("bot_patrol", failures=[{"device": "radar_sr", "at_s": fail_at, "level": 2},
                                          {"device": "radar_sr", "at_s": fixed_at, "level": 0}])
    loop = Loop.make(sc).run(40.0)
    agent = loop.agent
    entered = next(t for t, s in loop.states if s == "SAFE_MODE")
    latency = entered - fail_at
    assert 0.0 < latency <= 1.0
    assert any("radar_sr: OK -> ERROR" in e[3] for e in loop.events if e[1] == EventCode.BIOS_DEVICE_CHANGED)
    aborted = loop.first(EventCode.MISSION_ABORTED)
    assert aborted and "safe mode" in aborted[3] and aborted[0] == pytest.approx(entered)
    # the vehicle is told to stop at once, and it does
    assert all((c.v, c.w) == (0.0, 0.0) for t, c in loop.commands if entered <= t < fixed_at)
    # recovery: 5 s of all systems go (rule `recovered`), then autostart resumes the patrol where it was
    recovered = next(h for h in agent.fsm.history if h.trigger == "recover")
    assert fixed_at + 5.0 <= recovered.t_s <= fixed_at + 6.5
    resumed = [e for e in loop.events if e[1] == EventCode.MISSION_STARTED][-1]
    assert "resumed" in resumed[3] and agent.fsm.state == "MISSION_ACTIVE" and agent.mission_result == "active"
    print(f"\nradar_sr ERROR at t={fail_at} s -> SAFE_MODE at t={entered:.2f} s (latency {latency:.2f} s); "
          f"recovered at t={recovered.t_s:.1f} s")


def test_lost_tracker_heartbeat_means_safe_mode_at_the_next_tick_and_the_patrol_resumes_after_it_is_back():
    loop = Loop.make(scenario("bot_patrol"))
    loop.tracker_down = (20.0, 21.0)
    loop.run(35.0)
    agent = loop.agent
    entered = next(t for t, s in loop.states if s == "SAFE_MODE")
    assert entered == pytest.approx(20.0)
    silent = loop.first(EventCode.UPSTREAM_SILENT)
    assert silent and "tracker" in silent[3]
    assert loop.first(EventCode.UPSTREAM_RESUMED)[0] == pytest.approx(21.0)
    assert all((c.v, c.w) == (0.0, 0.0) for t, c in loop.commands if 20.0 <= t < 21.0)
    recovered = next(h for h in agent.fsm.history if h.trigger == "recover")
    assert 21.0 + 5.0 <= recovered.t_s <= 21.0 + 6.5       # rule `recovered`: 5 s of fresh tracks and heartbeats
    assert agent.fsm.state == "MISSION_ACTIVE" and agent.mission_result == "active"


@pytest.mark.parametrize("kind, text", [("missed", "tracker missed 12 steps"), ("restarted", "tracker restarted")])
def test_tracker_back_after_a_restart_means_safe_mode_and_the_patrol_resumes(kind, text):
    """A restart faster than the heartbeat timeout: the barrier never dropped the tracker, but the
    steps it missed are a gap, or (a standby taking over between two steps) its StepDone carries a new
    incarnation; either way the new process has lost every track."""
    loop = Loop.make(scenario("bot_patrol"))
    loop.tracker_gaps = [(20.0, kind)]
    loop.run(35.0)
    agent = loop.agent
    entered = next(t for t, s in loop.states if s == "SAFE_MODE")
    assert entered == pytest.approx(20.0)
    silent, resumed = loop.first(EventCode.UPSTREAM_SILENT), loop.first(EventCode.UPSTREAM_RESUMED)
    assert silent[0] == resumed[0] == pytest.approx(20.0) and text in silent[3]
    recovered = next(h for h in agent.fsm.history if h.trigger == "recover")
    assert 21.0 + 5.0 <= recovered.t_s <= 21.0 + 6.5   # gap fact >= 1 s, then 5 s of `recovered`
    assert agent.fsm.state == "MISSION_ACTIVE" and agent.mission_result == "active"


def test_operator_abort_is_not_undone_by_autostart_and_start_restarts_the_patrol():
    loop = Loop.make(scenario("bot_patrol")).run(5.0)
    agent = loop.agent
    assert agent.command(2) == (True, "abort: MISSION_ACTIVE -> IDLE")
    assert agent.mission_result == "aborted" and "by the operator" in loop.events[-1][3]
    loop.run(8.0)
    assert agent.fsm.state == "IDLE" and loop.commands[-1][1].v == 0.0
    accepted, _ = agent.command(1)
    assert accepted and agent.mission_result == "active" and "started" in loop.first(EventCode.MISSION_STARTED)[3]
    assert agent.mission_progress == 0.0  # afresh: back to the first waypoint
    assert agent.command(9)[0] is False and agent.command(4)[0]  # unknown command; reset -> BOOTING
    assert agent.fsm.state == "BOOTING" and agent.mission_result == "none"
    loop.run(9.0)
    assert agent.fsm.state == "MISSION_ACTIVE"  # rebooted and autostarted


# ====================================================================== ship


def ship_error(loop: Loop) -> float:
    """Truth: |chaser - target - offset| in LVLH [m]."""
    rel = loop.sim.relative_truth_lvlh()
    target = rel.position[rel.id == loop.sim.target_id][0]
    return float(np.linalg.norm(-target - np.array(loop.agent.mission_spec.offset_lvlh_m)))


def test_ship_station_keeping_converges_to_the_offset_with_thruster_throttles():
    """ship_station_keeping with the target displaced to (20, 230, 10) m: 37 m from the default offset."""
    base = scenario("ship_station_keeping")
    objects = [o.model_copy(update={"position": (20.0, 230.0, 10.0)}) if o.role == "target" else o
               for o in base.objects]
    loop = Loop.make(base.model_copy(update={"objects": objects}), mission_changes=HOLD_STATION_FOREVER)
    agent = loop.agent
    errors = [(0.0, ship_error(loop))]
    for t in (30.0, 60.0, 90.0, 120.0, 150.0):
        loop.run(t)
        errors.append((t, ship_error(loop)))
    assert transitions(agent)[:2] == [("BOOTING", "IDLE", "self_test_passed"),
                                      ("IDLE", "MISSION_ACTIVE", "start_mission")]
    assert agent.mission_name == "station_keeping" and agent.mission_result == "active"
    assert errors[0][1] > 30.0 and all(b[1] < a[1] for a, b in zip(errors, errors[1:]))
    assert errors[-1][1] < agent.mission.params.pos_tol_m and agent.mission_progress == 1.0
    throttles = np.array([c.throttle for _, c in loop.commands])
    assert throttles.shape[1] == loop.sim.rcs.n and throttles.min() >= 0.0 and throttles.max() <= 1.0
    assert throttles.max() > 0.2 and loop.sim.propellant_kg < sc_propellant(loop) - 0.1
    assert agent.threat_report.count == 0 and "SAFE_MODE" not in {s for _, s in loop.states}
    print("\nship station keeping error [m]: " + ", ".join(f"t={t:.0f} s {e:.2f}" for t, e in errors)
          + f"; propellant used {sc_propellant(loop) - loop.sim.propellant_kg:.2f} kg")


def sc_propellant(loop: Loop) -> float:
    return loop.sim.params.propellant_kg


def test_ship_holds_station_in_the_default_scenario():
    loop = Loop.make(scenario("ship_station_keeping"), mission_changes=HOLD_STATION_FOREVER).run(60.0)
    assert loop.agent.fsm.state == "MISSION_ACTIVE" and ship_error(loop) < 0.1
    assert "station keeping" in loop.commands[-1][1].reason


def test_ship_dodges_collision_debris_and_returns_to_station_keeping():
    """ship_debris_field: debris 30 would pass 7.2 m from the chaser at t = 150 s; it enters SR at ~99 s."""
    sc = scenario("ship_debris_field")
    loop = Loop.make(sc, mission_changes=HOLD_STATION_FOREVER)
    loop.watch_id = 30
    loop.run(175.0)
    agent, safe_radius = loop.agent, rules_threat("ship")["safe_radius_m"]
    detected = next(e for e in loop.events if e[1] == EventCode.THREAT_DETECTED)
    assert detected[3].startswith("track 30:") and 95.0 < detected[0] < 105.0
    assert ("MISSION_ACTIVE", "ALERT", "threat_detected") in transitions(agent)
    avoid = loop.first(EventCode.AVOIDANCE_MANOEUVRE)
    assert avoid[0] == detected[0] and "track 30 " in avoid[3] and "planned miss" in avoid[3]
    burning = [c for t, c in loop.commands if c.reason.startswith("ALERT: avoidance burn")]
    assert burning and max(c.throttle.max() for c in burning) > 0.5
    miss, when = loop.min_distance()
    assert miss > safe_radius, f"debris passed {miss:.1f} m from the chaser at t={when:.1f} s"
    assert 145.0 < when < 155.0
    assert ("ALERT", "MISSION_ACTIVE", "threat_cleared") in transitions(agent)
    assert agent.fsm.state == "MISSION_ACTIVE" and "station keeping" in loop.commands[-1][1].reason
    print(f"\nship debris: threat at t={detected[0]:.1f} s, miss {miss:.1f} m at t={when:.1f} s "
          f"(safe radius {safe_radius} m, 7.2 m without the burn); station error after {ship_error(loop):.1f} m")


# ====================================================================== inputs


def test_malformed_inputs_are_counted_and_ignored_never_raised():
    sc = scenario("bot_patrol")
    loop = Loop.make(sc).run(1.0)
    agent = loop.agent
    good = loop.tracks()
    n = len(good["ids"])
    assert n >= 1
    bad_state = good["state"].copy()
    bad_state[0, 0] = np.nan
    t = loop.t
    inputs = [
        lambda: agent.on_tracks(t, **{**good, "covariance": np.full((n, 6, 6), np.inf)}),  # every row dropped
        lambda: agent.on_tracks(t, **{**good, "ids": good["ids"][:-1]}),  # lengths disagree: whole array ignored
        lambda: agent.on_tracks(t, **{**good, "state": good["state"].ravel()[:-1]}),
        lambda: agent.on_tracks(t, **{**good, "transponder_code": np.zeros(n + 1)}),
        lambda: agent.on_tracks(t, **{**good, "ids": ["a"] * n}),
        lambda: agent.on_tracks(t, **{**good, "ids": -good["ids"].astype(float) - 1}),
        lambda: agent.on_tracks(float("nan"), **good),
        lambda: agent.on_tracks(t, **{**good, "state": bad_state}),  # one NaN row: dropped, the rest kept
        lambda: agent.on_vehicle_state(t, [0, np.inf, 0], [1, 0, 0, 0], [0, 0, 0], [0, 0, 0]),
        lambda: agent.on_vehicle_state(t, [0, 0], [1, 0, 0, 0], [0, 0, 0], [0, 0, 0]),
        lambda: agent.on_vehicle_state(t, [0, 0, 0], [0, 0, 0, 0], [0, 0, 0], [0, 0, 0]),
        lambda: agent.on_vehicle_state(t, None, "q", {}, 3),
        lambda: agent.on_device_health(["radar_sr", "power"], [0], [1.0, 1.0], t),
    ]
    before_ego, events_before = agent.ego, len(loop.events)
    for feed in inputs:
        feed()
    assert agent.inputs_rejected == len(inputs)
    assert agent.ego is before_ego  # no bad vehicle state got through
    rejected = [e for e in loop.events[events_before:] if e[1] == EventCode.INPUT_REJECTED]
    assert {e[3].split()[0] for e in rejected} == {"tracks", "vehicle_state", "device_health"}  # one per kind
    assert len(agent.inputs.tracks) == n - 1 and good["ids"][0] not in agent.inputs.tracks.id  # only the NaN row dropped
    cmd = agent.tick(t + 0.1)
    assert agent.fsm.state == "MISSION_ACTIVE" and math.isfinite(cmd.v) and math.isfinite(cmd.w)


def test_missing_or_threatless_rules_file_is_a_one_line_config_error(tmp_path):
    sc = scenario("bot_patrol")
    with pytest.raises(ValueError, match="rules_file is empty"):
        AgentCore(agent_config("bot", sc.name, rules_file=""), lambda *a: None)
    rules = yaml.safe_load((CONFIG / "rules" / "bot.yaml").read_text())
    del rules["threat"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    with pytest.raises(ValueError, match="threat: section missing"):
        AgentCore(agent_config("bot", sc.name, rules_file=str(path)), lambda *a: None)
    with pytest.raises(ValueError, match="description is empty"):
        AgentCore(agent_config("bot", description=""), lambda *a: None)
    with pytest.raises(ValueError, match="mission_file is empty"):
        AgentCore(agent_config("bot", mission_file=""), lambda *a: None)
    with pytest.raises(ValueError, match="a bot flies a patrol mission, not station_keeping"):
        AgentCore(agent_config("bot", mission_file=str(CONFIG / "missions" / "ship_station_keeping.yaml")),
                  lambda *a: None)
    with pytest.raises(ValueError, match=r"bios.devices \['drive'\] are not devices of vehicle 'ship'"):
        AgentCore(agent_config("ship", bios={"devices": ["drive", "power"]}), lambda *a: None)


@pytest.mark.parametrize("profile", ["bot", "ship"])
def test_a_state_the_agent_relies_on_missing_from_the_fsm_yaml_is_a_one_line_config_error(tmp_path, profile):
    """The FSM YAML is self-consistent with ALERT renamed, but the agent names ALERT: refused at load."""
    text = (CONFIG / "fsm" / f"{profile}.yaml").read_text().replace("ALERT", "EVADING")
    path = tmp_path / "fsm.yaml"
    path.write_text(text)
    with pytest.raises(FsmConfigError) as info:
        AgentCore(agent_config(profile, fsm_file=str(path)), lambda *a: None)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: states: no state 'ALERT'"), message
    assert "states here: BOOTING, IDLE, MISSION_ACTIVE, EVADING, SAFE_MODE" in message, message


def test_the_agent_never_reads_the_scenario_its_orbit_comes_from_its_navigation_state():
    """No scenario parameter; the ship's mean motion and held attitude are those of its first vehicle state
    (here the sim's initial state, so equal to what the scenario's orbit gives)."""
    from qiki_geometry.lvlh import lvlh_rotation
    from qiki_geometry.orbit_elements import mean_motion_of
    from transforms3d.quaternions import mat2quat, quat2mat

    assert "scenario_file" not in AgentNodeConfig.model_fields
    sc = scenario("ship_station_keeping")
    loop = Loop.make(sc)
    e = loop.sim.ego_state()
    agent = loop.agent
    agent.on_vehicle_state(0.0, e.position, e.quaternion_wxyz, e.velocity_world, e.angular_velocity_body)
    p = agent.mission.params
    assert p.mean_motion_radps == mean_motion_of(e.position, e.velocity_world)
    expected = mat2quat(lvlh_rotation(e.position, e.velocity_world).T @ quat2mat(e.quaternion_wxyz))
    np.testing.assert_array_equal(p.attitude_target, expected)
    np.testing.assert_allclose(np.abs(p.attitude_target), 0.5, atol=1e-12)  # the scenario's LVLH attitude
    later = loop.sim.ego_state()  # a second state does not move the targets
    agent.on_vehicle_state(0.1, later.position * 1.001, later.quaternion_wxyz, later.velocity_world,
                           later.angular_velocity_body)
    assert agent.mission.params == p


def test_agent_step_feeds_the_core_by_port_and_sends_status_command_and_events():
    """qiki_agent.agent_step (what the agent node and the core engine run): a malformed input is counted,
    not raised; the first tick boots the core and sends the status, the BIOS report and a command."""
    from collections import Counter, defaultdict

    from qiki_agent.agent_step import AgentStep
    from qiki_msgs.msg import DeviceHealth

    class Ports:
        def __init__(self):
            self.sent, self.counters = defaultdict(list), Counter()

        def publish(self, port, msg):
            self.sent[port].append(msg)

        def has_readers(self, port):
            return True

        def count_input(self, counter, text, n=1):
            self.counters[counter] += n

        def count(self, counter):
            return self.counters[counter]

        def log(self, level, text, throttle_key=None):
            pass

    ports = Ports()
    step = AgentStep(agent_config("bot"), ports)
    bad = DeviceHealth(name=["drive", "power"])          # two names, no levels: dropped and counted
    step.step(0, {"device_health": [bad]})
    assert ports.counters["inputs_dropped"] == 1
    assert ports.sent["cmd"] and ports.sent["cmd"][-1].header.stamp.sec == 0
    assert ports.sent["status"] and ports.sent["events"]
    assert {e.code for e in ports.sent["events"]} >= {int(EventCode.BOOT_STARTED)}
