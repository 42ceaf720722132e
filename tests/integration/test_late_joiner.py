"""A subscriber that joins a running lockstep graph starts at the current step, not at the oldest of the up to
1000 steps a transient-local publisher would keep (qiki_ros.qos). It asks for what the publishers offer, as
`ros2 topic echo` does (transient-local when every publisher is), so it is the publisher side that is tested."""
import threading
import time

import pytest

pytestmark = pytest.mark.integration


def test_late_subscriber_gets_the_current_step_first(domain_id, observer, leftover_processes):
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_msgs.msg import VehicleState
    from qiki_ros import qos
    from qiki_ros.packing import from_stamp
    from qiki_ros.spin_thread import SpinThread, private_context

    plan = make_plan("bot")
    commands = [(n, cmd + ["-p", "clock.mode:=lockstep"] if n.name == "sim" else cmd) for n, cmd in plan.commands([observer.watcher])]
    topic = plan.graph.topic_of("sim.vehicle_state")
    with GraphSupervisor(commands, graph_env(domain_id), log_dir=None) as sup:
        assert observer.wait_for(lambda s: s.sim_time_s >= 3.0, timeout_s=120), "the graph did not step to 3 s"
        joined_at = observer.read(lambda s: s.sim_time_s)
        context = private_context(domain_id)
        node = rclpy.create_node("late_joiner", context=context)
        first: list[float] = []
        got = threading.Event()

        def on_state(msg) -> None:
            if not first:
                first.append(from_stamp(msg.header.stamp))
                got.set()
        deadline = time.monotonic() + 30
        while not node.get_publishers_info_by_topic(topic) and time.monotonic() < deadline:
            time.sleep(0.05)    # this new participant discovers the graph's endpoints
        offered = [i.qos_profile.durability for i in node.get_publishers_info_by_topic(topic)]
        assert offered, f"no publisher of {topic} discovered in 30 s"
        durability = offered[0] if len(set(offered)) == 1 else DurabilityPolicy.VOLATILE
        node.create_subscription(VehicleState, topic, on_state, QoSProfile(
            depth=qos.STREAM.depth, reliability=ReliabilityPolicy.RELIABLE, durability=durability))
        spinner = SpinThread(node, "late-joiner")
        try:
            assert got.wait(60), f"no {topic} after joining at t={joined_at:.1f} s"
        finally:
            spinner.close()
        # the graph kept stepping while we matched: the first message is no older than when we joined
        assert first[0] >= joined_at - 0.5, f"first {topic} stamped t={first[0]:.2f} s, joined at t={joined_at:.2f} s"
        assert sup.dead() == []
    assert leftover_processes(domain_id) == []


def test_the_graph_waits_for_its_named_watcher_not_for_any_subscriber(domain_id, leftover_processes):
    """A decoy subscribed to every stream before the runner's observer exists must not stand in for it:
    the graph holds its first step until the observer named in the plan has matched, so the observer,
    created only once the decoy matched every stream publisher, still receives step 0. A subscription of
    another type on a stream topic (never matched by DDS) must not hold the gate: the observer's first
    state comes well within the gate's timeout, which is set far beyond the wait below."""
    import rclpy

    from qiki.observer import GraphObserver
    from qiki.plan import OBSERVER_STREAMS, Watcher, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_bag.recorder import import_message
    from qiki_ros import qos
    from qiki_ros.spin_thread import SpinThread, private_context

    plan = make_plan("bot")
    name = "qiki_observer_named_in_plan"
    # the observer comes only after the decoy matched: a start-up gate that gave up first would not be tested
    commands = [(n, cmd + ["-p", "sync.gate_timeout_s:=300.0"])
                for n, cmd in plan.commands([Watcher(f"/{name}", OBSERVER_STREAMS)])]
    decoy = rclpy.create_node("decoy", context=private_context(domain_id))
    first_decoy: list[float] = []       # wall time of the decoy's first stepped message (not /diagnostics,
                                        # which every node publishes on a wall timer from its start)

    decoy_heard = threading.Event()

    def on_message(_data) -> None:
        if not first_decoy:
            first_decoy.append(time.monotonic())
            decoy_heard.set()
    topics = {plan.graph.topic_of(e) for e in OBSERVER_STREAMS}
    decoy_subs = [decoy.create_subscription(import_message(t.type), t.name,
                                            on_message if t.name != "/diagnostics" else lambda _data: None,
                                            qos.STREAM, raw=True)
                  for t in plan.graph.topics if t.name in topics]
    # a subscriber of another type on a graph topic: DDS never matches it, so the gate must not wait for it
    # (a participant of its own: DDS refuses two types on one topic within one participant)
    from std_msgs.msg import String
    typo = rclpy.create_node("typo", context=private_context(domain_id))
    typo.create_subscription(String, plan.graph.topic_of("sim.vehicle_state"), lambda _msg: None, qos.STREAM)
    spinner = SpinThread(decoy, "decoy")
    observer = None
    try:
        with GraphSupervisor(commands, graph_env(domain_id), log_dir=None) as sup:
            deadline = time.monotonic() + 120
            while not all(s.get_publisher_count() > 0 for s in decoy_subs) and time.monotonic() < deadline:
                time.sleep(0.05)    # polling the decoy's matches (rclpy has no discovery event)
            assert all(s.get_publisher_count() > 0 for s in decoy_subs), "the graph's publishers never matched"
            created = time.monotonic()
            assert not first_decoy, "the graph published before its named observer existed"
            observer = GraphObserver(plan.graph, name=name)
            assert observer.wait_for(lambda s: s.first_state_s is not None, timeout_s=60), "the observer got no state"
            first = observer.read(lambda s: s.first_state_s)
            assert first == 0.0, f"the observer's first vehicle state is t={first} s, not the first step"
            # the decoy hears the graph on its own thread: its first stepped message may come after the observer's
            assert decoy_heard.wait(60), "the decoy heard no stepped message"
            assert first_decoy[0] >= created
            assert sup.dead() == []
    finally:
        if observer is not None:
            observer.close()
        spinner.close()
        typo.destroy_node()
    assert leftover_processes(domain_id) == []
