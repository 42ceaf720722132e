"""No process outlives its runner. `qiki run`, `qiki run --record` and `qiki bringup` are SIGKILLed 40
times in all at moments spread over their life (start-up, every node up, warm spares up, stepping), and
stopped a few times by Ctrl-C (SIGINT to the process group) and SIGTERM: every node, spare and recorder
they started must be gone soon after, and a runner that was asked to stop must have ended promptly.

One test, one domain: each kill starts on a domain verified empty (qiki.runner_kill.kill_runner), and the
kill moments are spread so that most kills do not wait for a full start-up (budget: ~2.5 min in all)."""
import signal
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

QIKI = Path(sys.executable).with_name("qiki")
STOP_PROMPTLY_S = 30.0   # a runner stopped by SIGINT/SIGTERM ends within this (nodes 5 + 2 + 2 s, then the recorder)


def schedule():
    """(runner, moment, delay_s, signal, to_group) of every stop, in order: 40 SIGKILLs, most of them in
    the first seconds (the runner's and then its nodes' start-up: the races), fewer at later states."""
    runners = ("run", "bringup", "run --record")
    kills = [(runners[i % 3], "starting", 0.17 * i, signal.SIGKILL, False) for i in range(21)]
    kills += [(runners[i % 3], "spawning", 0.3 * i, signal.SIGKILL, False) for i in range(10)]
    kills += [(runners[i % 3], "nodes-up", 0.6 * i, signal.SIGKILL, False) for i in range(5)]
    kills += [(runners[i % 2], "standbys-up", 0.5 * i, signal.SIGKILL, False) for i in range(2)]
    kills += [(runners[i % 2], "stepping", 0.5 * i, signal.SIGKILL, False) for i in range(2)]
    kills += [("run", "spawning", 1.0, signal.SIGINT, True),            # a terminal's Ctrl-C
              ("run --record", "spawning", 0.5, signal.SIGTERM, False)]
    return kills


@pytest.mark.timeout(900)    # ~2.5 min on a 2-core machine; minutes more when other suites load it too
def test_no_process_outlives_its_runner(tmp_path, domain_id, observer, leftover_processes):
    from qiki.plan import make_plan
    from qiki.runner_kill import kill_runner

    graph = make_plan("bot").graph
    n_nodes, n_spares = len(graph.nodes), sum(n.restart.standby for n in graph.nodes)
    outcomes = []
    for i, (runner, moment, delay, sig, to_group) in enumerate(schedule()):
        outcomes.append(kill_runner(QIKI, runner, domain_id, tmp_path / str(i), moment, delay, n_nodes, n_spares,
                                    observer=observer, sig=sig, to_group=to_group))
    report = "\n".join(str(o) for o in outcomes)
    assert [o for o in outcomes if o.survivors] == [], report
    kills = [o for o in outcomes if o.signal == "SIGKILL"]
    assert len(kills) == 40, report
    assert all(o.reached for o in outcomes), report            # every moment came while the runner lived
    assert sum(o.children >= n_nodes for o in kills) >= 9, report   # many kills left a whole graph to stop
    for o in outcomes:
        if o.signal != "SIGKILL":
            assert o.runner_exit_s is not None and o.runner_exit_s < STOP_PROMPTLY_S, report
            assert o.exit_code in (0, 128 + signal.Signals[o.signal]), report
    assert leftover_processes(domain_id) == []
