"""Slew-rate limiter and clamp for command vectors (bot (v, w), ship force/torque, ...).

Each step the command is first clamped to [lower, upper], then the change from the previous
output is limited to max_rate_per_s * dt per component. The output therefore always stays
inside the bounds (the initial output is clamped too). Non-finite components hold the previous
output. `report` says what happened on the last step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LimitReport:
    """What the last step changed; truthy when anything was altered."""

    requested: np.ndarray
    output: np.ndarray
    clamped: np.ndarray  # bool per component: outside [lower, upper]
    rate_limited: np.ndarray  # bool per component: change exceeded max_rate * dt
    non_finite: np.ndarray  # bool per component: NaN/inf replaced by the previous output

    def __bool__(self) -> bool:
        return bool(self.clamped.any() or self.rate_limited.any() or self.non_finite.any())

    @property
    def reason(self) -> str:
        """One line for an event (COMMAND_CLAMPED), '' when nothing was altered."""
        parts = []
        for label, mask in (("clamped", self.clamped), ("rate limited", self.rate_limited),
                            ("non-finite", self.non_finite)):
            if mask.any():
                parts.append(f"{label} {np.flatnonzero(mask).tolist()}")
        if not parts:
            return ""
        fmt = lambda a: "[" + ", ".join(f"{x:.3g}" for x in a) + "]"  # noqa: E731
        return f"command {fmt(self.requested)} -> {fmt(self.output)}: " + "; ".join(parts)


class RateLimiter:
    """Limit |d(command)/dt| <= max_rate_per_s and clamp to [lower, upper], per component.

    Scalars broadcast to the dimension of the longest argument. `initial` is the output before
    the first step (default: zero clamped into the bounds).
    """

    def __init__(self, max_rate_per_s, lower, upper, initial=None) -> None:
        rate, lo, hi = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (max_rate_per_s, lower, upper))
        self.max_rate, self.lower, self.upper = np.broadcast_arrays(rate, lo, hi)
        self.max_rate, self.lower, self.upper = (a.copy() for a in (self.max_rate, self.lower, self.upper))
        if self.max_rate.ndim != 1:
            raise ValueError("max_rate_per_s, lower and upper must be scalars or 1-D vectors")
        if not (np.all(self.max_rate > 0) and np.all(np.isfinite(self.max_rate))):
            raise ValueError(f"max_rate_per_s must be positive and finite, got {self.max_rate.tolist()}")
        if np.any(np.isnan(self.lower)) or np.any(np.isnan(self.upper)) or np.any(self.lower > self.upper):
            raise ValueError(f"need lower <= upper, got lower={self.lower.tolist()} upper={self.upper.tolist()}")
        self.reset(initial)

    @property
    def dim(self) -> int:
        return self.max_rate.size

    @property
    def output(self) -> np.ndarray:
        return self._out.copy()

    def reset(self, value=None) -> None:
        """Set the previous output (clamped into the bounds); None = zero clamped."""
        v = np.zeros(self.dim) if value is None else np.broadcast_to(np.asarray(value, dtype=float), (self.dim,))
        self._out = np.clip(np.where(np.isfinite(v), v, 0.0), self.lower, self.upper)
        none = np.zeros(self.dim, dtype=bool)
        self.report = LimitReport(self._out.copy(), self._out.copy(), none, none.copy(), none.copy())

    def step(self, command, dt: float) -> np.ndarray:
        """Limited command after dt seconds since the previous step; see `report`."""
        req = np.broadcast_to(np.asarray(command, dtype=float), (self.dim,)).copy()
        if not (np.isfinite(dt) and dt >= 0):
            raise ValueError(f"dt must be finite and >= 0, got {dt!r}")
        bad = ~np.isfinite(req)
        target = np.where(bad, self._out, req)
        clipped = np.clip(target, self.lower, self.upper)
        clamped = clipped != target
        max_step = self.max_rate * dt
        delta = clipped - self._out
        limited = np.abs(delta) > max_step
        out = self._out + np.clip(delta, -max_step, max_step)
        self._out = np.clip(out, self.lower, self.upper)
        self.report = LimitReport(req, self._out.copy(), clamped, limited, bad)
        return self._out.copy()

    __call__ = step
