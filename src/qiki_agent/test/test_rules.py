"""YAML safety rules: shipped rules per state, for_s hold, cooldown, priority, FSM loop, validation."""
import dataclasses
import math
import pathlib
import re
import textwrap

import pytest
import yaml

from qiki_agent.fsm import AgentStateMachine, load_spec
from qiki_agent.rules import FACT_TYPES, Facts, RuleEngine, RulesConfigError

ROOT = pathlib.Path(__file__).resolve().parents[3] / "config"
PROFILES = ["bot", "ship"]
STATES = ["BOOTING", "IDLE", "MISSION_ACTIVE", "ALERT", "SAFE_MODE"]


def fsm_spec(profile):
    return load_spec(ROOT / "fsm" / f"{profile}.yaml")


def engine(profile="bot", path=None):
    return RuleEngine.from_yaml(path or ROOT / "rules" / f"{profile}.yaml", fsm_spec(profile))


def facts(state="IDLE", **changes):
    """A healthy, quiet vehicle: no rule's condition holds except threat_gone's (no threat)."""
    base = Facts(state=state, seconds_in_state=100.0, bios_ok=True, health_score=1.0,
                 seconds_since_radar_frame=0.1, seconds_since_tracks=0.1, upstream_silent=0,
                 seconds_since_upstream_gap=math.inf, threat_count=0,
                 min_tcpa_s=math.inf, min_dcpa_m=math.inf,
                 mission_pending=True, mission_done=False, mission_progress=0.3, safe_mode_commanded=True)
    return dataclasses.replace(base, **changes)


# rule -> (facts that trip it, states it must fire in). Written out here, not read from the YAML.
TRIPS = {
    "bios_failed": ({"bios_ok": False}, {"IDLE", "MISSION_ACTIVE", "ALERT"}),
    "radar_silent": ({"seconds_since_radar_frame": 30.0}, {"IDLE", "MISSION_ACTIVE", "ALERT"}),
    "upstream_silent": ({"upstream_silent": 1}, {"IDLE", "MISSION_ACTIVE", "ALERT"}),
    "tracker_silent": ({"seconds_since_tracks": 30.0}, {"IDLE", "MISSION_ACTIVE", "ALERT"}),
    "collision_threat": ({"threat_count": 1, "min_tcpa_s": 4.0, "min_dcpa_m": 0.5}, {"IDLE", "MISSION_ACTIVE"}),
    "threat_gone": ({"threat_count": 0}, {"ALERT"}),
    "mission_finished": ({"mission_done": True, "mission_progress": 1.0}, {"MISSION_ACTIVE"}),
    "recovered": ({"safe_mode_commanded": False}, {"SAFE_MODE"}),
}
TRIGGERS = {"bios_failed": "enter_safe_mode", "radar_silent": "enter_safe_mode",
            "upstream_silent": "enter_safe_mode", "tracker_silent": "enter_safe_mode", "collision_threat": "threat_detected",
            "threat_gone": "threat_cleared", "mission_finished": "mission_complete", "recovered": "recover"}
# facts under which the rule's condition is false (threat_gone needs a threat present)
QUIET = {name: {} for name in TRIPS} | {"threat_gone": {"threat_count": 2, "min_tcpa_s": 3.0, "min_dcpa_m": 1.0}}


def due_after_hold(eng, f, hold_s, t0=0.0, dt=0.1):
    """Evaluate the same facts every dt from t0 for hold_s (+ a tick); names due at the end."""
    eng.reset()
    t, due = t0, []
    while t <= t0 + hold_s + dt + 1e-9:
        due = eng.evaluate(f, t)
        t += dt
    return [d.rule for d in due]


@pytest.mark.parametrize("profile", PROFILES)
def test_shipped_rules_load_and_cover_the_expected_rules(profile):
    eng = engine(profile)
    assert [r.name for r in eng.rules] == list(TRIPS)
    assert {r.name: r.trigger for r in eng.rules} == TRIGGERS
    assert eng.threat is not None and eng.threat.bands == [1] and eng.threat.iff == [0, 2]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("rule", list(TRIPS))
@pytest.mark.parametrize("state", STATES)
def test_each_shipped_rule_fires_in_its_states_only(profile, rule, state):
    eng = engine(profile)
    hold = max(r.for_s for r in eng.rules)
    trip, states = TRIPS[rule]
    fires = rule in due_after_hold(eng, facts(state, **trip), hold)
    assert fires == (state in states)
    assert rule not in due_after_hold(eng, facts(state, **QUIET[rule]), hold)


