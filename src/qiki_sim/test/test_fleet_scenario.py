"""Fleet scenarios (`vehicles:`): schema errors as one line, truth ids, Scenario.fleet()."""
import pathlib

import pytest

from file_errors import one_line_error
from qiki_sim.scenario import ScenarioError, find_scenario, load_scenario

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
HEAD = """\
name: f
profile: bot
seed: 1
duration_s: 10
"""
FLEET = HEAD + """\
vehicles:
  - {name: alpha, description: bot, mission: bot_patrol, ego: {x: 0, y: 0, yaw: 0}}
  - {name: bravo, description: bot, mission: bot_crossing, ego: {x: 5, y: 0, yaw: 1}, transponder_code: 7}
objects:
  - {kind: obstacle, behaviour: static, position: [10, 0, 0]}
  - {id: 3, kind: person, position: [0, 10, 0]}
"""


def write(tmp_path, text):
    (tmp_path / "s.yaml").write_text(text)
    return tmp_path / "s.yaml"


@pytest.fixture
def error(tmp_path):
    return one_line_error(tmp_path, "s.yaml", load_scenario, ScenarioError)


def test_single_vehicle_scenario_is_an_unnamed_one_vehicle_fleet():
    sc = load_scenario(find_scenario("bot_patrol", SCENARIOS))
    (v,) = sc.fleet()
    assert (v.name, v.description, v.mission, v.truth_id, v.transponder_code) == ("", "bot", "bot_patrol", 0, 0)
    assert v.ego == sc.ego and not sc.is_fleet()


def test_fleet_vehicles_in_file_order_with_ids_after_the_objects(tmp_path):
    sc = load_scenario(write(tmp_path, FLEET))
    assert sc.vehicle is None and sc.ego is None and sc.is_fleet()
    fleet = sc.fleet()
    assert [v.name for v in fleet] == ["alpha", "bravo"]
    assert [v.mission for v in fleet] == ["bot_patrol", "bot_crossing"]
    assert sc.object_ids() == [1, 3]
    assert [v.truth_id for v in fleet] == [2, 4]           # smallest unused ids after the objects'
    assert [v.transponder_code for v in fleet] == [0, 7]
    assert (fleet[1].ego.x, fleet[1].ego.yaw) == (5.0, 1.0)


def test_explicit_vehicle_ids_are_kept_and_objects_avoid_them(tmp_path):
    text = FLEET.replace("mission: bot_patrol,", "mission: bot_patrol, id: 1,")
    sc = load_scenario(write(tmp_path, text))
    assert sc.object_ids() == [2, 3]
    assert [v.truth_id for v in sc.fleet()] == [1, 4]


def test_random_movers_take_ids_before_the_fleet(tmp_path):
    sc = load_scenario(write(tmp_path, FLEET + "random_movers: {count: 3, area: [0, 0, 10, 10]}\n"))
    assert sc.object_ids() == [1, 3, 2, 4, 5]
    assert [v.truth_id for v in sc.fleet()] == [6, 7]


def test_shipped_bot_fleet():
    sc = load_scenario(find_scenario("bot_fleet", SCENARIOS))
    fleet = sc.fleet()
    assert [v.name for v in fleet] == ["alpha", "bravo", "charlie"]
    assert [v.mission for v in fleet] == ["bot_fleet_alpha", "bot_fleet_bravo", "bot_fleet_charlie"]
    assert len({v.truth_id for v in fleet}) == 3 and not {v.truth_id for v in fleet} & set(sc.object_ids())
    assert all(v.transponder_code > 0 and v.safe_radius_m > 0 for v in fleet)


