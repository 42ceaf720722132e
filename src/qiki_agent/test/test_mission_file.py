"""Mission files (config/missions): the shipped ones load; a broken one is a one-line error naming the key."""
import pathlib

import pytest

from qiki_agent.mission_file import MissionError, PatrolMission, StationKeepingMission, load_mission
from file_errors import one_line_error

MISSIONS = pathlib.Path(__file__).parents[3] / "config" / "missions"


def test_every_shipped_mission_loads_and_each_scenario_names_one():
    import yaml
    kinds = {p.stem: type(load_mission(p)) for p in MISSIONS.glob("*.yaml")}
    assert kinds["bot_patrol"] is PatrolMission and kinds["ship_station_keeping"] is StationKeepingMission
    for scenario in (MISSIONS.parent / "scenarios").glob("*.yaml"):
        data = yaml.safe_load(scenario.read_text())
        for vehicle in data.get("vehicles") or [data["vehicle"]]:  # a fleet: every vehicle's mission
            assert vehicle["mission"] in kinds, scenario


def test_mission_errors_are_one_line_with_key_path(tmp_path):
    error = one_line_error(tmp_path, "m.yaml", load_mission, MissionError)

    patrol = "kind: patrol\nwaypoints: [[0, 0], [1, 1]]\ncruise_speed_mps: 1.0\nlaps: 1\n"
    assert "m.yaml: waypoints[1]: expected a list of 2 numbers [x, y], got 'north'" in error(
        patrol.replace("[1, 1]", "north"))
    assert "m.yaml: waypoints[1]: expected a list of 2 numbers [x, y]" in error(  # beyond float range
        patrol.replace("[1, 1]", "[1, 1" + "0" * 400 + "]"))
    assert "m.yaml: waypoints: " in error(patrol.replace("[[0, 0], [1, 1]]", "[]"))
    assert "m.yaml: kind: expected kind 'patrol', 'station_keeping' or 'observe'" in error(patrol.replace("patrol", "orbit"))
    assert "m.yaml: unknown key 'loop'" in error(patrol + "loop: true\n")
    assert "m.yaml: invalid YAML at line 1, column 3: while constructing a mapping; found unhashable key" in error(
        "? [a]\n: 1\n")
    assert "m.yaml: invalid YAML: nested too deeply" in error("kind: " + "[" * 2000 + "]" * 2000)
    assert "m.yaml: invalid YAML: Exceeds the limit" in error(patrol.replace("laps: 1", "laps: 1" + "0" * 5000))
    assert "nowhere.yaml: no such mission file" in str(pytest.raises(
        MissionError, load_mission, tmp_path / "nowhere.yaml").value)
