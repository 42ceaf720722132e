"""Start-up match gate: the subscribers the graph names, their parameter form, and when a topic is ready."""
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qiki.graph import load_graph
from qiki.plan import OBSERVER_STATUS, OBSERVER_STREAMS, Watcher, expected_param, expected_subscribers
from qiki_ros.subscriber_gate import parse_expected, unmatched

GRAPH = load_graph(Path(__file__).resolve().parents[3] / "config" / "graph.yaml")
OBSERVER = Watcher("/qiki_observer_1234abcd", OBSERVER_STREAMS)


def test_names_are_the_stream_subscribers_the_graph_lists():
    sim = expected_subscribers(GRAPH, "sim")
    assert sim == {"/qiki/sim/vehicle_state": ["/qiki/agent", "/qiki/radar", "/qiki/scorer"],
                   "/qiki/sim/truth": ["/qiki/radar", "/qiki/scorer"],
                   "/qiki/sim/device_health": ["/qiki/agent"]}
    # /clock is not a stream, nobody in the graph reads the per-band tracks or the markers
    assert expected_subscribers(GRAPH, "tracker") == {"/qiki/tracks": ["/qiki/agent", "/qiki/scorer"]}


def test_a_watcher_is_named_on_each_topic_it_reads():
    radar = expected_subscribers(GRAPH, "radar", watchers=[OBSERVER])
    assert radar == {"/qiki/radar/lr/frame": ["/qiki/scorer", "/qiki/tracker", OBSERVER.node],
                     "/qiki/radar/sr/frame": ["/qiki/scorer", "/qiki/tracker", OBSERVER.node],
                     "/qiki/radar/frame": ["/qiki/agent"],
                     "/diagnostics": [OBSERVER.node]}
    status_only = expected_subscribers(GRAPH, "radar", watchers=[Watcher("/o", OBSERVER_STATUS)])
    assert "/o" not in status_only["/qiki/radar/lr/frame"] and status_only["/diagnostics"] == ["/o"]
    by_topic = expected_subscribers(GRAPH, "scorer", watchers=[Watcher("/rec", ("/qiki/eval/track_score",))])
    assert by_topic == {"/qiki/eval/track_score": ["/rec"]}


def test_partial_graph_names_only_started_nodes():
    """A replay starts tracker and agent only: the scorer is not waited for."""
    assert expected_subscribers(GRAPH, "tracker", started=("tracker", "agent")) == {"/qiki/tracks": ["/qiki/agent"]}
    assert expected_subscribers(GRAPH, "agent", started=("tracker", "agent")) == {}


def test_parameter_round_trip():
    names = expected_subscribers(GRAPH, "sim", watchers=[OBSERVER])
    value = expected_param(names)["sync.expected_subscribers"]
    assert parse_expected(value.strip("[]").split(",")) == {t: frozenset(n) for t, n in names.items()}
    assert expected_param({}) == {}


@pytest.mark.parametrize("entry", ["/qiki/tracks", "qiki/tracks=/qiki/agent", "/qiki/tracks=agent",
                                   "/qiki/tracks=3", "=/qiki/agent", "/qiki/tracks=/a=/b"])
def test_bad_entry_names_itself(entry):
    with pytest.raises(ValueError, match="not <topic>=<node>") as exc:
        parse_expected([entry])
    assert entry in str(exc.value)


def test_a_named_subscriber_cannot_be_stood_in_for():
    """The runner's observer not yet discovered: two other subscribers matched is not enough."""
    expected = {"/t": frozenset({"/qiki/radar", "/obs"})}
    assert unmatched(expected, {"/t": ["/qiki/radar", "/console"]}, {"/t": 2}) == {"/t": "no subscription yet from /obs"}
    assert unmatched(expected, {"/t": ["/qiki/radar", "/console", "/obs"]}, {"/t": 3}) == {}


def test_every_present_subscription_must_be_matched():
    """Named ones present but the writer matched fewer than the graph shows: one of them may be the unmatched."""
    expected = {"/t": frozenset({"/a"})}
    assert unmatched(expected, {"/t": ["/a", "/x"]}, {"/t": 1}) == {"/t": "1 of 2 subscriptions matched"}
    assert unmatched(expected, {"/t": ["/a"]}, {"/t": 1}) == {}
    assert unmatched(expected, {}, {}) == {"/t": "no subscription yet from /a"}


@given(names=st.sets(st.sampled_from(["/a", "/b", "/c"]), min_size=1),
       present=st.lists(st.sampled_from(["/a", "/b", "/c", "/x", "/y"]), max_size=6),
       matched=st.integers(0, 7))
def test_ready_only_when_all_named_present_and_all_present_matched(names, present, matched):
    ready = unmatched({"/t": frozenset(names)}, {"/t": present}, {"/t": matched}) == {}
    assert ready == (names <= set(present) and matched >= len(present))


def test_qos_match_as_dds_decides_it_for_the_graphs_profiles():
    """The graph API reports a subscription's deadline and lease as infinite; that must not read as a mismatch."""
    from rclpy.duration import Infinite
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from qiki_ros import qos
    seen = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                      deadline=Infinite, liveliness_lease_duration=Infinite)
    assert qos.matches(qos.STREAM, seen)
    assert qos.matches(qos.STREAM, QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    assert not qos.matches(qos.STREAM, qos.LATCHED)                 # transient-local reader, volatile writer
    assert qos.matches(qos.LATCHED, qos.STREAM)
    assert not qos.matches(QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT), qos.STREAM)


def test_readers_are_the_subscriptions_dds_can_match():
    """Another type on the topic name, or a transient-local reader of a volatile stream, never matches:
    waiting for it would hold every start-up until the gate's timeout."""
    from types import SimpleNamespace

    from rclpy.duration import Infinite
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from qiki_msgs.msg import VehicleState
    from qiki_ros import qos
    from qiki_ros.subscriber_gate import readers, type_name

    def info(ns, name, typ, durability=DurabilityPolicy.VOLATILE):
        return SimpleNamespace(node_namespace=ns, node_name=name, topic_type=typ, qos_profile=QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=durability, deadline=Infinite))
    state = type_name(VehicleState)
    assert state == "qiki_msgs/msg/VehicleState"
    infos = [info("/qiki", "radar", state), info("/", "obs", state), info("/", "typo", "std_msgs/msg/String"),
             info("/", "old", state, DurabilityPolicy.TRANSIENT_LOCAL)]
    assert readers(infos, qos.STREAM, state) == ["/qiki/radar", "/obs"]
