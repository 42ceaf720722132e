"""The campaign report on tables of known content: the parameter that causes failure ranks first, the Wilson
interval matches the textbook formula, quantiles match numpy; degenerate and random tables give a report
(valid JSON, the listed figures exist), and only a missing or unreadable table is an error (one line)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from qiki_tools.campaign import figures
from qiki_tools.campaign.report import ReportInputError, holm, runs_of, summarize, wilson_interval, write_report

SUMMARY_KEYS = {"spec", "table", "definitions", "runs", "success", "miss_distance_m", "gospa_mean_m",
                "failure_modes", "errors", "association", "worst_runs", "figures"}


def table(n: int, **cols) -> pa.Table:
    """A runs table of n ok, successful runs with the interface's columns; cols replace or add columns."""
    base = {"run": np.arange(n, dtype=np.int64), "seed": np.arange(n, dtype=np.int64) + 1000,
            "status": ["ok"] * n, "error": [""] * n, "wall_time_s": np.ones(n),
            "command": [f"qiki run bot_crossing --engine core --set sim.seed={i}" for i in range(n)],
            "s.mission_result": ["complete"] * n, "s.agent_state_final": ["IDLE"] * n,
            "s.min_miss_distance_m": np.full(n, 50.0), "s.min_miss_object_id": np.ones(n, dtype=np.int64),
            "s.gospa_mean.lr": np.ones(n), "s.gospa_mean.sr": np.ones(n), "s.gospa_mean.union": np.ones(n),
            "s.safe_radius_m": np.full(n, 2.0), "s.failure_mode": [""] * n}
    base.update(cols)
    return pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in base.items()})


def report(tmp_path: Path, t: pa.Table, spec: dict | None = None) -> dict:
    pq.write_table(t, tmp_path / "runs.parquet")
    summary = write_report(tmp_path, spec if spec is not None else {"name": "test"})
    check_output(tmp_path, summary)
    return summary


def _no_constant(name: str):
    raise AssertionError(f"summary.json holds {name}")


def check_output(out: Path, summary: dict) -> None:
    """summary.json is strict JSON (no NaN/inf), equal to what write_report returned; every listed PNG exists."""
    text = (out / "summary.json").read_text()
    assert json.loads(text, parse_constant=_no_constant) == summary
    assert set(summary) == SUMMARY_KEYS
    assert summary["figures"] == list(figures.FILES.values())
    import matplotlib.image as mpimg
    for name in summary["figures"]:
        path = out / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        assert mpimg.imread(path).shape[:2] == (int(figures.SIZE_IN[1] * figures.DPI),
                                                int(figures.SIZE_IN[0] * figures.DPI))


# ------------------------------------------------------------------------------------------ known content
def test_a_parameter_that_causes_failure_above_a_threshold_ranks_first(tmp_path):
    rng = np.random.default_rng(7)
    n = 80
    speed = rng.uniform(0.0, 10.0, n)               # failure iff speed > 7: the cause
    noise = rng.normal(0.0, 1.0, n)                 # unrelated
    count = rng.integers(1, 6, n)                   # unrelated, integer
    target = rng.choice(["rw0", "rw1", "rcs3"], n)  # unrelated, categorical
    failed = speed > 7.0
    s = report(tmp_path, table(n, **{"d.scenario.objects[0].speed": speed, "d.description.radar.lr.noise": noise,
                                     "d.scenario.object_count": count, "d.fault.wheel.target": target,
                                     "s.mission_result": np.where(failed, "failed", "complete"),
                                     "s.failure_mode": np.where(failed, "mission_failed", "")}))
    assoc = s["association"]
    top = assoc["top"]
    assert top["column"] == "d.scenario.objects[0].speed" and top["kind"] == "numeric"
    assert top["effect_value"] == 1.0                       # perfect separation: rank-biserial +1
    assert top["direction"] == "failures at higher values"
    assert top["p_value"] < 1e-8 and top["failed"] == failed.sum() and top["runs"] == n
    assert top["median_failed"] > 7.0 > top["median_succeeded"]
    assert [r["column"] for r in assoc["ranked"]][0] == top["column"] and len(assoc["ranked"]) == 4
    assert all(r["p_value"] > 1e-3 for r in assoc["ranked"][1:])
    assert top["p_value"] <= top["p_holm"] <= 4 * top["p_value"] * (1 + 1e-5)       # 4 columns tested
    assert s["failure_modes"] == {"mission_failed": int(failed.sum())}
    assert s["runs"] == {"total": n, "ok": n, "errored": 0, "succeeded": int((~failed).sum()),
                         "failed": int(failed.sum())}
    # the failed runs are listed with the parameter's value and the command that reproduces each
    listed = s["worst_runs"]["failed"]
    assert len(listed) == min(20, failed.sum()) == s["worst_runs"]["failed_listed"]
    assert s["worst_runs"]["failed_total"] == failed.sum()
    for row in listed:
        assert row["d.scenario.objects[0].speed"] > 7.0
        assert row["command"] == f"qiki run bot_crossing --engine core --set sim.seed={row['run']}"


