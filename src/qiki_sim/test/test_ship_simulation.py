"""Ship simulation: shipped scenarios, radar bands, determinism, thruster commands, ship scenario validation."""
import pathlib

import numpy as np
import pytest

from qiki_agent.thrust_allocation import ThrustAllocator
from qiki_description.loader import load_description
from qiki_sim.devices import ERROR, OK, WARN
from qiki_geometry.lvlh import lvlh_rotation
from qiki_geometry.orbit_elements import mean_motion_of
from qiki_sim.scenario import Scenario, ScenarioError, ThrusterFaultSpec, load_scenario
from qiki_sim.ship_simulation import ShipSimulation
from qiki_msgs.msg import WorldTruth
from file_errors import one_line_error

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
SR_M, LR_M = 1000.0, 20000.0


def ship(name="ship_station_keeping", seed=0):
    return ShipSimulation(load_scenario(SCENARIOS / f"{name}.yaml"), seed)


def run(sim, seconds):
    for _ in range(round(seconds / sim.dt)):
        sim.step()


def minimal(**ego_extra):
    return {"name": "t", "profile": "ship", "seed": 1, "duration_s": 10.0,
            "vehicle": {"description": "ship", "mission": "ship_station_keeping"},
            "ego": {"elements": {"a_m": 6778137.0, "i_deg": 51.6}, **ego_extra}}


def ship_with(**params):
    """The shipped ship description with some of its `ship` parameters replaced."""
    d = load_description("ship")
    return d.model_copy(update={"ship": d.ship.model_copy(update=params)})


@pytest.mark.parametrize("name", ["ship_station_keeping", "ship_debris_field"])
def test_shipped_scenarios_have_target_foe_and_both_radar_bands(name):
    sim = ship(name)
    t = sim.truth()
    assert sim.scenario.profile == "ship" and len(t.id) >= 60
    assert set(t.kind.tolist()) == {WorldTruth.KIND_SPACECRAFT, WorldTruth.KIND_DEBRIS}
    assert sim.target_id == 1 and t.transponder_code[t.id == 1][0] == 2001
    assert (t.transponder_code == 6602).sum() == 1
    for when in (0.0, 60.0):
        run(sim, when - sim.time_s)
        r = np.linalg.norm(sim.relative_truth_lvlh().position, axis=1)
        assert (r < SR_M).sum() >= 3 and ((r >= SR_M) & (r <= LR_M)).sum() >= 50
        rel = sim.relative_truth_lvlh()
        np.testing.assert_allclose(rel.position[rel.id == 1][0], [0.0, 200.0, 0.0], atol=0.05)  # target holds


def test_debris_field_has_a_collision_course():
    sim = ship("ship_debris_field")
    i = int(np.flatnonzero(sim.truth().id == 30)[0])
    closest, when = np.inf, 0.0
    for _ in range(round(200.0 / sim.dt)):
        sim.step()
        r = np.linalg.norm(sim.relative_truth_lvlh().position[i]) if sim.step_index % 5 == 0 else np.inf
        closest, when = min((closest, when), (r, sim.time_s))
    assert closest < 20.0 and 120.0 <= when <= 180.0


