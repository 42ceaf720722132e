"""Orbit propagation: RK4 vs analytic Kepler at the sim step, energy, J2 nodal regression, vectorisation."""
import pathlib

import numpy as np
import pytest

from qiki_sim.orbit import (J2, MU, R_E, OrbitalWorld, elements_to_state, gravity, kepler_propagate,
                            orbital_period, propagate, rk4_step, specific_energy)
from qiki_sim.scenario import EARTH_RADIUS_M, load_scenario

SCENARIOS = pathlib.Path(__file__).parents[3] / "config" / "scenarios"
A_LEO = R_E + 400e3


def sim_dt():
    return load_scenario(SCENARIOS / "ship_station_keeping.yaml").dt_s


def raan(r, v):
    h = np.cross(r, v)
    return np.arctan2(h[0], -h[1])


def test_one_orbit_at_sim_step_matches_kepler_and_conserves_energy():
    dt = sim_dt()
    r0, v0 = elements_to_state(A_LEO, 0.001, np.radians(51.6), 0.5, 1.0, 0.3)
    n = round(orbital_period(A_LEO) / dt)
    r, v = propagate(r0, v0, dt, n, j2=False)
    r_ref, v_ref = kepler_propagate(r0, v0, n * dt)
    assert np.linalg.norm(r - r_ref) < 1.0  # [m] REQUIRED
    drift = abs(specific_energy(r, v) / specific_energy(r0, v0) - 1.0)
    assert drift < 1e-9  # REQUIRED


def test_kepler_propagate_closes_orbits_and_matches_circular_motion():
    r0, v0 = elements_to_state(A_LEO, 0.0, 0.3, 0.0, 0.0, 0.0)
    T = orbital_period(A_LEO)
    r, v = kepler_propagate(r0, v0, T)
    np.testing.assert_allclose(r, r0, atol=1e-6)
    np.testing.assert_allclose(v, v0, atol=1e-9)
    r, _ = kepler_propagate(r0, v0, T / 4)  # a quarter turn: 90 degrees from r0 in the orbit plane
    assert np.dot(r, r0) == pytest.approx(0.0, abs=1e-3 * A_LEO)
    assert np.linalg.norm(r) == pytest.approx(A_LEO, rel=1e-12)
    # Eccentric and hyperbolic orbits keep energy and angular momentum.
    for e, a in ((0.7, 2 * A_LEO), (1.5, -2 * A_LEO)):
        r0, v0 = elements_to_state(a, e, 1.0, 0.2, 0.4, 0.3) if e < 1 else _hyperbola(a, e)
        r, v = kepler_propagate(r0, v0, 3000.0)
        assert specific_energy(r, v) == pytest.approx(specific_energy(r0, v0), rel=1e-10)
        np.testing.assert_allclose(np.cross(r, v), np.cross(r0, v0), rtol=1e-10)


def _hyperbola(a, e):
    p = a * (1 - e * e)
    return np.array([p / (1 + e), 0.0, 0.0]), np.array([0.0, np.sqrt(MU / p) * (1 + e), 0.0])


def test_elements_to_state_geometry():
    assert EARTH_RADIUS_M == R_E  # scenario.py keeps its own copy (import cycle)
    i, node = np.radians(51.6), np.radians(30.0)
    r, v = elements_to_state(A_LEO, 0.0, i, node, 0.0, 0.0)
    assert np.linalg.norm(r) == pytest.approx(A_LEO)
    assert np.linalg.norm(v) == pytest.approx(np.sqrt(MU / A_LEO))
    h = np.cross(r, v)
    assert np.arccos(h[2] / np.linalg.norm(h)) == pytest.approx(i)
    assert raan(r, v) == pytest.approx(node)
    assert r[2] == pytest.approx(0.0, abs=1e-6)  # nu = argp = 0: at the ascending node


@pytest.mark.parametrize("inc_deg", [51.6, 98.0])
def test_j2_regresses_the_node_at_the_secular_rate(inc_deg):
    """dRAAN/dt = -3/2 n J2 (R_E/p)^2 cos i: westward for prograde, eastward for retrograde orbits."""
    i = np.radians(inc_deg)
    r0, v0 = elements_to_state(A_LEO, 0.0, i, 0.5, 0.0, 0.0)
    dt, T = 10.0, orbital_period(A_LEO)
    n_orbits = 5
    steps = round(n_orbits * T / dt)
    r, v = propagate(r0, v0, dt, steps, j2=True)
    n = np.sqrt(MU / A_LEO**3)
    expected = -1.5 * n * J2 * (R_E / A_LEO) ** 2 * np.cos(i) * steps * dt
    got = raan(r, v) - raan(r0, v0)
    assert np.sign(got) == np.sign(expected)
    assert got == pytest.approx(expected, rel=0.05)
    # Without J2 the plane stays put; with it the J2-aware energy is still conserved.
    r2, v2 = propagate(r0, v0, dt, steps, j2=False)
    assert abs(raan(r2, v2) - raan(r0, v0)) < 1e-10
    assert specific_energy(r, v, j2=True) == pytest.approx(specific_energy(r0, v0, j2=True), rel=1e-9)


def test_j2_gravity_matches_potential_gradient():
    r = np.array([4.1e6, -3.3e6, 4.2e6])
    g = gravity(r, j2=True)
    h = 1e-1
    grad = [(specific_energy(r + h * e, np.zeros(3), True) - specific_energy(r - h * e, np.zeros(3), True)) / (2 * h)
            for e in np.eye(3)]
    np.testing.assert_allclose(g, -np.array(grad), rtol=1e-6)


def test_vectorised_n_body_equals_per_body():
    rng = np.random.default_rng(3)
    states = [elements_to_state(A_LEO + rng.uniform(0, 5e5), rng.uniform(0, 0.05), *rng.uniform(0, 3, 4))
              for _ in range(7)]
    r, v = np.array([s[0] for s in states]), np.array([s[1] for s in states])
    rn, vn = r.copy(), v.copy()
    for _ in range(50):
        rn, vn = rk4_step(rn, vn, 0.05, j2=True)
    for k in range(len(states)):
        rk, vk = propagate(r[k], v[k], 0.05, 50, j2=True)
        np.testing.assert_allclose(rn[k], rk, rtol=1e-15, atol=1e-9)
        np.testing.assert_allclose(vn[k], vk, rtol=1e-15, atol=1e-12)


def test_orbital_world_truth_layout_and_step():
    r, v = elements_to_state(A_LEO, 0.0, 0.9, 0.0, 0.0, 0.0)
    w = OrbitalWorld([5, 7], [3, 4], [r, -r], [v, -v], [10.0, 0.1], [2.0, 0.2], [2001, 0])
    w.step(0.05)
    t = w.truth()
    assert t.id.dtype == np.uint32 and t.kind.dtype == np.uint8 and t.transponder_code.dtype == np.uint32
    assert t.position.shape == (2, 3) and t.time_s == pytest.approx(0.05)
    rr, vv = rk4_step(np.array([r, -r]), np.array([v, -v]), 0.05)
    np.testing.assert_array_equal(t.position, rr)
    np.testing.assert_array_equal(t.velocity, vv)
    t.position[:] = 0.0  # a copy
    assert np.linalg.norm(w.truth().position[0]) > R_E
    with pytest.raises(ValueError, match="unique"):
        OrbitalWorld([1, 1], [3, 3], [r, r], [v, v], [1, 1], [1, 1], [0, 0])