def test_a_categorical_cause_ranks_first_with_lower_values_second(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    target = rng.choice(["rw0", "rw1", "rcs3"], n)          # a fault on rcs3 always fails the mission
    margin = rng.uniform(0.0, 1.0, n)
    failed = target == "rcs3"
    s = report(tmp_path, table(n, **{"d.fault.thruster.target": target, "d.params.agent.margin": margin,
                                     "s.mission_result": np.where(failed, "failed", "complete")}))
    top = s["association"]["top"]
    assert top["column"] == "d.fault.thruster.target" and top["kind"] == "categorical"
    assert top["effect_value"] == pytest.approx(1.0)        # Cramér's V of a deterministic cause
    assert top["direction"] == "failures most frequent at 'rcs3'"
    assert top["failure_rate_by_value"] == {"rcs3": 1.0, "rw0": 0.0, "rw1": 0.0}
    # without the categorical column, a cause at low values ranks first with a negative effect
    s = report(tmp_path, table(n, **{"d.params.agent.margin": margin,
                                     "s.mission_result": np.where(margin < 0.3, "failed", "complete")}))
    assert s["association"]["top"]["effect_value"] == -1.0
    assert s["association"]["top"]["direction"] == "failures at lower values"


def test_holm_adjustment_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.9, float("nan")]) == [1.0, 1.0] and holm([]) == []


@pytest.mark.parametrize("k, n", [(17, 49), (0, 10), (10, 10), (1, 1), (499, 1000)])
def test_wilson_interval_matches_the_textbook_formula(tmp_path, k, n):
    z = norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert hi == pytest.approx(min(1.0, centre + half), abs=1e-12)
    if n <= 100:          # and in summary.json, from a table with k successes out of n ok runs (+ errored runs)
        mission = ["complete"] * k + ["failed"] * (n - k) + [""] * 3
        status = ["ok"] * n + ["error"] * 3
        s = report(tmp_path, table(n + 3, **{"s.mission_result": mission, "status": status}))
        assert s["success"]["rate"] == pytest.approx(p, rel=1e-6)
        assert s["success"]["successes"] == k and s["success"]["ok_runs"] == n
        assert s["success"]["interval"] == pytest.approx([centre - half, centre + half], rel=1e-5, abs=1e-9)
    assert wilson_interval(0, 0) is None


