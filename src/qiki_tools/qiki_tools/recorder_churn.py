"""Recorders joining and leaving a running lockstep graph, one after another, each an in-process
`qiki_bag.recorder.Recorder` with a DDS participant of its own: does each recording start now (not with
the publishers' history), and does the churn cost any node a step?
tests/integration/test_bag_record_endings.py asserts it for a few recorders, bench/bench_recorder_join.py
prints the figures for many.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

STATE = "/qiki/sim/vehicle_state"
FIRST_MESSAGE_TIMEOUT_S = 30.0   # a recorder that has no vehicle state after this counts as failed


@dataclass
class ChurnOutcome:
    """What `joins` recorders joining and leaving one running graph saw, and what the graph did meanwhile."""
    lags_s: list[float]                         # per recorder: sim time at join - stamp of its first message
    missing: list[int]                          # recorders that recorded no vehicle state in time
    dead: list[str]                             # node processes that exited during the churn
    events: list[tuple] = field(default_factory=list)   # (t_s, code, text) of the graph from the first join on
    states: list[str] = field(default_factory=list)     # agent FSM states entered from the first join on


def graph_running(observer, sim_s: float, timeout_s: float = 150) -> bool:
    """The graph has stepped to sim_s and the agent has booted."""
    return observer.wait_for(lambda s: s.sim_time_s >= sim_s and s.agent_state not in ("", "BOOTING"), timeout_s)


def join_and_leave(index: int, bag: Path, known, observer) -> float | None:
    """One recorder joins, records until it has a vehicle state, and leaves; the age of that first vehicle
    state at the join (sim seconds), or None if it got none within FIRST_MESSAGE_TIMEOUT_S."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.serialization import deserialize_message

    from qiki_bag.reader import open_bag
    from qiki_bag.recorder import Recorder
    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import VehicleState
    from qiki_ros.spin_thread import private_context

    context = private_context()
    writer = BagWriter(bag).open()
    rec = Recorder(writer, [STATE], known=known, context=context, node_name=f"churn_{index}", log=lambda _text: None)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(rec)
    sim_at_join = observer.read(lambda s: s.sim_time_s)
    deadline = time.monotonic() + FIRST_MESSAGE_TIMEOUT_S
    while rec.counts.get(STATE, 0) < 1 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    executor.remove_node(rec)
    rec.destroy_node()
    executor.shutdown()
    writer.close()
    context.shutdown()
    with open_bag(bag) as b:
        first = next(iter(b.messages([STATE])), None)
    if first is None:
        return None
    stamp = deserialize_message(bytes(first[2]), VehicleState).header.stamp
    return sim_at_join - (stamp.sec + stamp.nanosec * 1e-9)


def recorder_churn(domain_id: int, observer, out_dir: Path, joins: int, profile: str = "bot") -> ChurnOutcome:
    """Start the graph (lockstep, warm spares) on domain_id, wait until it runs, then let `joins` recorders
    join and leave it in turn (bags under out_dir); stop the graph. `observer` watches domain_id."""
    from qiki.plan import config_dir, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_bag.catalog import load_catalog

    plan = make_plan(profile)
    known = load_catalog(config_dir() / "graph.yaml")
    lags, missing = [], []
    with GraphSupervisor(plan.commands([observer.watcher]), graph_env(domain_id), log_dir=out_dir / "logs") as sup:
        if not graph_running(observer, 3.0):
            raise RuntimeError(f"graph did not run: agent {observer.state.agent_state!r}, "
                               f"sim {observer.state.sim_time_s} s")
        churn_from = observer.read(lambda s: s.sim_time_s)     # a start-up stall under load is not the churn's
        for i in range(joins):
            lag = join_and_leave(i, out_dir / f"bag{i}", known, observer)
            if lag is None:
                missing.append(i)
            else:
                lags.append(lag)
        dead = [p.spec.name for p in sup.dead()]
        events = observer.read(lambda s: [e for e in s.events if e[0] >= churn_from])
        states = observer.read(lambda s: [t["to"] for t in s.fsm_transitions if t["t_s"] >= churn_from])
    return ChurnOutcome(lags, missing, dead, events, states)
