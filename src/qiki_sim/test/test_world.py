"""World: scripted behaviours, random movers, reproducibility."""
import numpy as np
import pytest

from qiki_msgs.msg import WorldTruth
from qiki_sim.world import World


def world(objects, seed=0, movers=None):
    return World.from_scenario(objects, np.random.default_rng(seed), movers)


def advance(w, seconds, dt=0.05):
    for _ in range(round(seconds / dt)):
        w.step(dt)
    return w.truth()


def test_constant_velocity_and_static():
    w = world([
        {"kind": "robot", "position": [1, 2, 0], "velocity": [0.5, -1.0, 0]},
        {"kind": "obstacle", "behaviour": "static", "position": [5, 5, 0]},
    ])
    t = advance(w, 10.0)
    assert t.time_s == pytest.approx(10.0)
    np.testing.assert_allclose(t.position[0], [6.0, -8.0, 0.0], atol=1e-9)
    np.testing.assert_array_equal(t.position[1], [5.0, 5.0, 0.0])
    np.testing.assert_array_equal(t.velocity[1], 0.0)
    assert t.kind[0] == WorldTruth.KIND_ROBOT and t.id.tolist() == [1, 2]


def test_turn_keeps_speed_and_turns_at_rate():
    rate, speed = 0.1, 2.0
    w = world([{"kind": "person", "behaviour": "turn", "position": [0, 0, 0],
                "velocity": [speed, 0, 0], "turn_rate_radps": rate}])
    t = advance(w, 5.0)
    v = t.velocity[0]
    assert np.hypot(v[0], v[1]) == pytest.approx(speed)
    assert np.arctan2(v[1], v[0]) == pytest.approx(rate * 5.0)
    # On the circle of radius speed/rate centred left of the start.
    r = speed / rate
    assert np.hypot(t.position[0, 0], t.position[0, 1] - r) == pytest.approx(r, abs=1e-9)
    assert t.kind[0] == WorldTruth.KIND_PERSON
    # A full lap returns to the start.
    t = advance(w, 2 * np.pi / rate - 5.0, dt=2 * np.pi / rate - 5.0)
    np.testing.assert_allclose(t.position[0], [0, 0, 0], atol=1e-9)


def test_stop_and_go_moves_only_in_go_phases():
    w = world([{"kind": "robot", "behaviour": "stop_and_go", "position": [0, 0, 0],
                "velocity": [1, 0, 0], "go_s": 2.0, "stop_s": 3.0}])
    xs, vs = [], []
    for _ in range(120):  # 12 s in 0.1 s steps
        w.step(0.1)
        t = w.truth()
        xs.append(t.position[0, 0])
        vs.append(t.velocity[0, 0])
    xs = np.array(xs)
    times = np.arange(1, 121) * 0.1
    expected = np.floor(times / 5.0) * 2.0 + np.minimum(np.mod(times, 5.0), 2.0)
    np.testing.assert_allclose(xs, expected, atol=1e-9)
    assert xs[29] == pytest.approx(2.0) and xs[49] == pytest.approx(2.0)  # stopped 2..5 s
    assert vs[9] == 1.0 and vs[34] == 0.0 and vs[54] == 1.0


def test_step_across_a_phase_change_is_exact():
    w = world([{"kind": "robot", "behaviour": "stop_and_go", "position": [0, 0, 0],
                "velocity": [0, 1, 0], "go_s": 2.0, "stop_s": 3.0}])
    w.step(7.5)  # go 2, stop 3, go 2, stop 0.5
    assert w.truth().position[0, 1] == pytest.approx(4.0)


MOVERS = {"count": 100, "area": [-100, -50, 100, 50], "speed_range": [0.5, 2.0], "rcs_range": [1, 10]}


def test_random_movers_reproducible_and_seed_dependent():
    a, b, c = (world([], seed=s, movers=MOVERS).truth() for s in (3, 3, 4))
    assert len(a.id) == 100
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_array_equal(a.velocity, b.velocity)
    assert not np.array_equal(a.position, c.position)
    assert (a.position[:, 0] >= -100).all() and (a.position[:, 0] <= 100).all()
    assert (np.abs(a.position[:, 1]) <= 50).all()
    speed = np.hypot(a.velocity[:, 0], a.velocity[:, 1])
    assert speed.min() >= 0.5 and speed.max() <= 2.0
    assert (a.rcs_m2 >= 1).all() and (a.rcs_m2 <= 10).all()


def test_ids_unique_with_explicit_and_random():
    w = world([{"id": 2, "kind": "robot", "position": [0, 0, 0]}, {"kind": "robot", "position": [1, 0, 0]}],
              movers={**MOVERS, "count": 3})
    assert w.truth().id.tolist() == [2, 1, 3, 4, 5]


def test_same_scenario_same_seed_bit_identical(tmp_path):
    from qiki_sim.scenario import load_scenario
    import pathlib
    path = pathlib.Path(__file__).parents[3] / "config" / "scenarios" / "bot_crossing.yaml"
    sc = load_scenario(path)

    def run(seed):
        w = World.from_scenario(sc, np.random.default_rng(seed))
        return advance(w, 20.0)
    a, b, c = run(sc.seed), run(sc.seed), run(sc.seed + 1)
    for field in ("id", "kind", "position", "velocity", "rcs_m2", "radius_m", "transponder_code"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field
    assert a.id.dtype == np.uint32 and a.kind.dtype == np.uint8 and a.transponder_code.dtype == np.uint32
    assert a.position.tobytes() != c.position.tobytes()


def test_truth_is_a_copy():
    w = world([{"kind": "robot", "position": [0, 0, 0], "velocity": [1, 0, 0]}])
    t = w.truth()
    t.position[0, 0] = 99.0
    w.step(1.0)
    assert w.truth().position[0, 0] == pytest.approx(1.0)
