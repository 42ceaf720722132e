"""`qiki run` starts every node with the effective configuration it records: a value set on the command
line or in the environment reaches the node (the scorer's GOSPA cut-off comes back in its messages)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def test_set_and_env_values_reach_the_nodes_and_the_run_records_their_sources(tmp_path, domain_id, leftover_processes):
    out = tmp_path / "run"
    env = {**os.environ, "QIKI_SCORER__GOSPA__WARMUP_FRAMES": "0"}
    # long enough that the scorer (outside the step barrier, so the clock does not wait for it) is up
    # before the run ends even on a loaded machine; it gets the steps it missed from the transient-local history
    proc = subprocess.run([str(QIKI), "run", "--duration", "30", "--out", str(out), "--domain-id", str(domain_id),
                           "--set", "scorer.gospa.c_m=7.25"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gospa_c_m"] == 7.25          # published by the scorer node: the value reached it
    assert f"config            {out / 'config.json'} (every parameter and its source" in proc.stdout
    assert (summary["config"], summary["params_file"]) == ("config.json", "params.yaml")
    params = yaml.safe_load((out / "params.yaml").read_text())
    assert params["/**/scorer"]["ros__parameters"]["gospa"]["c_m"] == 7.25
    assert params["/**/sim"]["ros__parameters"]["clock"]["mode"] == "lockstep"
    config = json.loads((out / "config.json").read_text())["parameters"]
    assert config["scorer.gospa.c_m"] == {"value": 7.25, "source": "cli --set"}
    assert config["scorer.gospa.warmup_frames"] == {"value": 0, "source": "env QIKI_SCORER__GOSPA__WARMUP_FRAMES"}
    assert config["sim.clock.mode"] == {"value": "lockstep", "source": "run default"}
    assert leftover_processes(domain_id) == []
