#!/usr/bin/env python
"""Messages recovered from damaged bags: cut files, flipped bytes, a recorder killed mid-split.

    .venv/bin/python bench/bench_bag_damage.py            # 5000 messages per bag
    .venv/bin/python bench/bench_bag_damage.py --quick    # 1000 messages per bag

One bag is written with qiki_bag's BagWriter (MCAP, no compression): `qiki_msgs/Event` and
`qiki_msgs/RadarFrame` (100 detections) alternating, 10 ms apart. Each case damages a copy of it:

- cut: the split file truncated to the given size (size-1: the last byte removed);
- flip: N bytes at random offsets (seeded) inverted;
- killed: a separate process writes the messages with BagWriter and SIGKILLs itself before closing
  (no metadata.yaml, the split still in .recording/).

Columns: messages written; read by a streaming `mcap` reader (mcap.stream_reader, CRCs checked, up to its
first error); read by `rosbags` before anything is done; read by qiki_bag's reader (`qiki bag play/plot`
see these); read by `rosbags` after `qiki bag reindex`; messages readable after reindex that differ from
what was written (must be 0).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src" / "qiki_bag"))
sys.path.insert(0, str(REPO / "src" / "qiki"))

TOPICS = {"/qiki/events": "qiki_msgs/msg/Event", "/qiki/radar/frame": "qiki_msgs/msg/RadarFrame"}
T0 = 1_700_000_000_000_000_000


def messages(n: int) -> list[tuple[str, int, bytes]]:
    """(topic, log time, CDR) of n messages, serialised with rosbags' typestore of the workspace."""
    import numpy as np

    from qiki_bag.typestore import workspace_typestore
    ts = workspace_typestore()
    T = ts.types
    out = []
    for i in range(n):
        hdr = T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](i, 0), "map")
        if i % 2:
            msg = T["qiki_msgs/msg/Event"](hdr, 301, 1, "agent", f"event {i}")
            out.append(("/qiki/events", T0 + i * 10_000_000, bytes(ts.serialize_cdr(msg, TOPICS["/qiki/events"]))))
        else:
            k = 100
            f64 = np.linspace(0.0, 1.0, k) + i
            pose = T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](1.0, 2.0, 0.0),
                                                T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0))
            msg = T["qiki_msgs/msg/RadarFrame"](hdr, 2, i, "map", pose, 0.1, 1.0, 5000.0, 1.0, 0.01, 0.01, 0.1,
                                                f64, f64, f64, f64, f64, np.zeros(k, np.uint32),
                                                np.zeros(k, np.uint8))
            out.append(("/qiki/radar/frame", T0 + i * 10_000_000,
                        bytes(ts.serialize_cdr(msg, TOPICS["/qiki/radar/frame"]))))
    return out


def write(path: Path, msgs) -> None:
    from qiki_bag.writer import BagWriter
    with BagWriter(path) as bag:
        for topic, msgtype in TOPICS.items():
            bag.add_topic(topic, msgtype)
        for topic, t, data in msgs:
            bag.write(topic, t, data)


def killed(path: Path, n: int) -> None:
    """A process writes n messages and SIGKILLs itself without closing the bag."""
    code = ("import os, signal, sys\n"
            f"sys.path[:0] = {[str(Path(__file__).parent)] + sys.path!r}\n"
            "from bench_bag_damage import messages, TOPICS\n"
            "from qiki_bag.writer import BagWriter\n"
            "bag = BagWriter(sys.argv[1]).open()\n"
            "for topic, msgtype in TOPICS.items():\n"
            "    bag.add_topic(topic, msgtype)\n"
            "for topic, t, data in messages(int(sys.argv[2])):\n"
            "    bag.write(topic, t, data)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(n)], capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def streamed(bag: Path) -> int:
    """Messages a streaming mcap reader gets out of the bag's files before its first error."""
    from mcap.stream_reader import StreamReader
    n = 0
    for file in sorted(bag.rglob("*.mcap")):
        with file.open("rb") as f:
            try:
                for record in StreamReader(f, validate_crcs=True).records:
                    n += type(record).__name__ == "Message"
            except Exception:
                pass
    return n


def rosbags_read(bag: Path) -> list | None:
    from rosbags.rosbag2 import Reader
    try:
        with Reader(bag) as reader:
            return [(c.topic, t, bytes(d)) for c, t, d in reader.messages()]
    except Exception:
        return None


def qiki_read(bag: Path) -> int:
    from qiki_bag.reader import BagError, open_bag
    try:
        with open_bag(bag, warn=lambda _t: None) as b:
            return sum(1 for _ in b.messages())
    except BagError:
        return 0


def case(name: str, bag: Path, written: list) -> str:
    from qiki_bag.errors import BagError
    from qiki_bag.reindex import reindex
    stream = streamed(bag)
    before = rosbags_read(bag)
    qiki = qiki_read(bag)
    try:
        reindex(bag)
        after = rosbags_read(bag) or []
    except BagError:
        after = []
    wrong = len(set(after) - set(written))
    return (f"| {name} | {len(written)} | {stream} | {len(before) if before is not None else 'error'} | {qiki} | "
            f"{len(after)} ({100 * len(after) / len(written):.1f} %) | {wrong} |")


def main() -> int:
    from qiki_tools.soak import bench_header
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1000 messages per bag instead of 5000")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = 1000 if args.quick else 5000
    print(bench_header())
    written = messages(n)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_bag_damage_") as tmp:
        tmp = Path(tmp)
        write(tmp / "orig", written)
        size = (tmp / "orig" / "orig_0.mcap").stat().st_size
        print(f"bag: {n} messages, one split of {size} bytes\n")
        cuts = [("cut to size-1", size - 1), ("cut to size-200", size - 200), ("cut to 3/4", size * 3 // 4),
                ("cut to 1/2", size // 2), ("cut to 1/4", size // 4)]
        for name, offset in cuts:
            bag = tmp / f"cut{offset}"
            shutil.copytree(tmp / "orig", bag)
            os.truncate(bag / "orig_0.mcap", offset)
            rows.append(case(name, bag, written))
        rng = random.Random(args.seed)
        for flips in (1, 10, 200):
            bag = tmp / f"flip{flips}"
            shutil.copytree(tmp / "orig", bag)
            data = bytearray((bag / "orig_0.mcap").read_bytes())
            for _ in range(flips):
                data[rng.randrange(8, len(data))] ^= 0xFF
            (bag / "orig_0.mcap").write_bytes(bytes(data))
            rows.append(case(f"{flips} flipped byte(s)", bag, written))
        killed(tmp / "killed", n)
        rows.append(case("recorder SIGKILLed before closing", tmp / "killed", written))
    print("| case | written | mcap stream reader | rosbags before | qiki_bag reader | rosbags after reindex | "
          "wrong after reindex |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
