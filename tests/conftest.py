"""Shared fixtures: each test graph gets its own ROS_DOMAIN_ID and loopback-only discovery."""
import os
import random
from pathlib import Path

import pytest


@pytest.fixture
def domain_id(monkeypatch):
    """A ROS_DOMAIN_ID for this test's graph, set in this process's env (the observer reads it)."""
    rng = random.Random(os.getpid() * 7919 + id(monkeypatch))
    # skip domains that a graph of another test session on this machine is using right now
    free = [d for d in range(20, 100) if not _processes_in_domain(d)] or list(range(20, 100))
    dom = rng.choice(free)
    monkeypatch.setenv("ROS_DOMAIN_ID", str(dom))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return dom



def _processes_in_domain(domain_id: int) -> list[tuple[int, str]]:
    """(pid, cmdline) of live processes started for ROS_DOMAIN_ID=domain_id by this workspace."""
    found = []
    marker = f"ROS_DOMAIN_ID={domain_id}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (proc / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except (OSError, StopIteration):
            continue
        if marker in env and ("qiki" in cmd) and "zombie" not in state:
            found.append((int(proc.name), cmd.strip()))
    return found


@pytest.fixture
def leftover_processes():
    """Function domain_id -> live workspace processes of that graph (must be [] after a test)."""
    return _processes_in_domain