def test_quantiles_and_safe_radius_fraction_match_numpy(tmp_path):
    rng = np.random.default_rng(11)
    n = 101
    miss = rng.lognormal(1.0, 1.0, n)
    miss[[3, 50]] = np.nan                           # ok runs without a miss distance (no object came close)
    status = np.where(np.arange(n) % 17 == 5, "error", "ok")
    miss_table = np.where(status == "error", np.nan, miss)
    gospa = {b: rng.gamma(2.0, 1.0 + i, n) for i, b in enumerate(("lr", "sr", "union"))}
    safe = np.full(n, 2.5)
    s = report(tmp_path, table(n, **{"status": status, "s.min_miss_distance_m": miss_table, "s.safe_radius_m": safe,
                                     **{f"s.gospa_mean.{b}": v for b, v in gospa.items()}}))
    ok = status == "ok"
    finite = miss_table[ok & np.isfinite(miss_table)]
    d = s["miss_distance_m"]
    assert d["n"] == len(finite)
    for key, q in (("p5", 5), ("p25", 25), ("p50", 50), ("p75", 75), ("p95", 95)):
        assert d[key] == pytest.approx(np.percentile(finite, q), rel=1e-5)
    assert d["min"] == pytest.approx(finite.min(), rel=1e-5) and d["max"] == pytest.approx(finite.max(), rel=1e-5)
    below = int((finite < 2.5).sum())
    assert d["below_safe_radius"] == {"runs": below, "of": len(finite), "fraction": pytest.approx(below / len(finite),
                                                                                                   rel=1e-5)}
    assert d["safe_radius_m"] == {"min": 2.5, "max": 2.5}
    for b, v in gospa.items():
        assert s["gospa_mean_m"][b]["p50"] == pytest.approx(np.median(v[ok]), rel=1e-5)
        assert s["gospa_mean_m"][b]["n"] == ok.sum()
    # a miss below the safe radius is a collision, even when the mission completed
    assert s["failure_modes"] == {"collision": below, "error": int((~ok).sum())}
    assert s["success"]["successes"] == ok.sum() - below
    # the 5 closest approaches, smallest first, with their commands
    closest = s["worst_runs"]["smallest_miss"]
    order = np.argsort(np.where(ok & np.isfinite(miss_table), miss_table, np.inf))[:5]
    assert [r["run"] for r in closest] == list(order)
    assert all(r["command"].endswith(f"sim.seed={r['run']}") for r in closest)


def test_failure_modes_errors_and_exact_seeds(tmp_path):
    status = ["ok", "ok", "ok", "ok", "error", "error", "error", "ok"]
    error = ["", "", "", "", "ScenarioError: bad speed", "RuntimeError: diverged", "ScenarioError: bad speed", ""]
    mission = ["complete", "failed", "none", "complete", "", "", "", "none"]
    mode = ["", "", "", "", "error", "error", "error", "safe_mode"]
    seed = pa.array([2**63 - 1, 1, 2, 3, 4, 5, 6, 7], pa.int64())
    s = report(tmp_path, table(8, status=status, error=error, seed=seed, **{"s.mission_result": mission,
                                                                            "s.failure_mode": mode}))
    # derived when the table names no mode: 'failed' -> mission_failed, not finished -> timeout
    assert s["failure_modes"] == {"error": 3, "mission_failed": 1, "safe_mode": 1, "timeout": 1}
    # the table's mode decides over a completed mission; derived in the campaign table's order without one
    final = ["IDLE", "SAFE_MODE", "SAFE_MODE", "IDLE", "IDLE"]
    s2 = summarize(runs_of(table(5, **{"s.mission_result": ["complete", "aborted", "complete", "aborted", "complete"],
                                       "s.agent_state_final": final, "s.min_miss_distance_m": [9, 9, 9, 9, 1.0],
                                       "s.failure_mode": ["", "", "safe_mode", "", ""]})))
    assert s2["failure_modes"] == {"safe_mode": 2, "collision": 1, "mission_failed": 1}
    assert s2["success"]["successes"] == 1
    assert s["errors"] == {"groups_total": 2, "groups": [
        {"error": "ScenarioError: bad speed", "count": 2, "runs": [4, 6]},
        {"error": "RuntimeError: diverged", "count": 1, "runs": [5]}]}
    assert s["runs"] == {"total": 8, "ok": 5, "errored": 3, "succeeded": 2, "failed": 6}
    assert s["worst_runs"]["smallest_miss"][0]["seed"] == 2**63 - 1      # int64 seeds kept exactly
    # failed ok runs first (by miss distance), errored runs after them, each with its error
    failed = s["worst_runs"]["failed"]
    assert [r["run"] for r in failed] == [1, 2, 7, 4, 5, 6]
    assert failed[-1]["error"] == "ScenarioError: bad speed" and "error" not in failed[0]


