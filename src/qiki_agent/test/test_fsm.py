"""YAML-defined agent state machine: shipped configs, every bot.yaml transition, oscillation guard, validation."""
import collections
import pathlib
import re
import textwrap

import pytest
import yaml

from qiki_agent.fsm import AgentStateMachine, FsmConfigError, Transition, load_spec

CONFIG = pathlib.Path(__file__).resolve().parents[3] / "config" / "fsm"
BOT = CONFIG / "bot.yaml"
SPEC = load_spec(BOT)
STATES = [s.name for s in SPEC.states]
GUARDS = sorted({g for t in SPEC.transitions for g in t.guard + t.unless})
ACTIONS = sorted({a for s in SPEC.states for a in s.on_enter + s.on_exit})


class Host:
    """Stand-in for the agent node: switchable guards, counted actions, recorded callbacks."""

    def __init__(self, path=BOT, **kwargs):
        self.flags = {g: True for g in GUARDS}
        self.calls = collections.Counter()
        self.holds = []
        self.seen = []
        self.fsm = AgentStateMachine.from_yaml(
            path,
            guards={g: (lambda g=g: self.flags[g]) for g in GUARDS},
            actions={a: (lambda a=a: self.calls.update([a])) for a in ACTIONS},
            on_guard_hold=lambda *args: self.holds.append(args),
            on_transition=self.seen.append,
            **kwargs,
        )

    def arm(self, index):
        """Set guards so spec.transitions[index] is the one that fires: its guards pass and
        earlier transitions with the same trigger and an overlapping source are refused."""
        target = SPEC.transitions[index]
        self.flags = {g: True for g in GUARDS}
        for g in target.unless:
            self.flags[g] = False
        for t in SPEC.transitions[:index]:
            if t.trigger == target.trigger and ("*" in t.source or set(t.source) & set(target.source)):
                blockable = [g for g in t.guard if g not in target.guard]
                assert blockable, f"transition {index} is shadowed by an earlier unguarded one"
                self.flags[blockable[0]] = False

    def drive_to(self, state, clock):
        """Walk the shortest path of YAML transitions from the current state to `state`."""
        paths = collections.deque([(self.fsm.state, [])])
        seen = {self.fsm.state}
        while paths:
            here, path = paths.popleft()
            if here == state:
                break
            for i, t in enumerate(SPEC.transitions):
                if ("*" in t.source or here in t.source) and t.dest not in seen:
                    seen.add(t.dest)
                    paths.append((t.dest, path + [i]))
        assert here == state, f"no path to {state}"
        for i in path:
            self.arm(i)
            assert self.fsm.fire(SPEC.transitions[i].trigger, next(clock))
            assert self.fsm.state == SPEC.transitions[i].dest


def slow_clock(step_s=100.0):
    """Timestamps far enough apart that the oscillation guard never engages."""
    t = 0.0
    while True:
        t += step_s
        yield t


@pytest.mark.parametrize("name", ["bot.yaml", "ship.yaml"])
def test_shipped_configs_load(name):
    host = Host(CONFIG / name)
    assert host.fsm.state == "BOOTING"
    assert {"BOOTING", "IDLE", "MISSION_ACTIVE", "ALERT", "SAFE_MODE"} <= {s.name for s in host.fsm.spec.states}
    host.fsm.validate_triggers(host.fsm.spec.triggers)


def expanded_transitions():
    """One case per (transition, concrete source state); '*' expands to every state."""
    return [
        pytest.param(i, source, id=f"{i}:{t.trigger}:{source}->{t.dest}")
        for i, t in enumerate(SPEC.transitions)
        for source in (STATES if "*" in t.source else t.source)
    ]


@pytest.mark.parametrize("index, source", expanded_transitions())
def test_every_bot_transition(index, source):
    t = SPEC.transitions[index]
    host, clock = Host(), slow_clock()
    host.drive_to(source, clock)
    host.arm(index)
    now = next(clock)
    assert host.fsm.fire(t.trigger, now)
    assert host.fsm.state == t.dest
    assert host.fsm.history[-1] == Transition(now, source, t.dest, t.trigger)
    assert host.seen[-1] == host.fsm.history[-1]


@pytest.mark.parametrize("index, source", [p for p in expanded_transitions() if SPEC.transitions[p.values[0]].guard])
def test_guarded_transition_refused_when_guard_false(index, source):
    t = SPEC.transitions[index]
    host, clock = Host(), slow_clock()
    host.drive_to(source, clock)
    host.arm(index)
    host.flags[t.guard[0]] = False
    before = len(host.fsm.history)
    host.fsm.fire(t.trigger, next(clock))
    assert host.fsm.state != t.dest
    assert all(h.dest != t.dest for h in host.fsm.history[before:])


