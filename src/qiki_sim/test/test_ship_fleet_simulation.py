"""A ship fleet in the simulation core and the sim's step, without ROS (config/scenarios/ship_station.yaml): every
vehicle its own rigid body, RCS, throttles and propellant; the fleet's truth (objects, then every vehicle as a
spacecraft); each vehicle's LVLH view of the others without itself; `<v>/cmd` moves only its vehicle."""
import pathlib

import numpy as np

from qiki_msgs.msg import ActuatorCommand, WorldTruth
from qiki_sim.scenario import ThrusterFaultSpec, load_scenario
from qiki_sim.ship_simulation import ShipSimulation
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import SimStep, vehicle_port
from recorded_ports import Ports

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
SHIP_STATION = load_scenario(SCENARIOS / "ship_station.yaml")


def test_ship_fleet_truth_is_the_objects_then_every_vehicle_as_a_spacecraft():
    sim = ShipSimulation(SHIP_STATION)
    truth, n = sim.truth(), len(sim.world.truth().id)
    assert truth.id.tolist() == [1, 2, 101, 102, 103]
    assert truth.kind[n:].tolist() == [WorldTruth.KIND_SPACECRAFT] * 3
    assert truth.transponder_code[n:].tolist() == [2001, 2002, 2003]
    assert truth.radius_m[n:].tolist() == [25.0, 1.8, 1.8] and truth.rcs_m2[n:].tolist() == [500.0, 10.0, 10.0]
    np.testing.assert_array_equal(truth.position[n:], [b.y[0:3] for b in sim.bodies])


def test_each_vehicle_sees_the_others_in_its_own_lvlh_frame_and_not_itself():
    sim = ShipSimulation(SHIP_STATION)
    for vehicle, expected in ((0, {102: [0.0, -200.0, 0.0], 103: [0.0, 250.0, 0.0]}),
                              (1, {101: [0.0, 200.0, 0.0], 103: [0.0, 450.0, 0.0]}),
                              (2, {101: [0.0, -250.0, 0.0], 102: [0.0, -450.0, 0.0]})):
        rel = sim.relative_truth_lvlh(vehicle)
        assert sim.fleet[vehicle].truth_id not in rel.id.tolist() and len(rel.id) == 4
        for vid, position in expected.items():     # placed in the station's LVLH at t = 0, at rest in it: another
            # vehicle's frame sees them there up to the orbit's curvature (d^2 / 2r, 15 mm at 450 m)
            np.testing.assert_allclose(rel.position[rel.id == vid][0], position, atol=0.02)
            np.testing.assert_allclose(rel.velocity[rel.id == vid][0], 0.0, atol=1e-4)


def test_a_vehicles_cmd_fires_only_its_thrusters():
    ports = Ports()
    step = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "ship_station.yaml")), ports)
    assert step.vehicles == ["station", "chaser_a", "chaser_b"]
    cmd = ActuatorCommand(mode=ActuatorCommand.MODE_SHIP_THRUSTERS, thruster_throttle=[1.0] + [0.0] * 15)
    step.on_agents_step(step.publish_step(), {vehicle_port("chaser_b", "cmd"): [cmd]})
    for _ in range(10):
        step.step()
    sim = step.sim
    full = [p.propellant_kg for p in sim.params_of]
    assert [sim.propellant_kg_of(i) < full[i] for i in range(3)] == [False, False, True]
    out = ports.take()
    assert len(out[vehicle_port("chaser_b", "vehicle_state")]) == 11 and "vehicle_state" not in out
    assert out[vehicle_port("chaser_b", "vehicle_state")][-1].propellant_kg < 150.0
    assert out[vehicle_port("station", "vehicle_state")][-1].propellant_kg == 5000.0


def test_a_thruster_fault_hits_only_its_vehicle():
    faulty = SHIP_STATION.model_copy(update={"thruster_faults": [
        ThrusterFaultSpec(thruster=0, vehicle="chaser_b", at_s=0.0, efficiency=0.0)]})
    sim = ShipSimulation(faulty)
    for vehicle in (1, 2):
        sim.command_thrusters(np.r_[1.0, np.zeros(15)], vehicle)
    for _ in range(10):
        sim.step()
    assert sim.thrust_efficiency(1) is None and sim.thrust_efficiency(2)[0] == 0.0
    assert sim.propellant_kg_of(1) < 150.0 and sim.propellant_kg_of(2) == 150.0