# ------------------------------------------------------------------------------------------ degenerate tables
def test_all_runs_errored(tmp_path):
    n = 4
    s = report(tmp_path, table(n, status=["error"] * n, error=["ConfigError: x"] * n,
                               **{"s.mission_result": [""] * n, "s.min_miss_distance_m": np.full(n, np.nan),
                                  "s.safe_radius_m": np.full(n, np.nan), "s.failure_mode": ["error"] * n,
                                  "d.params.radar.seed": np.arange(n)}))
    assert s["success"] == {"rate": None, "successes": 0, "ok_runs": 0, "confidence": 0.95, "interval": None,
                            "method": "Wilson score"}
    assert s["miss_distance_m"]["n"] == 0 and s["miss_distance_m"]["p50"] is None
    assert s["miss_distance_m"]["below_safe_radius"] == {"runs": 0, "of": 0, "fraction": None}
    assert s["failure_modes"] == {"error": 4} and s["errors"]["groups"][0]["count"] == 4
    assert s["association"]["top"] is None
    assert s["association"]["skipped"] == {"d.params.radar.seed": "every run with a value failed"}
    assert s["worst_runs"]["smallest_miss"] == [] and len(s["worst_runs"]["failed"]) == 4


def test_a_single_run(tmp_path):
    s = report(tmp_path, table(1, **{"d.scenario.objects[0].speed": [3.0]}))
    assert s["runs"]["total"] == 1 and s["success"]["rate"] == 1.0
    assert s["success"]["interval"] == pytest.approx(list(wilson_interval(1, 1)), rel=1e-5)
    assert s["miss_distance_m"]["p5"] == s["miss_distance_m"]["p95"] == 50.0
    assert s["association"]["skipped"] == {"d.scenario.objects[0].speed": "constant"}


def test_constant_columns_and_no_failures(tmp_path):
    n = 10
    s = report(tmp_path, table(n, **{"d.a": np.full(n, 1.5), "d.b": ["x"] * n, "d.c": np.arange(n)}))
    assert s["association"]["top"] is None
    assert s["association"]["skipped"] == {"d.a": "constant", "d.b": "constant", "d.c": "no run with a value failed"}
    assert s["failure_modes"] == {} and s["worst_runs"]["failed"] == []


def test_no_dispersed_columns_and_nan_miss_distances(tmp_path):
    n = 6
    s = report(tmp_path, table(n, **{"s.min_miss_distance_m": np.full(n, np.nan),
                                     "s.mission_result": ["complete", "failed"] * 3,
                                     "s.gospa_mean.lr": np.full(n, np.nan)}))
    assert s["association"] == {"outcome": s["association"]["outcome"], "top": None, "ranked": [], "skipped": {}}
    assert s["miss_distance_m"]["n"] == 0 and s["gospa_mean_m"]["lr"]["n"] == 0
    assert s["gospa_mean_m"]["union"]["n"] == n and s["success"]["rate"] == 0.5
    assert s["worst_runs"]["smallest_miss"] == [] and s["worst_runs"]["failed_total"] == 3


def test_huge_values_stay_in_the_summary_and_out_of_the_figures(tmp_path):
    s = report(tmp_path, table(3, **{"s.gospa_mean.lr": [1e308, 1e308, np.nan],
                                     "s.min_miss_distance_m": [1e308, -1e308, 1.0], "d.x": [1e308, -1e308, 0.0],
                                     "s.mission_result": ["complete", "failed", "complete"]}))
    assert s["gospa_mean_m"]["lr"]["max"] == 1e308 and s["miss_distance_m"]["min"] == -1e308
    assert s["gospa_mean_m"]["lr"]["mean"] is None                      # overflows: null, not inf


def test_an_empty_table_and_a_minimal_one(tmp_path):
    s = report(tmp_path, table(0))
    assert s["runs"] == {"total": 0, "ok": 0, "errored": 0, "succeeded": 0, "failed": 0}
    assert s["success"]["rate"] is None
    # only 'status' is required: every other column may be absent
    s = report(tmp_path, pa.table({"status": ["ok", "error"]}))
    assert s["runs"]["ok"] == 1 and s["failure_modes"] == {"error": 1, "timeout": 1}
    assert s["worst_runs"]["failed"][0]["command"] == "" and s["worst_runs"]["failed"][0]["run"] == 0


