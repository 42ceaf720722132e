"""LVLH frame: axes, round trip, co-orbiting object at rest, Clohessy-Wiltshire relative motion."""
import numpy as np
import pytest

from qiki_sim.lvlh import from_lvlh, lvlh_rate, lvlh_rotation, to_lvlh
from qiki_sim.orbit import R_E, elements_to_state, mean_motion, propagate, rk4_step

A = R_E + 400e3


def chaser(e=0.0):
    return elements_to_state(A, e, np.radians(51.6), 0.4, 0.2, 0.7)


def test_axes_radial_along_track_normal():
    r, v = chaser(e=0.01)
    c = lvlh_rotation(r, v)
    np.testing.assert_allclose(c.T @ c, np.eye(3), atol=1e-15)
    assert np.linalg.det(c) == pytest.approx(1.0)
    np.testing.assert_allclose(c[:, 0], r / np.linalg.norm(r))
    h = np.cross(r, v)
    np.testing.assert_allclose(c[:, 2], h / np.linalg.norm(h))
    assert c[:, 1] @ v > 0  # y points along the motion
    assert lvlh_rate(r, v)[2] == pytest.approx(np.linalg.norm(h) / (r @ r))


def test_round_trip():
    rng = np.random.default_rng(0)
    r, v = chaser(e=0.02)
    rel_p, rel_v = rng.normal(0, 5e3, (50, 3)), rng.normal(0, 5, (50, 3))
    ro, vo = from_lvlh(r, v, rel_p, rel_v)
    p2, v2 = to_lvlh(r, v, ro, vo)
    np.testing.assert_allclose(p2, rel_p, atol=1e-8)
    np.testing.assert_allclose(v2, rel_v, atol=1e-11)
    # The chaser itself is the origin, at rest.
    p0, v0 = to_lvlh(r, v, r[None], v[None])
    np.testing.assert_allclose(p0, 0.0, atol=1e-9)
    np.testing.assert_allclose(v0, 0.0, atol=1e-12)


def test_co_orbiting_object_ahead_on_vbar_stays_fixed():
    """Same circular orbit, 200 m further along: constant LVLH position, zero relative velocity."""
    dnu = 200.0 / A
    rc, vc = elements_to_state(A, 0.0, np.radians(51.6), 0.4, 0.0, 0.7)
    ro, vo = elements_to_state(A, 0.0, np.radians(51.6), 0.4, 0.0, 0.7 + dnu)
    p0, _ = to_lvlh(rc, vc, ro[None], vo[None])
    np.testing.assert_allclose(p0[0], [0.0, 200.0, 0.0], atol=0.01)  # 3 mm below the tangent line
    (rc, ro), (vc, vo) = propagate(np.array([rc, ro]), np.array([vc, vo]), 1.0, 1200, j2=False)
    p, dv = to_lvlh(rc, vc, ro[None], vo[None])
    np.testing.assert_allclose(p, p0, atol=1e-4)
    np.testing.assert_allclose(dv, 0.0, atol=1e-6)


def test_placed_at_rest_in_lvlh_stays_near_with_j2():
    """The scenario way to place the target: from_lvlh([0, 200, 0], 0) stays within cm over 10 minutes."""
    rc, vc = chaser()
    ro, vo = from_lvlh(rc, vc, [[0.0, 200.0, 0.0]], [[0.0, 0.0, 0.0]])
    r, v = np.array([rc, ro[0]]), np.array([vc, vo[0]])
    for _ in range(600):
        r, v = rk4_step(r, v, 1.0, j2=True)
    p, _ = to_lvlh(r[0], v[0], r[1:], v[1:])
    assert np.linalg.norm(p[0] - [0.0, 200.0, 0.0]) < 0.2


def test_relative_motion_follows_clohessy_wiltshire():
    """Drift-free radial offset (vy = -2 n x0): x = x0 cos nt, y = y0 - 2 x0 sin nt; checks the omega x r term."""
    rc, vc = chaser()
    n = mean_motion(A)
    x0, y0, t = 100.0, -50.0, 600.0
    ro, vo = from_lvlh(rc, vc, [[x0, y0, 0.0]], [[0.0, -2 * n * x0, 0.0]])
    (rc, ro), (vc, vo) = propagate(np.array([rc, ro[0]]), np.array([vc, vo[0]]), 1.0, round(t), j2=False)
    p, v = to_lvlh(rc, vc, ro[None], vo[None])
    np.testing.assert_allclose(p[0], [x0 * np.cos(n * t), y0 - 2 * x0 * np.sin(n * t), 0.0], atol=0.05)
    np.testing.assert_allclose(v[0], [-x0 * n * np.sin(n * t), -2 * x0 * n * np.cos(n * t), 0.0], atol=1e-4)
