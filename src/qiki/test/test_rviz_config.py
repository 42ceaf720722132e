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
