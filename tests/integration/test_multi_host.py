"""Several hosts: the world (`qiki run --nodes sim,scorer`) in one network namespace and the vehicle's stack
(`qiki bringup --nodes radar,tracker,agent`) in another, joined by a veth pair with addresses the test assigns,
on one DDS domain with SUBNET discovery and static peers (UDP only, so the data crosses the veth as between two
machines). In lockstep the split graph gives the same truth and agent decisions as the graph on one host."""
import hashlib
import json
import os
import subprocess

import pytest

from netns_hosts import QIKI, digests, finish, in_netns, rx_bytes, star, wait_for_line

pytestmark = pytest.mark.integration
SCENARIO, DURATION = "bot_patrol", "20"
WORLD_NODES, VEHICLE_NODES = "sim,scorer", "radar,tracker,agent"
COMPARED = ("/qiki/sim/truth", "/qiki/cmd", "/qiki/tracks")   # the world's truth, the agent's decisions, tracks


@pytest.fixture
def two_hosts():
    """Two network namespaces, the world's the hub of the pair (netns_hosts.star)."""
    with star(["world", "vehicle"]) as hosts:
        yield hosts


def deterministic(summary: dict) -> dict:
    return {k: summary[k] for k in ("fsm_transitions", "mission_result", "tracks_confirmed", "agent_state_final")}


def test_world_and_vehicle_on_two_hosts_equal_one_host(two_hosts, tmp_path, domain_id, leftover_processes):
    world, vehicle = two_hosts
    run_id = f"run-{hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]}"
    common = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
              "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}   # no shared memory: every byte crosses the veth
    split = tmp_path / "split"
    # the world first: its sim is up and must wait for the vehicle's nodes, which start only then
    world_proc = in_netns(world, ["run", "--nodes", WORLD_NODES, "--run-id", run_id, "--scenario", SCENARIO,
                                  "--duration", DURATION, "--record", "--out", str(split)],
                          dict(common, ROS_STATIC_PEERS=vehicle.address), tmp_path / "world.log")
    vehicle_proc = None
    try:
        assert wait_for_line(split / "logs" / "sim.log", "lockstep", world_proc, 60), \
            (tmp_path / "world.log").read_text()[-3000:]
        vehicle_proc = in_netns(vehicle, ["bringup", "--nodes", VEHICLE_NODES, "--run-id", run_id,
                                          "--scenario", SCENARIO],
                                dict(common, ROS_STATIC_PEERS=world.address), tmp_path / "vehicle.log")
        world_rc = finish(world_proc, 120)
        crossed = rx_bytes(vehicle), rx_bytes(world)
    finally:
        vehicle_rc = finish(vehicle_proc, 0) if vehicle_proc is not None else None
        finish(world_proc, 0)
    world_log, vehicle_log = (tmp_path / "world.log").read_text(), (tmp_path / "vehicle.log").read_text()
    assert world_rc == 0, world_log[-3000:]
    assert vehicle_rc == 0, vehicle_log[-3000:]
    assert "Traceback" not in world_log + vehicle_log
    node_logs = vehicle_log + "".join(p.read_text() for p in sorted((split / "logs").glob("*.log")))
    assert "without all subscribers matched" not in node_logs      # every gate opened on its named subscribers,
    assert "starting without subscribers" not in node_logs         # and the sim waited for every member
    assert min(crossed) > 1_000_000, crossed     # the graph's data went over the veth, both ways
    assert leftover_processes(domain_id) == []

    # the same scenario on one host (loopback discovery, this test's domain, the graph's own run id)
    single = tmp_path / "single"
    ref = subprocess.run([str(QIKI), "run", "--scenario", SCENARIO, "--duration", DURATION, "--record",
                          "--out", str(single)], env=dict(os.environ, ROS_DOMAIN_ID=str(domain_id)),
                         capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr[-3000:]
    assert leftover_processes(domain_id) == []

    got, want = (json.loads((d / "summary.json").read_text()) for d in (split, single))
    assert got["interrupted"] is False and got["restarts"] == [] and got["bag"]["state"] == "complete"
    assert {n["name"] for n in got["nodes"]} == set(WORLD_NODES.split(","))
    assert deterministic(got) == deterministic(want)
    assert got["fsm_transitions"] and got["mission_result"] == "active"

    # Compared step by step where both bags hold the step: the recorder on the world's host is not a named
    # subscriber of the vehicle's publishers (README: Running on several machines), so it may miss their first
    # steps; it misses nothing after them (its drain waits for what a lost datagram held back).
    split_digests, single_digests = digests(split / "bag", COMPARED), digests(single / "bag", COMPARED)
    assert min(split_digests["/qiki/sim/truth"]) == min(single_digests["/qiki/sim/truth"]) == 0
    for topic in COMPARED:
        a, b = split_digests[topic], single_digests[topic]
        common_steps = sorted(set(a) & set(b))
        assert len(common_steps) >= 100, (topic, len(a), len(b))    # at least half of the 200 steps
        assert max(a) == max(b) == round(float(DURATION) * 1e9), topic  # both bags end on the last step (drain)
        assert sorted(a) == sorted(b)[len(b) - len(a):], topic        # no gap: the split bag may lack only a head
        differing = [t for t in common_steps if a[t] != b[t]]
        assert differing == [], f"{topic}: {len(differing)} of {len(common_steps)} steps differ, first {differing[:3]}"
