"""Thrust allocation (scipy lsq_linear, BVLS) on the default 16-thruster RCS: residual and time per call.

Requests are B u for u uniform in [0, 1]^16 with each thruster active with probability 1/2
(seeded), i.e. 1000 random feasible wrenches. Run: .venv/bin/python bench/bench_allocator.py
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src" / p)
                 for p in ("qiki_agent", "qiki_description", "qiki_schema", "qiki_geometry")]

from qiki_agent.thrust_allocation import ThrustAllocator  # noqa: E402
from qiki_description.loader import load_description  # noqa: E402
from qiki_description.rcs import Rcs  # noqa: E402


def main(n: int = 1000, seed: int = 0) -> None:
    rcs = Rcs(load_description("ship").ship.rcs)
    alloc = ThrustAllocator(rcs)
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, 1, (n, rcs.n)) * (rng.uniform(size=(n, rcs.n)) < 0.5)
    wrenches = u @ rcs.wrench_matrix.T
    res, times, feasible = [], [], 0
    for w in wrenches:
        t = time.perf_counter()
        a = alloc.allocate(w[:3], w[3:])
        times.append(time.perf_counter() - t)
        res.append(a.relative_residual)
        feasible += a.feasible and not a.saturated
    res, times = np.array(res), np.array(times) * 1e6
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}` on {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}\n")
    print(f"{n} random feasible requests, default 16-thruster RCS, lsq_linear(method='bvls', tol=1e-12):\n")
    print("| metric | median | p95 | max |")
    print("|---|---:|---:|---:|")
    print(f"| relative residual | {np.median(res):.1e} | {np.percentile(res, 95):.1e} | {res.max():.1e} |")
    print(f"| time per allocation [us] | {np.median(times):.0f} | {np.percentile(times, 95):.0f} | {times.max():.0f} |")
    print(f"\nMet exactly (feasible, not saturated): {feasible}/{n}; mean active thrusters per solution "
          f"{np.mean([(alloc.allocate(w[:3], w[3:]).throttle > 1e-9).sum() for w in wrenches[:100]]):.1f}.")


if __name__ == "__main__":
    main()
