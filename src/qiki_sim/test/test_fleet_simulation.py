"""A fleet in the simulation core and the sim's step, without ROS: every vehicle its own model, command and
device health; the fleet's truth (objects, then every vehicle); per-vehicle ports; determinism; load refusals."""
import pathlib

import numpy as np
import pytest

from qiki_msgs.msg import ActuatorCommand, WorldTruth
from qiki_sim.scenario import ScenarioError, load_scenario
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import SimStep, vehicle_port
from qiki_sim.simulation import BotSimulation
from recorded_ports import Ports

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
FLEET = load_scenario(SCENARIOS / "bot_fleet.yaml")


def drive(sim, commands, steps):
    """Hold commands[i] = (v, w) on vehicle i for `steps` steps; the truth after each."""
    for i, (v, w) in enumerate(commands):
        sim.command(v, w, i)
    out = []
    for _ in range(steps):
        sim.step()
        out.append(sim.truth())
    return out


def test_fleet_truth_is_the_objects_then_every_vehicle():
    sim = BotSimulation(FLEET)
    truth, objects = sim.truth(), sim.world.truth()
    n = len(objects.id)
    fleet = FLEET.fleet()
    assert truth.id.tolist() == objects.id.tolist() + [v.truth_id for v in fleet] == [1, 2, 10, 20, 101, 102, 103]
    assert truth.kind[n:].tolist() == [WorldTruth.KIND_ROBOT] * 3
    assert truth.transponder_code[n:].tolist() == [2001, 2002, 2003]
    assert truth.radius_m[n:].tolist() == [sim.description.chassis.footprint_radius_m] * 3
    assert np.all(truth.rcs_m2[n:] > 0)
    np.testing.assert_array_equal(truth.position[n:], [[v.ego.x, v.ego.y, 0.0] for v in fleet])
    for name in ("id", "kind", "position", "velocity", "rcs_m2", "radius_m", "transponder_code"):
        np.testing.assert_array_equal(getattr(truth, name)[:n], getattr(objects, name))
    assert truth.id.dtype == np.uint32 and truth.transponder_code.dtype == np.uint32 and truth.kind.dtype == np.uint8


def test_each_vehicle_has_its_own_model_command_and_state():
    sim = BotSimulation(FLEET)
    drive(sim, [(1.0, 0.0), (0.0, 0.0), (0.5, 0.3)], 50)
    alpha, bravo, charlie = (sim.ego_state(i) for i in range(3))
    assert alpha.position[0] > FLEET.fleet()[0].ego.x + 3.0 and abs(alpha.position[1]) < 1e-9
    np.testing.assert_array_equal(bravo.position, [0.0, -20.0, 0.0])       # never commanded: stands
    assert charlie.angular_velocity_body[2] > 0.0
    n = len(sim.world.truth().id)
    np.testing.assert_array_equal(sim.truth().position[n:], [alpha.position, bravo.position, charlie.position])
    np.testing.assert_allclose(sim.truth().velocity[n], alpha.velocity_world)
    np.testing.assert_array_equal(sim.ego_state().position, alpha.position)      # vehicle 0 by default


def test_device_failures_hit_only_their_vehicle(tmp_path):
    text = (SCENARIOS / "bot_fleet.yaml").read_text().replace(
        "failures: []", "failures: [{device: radar_sr, vehicle: bravo, at_s: 0.0, level: 2}]")
    (tmp_path / "f.yaml").write_text(text)
    sim = BotSimulation(load_scenario(tmp_path / "f.yaml"))
    levels = [dict(zip(names, lv.tolist())) for names, lv, _ in (sim.device_readings(i) for i in range(3))]
    assert [lv["radar_sr"] for lv in levels] == [0, 2, 0]


def test_same_scenario_and_commands_give_identical_truth():
    a, b = BotSimulation(FLEET), BotSimulation(FLEET)
    for ta, tb in zip(drive(a, [(1.0, 0.1), (0.8, -0.2), (0.6, 0.0)], 100),
                      drive(b, [(1.0, 0.1), (0.8, -0.2), (0.6, 0.0)], 100)):
        for name in ("id", "position", "velocity"):
            assert getattr(ta, name).tobytes() == getattr(tb, name).tobytes()
    a.reset()
    np.testing.assert_array_equal(a.truth().position, BotSimulation(FLEET).truth().position)


