"""ship_station without ROS (tests/unit/fleet_loop.py: the sim's step and each vehicle's radar, tracker and agent
steps in the lockstep graph's order), with the operator moving chaser_b to a new offset at t = 60 s: both ships
hold their offsets within the mission tolerances, chaser_b reaches its new one and holds it, the station never
fires a thruster, and the station's tracker keeps each ship under one track id for the whole run."""
from pathlib import Path

import numpy as np
import pytest

from fleet_loop import run_fleet
from qiki_agent.mission_file import load_mission
from qiki_msgs.srv import OperatorCommand

CONFIG = Path(__file__).resolve().parents[2] / "config"
SCENARIO = CONFIG / "scenarios" / "ship_station.yaml"
COMMAND_AT_S, NEW_OFFSET = 60.0, [0.0, 150.0, 0.0]
SETTLED_S = 20.0      # the ships start on their offsets; the first seconds (booting, coasting) may drift a little
ARRIVED_BY_S = 200.0  # chaser_b's move of 100 m (max force 40 N on 900 kg) is over by then


@pytest.fixture(scope="module")
def run():
    """(sim step, stacks, replies to the operator, per second: (t, {ship: (offset [m], relative speed [m/s])}))."""
    replies, samples = [], []

    def operator(t_ns, sim, stacks):
        t = round(t_ns * 1e-9, 6)
        if t == COMMAND_AT_S:
            chaser_b = next(s for s in stacks if s.vehicle.name == "chaser_b")
            replies.append(chaser_b.agent.command(OperatorCommand.Request.SET_OFFSET, NEW_OFFSET))
        if t == int(t):
            samples.append((t, {v.name: offset_of(sim.sim, i) for i, v in enumerate(sim.sim.fleet) if i}))

    sim, stacks, _ = run_fleet(SCENARIO, operator=operator)
    return sim, stacks, replies, samples


def offset_of(sim, vehicle: int) -> tuple[np.ndarray, float]:
    """The ship's offset from the station (chaser minus station, the ship's LVLH) and relative speed, from truth."""
    rel = sim.relative_truth_lvlh(vehicle)
    station = rel.id == sim.fleet[0].truth_id
    return -rel.position[station][0], float(np.linalg.norm(rel.velocity[station][0]))


def mission(name: str):
    return load_mission(CONFIG / "missions" / f"{name}.yaml")


def test_the_fleet_is_a_station_and_two_ships(run):
    sim, stacks, replies, _ = run
    assert [(s.vehicle.name, s.vehicle.description) for s in stacks] == [
        ("station", "station"), ("chaser_a", "ship"), ("chaser_b", "ship")]
    assert replies == [(True, "SET_OFFSET: hold [0.0, 150.0, 0.0] m LVLH from target 2001", "MISSION_ACTIVE")]
    assert [s.agent.core.fsm.state for s in stacks] == ["MISSION_ACTIVE"] * 3
    assert all(not (s.radar_ports.counters or s.tracker_ports.counters or s.agent_ports.counters) for s in stacks)
    assert not sim.ports.counters and sim.commands_clamped == 0


def test_both_ships_hold_their_offsets_and_chaser_b_moves_on_command(run):
    _, _, _, samples = run
    a, b = mission("ship_station_chaser_a"), mission("ship_station_chaser_b")
    for t, ships in samples:
        if t < SETTLED_S:
            continue
        offset, speed = ships["chaser_a"]
        assert np.linalg.norm(offset - a.offset_lvlh_m) < a.pos_tol_m and speed < a.vel_tol_mps, t
        offset, speed = ships["chaser_b"]
        if t <= COMMAND_AT_S:
            assert np.linalg.norm(offset - b.offset_lvlh_m) < b.pos_tol_m and speed < b.vel_tol_mps, t
        elif t >= ARRIVED_BY_S:
            assert np.linalg.norm(offset - NEW_OFFSET) < b.pos_tol_m and speed < b.vel_tol_mps, t
    moving = [ships["chaser_b"][1] for t, ships in samples if COMMAND_AT_S < t < ARRIVED_BY_S]
    assert max(moving) > 1.0     # it did fly there


def test_the_station_never_fires_and_tracks_each_ship_under_one_id(run):
    sim, stacks, _, _ = run
    station = stacks[0]
    assert sim.sim.propellant_kg_of(0) == sim.sim.params_of[0].propellant_kg      # not a gram burnt
    assert sim.sim.ego_state(0).angular_velocity_body.any()                      # still slowly rotating
    codes = {s.vehicle.transponder_code: s.vehicle.name for s in stacks[1:]}
    assert {code: len(ids) for code, ids in station.track_ids.items() if code in codes} == {2002: 1, 2003: 1}
    assert set(codes) <= station.friend_codes
    for ship in stacks[1:]:       # each ship tracks the station (its target) and the other ship under one id
        others = {s.vehicle.transponder_code for s in stacks if s is not ship}
        assert {code: len(station_ids) for code, station_ids in ship.track_ids.items() if code in others} == \
            {code: 1 for code in others}, ship.vehicle.name
