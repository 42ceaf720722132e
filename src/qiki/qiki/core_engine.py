"""The core engine: the graph's step classes in one process, in its lockstep order (not yet available)."""
from __future__ import annotations

from qiki.plan import UsageError


def run_core(plan, config, duration_s, bag_dir=None, show_progress=True):
    raise UsageError("--engine core is not available yet in this build")
