"""Run a replay: start the tracker and agent processes, play the fixture into them in lockstep, return
what they published."""
from __future__ import annotations

import bisect
import math
import os
import tempfile
import threading
import time
from pathlib import Path

from qiki_tools.replay.collector import COLLECTOR_NODE, Collector
from qiki_tools.replay.fixture import DETERMINISM_ENV, ReplayError, load_fixture
from qiki_tools.replay.outputs import Outputs, config_dirs, header_stamp_ns, output
from qiki_tools.replay.topics import OUTPUT_PORTS, REPLAYED_NODES, catalog, replay_topics

# further ahead would let a consumer's barrier see a later step complete before an earlier one whose
# message on another topic is still in flight (DDS orders messages per writer only, and at start-up each
# topic's endpoints match separately): the barrier then skips the earlier step and the outputs change.
STEPS_AHEAD = 1


def replay(bag_dir: Path | str, profile: str | None = None, domain_id: int | None = None,
           scenario: str | None = None, log_dir: Path | str | None = None, timeout_s: float = 60.0,
           quiet_s: float = 0.3) -> Outputs:
    """Replay a fixture through the tracker and agent node processes; return what they published.

    ``profile``/``scenario`` default to the fixture's (they must match it when given). ``domain_id`` is
    the private ROS_DOMAIN_ID of the replay (required; discovery stays on the loopback). Node logs go to
    ``log_dir`` (a temporary directory by default). Raises ReplayError when a node dies, when the agent
    makes no progress for ``timeout_s``, or when a message was lost. Returns once the agent announced the
    last step, every counted output of every step arrived, and no message came for ``quiet_s`` (the agent's
    status and events are not counted in its StepDone)."""
    import rclpy

    from qiki.plan import Watcher, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_bag.player import Player, sync_filter
    from qiki_bag.reader import open_bag
    from qiki_bag.typestore import workspace_typestore
    from qiki_ros.spin_thread import private_context

    if domain_id is None:
        raise ReplayError("replay needs a private domain_id")
    fixture = load_fixture(bag_dir)
    if profile not in (None, fixture.profile) or scenario not in (None, fixture.scenario):
        raise ReplayError(f"{bag_dir}: fixture of {fixture.profile}/{fixture.scenario}, asked for "
                          f"{profile}/{scenario or fixture.scenario}")
    plan = make_plan(fixture.profile, fixture.scenario)
    topics = replay_topics(plan.graph)
    # the bag holds every producer's StepDone: never run on without one (that would make outputs timing-dependent)
    # ... and run as the recorded graph (its run id), whose StepDone are played into them
    run_id = ["-p", f"sync.run_id:={fixture.run_id}"] if fixture.run_id else []
    # the partial graph: each replayed node waits at start-up for the replayed subscribers and the collector
    commands = [(n, cmd + ["-p", "sync.producer_timeout_s:=0.0"] + run_id)
                for n, cmd in plan.commands([Watcher(f"/{COLLECTOR_NODE}", OUTPUT_PORTS)], started=REPLAYED_NODES)]
    env = graph_env(domain_id)
    env.update(DETERMINISM_ENV)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"     # this process's participant too
    tmp = None
    if log_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="qiki-replay-")
        log_dir = tmp.name
    steps = fixture.steps
    context = private_context(int(domain_id))
    collector = sup = None
    stop = threading.Event()
    t0 = time.monotonic()
    try:
        collector = Collector(context, topics, steps)
        sup = GraphSupervisor(commands, env, Path(log_dir))
        sup.start()

        def wait(pred, what: str) -> None:
            """Block until pred() (under the collector's lock), failing on a dead node or no progress."""
            with collector.cond:
                progress, since = collector.progress, time.monotonic()
                while not pred():
                    dead = sup.dead()
                    if dead:
                        p = dead[0]
                        raise ReplayError(f"node '{p.spec.name}' exited with code {p.popen.returncode} while "
                                          f"waiting for {what}: {p.last_lines()}")
                    if collector.progress != progress:
                        progress, since = collector.progress, time.monotonic()
                    if time.monotonic() - since > timeout_s:
                        logs = "; ".join(f"{p.spec.name}: {p.last_lines()}" for p in sup.procs)
                        raise ReplayError(f"no progress for {timeout_s:g} s waiting for {what} (agent finished "
                                          f"{collector.progress + 1}/{len(steps)} steps): {logs}")
                    collector.cond.wait(0.1)

        def gate(_topic: str, data: bytes) -> None:
            i = bisect.bisect_left(steps, header_stamp_ns(data))
            if i - STEPS_AHEAD > collector.progress:
                wait(lambda: collector.progress >= i - STEPS_AHEAD,
                     f"the agent to finish step t={steps[i - STEPS_AHEAD] / 1e9:.3f} s")

        known = catalog()
        with open_bag(fixture.path) as bag:
            missing = sorted(set(topics.inputs) - set(bag.topic_types()))
            if missing:
                raise ReplayError(f"{fixture.path}: no {', '.join(missing)} to replay (re-record the fixture)")
            player = Player(bag, rate=math.inf, topics=list(topics.inputs) + [topics.sync],
                            qos={t: known[t][1] for t in list(topics.inputs) + [topics.sync] if t in known},
                            message_filter=_until(steps[-1], sync_filter(topics.producers, topics.sync)),
                            order_by=lambda _topic, _log_ns, data: header_stamp_ns(data),
                            catalog=known, context=context, node_name="qiki_replay_player", log=lambda _text: None)
            try:
                # volatile streams: play only once the replayed nodes' input subscriptions matched
                if not player.wait_for_subscribers(timeout_s, stop):
                    missing = [t for t, p in player.publishers_by_topic.items() if p.get_subscription_count() == 0]
                    raise ReplayError(f"no subscriber after {timeout_s:g} s on: {' '.join(missing)}")
                player.play(stop, gate)
                wait(collector.complete, f"the outputs of all {len(steps)} steps")
                with collector.cond:                      # uncounted outputs (status, events): let them land
                    while time.monotonic() - collector.last_message < quiet_s:
                        collector.cond.wait(quiet_s)
            finally:
                player.destroy_node()
        with collector.cond:
            if collector.gaps:
                raise ReplayError("messages lost in the replay: " + "; ".join(collector.gaps[:5]))
            received = {k: list(v) for k, v in collector.by_key.items()}
        store, dirs = workspace_typestore(), config_dirs()
        return Outputs({k: [output(data, msgtype, store, dirs) for t, msgtype, data in v if t <= steps[-1]]
                        for k, v in received.items()}, steps, time.monotonic() - t0)
    finally:
        stop.set()
        if sup is not None:
            sup.stop()
        if collector is not None:
            collector.close()
        if context.ok():
            rclpy.shutdown(context=context)
        if tmp is not None:
            tmp.cleanup()


def _until(last_ns: int, accept):
    """message_filter: messages of steps up to last_ns that ``accept`` keeps."""
    def keep(topic: str, data: bytes) -> bool:
        return header_stamp_ns(bytes(data)) <= last_ns and accept(topic, data)
    return keep
