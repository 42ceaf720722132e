"""Campaign throughput: runs per hour on the local pool with 1 and 2 workers and on a Dask LocalCluster of 2
worker processes (loopback), side by side in one run, on the same campaign file and runs.

Each case runs the same N runs (run i is the same in every case) from scratch into its own directory, start-up of
the workers included; the cases are interleaved over --rounds rounds and each case's best round is kept (other
processes on a shared machine slow some rounds down, never speed one up). Targets (issue #17): 2 workers >= 1.8x the runs per hour of 1 on a 2-core machine; the Dask
cluster within 15 % of the local pool with the same number of workers.
Usage: .venv/bin/python bench/bench_campaign.py [--spec FILE] [--runs N] [--duration S]
"""
import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from qiki_tools.campaign.campaign_run import run_campaign
from qiki_tools.campaign.plan import load_plan
from qiki_tools.soak import bench_header

ROOT = Path(__file__).resolve().parents[1]


def case(plan, out: Path, workers: int, cluster: str | None = None) -> tuple[float, int, float]:
    """(wall s, runs ok, mean run wall s) of one campaign."""
    t0 = time.monotonic()
    outcome = run_campaign(plan, out, workers=workers, cluster=cluster, announce=lambda text: None)
    wall = time.monotonic() - t0
    import pyarrow.parquet as pq
    rows = pq.read_table(out / "runs.parquet").to_pylist()
    ok = [r for r in rows if r["status"] == "ok"]
    if len(ok) != len(rows):
        print(f"errors: {sorted({r['error'] for r in rows if r['status'] != 'ok'})}", file=sys.stderr)
    return wall, len(ok), sum(r["wall_time_s"] for r in ok) / max(1, len(ok)) if outcome.runs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "config" / "campaigns" / "bot_crossing_mc.yaml")
    ap.add_argument("--runs", type=int, default=12, help="runs per case")
    ap.add_argument("--duration", type=float, default=60.0, help="sim seconds per run")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the three cases; the best of each is kept")
    args = ap.parse_args()
    plan = load_plan(args.spec, args.runs)
    plan = dataclasses.replace(plan, spec=plan.spec.model_copy(update={"duration_s": args.duration}))
    print(bench_header())
    print(f"campaign {plan.spec.name} ({plan.base.scenario.name}, engine {plan.spec.engine}), {args.runs} runs of "
          f"{args.duration:g} s sim per case\n")
    print("| executor | round | wall s | runs ok | mean run wall s | runs per hour |")
    print("|---|---|---|---|---|---|")
    rate: dict[str, float] = {}
    labels = ("local pool, 1 worker", "local pool, 2 workers", "Dask LocalCluster, 2 worker processes")
    from distributed import LocalCluster
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as cluster:
        for r in range(args.rounds):
            for label, (workers, address) in zip(labels, ((1, None), (2, None), (2, cluster.scheduler_address))):
                wall, ok, mean = case(plan, Path(tmp) / f"{r}-{label.split(',')[0][:4]}{workers}", workers, address)
                rate[label] = max(rate.get(label, 0.0), ok / wall * 3600.0)
                print(f"| {label} | {r + 1} | {wall:.1f} | {ok} | {mean:.2f} | {ok / wall * 3600.0:.0f} |", flush=True)
    print("\nbest round per case: " + ", ".join(f"{label} {rate[label]:.0f} runs/h" for label in labels))
    two, one, dask = rate["local pool, 2 workers"], rate["local pool, 1 worker"], \
        rate["Dask LocalCluster, 2 worker processes"]
    print(f"\n2 workers / 1 worker: {two / one:.2f}x (target >= 1.8x)")
    print(f"Dask / local pool (2 workers each): {dask / two:.2f} ({(dask / two - 1) * 100:+.1f} %, target within 15 %)")
    print(f"\n200-run campaign: .venv/bin/qiki campaign config/campaigns/bot_crossing_mc.yaml --runs 200 "
          f"--out runs/campaign-bot_crossing_mc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
