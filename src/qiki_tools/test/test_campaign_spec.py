"""Campaign files: dotted paths, the spec's own checks and the checks against the base scenario, description and
node parameters (run 0 validated with the real loaders); every problem one line naming the file and key."""
import math
import pathlib

import pytest
from hypothesis import given, strategies as st

from file_errors import one_line_error
from qiki_tools.campaign import dotted_path
from qiki_tools.campaign.plan import load_plan
from qiki_tools.campaign.spec import CampaignError, read_spec

CAMPAIGNS = pathlib.Path(__file__).parents[3] / "config" / "campaigns"
HEAD = "scenario: bot_crossing\nruns: 4\nseed: 1\nduration_s: 20\n"
SHIP = "scenario: ship_debris_field\nruns: 4\nseed: 1\nduration_s: 20\n"

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
parts = st.lists(st.one_of(names, st.integers(0, 99)), min_size=1, max_size=6).filter(lambda p: isinstance(p[0], str))


@given(parts)
def test_dotted_path_round_trips(p):
    assert dotted_path.parse(dotted_path.format_path(tuple(p))) == tuple(p)


@given(st.text(max_size=30))
def test_dotted_path_parse_gives_a_path_or_one_line_error(text):
    try:
        parsed = dotted_path.parse(text)
    except dotted_path.PathError as exc:
        assert "\n" not in str(exc)
    else:
        assert dotted_path.format_path(parsed) == text


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=5), st.integers(0, 9), st.floats(-1e6, 1e6))
def test_get_and_set_follow_lists_and_mappings(values, index, new):
    doc = {"a": {"b": list(values)}}
    path = ("a", "b", index)
    if index < len(values):
        assert dotted_path.get(doc, path) == values[index]
        dotted_path.set_value(doc, path, new)
        assert doc["a"]["b"][index] == new
    else:
        with pytest.raises(dotted_path.PathError, match=r"a\.b\[\d\]: index out of range"):
            dotted_path.get(doc, path)


def test_a_key_the_file_leaves_out_comes_from_the_validated_model():
    doc, full = {"ego": {"x": 1.0}}, {"ego": {"x": 1.0, "yaw": 0.0, "rates": [0.0, 0.0]}}
    assert dotted_path.get(doc, ("ego", "rates", 1), full) == 0.0
    dotted_path.set_value(doc, ("ego", "rates", 1), 2.0, full)
    assert doc == {"ego": {"x": 1.0, "rates": [0.0, 2.0]}}
    with pytest.raises(dotted_path.PathError, match=r"ego\.speed: no such key \(keys there: x, yaw, rates\)"):
        dotted_path.get(doc, ("ego", "speed"), full)


@pytest.fixture
def error(tmp_path):
    return one_line_error(tmp_path, "c.yaml", load_plan, CampaignError)