def test_refused_guard_keeps_state_and_returns_false():
    host = Host()
    host.flags["all_systems_go"] = False
    assert host.fsm.fire("self_test_passed", 1.0) is False
    assert host.fsm.state == "BOOTING"
    assert host.fsm.history == []


def test_invalid_trigger_in_state_returns_false_and_keeps_state():
    host = Host()
    assert "mission_complete" not in host.fsm.triggers_available()
    assert host.fsm.fire("mission_complete", 1.0) is False
    assert host.fsm.state == "BOOTING"
    assert host.fsm.history == []


def test_unknown_trigger_name_raises():
    with pytest.raises(ValueError, match="did you mean 'abort'"):
        Host().fsm.fire("abrot", 1.0)


def test_entry_actions_run_and_start_runs_initial_entry():
    host = Host()
    host.fsm.start()
    assert host.calls["run_self_test"] == 1
    host.fsm.fire("self_test_failed", 1.0)
    assert host.calls["stop_vehicle"] == 1


def test_fire_from_inside_an_action_is_queued_after_current_transition():
    spec_actions = {a: (lambda: None) for a in ACTIONS}
    fsm = None

    def self_test():
        fsm.fire("self_test_passed", 2.0)

    fsm = AgentStateMachine.from_yaml(BOT, guards={g: (lambda: True) for g in GUARDS},
                                      actions={**spec_actions, "run_self_test": self_test})
    assert fsm.fire("self_test_failed", 1.0)
    assert fsm.fire("reset", 2.0)  # entering BOOTING runs the self test, which passes
    assert [(h.source, h.dest) for h in fsm.history] == [
        ("BOOTING", "SAFE_MODE"), ("SAFE_MODE", "BOOTING"), ("BOOTING", "IDLE")]


def flap(fsm, times, t0=0.0, dt=1.0):
    """Alternate IDLE <-> MISSION_ACTIVE; return the fire() results."""
    results = []
    for k in range(times):
        trigger = "start_mission" if fsm.state == "IDLE" else "abort"
        results.append(fsm.fire(trigger, t0 + k * dt))
    return results


def test_oscillation_guard_holds_then_releases_after_cooldown():
    host, osc = Host(), SPEC.oscillation_guard
    host.drive_to("IDLE", slow_clock(1.0))
    t0 = 10.0
    assert flap(host.fsm, osc.max_flips, t0) == [True] * osc.max_flips
    last = t0 + (osc.max_flips - 1)
    last_step = host.fsm.history[-1]
    assert host.holds == [(last_step.source, last_step.dest, last + osc.cooldown_s)]
    state = host.fsm.state
    assert host.fsm.fire("start_mission" if state == "IDLE" else "abort", last + 1.0) is False
    assert host.fsm.state == state
    assert host.fsm.fire("start_mission" if state == "IDLE" else "abort", last + osc.cooldown_s) is True


def test_oscillation_guard_never_holds_threat_detection():
    """threat_detected is exempt: a flapping ALERT pair holds threat_cleared, never the alert itself."""
    host, osc = Host(), SPEC.oscillation_guard
    assert "threat_detected" in osc.exempt
    host.drive_to("IDLE", slow_clock(1.0))
    for k in range(2 * osc.max_flips):
        trigger = "threat_detected" if host.fsm.state == "IDLE" else "threat_cleared"
        host.fsm.fire(trigger, 10.0 + 0.1 * k)
    assert host.fsm.state == "ALERT" or host.fsm.fire("threat_detected", 12.0)


def test_oscillation_guard_ignores_flips_spread_beyond_window():
    host, osc = Host(), SPEC.oscillation_guard
    host.drive_to("IDLE", slow_clock(1.0))
    spacing = osc.window_s / (osc.max_flips - 1) + 0.01
    assert flap(host.fsm, 3 * osc.max_flips, 10.0, spacing) == [True] * (3 * osc.max_flips)
    assert host.holds == []


def test_oscillation_guard_does_not_hold_safety_triggers():
    host, osc = Host(), SPEC.oscillation_guard
    host.drive_to("IDLE", slow_clock(1.0))
    flap(host.fsm, osc.max_flips, 10.0)
    assert host.holds
    assert host.fsm.fire("enter_safe_mode", 14.0)
    assert host.fsm.state == "SAFE_MODE"


# ---------------------------------------------------------------- validation

VALID = yaml.safe_load(BOT.read_text())


def write(tmp_path, doc):
    path = tmp_path / "bad.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


def mutated(change):
    doc = yaml.safe_load(BOT.read_text())
    change(doc)
    return doc


