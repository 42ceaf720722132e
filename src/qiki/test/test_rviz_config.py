"""Each profile's rviz config shows the tracker's marker topic in the frame the tracker draws in."""
import pytest
import yaml

from qiki.graph import load_graph, load_params
from qiki.plan import config_dir


@pytest.mark.parametrize("profile", ["bot", "ship"])
def test_rviz_config_matches_the_graph_and_the_tracker_frame(profile):
    cfg = config_dir()
    graph = load_graph(cfg / "graph.yaml")
    rviz = yaml.safe_load((cfg / "rviz" / f"{profile}.rviz").read_text())
    tracker_params = load_params(cfg / "params" / f"{profile}.yaml", graph)["tracker"]
    manager = rviz["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == tracker_params["world_frame"]
    markers = [d for d in manager["Displays"] if d["Class"] == "rviz_default_plugins/MarkerArray"]
    assert [d["Topic"]["Value"] for d in markers] == [graph.topic_of("tracker.markers")]
    assert {"ego", "band_reach", "track", "label", "velocity"} <= set(markers[0]["Namespaces"])


def test_fleet_rviz_config_has_one_display_group_per_vehicle_namespace():
    from qiki.plan import make_plan
    cfg = config_dir()
    plan = make_plan(scenario="bot_fleet")
    fleet = plan.graph
    rviz = yaml.safe_load((cfg / "rviz" / "bot_fleet.rviz").read_text())
    manager = rviz["Visualization Manager"]
    tracker_params = load_params(cfg / "params" / f"{plan.profile}.yaml", plan.base_graph)["tracker"]
    assert manager["Global Options"]["Fixed Frame"] == tracker_params["world_frame"]
    groups = [d for d in manager["Displays"] if d["Class"] == "rviz_common/Group"]
    assert len(fleet.vehicles) == 3
    # one group per vehicle, named by the namespace of its stack, holding that stack's marker topic
    ends = [fleet.vehicle_endpoint(v, "tracker.markers") for v in fleet.vehicles]
    assert [g["Name"] for g in groups] == [fleet.node_namespace(e.partition(".")[0]) for e in ends]
    for group, end in zip(groups, ends):
        markers = [d for d in group["Displays"] if d["Class"] == "rviz_default_plugins/MarkerArray"]
        assert [d["Topic"]["Value"] for d in markers] == [fleet.topic_of(end)]
        assert {"ego", "band_reach", "track", "label", "velocity"} <= set(markers[0]["Namespaces"])
    # no vehicle display outside the groups
    assert not [d for d in manager["Displays"] if d["Class"] == "rviz_default_plugins/MarkerArray"]
