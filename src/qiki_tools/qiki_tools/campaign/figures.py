"""Figures of a campaign report: PNGs with matplotlib (Agg, no pyplot), drawn from plain arrays and the summary.

Figures (file name -> content):

- ``success_rate.png``: the mission success rate with its Wilson interval, and the failure modes counted.
- ``miss_distance_cdf.png``: empirical CDF of the closest approach of every ok run (points coloured by
  outcome), the safe radius as a vertical line.
- ``gospa_distribution.png``: histogram of the run-mean GOSPA, one panel per band (LR, SR, union).
- ``failure_parameter.png``: the dispersed parameter most associated with failure: its value per run by
  outcome, and against the miss distance (numeric), or the failure rate per value (categorical).

A figure with nothing to draw (no ok run, no d.* column, no failure...) is still written, with a note saying
why, so the summary always lists the same files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FILES = {"success": "success_rate.png", "miss": "miss_distance_cdf.png", "gospa": "gospa_distribution.png",
         "parameter": "failure_parameter.png"}
SIZE_IN = (10.0, 4.0)
DPI = 100                                     # -> 1000x400 pixels
OUTCOME_STYLE = {"succeeded": "tab:blue", "failed": "tab:red", "errored": "0.55"}
BAND_STYLE = {"lr": ("LR", "tab:purple"), "sr": ("SR", "tab:green"), "union": ("union", "black")}
MAX_CATEGORIES = 20
PLOT_LIMIT = 1e12          # |value| drawn at most (qiki_geometry's MAX_ABS_STATE): beyond it axes overflow


def _drawable(x: np.ndarray) -> np.ndarray:
    """Finite values within PLOT_LIMIT (larger ones stay in summary.json, not in a figure)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (np.abs(x) <= PLOT_LIMIT)


def _figure(ncols: int = 1):
    from matplotlib.figure import Figure      # no pyplot: no global state, no GUI backend
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.35",
            bbox={"facecolor": "white", "edgecolor": "0.7"}, wrap=True)


def _outcome(data: dict) -> np.ndarray:
    """Per run: "succeeded", "failed" (ok, not a success) or "errored"."""
    return np.where(~data["ok"], "errored", np.where(data["success"], "succeeded", "failed"))


def success_figure(summary: dict):
    """Success rate (bar, Wilson interval) and failure modes (horizontal bars)."""
    fig, (ax, modes_ax) = _figure(2)
    s = summary["success"]
    if s["rate"] is None:
        _note(ax, "no ok run: no success rate")
    else:
        lo, hi = s["interval"]
        ax.bar([0], [s["rate"]], width=0.5, color=OUTCOME_STYLE["succeeded"],
               yerr=[[s["rate"] - lo], [hi - s["rate"]]], capsize=12, ecolor="black")
        ax.text(0, min(hi + 0.03, 1.02), f"{s['rate']:.1%}  [{lo:.1%}, {hi:.1%}]\n{s['successes']} / {s['ok_runs']}"
                " ok runs", ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-1, 1)
    ax.set_xticks([0], ["mission success"])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel(f"success rate ({s['confidence']:.0%} Wilson interval)")
    ax.grid(True, axis="y", lw=0.3)
    ax.set_title(f"Mission success, {summary['runs']['total']} runs ({summary['runs']['errored']} errored)",
                 fontsize=10)
    modes = summary["failure_modes"]
    if modes:
        names = list(modes)[::-1]
        modes_ax.barh(names, [modes[m] for m in names],
                      color=[OUTCOME_STYLE["errored"] if m == "error" else OUTCOME_STYLE["failed"] for m in names])
        for y, m in enumerate(names):
            modes_ax.annotate(str(modes[m]), (modes[m], y), xytext=(3, 0), textcoords="offset points",
                              va="center", fontsize=8)
        modes_ax.set_xlabel("runs")
    else:
        _note(modes_ax, "no failed run")
    modes_ax.grid(True, axis="x", lw=0.3)
    modes_ax.set_title("Failure modes", fontsize=10)
    return fig


def _safe_lines(ax, safe: np.ndarray, vertical: bool) -> None:
    """The safe radius: one line per distinct value (up to 3), else the span of its values."""
    values = np.unique(safe[_drawable(safe)])
    line, span = (ax.axvline, ax.axvspan) if vertical else (ax.axhline, ax.axhspan)
    if 0 < len(values) <= 3:
        for j, r in enumerate(values):
            line(r, color="tab:red", ls="--", lw=1.2, label=f"safe radius {r:g} m" if j < 3 else None)
    elif len(values):
        span(values[0], values[-1], color="tab:red", alpha=0.12,
             label=f"safe radius {values[0]:g}-{values[-1]:g} m")


