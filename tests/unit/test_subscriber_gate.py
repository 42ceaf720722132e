"""Start-up match gate: expected subscriber counts from the graph, and their parameter form."""
from pathlib import Path

import pytest

from qiki.graph import load_graph
from qiki.plan import OBSERVER_STATUS, OBSERVER_STREAMS, expected_param, expected_subscribers
from qiki_ros.subscriber_gate import parse_expected, unmatched

GRAPH = load_graph(Path(__file__).resolve().parents[2] / "config" / "graph.yaml")


def test_counts_are_the_stream_subscribers_the_graph_lists():
    sim = expected_subscribers(GRAPH, "sim")
    assert sim == {"/qiki/sim/vehicle_state": 3, "/qiki/sim/truth": 2, "/qiki/sim/device_health": 1}
    # /clock is not a stream, nobody in the graph reads the per-band tracks or the markers
    tracker = expected_subscribers(GRAPH, "tracker")
    assert tracker == {"/qiki/tracks": 2}


def test_observer_adds_one_per_topic_it_reads():
    with_observer = expected_subscribers(GRAPH, "radar", watched=OBSERVER_STREAMS)
    assert with_observer == {"/qiki/radar/lr/frame": 3, "/qiki/radar/sr/frame": 3, "/qiki/radar/frame": 1,
                             "/diagnostics": 1}
    status_only = expected_subscribers(GRAPH, "radar", watched=OBSERVER_STATUS)
    assert status_only["/qiki/radar/lr/frame"] == 2 and status_only["/diagnostics"] == 1
    assert expected_subscribers(GRAPH, "scorer", watched=OBSERVER_STREAMS) == {"/qiki/eval/track_score": 1,
                                                                               "/diagnostics": 1}


def test_partial_graph_counts_only_started_nodes():
    """A replay starts tracker and agent only: the scorer is not waited for."""
    assert expected_subscribers(GRAPH, "tracker", started=("tracker", "agent")) == {"/qiki/tracks": 1}
    assert expected_subscribers(GRAPH, "agent", started=("tracker", "agent")) == {}


def test_parameter_round_trip():
    counts = expected_subscribers(GRAPH, "sim", watched=OBSERVER_STREAMS)
    value = expected_param(counts)["sync.expected_subscribers"]
    assert parse_expected(value.strip("[]").split(",")) == counts
    assert expected_param({}) == {}


@pytest.mark.parametrize("entry", ["/qiki/tracks", "qiki/tracks=2", "/qiki/tracks=two", "/qiki/tracks=-1", "=3"])
def test_bad_entry_names_itself(entry):
    with pytest.raises(ValueError, match="not <topic>=<count>") as exc:
        parse_expected([entry])
    assert entry in str(exc.value)


def test_unmatched_lists_what_is_short():
    assert unmatched({"/a": 2, "/b": 1}, {"/a": 2, "/b": 0}) == {"/b": (0, 1)}
    assert unmatched({"/a": 2}, {"/a": 3}) == {}
    assert unmatched({"/a": 1}, {}) == {"/a": (0, 1)}
