"""`qiki run --record` writes the figures into its run directory and lists them in summary.json; the
recorded bag holds everything the figures draw (tracks, truth, scores, status, events), per profile."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qiki_tools import plots

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "qiki_tools" / "test"))
from test_plots import check_pngs  # noqa: E402


@pytest.mark.parametrize("profile, scenario, duration", [("bot", "bot_crossing", 20), ("ship", "ship_debris_field", 15)])
def test_recorded_run_writes_its_plots(tmp_path, domain_id, leftover_processes, profile, scenario, duration):
    out = tmp_path / "run"
    proc = subprocess.run([str(QIKI), "run", "--profile", profile, "--scenario", scenario, "--duration",
                           str(duration), "--record", "--out", str(out), "--domain-id", str(domain_id)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stdout)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plots"] == ["scope.png", "fsm_timeline.png", "gospa.png"]
    check_pngs(out, summary["plots"])
    data = plots.load_run(out / "bag")
    assert data.missing == []
    assert data.frame == {"bot": "map", "ship": "lvlh"}[profile]
    assert len(data.tracks) > 0 and len(data.truth) > 0 and len(data.score) > 0 and len(data.status) > 0
    assert set(data.score["band"].tolist()) == {0, 1, 2}
    # tracks and truth are in one frame: every confirmed track lies near some truth object of its stamp
    t = data.truth
    for row in data.tracks[:: max(1, len(data.tracks) // 50)]:
        same = t[t["t"] == row["t"]]
        assert len(same) and (((same["x"] - row["x"]) ** 2 + (same["y"] - row["y"]) ** 2).min() ** 0.5 < 50.0)
    assert leftover_processes(domain_id) == []