def miss_figure(data: dict, summary: dict):
    """Empirical CDF of the miss distance over ok runs, safe radius drawn."""
    fig, (ax,) = _figure()
    ok = data["ok"] & _drawable(data["miss"])
    miss, success = data["miss"][ok], data["success"][ok]
    if len(miss):
        order = np.argsort(miss, kind="stable")
        x, y = miss[order], np.arange(1, len(miss) + 1) / len(miss)
        ax.step(np.r_[x[0], x], np.r_[0.0, y], where="post", color="black", lw=1.2, label=f"CDF ({len(x)} ok runs)")
        for name, keep in (("succeeded", success[order]), ("failed", ~success[order])):
            if keep.any():
                ax.scatter(x[keep], y[keep], s=12, color=OUTCOME_STYLE[name], zorder=3, label=name)
        _safe_lines(ax, data["safe"][data["ok"]], vertical=True)
        below = summary["miss_distance_m"]["below_safe_radius"]
        if below["fraction"] is not None:
            ax.text(0.99, 0.03, f"below the safe radius: {below['runs']} / {below['of']} runs "
                    f"({below['fraction']:.1%})", transform=ax.transAxes, ha="right", va="bottom", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
    else:
        _note(ax, "no ok run with a miss distance")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("closest approach of the run (s.min_miss_distance_m) [m]")
    ax.set_ylabel("fraction of ok runs")
    ax.grid(True, lw=0.3)
    ax.set_title("Miss distance over the campaign (empirical CDF)", fontsize=10)
    return fig


def gospa_figure(data: dict):
    """Histogram of the run-mean GOSPA, one panel per band (each its own bins: the bands differ in scale)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = _figure(len(BAND_STYLE))
    for ax, (band, (name, color)) in zip(axes, BAND_STYLE.items()):
        values = data["gospa"][band][data["ok"] & _drawable(data["gospa"][band])]
        if len(values):
            ax.hist(values, bins=min(20, max(5, int(np.sqrt(len(values))))), color=color, alpha=0.8)
            ax.set_title(f"{name}: median {np.median(values):.3g} m, {len(values)} runs", fontsize=10)
        else:
            _note(ax, f"no ok run with a {name} GOSPA")
            ax.set_title(name, fontsize=10)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"s.gospa_mean.{band} [m]")
        ax.grid(True, lw=0.3)
    axes[0].set_ylabel("runs")
    fig.suptitle("Tracking error against truth over the campaign: mean GOSPA of each ok run, per band", fontsize=10)
    return fig


def _strip(ax, values: np.ndarray, outcome: np.ndarray, categories: list | None = None) -> None:
    """Each run's value, one row per outcome, jittered so equal values stay visible."""
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
    rows = [o for o in OUTCOME_STYLE if (outcome == o).any()]
    for y, name in enumerate(rows):
        keep = outcome == name
        x = values[keep] if categories is None else np.array([categories.index(v) for v in values[keep]])
        ax.scatter(x, y + jitter[keep], s=10, color=OUTCOME_STYLE[name], alpha=0.7)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)


def parameter_figure(data: dict, summary: dict):
    """The top d.* column of the association ranking against the outcome and the miss distance."""
    fig, (ax, right) = _figure(2)
    top = summary["association"]["top"]
    if top is None:
        skipped = summary["association"]["skipped"]
        reason = ("no dispersed parameter (no d.* column)" if not skipped else
                  "no dispersed parameter separates failures:\n" +
                  "\n".join(f"{k}: {v}" for k, v in list(skipped.items())[:6]))
        _note(ax, reason)
        right.set_axis_off()
        ax.set_axis_off()
        return fig
    name, values, outcome = top["column"], data["top"], _outcome(data)
    if top["kind"] == "numeric":
        has = _drawable(values)
        _strip(ax, values[has], outcome[has])
        ax.set_xlabel(name)
        ok = has & data["ok"] & _drawable(data["miss"])
        for o in ("succeeded", "failed"):
            keep = ok & (outcome == o)
            if keep.any():
                right.scatter(values[keep], data["miss"][keep], s=12, color=OUTCOME_STYLE[o], label=o)
        if ok.any():
            _safe_lines(right, data["safe"][ok], vertical=False)
            right.legend(loc="best", fontsize=8)
        else:
            _note(right, "no ok run with a miss distance")
        right.set_xlabel(name)
        right.set_ylabel("miss distance [m]")
    else:
        has = np.array([v is not None for v in values], dtype=bool)
        cats, counts = np.unique(values[has].astype(str), return_counts=True)
        cats = list(cats[np.argsort(-counts, kind="stable")][:MAX_CATEGORIES])
        shown = has & np.isin(values.astype(str), cats)
        _strip(ax, values[shown].astype(str), outcome[shown], cats)
        ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel(name)
        failed = ~data["success"]
        rates = [failed[shown & (values.astype(str) == c)].mean() for c in cats]
        right.bar(range(len(cats)), rates, color=OUTCOME_STYLE["failed"])
        right.set_xticks(range(len(cats)), cats, rotation=30, ha="right", fontsize=8)
        right.set_ylim(0, 1.05)
        right.set_ylabel("failure rate")
        right.set_xlabel(name)
    ax.grid(True, lw=0.3)
    right.grid(True, lw=0.3)
    fig.suptitle(f"Most associated with failure: {name}\n{top['test']} p = {top['p_value']:.2g} "
                 f"(Holm-adjusted over {len(summary['association']['ranked'])} parameters: {top['p_holm']:.2g}), "
                 f"{top['effect']} {top['effect_value']:+.2f}: {top['direction']}", fontsize=10)
    return fig


def figures(data: dict, summary: dict) -> dict[str, object]:
    return {"success": success_figure(summary), "miss": miss_figure(data, summary), "gospa": gospa_figure(data),
            "parameter": parameter_figure(data, summary)}


def write_figures(out_dir: Path | str, data: dict, summary: dict) -> list[str]:
    """Save every figure as PNG into out_dir; returns the file names (relative to out_dir).

    data: per-run arrays of equal length: ``ok``, ``success`` (bool), ``miss``, ``safe`` (float), ``gospa``
    (band -> float), ``top`` (the top d.* column's values, or None); summary: the report's summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for kind, fig in figures(data, summary).items():
        fig.savefig(out / FILES[kind], dpi=DPI)
        names.append(FILES[kind])
    return names