def expect_error(path, key, *fragments):
    """Loading `path` with the standard host fails with a one-line message naming file and key."""
    with pytest.raises(FsmConfigError) as info:
        Host(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_state_in_dest(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["transitions"][3].update(dest="IDEL")))
    expect_error(path, "transitions[3].dest", "unknown state 'IDEL'", "did you mean 'IDLE'", "known: BOOTING")


def test_unknown_state_in_source_and_initial(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["transitions"][4].update(source=["MISSION_ACTIVE", "IDLY"])))
    expect_error(path, "transitions[4].source", "unknown state 'IDLY'")
    path = write(tmp_path, mutated(lambda d: d.update(initial="BOOT")))
    expect_error(path, "initial", "unknown state 'BOOT'")


def test_unreachable_state(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["states"].append({"name": "DOCKED"})))
    expect_error(path, "states[5].name", "'DOCKED' is unreachable from initial 'BOOTING'")


def test_unknown_guard_name(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["transitions"][0].update(guard=["all_sytems_go"])))
    expect_error(path, "transitions[0].guard[0]", "unknown guard 'all_sytems_go'", "did you mean 'all_systems_go'")


def test_unknown_action_name(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["states"][4].update(on_enter=["stop"])))
    expect_error(path, "states[4].on_enter[0]", "unknown action 'stop'")


def test_duplicate_state(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["states"].append({"name": "IDLE"})))
    expect_error(path, "states[5].name", "duplicate state 'IDLE'", "states[1]")


def test_malformed_yaml(tmp_path):
    lines = BOT.read_text().splitlines()
    bad = lines.index("  - name: IDLE") + 1  # 0-based index of the inserted line
    lines.insert(bad, "    on_enter: [oops")
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(FsmConfigError) as info:
        Host(path)
    message = str(info.value)
    match = re.match(rf"{re.escape(str(path))}: line (\d+), column \d+: YAML syntax error: .+", message)
    assert match and "\n" not in message, message
    assert bad + 1 <= int(match.group(1)) <= bad + 2  # the unclosed list is noticed on its line or the next


def test_hostile_yaml_is_one_line_error(tmp_path):
    for text, problem in ((b"\xff\xfe", "cannot read: 'utf-8' codec can't decode"),
                          (b"a: " + b"[" * 2000 + b"]" * 2000, "YAML nested too deeply"),
                          (b"a: 1" + b"0" * 5000, "cannot read: Exceeds the limit")):
        path = tmp_path / "bad.yaml"
        path.write_bytes(text)
        with pytest.raises(FsmConfigError) as info:
            load_spec(path)
        assert str(info.value).startswith(f"{path}: <file>: {problem}") and "\n" not in str(info.value)


def test_wrong_type(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["oscillation_guard"].update(window_s="ten")))
    expect_error(path, "oscillation_guard.window_s", "valid number", "'ten'")


def test_missing_and_extra_keys(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["transitions"][2].pop("dest")))
    expect_error(path, "transitions[2].dest", "missing")
    path = write(tmp_path, mutated(lambda d: d["states"][0].update(colour="red")))
    expect_error(path, "states[0].colour", "unknown key", "allowed here: name, on_enter, on_exit")


def test_declared_trigger_without_transition(tmp_path):
    path = write(tmp_path, mutated(lambda d: d["triggers"].append("dock")))
    expect_error(path, f"triggers[{len(VALID['triggers'])}]", "no transition handles trigger 'dock'")


def test_validate_triggers_for_host():
    fsm = Host().fsm
    fsm.validate_triggers(["abort", "reset"])
    with pytest.raises(FsmConfigError) as info:
        fsm.validate_triggers(["abort", "dock"])
    assert str(info.value).startswith(f"{BOT}: transitions: ") and "'dock'" in str(info.value)


def test_validate_states_for_host():
    fsm = Host().fsm
    fsm.validate_states(["BOOTING", "ALERT"])
    with pytest.raises(FsmConfigError) as info:
        fsm.validate_states(["IDLE", "DOCKED"])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{BOT}: states: no state 'DOCKED'"), message
    assert f"states here: {', '.join(STATES)}" in message, message


def test_unless_is_a_negative_guard(tmp_path):
    doc = textwrap.dedent("""
        initial: A
        states: [{name: A}, {name: B}]
        transitions:
          - {trigger: go, source: A, dest: B, unless: blocked}
          - {trigger: back, source: B, dest: A}
    """)
    blocked = {"on": True}
    fsm = AgentStateMachine.from_yaml(write(tmp_path, doc), guards={"blocked": lambda: blocked["on"]}, actions={})
    assert fsm.fire("go", 1.0) is False
    blocked["on"] = False
    assert fsm.fire("go", 2.0) is True and fsm.state == "B"