def test_a_one_vehicle_scenario_keeps_its_vehicle_out_of_the_truth():
    sc = load_scenario(SCENARIOS / "bot_patrol.yaml")
    sim = BotSimulation(sc)
    assert len(sim.fleet) == 1 and sim.fleet[0].truth_id == 0
    truth, objects = sim.truth(), sim.world.truth()
    for name in ("id", "kind", "position", "velocity", "rcs_m2", "radius_m", "transponder_code"):
        assert getattr(truth, name).tobytes() == getattr(objects, name).tobytes()


def test_sim_step_ports_per_vehicle_and_commands_from_n_plus_lag():
    ports = Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_fleet.yaml")), ports)
    assert sim.vehicles == ["alpha", "bravo", "charlie"]
    sim.publish_step()
    out = ports.take()
    assert set(out) == {"alpha/vehicle_state", "bravo/vehicle_state", "charlie/vehicle_state", "truth",
                        "alpha/device_health", "bravo/device_health", "charlie/device_health", "clock"}
    assert len(out["truth"][0].id) == 7
    go = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=1.0)
    bad = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=float("nan"))
    sim.on_agents_step(0, {"bravo/cmd": [go], "charlie/cmd": [bad], "cmd": [go]})   # "cmd" is nobody's here
    lag = sim.cfg.clock.command_lag_steps
    assert list(sim.pending) == [lag] and list(sim.pending[lag]) == [1]
    assert ports.counters["commands_rejected"] == 1
    assert [e.message.split(":")[0] for e in ports.take()["events"]] == ["charlie"]
    for _ in range(10):
        sim.on_agents_step(round(sim.sim.time_s * 1e9), {})
        sim.step()
    speeds = [m[-1].twist.linear.x for m in (ports.sent[vehicle_port(v, "vehicle_state")] for v in sim.vehicles)]
    assert speeds[0] == 0.0 and speeds[1] > 0.5 and speeds[2] == 0.0


def test_single_vehicle_ports_keep_their_names():
    ports = Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_patrol.yaml")), ports)
    assert sim.vehicles == [""] and vehicle_port("", "cmd") == "cmd" and vehicle_port("alpha", "cmd") == "alpha/cmd"
    sim.publish_step()
    assert set(ports.take()) == {"vehicle_state", "truth", "device_health", "clock"}


def test_stop_vehicle_stops_every_vehicle():
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_fleet.yaml")), Ports())
    for i in range(3):
        sim.sim.command(1.0, 0.0, i)
    sim.stop_vehicle()
    for _ in range(30):
        sim.step()
    assert all(sim.sim.ego_state(i).velocity_body[0] == 0.0 for i in range(3))


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("mission: bot_fleet_bravo", "mission: bot_fleet_alpha"),
     "fleet (alpha description bot, mission bot_fleet_alpha; bravo description bot, mission bot_fleet_alpha; "
     "charlie description bot, mission bot_fleet_charlie) does not match the running graph's (alpha description "
     "bot, mission bot_fleet_alpha; bravo description bot, mission bot_fleet_bravo; "),
    (lambda t: t.replace("name: charlie", "name: delta"), "delta description bot"),
    (lambda t: t.replace("  - {name: charlie", "  # - {name: charlie").replace(
        "     id: 103, transponder_code: 2003", "     # id: 103"), ": restart the graph with this scenario"),
])
def test_load_refuses_another_fleet_in_one_line(tmp_path, edit, expected):
    (tmp_path / "bot_fleet.yaml").write_text((SCENARIOS / "bot_fleet.yaml").read_text())
    sim = SimStep(SimNodeConfig(scenario_file=str(tmp_path / "bot_fleet.yaml")), Ports())
    (tmp_path / "other.yaml").write_text(edit((SCENARIOS / "bot_fleet.yaml").read_text()))
    with pytest.raises(ScenarioError) as e:
        sim.load("other", 0)
    assert expected in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ScenarioError, match="vehicle \\(description bot, mission bot_patrol\\) does not match the "
                                            "running graph's \\(alpha description bot"):
        (tmp_path / "single.yaml").write_text((SCENARIOS / "bot_patrol.yaml").read_text())
        sim.load("single", 0)


def test_load_takes_the_same_fleet_in_another_world(tmp_path):
    (tmp_path / "bot_fleet.yaml").write_text((SCENARIOS / "bot_fleet.yaml").read_text())
    (tmp_path / "moved.yaml").write_text((SCENARIOS / "bot_fleet.yaml").read_text().replace("seed: 7", "seed: 8")
                                         .replace("ego: {x: -20.0,", "ego: {x: -25.0,"))
    ports = Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(tmp_path / "bot_fleet.yaml")), ports)
    assert "loaded" in sim.load("moved", 0)
    assert sim.sim.ego_state(0).position[0] == -25.0 and sim.vehicles == ["alpha", "bravo", "charlie"]