@pytest.mark.parametrize("profile", PROFILES)
def test_an_upstream_gap_trips_upstream_silent_and_holds_off_recovery_for_a_second(profile):
    eng = engine(profile)
    assert "upstream_silent" in due_after_hold(eng, facts("MISSION_ACTIVE", seconds_since_upstream_gap=0.0), 0.0)
    assert "upstream_silent" not in due_after_hold(eng, facts("MISSION_ACTIVE", seconds_since_upstream_gap=1.0), 0.0)
    hold = next(r.for_s for r in eng.rules if r.name == "recovered")
    fresh = facts("SAFE_MODE", safe_mode_commanded=False, seconds_since_upstream_gap=0.5)
    assert "recovered" not in due_after_hold(eng, fresh, hold)
    assert "recovered" in due_after_hold(eng, dataclasses.replace(fresh, seconds_since_upstream_gap=1.0), hold)


@pytest.mark.parametrize("profile", PROFILES)
def test_health_trip_has_hysteresis(profile):
    eng = engine(profile)
    assert "bios_failed" in due_after_hold(eng, facts("MISSION_ACTIVE", health_score=0.4), 0.0)
    assert "bios_failed" not in due_after_hold(eng, facts("MISSION_ACTIVE", health_score=0.6), 0.0)
    recovering = facts("SAFE_MODE", safe_mode_commanded=False, health_score=0.6)
    assert "recovered" not in due_after_hold(eng, recovering, 60.0)  # above trip, below recovery level


def test_operator_safe_mode_is_not_auto_recovered():
    eng = engine()
    assert "recovered" not in due_after_hold(eng, facts("SAFE_MODE", safe_mode_commanded=True), 60.0)


def test_for_s_condition_must_hold_continuously():
    eng = engine()  # threat_gone: ALERT, threat_count == 0 for 3 s
    quiet, threat = facts("ALERT"), facts("ALERT", threat_count=1, min_tcpa_s=5.0, min_dcpa_m=1.0)
    assert eng.evaluate(quiet, 10.0) == []
    assert eng.evaluate(quiet, 12.9) == []
    assert eng.evaluate(threat, 13.0) == []  # interruption resets the hold
    assert eng.evaluate(quiet, 13.1) == []
    assert eng.evaluate(quiet, 16.0) == []
    due = eng.evaluate(quiet, 16.1)
    assert [d.rule for d in due] == ["threat_gone"] and due[0].trigger == "threat_cleared"
    assert "threat_gone: threat_count=0 == 0 for 3.0 s" in due[0].reason
    assert eng.evaluate(facts("IDLE"), 16.2) == []  # leaving the rule's states resets it too
    assert eng.evaluate(quiet, 16.3) == []


def test_cooldown_after_an_attempt(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent("""
        rules:
          - {name: stop, when: '*', condition: {fact: bios_ok, eq: false}, trigger: abort, cooldown_s: 2.0}
    """))
    eng = RuleEngine.from_yaml(path, triggers=["abort"])
    bad, tried = facts(bios_ok=False), []
    refuse = lambda trig, t: tried.append((trig, t)) or False  # noqa: E731
    for t in (0.0, 0.5, 1.9, 2.0, 3.0, 4.0):
        assert eng.step(bad, t, refuse) is None
    assert tried == [("abort", 0.0), ("abort", 2.0), ("abort", 4.0)]
    assert [d.rule for d in eng.evaluate(bad, 4.5)] == []
    assert [d.rule for d in eng.evaluate(bad, 6.0)] == ["stop"]


def test_priority_is_file_order_and_step_falls_through_refusals(tmp_path):
    eng = engine()
    both = facts("MISSION_ACTIVE", bios_ok=False, seconds_since_radar_frame=9.0, threat_count=1, mission_done=True)
    assert [d.rule for d in eng.evaluate(both, 0.0)] == ["bios_failed", "radar_silent", "collision_threat",
                                                         "mission_finished"]
    doc = yaml.safe_load((ROOT / "rules" / "bot.yaml").read_text())
    doc["rules"].reverse()
    path = tmp_path / "reversed.yaml"
    path.write_text(yaml.safe_dump(doc))
    rev = engine(path=path)
    assert [d.rule for d in rev.evaluate(both, 0.0)] == ["mission_finished", "collision_threat", "radar_silent",
                                                         "bios_failed"]
    tried = []
    accept_only_threat = lambda trig, t: tried.append(trig) or trig == "threat_detected"  # noqa: E731
    eng.reset()
    fired = eng.step(both, 0.0, accept_only_threat)
    assert fired.rule == "collision_threat"
    assert tried == ["enter_safe_mode", "enter_safe_mode", "threat_detected"]  # mission_finished not tried


def test_time_going_backwards_resets_holds():
    eng = engine()
    quiet = facts("ALERT")
    eng.evaluate(quiet, 100.0)
    assert eng.evaluate(quiet, 0.0) == []  # sim restarted: the 100 s hold is forgotten
    assert eng.evaluate(quiet, 2.9) == []
    assert [d.rule for d in eng.evaluate(quiet, 3.0)] == ["threat_gone"]


