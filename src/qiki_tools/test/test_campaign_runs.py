"""Run i of a campaign: derived seeds, deterministic draws, the files written for it, and its table row."""
import math
import pathlib

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from qiki.layered_config import ParameterNames, file_layer
from qiki_sim.scenario import load_scenario
from qiki_tools.campaign.dispersion import SEED_MAX, draw_run, run_seed
from qiki_tools.campaign.materialise import files_of, run_command, write_run
from qiki_tools.campaign.plan import load_plan
from qiki_tools.campaign.table import CampaignTable, TableError, error_figures, failure_mode, summary_figures

CAMPAIGNS = pathlib.Path(__file__).parents[3] / "config" / "campaigns"


@pytest.fixture(scope="module")
def bot():
    return load_plan(CAMPAIGNS / "bot_crossing_mc.yaml")


@pytest.fixture(scope="module")
def ship():
    return load_plan(CAMPAIGNS / "ship_debris_mc.yaml")


@given(st.integers(0, 2**63 - 1), st.integers(0, 10**6))
def test_run_seeds_are_deterministic_and_in_range(seed, run):
    s = run_seed(seed, run)
    assert s == run_seed(seed, run) and 1 <= s <= SEED_MAX


def test_same_spec_same_draws_and_runs_differ(bot):
    a, b = draw_run(bot.spec, bot.base, 7), draw_run(bot.spec, bot.base, 7)
    assert a.values == b.values and a.seed == b.seed and a.scenario == b.scenario and a.params == b.params
    others = [draw_run(bot.spec, bot.base, i) for i in range(8)]
    assert len({d.seed for d in others}) == 8
    assert len({d.values["d.scenario.objects[0].position[1]"] for d in others}) == 8
    # the run's seed seeds the sim and the radar
    assert a.params["sim"]["seed"] == a.params["radar"]["seed"] == a.seed


def test_a_value_does_not_depend_on_the_other_dispersions(bot):
    fewer = bot.spec.model_copy(update={"dispersions": bot.spec.dispersions[:0:-1]})   # drop #0, reverse the rest
    for run in range(5):
        full, part = draw_run(bot.spec, bot.base, run), draw_run(fewer, bot.base, run)
        assert part.seed == full.seed
        assert part.values == {k: v for k, v in full.values.items() if not k.startswith("d.scenario.objects[0].vel")}


def test_draws_follow_their_distributions(bot, ship):
    draws = [draw_run(bot.spec, bot.base, i) for i in range(400)]
    lag = [d.values["d.params.sim.clock.command_lag_steps"] for d in draws]
    assert set(lag) == {1, 2, 3} and 0.5 < lag.count(1) / len(lag) < 0.7
    count = [d.values["d.scenario.random_movers.count"] for d in draws]
    assert min(count) >= 50 and max(count) <= 150 and all(isinstance(c, int) for c in count)
    noise = [d.values["d.description.radar.sr.range_std_m"] for d in draws]
    assert min(noise) >= 0.05 and max(noise) <= 0.4 and abs(np.mean(noise) - 0.15) < 0.01
    warned = [d for d in draws if d.values["d.fault.device_warn.target"]]
    assert 0.18 < len(warned) / len(draws) < 0.32
    for d in draws:
        failures = d.scenario.get("failures") or []
        assert len(failures) == (1 if d.values["d.fault.device_warn.target"] else 0)
        if failures:
            assert 20.0 <= failures[0]["at_s"] <= 150.0 and failures[0]["level"] == 1
        else:
            assert math.isnan(d.values["d.fault.device_warn.at_s"])
    for i in range(50):
        d = draw_run(ship.spec, ship.base, i)
        q = np.array(d.scenario["ego"]["attitude_wxyz"])
        assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-12)
        angle = 2 * math.degrees(math.acos(min(1.0, abs(q @ np.array([0.5, 0.5, 0.5, 0.5])))))
        assert angle == pytest.approx(d.values["d.scenario.ego.attitude_wxyz.angle_deg"], abs=1e-6)
        faults = d.scenario.get("thruster_faults") or []
        assert len(faults) == (1 if d.values["d.fault.rcs.target"] else 0)
        if faults:
            assert 0 <= faults[0]["thruster"] < 16 and 0.0 <= faults[0]["efficiency"] <= 0.5


def test_run_files_reproduce_the_draw(ship, tmp_path):
    draw = draw_run(ship.spec, ship.base, 3)
    files = write_run(draw, tmp_path / "00003", note="test")
    assert files_of(files.dir) == files
    scenario = load_scenario(files.scenario)      # the real loader, description beside it
    assert list(scenario.ego.attitude_wxyz) == pytest.approx(draw.scenario["ego"]["attitude_wxyz"], abs=1e-12)
    assert scenario.objects[7].encounter.time_s == draw.values["d.scenario.objects[7].encounter.time_s"]  # exact
    assert scenario.vehicle.description == str(files.description)
    assert yaml.safe_load(files.description.read_text())["ship"]["dry_mass_kg"] == \
        draw.values["d.description.ship.dry_mass_kg"]
    names = ParameterNames(ship.base.plan.graph)
    layer = {s.name: s.value for s in file_layer(files.overrides, names, "overrides")}
    assert layer == {"sim.seed": draw.seed, "radar.seed": draw.seed}
    command = run_command(files, "core")
    assert command.startswith("qiki run --engine core --scenario /") and "--overrides " in command
    assert command.endswith(f"--out {(files.dir / 'rerun').resolve()}")


