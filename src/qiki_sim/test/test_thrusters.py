"""RCS wrench and mass flow, default layout, thrust allocation (feasible, saturated, infeasible)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import ValidationError

from qiki_sim.thrusters import G0, Rcs, RcsConfig, ThrustAllocator, Thruster, default_rcs

RCS = Rcs(default_rcs())
ALLOCATOR = ThrustAllocator(RCS)


def test_default_layout_is_16_unit_thrusters_with_full_6dof_authority():
    assert RCS.n == 16
    np.testing.assert_allclose(np.linalg.norm(RCS.directions, axis=1), 1.0)
    np.testing.assert_allclose(np.abs(RCS.positions), 1.0)  # corners of a 2 m cube
    b = RCS.wrench_matrix
    assert np.linalg.matrix_rank(b) == 6
    np.testing.assert_allclose(b @ np.ones(16), 0.0, atol=1e-12)  # strictly positive null vector
    for w in np.vstack([np.eye(6), -np.eye(6)]):  # every axis, both signs, of force and torque
        a = ALLOCATOR.allocate(w[:3], w[3:])
        assert a.feasible and not a.saturated and a.relative_residual < 1e-6


def test_forces_torques_match_per_thruster_sum_and_mass_flow():
    u = np.random.default_rng(1).uniform(0, 1, RCS.n)
    f, tau = RCS.forces_torques(u)
    thrust = u * RCS.max_thrust
    forces = RCS.directions * thrust[:, None]
    np.testing.assert_allclose(f, forces.sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(tau, sum(np.cross(p, fi) for p, fi in zip(RCS.positions, forces)), atol=1e-12)
    assert RCS.mass_flow(u) == pytest.approx(thrust.sum() / (220.0 * G0))
    # A pure +x burn of the four -x-mounted thrusters: 88 N, no torque.
    plus_x = (RCS.directions[:, 0] > 0.5).astype(float)
    f, tau = RCS.forces_torques(plus_x)
    np.testing.assert_allclose(f, [88.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(tau, 0.0, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, 16, elements=st.floats(0.0, 1.0)))
def test_feasible_requests_are_met_to_round_off(u):
    """Any wrench the thrusters can make within their limits is allocated with relative residual < 1e-6."""
    f, tau = RCS.forces_torques(u)
    a = ALLOCATOR.allocate(f, tau)
    assert a.throttle.min() >= 0.0 and a.throttle.max() <= 1.0
    if np.linalg.norm(np.concatenate([f, tau])) > 1e-9:
        assert a.relative_residual < 1e-6
    assert a.feasible and not a.saturated
    got_f, got_tau = RCS.forces_torques(a.throttle)
    np.testing.assert_allclose(a.achieved_force, got_f)
    np.testing.assert_allclose(a.achieved_torque, got_tau)
    np.testing.assert_allclose(a.residual, np.concatenate([f - got_f, tau - got_tau]))


def test_seeded_random_directions_within_capability():
    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(500):
        d = rng.normal(size=6)
        w = 5.0 * d / np.linalg.norm(d)  # 5 N / N m in any direction is well inside the limits
        a = ALLOCATOR.allocate(w[:3], w[3:])
        assert a.feasible and not a.saturated
        worst = max(worst, a.relative_residual)
    assert worst < 1e-6


def test_saturated_request_returns_best_bounded_solution():
    a = ALLOCATOR.allocate([1000.0, 0.0, 0.0], [0.0, 0.0, 0.0])  # needs 1000 N, 4 x 22 N available
    assert a.feasible and a.saturated
    assert a.throttle.min() >= 0.0 and a.throttle.max() <= 1.0
    np.testing.assert_allclose(a.achieved_force, [88.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(a.achieved_torque, 0.0, atol=1e-9)
    np.testing.assert_allclose(a.residual, [912.0, 0, 0, 0, 0, 0], atol=1e-9)
    assert a.relative_residual == pytest.approx(0.912)


def test_infeasible_direction_with_deficient_layout():
    """Four thrusters that all push +x (a pure translation engine): -x and any y force are impossible."""
    corners = [(-1.0, 1.0, 1.0), (-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, -1.0)]
    rcs = Rcs(RcsConfig(thrusters=[Thruster(position_m=p, direction=(1, 0, 0), max_thrust_n=10, isp_s=200)
                                   for p in corners]))
    alloc = ThrustAllocator(rcs)
    ok = alloc.allocate([20.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert ok.feasible and ok.relative_residual < 1e-6
    a = alloc.allocate([-5.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert not a.feasible and not a.saturated
    np.testing.assert_allclose(a.throttle, 0.0)
    np.testing.assert_allclose(a.residual, [-5.0, 0, 0, 0, 0, 0])
    a = alloc.allocate([5.0, 3.0, 0.0], [0.0, 0.0, 0.0])
    assert not a.feasible and a.relative_residual == pytest.approx(3.0 / np.hypot(5, 3), rel=1e-6)
    np.testing.assert_allclose(a.achieved_force, [5.0, 0.0, 0.0], atol=1e-9)


def test_zero_and_non_finite_requests():
    a = ALLOCATOR.allocate(np.zeros(3), np.zeros(3))
    assert a.feasible and not a.saturated and a.relative_residual == 0.0 and not a.throttle.any()
    with pytest.raises(ValueError, match="finite"):
        ALLOCATOR.allocate([np.nan, 0, 0], [0, 0, 0])


def test_config_validation():
    t = Thruster(position_m=[0, 0, 1], direction=[0, 0, -3], max_thrust_n=1, isp_s=100)
    assert t.direction == (0.0, 0.0, -1.0)  # normalised
    with pytest.raises(ValidationError, match="non-zero"):
        Thruster(position_m=[0, 0, 1], direction=[0, 0, 0], max_thrust_n=1, isp_s=100)
    with pytest.raises(ValidationError):
        Thruster(position_m=[0, 0], direction=[0, 0, 1], max_thrust_n=1, isp_s=100)
    with pytest.raises(ValidationError):
        Thruster(position_m=[0, 0, 1], direction=[0, 0, 1], max_thrust_n=0, isp_s=100)
    with pytest.raises(ValidationError):
        RcsConfig(thrusters=[])
