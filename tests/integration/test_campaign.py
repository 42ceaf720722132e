"""`qiki campaign` end to end with the core engine: a small campaign on the local pool (table, statuses,
reproducing a run from its `command`), stopped with Ctrl-C and resumed (no run repeated), and the same campaign
through a Dask LocalCluster on loopback started here (same table)."""
import math
import os
import shlex
import signal
import subprocess
import sys
import json
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from qiki_tools.campaign.table import RUN_COLUMNS, SUMMARY_COLUMNS, summary_figures

ENGINE = "core"
QIKI = [str(Path(sys.executable).parent / "qiki")]


def spec_text(engine: str = ENGINE, runs: int = 4, duration_s: float = 15, fault_at_s: str = "[2, 12]") -> str:
    """The test campaign (a graph-engine one runs fewer, shorter runs)."""
    return f"""\
name: it_campaign
scenario: bot_crossing
runs: {runs}
seed: 99
duration_s: {duration_s:g}
engine: {engine}
dispersions:
  - path: scenario.objects[0].velocity
    dist: normal
    mean: [-1.5, 0.0, 0.0]
    std: [0.3, 0.3, 0.0]
  - {{path: scenario.random_movers.count, dist: uniform_int, low: 10, high: 40}}
  - {{path: description.radar.sr.range_std_m, dist: uniform, low: 0.1, high: 0.3}}
  - {{path: params.sim.clock.command_lag_steps, dist: choice, values: [1, 2]}}
  - {{dist: device_failure, name: warn, devices: [comms, power], level: 1, at_s: {fault_at_s}, probability: 0.5}}
"""


DISPERSED = ["d.scenario.objects[0].velocity[0]", "d.scenario.objects[0].velocity[1]",
             "d.scenario.objects[0].velocity[2]", "d.scenario.random_movers.count",
             "d.description.radar.sr.range_std_m", "d.params.sim.clock.command_lag_steps",
             "d.fault.warn.at_s", "d.fault.warn.target"]
TIMEOUT_S = 600
MACHINE_DEPENDENT = {"wall_time_s", "s.rtf", "command"}     # what may differ between two runs of one row


