"""Several hosts: the world (`qiki run --nodes sim,scorer`) in one network namespace and the vehicle's stack
(`qiki bringup --nodes radar,tracker,agent`) in another, joined by a veth pair with addresses the test assigns,
on one DDS domain with SUBNET discovery and static peers (UDP only, so the data crosses the veth as between two
machines). In lockstep the split graph gives the same truth and agent decisions as the graph on one host."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")
SCENARIO, DURATION = "bot_patrol", "20"
WORLD_NODES, VEHICLE_NODES = "sim,scorer", "radar,tracker,agent"
COMPARED = ("/qiki/sim/truth", "/qiki/cmd", "/qiki/tracks")   # the world's truth, the agent's decisions, tracks


@dataclass(frozen=True)
class Host:
    netns: str
    device: str
    address: str      # without the prefix length


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def two_hosts():
    """Two network namespaces joined by a veth pair (169.254.77.1/30 <-> .2/30), loopback up in each;
    deleted afterwards whatever happened (deleting a namespace deletes its end of the pair, and the pair)."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2's `ip` is not installed: network namespaces cannot be made")
    tag = os.getpid()
    world = Host(f"qiki-{tag}-world", f"qk{tag}w", "169.254.77.1")
    vehicle = Host(f"qiki-{tag}-vehicle", f"qk{tag}v", "169.254.77.2")
    made = []
    try:
        for host in (world, vehicle):
            done = ip("netns", "add", host.netns)
            if done.returncode != 0:
                if not made and any(w in done.stderr for w in ("not permitted", "Permission denied")):
                    pytest.skip(f"network namespaces are not permitted here (ip netns add: {done.stderr.strip()}; "
                                f"needs root)")
                raise AssertionError(f"ip netns add {host.netns}: {done.stderr.strip()}")
            made.append(host.netns)
        steps = [("link", "add", world.device, "netns", world.netns, "type", "veth",
                  "peer", "name", vehicle.device, "netns", vehicle.netns)]
        for host in (world, vehicle):
            steps += [("-n", host.netns, "addr", "add", f"{host.address}/30", "dev", host.device),
                      ("-n", host.netns, "link", "set", host.device, "up"),
                      ("-n", host.netns, "link", "set", "lo", "up")]
        for step in steps:
            done = ip(*step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr.strip()}"
        yield world, vehicle
    finally:
        for name in made:
            ip("netns", "delete", name)
        left = ip("netns", "list").stdout
        assert not any(name in left for name in made), left


def in_netns(host: Host, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`qiki args` inside the host's namespace (`ip netns exec` execs it: the Popen is qiki itself, which dies
    with this test process and stops its nodes as it does)."""
    from qiki_ros.parent_death import die_with_parent
    return subprocess.Popen(["ip", "netns", "exec", host.netns, str(QIKI), *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=die_with_parent())


def finish(proc: subprocess.Popen, timeout_s: float) -> int:
    """Wait for `proc`; SIGINT it (it stops its nodes), then SIGKILL its session if it will not end."""
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pass
    for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def wait_for_line(path: Path, text: str, proc: subprocess.Popen, timeout_s: float) -> bool:
    """Whether `text` appeared in the log at `path` within timeout_s (False at once if `proc` ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)     # a log file has no change notification here: poll it
    return False


def digests(bag_dir: Path) -> dict[str, dict[int, str]]:
    """{topic: {header stamp ns: SHA-256 of the canonical CDR}} of the compared topics of a recorded run."""
    from qiki_bag.reader import open_bag
    from qiki_tools.replay.outputs import output
    out: dict[str, dict[int, str]] = {t: {} for t in COMPARED}
    with open_bag(bag_dir) as bag:
        for conn, _log_ns, data in bag.messages(list(COMPARED)):
            o = output(data, conn.msgtype, bag.typestore)
            assert o.stamp_ns not in out[conn.topic], f"{conn.topic}: two messages stamped {o.stamp_ns}"
            out[conn.topic][o.stamp_ns] = o.digest
    return out


def veth_bytes(host: Host) -> int:
    """Bytes the host's end of the veth pair received."""
    stats = json.loads(ip("-n", host.netns, "-s", "-j", "link", "show", host.device).stdout)
    return stats[0]["stats64"]["rx"]["bytes"]


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
        crossed = veth_bytes(vehicle), veth_bytes(world)
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
    split_digests, single_digests = digests(split / "bag"), digests(single / "bag")
    assert min(split_digests["/qiki/sim/truth"]) == min(single_digests["/qiki/sim/truth"]) == 0
    for topic in COMPARED:
        a, b = split_digests[topic], single_digests[topic]
        common_steps = sorted(set(a) & set(b))
        assert len(common_steps) >= 100, (topic, len(a), len(b))    # at least half of the 200 steps
        assert max(a) == max(b) == round(float(DURATION) * 1e9), topic  # both bags end on the last step (drain)
        assert sorted(a) == sorted(b)[len(b) - len(a):], topic        # no gap: the split bag may lack only a head
        differing = [t for t in common_steps if a[t] != b[t]]
        assert differing == [], f"{topic}: {len(differing)} of {len(common_steps)} steps differ, first {differing[:3]}"
