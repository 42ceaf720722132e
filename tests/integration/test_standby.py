"""A warm standby node process (QIKI_STANDBY=1, graph.yaml restart.standby): it joins the DDS graph only
through its hidden placeholder node, creates its own node only when told `go`, and leaves cleanly on end
of input or SIGINT. The takeover itself is exercised by tests/integration/test_recovery.py."""
import signal
import subprocess
import time
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def graph_names(domain_id):
    from qiki.observer import GraphObserver
    from qiki.plan import make_plan
    obs = GraphObserver(make_plan().graph)
    yield lambda: set(obs.node.get_node_names())
    obs.close()


def _wait_names(graph_names, predicate, timeout_s=60.0) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while not predicate(names := graph_names()):   # the graph has no event for a new node: poll it
        assert time.monotonic() < deadline, f"graph nodes: {names}"
        time.sleep(0.05)
    return names


@contextmanager
def standby_radar(domain_id):
    """The radar node's command line in standby, stdin a pipe as the runner gives it; killed if still alive."""
    from qiki.plan import make_plan
    from qiki.supervisor import graph_env
    cmd = next(c for n, c in make_plan("bot").commands() if n.name == "radar")
    proc = subprocess.Popen(cmd, env=dict(graph_env(domain_id), QIKI_STANDBY="1"), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("leave", ["end-of-input", "sigint"])
def test_standby_waits_with_only_its_placeholder_then_leaves_cleanly(domain_id, graph_names, leftover_processes,
                                                                     leave):
    with standby_radar(domain_id) as proc:
        names = _wait_names(graph_names, lambda n: f"_qiki_standby_{proc.pid}" in n)
        assert "radar" not in names                    # no node of its own yet: nothing published, nothing heard
        if leave == "end-of-input":
            proc.stdin.close()                         # what a dead runner's pipe looks like
            proc.stdin = None                          # closed: communicate() must not flush it
        else:
            proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out.decode()
    assert leftover_processes(domain_id) == []


def test_standby_told_go_becomes_the_node(domain_id, graph_names, leftover_processes):
    with standby_radar(domain_id) as proc:
        _wait_names(graph_names, lambda n: f"_qiki_standby_{proc.pid}" in n)
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        proc.stdin = None
        names = _wait_names(graph_names, lambda n: "radar" in n and f"_qiki_standby_{proc.pid}" not in n)
        assert "radar" in names
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert leftover_processes(domain_id) == []
