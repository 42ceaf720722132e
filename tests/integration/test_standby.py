"""A warm standby node process (QIKI_STANDBY=1, graph.yaml restart.standby): it joins the DDS graph only
through its hidden placeholder node, creates its own node only when told `go`, and leaves cleanly on end
of input or SIGINT. The takeover itself is exercised by tests/integration/test_recovery.py."""
import signal
import subprocess
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.integration


def placeholder(proc) -> str:
    from qiki_ros.entrypoint import STANDBY_NODE_PREFIX
    return f"{STANDBY_NODE_PREFIX}{proc.pid}"


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
def test_standby_waits_with_only_its_placeholder_then_leaves_cleanly(domain_id, observer, leftover_processes,
                                                                     leave):
    with standby_radar(domain_id) as proc:
        names = observer.wait_for_node_names(lambda n: placeholder(proc) in n, timeout_s=60)
        assert names is not None, "the standby's placeholder never appeared"
        assert "radar" not in names                    # no node of its own yet: nothing published, nothing heard
        if leave == "end-of-input":
            out, _ = proc.communicate(timeout=30)      # closes stdin: what a dead runner's pipe looks like
        else:
            proc.send_signal(signal.SIGINT)            # stdin stays open: the signal alone must end it
            proc.wait(timeout=30)
            out = proc.stdout.read()
    assert proc.returncode == 0, out
    assert "Traceback" not in out.decode()
    assert leftover_processes(domain_id) == []


def test_standby_told_go_becomes_the_node(domain_id, observer, leftover_processes):
    with standby_radar(domain_id) as proc:
        assert observer.wait_for_node_names(lambda n: placeholder(proc) in n, timeout_s=60)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        names = observer.wait_for_node_names(lambda n: "radar" in n and placeholder(proc) not in n,
                                             timeout_s=60)
        assert names is not None and "radar" in names, "the standby never became the radar node"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert leftover_processes(domain_id) == []
