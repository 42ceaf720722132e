"""launch/bringup.launch.py, evaluated against a named test double of `launch`/`launch_ros`,
starts the same graph as `qiki bringup` (nodes, params files, file parameters, remappings)."""
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "doubles"))
import launch_double  # noqa: E402


@pytest.fixture
def launch_file(monkeypatch):
    launch_double.install(monkeypatch)
    spec = importlib.util.spec_from_file_location("bringup_launch", ROOT / "launch" / "bringup.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_matches_the_runner(launch_file, monkeypatch):
    from qiki.plan import config_dir, make_plan
    from qiki.supervisor import graph_env

    for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        monkeypatch.delenv(name, raising=False)

    desc = launch_file.generate_launch_description()
    assert {a.name for a in desc.entities if isinstance(a, launch_double.DeclareLaunchArgument)} == \
        {"profile", "scenario", "namespace", "params_file", "use_sim_time", "log_level", "rate", "metrics_port",
         "vehicle", "run_id"}
    nodes = launch_double.evaluate(desc, profile="bot")
    plan = make_plan("bot")
    assert [n.kwargs["name"] for n in nodes] == [n.name for n in plan.graph.nodes]
    for node, spec in zip(nodes, plan.graph.nodes):
        kw = node.kwargs
        assert (kw["package"], kw["executable"], kw["namespace"]) == (spec.package, spec.executable, "qiki")
        assert kw["parameters"][0] == str(plan.params_file)
        assert kw["parameters"][1]["use_sim_time"] is spec.use_sim_time
        own = ("use_sim_time", "sync.run_id")          # each plan is a run of its own (one run id for all nodes)
        assert {k: v for k, v in kw["parameters"][1].items() if k not in own} == \
            {k: yaml.safe_load(v) for k, v in plan.overrides(spec.name).items() if k not in own}
        assert kw["parameters"][1]["sync.run_id"] == nodes[0].kwargs["parameters"][1]["sync.run_id"]
        assert kw["remappings"] == plan.graph.remappings(spec.name)
        assert kw["additional_env"]["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
        assert kw["additional_env"]["FASTDDS_DEFAULT_PROFILES_FILE"] == str(config_dir() / "fastdds.xml") \
            == graph_env(None)["FASTDDS_DEFAULT_PROFILES_FILE"]
        assert kw["arguments"] == ["--ros-args", "--log-level", "info"]
        assert kw["respawn"] is (spec.name != "sim")     # graph.yaml restart policy: all but the sim
        assert kw["prefix"] == ("nice -n 10" if spec.name == "scorer" else None)
    runner = {n.name: cmd for n, cmd in plan.commands()}
    for node in nodes:
        remaps = [f"{a}:={b}" for a, b in node.kwargs["remappings"]]
        assert all(r in runner[node.kwargs["name"]] for r in remaps)


def test_launch_fleet_starts_the_world_and_one_included_stack_per_vehicle(launch_file, monkeypatch):
    from qiki.plan import make_plan
    from qiki.supervisor import node_command

    nodes = launch_double.evaluate(launch_file.generate_launch_description(), profile="bot", scenario="bot_fleet",
                                   metrics_port="9300")
    plan = make_plan("bot", "bot_fleet")
    assert plan.graph.vehicles == ["alpha", "bravo", "charlie"]
    assert [n.namespace for n in nodes] == [plan.graph.node_namespace(n.name) for n in plan.graph.nodes] == \
        ["/qiki"] + [f"/qiki/{v}" for v in ("alpha", "bravo", "charlie") for _ in range(4)]
    assert [n.kwargs["name"] for n in nodes] == [n.ros_name for n in plan.graph.nodes]
    run_ids = {n.kwargs["parameters"][1]["sync.run_id"] for n in nodes}
    assert len(run_ids) == 1                       # every included stack is part of the world's run
    for i, (node, spec) in enumerate(zip(nodes, plan.graph.nodes)):
        kw = node.kwargs
        assert (kw["package"], kw["executable"]) == (spec.package, spec.executable)
        own = ("use_sim_time", "sync.run_id", "metrics.port")
        assert {k: v for k, v in kw["parameters"][1].items() if k not in own} == \
            {k: yaml.safe_load(v) for k, v in plan.overrides(spec.name).items() if k not in own}
        assert kw["parameters"][1]["metrics.port"] == 9300 + i
        assert kw["remappings"] == plan.graph.remappings(spec.name)
        # the runner starts the same node: name, namespace, parameters and remappings on its command line
        cmd = node_command(plan.graph, spec, plan.params_file, plan.overrides(spec.name))
        assert cmd[cmd.index("-r") + 1:cmd.index("-r") + 4] == [f"__node:={kw['name']}", "-r", f"__ns:={node.namespace}"]
        assert all(f"{a}:={b}" in cmd for a, b in kw["remappings"])
    agent = dict(nodes[4].kwargs["remappings"])
    assert agent["cmd"] == "/qiki/alpha/cmd" and agent["vehicle_state"] == "/qiki/alpha/sim/vehicle_state"
    sim = dict(nodes[0].kwargs["remappings"])
    assert sim["truth"] == "/qiki/sim/truth" and sim["charlie/cmd"] == "/qiki/charlie/cmd"
    assert nodes[0].kwargs["parameters"][1]["sync.upstream"] == ["/qiki/alpha/agent", "/qiki/bravo/agent",
                                                                   "/qiki/charlie/agent"]
    mission = {n.namespace: n.kwargs["parameters"][1]["mission_file"] for n in nodes if n.kwargs["name"] == "agent"}
    assert [Path(m).name for m in mission.values()] == [f"bot_fleet_{v}.yaml" for v in ("alpha", "bravo", "charlie")]
    one = launch_double.evaluate(launch_file.generate_launch_description(), scenario="bot_fleet", vehicle="bravo")
    assert [(n.namespace, n.kwargs["name"]) for n in one] == [("/qiki/bravo", n) for n in ("radar", "tracker", "scorer", "agent")]
    from qiki.plan import UsageError
    with pytest.raises(UsageError, match=r"vehicle:=delta is not a vehicle of the scenario \(vehicles: alpha, bravo"):
        launch_double.evaluate(launch_file.generate_launch_description(), scenario="bot_fleet", vehicle="delta")


def test_launch_rate_argument_reaches_the_sim(launch_file):
    nodes = launch_double.evaluate(launch_file.generate_launch_description(), rate="20")
    sim = next(n for n in nodes if n.kwargs["name"] == "sim")
    assert sim.kwargs["parameters"][1]["clock.rate_factor"] == 20.0


def test_launch_metrics_port_gives_node_i_port_base_plus_i(launch_file):
    from qiki.plan import make_plan

    nodes = launch_double.evaluate(launch_file.generate_launch_description(), metrics_port="9300")
    assert [n.kwargs["parameters"][1]["metrics.port"] for n in nodes] == \
        [9300 + i for i in range(len(make_plan().graph.nodes))]
    assert all("metrics.port" not in n.kwargs["parameters"][1]
               for n in launch_double.evaluate(launch_file.generate_launch_description()))


def test_launch_unknown_profile_is_one_line(launch_file):
    from qiki.plan import UsageError

    with pytest.raises(UsageError, match=r"unknown profile 'boat' \(valid profiles: bot"):
        launch_double.evaluate(launch_file.generate_launch_description(), profile="boat")


def test_launch_namespace_moves_the_graph_and_keeps_global_topics(launch_file):
    from qiki.plan import make_plan

    default = launch_double.evaluate(launch_file.generate_launch_description())
    plan = make_plan()
    assert [n.kwargs["remappings"] for n in default] == [plan.graph.remappings(s.name) for s in plan.graph.nodes]
    nodes = launch_double.evaluate(launch_file.generate_launch_description(), namespace="robot1")
    assert {n.kwargs["namespace"] for n in nodes} == {"robot1"}
    sim = dict(next(n for n in nodes if n.kwargs["name"] == "sim").kwargs["remappings"])
    assert sim["clock"] == "/clock" and sim["truth"] == "/robot1/sim/truth" and sim["cmd"] == "/robot1/cmd"
    agent = next(n for n in nodes if n.kwargs["name"] == "agent").kwargs
    assert dict(agent["remappings"])["command"] == "/robot1/agent/command"
    assert "/qiki/" not in str(agent["parameters"][1]) and "/robot1/agent" in str(
        next(n for n in nodes if n.kwargs["name"] == "tracker").kwargs["parameters"][1])


def test_launch_params_file_replaces_the_profiles_and_is_checked(launch_file, tmp_path):
    from qiki.graph import ConfigError
    from qiki.plan import UsageError, make_plan

    own = tmp_path / "mine.yaml"
    data = yaml.safe_load(make_plan("bot").params_file.read_text())
    data["/**/tracker"]["ros__parameters"]["tracker"]["confirm_m"] = 3
    own.write_text(yaml.safe_dump(data))
    nodes = launch_double.evaluate(launch_file.generate_launch_description(), params_file=str(own))
    assert {n.kwargs["parameters"][0] for n in nodes} == {str(own)}
    data["/**/tracker"]["ros__parameters"]["tracker"]["confirm_m"] = "many"
    own.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"mine.yaml: /\*\*/tracker.ros__parameters.tracker.confirm_m"):
        launch_double.evaluate(launch_file.generate_launch_description(), params_file=str(own))
    with pytest.raises(UsageError, match="no such file"):
        launch_double.evaluate(launch_file.generate_launch_description(), params_file=str(tmp_path / "none.yaml"))


def test_launch_use_sim_time_and_log_level_reach_every_node(launch_file):
    from qiki.plan import UsageError

    nodes = launch_double.evaluate(launch_file.generate_launch_description(), use_sim_time="false", log_level="debug")
    assert [n.kwargs["parameters"][1]["use_sim_time"] for n in nodes] == [False] * len(nodes)
    assert {tuple(n.kwargs["arguments"]) for n in nodes} == {("--ros-args", "--log-level", "debug")}
    default = launch_double.evaluate(launch_file.generate_launch_description())
    assert [n.kwargs["parameters"][1]["use_sim_time"] for n in default] == [n.kwargs["name"] != "sim" for n in default]
    with pytest.raises(UsageError, match="use_sim_time:=maybe must be true or false"):
        launch_double.evaluate(launch_file.generate_launch_description(), use_sim_time="maybe")


@pytest.mark.parametrize("args, expected", [({"rate": "fast"}, r"rate:=fast must be a number"),
                                            ({"metrics_port": "9300x"}, r"metrics_port:=9300x must be an integer")])
def test_launch_numeric_arguments_are_one_line(launch_file, args, expected):
    from qiki.plan import UsageError

    with pytest.raises(UsageError, match=expected):
        launch_double.evaluate(launch_file.generate_launch_description(), **args)
