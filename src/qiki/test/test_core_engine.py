"""The core engine (qiki.core_engine) through qiki.engines.run_scenario: exact duration, the summary keys both
engines share, determinism run to run, one-line errors for what it cannot do."""
import json

import pytest

from qiki.engines import RunRequest, run_scenario
from qiki.plan import UsageError

GRAPH_ONLY = {"domain_id": None, "nodes": [], "restarts": [], "e2e_latency_ms": None, "node_health": {},
              "health": None}
SHARED = {"engine", "profile", "scenario", "sim_time_s", "interrupted", "wall_time_s", "rtf", "frames", "detections",
          "tracks_confirmed", "agent_state_final", "fsm_transitions", "events_count", "events_by_family",
          "events_by_code", "gospa_mean", "gospa_c_m", "track_counts", "transponder_tracks", "mission_result",
          "min_miss_distance_m", "min_miss_object_id", "step_time_s", "plots", "config", "params_file"}
WALL = ("wall_time_s", "rtf", "step_time_s")


def run(tmp_path, name, **kw):
    return run_scenario(RunRequest(scenario=kw.pop("scenario", "bot_crossing"), out=tmp_path / name, **kw))


def test_core_run_stops_at_its_duration_and_writes_the_shared_summary(tmp_path):
    s = run(tmp_path, "a", duration_s=8.0)
    assert s["engine"] == "core" and s["sim_time_s"] == 8.0 and s["interrupted"] is False
    assert set(s) == SHARED | set(GRAPH_ONLY)
    assert {k: s[k] for k in GRAPH_ONLY} == GRAPH_ONLY
    assert s["frames"]["sr"] > 0 and s["fsm_transitions"] and s["gospa_mean"]
    assert set(s["step_time_s"]) == {"sim", "radar", "tracker", "agent", "scorer", "route"}
    assert json.loads((tmp_path / "a" / "summary.json").read_text()) == s
    assert (tmp_path / "a" / "config.json").is_file() and (tmp_path / "a" / "params.yaml").is_file()


def test_core_runs_are_identical_run_to_run_and_follow_the_settings(tmp_path):
    first, second = run(tmp_path, "a", duration_s=6.0), run(tmp_path, "b", duration_s=6.0)
    assert {k: v for k, v in first.items() if k not in WALL} == {k: v for k, v in second.items() if k not in WALL}
    other = run(tmp_path, "c", duration_s=6.0, sets=("radar.seed=7",))      # another radar noise draw
    assert other["frames"] == first["frames"] and other["detections"] != first["detections"]


@pytest.mark.parametrize("kw, text", [
    ({"engine": "bogus"}, "engine 'bogus'"),
    ({"mode": "realtime"}, "lockstep only"),
    ({"sets": ("radar.nope=1",)}, "radar.nope"),
])
def test_core_engine_refuses_in_one_line(tmp_path, kw, text):
    with pytest.raises(ValueError) as exc:
        run(tmp_path, "x", duration_s=1.0, **kw)
    assert text in str(exc.value) and "\n" not in str(exc.value)
