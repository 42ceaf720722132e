"""One campaign end to end: materialise each run, run them (runner), keep the table (table), describe the campaign
in DIR/campaign.json and hand the table to the report. What DIR holds:

- `spec.yaml`: the campaign file as given; `campaign.json`: the campaign (spec, base, where it ran, wall time);
- `runs/<i:05d>/`: run i's `scenario.yaml`, `overrides.yaml` (and `description.yaml` when dispersed) and what
  the run wrote (`summary.json`, `config.json`, `params.yaml`);
- `runs.parquet`: the table (qiki_tools.campaign.table); `summary.json` and the figures: the report.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from qiki.engines import writable_dir
from qiki.plan import config_dir
from qiki_tools.campaign.dispersion import draw_run
from qiki_tools.campaign.materialise import files_of, run_command, run_dir, write_run
from qiki_tools.campaign.plan import CampaignPlan
from qiki_tools.campaign.runner import (CampaignStartError, DaskCluster, LocalPool, RunJob, StopRequest, run_jobs, say,
                                        with_sigint)
from qiki_tools.campaign.table import TABLE_FILE, CampaignTable, column_type, error_figures
from qiki_tools.campaign.spec import Choice
from qiki_ros.terminal_progress import TerminalProgress


@dataclass(frozen=True)
class CampaignOutcome:
    out: Path
    runs: int               # rows in the table
    errors: int             # rows with status "error"
    interrupted: bool
    wall_time_s: float
    info: dict


def safe_radius_m(profile: str) -> float:
    """The safe radius a run's miss distance is judged against: the agent's rules file (config/rules/<profile>.yaml)."""
    rules = yaml.safe_load((config_dir() / "rules" / f"{profile}.yaml").read_text())
    return float(rules["threat"]["safe_radius_m"])


def fingerprint(plan: CampaignPlan) -> dict:
    """What makes two tables the same campaign (the run count may change: run i does not depend on it)."""
    spec = plan.spec.model_dump(mode="json", exclude={"runs", "name", "description"})
    base = hashlib.sha256(json.dumps({"scenario": plan.base.scenario_raw, "description": plan.base.description_raw},
                                     sort_keys=True).encode()).hexdigest()
    return {"spec": spec, "base_sha256": base}


def dispersed_columns(plan: CampaignPlan) -> list[tuple[str, object]]:
    """The d.* columns (from run 0's draw) and their types (a choice's from all its values)."""
    values = draw_run(plan.spec, plan.base, 0).values
    choices = {f"d.{d.path}": list(d.values) for d in plan.spec.dispersions if isinstance(d, Choice)}
    return [(name, column_type(choices.get(name, [v]))) for name, v in values.items()]


def campaign_info(plan: CampaignPlan, where: str, workers: int | None, cluster: str | None) -> dict:
    """DIR/campaign.json, and the report's `spec_info`."""
    spec = plan.spec
    return {"name": spec.name, "description": spec.description, "spec_file": str(plan.spec_path.resolve()),
            "scenario": plan.base.scenario.name, "scenario_file": str(plan.base.scenario_path),
            "profile": plan.base.profile, "runs": spec.runs, "seed": spec.seed, "engine": spec.engine,
            "duration_s": plan.duration_s, "safe_radius_m": safe_radius_m(plan.base.profile),
            "dispersions": [d.model_dump(mode="json") for d in spec.dispersions],
            "executor": where, "workers": workers, "cluster": cluster, "table": TABLE_FILE}


def run_campaign(plan: CampaignPlan, out: Path, *, workers: int, cluster: str | None = None, resume: bool = False,
                 announce: Callable[[str], None] = say) -> CampaignOutcome:
    """Run every run of `plan` not yet in DIR/runs.parquet and keep the table; see the module docstring."""
    t0 = time.monotonic()
    if cluster and plan.spec.engine == "graph":
        raise CampaignStartError("--cluster runs the core engine only: the graph engine's run loop handles signals, "
                                 "which a Dask worker thread cannot (use the local pool for a graph campaign)")
    writable_dir(out, "--out")
    table = CampaignTable(out / TABLE_FILE, dispersed_columns(plan), fingerprint(plan))
    if table.path.exists():
        if not resume:
            raise CampaignStartError(f"{table.path} exists: add --resume to continue that campaign, or give a new --out")
        table.resume()
    backend = DaskCluster(cluster) if cluster else LocalPool(workers, plan.spec.engine)
    try:
        out.mkdir(parents=True, exist_ok=True)
        table.flush()           # a valid table from the start: a Ctrl-C before the first run leaves an empty one
        shutil.copyfile(plan.spec_path, out / "spec.yaml")
        info = campaign_info(plan, backend.where, None if cluster else workers, cluster)
        todo = [i for i in range(plan.spec.runs) if i not in table.rows]
        announce(f"{plan.spec.name}: {len(todo)} of {plan.spec.runs} runs to go ({len(table.rows)} in the table) on "
                 f"{backend.where}, engine {plan.spec.engine}; table {table.path}")
        interrupted = _run_all(plan, out, table, backend, todo, announce)
    finally:
        backend.close()
    wall = time.monotonic() - t0
    errors = sum(r["status"] != "ok" for r in table.rows.values())
    info = {**info, "wall_time_s": round(wall, 3), "complete": len(table.rows) == plan.spec.runs}
    (out / "campaign.json").write_text(json.dumps(info, indent=2) + "\n")
    return CampaignOutcome(out, len(table.rows), errors, interrupted, wall, info)


def _run_all(plan: CampaignPlan, out: Path, table: CampaignTable, backend, todo: list[int],
             announce: Callable[[str], None]) -> bool:
    """Materialise and run the runs `todo`, adding each finished one to the table; True if interrupted."""
    radius = safe_radius_m(plan.base.profile)
    engine, total = plan.spec.engine, plan.spec.runs

    def job(run: int) -> RunJob:
        draw = draw_run(plan.spec, plan.base, run)
        files = write_run(draw, run_dir(out, run), note=f"campaign {plan.spec.name} run {run} seed {draw.seed}")
        return RunJob(run=run, seed=draw.seed, engine=engine, scenario=str(files.scenario.resolve()),
                      overrides=str(files.overrides.resolve()), out=str(files.dir.resolve()),
                      command=run_command(files, engine), values=draw.values, safe_radius_m=radius)

    def error_row(run: int, error: str) -> dict:
        draw = draw_run(plan.spec, plan.base, run)
        return {"run": run, "seed": draw.seed, "command": run_command(files_of(run_dir(out, run)), engine),
                **draw.values, "status": "error", "error": error, "wall_time_s": float("nan"), **error_figures(radius)}

    stop = StopRequest(announce)
    with TerminalProgress("campaign", total, unit="runs") as bar, with_sigint(stop):
        bar.update(len(table.rows))

        def on_row(row: dict) -> None:
            table.add(row)
            table.flush()
            done = len(table.rows)
            bar.update(done, note=f"{sum(r['status'] != 'ok' for r in table.rows.values())} errors")
            if not bar.enabled:     # off a terminal (logs, CI): one line per finished run instead of the bar
                announce(f"run {row['run']} {row['status']} ({done}/{total}, {row['wall_time_s']:.1f} s"
                         + (f": {row['error']})" if row["error"] else f", {row['s.failure_mode'] or 'success'})"))

        try:
            progress = run_jobs(backend, ((i, lambda i=i: job(i)) for i in todo), on_row, stop, error_row)
        finally:
            if table.rows:
                table.flush()
    return progress.interrupted