@pytest.mark.parametrize("change, expected", [
    # both or neither
    (lambda t: t + "vehicle: {description: bot, mission: bot_patrol}\n",
     "give either vehicle + ego (one vehicle) or vehicles (a fleet), not both: remove vehicle"),
    (lambda t: t + "ego: {x: 0, y: 0, yaw: 0}\n", "not both: remove ego"),
    (lambda t: HEAD, "missing required key vehicle (or give vehicles: for a fleet)"),
    (lambda t: HEAD + "vehicle: {description: bot, mission: bot_patrol}\n", "missing required key ego"),
    (lambda t: HEAD + "vehicles: []\n", "vehicles: expected at least one vehicle"),
    # names
    (lambda t: t.replace("name: bravo", "name: alpha"), "vehicles[1].name: 'alpha' is taken by vehicles[0]"),
    (lambda t: t.replace("name: bravo", "name: Bravo"), "vehicles[1].name: expected a ROS name part"),
    (lambda t: t.replace("name: bravo", "name: b__x"), "expected a ROS name part"),
    (lambda t: t.replace("name: bravo", "name: bravo_"), "expected a ROS name part"),
    (lambda t: t.replace("name: bravo", "name: 9b"), "expected a ROS name part"),
    (lambda t: t.replace("name: bravo", "name: radar"), "vehicles[1].name: 'radar' is a name of the graph"),
    (lambda t: t.replace("name: bravo", "name: 12"), "vehicles[1].name: expected a valid string"),
    # ids
    (lambda t: t.replace("mission: bot_crossing,", "mission: bot_crossing, id: 3,"),
     "vehicles[1].id: id 3 is taken by objects[1]"),
    (lambda t: t.replace("mission: bot_crossing,", "mission: bot_crossing, id: 9,").replace(
        "mission: bot_patrol,", "mission: bot_patrol, id: 9,"), "vehicles[1].id: id 9 is taken by vehicles[0]"),
    (lambda t: t.replace("mission: bot_crossing,", "mission: bot_crossing, id: 0,"),
     "vehicles[1].id: expected a number >= 1, got 0"),
    (lambda t: t.replace("transponder_code: 7", "transponder_code: -1"),
     "vehicles[1].transponder_code: expected a number >= 0"),
    (lambda t: t.replace("transponder_code: 7", "safe_radius_m: 0"), "vehicles[1].safe_radius_m: expected a number > 0"),
    # per vehicle keys
    (lambda t: t.replace("ego: {x: 5,", "ego: {x: east,"), "vehicles[1].ego.x: expected a number, got 'east'"),
    (lambda t: t.replace("ego: {x: 5, y: 0, yaw: 1}", "ego: {x: 5, y: 0, yaw: 1, z: 2}"),
     "vehicles[1].ego: unknown key 'z'; valid keys: x, y, yaw"),
    (lambda t: t.replace(", ego: {x: 5, y: 0, yaw: 1}", ""), "vehicles[1].ego: missing required key"),
    (lambda t: t.replace("mission: bot_crossing,", "mission: bot_crossing, speed: 3,"),
     "vehicles[1]: unknown key 'speed'; valid keys: name, description, mission, ego, id"),
    (lambda t: t.replace("description: bot, mission: bot_crossing", "description: nope, mission: bot_crossing"),
     "vehicles[1].description:"),
    (lambda t: t.replace("description: bot, mission: bot_crossing", "description: ship, mission: bot_crossing"),
     "vehicles[1].description: vehicle description 'ship' is a ship, not a bot"),
    (lambda t: t.replace("profile: bot", "profile: ship").replace("objects:\n", "objects_unused:\n"),
     "unknown key"),
    # failures name their vehicle in a fleet, and only there
    (lambda t: t + "failures: [{device: radar_sr, at_s: 1, level: 2}]\n",
     "failures[0].vehicle: expected one of alpha, bravo, got ''"),
    (lambda t: t + "failures: [{device: radar_sr, vehicle: charlie, at_s: 1, level: 2}]\n",
     "failures[0].vehicle: expected one of alpha, bravo, got 'charlie'"),
    (lambda t: t + "failures: [{device: warp, vehicle: bravo, at_s: 1, level: 2}]\n",
     "failures[0].device: unknown device 'warp' of vehicle 'bot'"),
    (lambda t: HEAD + "vehicle: {description: bot, mission: bot_patrol}\nego: {x: 0, y: 0, yaw: 0}\n"
     "failures: [{device: radar_sr, vehicle: alpha, at_s: 1, level: 2}]\n",
     "failures[0].vehicle: applies only to a fleet (vehicles:)"),
])
def test_fleet_schema_errors_are_one_line(tmp_path, error, change, expected):
    msg = error(change(FLEET))
    assert msg.startswith(str(tmp_path / "s.yaml") + ": ")
    assert expected in msg, msg


