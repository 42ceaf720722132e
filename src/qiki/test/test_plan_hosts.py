"""Part of the graph on this host (`--nodes`): only those nodes' command lines, while the nodes hosted elsewhere
stay barrier members and named subscribers, so the run waits for them; every part shares the run id."""
import pytest

from qiki.plan import UsageError, make_plan


def params(cmd: list[str]) -> dict[str, str]:
    return dict(cmd[i + 1].split(":=", 1) for i, a in enumerate(cmd) if a == "-p")


def test_a_part_starts_only_its_nodes_and_still_waits_for_the_others():
    whole = make_plan(run_id="run-shared")
    part = make_plan(nodes=["scorer", "sim"], run_id="run-shared")
    assert part.hosted == ("sim", "scorer")
    assert [n.name for n, _ in part.commands()] == ["sim", "scorer"]
    by_node = {n.name: params(cmd) for n, cmd in whole.commands()}
    for node, cmd in part.commands():
        got = params(cmd)
        assert got == by_node[node.name]              # same command line as in the whole graph
        assert got["sync.run_id"] == "run-shared"
    sim = by_node["sim"]
    assert sim["sync.members"] == "[agent,radar,sim,tracker]"
    assert "/qiki/sim/truth=/qiki/radar" in sim["sync.expected_subscribers"]   # hosted elsewhere, still awaited


def test_all_nodes_named_is_the_whole_graph_and_names_are_checked():
    assert make_plan(nodes=["agent", "sim", "radar", "tracker", "scorer"]).hosted is None
    with pytest.raises(UsageError, match=r"unknown node 'radr' in --nodes \(valid nodes: sim, radar, tracker"):
        make_plan(nodes=["radr"], run_id="r")
    with pytest.raises(UsageError, match="same --run-id"):
        make_plan(nodes=["radar"])
