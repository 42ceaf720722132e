"""The fleet rviz config is generated from the profile's config and the graph's expansion, and the shipped
config/rviz/bot_fleet.rviz is what the generator writes."""
import subprocess
import sys

import yaml

from qiki.graph import load_graph
from qiki.plan import config_dir
from qiki_tools.rviz_fleet import GROUP_CLASS, config_namespaces, fleet_rviz, fleet_rviz_text, main


def test_the_shipped_fleet_config_is_the_generated_one():
    assert (config_dir() / "rviz" / "bot_fleet.rviz").read_text() == fleet_rviz_text("bot_fleet")


def test_vehicle_displays_move_into_one_group_per_vehicle_and_world_displays_stay():
    template = load_graph(config_dir() / "graph.yaml")
    fleet = template.for_fleet(["north", "south"])
    single = yaml.safe_load((config_dir() / "rviz" / "bot.rviz").read_text())
    # a display of a world topic (the truth) beside the profile's displays
    single["Visualization Manager"]["Displays"].append(
        {"Class": "rviz_default_plugins/MarkerArray", "Name": "world", "Topic": {"Value": template.topic_of("sim.truth")}})
    config = fleet_rviz(single, template, fleet)
    displays = config["Visualization Manager"]["Displays"]
    assert config_namespaces(config) == ["/qiki/north", "/qiki/south"]
    assert [d["Name"] for d in displays if d["Class"] != GROUP_CLASS] == ["Grid", "world"]
    groups = [d for d in displays if d["Class"] == GROUP_CLASS]
    assert [[d["Topic"]["Value"] for d in g["Displays"]] for g in groups] == [
        ["/qiki/north/tracks/markers"], ["/qiki/south/tracks/markers"]]
    assert [d["Name"] for d in groups[0]["Displays"]] == ["QIKI tracks (north)"]
    # the profile's config is left as it was
    assert single["Visualization Manager"]["Displays"][1]["Topic"]["Value"] == "/qiki/tracks/markers"


def test_a_single_vehicle_or_unknown_scenario_is_one_line_exit_2(capsys):
    assert main(["bot_patrol"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "qiki_tools.rviz_fleet: error: scenario 'bot_patrol' has one vehicle: use config/rviz/bot.rviz"
    assert main(["no_such_scenario"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "-m", "qiki_tools.rviz_fleet"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("usage:") and "Traceback" not in proc.stderr