@pytest.mark.parametrize("profile", PROFILES)
def test_rules_drive_the_state_machine_through_a_threat_and_a_radar_outage(profile):
    """The shipped rules and FSM together: mission -> ALERT -> mission -> SAFE_MODE -> IDLE -> done."""
    eng = engine(profile)
    flags = {"all_systems_go": True, "mission_pending": True}
    fsm = AgentStateMachine(fsm_spec(profile), guards={g: (lambda g=g: flags[g]) for g in flags},
                            actions={a: (lambda: None) for a in ("run_self_test", "start_mission", "start_avoidance",
                                                                 "stop_vehicle")})
    t, dt, log = 0.0, 0.5, []
    assert fsm.fire("self_test_passed", t) and fsm.fire("start_mission", t)
    timeline = [  # (duration, fact changes)
        (20.0, {}),
        (5.0, {"threat_count": 1, "min_tcpa_s": 6.0, "min_dcpa_m": 0.3}),
        (30.0, {}),
        (30.0, {"seconds_since_radar_frame": 40.0}),
        (40.0, {}),
    ]
    for duration, changes in timeline:
        end = t + duration
        while t < end:
            f = facts(fsm.state, safe_mode_commanded=False, mission_pending=fsm.state != "IDLE", **changes)
            fired = eng.step(f, t, fsm.fire)
            if fired:
                log.append((fired.rule, fsm.state))
            t += dt
    assert log == [("collision_threat", "ALERT"), ("threat_gone", "MISSION_ACTIVE"),
                   ("radar_silent", "SAFE_MODE"), ("recovered", "IDLE")]
    assert fsm.fire("start_mission", t)
    done = eng.step(facts(fsm.state, mission_done=True, safe_mode_commanded=False), t + 1.0, fsm.fire)
    assert done.rule == "mission_finished" and fsm.state == "IDLE"


def test_every_fact_is_typed():
    assert set(FACT_TYPES) == {f.name for f in dataclasses.fields(Facts)}
    assert set(FACT_TYPES.values()) <= {bool, int, float, str}
    with pytest.raises(TypeError):
        Facts(state="IDLE")  # every fact must be given


# ---------------------------------------------------------------- validation

BOT = ROOT / "rules" / "bot.yaml"


