#!/usr/bin/env python
"""Record throughput of qiki_bag: the bag writer alone, and end to end through Fast DDS.

    .venv/bin/python bench/bench_bag.py            # full run (about a minute)
    .venv/bin/python bench/bench_bag.py --quick    # smoke run (< 20 s)

Payloads are QIKI messages serialised once beforehand: `qiki_msgs/Event` (small), `qiki_msgs/RadarFrame`
with 500 detections (~24 kB: the 7 flat arrays) and `qiki_msgs/WorldTruth` with 2000 objects (~136 kB).

- writer: BagWriter (MCAP, no compression) writing N messages of one payload into a fresh bag in a
  temporary directory, timed from the first write to close() returning (metadata.yaml written).
- end to end: a publisher process publishes N pre-serialised messages as fast as it can (reliable,
  keep-last N, so the publisher never overwrites an unacknowledged sample) to `qiki bag record`
  (a separate process, raw subscription, the real command line). The rate is the recorder's: messages
  over the span of their receive timestamps in the bag. `lost` comes from the publishers' sequence
  numbers the recorder stores in the bag (published - recorded); the bag's count is checked against
  the number published.

MB = 10^6 bytes of message payload (CDR), per second of wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src" / "qiki_bag"))


def payloads() -> dict[str, tuple[str, str, bytes]]:
    """name -> (topic type, description, exact CDR bytes) built with rosbags' serializer."""
    import numpy as np

    from qiki_bag.typestore import workspace_typestore
    ts = workspace_typestore()
    T = ts.types
    hdr = T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](12, 34), "map")
    event = T["qiki_msgs/msg/Event"](hdr, 301, 1, "agent", "BIOS: all systems go")
    n = 500
    f64 = np.linspace(0.0, 1.0, n)
    pose = T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](1.0, 2.0, 0.0),
                                        T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0))
    frame = T["qiki_msgs/msg/RadarFrame"](hdr, 2, 7, "map", pose, 0.1, 1.0, 5000.0, 1.0, 0.01, 0.01, 0.1,
                                          f64, f64, f64, f64, f64, np.zeros(n, np.uint32), np.zeros(n, np.uint8))
    m = 2000
    truth = T["qiki_msgs/msg/WorldTruth"](hdr, np.arange(m, dtype=np.uint32), np.zeros(m, np.uint8),
                                          np.zeros(3 * m), np.zeros(3 * m), np.ones(m), np.ones(m),
                                          np.zeros(m, np.uint32))
    out = {}
    for name, msg, typ, desc in (("event", event, "qiki_msgs/msg/Event", "Event"),
                                 ("radar_frame", frame, "qiki_msgs/msg/RadarFrame", f"RadarFrame, {n} detections"),
                                 ("world_truth", truth, "qiki_msgs/msg/WorldTruth", f"WorldTruth, {m} objects")):
        out[name] = (typ, desc, bytes(ts.serialize_cdr(msg, typ)))
    return out


def bench_writer(typ: str, data: bytes, n: int, tmp: Path) -> dict:
    from qiki_bag.writer import BagWriter
    path = tmp / f"writer_{random.randrange(10**9)}"
    t0 = time.perf_counter()
    with BagWriter(path) as bag:
        bag.add_topic("/bench/data", typ)
        t_start = time.perf_counter()
        stamp = time.time_ns()
        for i in range(n):
            bag.write("/bench/data", stamp + i, data)
    t1 = time.perf_counter()
    shutil.rmtree(path)
    return {"n": n, "s": t1 - t_start, "setup_s": t_start - t0}


PUBLISHER = r"""
import sys, time, json, importlib
import rclpy
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, HistoryPolicy, ReliabilityPolicy, DurabilityPolicy
typ, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, 'rb').read()
pkg, kind, name = typ.split('/')
cls = getattr(importlib.import_module(f'{pkg}.{kind}'), name)
rclpy.init()
node = rclpy.create_node('bench_bag_publisher')
pub = node.create_publisher(cls, '/bench/data', QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=n,
                            reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE))
deadline = time.monotonic() + 60
while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
t0 = time.perf_counter()
for _ in range(n):
    pub.publish(data)
t1 = time.perf_counter()
pub.wait_for_all_acked(Duration(seconds=120))
print(json.dumps({"published": n, "publish_s": t1 - t0}), flush=True)
node.destroy_node()
rclpy.shutdown()
"""


