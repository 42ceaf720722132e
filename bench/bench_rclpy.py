"""CPU that one received message costs an rclpy node shaped like a QIKI node (SingleThreadedExecutor).

A publisher process sends 3000 small StepDone messages, one per millisecond; the receiving node has
the agent's endpoints (7 publishers, 6 subscriptions, the command service) and, per variant, rclpy's
parameter services and/or its default QoS event handlers (two waitables per endpoint). Prints CPU
time of the receiving process (all threads) per message.
Usage: .venv/bin/python bench/bench_rclpy.py [--domain-id N]
"""
import argparse
import os
import subprocess
import sys
import time

from qiki_tools.soak import load_average

VARIANTS = {"rclpy defaults": (True, True), "no parameter services": (False, True),
            "no QoS event handlers (GraphNode)": (True, False), "neither": (False, False)}
N = 3000


def publisher() -> None:
    import rclpy
    from rclpy.node import Node

    from qiki_msgs.msg import StepDone
    from qiki_ros import qos
    rclpy.init()
    node = Node("bench_pub", start_parameter_services=False)
    pub = node.create_publisher(StepDone, "bench", qos.SYNC)
    while pub.get_subscription_count() < 1:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(1.0)
    msg = StepDone(node="/qiki/radar", topics=["/qiki/radar/lr/frame"], counts=[1])
    for i in range(N + 100):
        msg.header.stamp.sec = i
        pub.publish(msg)
        time.sleep(0.001)
    time.sleep(1.0)


def receiver(params: bool, events: bool) -> float:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from qiki_msgs.msg import StepDone
    from qiki_msgs.srv import OperatorCommand
    from qiki_ros import qos
    from qiki_ros.graph_node import GraphNode
    rclpy.init()
    node = (Node if events else GraphNode)("bench_sub", start_parameter_services=params)
    for i in range(6):
        node.create_publisher(StepDone, f"p{i}", qos.STREAM)
    for i in range(5):
        node.create_subscription(StepDone, f"s{i}", lambda m: None, qos.STREAM)
    node.create_service(OperatorCommand, "command", lambda req, resp: resp)
    count = [0]
    node.create_subscription(StepDone, "bench", lambda m: count.__setitem__(0, count[0] + 1), qos.SYNC)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    proc = subprocess.Popen([sys.executable, __file__, "--publisher"], env=os.environ)
    while count[0] < 100:
        ex.spin_once(timeout_sec=1.0)
    c0, k0 = time.process_time(), count[0]
    while count[0] < N:
        ex.spin_once(timeout_sec=1.0)
    cpu = (time.process_time() - c0) / (count[0] - k0)
    proc.wait()
    return cpu


def main() -> int:
    if "--publisher" in sys.argv:
        publisher()
        return 0
    if "--receiver" in sys.argv:
        params, events = (sys.argv[-2] == "1"), (sys.argv[-1] == "1")
        print(f"{receiver(params, events) * 1e6:.0f}")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domain-id", type=int, default=160)
    args = ap.parse_args()
    env = dict(os.environ, ROS_DOMAIN_ID=str(args.domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    print(f"load average before: {load_average()}\n")
    print("| receiving node | CPU per message [us] |\n|---|---|")
    for label, (params, events) in VARIANTS.items():
        out = subprocess.run([sys.executable, __file__, "--receiver", str(int(params)), str(int(events))],
                             env=env, capture_output=True, text=True, timeout=120)
        print(f"| {label} | {out.stdout.strip() or 'failed: ' + out.stderr.strip()[-200:]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
