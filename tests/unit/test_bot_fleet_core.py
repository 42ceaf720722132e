"""bot_fleet without ROS (tests/unit/fleet_loop.py: the sim's step and each vehicle's radar, tracker and agent steps
in the lockstep graph's order): every bot completes its patrol within the scenario, never closer to another bot
than its safe radius, and the run is deterministic."""
import math
from pathlib import Path

import pytest

from fleet_loop import run_fleet

SCENARIO = Path(__file__).resolve().parents[2] / "config" / "scenarios" / "bot_fleet.yaml"


@pytest.fixture(scope="module")
def run():
    return run_fleet(SCENARIO)


def test_every_bot_completes_its_patrol(run):
    sim, stacks, _ = run
    assert [s.vehicle.name for s in stacks] == ["alpha", "bravo", "charlie"]
    assert [s.agent.core.mission_result for s in stacks] == ["complete"] * 3
    assert all(not (s.radar_ports.counters or s.tracker_ports.counters or s.agent_ports.counters) for s in stacks)
    assert not sim.ports.counters and sim.commands_clamped == 0
    codes = {s.vehicle.name: s.vehicle.transponder_code for s in stacks}
    for s in stacks:    # each bot's tracker called the other two friends by their transponder codes
        assert {codes[o] for o in codes if o != s.vehicle.name} <= s.friend_codes, s.vehicle.name


def test_no_bot_comes_closer_to_another_than_its_safe_radius(run):
    sim, _, record = run
    fleet = sim.sim.fleet
    for i, v in enumerate(fleet):
        for j, other in enumerate(fleet):
            if i != j:
                assert record.vehicles[i, j] > max(v.safe_radius_m, other.safe_radius_m), (v.name, other.name)
    assert all(math.isfinite(d) and d > 1.0 for d in record.objects)     # the movers are near, never hit
    assert record.vehicles.min() < 5.0                                  # the routes do cross: they meet


def test_the_fleet_run_is_deterministic():
    again = run_fleet(SCENARIO, duration_s=30.0)
    first = run_fleet(SCENARIO, duration_s=30.0)
    for a, b in zip(again[0].sim.egos, first[0].sim.egos):
        assert a.state == b.state
    assert again[2].vehicles.tobytes() == first[2].vehicles.tobytes()
