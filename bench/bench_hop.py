"""One rclpy hop: publish() cost and publish-to-callback latency of a TrackArray, tiny and at 1000 tracks.

A publisher process sends one message every 100 ms (the graph's step rate) with the graph's stream QoS
to K subscriber processes (plain rclpy nodes on SingleThreadedExecutor, as the graph's nodes). The
publisher writes its CLOCK_MONOTONIC send time into the header stamp; each subscriber takes the
difference at its callback (one machine, one clock). This is the per-hop floor under every edge of the
graph's critical path (docs/PERFORMANCE.md, "The floor of this architecture").
Usage: .venv/bin/python bench/bench_hop.py [--subscribers K] [--messages N] [--tracks 1,1000] [--domain-id D]
"""
import argparse
import array
import os
import subprocess
import sys
import time

import numpy as np

from qiki_tools.soak import bench_header, load_average

TOPIC = "/qiki_bench/hop"


def subscriber(n_messages: int) -> None:
    """Print one line: the latencies [ms] of the messages after the first 10."""
    import rclpy

    from qiki_msgs.msg import TrackArray
    from qiki_ros import qos
    rclpy.init()
    node = rclpy.create_node(f"hop_sub_{os.getpid()}", start_parameter_services=False)
    lat = []
    node.create_subscription(TrackArray, TOPIC, lambda m: lat.append(
        time.monotonic() - (m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)), qos.STREAM)
    deadline = time.monotonic() + n_messages * 0.1 + 60
    while len(lat) < n_messages and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(" ".join(f"{x * 1e3:.4f}" for x in lat[10:]), flush=True)


def track_array(n: int):
    from qiki_msgs.msg import RadarFrame, TrackArray
    d = TrackArray.STATE_DIM
    return TrackArray(band=RadarFrame.BAND_UNION, id=array.array("I", range(n)), status=bytes(n), iff=bytes(n),
                      track_band=bytes(n), transponder_code=array.array("I", bytes(4 * n)),
                      hits=array.array("I", bytes(4 * n)), age_s=array.array("d", bytes(8 * n)),
                      state=array.array("d", bytes(8 * d * n)), covariance=array.array("d", bytes(8 * d * d * n)))


def run_case(n_tracks: int, k: int, n_messages: int) -> dict:
    import rclpy
    from rclpy.serialization import serialize_message

    from qiki_ros import qos
    msg = track_array(n_tracks)
    rclpy.init()
    node = rclpy.create_node("hop_pub", start_parameter_services=False)
    pub = node.create_publisher(type(msg), TOPIC, qos.STREAM)
    subs = [subprocess.Popen([sys.executable, __file__, "--subscriber", str(n_messages)], stdout=subprocess.PIPE,
                             text=True, start_new_session=True) for _ in range(k)]
    try:
        deadline = time.monotonic() + 60
        while pub.get_subscription_count() < k and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        if pub.get_subscription_count() < k:
            raise SystemExit(f"bench_hop: only {pub.get_subscription_count()} of {k} subscribers matched in 60 s")
        time.sleep(2.0)      # discovery settled: the first messages are not the matching's
        wall, cpu = [], []
        for _ in range(n_messages):
            now = time.monotonic()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int(round((now % 1.0) * 1e9)) % 1_000_000_000
            w0, c0 = time.perf_counter(), time.thread_time()
            pub.publish(msg)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.thread_time() - c0)
            time.sleep(0.1)
        lat = np.array([float(x) for p in subs for x in p.communicate(timeout=120)[0].split()])
    finally:
        for p in subs:
            if p.poll() is None:
                p.kill()
                p.wait()
        node.destroy_node()
        rclpy.shutdown()
    wall_ms, cpu_ms = np.array(wall[10:]) * 1e3, np.array(cpu[10:]) * 1e3
    return {"bytes": len(serialize_message(msg)), "lat": lat, "wall": wall_ms, "cpu": cpu_ms}


def _p50_p99(values: np.ndarray) -> str:
    return f"{np.percentile(values, 50):.2f} / {np.percentile(values, 99):.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=3,
                    help="subscriber processes (default 3, as the track array has: agent, scorer, observer)")
    ap.add_argument("--messages", type=int, default=100, help="messages per case, 10 Hz (default 100)")
    ap.add_argument("--tracks", default="1,1000", help="comma-separated track counts per message (default 1,1000)")
    ap.add_argument("--domain-id", type=int, default=158, help="ROS_DOMAIN_ID (default 158)")
    ap.add_argument("--subscriber", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.subscriber is not None:
        subscriber(args.subscriber)
        return 0
    from qiki.domains import DOMAIN_MAX
    if not 0 <= args.domain_id <= DOMAIN_MAX or args.subscribers < 1 or args.messages <= 10:
        ap.error(f"need 0 <= --domain-id <= {DOMAIN_MAX}, --subscribers >= 1 and --messages > 10")
    try:
        tracks = [int(t) for t in args.tracks.split(",") if t]
    except ValueError:
        ap.error(f"--tracks: comma-separated integers, got {args.tracks!r}")
    os.environ.update(ROS_DOMAIN_ID=str(args.domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    print(bench_header())
    print("| tracks | bytes | subscribers | publish -> callback p50 / p99 [ms] | publish() wall p50 / p99 [ms] "
          "| publish() CPU p50 [ms] |")
    print("|---|---|---|---|---|---|")
    for n in tracks:
        r = run_case(n, args.subscribers, args.messages)
        print(f"| {n} | {r['bytes']} | {args.subscribers} | {_p50_p99(r['lat'])} | {_p50_p99(r['wall'])} | "
              f"{np.percentile(r['cpu'], 50):.2f} |", flush=True)
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
