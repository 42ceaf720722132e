"""The campaign report: the runs table (``DIR/runs.parquet``) -> ``DIR/summary.json`` and its figures.

Pure statistics over the table (pyarrow, numpy, scipy; matplotlib only inside :func:`write_report`, through
``qiki_tools.campaign.figures``; no ROS). The words of the report, as computed here:

- *ok run*: ``status == "ok"``; any other status is an *errored* run (it crashed; its figures are NaN).
- *collision*: an ok run with ``s.min_miss_distance_m < s.safe_radius_m`` (both finite), or whose
  ``s.failure_mode`` is ``"collision"``.
- *success*: an ok run with ``s.mission_result == "complete"``, no collision and no failure mode named by the
  table (``s.failure_mode`` empty: e.g. a completed mission that ended in safe mode is ``"safe_mode"``). The
  mission success rate is successes / ok runs (errored runs say nothing about the autonomy), with a 95 %
  Wilson score interval.
- *failure*: every run that is not a success, errored runs included. Its mode is ``"error"`` for an errored
  run, else the table's ``s.failure_mode`` when it names one, else derived in the campaign table's order:
  ``"collision"``, ``"safe_mode"`` (``s.agent_state_final == "SAFE_MODE"``), ``"mission_failed"`` (result
  ``"failed"`` or ``"aborted"``), ``"timeout"`` (the mission did not finish).
- *association*: each dispersed column ``d.*`` against failure over all runs that have a value: numeric
  columns by the Mann-Whitney U test (two-sided p-value; effect: rank-biserial correlation, > 0 when failed
  runs have larger values; the point-biserial correlation beside it), categorical ones by the chi-square test
  of independence (effect: Cramér's V; direction: the value with the highest failure rate). Ranked by p-value,
  then by the size of the effect; ``p_holm`` is the p-value adjusted (Holm-Bonferroni) for the number of
  parameters tested: with a few failures, some parameter always looks associated by chance.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

TABLE = "runs.parquet"
SUMMARY = "summary.json"
CONFIDENCE = 0.95
QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p95": 0.95}
BANDS = ("union", "lr", "sr")
WORST_BY_MISS = 5          # runs listed with the smallest miss distance
FAILED_LISTED = 20         # failed runs listed at most
ERROR_GROUPS = 20          # distinct error messages listed at most
RUNS_PER_ERROR = 10        # run numbers listed per error message
FAILED_RESULTS = ("failed", "aborted")   # mission results of a mission that ended without completing
SIGNIFICANT = 6            # significant digits of the numbers in summary.json


class ReportInputError(ValueError):
    """The runs table cannot be read; ``str()`` is one line naming the file."""


@dataclass
class Runs:
    """The runs table as numpy arrays, with each run's outcome (see the module's definitions)."""

    run: np.ndarray                  # int64
    seed: np.ndarray                 # int64 (-1 where absent)
    status: np.ndarray               # str
    error: np.ndarray                # str
    command: np.ndarray              # str
    mission: np.ndarray              # str: s.mission_result
    table_mode: np.ndarray           # str: s.failure_mode as written
    final_state: np.ndarray          # str: s.agent_state_final
    miss: np.ndarray                 # float: s.min_miss_distance_m
    safe: np.ndarray                 # float: s.safe_radius_m
    gospa: dict[str, np.ndarray]     # band -> float: s.gospa_mean.<band>
    dispersed: dict[str, np.ndarray] = field(default_factory=dict)  # d.* -> float (numeric) or object (str/None)

    def __len__(self) -> int:
        return len(self.run)

    @cached_property
    def ok(self) -> np.ndarray:
        return self.status == "ok"

    @cached_property
    def collision(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            closer = np.isfinite(self.miss) & np.isfinite(self.safe) & (self.miss < self.safe)
        return self.ok & (closer | (self.table_mode == "collision"))

    @cached_property
    def success(self) -> np.ndarray:
        return self.ok & (self.mission == "complete") & ~self.collision & (self.table_mode == "")

    @cached_property
    def mode(self) -> np.ndarray:
        """Failure mode per run ("" for a success)."""
        derived = np.select([self.collision, self.final_state == "SAFE_MODE", np.isin(self.mission, FAILED_RESULTS)],
                            ["collision", "safe_mode", "mission_failed"], "timeout")
        mode = np.where(self.table_mode != "", self.table_mode, derived).astype(object)
        mode[~self.ok] = "error"
        mode[self.success] = ""
        return mode


# ------------------------------------------------------------------------------------------ reading
def read_table(path: Path | str) -> pa.Table:
    """The runs table; ReportInputError (one line naming the file) when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ReportInputError(f"{path}: no such file; 'qiki campaign SPEC.yaml --out DIR' writes DIR/{TABLE}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReportInputError(f"{path}: not a readable Parquet table ({first})") from None
    if "status" not in table.column_names:
        raise ReportInputError(f"{path}: no 'status' column; not a campaign runs table")
    return table


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64 (nulls and absent columns: NaN; a non-numeric column: NaN)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
        return np.full(table.num_rows, np.nan)
    return np.array([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=float)


def _ints(table: pa.Table, name: str, default: np.ndarray) -> np.ndarray:
    """An integer column, exactly (seeds use all 64 bits); nulls, non-integers and absent columns: default."""
    if name not in table.column_names or not pa.types.is_integer(table.column(name).type):
        return default.astype(np.int64)
    values = table.column(name).to_pylist()
    return np.array([d if v is None or not -2**63 <= v < 2**63 else v for v, d in zip(values, default)],
                    dtype=np.int64)


def _strings(table: pa.Table, name: str) -> np.ndarray:
    """A column as str objects (nulls and absent columns: "")."""
    if name not in table.column_names:
        return np.full(table.num_rows, "", dtype=object)
    return np.array(["" if v is None else str(v).strip() for v in table.column(name).to_pylist()], dtype=object)


def _dispersed(col: pa.ChunkedArray) -> np.ndarray:
    """A d.* column: float64 (NaN for nulls) if numeric, else objects (str, None for nulls)."""
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return np.array([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=float)
    return np.array([None if v is None else str(v) for v in col.to_pylist()], dtype=object)


def runs_of(table: pa.Table) -> Runs:
    """The table's columns this report reads (absent ones: NaN / "")."""
    n = table.num_rows
    return Runs(run=_ints(table, "run", np.arange(n)), seed=_ints(table, "seed", np.full(n, -1)),
                status=_strings(table, "status"), error=_strings(table, "error"),
                command=_strings(table, "command"), mission=_strings(table, "s.mission_result"),
                table_mode=_strings(table, "s.failure_mode"), final_state=_strings(table, "s.agent_state_final"),
                miss=_floats(table, "s.min_miss_distance_m"),
                safe=_floats(table, "s.safe_radius_m"),
                gospa={b: _floats(table, f"s.gospa_mean.{b}") for b in BANDS},
                dispersed={c: _dispersed(table.column(c)) for c in table.column_names if c.startswith("d.")})


# ------------------------------------------------------------------------------------------ statistics
def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Wilson score interval of a binomial proportion (None without trials)."""
    if trials <= 0:
        return None
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def distribution(values: np.ndarray) -> dict:
    """Count, min, p5..p95 (numpy's linear quantiles), max and mean of the finite values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    out: dict = {"n": int(len(x))}
    if not len(x):
        return {**out, "min": None, **{k: None for k in QUANTILES}, "max": None, "mean": None}
    with np.errstate(all="ignore"):            # +-1e308 overflow to inf: null in summary.json
        q = np.quantile(x, list(QUANTILES.values()))
        mean = x.mean()
    return {**out, "min": float(x.min()), **dict(zip(QUANTILES, map(float, q))), "max": float(x.max()),
            "mean": float(mean)}


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order; NaN counts as 1): many parameters tested at once."""
    p = np.nan_to_num(np.asarray(p_values, dtype=float), nan=1.0)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty(len(p))
    out[order] = adjusted
    return [float(x) for x in out]


def _numeric_association(x: np.ndarray, failed: np.ndarray) -> dict:
    fail, succ = x[failed], x[~failed]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        u = stats.mannwhitneyu(fail, succ, alternative="two-sided")
        pb = stats.pointbiserialr(failed.astype(float), x)
    effect = 2.0 * float(u.statistic) / (len(fail) * len(succ)) - 1.0
    direction = ("failures at higher values" if effect > 0 else
                 "failures at lower values" if effect < 0 else "no direction")
    return {"kind": "numeric", "test": "Mann-Whitney U", "statistic": float(u.statistic),
            "p_value": float(u.pvalue), "effect": "rank-biserial correlation", "effect_value": effect,
            "point_biserial_r": float(pb.statistic), "direction": direction,
            "median_failed": float(np.median(fail)), "median_succeeded": float(np.median(succ))}


def _categorical_association(x: np.ndarray, failed: np.ndarray) -> dict:
    cats, inverse = np.unique(x.astype(str), return_inverse=True)
    counts = np.zeros((len(cats), 2))
    np.add.at(counts, (inverse, (~failed).astype(int)), 1)          # column 0: failed, 1: succeeded
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        chi2, p, dof, _ = stats.chi2_contingency(counts, correction=False)
    rates = counts[:, 0] / counts.sum(axis=1)
    worst = int(np.lexsort((-counts.sum(axis=1), -rates))[0])     # highest rate, then most runs
    return {"kind": "categorical", "test": "chi-square", "statistic": float(chi2), "p_value": float(p),
            "dof": int(dof), "effect": "Cramér's V", "effect_value": math.sqrt(float(chi2) / len(x)),
            "direction": f"failures most frequent at {str(cats[worst])!r}",
            "failure_rate_by_value": {str(c): float(r) for c, r in zip(cats[:20], rates[:20])}}


def association(runs: Runs) -> dict:
    """Each d.* column against failure (module docstring), ranked; ``top`` is the first or None."""
    failed = ~runs.success
    ranked, skipped = [], {}
    for name, values in runs.dispersed.items():
        numeric = values.dtype.kind == "f"
        has = np.isfinite(values) if numeric else np.array([v is not None for v in values], dtype=bool)
        x, f = values[has], failed[has]
        if not len(x):
            skipped[name] = "no values"
        elif len(np.unique(x if numeric else x.astype(str))) < 2:
            skipped[name] = "constant"
        elif f.all() or not f.any():
            skipped[name] = "every run with a value failed" if f.all() else "no run with a value failed"
        else:
            row = (_numeric_association if numeric else _categorical_association)(x, f)
            ranked.append({"column": name, "runs": int(len(x)), "failed": int(f.sum()), **row})

    def size(x: float) -> float:
        return -abs(x) if math.isfinite(x) else 0.0

    ranked.sort(key=lambda r: (r["p_value"] if math.isfinite(r["p_value"]) else 1.0, size(r["effect_value"]),
                               size(r.get("point_biserial_r", r["effect_value"])), r["column"]))
    for row, p in zip(ranked, holm([r["p_value"] for r in ranked])):
        row["p_holm"] = p
    return {"outcome": "failure (not a success; errored runs included)", "top": ranked[0] if ranked else None,
            "ranked": ranked, "skipped": skipped}


def _run_row(runs: Runs, i: int, top: str | None) -> dict:
    row = {"run": int(runs.run[i]), "seed": int(runs.seed[i]), "status": runs.status[i],
           "failure_mode": runs.mode[i], "mission_result": runs.mission[i],
           "min_miss_distance_m": runs.miss[i], "safe_radius_m": runs.safe[i], "gospa_mean_union_m": runs.gospa["union"][i]}
    if top is not None:
        row[top] = runs.dispersed[top][i]
    if runs.error[i]:
        row["error"] = runs.error[i]
    row["command"] = runs.command[i]
    return row


def worst_runs(runs: Runs, top: str | None = None) -> dict:
    """The runs with the smallest miss distance, and the failed runs (smallest miss first), with the command
    that reproduces each one."""
    miss = np.where(np.isfinite(runs.miss) & runs.ok, runs.miss, np.inf)
    closest = [i for i in np.lexsort((runs.run, miss)) if np.isfinite(miss[i])][:WORST_BY_MISS]
    failed = np.flatnonzero(~runs.success)
    failed = failed[np.lexsort((runs.run[failed], ~runs.ok[failed], miss[failed]))]
    return {"smallest_miss": [_run_row(runs, i, top) for i in closest],
            "failed": [_run_row(runs, i, top) for i in failed[:FAILED_LISTED]],
            "failed_total": int(len(failed)), "failed_listed": int(min(len(failed), FAILED_LISTED))}


def error_groups(runs: Runs) -> dict:
    """Errored runs grouped by their message (most frequent first)."""
    errored = np.flatnonzero(~runs.ok)
    groups: dict[str, list[int]] = {}
    for i in errored:
        groups.setdefault(runs.error[i] or "(no message)", []).append(int(runs.run[i]))
    order = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {"groups_total": len(order),
            "groups": [{"error": msg, "count": len(ids), "runs": sorted(ids)[:RUNS_PER_ERROR]}
                       for msg, ids in order[:ERROR_GROUPS]]}


def summarize(runs: Runs, spec_info: dict | None = None) -> dict:
    """The report's content (without ``figures``), JSON-safe: see the module docstring for the words."""
    ok, success = runs.ok, runs.success
    n_ok, n_success = int(ok.sum()), int(success.sum())
    ci = wilson_interval(n_success, n_ok)
    judged = ok & np.isfinite(runs.miss) & np.isfinite(runs.safe)
    with np.errstate(invalid="ignore"):
        below = int((runs.miss[judged] < runs.safe[judged]).sum())
    safe = runs.safe[ok & np.isfinite(runs.safe)]
    modes, counts = np.unique(runs.mode[~success].astype(str), return_counts=True)
    assoc = association(runs)
    top = assoc["top"]["column"] if assoc["top"] else None
    summary = {
        "spec": spec_info or {},
        "table": TABLE,
        "definitions": {
            "success": "status ok, s.mission_result == 'complete', no collision (s.min_miss_distance_m < "
                       "s.safe_radius_m, or s.failure_mode == 'collision') and s.failure_mode empty",
            "success_rate": f"successes / ok runs, {CONFIDENCE:.0%} Wilson score interval",
            "failure": "any run that is not a success, errored runs included (failure mode 'error')",
            "quantiles": "over ok runs with a finite value (numpy linear interpolation)",
            "association": "d.* column vs failure over all runs: Mann-Whitney U (numeric, effect rank-biserial "
                           "> 0: failures at higher values) or chi-square (categorical, effect Cramér's V); "
                           "ranked by p-value, then effect size; p_holm: Holm-Bonferroni adjusted for the columns tested"},
        "runs": {"total": len(runs), "ok": n_ok, "errored": len(runs) - n_ok, "succeeded": n_success,
                 "failed": len(runs) - n_success},
        "success": {"rate": n_success / n_ok if n_ok else None, "successes": n_success, "ok_runs": n_ok,
                    "confidence": CONFIDENCE, "interval": list(ci) if ci else None, "method": "Wilson score"},
        "miss_distance_m": {**distribution(runs.miss[ok]),
                            "safe_radius_m": {"min": float(safe.min()) if len(safe) else None,
                                              "max": float(safe.max()) if len(safe) else None},
                            "below_safe_radius": {"runs": below, "of": int(judged.sum()),
                                                  "fraction": below / int(judged.sum()) if judged.any() else None}},
        "gospa_mean_m": {b: distribution(runs.gospa[b][ok]) for b in BANDS},
        "failure_modes": {str(m): int(c) for m, c in sorted(zip(modes, counts), key=lambda mc: (-mc[1], mc[0]))},
        "errors": error_groups(runs),
        "association": assoc,
        "worst_runs": worst_runs(runs, top),
    }
    return jsonable(summary)


# ------------------------------------------------------------------------------------------ output
def number(x, digits: int = SIGNIFICANT):
    """A JSON-safe number: NaN/inf -> None, floats to ``digits`` significant digits."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None


def jsonable(obj):
    """obj with numpy scalars/arrays, paths and non-finite floats made JSON-safe (recursively)."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (bool, int, float, np.bool_, np.integer, np.floating)):
        return number(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, np.ndarray)):
        return [jsonable(v) for v in (sorted(obj, key=str) if isinstance(obj, set) else obj)]
    return str(obj)


def figure_data(runs: Runs, summary: dict) -> dict:
    """What the figures draw, as plain arrays (qiki_tools.campaign.figures imports nothing of this module)."""
    top = summary["association"]["top"]
    return {"ok": runs.ok, "success": runs.success, "miss": runs.miss, "safe": runs.safe,
            "gospa": runs.gospa, "top": None if top is None else runs.dispersed[top["column"]]}


def write_report(out_dir: Path | str, spec_info: dict | None = None) -> dict:
    """Read ``out_dir/runs.parquet``, write ``out_dir/summary.json`` and the figures; return the summary.

    Raises ReportInputError (a ValueError, one line) when the table is missing or unreadable; any table it
    can read gives a report (no runs, no ok run, no d.* column, NaN figures included)."""
    from qiki_tools.campaign import figures   # matplotlib: only when writing

    out = Path(out_dir)
    runs = runs_of(read_table(out / TABLE))
    summary = summarize(runs, spec_info)
    summary["figures"] = figures.write_figures(out, figure_data(runs, summary), summary)
    text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False)
    tmp = out / f".{SUMMARY}.tmp"
    tmp.write_text(text + "\n")
    os.replace(tmp, out / SUMMARY)
    return summary
