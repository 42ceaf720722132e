"""`qiki plot` of a fleet's bag, without DDS: a bag written with the project's bag writer holding two vehicles'
stacks under the names the graph's expansion gives them (GraphSpec.for_fleet), each vehicle's figures drawn from
its own topics, a world view with every path and the closest approach of each pair; a single vehicle's bag is
drawn as before."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_plots import FIXTURES, png_size

from qiki.cli import main
from qiki_tools import plots

VEHICLES = ["alpha", "bravo"]
STEPS = 201                       # 0 .. 20 s at 10 Hz
# alpha drives east along y = 0 (x = t - 10), bravo north along x = 3 (y = t - 10): closest at t = 11.5 s,
# sqrt(1.5^2 + 1.5^2) = 2.12 m apart
TRACK_ID = {"alpha": 11, "bravo": 22}
STATES = {"alpha": ["IDLE", "MISSION_ACTIVE"], "bravo": ["IDLE", "ALERT"]}


def _position(vehicle: str, t: float) -> tuple[float, float]:
    return (t - 10.0, 0.0) if vehicle == "alpha" else (3.0, t - 10.0)


def _stamped(msg, t_ns: int, frame: str = "map"):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
    msg.header.frame_id = frame
    return msg


def _messages(vehicle: str, k: int):
    """(PORTS key, message) of one vehicle's stack at step k."""
    from qiki_msgs.msg import AgentStatus, Event, RadarFrame, TrackArray, TrackScore, VehicleState
    from qiki_tracks.track_codec import tracks_to_msg
    from qiki_tracks.track_set import TrackSet
    t_ns = k * 100_000_000
    t = t_ns / 1e9
    x, y = _position(vehicle, t)
    state = _stamped(VehicleState(), t_ns)
    state.pose.position.x, state.pose.position.y = x, y
    state.velocity_world.x, state.velocity_world.y = (1.0, 0.0) if vehicle == "alpha" else (0.0, 1.0)
    yield "ego", state
    other = "bravo" if vehicle == "alpha" else "alpha"
    ox, oy = _position(other, t)
    tracks = TrackSet.from_arrays([TRACK_ID[vehicle]], [TrackArray.STATUS_CONFIRMED], [TrackArray.IFF_FRIEND],
                                  [RadarFrame.BAND_SR], np.array([[ox, oy, 0.0, 0.0, 0.0, 0.0]]), np.eye(6)[None])
    yield "tracks", tracks_to_msg(tracks, None, _stamped(TrackArray(), t_ns))
    score = _stamped(TrackScore(band=RadarFrame.BAND_UNION, gospa_m=0.5 + 0.01 * k, gospa_c_m=5.0), t_ns)
    yield "score", score
    if k % 10 == 0:
        frame = _stamped(RadarFrame(band=RadarFrame.BAND_SR, world_frame_id="map", min_range_m=0.5, max_range_m=40.0),
                         t_ns)
        yield "frame_sr", frame
        yield "status", _stamped(AgentStatus(state=STATES[vehicle][k >= 100]), t_ns)
    if k == 100:
        yield "events", _stamped(Event(code=401, severity=Event.WARN, source="agent", message="contact"), t_ns)


def write_fleet_bag(path: Path, template) -> Path:
    """A bag of a two-vehicle fleet, topics named by the template's expansion, written with qiki_bag's writer."""
    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import WorldTruth
    from rclpy.serialization import serialize_message
    fleet = template.for_fleet(VEHICLES)
    types = {t.name: t.type for t in fleet.topics}
    keys = {v: plots.plot_topics(template, v) for v in VEHICLES}
    with BagWriter(path) as bag:
        for topic in sorted({name for k in keys.values() for name in k.values()}):
            assert bag.add_topic(topic, types[topic])
        for k in range(STEPS):
            t_ns = k * 100_000_000
            truth = _stamped(WorldTruth(), t_ns)
            where = [(1, 5.0, 5.0)] + [(100 + i, *_position(v, t_ns / 1e9)) for i, v in enumerate(VEHICLES)]
            truth.id = [i for i, _, _ in where]
            truth.kind = [0] * len(where)
            truth.position = [c for _, x, y in where for c in (x, y, 0.0)]
            bag.write(keys["alpha"]["truth"], t_ns, serialize_message(truth))
            for v in VEHICLES:
                for key, msg in _messages(v, k):
                    bag.write(keys[v][key], t_ns, serialize_message(msg))
    return path


@pytest.fixture(scope="module")
def template():
    return plots.installed_graph()