def test_initial_attitude_holds_lvlh_and_ego_state_is_eci():
    sim = ship()
    e = sim.ego_state()
    c = lvlh_rotation(e.position, e.velocity_world)
    np.testing.assert_allclose(e.rotation(), c @ [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-12)  # x V-bar, z up
    n = mean_motion_of(e.position, e.velocity_world)
    np.testing.assert_allclose(e.angular_velocity_body, [0.0, n, 0.0], atol=1e-12)
    np.testing.assert_allclose(e.velocity_body, e.rotation().T @ e.velocity_world)
    assert e.mass_kg == 900.0 and e.propellant_kg == 150.0 and e.energy_fraction == 1.0
    run(sim, 60.0)  # torque-free spin about a principal axis keeps the LVLH attitude (J2 wobbles its rate)
    e = sim.ego_state()
    c = lvlh_rotation(e.position, e.velocity_world)
    np.testing.assert_allclose(e.rotation(), c @ [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-4)


def test_same_seed_is_bit_identical_and_seed_changes_only_random_debris():
    a, b, c = ship(seed=5), ship(seed=5), ship(seed=6)
    throttle = np.zeros(a.rcs.n)
    throttle[[0, 5]] = 0.3
    for s in (a, b, c):
        s.command_thrusters(throttle)
        run(s, 5.0)
    ta, tb, tc = a.truth(), b.truth(), c.truth()
    for f in ("id", "kind", "position", "velocity", "rcs_m2", "radius_m", "transponder_code"):
        np.testing.assert_array_equal(getattr(ta, f), getattr(tb, f))
    np.testing.assert_array_equal(a.ego_state().position, b.ego_state().position)
    np.testing.assert_array_equal(a.ego_state().quaternion_wxyz, b.ego_state().quaternion_wxyz)
    explicit = np.isin(ta.id, [o.id for o in a.scenario.objects])
    np.testing.assert_array_equal(ta.position[explicit], tc.position[explicit])
    assert np.all(np.abs(ta.position[~explicit] - tc.position[~explicit]).max(axis=1) > 1.0)
    a.reset()
    a2 = ship(seed=5)
    np.testing.assert_array_equal(a.truth().position, a2.truth().position)


def test_thruster_command_moves_the_ship_and_uses_propellant():
    sim, ref = ship(), ship()
    alloc = ThrustAllocator(sim.rcs).allocate([88.0, 0.0, 0.0], [0.0, 0.0, 0.0])  # full forward (V-bar) burn
    assert not sim.command_thrusters(alloc.throttle)
    run(sim, 10.0)
    run(ref, 10.0)
    e, e_ref = sim.ego_state(), ref.ego_state()
    used = 88.0 / (220.0 * 9.80665) * 10.0
    dv = e.velocity_world - e_ref.velocity_world  # rocket equation; body x turned by n * 10 s = 0.65 deg
    assert np.linalg.norm(dv) == pytest.approx(220.0 * 9.80665 * np.log(900.0 / (900.0 - used)), rel=1e-4)
    assert dv @ e.rotation()[:, 0] > np.cos(0.012) * np.linalg.norm(dv)
    assert e.propellant_kg == pytest.approx(150.0 - used, rel=1e-9)
    assert e.energy_fraction == pytest.approx((150.0 - used) / 150.0)
    np.testing.assert_allclose(e.angular_velocity_body, e_ref.angular_velocity_body, atol=1e-12)  # no torque
    rel = sim.relative_truth_lvlh()
    assert rel.position[rel.id == 1][0][1] < 200.0 - 3.0  # closed on the target ahead


def test_clamping_and_bad_commands():
    sim = ship()
    u = np.full(sim.rcs.n, 0.5)
    u[2], u[7] = -0.2, 1.7
    report = sim.command_thrusters(u)
    assert report and report.clamped and "[2, 7]" in report.reason
    assert report.applied[2] == 0.0 and report.applied[7] == 1.0 and report.requested[7] == 1.7
    np.testing.assert_array_equal(sim.throttle, report.applied)
    for bad in (np.full(sim.rcs.n, np.nan), np.r_[np.inf, np.zeros(sim.rcs.n - 1)]):
        with pytest.raises(ValueError, match="finite"):
            sim.command_thrusters(bad)
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        sim.command_thrusters(np.zeros(3))
    np.testing.assert_array_equal(sim.throttle, report.applied)  # rejected commands keep the previous one
    with pytest.raises(NotImplementedError, match="command_thrusters"):
        sim.command(1.0, 0.0)


def test_devices_and_running_dry():
    sim = ShipSimulation(Scenario.model_validate(minimal()), description=ship_with(propellant_kg=0.05))
    names, levels, values = sim.device_readings()
    assert names == list(load_description("ship").devices) and levels.dtype == np.uint8
    assert values[names.index("power")] == 1.0 and levels[names.index("propulsion")] == OK
    sim.command_thrusters(np.ones(sim.rcs.n))
    run(sim, 1.0)  # 16 x 22 N burns 0.163 kg/s: the 50 g tank empties within the second
    names, levels, _ = sim.device_readings()
    assert sim.propellant_kg == 0.0 and sim.ego_state().mass_kg == pytest.approx(750.0)
    assert levels[names.index("propulsion")] == ERROR
    v = sim.ego_state().velocity_world
    run(sim, 0.05)  # no propellant: no thrust, pure coast (tiny change from gravity only)
    assert np.linalg.norm(sim.ego_state().velocity_world - v) < 0.5
    low = ShipSimulation(Scenario.model_validate(minimal()), description=ship_with(propellant_kg=10.0))
    low.body.y[13] = 750.0 + 0.5
    assert low.device_readings()[1][names.index("propulsion")] == WARN


def test_ship_scenario_errors_are_one_line_with_key_path(tmp_path):
    error = one_line_error(tmp_path, "s.yaml", load_scenario, ScenarioError)

    base = ("name: t\nprofile: ship\nseed: 1\nduration_s: 10\n"
            "vehicle: {description: ship, mission: m}\nego: {elements: {a_m: 6778137.0}}\n")
    assert "ego: expected either elements or both position and velocity" in error(
        base.replace("{elements: {a_m: 6778137.0}}", "{position: [7000000.0, 0, 0]}"))
    assert "ego.elements: perigee radius" in error(base.replace("6778137.0", "6000000.0"))
    assert "ego.attitude_wxyz: expected a unit quaternion" in error(
        base.replace("}}", "}, attitude_wxyz: [1, 1, 0, 0]}"))
    assert "objects[1]: expected exactly one of position, elements, encounter; got position, encounter" in error(
        base + "objects:\n  - {kind: debris, position: [0, 100, 0]}\n"
               "  - {kind: debris, position: [0, 1, 0], encounter: {time_s: 1, miss_m: [0, 0, 0], "
               "relative_velocity: [1, 0, 0]}}\n")
    assert "objects[0].kind: expected one of 'spacecraft' or 'debris', got 'robot'" in error(
        base + "objects: [{kind: robot, position: [0, 100, 0]}]\n")
    assert "objects[0].velocity: expected a list of 3 numbers" in error(
        base + "objects: [{kind: debris, position: [0, 100, 0], velocity: fast}]\n")
    assert "objects[0]: unknown key 'behaviour'" in error(
        base + "objects: [{kind: debris, position: [0, 100, 0], behaviour: static}]\n")
    assert "objects[1]: more than one object with role 'target'" in error(
        base + "objects: [{kind: spacecraft, role: target, position: [0, 100, 0]},"
               " {kind: spacecraft, role: target, position: [0, 200, 0]}]\n")
    assert "random_movers does not apply to profile 'ship'" in error(
        base + "random_movers: {count: 1, area: [0, 0, 1, 1]}\n")
    assert "random_debris: range_m: expected min <= max, got [5000.0, 1000.0]" in error(
        base + "random_debris: {count: 3, range_m: [5000, 1000]}\n")
    bot = "name: t\nprofile: bot\nseed: 1\nduration_s: 10\nvehicle: {description: bot, mission: m}\nego: {x: 0, y: 0}\n"
    assert "random_debris does not apply to profile 'bot'" in error(bot + "random_debris: {count: 1}\n")


def test_objects_by_elements_and_eci_and_ids():
    sim = ShipSimulation(Scenario.model_validate({
        **minimal(), "objects": [
            {"kind": "debris", "elements": {"a_m": 6778137.0, "i_deg": 51.6, "nu_deg": 0.01}},
            {"id": 1, "kind": "spacecraft", "role": "target", "frame": "eci",
             "position": [7.0e6, 0.0, 0.0], "velocity": [0.0, 7546.0, 0.0]}],
        "random_debris": {"count": 3}}))
    t = sim.truth()
    assert t.id.tolist() == [2, 1, 3, 4, 5] and sim.target_id == 1
    np.testing.assert_allclose(t.position[1], [7.0e6, 0.0, 0.0])
    rel = sim.relative_truth_lvlh()
    np.testing.assert_allclose(rel.position[0], [0.0, 6778137.0 * np.radians(0.01), 0.0], atol=0.2)
    r = np.linalg.norm(rel.position[2:], axis=1)
    assert np.all((r >= 1000.0) & (r <= 20000.0))


def test_thruster_fault_cuts_that_thruster_from_its_time_on(tmp_path):
    """thruster_faults: the faulty thruster delivers `efficiency` of its command from at_s; the others are untouched."""
    scenario = load_scenario(SCENARIOS / "ship_station_keeping.yaml")
    faulty = ShipSimulation(scenario.model_copy(update={"thruster_faults": [
        ThrusterFaultSpec(thruster=0, at_s=5.0, efficiency=0.0)]}))
    healthy = ShipSimulation(scenario)
    throttle = np.zeros(faulty.rcs.n)
    throttle[0] = 1.0
    for sim in (faulty, healthy):
        sim.command_thrusters(throttle)
    run(faulty, 5.0)
    run(healthy, 5.0)
    np.testing.assert_array_equal(faulty.body.y, healthy.body.y)   # not due yet: bit-identical
    run(faulty, 5.0)
    run(healthy, 5.0)
    assert faulty.ego_state().propellant_kg > healthy.ego_state().propellant_kg   # it burnt nothing after 5 s
    np.testing.assert_array_equal(faulty.thrust_efficiency(), np.r_[0.0, np.ones(faulty.rcs.n - 1)])
    assert healthy.thrust_efficiency() is None

    error = one_line_error(tmp_path, "s.yaml", load_scenario, ScenarioError)
    base = ("name: t\nprofile: ship\nseed: 1\nduration_s: 10\n"
            "vehicle: {description: ship, mission: m}\nego: {elements: {a_m: 6778137.0}}\n")
    assert "thruster_faults[0].thruster: thruster 16 does not exist: vehicle 'ship' has 16 (0..15)" in error(
        base + "thruster_faults: [{thruster: 16, at_s: 1}]\n")
    assert "thruster_faults[0].efficiency: expected a number <= 1" in error(
        base + "thruster_faults: [{thruster: 1, at_s: 1, efficiency: 2}]\n")
    bot = "name: t\nprofile: bot\nseed: 1\nduration_s: 10\nvehicle: {description: bot, mission: m}\nego: {x: 0, y: 0}\n"
    assert "thruster_faults does not apply to profile 'bot'" in error(
        bot + "thruster_faults: [{thruster: 1, at_s: 1}]\n")