SHIP_FLEET = HEAD.replace("profile: bot", "profile: ship") + """\
vehicles:
  - {name: base, description: station, mission: ship_station_observe, ego: {elements: {a_m: 6778137.0}}}
  - {name: a, description: ship, mission: ship_station_keeping,
     ego: {frame: lvlh, position: [0.0, -100.0, 0.0], velocity: [0.0, 0.0, 0.0]}}
"""


def test_ship_fleets_load_with_vehicles_placed_in_the_first_ones_lvlh(tmp_path):
    fleet = load_scenario(write(tmp_path, SHIP_FLEET)).fleet()
    assert [(v.name, v.truth_id) for v in fleet] == [("base", 1), ("a", 2)]
    assert fleet[1].ego.frame == "lvlh" and fleet[0].ego.frame == "eci"


@pytest.mark.parametrize("change, expected", [
    (("ego: {elements: {a_m: 6778137.0}}", "ego: {frame: lvlh, position: [0, 1, 0], velocity: [0, 0, 0]}"),
     "vehicles[0].ego.frame: the first vehicle is the fleet's LVLH reference"),
    (("frame: lvlh, position: [0.0, -100.0, 0.0], velocity: [0.0, 0.0, 0.0]", "frame: lvlh, elements: {a_m: 7e6}"),
     "frame 'lvlh' applies only with position and velocity"),
])
def test_ship_fleet_frames_are_checked_in_one_line(error, change, expected):
    assert expected in error(SHIP_FLEET.replace(*change))


def test_one_ship_takes_no_lvlh_ego_and_no_vehicle_in_its_thruster_faults(error):
    one = (SCENARIOS / "ship_station_keeping.yaml").read_text()
    ego = "  elements: {a_m: 6778137.0, e: 0.0, i_deg: 51.6, raan_deg: 30.0, argp_deg: 0.0, nu_deg: 0.0}  # 400 km circular"
    assert ego in one
    assert "ego.frame: 'lvlh' is relative to a fleet's first vehicle" in error(
        one.replace(ego, "  frame: lvlh\n  position: [0.0, 1.0, 0.0]\n  velocity: [0.0, 0.0, 0.0]"))
    assert "thruster_faults[0].vehicle: applies only to a fleet (vehicles:)" in error(
        one + "thruster_faults: [{thruster: 3, vehicle: a, at_s: 1}]\n")


def test_thruster_faults_of_a_fleet_name_their_vehicle(tmp_path, error):
    sc = load_scenario(write(tmp_path, SHIP_FLEET + "thruster_faults: [{thruster: 3, vehicle: a, at_s: 1}]\n"))
    assert sc.thruster_faults[0].vehicle == "a"
    assert "thruster_faults[0].vehicle: expected one of base, a, got 'b'" in error(
        SHIP_FLEET + "thruster_faults: [{thruster: 3, vehicle: b, at_s: 1}]\n")


def test_fleet_failures_are_read_per_vehicle(tmp_path):
    sc = load_scenario(write(tmp_path, FLEET + "failures: [{device: radar_sr, vehicle: bravo, at_s: 1, level: 2}]\n"))
    assert sc.failures[0].vehicle == "bravo"


def test_relative_description_paths_resolve_beside_the_scenario(tmp_path):
    desc = (SCENARIOS.parents[1] / "src" / "qiki_description" / "vehicles" / "bot.yaml").read_text()
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "mine.yaml").write_text(desc)
    sc = load_scenario(write(tmp_path, FLEET.replace("description: bot, mission: bot_crossing",
                                                     "description: v/mine.yaml, mission: bot_crossing")))
    assert sc.fleet()[1].description == str(tmp_path / "v" / "mine.yaml")
    assert sc.fleet()[0].description == "bot"