@pytest.fixture(scope="module")
def fleet_bag(tmp_path_factory, template):
    return write_fleet_bag(tmp_path_factory.mktemp("fleet") / "bag", template)


def test_the_vehicles_of_a_bag_are_the_names_the_graph_expands_to_its_topics(template, fleet_bag):
    from qiki_bag.reader import open_bag
    with open_bag(fleet_bag) as bag:
        topics = set(bag.topic_types())
    assert plots.bag_vehicles(template, topics) == ["alpha", "bravo"]
    assert plots.bag_vehicles(template, topics - set(plots.plot_topics(template, "bravo").values())) == ["alpha"]
    with open_bag(FIXTURES / "bot_replay") as bag:                  # a single vehicle's bag: no fleet
        assert plots.bag_vehicles(template, set(bag.topic_types())) == []


def test_each_vehicle_is_read_from_its_own_stack(template, fleet_bag):
    runs = plots.load_fleet(fleet_bag, template)
    assert list(runs) == VEHICLES
    for v, data in runs.items():
        assert data.vehicle == v and data.topics == plots.plot_topics(template, v) and data.missing == []
        assert data.frame == "map" and data.sr_range_m == 40.0 and data.end_t == pytest.approx(20.0)
        assert len(data.ego) == STEPS and set(data.tracks["id"]) == {TRACK_ID[v]}
        assert list(data.status["state"][[0, -1]]) == STATES[v]
        assert len(data.events) == 1 and len(data.score) == STEPS
    np.testing.assert_allclose(runs["alpha"].ego["x"], np.arange(STEPS) / 10 - 10.0)
    np.testing.assert_allclose(runs["bravo"].ego["y"], np.arange(STEPS) / 10 - 10.0)
    # alpha's track is bravo, and the other way round
    np.testing.assert_allclose(runs["alpha"].tracks["x"], 3.0)
    np.testing.assert_allclose(runs["bravo"].tracks["y"], 0.0)
    # one world: the same truth for both stacks (the object and both vehicles)
    assert np.array_equal(runs["alpha"].truth, runs["bravo"].truth) and set(runs["alpha"].truth["id"]) == {1, 100, 101}


def test_world_view_draws_every_path_and_each_pairs_closest_approach(template, fleet_bag):
    runs = plots.load_fleet(fleet_bag, template)
    ax = plots.world_figure(runs).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["truth trajectories", "alpha path", "bravo path", "closest alpha-bravo: 2.12 m at 11.5 s"]
    segment = ax.lines[-1]
    np.testing.assert_allclose(segment.get_xdata(), [1.5, 3.0], atol=1e-9)
    np.testing.assert_allclose(segment.get_ydata(), [0.0, 1.5], atol=1e-9)
    assert ax.get_title().startswith("World view: 2 vehicles (alpha, bravo)")
    assert plots.scope_figure(runs["bravo"]).axes[0].get_title() == "bravo: Plan-position view, frame map"


def _check_fleet_pngs(out: Path, names: list[str]) -> None:
    import matplotlib.image as mpimg
    per_vehicle = list(plots.FILES.values())
    assert names == [plots.WORLD_FILE] + [f"{v}/{n}" for v in VEHICLES for n in per_vehicle]
    for name in names:
        kind = "world" if name == plots.WORLD_FILE else next(k for k, f in plots.FILES.items() if name.endswith(f))
        w, h = plots.SIZES_IN[kind]
        assert png_size(out / name) == (int(w * plots.DPI), int(h * plots.DPI))
        assert mpimg.imread(out / name)[..., :3].std() > 0.05, f"{name} is a blank image"


def test_qiki_plot_on_a_fleet_run_directory_writes_and_lists_every_vehicles_figures(template, fleet_bag, tmp_path,
                                                                                    capsys):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(fleet_bag, run / "bag")
    (run / "summary.json").write_text(json.dumps({"profile": "bot", "plots": []}))
    assert main(["plot", str(run)]) == 0
    assert "world.png" in capsys.readouterr().out
    names = json.loads((run / "summary.json").read_text())["plots"]
    _check_fleet_pngs(run, names)


def test_a_single_vehicles_bag_is_drawn_as_before(tmp_path):
    runs = plots.load_fleet(FIXTURES / "bot_replay")
    assert list(runs) == [""] and runs[""].vehicle == ""
    assert plots.write_fleet_plots(runs, tmp_path) == list(plots.FILES.values())
    assert plots.scope_figure(runs[""]).axes[0].get_title() == "Plan-position view, frame map"