def mutated(tmp_path, change):
    doc = yaml.safe_load(BOT.read_text())
    change(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def rule_index(name):
    return [r["name"] for r in yaml.safe_load(BOT.read_text())["rules"]].index(name)


R_REC, R_RADAR = rule_index("recovered"), rule_index("radar_silent")


def set_rule(rule, **fields):
    def change(doc):
        doc["rules"][rule_index(rule)].update(fields)
    return change


def cond(rule, condition):
    return set_rule(rule, condition=condition)


CASES = [
    # (change, key, fragments)
    (set_rule("radar_silent", trigger="safe_mode"), f"rules[{R_RADAR}].trigger",
     ["unknown trigger 'safe_mode'", "did you mean 'enter_safe_mode'"]),
    (set_rule("radar_silent", when=["IDLE", "MISSON_ACTIVE"]), f"rules[{R_RADAR}].when[1]",
     ["unknown state 'MISSON_ACTIVE'", "did you mean 'MISSION_ACTIVE'"]),
    (set_rule("radar_silent", when=["*", "IDLE"]), f"rules[{R_RADAR}].when", ["'*' already means every state"]),
    (set_rule("recovered", when=["SAFE_MODE", "IDLE"]), f"rules[{R_REC}].when[1]",
     ["trigger 'recover' has no transition out of state 'IDLE'", "leaves: SAFE_MODE"]),
    (set_rule("radar_silent", for_s=-1.0), f"rules[{R_RADAR}].for_s", ["greater than or equal to 0"]),
    (set_rule("radar_silent", for_s=float("inf")), f"rules[{R_RADAR}].for_s", ["finite number"]),
    (set_rule("radar_silent", cooldown_s="long"), f"rules[{R_RADAR}].cooldown_s", ["valid number", "'long'"]),
    (set_rule("radar_silent", colour="red"), f"rules[{R_RADAR}].colour",
     ["unknown key", "allowed here: name, when, condition, trigger, for_s, cooldown_s"]),
    (lambda d: d["rules"][R_RADAR].pop("trigger"), f"rules[{R_RADAR}].trigger", ["missing"]),
    (set_rule("radar_silent", name="bios_failed"), f"rules[{R_RADAR}].name", ["duplicate rule 'bios_failed'"]),
    (set_rule("radar_silent", name="radar silent"), f"rules[{R_RADAR}].name", ["not a valid name"]),
    (cond("radar_silent", {"fact": "seconds_since_radar", "gt": 2.0}), f"rules[{R_RADAR}].condition.fact",
     ["unknown fact 'seconds_since_radar'", "did you mean 'seconds_since_radar_frame'"]),
    (cond("recovered", {"all": [{"fact": "bios_ok", "eq": True}, {"fact": "bios_okay", "eq": True}]}),
     f"rules[{R_REC}].condition.all[1].fact", ["unknown fact 'bios_okay'"]),
    (cond("radar_silent", {"fact": "bios_ok", "lt": 1}), f"rules[{R_RADAR}].condition.lt",
     ["operator 'lt' does not apply to bool fact 'bios_ok'", "use one of: eq, ne"]),
    (cond("radar_silent", {"fact": "bios_ok", "eq": "no"}), f"rules[{R_RADAR}].condition.eq",
     ["'bios_ok' is a bool fact, got str 'no'"]),
    (cond("radar_silent", {"fact": "threat_count", "gt": True}), f"rules[{R_RADAR}].condition.gt",
     ["'threat_count' is a int fact, got bool"]),
    (cond("radar_silent", {"fact": "threat_count", "above": 1}), f"rules[{R_RADAR}].condition.above",
     ["unknown operator 'above'"]),
    (cond("radar_silent", {"fact": "threat_count", "gt": 1, "lt": 5}), f"rules[{R_RADAR}].condition",
     ["needs exactly one operator, got 2"]),
    (cond("radar_silent", {"fact": "state", "in": ["IDLE", "IDEL"]}), f"rules[{R_RADAR}].condition.in[1]",
     ["unknown state 'IDEL'"]),
    (cond("radar_silent", {"all": []}), f"rules[{R_RADAR}].condition.all", ["non-empty list"]),
    (cond("radar_silent", {"any": [{"fact": "bios_ok", "eq": False}], "fact": "bios_ok"}),
     f"rules[{R_RADAR}].condition", ["has several of fact, all, any, not"]),
    (cond("radar_silent", {"not": {"fact": "bios_ok", "eq": False}, "for": 3}), f"rules[{R_RADAR}].condition.for",
     ["unknown key next to 'not'"]),
    (cond("radar_silent", {"not": "bios_ok"}), f"rules[{R_RADAR}].condition.not", ["expected a condition mapping", "write e.g."]),
    (lambda d: d["threat"].update(tcpa_max="15"), "threat.tcpa_max",
     ["unknown key", "allowed here: tcpa_max_s, safe_radius_m"]),
    (lambda d: d["threat"].update(safe_radius_m=-1.0), "threat.safe_radius_m", ["greater than 0"]),
    (lambda d: d.update(rules=[]), "rules", ["at least 1 item"]),
    (lambda d: d.update(rule=d.pop("rules")), "rule", ["unknown key", "allowed here: threat, rules"]),
]


@pytest.mark.parametrize("change, key, fragments", CASES, ids=[c[1] + ":" + c[2][0][:25] for c in CASES])
def test_validation_error_is_one_line_naming_file_and_key(tmp_path, change, key, fragments):
    path = mutated(tmp_path, change)
    with pytest.raises(RulesConfigError) as info:
        engine(path=path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "(" in message  # every message says how to fix it


def test_malformed_yaml_and_wrong_top_level(tmp_path):
    lines = BOT.read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if "name: radar_silent" in line) + 1
    lines.insert(bad, "    when: [IDLE, ALERT")
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(RulesConfigError) as info:
        engine(path=path)
    message = str(info.value)
    match = re.match(rf"{re.escape(str(path))}: line (\d+), column \d+: YAML syntax error: .+", message)
    assert match and "\n" not in message, message
    assert bad + 1 <= int(match.group(1)) <= bad + 2
    path.write_text("- just\n- a list\n")
    with pytest.raises(RulesConfigError, match=r"bad|broken") as info:
        engine(path=path)
    assert str(info.value).startswith(f"{path}: <top level>: expected a mapping")
    with pytest.raises(RulesConfigError) as info:
        engine(path=tmp_path / "missing.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'missing.yaml'}: <file>: cannot read")


def test_names_only_without_fsm_checks_triggers_and_states(tmp_path):
    with pytest.raises(RulesConfigError, match=r"rules\[0\]\.trigger: unknown trigger 'enter_safe_mode'"):
        RuleEngine.from_yaml(BOT, triggers=["abort"])
    eng = RuleEngine.from_yaml(BOT, triggers=list(TRIGGERS.values()))  # no state list: states unchecked
    assert len(eng.rules) == len(TRIPS)
    with pytest.raises(TypeError):
        RuleEngine.from_yaml(BOT)
