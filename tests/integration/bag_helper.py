"""Helper processes for tests/integration/test_bag_roundtrip.py (run as a script, never imported by pytest).

    bag_helper.py publish --count N [--rate HZ] [--latched L]
        publishes L messages on a transient-local topic at once, waits until every other topic has a
        subscriber, publishes N messages on each at HZ, waits until all are acknowledged, prints
        'PUBLISHED {json counts}' and then waits for SIGINT/SIGTERM.
    bag_helper.py count --expect JSON [--timeout S]
        subscribes to the helper's topics, prints 'READY', and prints 'COUNTS {json}' once the expected
        counts are reached (or at the timeout / on SIGINT).
"""
import argparse
import json
import signal
import sys
import threading
import time

import rclpy
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

EVENTS, FRAMES, STATUS, CLOCK, IGNORED = ("/qiki/test/events", "/qiki/test/frame", "/qiki/test/status",
                                          "/clock", "/other/not_recorded")


def _types():
    from qiki_msgs.msg import AgentStatus, Event, RadarFrame
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import String
    return {EVENTS: Event, FRAMES: RadarFrame, STATUS: AgentStatus, CLOCK: Clock, IGNORED: String}


def _qos(depth, latched=False):
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def _message(topic, i):
    cls = _types()[topic]
    msg = cls()
    if topic == EVENTS:
        msg.code, msg.severity, msg.source, msg.message = 100 + i % 900, i % 3, "bag_helper", f"event {i}"
        msg.header.stamp.sec = i
    elif topic == FRAMES:
        msg.frame_seq, msg.band, msg.world_frame_id = i, i % 3, "map"
        msg.range_m = [float(i + k) for k in range(50)]
        msg.transponder_code = list(range(i % 7))
    elif topic == STATUS:
        msg.state, msg.transitions, msg.health_score = f"STATE_{i}", i, 0.5
    elif topic == CLOCK:
        msg.clock.sec, msg.clock.nanosec = divmod(i * 50_000_000, 1_000_000_000)
    else:
        msg.data = f"ignored {i}"
    return msg


def publish(args, node, stop):
    types = _types()
    latched = node.create_publisher(types[STATUS], STATUS, _qos(max(args.latched, 1), latched=True))
    for i in range(args.latched):
        latched.publish(_message(STATUS, i))
    pubs = {t: node.create_publisher(types[t], t, _qos(max(args.count, 1))) for t in (EVENTS, FRAMES, CLOCK, IGNORED)}
    print("READY", flush=True)
    watched = [pubs[EVENTS], pubs[FRAMES], pubs[CLOCK]]
    while not stop.is_set() and not all(p.get_subscription_count() > 0 for p in watched):
        stop.wait(0.02)
    counts = {t: 0 for t in pubs}
    counts[STATUS] = args.latched
    period = 1.0 / args.rate
    t0 = time.monotonic()
    for i in range(args.count):
        if stop.is_set():
            break
        for topic, pub in pubs.items():
            pub.publish(_message(topic, i))
            counts[topic] += 1
        delay = t0 + (i + 1) * period - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    for pub in watched + [latched]:
        pub.wait_for_all_acked(Duration(seconds=10))
    print("PUBLISHED " + json.dumps(counts), flush=True)
    stop.wait()


def count(args, node, stop):
    expect = json.loads(args.expect)
    types = _types()
    counts = {t: 0 for t in expect}
    done = threading.Event()

    def make(topic):
        def cb(_msg):
            counts[topic] += 1
            if all(counts[t] >= n for t, n in expect.items()):
                done.set()
        return cb

    subs = [node.create_subscription(types[t], t, make(t), _qos(1000), raw=True) for t in expect]  # noqa: F841
    ex = SingleThreadedExecutor(context=node.context)
    ex.add_node(node)
    print("READY", flush=True)
    deadline = time.monotonic() + args.timeout
    while not stop.is_set() and not done.is_set() and time.monotonic() < deadline:
        ex.spin_once(timeout_sec=0.05)
    for _ in range(10):                      # duplicates or extras would show up here
        ex.spin_once(timeout_sec=0.02)
    print("COUNTS " + json.dumps(counts), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    pp = sub.add_parser("publish")
    pp.add_argument("--count", type=int, default=100)
    pp.add_argument("--rate", type=float, default=200.0)
    pp.add_argument("--latched", type=int, default=5)
    pc = sub.add_parser("count")
    pc.add_argument("--expect", required=True)
    pc.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(f"bag_helper_{args.mode}")
    try:
        (publish if args.mode == "publish" else count)(args, node, stop)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
