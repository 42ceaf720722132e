"""Several hosts: the world (`qiki run --nodes ...`: the sim and the scorers) in one network namespace and each
vehicle's stack (`qiki bringup --nodes ...`: radar, tracker, agent) in a namespace of its own, joined through a
bridge with addresses the test assigns (tests/integration/netns_hosts.py), on one DDS domain with SUBNET discovery
and static peers (UDP only, so the data crosses the veths as between machines). In lockstep the split graph gives
the same truth, tracks and agent decisions as the same scenario on one host: for bot_patrol (one vehicle) and for
bot_fleet (three vehicles, four hosts)."""
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass

import pytest

from netns_hosts import QIKI, digests, finish, in_netns, rx_bytes, star, wait_for_line
from test_engines import STRICT, set_args

pytestmark = pytest.mark.integration
DURATION = "20"
DECISIONS = ("fsm_transitions", "mission_result", "tracks_confirmed", "agent_state_final")
# the hosts start one after the other: a fleet's nine node processes and their warm spares take more than the
# start-up gates' default 15 s on two cores, so every gate waits as long as a deployment over machines would
SLOW_START = set_args("sim.start.wait_timeout_s=120",
                      *(f"{n}.sync.gate_timeout_s=120" for n in ("sim", "radar", "tracker", "scorer", "agent")))


@dataclass(frozen=True)
class Case:
    scenario: str
    world_nodes: str
    stacks: dict[str, str]          # host name -> the nodes it starts
    compared: tuple[str, ...]       # the world's truth, each agent's decisions, each tracker's tracks


STACK = ("radar", "tracker", "agent")
FLEET = ("alpha", "bravo", "charlie")
CASES = {
    "one_vehicle": Case("bot_patrol", "sim,scorer", {"vehicle": ",".join(STACK)},
                        ("/qiki/sim/truth", "/qiki/cmd", "/qiki/tracks")),
    "fleet": Case("bot_fleet", ",".join(["sim", *(f"{v}/scorer" for v in FLEET)]),
                  {v: ",".join(f"{v}/{n}" for n in STACK) for v in FLEET},
                  ("/qiki/sim/truth", *(f"/qiki/{v}/{t}" for v in FLEET for t in ("cmd", "tracks")))),
}


def decisions(summary: dict) -> dict:
    """What lockstep makes deterministic: the agent's decisions and the tracker's confirmations, per vehicle."""
    per_vehicle = {name: {k: v[k] for k in DECISIONS} for name, v in (summary.get("vehicles") or {}).items()}
    return {**{k: summary[k] for k in DECISIONS if k in summary}, "vehicles": per_vehicle}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_graph_split_over_hosts_equals_the_scenario_on_one_host(case, tmp_path, domain_id, leftover_processes):
    run_id = f"run-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]}"
    common = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
              "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}   # no shared memory: every byte crosses a veth
    split = tmp_path / "split"
    with star(["world", *case.stacks]) as hosts:
        world, stacks = hosts[0], dict(zip(case.stacks, hosts[1:]))

        def peers(host) -> str:
            return ";".join(h.address for h in hosts if h is not host)

        # the world first: its sim is up and must wait for the stacks' nodes, which start only then
        world_proc = in_netns(world, ["run", "--nodes", case.world_nodes, "--run-id", run_id, "--scenario",
                                      case.scenario, "--duration", DURATION, "--record", "--out", str(split), *STRICT,
                                      *SLOW_START],
                              dict(common, ROS_STATIC_PEERS=peers(world)), tmp_path / "world.log")
        procs = {}
        try:
            assert wait_for_line(split / "logs" / "sim.log", "lockstep", world_proc, 60), \
                (tmp_path / "world.log").read_text()[-3000:]
            for name, host in stacks.items():
                procs[name] = in_netns(host, ["bringup", "--nodes", case.stacks[name], "--run-id", run_id,
                                              "--scenario", case.scenario, *STRICT, *SLOW_START],
                                       dict(common, ROS_STATIC_PEERS=peers(host)), tmp_path / f"{name}.log")
            world_rc = finish(world_proc, 180)
            crossed = [rx_bytes(h) for h in hosts]
        finally:
            stack_rcs = {name: finish(p, 0) for name, p in procs.items()}
            finish(world_proc, 0)
    logs = {p.stem: p.read_text() for p in tmp_path.glob("*.log")}
    assert world_rc == 0, logs["world"][-3000:]
    for name, rc in stack_rcs.items():
        assert rc == 0, logs[name][-3000:]
    assert not any("Traceback" in text for text in logs.values())
    node_logs = "".join(logs[n] for n in case.stacks) + "".join(p.read_text() for p in (split / "logs").glob("*.log"))
    assert "without all subscribers matched" not in node_logs      # every gate opened on its named subscribers,
    assert "starting without subscribers" not in node_logs         # and the sim waited for every member
    assert min(crossed) > 1_000_000, crossed     # the graph's data went over every host's link
    assert leftover_processes(domain_id) == []

    # the same scenario on one host: the core engine records what the graph on one host records, bit for bit
    # (tests/integration/test_engines.py for bot_patrol, test_fleet.py for bot_fleet), in a fraction of its time
    single = tmp_path / "single"
    ref = subprocess.run([str(QIKI), "run", "--engine", "core", "--scenario", case.scenario, "--duration", DURATION,
                          "--record", "--out", str(single)], capture_output=True, text=True, timeout=180)
    assert ref.returncode == 0, ref.stderr[-3000:]

    got, want = (json.loads((d / "summary.json").read_text()) for d in (split, single))
    assert got["interrupted"] is False and got["restarts"] == [] and got["bag"]["state"] == "complete"
    assert {n["name"] for n in got["nodes"]} == set(case.world_nodes.split(","))
    assert decisions(got) == decisions(want)
    assert got["fsm_transitions"] or all(v["fsm_transitions"] for v in got["vehicles"].values())

    # Compared step by step where both bags hold the step: the recorder on the world's host is not a named
    # subscriber of the other hosts' publishers (README: Running on several machines), so it may miss their first
    # steps; it misses nothing after them (its drain waits for what a lost datagram held back).
    split_digests, single_digests = digests(split / "bag", case.compared), digests(single / "bag", case.compared)
    assert min(split_digests["/qiki/sim/truth"]) == min(single_digests["/qiki/sim/truth"]) == 0
    for topic in case.compared:
        a, b = split_digests[topic], single_digests[topic]
        common_steps = sorted(set(a) & set(b))
        assert len(common_steps) >= 100, (topic, len(a), len(b))    # at least half of the 200 steps
        assert max(a) == max(b) == round(float(DURATION) * 1e9), topic  # both bags end on the last step (drain)
        assert sorted(a) == sorted(b)[len(b) - len(a):], topic        # no gap: the split bag may lack only a head
        differing = [t for t in common_steps if a[t] != b[t]]
        assert differing == [], f"{topic}: {len(differing)} of {len(common_steps)} steps differ, first {differing[:3]}"
