"""Shared fixtures: each test graph gets its own ROS_DOMAIN_ID and loopback-only discovery."""
import os
import random

import pytest

from qiki.supervisor import graph_processes, processes_in_domain


def free_domain(seed: int) -> int:
    """A ROS_DOMAIN_ID in 20-99 that no graph of another test session on this machine is using right now."""
    rng = random.Random(os.getpid() * 7919 + seed)
    used = {domain for _, domain, _ in graph_processes()}
    free = [d for d in range(20, 100) if d not in used] or list(range(20, 100))
    return rng.choice(free)


@pytest.fixture
def domain_id(monkeypatch):
    """A ROS_DOMAIN_ID for this test's graph, set in this process's env (the observer reads it)."""
    dom = free_domain(id(monkeypatch))
    monkeypatch.setenv("ROS_DOMAIN_ID", str(dom))
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return dom


@pytest.fixture(scope="module")
def module_domain_id():
    """A ROS_DOMAIN_ID for one graph run shared by the tests of a module that only read its results (the
    runner is given it on its command line: this process's env is left alone)."""
    return free_domain(id(object()))


@pytest.fixture
def observer(domain_id):
    """A GraphObserver of the default graph on this test's domain (ROS imported only when used)."""
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    obs = GraphObserver(make_plan().graph)
    yield obs
    obs.close()


@pytest.fixture
def leftover_processes():
    """Function domain_id -> live workspace processes of that graph (must be [] after a test)."""
    return processes_in_domain