def campaign(spec: Path, out: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    return subprocess.Popen(QIKI + ["campaign", str(spec), "--out", str(out), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def finish(p: subprocess.Popen) -> tuple[int, str]:
    out, err = p.communicate(timeout=TIMEOUT_S)
    return p.returncode, out + err


def rows(out: Path) -> list[dict]:
    return pq.read_table(out / "runs.parquet").to_pylist()


def same(a: dict, b: dict) -> bool:
    """Two values of one cell equal (NaN equals NaN)."""
    return all((isinstance(a[k], float) and isinstance(b[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
               or a[k] == b[k] for k in a)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "it_campaign.yaml"
    path.write_text(spec_text())
    return path


@pytest.fixture(scope="module")
def local(spec, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "campaign"
    code, text = finish(campaign(spec, out, "--workers", "2"))
    assert code == 0, text
    return out


def test_local_pool_writes_the_table(local):
    table = rows(local)
    assert [r["run"] for r in table] == [0, 1, 2, 3]
    names = list(table[0])
    assert names == [n for n, _ in RUN_COLUMNS] + DISPERSED + [n for n, _ in SUMMARY_COLUMNS]
    assert all(r["status"] == "ok" and r["error"] == "" for r in table), [r["error"] for r in table]
    assert len({r["seed"] for r in table}) == 4
    for r in table:
        assert r["s.sim_time_s"] == pytest.approx(15.0, abs=0.2)
        assert r["s.safe_radius_m"] == 2.0 and r["s.failure_mode"] in ("", "collision", "safe_mode",
                                                                        "mission_failed", "timeout")
        assert 10 <= r["d.scenario.random_movers.count"] <= 40
        assert r["command"].startswith(f"qiki run --engine {ENGINE} --scenario ")
        run_dir = local / "runs" / f"{r['run']:05d}"
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["engine"] == ENGINE
        assert same({k: r[k] for k in summary_figures(summary, 2.0)}, summary_figures(summary, 2.0))
    info = json.loads((local / "campaign.json").read_text())
    assert info["complete"] and info["runs"] == 4 and info["engine"] == ENGINE


def test_a_rows_command_reproduces_the_run(local):
    row = rows(local)[2]
    argv = shlex.split(row["command"])
    assert argv[:2] == ["qiki", "run"]
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    done = subprocess.run(QIKI + argv[1:], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    rerun = json.loads((Path(argv[argv.index("--out") + 1]) / "summary.json").read_text())
    figures = summary_figures(rerun, 2.0)
    assert same({k: v for k, v in figures.items() if k not in MACHINE_DEPENDENT},
                {k: row[k] for k in figures if k not in MACHINE_DEPENDENT})


def test_ctrl_c_keeps_a_valid_table_and_resume_repeats_no_run(spec, tmp_path):
    out = tmp_path / "campaign"
    p = campaign(spec, out, "--workers", "1")
    seen = []
    for line in p.stderr:                     # one line per finished run off a terminal
        if " ok (" in line or " error (" in line:
            seen.append(line)
            if len(seen) == 2:
                p.send_signal(signal.SIGINT)  # first Ctrl-C: no new run, the running one finishes
                break
    code, text = finish(p)
    assert code == 128 + signal.SIGINT, text
    first = rows(out)
    assert 2 <= len(first) < 4 and all(r["status"] == "ok" for r in first)
    done_before = {r["run"] for r in first}
    mtimes = {r: (out / "runs" / f"{r:05d}" / "summary.json").stat().st_mtime_ns for r in done_before}
    code, text = finish(campaign(spec, out, "--workers", "2", "--resume"))
    assert code == 0, text
    assert f"{4 - len(first)} of 4 runs to go ({len(first)} in the table)" in text
    finished = [int(line.split("run ")[1].split()[0]) for line in text.splitlines() if " ok (" in line]
    assert sorted(finished) == sorted(set(range(4)) - done_before)          # no run repeated
    assert {r: (out / "runs" / f"{r:05d}" / "summary.json").stat().st_mtime_ns for r in done_before} == mtimes
    table = rows(out)
    assert [r["run"] for r in table] == [0, 1, 2, 3]
    code, text = finish(campaign(spec, out, "--workers", "1"))
    assert code == 2 and "runs.parquet exists: add --resume" in text and "\n" not in text.strip()


def test_dask_local_cluster_gives_the_same_table(spec, local, tmp_path):
    from distributed import LocalCluster
    me = psutil.Process()
    before = {c.pid for c in me.children(recursive=True)}
    out = tmp_path / "campaign"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        code, text = finish(campaign(spec, out, "--cluster", cluster.scheduler_address))
    assert code == 0, text
    assert "on Dask cluster tcp://127.0.0.1:" in text
    theirs, ours = rows(local), rows(out)
    assert len(ours) == 4 and all(r["status"] == "ok" for r in ours)
    for a, b in zip(theirs, ours):
        assert same({k: v for k, v in a.items() if k not in MACHINE_DEPENDENT},
                    {k: v for k, v in b.items() if k not in MACHINE_DEPENDENT})
    # multiprocessing's resource tracker (one per process that used it, ends with this process) is no worker
    left = [c for c in me.children(recursive=True) if c.pid not in before and c.is_running()
            and c.status() != psutil.STATUS_ZOMBIE and "multiprocessing.resource_tracker" not in " ".join(c.cmdline())]
    assert left == [], [c.cmdline() for c in left]


def test_kill_9_of_the_campaign_leaves_no_worker(spec, tmp_path):
    p = campaign(spec, tmp_path / "campaign", "--workers", "2")
    for line in p.stderr:                     # a run has finished: the pool's workers are up and busy
        if " ok (" in line or " error (" in line:
            break
    family = psutil.Process(p.pid).children(recursive=True)
    assert len(family) >= 3, family           # the forkserver and the 2 workers (and a resource tracker)
    p.kill()
    p.wait(timeout=TIMEOUT_S)
    p.stdout.close()
    p.stderr.close()
    _gone, alive = psutil.wait_procs(family, timeout=30)
    assert alive == [], f"outlived the campaign: {[(q.pid, q.name()) for q in alive]}"


def test_graph_engine_campaign_gives_each_parallel_run_its_own_domain(tmp_path):
    """Two graph-engine runs at once on a pool of 2: each worker's graphs live on a ROS domain of their own."""
    spec = tmp_path / "graph_campaign.yaml"
    spec.write_text(spec_text(engine="graph", runs=2, duration_s=4, fault_at_s="[1, 3]"))
    out = tmp_path / "campaign"
    code, text = finish(campaign(spec, out, "--workers", "2"))
    assert code == 0, text
    table = rows(out)
    assert [r["status"] for r in table] == ["ok", "ok"], [r["error"] for r in table]
    summaries = [json.loads((out / "runs" / f"{r['run']:05d}" / "summary.json").read_text()) for r in table]
    assert [s["engine"] for s in summaries] == ["graph", "graph"]
    assert all(s["sim_time_s"] == pytest.approx(4.0, abs=0.2) for s in summaries), [s["sim_time_s"] for s in summaries]
    assert sorted(s["domain_id"] for s in summaries) == [100, 101]
    assert all(r["command"].startswith("qiki run --engine graph --scenario ") for r in table)
