"""Scenario loading errors, shipped scenarios, device health."""
import pathlib

import numpy as np
import pytest

from qiki_description.loader import load_description
from qiki_sim.devices import DeviceHealthModel
from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
BASE = """\
name: t
profile: bot
seed: 1
duration_s: 10
ego: {x: 0, y: 0, yaw: 0}
vehicle: {description: bot, mission: bot_patrol}
"""


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(path):
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("name", ["bot_patrol", "bot_crossing"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(find_scenario(name, SCENARIOS))
    assert sc.name == name and sc.profile == "bot" and sc.dt_s > 0


def test_bot_crossing_has_foe_and_100_movers():
    sc = load_scenario(SCENARIOS / "bot_crossing.yaml")
    assert [o.transponder_code for o in sc.objects] == [6601]
    assert sc.random_movers.count == 100


def test_bot_patrol_has_targets_in_both_radar_bands_and_a_handover():
    from qiki_sim.world import World
    sc = load_scenario(SCENARIOS / "bot_patrol.yaml")
    w = World.from_scenario(sc, np.random.default_rng(sc.seed))
    t = w.truth()
    r = np.hypot(t.position[:, 0] - sc.ego.x, t.position[:, 1] - sc.ego.y)
    assert (r < 60).any() and ((r >= 60) & (r <= 400)).any()
    friend = t.transponder_code == 1001
    assert friend.sum() == 1 and 200 < r[friend][0] < 300
    for _ in range(int(120 / sc.dt_s)):
        w.step(sc.dt_s)
    p = w.truth().position[friend][0]  # nearest route point is within the 40 m square
    assert np.hypot(p[0] - np.clip(p[0], 0, 40), p[1] - np.clip(p[1], 0, 40)) < 60


def test_bad_type_names_file_and_key_path(tmp_path):
    p = write(tmp_path, BASE + "objects:\n  - {kind: robot, position: [0, 0, 0]}\n"
                                "  - {kind: robot, position: [1, 0, 0]}\n"
                                "  - {kind: robot, position: [2, 0, 0], velocity: fast}\n")
    msg = error_of(p)
    assert msg == f"{p}: objects[2].velocity: expected a list of 3 numbers, got 'fast'"


def test_bad_scalar_type(tmp_path):
    msg = error_of(write(tmp_path, BASE.replace("duration_s: 10", "duration_s: long")))
    assert msg.endswith("duration_s: expected a number, got 'long'")
    msg = error_of(write(tmp_path, BASE.replace("ego: {x: 0,", "ego: {x: far,")))
    assert ": ego.x: expected a number, got 'far'" in msg


def test_malformed_yaml_reports_line(tmp_path):
    p = write(tmp_path, BASE + "objects:\n  - {kind: robot, position: [0, 0, 0]\n  bad: : :\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}: invalid YAML at line 8") or msg.startswith(f"{p}: invalid YAML at line 9")


def test_duplicate_key_rejected_with_line(tmp_path):
    msg = error_of(write(tmp_path, BASE + "seed: 2\n"))
    assert "duplicate key 'seed'" in msg and "line 7" in msg


def test_extra_key_rejected_naming_it(tmp_path):
    msg = error_of(write(tmp_path, BASE + "colour: red\n"))
    assert "unknown key 'colour'" in msg and "valid keys:" in msg
    msg = error_of(write(tmp_path, BASE + "objects: [{kind: robot, position: [0, 0, 0], colour: red}]\n"))
    assert "objects[0]: unknown key 'colour'" in msg


def test_behaviour_params_checked(tmp_path):
    msg = error_of(write(tmp_path, BASE + "objects: [{kind: robot, behaviour: turn, position: [0, 0, 0]}]\n"))
    assert "objects[0]: behaviour 'turn' needs key 'turn_rate_radps'" in msg
    msg = error_of(write(tmp_path, BASE + "objects: [{kind: android, position: [0, 0, 0]}]\n"))
    assert "objects[0].kind: expected one of" in msg and "'android'" in msg


def test_top_level_not_a_mapping(tmp_path):
    msg = error_of(write(tmp_path, "- a\n- b\n"))
    assert "expected a mapping of scenario keys at top level, got list" in msg


def test_missing_file_lists_available(tmp_path):
    write(tmp_path, BASE, "alpha.yaml")
    msg = error_of(tmp_path / "nope.yaml")
    assert "nope.yaml: no such scenario file" in msg and "alpha" in msg


def test_unknown_scenario_name_lists_valid_ones():
    with pytest.raises(ScenarioError) as e:
        find_scenario("bot_patrolx", SCENARIOS)
    assert "bot_crossing, bot_fleet, bot_patrol" in str(e.value) and "bot_patrolx" in str(e.value)
    assert find_scenario("bot_patrol", SCENARIOS) == SCENARIOS / "bot_patrol.yaml"


def test_failure_device_must_exist(tmp_path):
    msg = error_of(write(tmp_path, BASE + "failures: [{device: warp_core, at_s: 1, level: 2}]\n"))
    assert "warp_core" in msg and "radar_sr" in msg


def test_scheduled_failure_applied_at_its_time(tmp_path):
    sc = load_scenario(write(tmp_path, BASE + "failures: [{device: radar_sr, at_s: 30.0, level: 2}]\n"))
    dev = DeviceHealthModel(load_description("bot").devices, sc.failures)
    names, levels, values = dev.readings(29.95, battery_soc=0.8)
    assert names == ["radar_lr", "radar_sr", "navigation", "drive", "power", "comms"]
    assert levels.dtype == np.uint8 and values.dtype == np.float64
    assert levels.tolist() == [0] * 6
    assert values[names.index("power")] == 0.8
    names, levels, values = dev.readings(30.0, battery_soc=0.8)
    assert levels[names.index("radar_sr")] == 2 and values[names.index("radar_sr")] == 0.0
    assert levels.sum() == 2


def test_inject_and_low_battery():
    dev = DeviceHealthModel(load_description("bot").devices)
    dev.inject("comms", 3)
    names, levels, _ = dev.readings(0.0, battery_soc=0.1)
    assert levels[names.index("comms")] == 3
    assert levels[names.index("power")] == 1  # WARN below 20 % charge
    with pytest.raises(ValueError, match="radar_lr"):
        dev.inject("warp_core", 2)


# ---------------------------------------------------------------- non-finite numbers and paths

def _numeric_leaves(value, path=""):
    """Key paths (as first_non_finite writes them) of every number in a YAML value."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [leaf for k, v in items
            for leaf in _numeric_leaves(v, f"{path}[{k}]" if isinstance(k, int) else f"{path}.{k}" if path else k)]


def _replace(value, path_parts, new):
    if not path_parts:
        return new
    head, *rest = path_parts
    out = dict(value) if isinstance(value, dict) else list(value)
    out[head] = _replace(value[head], rest, new)
    return out


def _parts(path):
    import re
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


SHIPPED = {name: __import__("yaml").safe_load((SCENARIOS / f"{name}.yaml").read_text())
           for name in ("bot_patrol", "bot_crossing", "ship_station_keeping")}


@pytest.mark.parametrize("text, key", [
    ("ego: {x: .nan, y: 0, yaw: 0}", "ego.x"),
    ("ego: {x: 0, y: 0, yaw: .inf}", "ego.yaw"),
    ("ego: {x: 0, y: 0, yaw: 0}\nobjects: [{kind: robot, position: [1, 2, 0], rcs_m2: .inf}]", "objects[0].rcs_m2"),
    ("ego: {x: 0, y: 0, yaw: 0}\nobjects: [{kind: robot, position: [1, 2, 0], behaviour: turn, "
     "turn_rate_radps: .nan}]", "objects[0].turn_rate_radps"),
])
def test_non_finite_number_rejected_naming_the_key(tmp_path, text, key):
    msg = error_of(write(tmp_path, BASE.replace("ego: {x: 0, y: 0, yaw: 0}", text)))
    assert f"s.yaml: {key}: expected a finite number" in msg


def test_infinite_duration_rejected(tmp_path):
    msg = error_of(write(tmp_path, BASE.replace("duration_s: 10", "duration_s: .inf")))
    assert "duration_s: expected a finite number, got inf" in msg


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(data=st.data(), bad=st.sampled_from([float("nan"), float("inf"), float("-inf")]))
def test_any_non_finite_number_in_a_shipped_scenario_is_named(tmp_path_factory, data, bad):
    import yaml
    name = data.draw(st.sampled_from(sorted(SHIPPED)))
    leaf = data.draw(st.sampled_from(_numeric_leaves(SHIPPED[name])))
    path = tmp_path_factory.mktemp("sc") / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_replace(SHIPPED[name], _parts(leaf), bad)))
    msg = error_of(path)
    assert f"{leaf}: expected a finite number" in msg


def test_path_that_does_not_exist_is_not_the_installed_scenario(tmp_path):
    with pytest.raises(ScenarioError) as e:
        find_scenario(str(tmp_path / "typo" / "bot_crossing.yaml"), SCENARIOS)
    assert "no such scenario file" in str(e.value) and "typo/bot_crossing.yaml" in str(e.value)
    assert find_scenario("bot_crossing.yaml", SCENARIOS) == SCENARIOS / "bot_crossing.yaml"
