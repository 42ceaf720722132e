"""Property-based: whatever ActuatorCommand arrives, the sim's input adapter (qiki_sim.command_codec)
rejects it with a one-line reason naming the field, or the bot / ship applies it (clamped if need be),
and the simulated state stays finite step after step (hypothesis)."""
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import FLOATS, fuzz_settings, is_finite
from qiki_msgs.msg import ActuatorCommand
from qiki_sim.command_codec import MODES, command_from_msg
from qiki_sim.scenario import load_scenario
from qiki_sim.ship_simulation import ShipSimulation
from qiki_sim.simulation import BotSimulation

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
BOT = load_scenario(SCENARIOS / "bot_patrol.yaml")
SHIP = load_scenario(SCENARIOS / "ship_station_keeping.yaml")
N_THRUSTERS = ShipSimulation(SHIP).rcs.n


@st.composite
def commands(draw, profile: str) -> ActuatorCommand:
    mode = draw(st.sampled_from([MODES[profile]] * 4 + [MODES["bot"], MODES["ship"], 7]))
    msg = ActuatorCommand(mode=mode, linear_x_mps=draw(FLOATS), angular_z_radps=draw(FLOATS))
    n = draw(st.sampled_from([N_THRUSTERS] * 3 + [0, N_THRUSTERS - 1, N_THRUSTERS + 1]))
    msg.thruster_throttle = np.array(draw(st.lists(st.one_of(st.floats(-0.5, 1.5), FLOATS), min_size=n, max_size=n)))
    return msg


def _applicable(msg: ActuatorCommand, profile: str) -> bool:
    if msg.mode != MODES[profile]:
        return False
    if profile == "bot":
        return math.isfinite(msg.linear_x_mps) and math.isfinite(msg.angular_z_radps)
    return len(msg.thruster_throttle) == N_THRUSTERS and is_finite(msg.thruster_throttle)


def _ego_finite(sim) -> bool:
    e = sim.ego_state()
    return is_finite(e.position, e.quaternion_wxyz, e.velocity_world, e.velocity_body, e.angular_velocity_body,
                     e.mass_kg, e.energy_fraction, e.propellant_kg)


def _drive(sim, profile: str, sequence, steps_per_command: int) -> int:
    """Feed the commands as the sim node does; returns how many were rejected."""
    rejected = 0
    for msg in sequence:
        try:
            cmd = command_from_msg(msg, profile, N_THRUSTERS if profile == "ship" else 0)
        except ValueError as exc:
            assert not _applicable(msg, profile)
            assert "ActuatorCommand" in str(exc) and "\n" not in str(exc)
            rejected += 1
        else:
            assert _applicable(msg, profile)
            report = sim.command(cmd.v, cmd.w) if profile == "bot" else sim.command_thrusters(cmd.throttle)
            assert is_finite(report.v_applied, report.w_applied) if profile == "bot" else is_finite(report.applied)
        for _ in range(steps_per_command):
            sim.step()
        assert _ego_finite(sim)
        assert is_finite(sim.truth().position, sim.truth().velocity)
    return rejected


@fuzz_settings(80)
@given(st.lists(commands("bot"), min_size=1, max_size=8))
def test_bot_any_command_is_rejected_with_a_reason_or_driven_finitely(sequence):
    sim = BotSimulation(BOT)
    rejected = _drive(sim, "bot", sequence, steps_per_command=2)
    assert rejected == sum(not _applicable(m, "bot") for m in sequence)   # the node's counter moves per bad one


@fuzz_settings(40)
@given(st.lists(commands("ship"), min_size=1, max_size=4))
def test_ship_any_command_is_rejected_with_a_reason_or_flown_finitely(sequence):
    sim = ShipSimulation(SHIP)
    rejected = _drive(sim, "ship", sequence, steps_per_command=1)
    assert rejected == sum(not _applicable(m, "ship") for m in sequence)


@pytest.mark.parametrize("v, w", [(1e308, 1e308), (-1e308, 1e300), (1e308, 0.0), (0.0, -1e308), (5e-324, 1e308)])
def test_bot_huge_finite_command_is_clamped_not_nan(v, w):
    """Wheel speeds of a huge (v, w) overflow to inf; the clamp keeps the turn direction, not inf * 0 = NaN."""
    sim = BotSimulation(BOT)
    report = sim.command(v, w)
    assert report.clamped and is_finite(report.v_applied, report.w_applied)
    top = BOT.ego.params.max_wheel_speed_radps * BOT.ego.params.wheel_radius_m
    assert abs(report.v_applied) <= top + 1e-9 and math.copysign(1.0, report.v_applied or v) == math.copysign(1.0, v)
    for _ in range(20):
        sim.step()
    assert _ego_finite(sim)


def test_rejections_name_the_field():
    msg = ActuatorCommand(mode=ActuatorCommand.MODE_SHIP_THRUSTERS)
    msg.thruster_throttle = np.zeros(3)
    with pytest.raises(ValueError, match="thruster_throttle has 3 values for 16 thrusters"):
        command_from_msg(msg, "ship", 16)
    with pytest.raises(ValueError, match="mode 1 .* is not the bot mode 0"):
        command_from_msg(msg, "bot", 0)
    msg.thruster_throttle = np.r_[np.zeros(15), np.nan]
    with pytest.raises(ValueError, match=r"NaN/inf at \[15\]"):
        command_from_msg(msg, "ship", 16)
