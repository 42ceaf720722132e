#!/usr/bin/env python
"""Tracker speed of two source trees side by side: bench_tracker's scaling scenarios, interleaved runs.

    .venv/bin/python bench/bench_tracker_ab.py /path/to/old/checkout            # this tree = new
    .venv/bin/python bench/bench_tracker_ab.py OLD --rounds 6 --repeat 3 --sizes 1000:600 10000:80

Each round runs one process per tree and size (order alternating between rounds), pinned to one CPU with
BLAS threads at 1; a process times `Tracker.step` on `make_scenario(N, frames, seed=1000 + 7 N)` `repeat`
times with a fresh tracker and keeps each frame's fastest time. The table gives, per tree and size, the
minimum over rounds of the median frame and of the summed frames, and the accuracy figures (identical
for both trees when behaviour is unchanged). On a shared machine compare the minima, not single runs.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

_HERE = pathlib.Path(__file__).resolve()

_CHILD = """
import os, sys
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
tree, n, frames, repeat, bench = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# the tree's tracker and the TrackSet it returns (qiki_tracks); the bench harness is this tree's
sys.path[:0] = [tree + "/src/qiki_radar", tree + "/src/qiki_tracks", bench]
import numpy as np
import bench_tracker as bt
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
sc = bt.make_scenario(n, frames, seed=1000 + 7 * n)
best = np.full(frames, np.inf)
for _ in range(repeat):
    r = bt.run(bt.QikiRunner, sc)
    best = np.minimum(best, r.frame_ms)
s = r.score
print(np.median(best), best.sum(), f"{s.gospa_per_target:.3f}", s.false_tracks, s.id_switches)
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old", help="checkout whose src/qiki_radar (and src/qiki_tracks) is compared with this tree's")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3, help="runs per process; each frame keeps its fastest time")
    ap.add_argument("--sizes", nargs="+", default=["1000:600", "10000:80"], help="N:frames")
    args = ap.parse_args(argv)
    trees = {"old": str(pathlib.Path(args.old).resolve()), "new": str(_HERE.parents[1])}
    sizes = [tuple(int(v) for v in s.split(":")) for s in args.sizes]
    best: dict = {}
    for rnd in range(args.rounds):
        for n, frames in sizes:
            for name in (("old", "new") if rnd % 2 == 0 else ("new", "old")):
                out = subprocess.run([sys.executable, "-c", _CHILD, trees[name], str(n), str(frames), str(args.repeat),
                                      str(_HERE.parent)], check=True, capture_output=True, text=True).stdout.split()
                p50, total, gospa, false_tracks, switches = float(out[0]), float(out[1]), out[2], out[3], out[4]
                print(f"round {rnd + 1} N={n} {name}: p50 {p50:.3f} ms, sum {total:.1f} ms, load "
                      f"{os.getloadavg()[0]:.2f}", file=sys.stderr)
                b = best.setdefault((n, name), [p50, total, gospa, false_tracks, switches])
                b[0], b[1] = min(b[0], p50), min(b[1], total)
    print("| N | frames | tree | ms/frame p50 (min) | sum of frames [ms] (min) | new / old | GOSPA/target [m] "
          "| false tracks | id switches |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, frames in sizes:
        for name in ("old", "new"):
            p50, total, gospa, false_tracks, switches = best[(n, name)]
            ratio = "" if name == "old" else f"{p50 / best[(n, 'old')][0]:.3f} / {total / best[(n, 'old')][1]:.3f}"
            print(f"| {n} | {frames} | {name} | {p50:.3f} | {total:.1f} | {ratio} | {gospa} | {false_tracks} "
                  f"| {switches} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
