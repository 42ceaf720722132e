#!/usr/bin/env python
"""How `qiki bag record` / `qiki bag play` end on Ctrl-C sent at any moment of their life.

    .venv/bin/python bench/bench_bag_stop.py                 # 20 records and 20 plays
    .venv/bin/python bench/bench_bag_stop.py --runs 5        # quicker

A publisher (tests/integration/bag_helper.py) keeps the recorded topics busy at 300 Hz. Each run starts the
real command line in its own session and sends SIGINT to its process group after a random delay of 0-4 s
(during the interpreter's start, the imports, discovery or the recording/playback), then waits up to 20 s.
Printed per command: exit codes seen, runs that did not exit within 20 s (their stacks are dumped with
py-spy when it is installed), tracebacks on stderr, and the time from SIGINT to exit (median, max).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src" / "qiki"))
from qiki_tools.soak import bench_header  # noqa: E402

HELPER = ROOT / "tests" / "integration" / "bag_helper.py"


def _loop_bag(path: Path) -> None:
    from rclpy.serialization import serialize_message

    from qiki_bag.writer import BagWriter
    from qiki_msgs.msg import Event
    with BagWriter(path) as w:
        w.add_topic("/qiki/test/events", "qiki_msgs/msg/Event")
        for i in range(200):
            w.write("/qiki/test/events", 1_700_000_000_000_000_000 + i * 10_000_000, serialize_message(Event(code=i)))


def _run(cmd: list[str], env: dict, rng: random.Random) -> tuple[int | None, float, bool]:
    """(exit code or None when it hung, seconds from SIGINT to exit, traceback on stderr)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(rng.uniform(0.0, 4.0))          # the moment of the Ctrl-C is what this bench varies
    os.killpg(proc.pid, signal.SIGINT)
    t0 = time.monotonic()
    try:
        _out, err = proc.communicate(timeout=20)
        return proc.returncode, time.monotonic() - t0, "Traceback" in err
    except subprocess.TimeoutExpired:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if Path(spy).exists():
            subprocess.run([spy, "dump", "--native", "--pid", str(proc.pid)], check=False)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, 20.0, False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    p.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    print(bench_header())
    rng = random.Random(args.seed)
    env = dict(os.environ, ROS_DOMAIN_ID=str(args.domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    work = Path(tempfile.mkdtemp(prefix="bench_bag_stop_"))
    pub = subprocess.Popen([sys.executable, str(HELPER), "publish", "--count", "100000000", "--rate", "300"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _loop_bag(work / "loop")
        commands = {
            "record": lambda i: [sys.executable, "-m", "qiki_bag.commands", "record", "-o", str(work / f"rec{i}"),
                                 "--topics", "/qiki/test/*", "/clock"],
            "play": lambda i: [sys.executable, "-m", "qiki_bag.commands", "play", str(work / "loop"), "--loop",
                               "--clock", "50"],
        }
        for name, make in commands.items():
            results = [_run(make(i), env, rng) for i in range(args.runs)]
            exits = [t for code, t, _ in results if code is not None]
            print(f"qiki bag {name}: {args.runs} runs, exit codes {dict(Counter(c for c, _, _ in results))}, "
                  f"hung {sum(c is None for c, _, _ in results)}, tracebacks {sum(tb for _, _, tb in results)}, "
                  f"SIGINT to exit median {statistics.median(exits):.2f} s, max {max(exits):.2f} s", flush=True)
    finally:
        os.killpg(pub.pid, signal.SIGKILL)
        pub.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
