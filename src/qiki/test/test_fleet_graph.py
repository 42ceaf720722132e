"""A fleet's graph: config/graph.yaml's scopes, its expansion per vehicle (the identity for one unnamed vehicle),
the plan of a fleet scenario, and the run state and summary per vehicle. No ROS graph."""
from pathlib import Path

import pytest
import yaml

from qiki.graph import ConfigError, load_graph

ROOT = Path(__file__).resolve().parents[3]
GRAPH = ROOT / "config" / "graph.yaml"
FLEET = ["alpha", "bravo", "charlie"]


def test_one_unnamed_vehicle_is_the_identity():
    graph = load_graph(GRAPH)
    assert graph.for_fleet([""]) is graph and graph.for_fleet([]) is graph


def test_one_vehicle_plan_has_todays_names():
    from qiki.plan import make_plan

    plan = make_plan("bot")
    graph = plan.graph
    assert plan.template is None and plan.base_graph is graph and graph.vehicles == []
    assert [n.name for n in graph.nodes] == ["sim", "radar", "tracker", "scorer", "agent"]
    assert {graph.node_namespace(n.name) for n in graph.nodes} == {"/qiki"}
    assert [t.name for t in graph.topics] == [t.name for t in load_graph(GRAPH).topics]
    assert graph.topic_of("agent.cmd") == "/qiki/cmd" and graph.topic_of("sim.vehicle_state") == "/qiki/sim/vehicle_state"
    # barrier names stay relative to the namespace every node shares
    assert plan.node_overrides["sim"]["sync.upstream"] == "[agent]"
    assert plan.node_overrides["radar"]["sync.members"] == "[agent,radar,sim,tracker]"
    assert plan.node_overrides["radar"]["vehicle.truth_id"] == "0"


def test_fleet_expansion_names_every_stack():
    graph = load_graph(GRAPH).for_fleet(FLEET)
    assert graph.vehicles == FLEET
    assert [n.name for n in graph.nodes] == ["sim"] + [f"{v}/{n}" for v in FLEET
                                                       for n in ("radar", "tracker", "scorer", "agent")]
    assert graph.node_namespace("alpha/radar") == "/qiki/alpha" and graph.full_name("alpha/radar") == "/qiki/alpha/radar"
    names = {t.name for t in graph.topics}
    for v in FLEET:
        assert {f"/qiki/{v}/tracks", f"/qiki/{v}/sim/vehicle_state", f"/qiki/{v}/cmd", f"/qiki/{v}/events",
                f"/qiki/{v}/radar/lr/frame", f"/qiki/{v}/eval/track_score"} <= names
    assert {"/clock", "/qiki/sim/truth", "/qiki/sync/step_done", "/diagnostics", "/qiki/events"} <= names
    assert "/qiki/tracks" not in names and "/qiki/cmd" not in names
    # the sim's vehicle ports are <vehicle>/<port>; its world ports stay
    sim = dict(graph.remappings("sim"))
    assert sim["alpha/cmd"] == "/qiki/alpha/cmd" and sim["bravo/vehicle_state"] == "/qiki/bravo/sim/vehicle_state"
    assert sim["truth"] == "/qiki/sim/truth" and sim["events"] == "/qiki/events" and sim["clock"] == "/clock"
    assert dict(graph.remappings("charlie/agent"))["command"] == "/qiki/charlie/agent/command"
    assert dict(graph.remappings("bravo/radar"))["truth"] == "/qiki/sim/truth"
    # the world's events and each stack's
    assert next(t for t in graph.topics if t.name == "/qiki/events").pub == ["sim.events"]
    assert set(next(t for t in graph.topics if t.name == "/qiki/alpha/events").pub) == \
        {"alpha/agent.events", "alpha/radar.events", "alpha/tracker.events"}
    # the barrier: the sim waits for every agent, a stack for the sim and its own nodes
    assert graph.upstream("sim") == [f"{v}/agent" for v in FLEET]
    assert graph.upstream("alpha/radar") == ["sim"]
    assert graph.upstream("bravo/agent") == ["bravo/radar", "bravo/tracker", "sim"]
    assert graph.port_qos("sim")[:3] == ["alpha/cmd=stream", "alpha/device_health=stream", "alpha/vehicle_state=stream"]
    assert graph.vehicle_endpoint("alpha", "sim.vehicle_state") == "sim.alpha/vehicle_state"
    assert graph.vehicle_endpoint("alpha", "sim.truth") == "sim.truth"
    assert graph.vehicle_endpoint("bravo", "tracker.tracks") == "bravo/tracker.tracks"


