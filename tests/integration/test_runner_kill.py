"""No process outlives its runner. `qiki run`, `qiki run --record` and `qiki bringup` are SIGKILLed 13
times in all at moments spread over their life (the runner's start-up, its nodes' start-up, every node
up, warm spares up, stepping), and stopped once by Ctrl-C (SIGINT to the process group) and once by
SIGTERM: every node, spare and recorder they started must be gone soon after, and a runner that was asked
to stop must have ended promptly.

The issue's figure (20 SIGKILLs each of `qiki run` and `qiki bringup`, 0 survivors) is bench/bench_kill.py's
(docs/RELIABILITY.md); this test covers every moment with each runner kind in fewer kills.
One test, one domain: each kill starts on a domain verified empty (qiki_tools.runner_kill.kill_runner), and the
kill moments are spread so that most kills do not wait for a full start-up (budget: ~1 min in all)."""
import signal
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

QIKI = Path(sys.executable).with_name("qiki")
STOP_PROMPTLY_S = 30.0   # a runner stopped by SIGINT/SIGTERM ends within this (nodes 5 + 2 + 2 s, then the recorder)
WHOLE_GRAPH = ("nodes-up", "standbys-up", "stepping")   # moments at which every node has its process


def schedule():
    """(runner, moment, delay_s, signal, to_group) of every stop, in order: 13 SIGKILLs (5 of `qiki run`,
    5 of `qiki bringup`, 3 of `qiki run --record`), more than half of them in the first seconds (the
    runner's own start-up and discovery wait, then its children between fork and PR_SET_PDEATHSIG: the
    races), the rest with every node up, with the warm spares up, and stepping (mid-run)."""
    K = signal.SIGKILL
    kills = [("run", "starting", 0.0, K), ("bringup", "starting", 0.8, K), ("run --record", "starting", 1.6, K),
             ("run", "starting", 2.4, K),
             ("run", "spawning", 0.0, K), ("bringup", "spawning", 0.25, K), ("run --record", "spawning", 0.5, K),
             ("bringup", "nodes-up", 0.3, K),
             ("run", "standbys-up", 0.0, K), ("bringup", "standbys-up", 0.5, K),
             ("run", "stepping", 0.0, K), ("bringup", "stepping", 0.5, K), ("run --record", "stepping", 1.0, K)]
    return [(*k, False) for k in kills] + [("run", "spawning", 1.0, signal.SIGINT, True),   # a terminal's Ctrl-C
                                           ("run --record", "spawning", 0.5, signal.SIGTERM, False)]


@pytest.mark.timeout(600)    # ~1 min on a 2-core machine; minutes more when other suites load it too
def test_no_process_outlives_its_runner(tmp_path, domain_id, observer, leftover_processes):
    from qiki.plan import make_plan
    from qiki_tools.runner_kill import kill_runner

    graph = make_plan("bot").graph
    n_nodes, n_spares = len(graph.nodes), sum(n.restart.standby for n in graph.nodes)
    outcomes = []
    for i, (runner, moment, delay, sig, to_group) in enumerate(schedule()):
        outcomes.append(kill_runner(QIKI, runner, domain_id, tmp_path / str(i), moment, delay, n_nodes, n_spares,
                                    observer=observer, sig=sig, to_group=to_group))
    report = "\n".join(str(o) for o in outcomes)
    assert [o for o in outcomes if o.survivors] == [], report
    kills = [o for o in outcomes if o.signal == "SIGKILL"]
    assert len(kills) == 13, report
    assert {(o.runner, o.moment) for o in kills} >= {(r, m) for r in ("run", "bringup") for m in
                                                     ("starting", "spawning", "standbys-up", "stepping")}, report
    assert all(o.reached for o in outcomes), report            # every moment came while the runner lived
    for o in kills:                                            # those kills left a whole graph to stop
        if o.moment in WHOLE_GRAPH:
            assert o.children >= n_nodes + (n_spares if o.moment == "standbys-up" else 0), report
    for o in outcomes:
        if o.signal != "SIGKILL":
            assert o.runner_exit_s is not None and o.runner_exit_s < STOP_PROMPTLY_S, report
            assert o.exit_code in (0, 128 + signal.Signals[o.signal]), report
    assert leftover_processes(domain_id) == []
