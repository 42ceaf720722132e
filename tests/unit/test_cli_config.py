"""Bad input to the command line and to the configuration gets one clear line and exit code 2."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qiki.graph import ConfigError
from qiki.plan import UsageError, config_dir, make_plan

QIKI = Path(sys.executable).with_name("qiki")


def qiki(*args):
    proc = subprocess.run([str(QIKI), *args], capture_output=True, text=True, timeout=60)
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
    (["fly"], "invalid choice: 'fly'"),
    ([], "the following arguments are required"),
])
def test_bad_cli_input_is_one_line_exit_2(args, expected):
    code, out, err = qiki(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err


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
    ("rate_hz: 5.0", "rate_hz: fast", "/**/radar.ros__parameters.radar.lr.rate_hz"),
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
])
def test_malformed_graph_names_file_and_key(cfg, old, new, expected):
    _edit(cfg / "graph.yaml", old, new)
    with pytest.raises(ConfigError) as err:
        make_plan(cfg=cfg)
    msg = str(err.value)
    assert "\n" not in msg and "graph.yaml" in msg and expected in msg, msg


def test_malformed_scenario_names_file_and_key(cfg):
    _edit(cfg / "scenarios" / "bot_patrol.yaml", "seed: 42", "seed: forty-two")
    with pytest.raises(UsageError) as err:
        make_plan(cfg=cfg)
    msg = str(err.value)
    assert "\n" not in msg and "bot_patrol.yaml" in msg and "seed" in msg, msg
