"""Soak: one graph in lockstep (fast mode) for N minutes of wall time, never restarted, sampling every
process's RSS, the sim time and the end-to-end latency (truth -> agent command); verdicts of issue #8.

Writes DIR/samples.csv, DIR/soak.json (samples, figures, verdicts, load average), DIR/soak.png and the node
logs in DIR/logs/; prints the figures. Exit code 0 when every verdict passes, 1 when one fails (a crash,
RSS growth >= 10 % after warm-up, latency p99 of the first and last span more than 20 % apart), 2 on bad
arguments.
Usage: .venv/bin/python bench/soak.py --minutes N [--profile bot|ship] [--scenario S] [--interval S]
       [--warmup S] [--out DIR] [--domain-id N]
"""
import argparse
import csv
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from qiki.cli import rotate_outputs
from qiki.graph import ConfigError
from qiki.plan import UsageError, make_plan
from qiki_tools.soak import latency_spans, load_average, rss_figures, soak_figure, verdicts, windows
from qiki_tools.soak_graph import run_soak


def _ms(s: float | None) -> str:
    return "-" if s is None else f"{s * 1e3:.2f}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, required=True, help="wall-clock length of the soak")
    ap.add_argument("--profile", help="vehicle profile (default: the graph's default_profile)")
    ap.add_argument("--scenario", help="scenario name or YAML path (default: the profile's)")
    ap.add_argument("--interval", type=float, default=10.0, metavar="S", help="sampling interval in wall seconds (10)")
    ap.add_argument("--warmup", type=float, metavar="S",
                    help="excluded from the verdicts (default: 120 s, at most 20 %% of the soak)")
    ap.add_argument("--out", type=Path, help="output directory (default: runs/soak-<time>-<profile>)")
    ap.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
    args = ap.parse_args()
    for name in ("minutes", "interval"):
        value = getattr(args, name)
        if not 0 < value < float("inf"):
            print(f"soak: error: --{name} must be a positive number, not {value}", file=sys.stderr)
            return 2
    if args.interval > args.minutes * 60:
        print(f"soak: error: --interval {args.interval:g} s is longer than the soak ({args.minutes:g} min)", file=sys.stderr)
        return 2
    try:
        plan = make_plan(args.profile, args.scenario)
    except (UsageError, ConfigError) as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return 2
    duration_s = args.minutes * 60.0
    warmup_s, span_s = windows(duration_s, args.warmup)
    out = args.out or Path("runs") / f"soak-{datetime.now():%Y%m%d-%H%M%S}-{plan.profile}"
    out.mkdir(parents=True, exist_ok=True)
    rotate_outputs(out, None, None, explicit_out=args.out is not None, prog="soak")   # runs/ caps of qiki run
    load_before = load_average()
    print(f"soak: {plan.profile}/{plan.scenario} lockstep for {args.minutes:g} min, sample every {args.interval:g} s, "
          f"warm-up {warmup_s:.0f} s, latency spans {span_s:.0f} s; load average {load_before}; out {out}",
          flush=True)

    def progress(sample) -> None:
        if sys.stdout.isatty() or int(sample.t_s) % 60 < args.interval:
            print(f"  t {sample.t_s:6.0f} s  sim {sample.sim_time_s:8.0f} s  load {sample.load_1min:5.2f}  "
                  f"latency n {sample.latency.count:5d}  "
                  + "  ".join(f"{k} {v / 1024 if v else 0:.0f}M" for k, v in sample.rss_kb.items()), flush=True)

    run = run_soak(plan, duration_s, args.interval, args.domain_id, out / "logs", on_sample=progress)
    samples = run.samples
    checks = verdicts(samples, run.crashed, warmup_s, span_s)
    rss = rss_figures(samples, warmup_s)
    first, last = latency_spans(samples, warmup_s, span_s)
    load_after = load_average()

    rows = [s.row() for s in samples]
    with open(out / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["t_s"])
        writer.writeheader()
        writer.writerows(rows)
    if samples:
        soak_figure(samples, warmup_s, span_s,
                    title=f"Soak {plan.profile}/{plan.scenario}, lockstep, {args.minutes:g} min").savefig(out / "soak.png")
    report = {
        "command": "bench/soak.py " + " ".join(sys.argv[1:]), "profile": plan.profile, "scenario": plan.scenario,
        "minutes": args.minutes, "interval_s": args.interval, "warmup_s": warmup_s, "span_s": span_s,
        "wall_time_s": round(run.wall_time_s, 1), "sim_time_s": round(run.sim_time_s, 1),
        "load_average_before": load_before, "load_average_after": load_after,
        "crashed": run.crashed, "exit_codes": run.exit_codes, "signal": run.signal,
        "rss": [{"process": f.process, "after_warmup_kb": f.after_warmup_kb, "end_kb": f.end_kb,
                 "growth_pct": round(100 * f.growth, 2)} for f in rss],
        "latency": {name: {"from_s": round(s.start_s, 1), "to_s": round(s.end_s, 1), "count": s.count,
                           "p50_ms": s.p50_s and round(s.p50_s * 1e3, 3), "p99_ms": s.p99_s and round(s.p99_s * 1e3, 3),
                           "sim_speed": s.sim_speed and round(s.sim_speed, 3), "load_1min": s.load_1min and round(s.load_1min, 2)}
                    for name, s in (("first", first), ("last", last))},
        "verdicts": [{"name": v.name, "ok": v.ok, "detail": v.detail} for v in checks],
        "samples": rows,
    }
    (out / "soak.json").write_text(json.dumps(report, indent=1) + "\n")

    print(f"\nsim {run.sim_time_s:.0f} s in {run.wall_time_s:.0f} s wall; load average before {load_before}, after {load_after}\n")
    print("| process | RSS after warm-up [MiB] | RSS at end [MiB] | growth |\n|---|---|---|---|")
    for f in rss:
        print(f"| {f.process} | {f.after_warmup_kb / 1024:.1f} | {f.end_kb / 1024:.1f} | {f.growth:+.1%} |")
    print("\n| latency truth -> cmd | wall span [s] | samples | p50 [ms] | p99 [ms] | sim speed | load average |"
          "\n|---|---|---|---|---|---|---|")
    for name, s in (("first", first), ("last", last)):
        print(f"| {name} | {s.start_s:.0f}-{s.end_s:.0f} | {s.count} | {_ms(s.p50_s)} | {_ms(s.p99_s)} | "
              f"{_num(s.sim_speed, 'x{:.2f}')} | {_num(s.load_1min, '{:.2f}')} |")
    print("\n| verdict | result | detail |\n|---|---|---|")
    for v in checks:
        print(f"| {v.name} | {'PASS' if v.ok else 'FAIL'} | {v.detail} |")
    print(f"\nsamples {out / 'samples.csv'}, report {out / 'soak.json'}, curve {out / 'soak.png'}")
    if run.signal is not None:
        return 128 + run.signal
    return 0 if all(v.ok for v in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