def test_spec_errors_are_one_line_with_key_path(error):
    assert "c.yaml: runs: missing required key" in error("scenario: bot_crossing\nseed: 1\n")
    assert "c.yaml: engine: expected one of 'core' or 'graph', got 'fast'" in error(HEAD + "engine: fast\n")
    assert "c.yaml: unknown key 'seeds'; valid keys: name, description, scenario, runs" in error(HEAD + "seeds: 2\n")
    assert "dispersions[0].dist: expected one of uniform, uniform_int, normal, choice" in error(
        HEAD + "dispersions:\n  - {path: scenario.ego.x, dist: gauss}\n")
    assert "dispersions[0]: expected low <= high, got low 2.0 > high 1.0" in error(
        HEAD + "dispersions:\n  - {path: scenario.ego.x, dist: uniform, low: 2, high: 1}\n")
    assert "dispersions[0]: weights: expected 2 numbers, one per value, got 3" in error(
        HEAD + "dispersions:\n  - {path: scenario.ego.x, dist: choice, values: [1, 2], weights: [1, 1, 1]}\n")
    assert "dispersions[0]: mean and std: expected both numbers or both lists of one length" in error(
        HEAD + "dispersions:\n  - {path: scenario.ego.x, dist: normal, mean: [1, 2], std: 1}\n")
    assert "dispersions[0].path: 'ego.x': expected a path starting with scenario., description. or params." in error(
        HEAD + "dispersions:\n  - {path: ego.x, dist: uniform, low: 1, high: 2}\n")
    assert "dispersions[0].path: 'params.radar': expected a path starting with" in error(
        HEAD + "dispersions:\n  - {path: params.radar, dist: uniform, low: 1, high: 2}\n")
    assert "dispersions[0].path: 'scenario.objects[x]' is not a dotted path: bad part 'objects[x]'" in error(
        HEAD + "dispersions:\n  - {path: 'scenario.objects[x]', dist: uniform, low: 1, high: 2}\n")
    assert "dispersions[1].path: scenario.objects[0].velocity[0] overlaps dispersions[0].path" in error(
        HEAD + "dispersions:\n  - {path: 'scenario.objects[0].velocity', dist: uniform, low: [0, 0, 0], "
               "high: [1, 1, 1]}\n  - {path: 'scenario.objects[0].velocity[0]', dist: uniform, low: 0, high: 1}\n")
    assert "dispersions[0]: at_s: expected min <= max, got [9.0, 1.0]" in error(
        HEAD + "dispersions:\n  - {dist: device_failure, name: f, devices: [comms], at_s: [9, 1]}\n")


def test_a_fleet_base_scenario_is_refused_in_one_line(error):
    assert "c.yaml: scenario: " in error(HEAD.replace("bot_crossing", "bot_fleet"))
    assert "bot_fleet.yaml: a fleet scenario (vehicles:) cannot be a campaign's base yet" in error(
        HEAD.replace("bot_crossing", "bot_fleet"))


def test_errors_against_the_base_documents_name_the_dispersion(error):
    assert "dispersions[0].path: scenario.ego.speed: ego.speed: no such key (keys there: x, y, yaw) (in the base " \
           "scenario)" in error(HEAD + "dispersions:\n  - {path: scenario.ego.speed, dist: uniform, low: 0, high: 1}\n")
    assert "objects[5]: index out of range (the list has 1 items)" in error(
        HEAD + "dispersions:\n  - {path: 'scenario.objects[5].velocity', dist: uniform, low: [0, 0, 0], "
               "high: [1, 1, 1]}\n")
    assert "dispersions[0].path: scenario.objects[0].velocity: the vector form needs a list of 2 numbers there" in error(
        HEAD + "dispersions:\n  - {path: 'scenario.objects[0].velocity', dist: uniform, low: [0, 0], high: [1, 1]}\n")
    assert "expected a number there, found [200.0, 0.0, 0.0] (a vector: give lists of 3 numbers)" in error(
        HEAD + "dispersions:\n  - {path: 'scenario.objects[0].position', dist: uniform, low: 0, high: 1}\n")
    assert "dispersions[0].path: params.tracker.tracker.confirm: tracker.tracker.confirm (from campaign): node " \
           "'tracker' has no parameter 'tracker.confirm'; did you mean 'tracker.tracker.confirm_" in error(
               HEAD + "dispersions:\n  - {path: params.tracker.tracker.confirm, dist: choice, values: [3]}\n")
    assert "unknown node 'tracer'" in error(
        HEAD + "dispersions:\n  - {path: params.tracer.seed, dist: choice, values: [3]}\n")
    assert "dispersions[0].devices: unknown device 'lidar' of vehicle 'bot'" in error(
        HEAD + "dispersions:\n  - {dist: device_failure, name: f, devices: [lidar], at_s: [1, 2]}\n")
    assert "dispersions[0].at_s: at_s [1.0, 30.0] reaches past the run's duration (20 s)" in error(
        HEAD + "dispersions:\n  - {dist: device_failure, name: f, devices: [comms], at_s: [1, 30]}\n")
    assert "dispersions[0].dist: a thruster fault needs a ship scenario; 'bot_crossing' is a bot" in error(
        HEAD + "dispersions:\n  - {dist: thruster_fault, name: f, at_s: [1, 2]}\n")
    assert "dispersions[0].thrusters: thruster 16 does not exist (vehicle 'ship' has 16: 0..15)" in error(
        SHIP + "dispersions:\n  - {dist: thruster_fault, name: f, thrusters: [16], at_s: [1, 2]}\n")
    assert "c.yaml: scenario: " in error("scenario: no_such\nruns: 1\nseed: 1\n")