@pytest.mark.parametrize("names, message", [
    (["Alpha"], "vehicle name 'Alpha' is not [a-z][a-z0-9_]* (vehicles: Alpha)"),
    (["alpha", "radar"], "vehicle name 'radar' is a node name (vehicles: alpha, radar)"),
    (["alpha", "alpha"], "vehicle name 'alpha' is given twice (vehicles: alpha, alpha)"),
    (["a/b"], "vehicle name 'a/b' is not [a-z][a-z0-9_]*"),
])
def test_fleet_names_are_checked_in_one_line(names, message):
    with pytest.raises(ValueError) as info:
        load_graph(GRAPH).for_fleet(names)
    assert message in str(info.value) and "\n" not in str(info.value)


def _graph_with(tmp_path, edit) -> Path:
    data = yaml.safe_load(GRAPH.read_text())
    edit(data)
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["topics"][0].update(scope="vehicle"), r"topics\[0\] \(/clock\): scope vehicle needs a name under /qiki/"),
    (lambda d: next(t for t in d["topics"] if t["name"] == "/qiki/events").update(world=["agent.events"]),
     r"world port 'agent.events' must be a world node's port of this vehicle topic"),
    (lambda d: d["nodes"][0].update(scope="fleet"), r"nodes.0.scope: Input should be 'world' or 'vehicle'"),
    (lambda d: d["topics"][1].update(scope="vehicle", pub=["sim.vehicle_state"], sub=[]),
     r"scope vehicle needs a port of a vehicle node"),
])
def test_graph_scopes_are_checked_in_one_line(tmp_path, edit, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_graph(_graph_with(tmp_path, edit))
    assert "\n" not in str(info.value)


def test_fleet_plan_gives_each_vehicle_its_facts():
    from qiki.plan import make_plan
    from qiki_sim.scenario import load_scenario

    plan = make_plan("bot", "bot_fleet")
    fleet = load_scenario(plan.scenario_file).fleet()
    assert plan.graph.vehicles == [v.name for v in fleet] == FLEET
    assert [n.name for n in plan.base_graph.nodes] == ["sim", "radar", "tracker", "scorer", "agent"]
    over = plan.node_overrides
    assert over["sim"]["sync.upstream"] == "[/qiki/alpha/agent,/qiki/bravo/agent,/qiki/charlie/agent]"
    assert over["alpha/radar"]["sync.upstream"] == "[/qiki/sim]"
    assert over["bravo/agent"]["sync.upstream"] == "[/qiki/bravo/radar,/qiki/bravo/tracker,/qiki/sim]"
    members = over["charlie/tracker"]["sync.members"]
    assert members.count("/qiki/") == 10 and "/qiki/sim" in members and "scorer" not in members
    for v in fleet:
        assert Path(over[f"{v.name}/agent"]["mission_file"]).name == f"{v.mission}.yaml"
        assert over[f"{v.name}/agent"]["description"] == over[f"{v.name}/radar"]["description"] == v.description
        for node in ("radar", "scorer"):
            assert over[f"{v.name}/{node}"]["vehicle.truth_id"] == str(v.truth_id) != "0"
    # one params file for every vehicle: the layers see graph.yaml's nodes; what differs is per vehicle
    shared = plan.launcher_params()
    assert set(shared) == {"sim", "radar", "tracker", "scorer", "agent"}
    assert "mission_file" not in shared["agent"] and "fsm_file" in shared["agent"]
    assert set(plan.vehicle_params()["alpha"]) >= {"agent.mission_file", "radar.vehicle.truth_id"}
    # the runner's command line: the node's own name in its vehicle's namespace
    cmd = {n.name: c for n, c in plan.commands()}
    agent = next(c for n, c in plan.commands() if n.name == "alpha/agent")
    assert "__node:=agent" in agent and "__ns:=/qiki/alpha" in agent and "cmd:=/qiki/alpha/cmd" in agent
    assert len(cmd) == 13


def test_fleet_nodes_can_be_hosted_by_name():
    from qiki.plan import UsageError, make_plan

    part = make_plan("bot", "bot_fleet", nodes=["alpha/radar", "alpha/agent"], run_id="run-1")
    assert part.hosted == ("alpha/radar", "alpha/agent")
    assert [n.name for n, _ in part.commands()] == ["alpha/radar", "alpha/agent"]
    with pytest.raises(UsageError, match=r"unknown node 'radar' in --nodes \(valid nodes: sim, alpha/radar, "):
        make_plan("bot", "bot_fleet", nodes=["radar"], run_id="run-1")


def test_fleet_config_layers_use_one_params_file():
    from qiki.layered_config import configure
    from qiki.plan import make_plan

    plan = make_plan("bot", "bot_fleet")
    config = configure(plan, {}, sets=["radar.seed=3"])
    assert config.settings["radar.seed"].value == 3
    assert set(config.params_document()) == {f"/**/{n}" for n in ("sim", "radar", "tracker", "scorer", "agent")}
    assert set(config.facts["vehicles"]) == set(FLEET)


def _truth(ids, xy):
    from qiki_msgs.msg import WorldTruth
    msg = WorldTruth(id=ids, kind=[0] * len(ids), position=[c for x, y in xy for c in (float(x), float(y), 0.0)])
    msg.header.stamp.sec = 1
    return msg


def test_fleet_state_and_summary_per_vehicle():
    from qiki.run_state import GraphState, on_fleet_truth
    from qiki.run_summary import run_summary

    s = GraphState(truth_ids={"alpha": 11, "bravo": 12})
    on_fleet_truth(s, _truth([1, 2, 11, 12], [(10, 0), (0, 30), (0, 0), (4, 3)]), 0.0)
    on_fleet_truth(s, _truth([1, 2, 11, 12], [(10, 0), (0, 30), (7, 0), (4, 13)]), 0.0)
    alpha, bravo = s.vehicles["alpha"], s.vehicles["bravo"]
    assert (alpha.min_miss_distance_m, alpha.min_miss_object) == (3.0, 1)
    assert (alpha.min_vehicle_distance_m, alpha.min_vehicle) == (5.0, "bravo")
    assert (bravo.min_vehicle_distance_m, bravo.min_vehicle) == (5.0, "alpha")
    assert bravo.min_miss_object == 1 and bravo.min_miss_distance_m == pytest.approx(45 ** 0.5)
    alpha.events.append((1.0, 501, "mission complete"))
    alpha.mission_result = "complete"
    summary = run_summary("bot", "bot_fleet", ["sim"], s, engine="core", wall_time_s=1.0, ended="duration",
                          duration_s=1.0, graph=None)
    one = summary["vehicles"]["alpha"]
    assert one["mission_result"] == "complete" and one["closest_approach_m"] == {"objects": 3.0, "vehicles": 5.0}
    assert one["closest_vehicle"] == "bravo" and one["events_by_code"] == {"501": 1}
    assert set(one) >= {"tracks_confirmed", "gospa_mean", "track_counts", "agent_state_final", "events_count"}
    single = run_summary("bot", "bot_patrol", ["sim"], GraphState(), engine="core", wall_time_s=1.0,
                         ended="duration", duration_s=1.0, graph=None)
    assert "vehicles" not in single and set(summary) - set(single) == {"vehicles"}


def test_a_vehicle_id_twice_in_the_truth_gives_it_no_figure_and_its_rows_are_no_objects():
    from qiki.run_state import GraphState, on_fleet_truth

    s = GraphState(truth_ids={"alpha": 11, "bravo": 12})
    on_fleet_truth(s, _truth([1, 11, 11, 12], [(50, 0), (1, 0), (2, 0), (0, 0)]), 0.0)
    assert "alpha" not in s.vehicles or s.vehicles["alpha"].min_miss_distance_m == float("inf")
    bravo = s.vehicles["bravo"]
    assert (bravo.min_miss_distance_m, bravo.min_miss_object) == (50.0, 1)     # not alpha's rows at 1 m, 2 m
    assert bravo.min_vehicle == ""                                             # alpha is not located


def test_fleet_node_statuses_are_named_by_vehicle():
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from qiki.run_state import GraphState, on_fleet_diagnostics

    s = GraphState()
    on_fleet_diagnostics(s, DiagnosticArray(status=[
        DiagnosticStatus(level=b"\x00", name="qiki/radar", hardware_id="/qiki/alpha/radar"),
        DiagnosticStatus(level=b"\x01", name="qiki/radar", hardware_id="/qiki/bravo/radar"),
        DiagnosticStatus(level=b"\x00", name="qiki/sim", hardware_id="/qiki/sim"),
        DiagnosticStatus(level=b"\x00", name="qiki/drive", hardware_id="drive")]), 0.0)
    assert set(s.diagnostics) == {"qiki/alpha/radar", "qiki/bravo/radar", "qiki/sim", "qiki/drive"}
    assert s.diagnostics["qiki/bravo/radar"]["level"] == 1