def bench_e2e(typ: str, data: bytes, n: int, tmp: Path, env: dict) -> dict:
    from qiki_bag.reader import open_bag
    out = tmp / f"e2e_{random.randrange(10**9)}"
    payload = tmp / "payload.cdr"
    payload.write_bytes(data)
    rec = subprocess.Popen([sys.executable, "-m", "qiki_bag.commands", "record", "--no-graph", "--topics",
                            "/bench/data", "-o", str(out), "--status-period", "0.2"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    pub = None
    try:
        pub = subprocess.run([sys.executable, "-c", PUBLISHER, typ, str(n), str(payload)], env=env,
                             capture_output=True, text=True, timeout=300)
        if pub.returncode != 0:
            raise RuntimeError(f"publisher failed: {pub.stderr[-2000:]}")
        result = json.loads(pub.stdout.strip().splitlines()[-1])
        # wait until the recorder logged the last message (or its count stopped changing), then Ctrl-C
        seen = {"count": 0, "at": time.monotonic()}

        def pump() -> None:
            for line in rec.stderr:
                if line.startswith("qiki bag record: recorded ") and "messages" in line:
                    seen["count"], seen["at"] = int(line.split("recorded ")[1].split()[0]), time.monotonic()

        threading.Thread(target=pump, daemon=True).start()
        while seen["count"] < n and time.monotonic() - seen["at"] < 5.0:
            time.sleep(0.05)
        os.killpg(rec.pid, 2)
        rec.wait(timeout=60)
    finally:
        if rec.poll() is None:
            os.killpg(rec.pid, 9)
            rec.wait()
    with open_bag(out) as bag:
        info = bag.info()
        report = json.loads(bag.custom_data.get("qiki_bag.publication_sequence", "{}")).get("/bench/data", {})
    shutil.rmtree(out)
    span = max(info.end_ns - info.start_ns, 1) / 1e9
    return {"n": n, "recorded": info.message_count, "lost": report.get("missed", n - info.message_count),
            "s": span, "publish_s": result["publish_s"]}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer messages, one repetition (smoke run)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per payload (median reported)")
    args = p.parse_args()
    scale, repeat = (0.1, 1) if args.quick else (1.0, max(1, args.repeat))
    counts = {"event": 20000, "radar_frame": 3000, "world_truth": 600}
    env = dict(os.environ, ROS_DOMAIN_ID=str(random.Random(os.getpid()).randrange(100, 200)),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(REPO / "src" / "qiki_bag")] +
                                          [x for x in [os.environ.get("PYTHONPATH")] if x]))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_bag_") as tmpdir:
        tmp = Path(tmpdir)
        for name, (typ, desc, data) in payloads().items():
            n = max(100, int(counts[name] * scale))
            w = [bench_writer(typ, data, n, tmp) for _ in range(repeat)]
            e = [bench_e2e(typ, data, n, tmp, env) for _ in range(repeat)]
            rows.append((desc, len(data), n, w, e))
    print(f"\n`{' '.join([Path(sys.executable).name, 'bench/bench_bag.py'] + sys.argv[1:])}` on "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.machine()}; median of {repeat} run(s), [min-max] msg/s\n")
    print("| payload | bytes/msg | msgs/run | writer msg/s | writer MB/s | DDS->bag msg/s | DDS->bag MB/s "
          "| recorded / published (all runs) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for desc, size, n, w, e in rows:
        wr = [x["n"] / x["s"] for x in w]
        er = [x["recorded"] / x["s"] for x in e]
        rec, pub, lost = sum(x["recorded"] for x in e), sum(x["n"] for x in e), sum(x["lost"] for x in e)
        print(f"| {desc} | {size:,} | {n:,} | {_median(wr):,.0f} [{min(wr):,.0f}-{max(wr):,.0f}] | "
              f"{_median(wr) * size / 1e6:,.1f} | {_median(er):,.0f} [{min(er):,.0f}-{max(er):,.0f}] | "
              f"{_median(er) * size / 1e6:,.1f} | {rec:,} / {pub:,} (lost {lost}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
