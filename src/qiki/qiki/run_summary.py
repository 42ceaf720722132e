"""summary.json of a run, from what it showed (qiki.run_state.GraphState): the same code for both engines.

A fleet's summary has `vehicles: {name: {...}}` (vehicle_summary) beside the top-level keys, which then hold
the world's figures (sim time, the sim's events, health); a one-vehicle run's has no `vehicles`.
Keys only a ROS graph has (domain_id, nodes, restarts, e2e_latency_ms, node_health, health) are present with
null or empty values when the core engine ran (`graph` None). No rclpy.
"""
from __future__ import annotations

from dataclasses import dataclass

from qiki.run_state import GraphState

HEALTH_SUMMARY_KEYS = ("steps_total", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "cpu_p50_ms", "cpu_p99_ms",
                       "input_to_output_p50_ms", "input_to_output_p99_ms", "input_to_output_max_ms")


@dataclass(frozen=True)
class GraphFacts:
    """What only a ROS graph run has: its domain, its processes' exit codes, restarts, e2e latency."""

    domain_id: int
    codes: dict[str, int | None]
    restarts: list[dict]
    e2e_latency: dict


def interruption(ended: str | None, s: GraphState, duration_s: float | None) -> dict | bool:
    """False if the run reached its sim duration, else what stopped it and the sim time reached (for
    summary.json: an interrupted run must not look finished)."""
    if ended == "duration":
        return False
    return {"by": ended or "unknown", "sim_time_s": round(s.sim_time_s, 3), "duration_s": duration_s}


def events_by_code(events: list[tuple[float, int, str]]) -> tuple[dict[str, int], dict[str, int]]:
    """({"<family>xx": count}, {"<code>": count}) of a run's events, sorted."""
    families: dict[str, int] = {}
    codes: dict[str, int] = {}
    for _, code, _ in events:
        key = f"{code // 100}xx"
        families[key] = families.get(key, 0) + 1
        codes[str(code)] = codes.get(str(code), 0) + 1
    return dict(sorted(families.items())), dict(sorted(codes.items()))


def scored(s: GraphState) -> dict:
    """GOSPA and track counts per band of a state's latest scores."""
    return {"gospa_mean": {b: round(m.gospa_mean_m, 3) for b, m in sorted(s.scores.items())},
            "gospa_c_m": next((m.gospa_c_m for m in s.scores.values()), None),
            "track_counts": {b: {"confirmed": m.distinct_confirmed, "false": m.false_tracks,
                                 "missed": m.missed_targets, "id_switches": m.id_switches}
                             for b, m in sorted(s.scores.items())}}


def rounded(distance_m: float) -> float | None:
    return round(distance_m, 3) if distance_m < float("inf") else None


def vehicle_summary(v: GraphState) -> dict:
    """One fleet vehicle's figures (summary.json `vehicles.<name>`)."""
    families, codes = events_by_code(v.events)
    return {"mission_result": v.mission_result,
            "closest_approach_m": {"objects": rounded(v.min_miss_distance_m),
                                   "vehicles": rounded(v.min_vehicle_distance_m)},
            "closest_object_id": v.min_miss_object or None, "closest_vehicle": v.min_vehicle or None,
            "tracks_confirmed": v.tracks_confirmed(), "frames": dict(v.frames), "detections": dict(v.detections),
            **scored(v), "agent_state_final": v.agent_state, "fsm_transitions": v.fsm_transitions,
            "events_count": len(v.events), "events_by_family": families, "events_by_code": codes}


def run_summary(profile: str, scenario: str, node_names: list[str], s: GraphState, *, engine: str,
                wall_time_s: float, ended: str | None, duration_s: float | None,
                graph: GraphFacts | None) -> dict:
    """The summary of a run of `engine` ("graph" or "core"); `graph`: the graph's own facts (None: core)."""
    families, codes = events_by_code(s.events)
    summary = {
        "engine": engine,
        "profile": profile,
        "scenario": scenario,
        "domain_id": graph.domain_id if graph else None,
        "sim_time_s": round(s.sim_time_s, 3),
        "interrupted": interruption(ended, s, duration_s),
        "health": s.health.summary(node_names) if graph else None,
        "wall_time_s": round(wall_time_s, 3),
        "rtf": round(s.rtf(), 2) if s.rtf() else None,
        "nodes": [{"name": n, "exit_code": c} for n, c in graph.codes.items()] if graph else [],
        "restarts": graph.restarts if graph else [],
        "frames": dict(s.frames),
        "detections": dict(s.detections),
        "tracks_confirmed": s.tracks_confirmed(),
        "agent_state_final": s.agent_state,
        "fsm_transitions": s.fsm_transitions,
        "events_count": len(s.events),
        "events_by_family": families,
        "events_by_code": codes,
        **scored(s),
        "transponder_tracks": {str(code): [{"t_s": t, "id": tid, "band": band} for t, tid, band in history]
                               for code, history in sorted(s.coded_tracks.items())},
        "mission_result": s.mission_result,
        "min_miss_distance_m": rounded(s.min_miss_distance_m),
        "min_miss_object_id": s.min_miss_object or None,
        "e2e_latency_ms": graph.e2e_latency if graph else None,
        "node_health": {name.removeprefix("qiki/"): {"level": d["level"], "message": d["message"], **{
            k: d["values"][k] for k in HEALTH_SUMMARY_KEYS if k in d["values"]}}
            for name, d in sorted(s.diagnostics.items()) if "latency_p99_ms" in d["values"]},
    }
    if s.vehicles:      # a fleet: the top level has the world's figures (clock, the sim's events), each vehicle its own
        summary["vehicles"] = {name: vehicle_summary(v) for name, v in s.vehicles.items()}
    return summary