def test_a_value_the_target_schema_rejects_fails_at_load(error):
    """Run 0 is materialised and validated by the scenario, description and parameter loaders themselves."""
    assert ("dispersions[0]: run 0 draws a scenario its schema rejects: scenario.random_movers.count: expected a "
            "number >= 0") in error(
        HEAD + "dispersions:\n  - {path: scenario.random_movers.count, dist: uniform_int, low: -5, high: -1}\n")
    assert ("dispersions[0]: run 0 draws a description its schema rejects: description.radar.sr.range_std_m: "
            "expected a number >= 0.0, got -1.") in error(
        HEAD + "dispersions:\n  - {path: description.radar.sr.range_std_m, dist: uniform, low: -2, high: -1}\n")
    assert "dispersions[0]: run 0 draws parameters a node rejects: tracker.tracker.confirm_m = 0 (from the " \
           "campaign)" in error(
        HEAD + "dispersions:\n  - {path: params.tracker.tracker.confirm_m, dist: choice, values: [0]}\n")
    assert "dispersions[0]: run 0 draws a scenario its schema rejects: scenario.ego.yaw: expected a number" in error(
        HEAD + "dispersions:\n  - {path: scenario.ego.yaw, dist: choice, values: [north]}\n")


def test_a_range_with_any_value_the_target_rejects_fails_at_load(error, tmp_path):
    """Each dispersion is also checked at each end of its range, whatever run 0 happens to draw."""
    assert ("scenario.random_movers.count: expected a number >= 0, got -5 (with dispersions[0] at {'low': -5}"
            in error(HEAD + "dispersions:\n  - {path: scenario.random_movers.count, dist: uniform_int, low: -5, "
                            "high: 3}\n"))
    assert "with dispersions[0] at {'values': ['x']}" in error(
        HEAD + "dispersions:\n  - {path: params.sim.clock.command_lag_steps, dist: choice, values: [1, x]}\n")
    assert "with dispersions[0] at {'mean': -0.0500" in error(      # 0.15 - 4 * 0.05: an unclipped normal
        HEAD + "dispersions:\n  - {path: description.radar.sr.range_std_m, dist: normal, mean: 0.15, std: 0.05}\n")
    clipped = "dispersions:\n  - {path: description.radar.sr.range_std_m, dist: normal, mean: 0.15, std: 0.05, " \
              "clip: [0.05, 0.4]}\n"
    (tmp_path / "clipped.yaml").write_text(HEAD + clipped)          # the same normal, clipped: loads
    assert load_plan(tmp_path / "clipped.yaml").spec.dispersions[0].clip is not None


@pytest.mark.parametrize("name", ["bot_crossing_mc", "ship_debris_mc"])
def test_shipped_campaigns_load(name):
    plan = load_plan(CAMPAIGNS / f"{name}.yaml")
    assert plan.spec.name == name and plan.spec.runs >= 100 and plan.spec.engine == "core"
    assert len(plan.spec.dispersions) >= 6


def test_spec_name_defaults_to_the_file_stem(tmp_path):
    (tmp_path / "my_mc.yaml").write_text(HEAD)
    assert read_spec(tmp_path / "my_mc.yaml").name == "my_mc"
    assert math.isfinite(read_spec(tmp_path / "my_mc.yaml").duration_s)
