"""Which ROS domain a new graph runs on: ids checked before any process starts; a busy domain given
explicitly is refused, with none given the first free one is chosen. (Discovery itself:
tests/integration/test_domain_collision.py.)"""
import re

import pytest
from hypothesis import given, strategies as st

from qiki.domains import DOMAIN_MAX, DomainError, first_free, graph_domain, parse_domain, requested_domain


class _Graph:
    namespace = "qiki"


@given(st.integers(0, DOMAIN_MAX))
def test_every_valid_id_parses(n):
    assert parse_domain(n, "--domain-id") == n == parse_domain(f" {n} ", "$ROS_DOMAIN_ID")


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=DOMAIN_MAX + 1),
                 st.text().filter(lambda t: not re.fullmatch(r"[0-9]+", t.strip()) or int(t.strip()) > DOMAIN_MAX)))
def test_every_invalid_id_is_one_line_naming_the_source(value):
    with pytest.raises(DomainError) as err:
        parse_domain(value, "$ROS_DOMAIN_ID")
    assert str(err.value).startswith("$ROS_DOMAIN_ID ") and "0..232" in str(err.value)
    assert "\n" not in str(err.value)


def test_flag_beats_environment_and_empty_means_unset():
    assert requested_domain(7, {"ROS_DOMAIN_ID": "9"}) == 7
    assert requested_domain(None, {"ROS_DOMAIN_ID": "9"}) == 9
    assert requested_domain(None, {"ROS_DOMAIN_ID": ""}) is None
    assert requested_domain(None, {}) is None


def test_busy_explicit_domain_is_refused_naming_it_and_the_fix():
    busy = {3: "node /qiki/sim"}
    with pytest.raises(DomainError) as err:
        graph_domain(None, {"ROS_DOMAIN_ID": "3"}, _Graph(), "qiki run", find=busy.get)
    msg = str(err.value)
    assert "ROS domain 3 already has a QIKI graph (node /qiki/sim)" in msg and "--domain-id" in msg
    assert graph_domain(4, {"ROS_DOMAIN_ID": "3"}, _Graph(), "qiki run", find=busy.get) == (4, False)


def test_no_domain_given_picks_the_first_free_one():
    busy = {0: "x", 1: "y"}
    assert graph_domain(None, {}, _Graph(), "qiki run", find=busy.get) == (2, True)
    assert first_free(range(3), lambda d: "busy") is None
    with pytest.raises(DomainError, match="all have a QIKI graph"):
        graph_domain(None, {}, _Graph(), "qiki run", find=lambda d: "busy")


def test_a_part_of_the_graph_needs_its_domain_given_and_is_busy_only_for_its_own_nodes(monkeypatch):
    with pytest.raises(DomainError, match="give every machine the same domain"):
        graph_domain(None, {}, _Graph(), "qiki bringup", find=lambda d: None, nodes=["radar"])
    assert graph_domain(5, {}, _Graph(), "qiki bringup", find=lambda d: None, nodes=["radar"]) == (5, False)
    import qiki.supervisor
    from qiki.domains import local_graph_pids
    procs = [(11, 5, "/x/sim_node --ros-args -r __node:=sim -r __ns:=/qiki"),
             (12, 5, "/x/radar_node --ros-args -r __node:=radar -r __ns:=/qiki"),
             (13, 6, "/x/radar_node --ros-args -r __node:=radar -r __ns:=/qiki")]
    monkeypatch.setattr(qiki.supervisor, "graph_processes", lambda: procs)
    assert local_graph_pids(5, "qiki") == [11, 12]
    assert local_graph_pids(5, "qiki", nodes=["radar", "agent"]) == [12]
    assert local_graph_pids(5, "qiki", nodes=["agent"]) == []
    # a fleet's node `alpha/radar` is `radar` in /qiki/alpha, not the one-vehicle graph's /qiki/radar
    procs.append((14, 5, "/x/radar_node --ros-args -r __node:=radar -r __ns:=/qiki/alpha"))
    assert local_graph_pids(5, "qiki", nodes=["alpha/radar"]) == [14]
    assert local_graph_pids(5, "qiki", nodes=["bravo/radar"]) == []
    assert local_graph_pids(5, "qiki", nodes=["radar"]) == [12]


def test_a_part_looks_only_for_its_own_names_and_the_topics_only_it_publishes(monkeypatch):
    import qiki.domains
    import qiki.supervisor
    from qiki.plan import make_plan
    seen = {}

    def discovered(domain, namespace, topics, wait_s, nodes=None):
        seen.update(topics=set(topics), nodes=nodes)
        return None

    monkeypatch.setattr(qiki.supervisor, "graph_processes", lambda: [])
    monkeypatch.setattr(qiki.domains, "discovered_graph", discovered)
    graph = make_plan().graph
    assert qiki.domains.occupant(5, graph, nodes=("radar", "tracker", "agent")) is None
    assert seen["nodes"] == ("radar", "tracker", "agent")
    assert "/qiki/tracks" in seen["topics"] and "/qiki/radar/frame" in seen["topics"]
    assert not seen["topics"] & {"/qiki/events", "/qiki/sync/step_done", "/qiki/sim/truth"}   # shared or the world's
    qiki.domains.occupant(5, graph)
    assert {"/qiki/events", "/qiki/sim/truth"} <= seen["topics"] and seen["nodes"] is None
