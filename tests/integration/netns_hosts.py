"""Several "hosts" on this machine for the multi-host tests: network namespaces the test creates itself, joined by
veth pairs (addresses the test assigns, nothing leaves the machine), and the tools to run `qiki` inside them.

`star(names)`: the first namespace is the hub: a bridge holds its address and one end of a veth pair to every other
namespace, so every host reaches every other (as machines on one switch). Imported by tests (never collected).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

QIKI = Path(sys.executable).with_name("qiki")
SUBNET = "169.254.77"        # link-local: never routed off this machine


@dataclass(frozen=True)
class Host:
    netns: str
    device: str        # its end of its veth pair (the hub: its bridge)
    address: str       # without the prefix length


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


def _make_netns(name: str, made: list[str]) -> None:
    done = ip("netns", "add", name)
    if done.returncode != 0:
        if not made and any(w in done.stderr for w in ("not permitted", "Permission denied")):
            pytest.skip(f"network namespaces are not permitted here (ip netns add: {done.stderr.strip()}; needs root)")
        raise AssertionError(f"ip netns add {name}: {done.stderr.strip()}")
    made.append(name)


@contextmanager
def star(names: list[str]) -> Iterator[list[Host]]:
    """One namespace per name (addresses SUBNET.1, .2, ... /24), the first one the hub with a bridge; all deleted
    afterwards whatever happened (deleting a namespace deletes its veth ends)."""
    if ip("-V").returncode != 0:
        pytest.skip("iproute2's `ip` is not installed: network namespaces cannot be made")
    tag = os.getpid()
    hosts = [Host(f"qiki-{tag}-{name}", f"qk{tag}{i}" if i else "br0", f"{SUBNET}.{i + 1}")
             for i, name in enumerate(names)]
    made: list[str] = []
    try:
        for host in hosts:
            _make_netns(host.netns, made)
        hub = hosts[0]
        steps = [("-n", hub.netns, "link", "add", "br0", "type", "bridge"),
                 ("-n", hub.netns, "addr", "add", f"{hub.address}/24", "dev", "br0"),
                 ("-n", hub.netns, "link", "set", "br0", "up"), ("-n", hub.netns, "link", "set", "lo", "up")]
        for i, host in enumerate(hosts[1:], start=1):
            port = f"qk{tag}p{i}"
            steps += [("link", "add", port, "netns", hub.netns, "type", "veth", "peer", "name", host.device,
                       "netns", host.netns),
                      ("-n", hub.netns, "link", "set", port, "master", "br0"),
                      ("-n", hub.netns, "link", "set", port, "up"),
                      ("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", host.device),
                      ("-n", host.netns, "link", "set", host.device, "up"),
                      ("-n", host.netns, "link", "set", "lo", "up")]
        for step in steps:
            done = ip(*step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr.strip()}"
        yield hosts
    finally:
        for name in made:
            ip("netns", "delete", name)
        left = ip("netns", "list").stdout
        assert not any(name in left for name in made), left


def start_qiki(args: list[str], env: dict[str, str], log: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """`qiki args` (after `prefix`) in a session of its own, its output into `log`: it dies with this test process
    and stops its nodes as it does (`finish` stops it)."""
    from qiki_ros.parent_death import die_with_parent
    return subprocess.Popen([*prefix, str(QIKI), *args], env=env, stdin=subprocess.DEVNULL, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent())


def in_netns(host: Host, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`qiki args` inside the host's namespace (`ip netns exec` execs it: the Popen is qiki itself)."""
    return start_qiki(args, env, log, prefix=("ip", "netns", "exec", host.netns))


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


def rx_bytes(host: Host) -> int:
    """Bytes the host's device (its veth end, the hub's bridge) received."""
    stats = json.loads(ip("-n", host.netns, "-s", "-j", "link", "show", host.device).stdout)
    return stats[0]["stats64"]["rx"]["bytes"]


def digests(bag_dir: Path, topics: tuple[str, ...]) -> dict[str, dict[int, str]]:
    """{topic: {header stamp ns: SHA-256 of the canonical CDR}} of `topics` in a recorded run's bag."""
    from qiki_bag.reader import open_bag
    from qiki_tools.replay.outputs import output
    out: dict[str, dict[int, str]] = {t: {} for t in topics}
    with open_bag(bag_dir) as bag:
        for conn, _log_ns, data in bag.messages(list(topics)):
            o = output(data, conn.msgtype, bag.typestore)
            assert o.stamp_ns not in out[conn.topic], f"{conn.topic}: two messages stamped {o.stamp_ns}"
            out[conn.topic][o.stamp_ns] = o.digest
    return out
