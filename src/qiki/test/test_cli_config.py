"""Bad input to the command line and to the configuration gets one clear line and exit code 2."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qiki.graph import ConfigError
from qiki.plan import UsageError, config_dir, make_plan

QIKI = Path(sys.executable).with_name("qiki")


def qiki(*args, env: dict | None = None):
    """Run the qiki CLI; with `env`, in this environment minus any QIKI_* setting, plus `env`."""
    if env is not None:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("QIKI_")}, **env}
    proc = subprocess.run([str(QIKI), *args], capture_output=True, text=True, timeout=60, env=env)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("args, expected", [
    (["run", "--profile", "boat"], "unknown profile 'boat' (valid profiles: bot"),
    (["bringup", "--profile", "boat"], "unknown profile 'boat'"),
    (["run", "--scenario", "nowhere"], "nowhere"),
    (["run", "--rate", "-3"], "'-3' must be a positive finite number"),
    (["run", "--duration", "nan"], "must be a positive finite number"),
    (["run", "--keep-runs", "0"], "'0' is not a whole number of runs >= 1"),
    (["run", "--max-output-mb", "-5"], "'-5' must be a positive finite number"),
    (["run", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["run", "--metrics-port", "80"], "'80' is not a port number in 1024..65000"),
    (["bringup", "--metrics-port", "x"], "'x' is not a port number"),
    (["fly"], "invalid choice: 'fly'"),
    (["run", "--nodes", "sim,radr"], "unknown node 'radr' in --nodes (valid nodes: sim, radar, tracker, scorer, agent)"),
    (["bringup", "--nodes", ""], "unknown node '' in --nodes (valid nodes: sim,"),
    (["bringup", "--nodes", "radar"], "give every machine the same --run-id ID"),
    (["run", "--run-id", "a/b"], "--run-id 'a/b': give 1 to 64 letters"),
    (["run", "--engine", "core", "--nodes", "sim", "--run-id", "r"], "--nodes and --run-id are for --engine graph"),
    ([], "the following arguments are required"),
])
def test_bad_cli_input_is_one_line_exit_2(args, expected):
    code, out, err = qiki(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("env, expected", [
    ({"ROS_AUTOMATIC_DISCOVERY_RANGE": "WAN"}, "$ROS_AUTOMATIC_DISCOVERY_RANGE='WAN' is not a discovery range"),
    ({"ROS_STATIC_PEERS": "10.0.0.1 10.0.0.2"}, "$ROS_STATIC_PEERS='10.0.0.1 10.0.0.2': give addresses separated"),
])
def test_bad_discovery_environment_is_one_line_exit_2(env, expected):
    code, out, err = qiki("run", "--duration", "1", env=env)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err, err


@pytest.fixture
def cfg(tmp_path):
    dst = tmp_path / "config"
    shutil.copytree(config_dir(), dst)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_shipped_config_is_valid(cfg):
    plan = make_plan(cfg=cfg)
    assert plan.profile == "bot" and plan.scenario == "bot_patrol"
    assert [n.name for n in plan.graph.nodes] == ["sim", "radar", "tracker", "scorer", "agent"]


@pytest.mark.parametrize("old, new, expected", [
    ("rate_hz: 5.0", "rate_hz: fast", "/**/tracker.ros__parameters.markers.rate_hz"),
    ("confirm_m: 4", "confirm_mm: 4", "/**/tracker.ros__parameters.tracker.confirm_mm"),
    ("/**/agent:", "/**/agnet:", "/**/agnet: unknown node section"),
    ("tick_hz: 10.0", "tick_hz: -1", "/**/agent.ros__parameters.tick_hz"),
    ("    clock:\n", "    clock: [\n", "malformed YAML"),
])
def test_malformed_params_file_names_file_and_key(cfg, old, new, expected):
    _edit(cfg / "params" / "bot.yaml", old, new)
    with pytest.raises(ConfigError) as err:
        make_plan(cfg=cfg)
    msg = str(err.value)
    assert "\n" not in msg and "bot.yaml" in msg and expected in msg, msg


@pytest.mark.parametrize("old, new, expected", [
    ("executable: radar_node", "executable: [radar_node]", "nodes.1.executable"),
    ("pub: [radar.frame_lr]", "pub: [radra.frame_lr]", "endpoint 'radra.frame_lr'"),
    ("default_profile: bot", "default_profile: bot\nsurprise: 1", "surprise"),
    ("type: qiki_msgs/msg/BiosReport, qos: latched", "type: qiki_msgs/msg/BiosReport, qos: latchd",
     "qos 'latchd' is not one of"),
    ("pub: [tracker.markers]", "pub: [tracker.markers, tracker.events]", "endpoint 'tracker.events' has qos"),
])
def test_malformed_graph_names_file_and_key(cfg, old, new, expected):
    _edit(cfg / "graph.yaml", old, new)
    with pytest.raises(ConfigError) as err:
        make_plan(cfg=cfg)
    msg = str(err.value)
    assert "\n" not in msg and "graph.yaml" in msg and expected in msg, msg


def test_every_port_gets_the_qos_the_graph_file_gives_its_topic(cfg):
    from qiki_ros.qos import BY_NAME, PortProfiles
    plan = make_plan(cfg=cfg)
    for node in plan.graph.nodes:
        entries = plan.overrides(node.name)["qos.ports"].strip("[]").split(",")
        ports = PortProfiles(entries, node.name)
        for t in plan.graph.topics:
            for end in t.pub + t.sub:
                if end.partition(".")[0] == node.name:
                    assert ports[end.partition(".")[2]] is BY_NAME[t.qos], (end, t.name)


@pytest.mark.parametrize("entries, port, expected", [
    (["frame=stream"], "tracks", "node 'tracker': no QoS for port 'tracks' in parameter qos.ports"),
    (["frame:stream"], "frame", "entry 'frame:stream' is not <port>=<profile>"),
    (["frame=fast"], "frame", "entry 'frame=fast' is not <port>=<profile>"),
])
def test_a_port_without_a_known_qos_is_a_one_line_error(entries, port, expected):
    from qiki_ros.qos import PortProfiles
    with pytest.raises(ConfigError) as err:
        PortProfiles(entries, "tracker")[port]
    assert "\n" not in str(err.value) and expected in str(err.value)


def test_malformed_scenario_names_file_and_key(cfg):
    _edit(cfg / "scenarios" / "bot_patrol.yaml", "seed: 42", "seed: forty-two")
    with pytest.raises(UsageError) as err:
        make_plan(cfg=cfg)
    msg = str(err.value)
    assert "\n" not in msg and "bot_patrol.yaml" in msg and "seed" in msg, msg


def test_config_show_prints_every_parameter_with_its_source(tmp_path):
    over = tmp_path / "site.yaml"
    over.write_text("/**/scorer:\n  ros__parameters:\n    gospa: {warmup_frames: 3}\n")
    code, out, err = qiki("config", "show", "--rate", "2", "--set", "scorer.gospa.c_m=7.5",
                              env={"QIKI_TRACKER__TRACKER__CONFIRM_M": "3", "QIKI_OVERRIDES_FILE": str(over)})
    assert (code, err) == (0, ""), err
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in out.splitlines() if line.strip()}
    assert rows["profile"] == ["bot"] and rows["namespace"] == ["/qiki"]
    assert rows["overrides_file"] == [str(over), "(from QIKI_OVERRIDES_FILE)"]
    assert rows["sim.clock.mode"] == ["realtime", "cli --rate"]            # --rate without --mode: realtime
    assert rows["sim.clock.rate_factor"] == ["2.0", "cli --rate"]
    assert rows["tracker.tracker.confirm_m"] == ["3", "env QIKI_TRACKER__TRACKER__CONFIRM_M"]
    assert rows["scorer.gospa.warmup_frames"] == ["3", f"overrides {over}"]
    assert rows["scorer.gospa.c_m"] == ["7.5", "cli --set"]
    assert rows["agent.description"] == ["bot", "graph config/graph.yaml"]  # the scenario's vehicle...
    assert rows["agent.mission_file"][0].endswith("missions/bot_patrol.yaml")  # ...and its mission
    assert "agent.scenario_file" not in rows and "sim.scenario_file" in rows  # the world: the sim's alone
    assert rows["tracker.tracker.dim"] == ["2", "profile config/params/bot.yaml"]
    assert rows["tracker.tracker.gate_chi2"] == ["0.0", "default"]


def test_config_show_json_and_the_run_default(tmp_path):
    code, out, _ = qiki("config", "show", "--profile", "ship", "--json", env={})
    data = json.loads(out)
    assert code == 0 and data["profile"] == "ship" and data["scenario"] == "ship_station_keeping"
    assert data["parameters"]["sim.clock.mode"] == {"value": "lockstep", "source": "run default"}
    assert data["parameters"]["sim.frame_id"] == {"value": "eci", "source": "profile config/params/ship.yaml"}
    code, out, _ = qiki("config", "show", "--for", "bringup", "--json", env={})
    assert json.loads(out)["parameters"]["sim.clock.mode"] == {"value": "realtime",
                                                              "source": "profile config/params/bot.yaml"}


@pytest.mark.parametrize("env, args, expected", [
    ({"QIKI_TRACKER__TRACKER__CONFIRM_M": "abc"}, ["config", "show"],
     "qiki config: error: tracker.tracker.confirm_m = 'abc' (from env QIKI_TRACKER__TRACKER__CONFIRM_M): "
     "Input should be a valid integer"),
    ({}, ["config", "show", "--set", "tracker.tracker.confirm_mm=3"], "did you mean 'tracker.tracker.confirm_m'?"),
    ({}, ["config", "show", "--overrides", "/nonexistent/site.yaml"],
     "/nonexistent/site.yaml: no such overrides file (from --overrides)"),
    ({"QIKI_OVERIDES_FILE": "x"}, ["config", "show"], "env QIKI_OVERIDES_FILE: not a QIKI setting"),
    ({}, ["run", "--set", "sim.clock.mode=fast"],   # checked before any process starts
     "qiki run: error: sim.clock.mode = 'fast' (from cli --set): Input should be 'realtime' or 'lockstep'"),
    ({"QIKI_AGENT__TICK_HZ": "0"}, ["bringup"], "qiki bringup: error: agent.tick_hz = 0 (from env QIKI_AGENT__TICK_HZ)"),
    ({}, ["config"], "required: show"),
])
def test_bad_configuration_is_one_line_exit_2(env, args, expected):
    code, out, err = qiki(*args, env=env)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err


# --- domain ids, paths and files: one line, exit 2, nothing started, nothing left behind -------------
# (every id and source: src/qiki/test/test_domains.py; here each kind of command that joins a domain once)

@pytest.mark.parametrize("env, args, expected", [
    ({}, ["bringup", "--domain-id", "-1"], "--domain-id -1 is not a ROS domain id: give a whole number in 0..232"),
    ({"ROS_DOMAIN_ID": "999"}, ["run"], "$ROS_DOMAIN_ID '999' is not a ROS domain id"),
    ({"ROS_DOMAIN_ID": "-1"}, ["console"], "$ROS_DOMAIN_ID '-1' is not a ROS domain id"),
    ({}, ["bag", "record", "--domain-id", "300"], "--domain-id 300 is not a ROS domain id"),
    ({}, ["run", "--scenario", "/typo/dir/bot_crossing.yaml"], "/typo/dir/bot_crossing.yaml: no such scenario file"),
    ({}, ["run", "--set", "sim.clock.rate_factor=.inf"], "sim.clock.rate_factor = inf (from cli --set): expected a "
                                                          "finite number"),
    ({}, ["run", "--out", "/etc/passwd"], "--out /etc/passwd: exists and is not a directory"),
    ({}, ["run", "--out", "/etc/passwd/run1"], "--out /etc/passwd/run1: /etc/passwd is not a directory"),
    ({}, ["run", "--out", "/proc/qiki-run"], "--out /proc/qiki-run: cannot write in /proc"),
])
def test_bad_domain_path_or_value_is_one_line_exit_2(tmp_path, env, args, expected):
    code, out, err = qiki(*args, env={"ROS_DOMAIN_ID": "", **env})
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err


def test_out_domain_refusal_leaves_no_run_directory(tmp_path):
    code, _, err = qiki("run", "--domain-id", "999", "--out", str(tmp_path / "run"), env={})
    assert code == 2 and "999" in err
    assert not (tmp_path / "run").exists()


def test_plot_of_a_truncated_bag_is_one_line_exit_2(tmp_path):
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "bag_0.mcap").write_bytes(b"\x89MCAP0\r\n")       # 8 bytes: the magic and nothing else
    for target in (bag, bag / "bag_0.mcap"):
        code, out, err = qiki("plot", str(target), "--out", str(tmp_path / "plots"), env={})
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("qiki plot: error:"), err
        assert "Traceback" not in err


@pytest.mark.parametrize("value", ["qiki_no_such_module:Verb", "qiki.cli:NoSuchVerb", "json:JSONDecodeError"])
def test_broken_verb_plugin_is_one_warning_line(monkeypatch, capsys, value):
    """A plugin whose module, name or constructor fails costs its command only, with one line on stderr."""
    import importlib.metadata

    from qiki import cli
    broken = importlib.metadata.EntryPoint(name="broken", value=value, group=cli.VERB_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken])
    assert cli.discover_verbs() == {}
    err = capsys.readouterr().err
    assert err.startswith("qiki: warning: command 'broken'") and err.count("\n") == 1