def test_spec_info_is_kept_and_made_json_safe(tmp_path):
    spec = {"name": "bot_crossing_mc", "base_scenario": Path("config/scenarios/bot_crossing.yaml"), "runs": 3,
            "seed": np.int64(42), "engine": "core", "workers": 2, "wall_time_s": float("nan"),
            "tags": ("a", "b")}
    s = report(tmp_path, table(3), spec)
    assert s["spec"] == {"name": "bot_crossing_mc", "base_scenario": "config/scenarios/bot_crossing.yaml",
                         "runs": 3, "seed": 42, "engine": "core", "workers": 2, "wall_time_s": None,
                         "tags": ["a", "b"]}


# ------------------------------------------------------------------------------------------ bad input
def test_missing_or_unreadable_table_is_one_line(tmp_path):
    def error_of(out: Path) -> str:
        with pytest.raises(ReportInputError) as info:
            write_report(out, {})
        text = str(info.value)
        assert "\n" not in text and str(out / "runs.parquet") in text
        return text

    assert "no such file" in error_of(tmp_path)
    (tmp_path / "runs.parquet").write_bytes(b"PAR1 not really a parquet file")
    assert "not a readable Parquet table" in error_of(tmp_path)
    pq.write_table(pa.table({"run": [0, 1]}), tmp_path / "runs.parquet")
    assert "no 'status' column" in error_of(tmp_path)
    (tmp_path / "runs.parquet").unlink()
    (tmp_path / "runs.parquet").mkdir()
    assert "no such file" in error_of(tmp_path)
    assert issubclass(ReportInputError, ValueError)


def test_report_module_imports_neither_matplotlib_nor_ros():
    code = ("import sys, qiki_tools.campaign.report; "
            "bad = [m for m in ('matplotlib', 'rclpy', 'qiki_msgs') if m in sys.modules]; print(bad)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": ":".join(p for p in sys.path if p)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------ random tables
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1.0, -1.0, 1e308, np.nan]))


@st.composite
def random_tables(draw) -> pa.Table:
    """Small runs tables with the interface's columns, any of them absent, null, NaN, inf or odd."""
    n = draw(st.integers(0, 7))
    floats = lambda: pa.array(draw(st.lists(st.one_of(st.none(), FLOATS), min_size=n, max_size=n)),  # noqa: E731
                              pa.float64())
    texts = lambda options: pa.array(draw(st.lists(st.one_of(st.none(), st.sampled_from(options)),  # noqa: E731
                                                   min_size=n, max_size=n)), pa.string())
    cols = {"status": texts(["ok", "error", "weird"]),
            "run": pa.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)), pa.int64()),
            "error": texts(["", "ScenarioError: x", "line one\nline two"]),
            "command": texts(["qiki run a", ""]),
            "s.mission_result": texts(["complete", "failed", "none", ""]),
            "s.failure_mode": texts(["", "collision", "timeout", "error", "safe_mode"]),
            "s.min_miss_distance_m": floats(), "s.safe_radius_m": floats(),
            "s.gospa_mean.union": floats(), "s.gospa_mean.lr": floats()}
    for j in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["float", "int", "str", "null", "bool"]))
        name = f"d.p{j}.{kind}"
        if kind == "float":
            cols[name] = floats()
        elif kind == "int":
            cols[name] = pa.array(draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=n, max_size=n)),
                                  pa.int64())
        elif kind == "str":
            cols[name] = texts(["a", "b", ""])
        elif kind == "bool":
            cols[name] = pa.array(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)),
                                  pa.bool_())
        else:
            cols[name] = pa.nulls(n)
    drop = draw(st.sets(st.sampled_from([k for k in cols if k != "status"])))
    return pa.table({k: v for k, v in cols.items() if k not in drop})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_tables())
def test_summarize_never_raises_and_is_json_safe(t):
    s = summarize(runs_of(t), {"name": "random"})
    json.loads(json.dumps(s, allow_nan=False), parse_constant=_no_constant)
    assert s["runs"]["total"] == t.num_rows == s["runs"]["ok"] + s["runs"]["errored"]
    assert sum(s["failure_modes"].values()) == s["runs"]["failed"]
    if s["success"]["interval"] is not None:
        lo, hi = s["success"]["interval"]
        assert 0.0 <= lo <= s["success"]["rate"] <= hi <= 1.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(random_tables())
def test_write_report_never_raises_on_random_tables(tmp_path, t):
    report(tmp_path, t)
