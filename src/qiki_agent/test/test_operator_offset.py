"""Operator command SET_OFFSET (OperatorCommand.srv): the station-keeping agent holds a new LVLH offset from the
command on; bad values and missions without an offset are refused in one line; the observe mission (a station)
never fires a thruster."""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import yaml

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_core import AgentCore
from qiki_agent.mission_file import load_mission
from qiki_msgs.srv import OperatorCommand
from qiki_tracks.track_set import TrackSet

CONFIG = pathlib.Path(__file__).parents[3] / "config"
SET_OFFSET = OperatorCommand.Request.SET_OFFSET


def agent(profile: str, description: str, mission: str) -> tuple[AgentCore, list]:
    params = yaml.safe_load((CONFIG / "params" / f"{profile}.yaml").read_text())["/**/agent"]["ros__parameters"]
    cfg = AgentNodeConfig.model_validate({**params, "fsm_file": str(CONFIG / "fsm" / f"{profile}.yaml"),
                                          "rules_file": str(CONFIG / "rules" / f"{profile}.yaml"),
                                          "description": description,
                                          "mission_file": str(CONFIG / "missions" / f"{mission}.yaml")})
    events = []
    return AgentCore(cfg, lambda code, sev, text: events.append((int(code), sev, text))), events


def test_set_offset_moves_the_station_keeping_offset():
    core, events = agent("ship", "ship", "ship_station_chaser_b")
    assert core.mission.params.offset_lvlh_m == (0.0, 250.0, 0.0)
    accepted, reason = core.command(SET_OFFSET, [0.0, 150.0, 0.0])
    assert accepted and reason == "SET_OFFSET: hold [0.0, 150.0, 0.0] m LVLH from target 2001"
    assert core.mission.params.offset_lvlh_m == (0.0, 150.0, 0.0) and core.mission.progress == 0.0
    assert events[-1][2] == reason


@pytest.mark.parametrize("offset, expected", [
    ([0.0, 150.0], "SET_OFFSET: expected offset_lvlh_m as 3 finite numbers [x, y, z] m, got [0.0, 150.0]"),
    ([], "SET_OFFSET: expected offset_lvlh_m as 3 finite numbers [x, y, z] m, got []"),
    ([0.0, math.nan, 0.0], "SET_OFFSET: expected offset_lvlh_m as 3 finite numbers"),
    ([0.0, math.inf, 0.0], "SET_OFFSET: expected offset_lvlh_m as 3 finite numbers"),
    ([0.0, 1200.0, 0.0], "SET_OFFSET: offset [0.0, 1200.0, 0.0] m is 1200 m from the target, beyond the "
                         "short-range band (1000 m)"),
])
def test_bad_offsets_are_refused_in_one_line_and_the_old_one_holds(offset, expected):
    core, _ = agent("ship", "ship", "ship_station_chaser_b")
    accepted, reason = core.command(SET_OFFSET, offset)
    assert not accepted and expected in reason and "\n" not in reason
    assert core.mission.params.offset_lvlh_m == (0.0, 250.0, 0.0)


@pytest.mark.parametrize("profile, description, mission, name", [
    ("ship", "station", "ship_station_observe", "observe"), ("bot", "bot", "bot_patrol", "patrol")])
def test_missions_without_an_offset_refuse_it(profile, description, mission, name):
    core, _ = agent(profile, description, mission)
    assert core.command(SET_OFFSET, [0.0, 1.0, 0.0]) == (
        False, f"SET_OFFSET: mission {name} has no station-keeping offset")


def test_unknown_commands_name_set_offset_among_the_valid_ones():
    core, _ = agent("ship", "ship", "ship_station_chaser_a")
    assert core.command(99) == (False, "unknown command 99 (valid: [1, 2, 3, 4, 5])")


def test_the_observe_mission_never_fires_a_thruster():
    core, _ = agent("ship", "station", "ship_station_observe")
    assert load_mission(CONFIG / "missions" / "ship_station_observe.yaml").kind == "observe"
    pilot = core.pilot
    for cmd in (pilot.stop("x"), pilot.mission_command(1.0, 0.1, None, TrackSet.empty(), np.zeros(0), TrackSet.empty())):
        assert cmd.profile == "ship" and cmd.throttle.shape == (16,) and not cmd.throttle.any()
    assert core.mission.progress == 0.0 and not core.mission.done   # duration 0: observes for the whole run

