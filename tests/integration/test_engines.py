"""Two engines, one result: `qiki run --engine graph` (real processes, DDS, the step barrier) and the core engine
(the same step classes in one process) record the same messages, bit for bit, for the default scenario of
each profile and a collision scenario.

Both runs record a bag (`--record`); every message is compared as canonical CDR (alignment padding zeroed:
rclpy leaves it undefined, qiki_bag.message_codec writes zeros), per topic and header stamp, over the steps
both engines ran: both end on the step at the duration (`qiki run` holds the graph's clock there, `clock.hold_at_s`,
and stops its recorder only once every node has announced that step).
What cannot be identical, and is left out:
- /qiki/sync/step_done: the step barrier's heartbeat, which only the graph has;
- /clock is best effort (as rclpy's TimeSource takes it): a recorder under load may miss some, so every /clock
  the graph's bag holds must equal the core engine's of that stamp, not every stamp be there; the same for the
  rviz markers, which the tracker publishes only while a subscriber is matched (the start-up match gate does not
  wait for one: the recorder's first markers depend on discovery);
- /diagnostics: the graph's nodes report wall-clock health each wall second; the core engine has only the
  agent's BIOS statuses (compared on /qiki/agent/bios);
- /qiki/eval/track_score: the scorer is outside the barrier and its inputs are keep-last queues, so under load
  the graph may lose a track array it would have scored, and the running GOSPA means then differ; compared
  on the stamps both scored, as long as the graph's scorer lost nothing (asserted when it did not).
- the events of the step barrier's health (NODE_SILENT/RESUMED 906/907 from the sim, UPSTREAM_SILENT/RESUMED
  908/909 from the agent, STEP_INPUT_REJECTED 910): wall-clock facts of a graph under load (a node late by
  more than its timeout), which one process cannot have. Should one change a decision, the agent's status and
  commands differ and the test fails.
Events of one stamp come from several nodes, whose order between processes is arrival order: compared as
the multiset of each stamp.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")
COMPARED = ("/qiki/sim/vehicle_state", "/qiki/sim/truth", "/qiki/sim/device_health",
            "/qiki/radar/lr/frame", "/qiki/radar/sr/frame", "/qiki/radar/frame", "/qiki/tracks", "/qiki/tracks/lr",
            "/qiki/tracks/sr", "/qiki/cmd", "/qiki/agent/status", "/qiki/agent/bios")
UNORDERED = ("/qiki/events",)
BEST_EFFORT = ("/clock", "/qiki/tracks/markers")
SCORES = "/qiki/eval/track_score"
BARRIER_EVENTS = {906, 907, 908, 909, 910}


def recorded(bag: Path, topics: tuple[str, ...] = COMPARED + UNORDERED + BEST_EFFORT + (SCORES,)
             ) -> dict[str, dict[int, list[bytes]]]:
    """topic -> header stamp [ns] -> canonical CDR of its messages, in recorded order (a fleet's `topics` hold each
    vehicle's: /qiki/<vehicle>/events, /qiki/<vehicle>/tracks/markers)."""
    from qiki_bag.reader import Bag
    from qiki_bag.typestore import workspace_typestore
    from qiki_tools.replay.outputs import canonical_cdr, config_dirs, from_ns

    store, dirs = workspace_typestore(), config_dirs()
    out: dict[str, dict[int, list[bytes]]] = defaultdict(lambda: defaultdict(list))
    with Bag(bag) as b:
        for conn, _t, data in b.messages(topics=list(topics)):
            canon = canonical_cdr(data, conn.msgtype, store, dirs)
            msg = store.deserialize_cdr(canon, conn.msgtype)
            if conn.msgtype == "qiki_msgs/msg/Event" and msg.code in BARRIER_EVENTS:
                print(f"{bag}: barrier event {msg.code} at t={from_ns(msg.header.stamp) * 1e-9:.1f} s: {msg.message}")
                continue
            if conn.topic == "/clock":
                stamp = from_ns(msg.clock)
            elif conn.topic.endswith("/tracks/markers"):     # a MarkerArray: its markers carry the stamp (not
                stamp = max((from_ns(m.header.stamp) for m in msg.markers), default=-1)   # the DELETEALL's)
            else:
                stamp = from_ns(msg.header.stamp)
            out[conn.topic][stamp].append(canon)
    return out


# Strict lockstep: by default a barrier member silent for 2 s wall is stepped without (liveness over determinism: a
# crashed node must not freeze the graph), and many processes on two loaded cores can stall that long; the
# comparisons are about lockstep, so nothing is ever stepped without.
def set_args(*params: str) -> list[str]:
    """`qiki run|bringup` arguments setting each "node.param=value"."""
    return [a for param in params for a in ("--set", param)]


STRICT = set_args("sim.clock.agent_timeout_s=0", "sim.clock.member_timeout_s=3600",
                  *(f"{n}.sync.producer_timeout_s=0" for n in ("sim", "radar", "tracker", "agent")))


def run_graph(out: Path, scenario: str, profile: str, duration: float, domain_id: int) -> None:
    proc = subprocess.run([str(QIKI), "run", "--profile", profile, "--scenario", scenario, "--duration", str(duration),
                           "--record", "--out", str(out), "--domain-id", str(domain_id), *STRICT],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("profile, scenario, duration", [("bot", "bot_patrol", 30.0),
                                                         ("ship", "ship_station_keeping", 30.0),
                                                         ("bot", "bot_crossing", 30.0)])
def test_graph_and_core_engines_record_identical_messages(tmp_path, domain_id, leftover_processes, profile, scenario,
                                                          duration):
    from qiki.engines import RunRequest, run_scenario
    from qiki.plan import make_plan
    from qiki_sim.scenario import load_scenario

    run_graph(tmp_path / "graph", scenario, profile, duration, domain_id)
    assert leftover_processes(domain_id) == []
    core_summary = run_scenario(RunRequest(scenario=scenario, profile=profile, out=tmp_path / "core",
                                           engine="core", duration_s=duration, record=True, plots=False))
    assert core_summary["engine"] == "core" and core_summary["sim_time_s"] == duration
    graph, core = recorded(tmp_path / "graph" / "bag"), recorded(tmp_path / "core" / "bag")
    end = round(duration * 1e9)
    assert max(graph["/qiki/sim/vehicle_state"]) == end and max(core["/clock"]) == end
    # the graph held at the duration: its bag holds the agent's command of the last step too
    last = max(graph["/qiki/cmd"])
    assert last == end, f"the graph's recorded commands end at t={last * 1e-9:.1f} s"
    compared = 0
    for topic in COMPARED + UNORDERED:
        g = {t: v for t, v in graph[topic].items() if t <= last}
        c = {t: v for t, v in core[topic].items() if t <= last}
        assert sorted(g) == sorted(c), f"{topic}: stamps differ"
        for t in g:
            same = Counter(g[t]) == Counter(c[t]) if topic in UNORDERED else g[t] == c[t]
            assert same, f"{topic} at t={t * 1e-9:.3f} s: the engines' messages differ"
            compared += len(g[t])
    dt_ns = round(load_scenario(make_plan(profile, scenario).scenario_file).dt_s * 1e9)
    assert len(core["/qiki/sim/truth"]) == end // dt_ns + 1
    n_steps = last // dt_ns + 1
    assert compared > 5 * n_steps
    for topic in BEST_EFFORT:
        g_some = {t: v for t, v in graph[topic].items() if t <= last}
        assert g_some and all(core[topic][t] == v for t, v in g_some.items()), f"{topic} differs"
    # the scorer: the stamps both scored carry identical scores as long as the graph's scorer lost nothing
    g_scores = {t: v for t, v in graph[SCORES].items() if t <= last}
    c_scores = {t: v for t, v in core[SCORES].items() if t <= last}
    if len(g_scores) == len(c_scores):
        assert g_scores == c_scores, "track scores differ"
    else:
        print(f"{scenario}: the graph's scorer scored {len(g_scores)} of {len(c_scores)} track arrays")
    # the summaries agree on what the agent decided and where the run ended (the observer's stream counts, e.g.
    # frames, are a watcher's view: under load it may still be behind when the graph is stopped)
    g_sum = json.loads((tmp_path / "graph" / "summary.json").read_text())
    decided = ("sim_time_s", "mission_result", "agent_state_final", "fsm_transitions")
    assert {k: g_sum[k] for k in decided} == {k: core_summary[k] for k in decided}
    print(f"{scenario}: {compared} messages identical over {n_steps} steps")