def test_failure_modes():
    ok = {"mission_result": "complete", "agent_state_final": "MISSION_ACTIVE", "min_miss_distance_m": 5.0}
    assert failure_mode(ok, 2.0) == ""
    assert failure_mode({**ok, "min_miss_distance_m": 1.0}, 2.0) == "collision"
    assert failure_mode({**ok, "mission_result": "aborted", "agent_state_final": "SAFE_MODE"}, 2.0) == "safe_mode"
    assert failure_mode({**ok, "mission_result": "aborted"}, 2.0) == "mission_failed"
    assert failure_mode({**ok, "mission_result": "active"}, 2.0) == "timeout"
    assert failure_mode({**ok, "min_miss_distance_m": None}, 2.0) == ""


def test_table_is_replaced_whole_and_resumes_only_its_own_campaign(tmp_path, bot):
    from qiki_tools.campaign.campaign_run import dispersed_columns, fingerprint
    path = tmp_path / "runs.parquet"
    table = CampaignTable(path, dispersed_columns(bot), fingerprint(bot))
    summary = {"mission_result": "complete", "agent_state_final": "IDLE", "min_miss_distance_m": None,
               "gospa_mean": {"lr": 1.5}, "tracks_confirmed": {"lr": 3, "sr": 1}, "events_count": 4,
               "sim_time_s": 20.0, "rtf": None}
    for run in (1, 0):
        d = draw_run(bot.spec, bot.base, run)
        table.add({"run": run, "seed": d.seed, "status": "ok", "error": "", "wall_time_s": 1.0, "command": "qiki run",
                   **d.values, **summary_figures(summary, 2.0)})
        table.flush()
    d = draw_run(bot.spec, bot.base, 2)
    table.add({"run": 2, "seed": d.seed, "status": "error", "error": "boom", "wall_time_s": 0.5, "command": "x",
               **d.values, **error_figures(2.0)})
    for run, error in ((3, "worker lost: BrokenProcessPool"), (4, "interrupted by SIGINT at sim 3.1 s")):
        d = draw_run(bot.spec, bot.base, run)   # cut short from outside: --resume runs them again
        table.add({"run": run, "seed": d.seed, "status": "error", "error": error, "wall_time_s": 0.5, "command": "x",
                   **d.values, **error_figures(2.0)})
    table.flush()
    assert [p.name for p in tmp_path.iterdir()] == ["runs.parquet"]     # no temporary file left
    rows = pq.read_table(path).to_pylist()
    assert [r["run"] for r in rows] == [0, 1, 2, 3, 4]
    assert math.isnan(rows[0]["s.min_miss_distance_m"]) and math.isnan(rows[0]["s.rtf"])
    assert rows[0]["s.gospa_mean.lr"] == 1.5 and math.isnan(rows[0]["s.gospa_mean.sr"])
    assert rows[2]["s.failure_mode"] == "error" and rows[2]["s.tracks_confirmed.lr"] is None
    assert rows[1]["d.params.sim.clock.command_lag_steps"] in (1, 2, 3)
    again = CampaignTable(path, dispersed_columns(bot), fingerprint(bot))
    again.resume()
    assert sorted(again.rows) == [0, 1, 2]
    other = bot.spec.model_copy(update={"seed": 1})
    stranger = CampaignTable(path, dispersed_columns(bot), fingerprint(bot.__class__(other, bot.spec_path, bot.base)))
    with pytest.raises(TableError, match="the table is of another campaign"):
        stranger.resume()


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=4), st.integers(0, 2**32))
def test_uniform_and_clipped_normal_draws_stay_in_their_bounds(pairs, seed):
    from pydantic import ValidationError
    from qiki_tools.campaign.dispersion import draw_value
    from qiki_tools.campaign.spec import Normal, Uniform
    low, high = [a for a, _ in pairs], [b for _, b in pairs]
    try:
        d = Uniform(path="scenario.x", dist="uniform", low=low, high=high)
    except ValidationError as exc:
        assert any(a > b for a, b in pairs) and "expected low <= high" in str(exc)
        return
    value, columns = draw_value(d, np.random.default_rng(seed), [0.0] * len(pairs))
    assert all(a <= v <= b for a, v, b in zip(low, value, high))
    assert list(columns) == [f"[{i}]" for i in range(len(pairs))] and list(columns.values()) == value
    lo, hi = min(low[0], high[0]), max(low[0], high[0])
    n = Normal(path="scenario.x", dist="normal", mean=low[0], std=abs(high[0]), clip=[lo, hi])
    v, _ = draw_value(n, np.random.default_rng(seed), 0.0)
    assert lo <= v <= hi and isinstance(v, float)


def test_a_runs_error_is_one_line():
    from qiki_tools.campaign.runner import one_line
    assert one_line(ValueError("scenario.yaml: ego.x:\n  expected a number")) == "scenario.yaml: ego.x: expected a number"
    assert one_line(KeyError("x")) == "KeyError: 'x'"
    assert one_line(RuntimeError()) == "RuntimeError"
