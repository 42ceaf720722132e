"""`qiki campaign SPEC.yaml --out DIR` (entry point group `qiki.verbs`): Monte Carlo over a dispersed scenario."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from qiki.cli import whole
from qiki_tools.campaign.spec import CampaignError
from qiki_tools.campaign.runner import CampaignStartError
from qiki_tools.campaign.table import TableError


class CampaignVerb:
    order = 35
    help = "Monte Carlo campaign: run a dispersed scenario N times (local pool or Dask cluster), table and report"
    errors = (CampaignError, CampaignStartError, TableError)

    def add_arguments(self, parser) -> None:
        from qiki_tools.campaign.runner import default_workers
        parser.add_argument("spec", type=Path, metavar="SPEC.yaml",
                            help="campaign file (e.g. config/campaigns/bot_crossing_mc.yaml)")
        parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                            help="campaign directory: runs/, runs.parquet, campaign.json, summary.json, figures")
        parser.add_argument("--runs", type=whole("runs"), metavar="N", help="number of runs (default: the spec's)")
        parser.add_argument("--workers", type=whole("workers"), default=None, metavar="N",
                            help=f"local worker processes (default: the core count, {default_workers()})")
        parser.add_argument("--cluster", metavar="ADDRESS",
                            help="run on this Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead")
        parser.add_argument("--resume", action="store_true",
                            help="continue the campaign in DIR: skip the runs already in runs.parquet")

    def main(self, args) -> int:
        from qiki_tools.campaign.campaign_run import run_campaign
        from qiki_tools.campaign.plan import load_plan
        from qiki_tools.campaign.runner import default_workers, say
        if args.cluster and args.workers:
            raise CampaignStartError("--workers is for the local pool; a --cluster's workers are its own")
        plan = load_plan(args.spec, args.runs)
        outcome = run_campaign(plan, args.out, workers=args.workers or default_workers(), cluster=args.cluster,
                               resume=args.resume)
        say(f"{outcome.runs} runs in the table ({outcome.errors} errors) in {outcome.wall_time_s:.1f} s: "
            f"{args.out / 'runs.parquet'}")
        if outcome.interrupted:
            say(f"interrupted; continue with: qiki campaign {args.spec} --out {args.out} --resume")
            return 128 + signal.SIGINT
        from qiki_tools.campaign.report import ReportInputError, write_report
        try:
            write_report(args.out, outcome.info)
        except ReportInputError as exc:     # one line; the table stays as written
            say(f"error: no report: {exc}")
            return 1
        say(f"report {args.out / 'summary.json'}")
        return 0
