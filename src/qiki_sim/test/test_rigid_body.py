"""6-DOF rigid body: torque-free invariants, unit quaternion, rocket equation, consistency with orbit.py."""
from functools import partial

import numpy as np
import pytest
from transforms3d.quaternions import axangle2quat, quat2mat

from qiki_sim.orbit import R_E, elements_to_state, gravity, rk4_step
from qiki_sim.rigid_body import RigidBody
from qiki_sim.thrusters import G0

INERTIA = np.array([[600.0, 20.0, -10.0], [20.0, 650.0, 15.0], [-10.0, 15.0, 550.0]])


def test_torque_free_rotation_conserves_momentum_energy_and_unit_quaternion():
    """Tumbling about no principal axis (the intermediate-axis case included) for 10 minutes at the sim step."""
    b = RigidBody(INERTIA, np.zeros(3), np.zeros(3), axangle2quat([1, 2, 3], 0.4), [0.2, -0.3, 0.25], 900.0)
    h0, e0 = b.angular_momentum_eci(), b.rotational_energy()
    w0 = b.state.angular_velocity_body.copy()
    for _ in range(12000):
        b.step(0.05)
        assert abs(np.linalg.norm(b.y[6:10]) - 1.0) < 1e-12
    assert np.linalg.norm(b.angular_momentum_eci() - h0) / np.linalg.norm(h0) < 1e-8
    assert b.rotational_energy() == pytest.approx(e0, rel=1e-10)
    assert np.linalg.norm(b.state.angular_velocity_body - w0) > 1e-2  # it really tumbled (body rate changes)


def test_constant_torque_about_principal_axis_spins_up():
    b = RigidBody(np.diag([600.0, 650.0, 550.0]), np.zeros(3), np.zeros(3), [1, 0, 0, 0], np.zeros(3), 900.0)
    for _ in range(200):
        b.step(0.05, torque_body=[0.0, 0.0, 11.0])
    t = 10.0
    np.testing.assert_allclose(b.state.angular_velocity_body, [0.0, 0.0, 11.0 / 550.0 * t], atol=1e-12)
    angle = 0.5 * 11.0 / 550.0 * t**2
    np.testing.assert_allclose(b.state.quaternion_wxyz, [np.cos(angle / 2), 0, 0, np.sin(angle / 2)], atol=1e-9)


def test_constant_body_force_follows_rocket_equation():
    """Thrust F along body x with mass flow F/(Isp g0): dv = Isp g0 ln(m0/m1) along the body x axis in ECI."""
    q = axangle2quat([0.0, 0.3, 1.0], 1.1)
    m0, thrust, isp, t = 900.0, 88.0, 220.0, 300.0
    flow = thrust / (isp * G0)
    b = RigidBody(INERTIA, np.zeros(3), np.zeros(3), q, np.zeros(3), m0)
    for _ in range(round(t / 0.05)):
        b.step(0.05, force_body=[thrust, 0.0, 0.0], mass_flow=flow)
    s = b.state
    assert s.mass_kg == pytest.approx(m0 - flow * t, rel=1e-12)  # propellant used: 12.2 kg
    dv = isp * G0 * np.log(m0 / s.mass_kg)
    np.testing.assert_allclose(s.velocity, dv * quat2mat(q)[:, 0], rtol=1e-10)
    np.testing.assert_allclose(s.quaternion_wxyz, q, atol=1e-15)  # no torque, no rotation


def test_coasting_translation_is_the_orbit_integrator():
    """Zero force: the body's translation equals orbit.rk4_step bit for bit (chaser and objects stay consistent)."""
    r, v = elements_to_state(R_E + 400e3, 0.0, 0.9, 0.0, 0.0, 0.0)
    b = RigidBody(INERTIA, r, v, [1, 0, 0, 0], [0.0, 0.01, 0.0], 900.0, gravity=partial(gravity, j2=True))
    rr, vv = r.copy(), v.copy()
    for _ in range(500):
        b.step(0.05)
        rr, vv = rk4_step(rr, vv, 0.05, j2=True)
    np.testing.assert_array_equal(b.state.position, rr)
    np.testing.assert_array_equal(b.state.velocity, vv)


def test_rejects_bad_inertia():
    with pytest.raises(ValueError, match="positive definite"):
        RigidBody(np.diag([1.0, -1.0, 1.0]), np.zeros(3), np.zeros(3), [1, 0, 0, 0], np.zeros(3), 1.0)
