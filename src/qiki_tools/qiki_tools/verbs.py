"""The `qiki` commands of this package, registered through the entry point group `qiki.verbs`: `qiki plot`
(figures of a recorded run) and `qiki console` (terminal console on a running graph); and the figure writer
`qiki run --record` finds through the group `qiki.run_figures`."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from qiki.cli import command_domain, positive
from qiki_tools.plots import PlotInputError


def run_figures(bag: Path, out: Path) -> list[str]:
    """Figures of a bag into out (a fleet's: a world view and each vehicle's figures in <vehicle>/); returns the
    file names relative to out. Raises PlotInputError / BagError (one line)."""
    from qiki_tools.plots import load_fleet, write_fleet_plots
    return write_fleet_plots(load_fleet(bag), out)


class PlotVerb:
    order = 40
    help = "PNG figures of a recorded run: radar scope, FSM timeline, GOSPA (a fleet's: per vehicle, and a world view)"
    errors = (PlotInputError,)

    def add_arguments(self, parser) -> None:
        parser.add_argument("input", type=Path, metavar="RUN_DIR_OR_BAG",
                            help="run directory of 'qiki run --record' (with bag/) or a bag directory")
        parser.add_argument("--out", type=Path, metavar="DIR",
                            help="output directory (default: the run directory; for a bag, BAG-plots next to it)")

    def main(self, args) -> int:
        from qiki_bag.reader import BagError
        from qiki_tools.plots import resolve_input
        t0 = time.monotonic()
        bag, default_out = resolve_input(args.input)
        out = args.out or default_out
        try:
            names = run_figures(bag, out)
        except BagError as exc:
            raise PlotInputError(f"{exc}; qiki plot reads a run directory of 'qiki run --record' or a readable "
                                 "rosbag2 bag (check it with 'qiki bag info')") from None
        summary = out / "summary.json"
        if summary.exists() and out.resolve() == default_out.resolve() and (out / "bag").exists():
            try:                                            # the run directory: list the figures in its summary
                data = json.loads(summary.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                data = exc
            if isinstance(data, dict):
                data["plots"] = names
                summary.write_text(json.dumps(data, indent=2) + "\n")
            else:
                why = data if isinstance(data, Exception) else type(data).__name__
                print(f"qiki plot: warning: {summary} is not a JSON object ({why}): the figures are written, the "
                      "summary does not list them", file=sys.stderr)
        print(f"qiki plot: {', '.join(str(out / n) for n in names)} ({time.monotonic() - t0:.1f} s)")
        return 0


def offset_lvlh(text: str) -> tuple[float, float, float]:
    """argparse type: 'X,Y,Z' -> three finite numbers [m]."""
    try:
        values = tuple(float(c) for c in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(c) for c in values):
        raise argparse.ArgumentTypeError(f"'{text}' is not three finite numbers X,Y,Z (metres, LVLH)")
    return values


class ConsoleVerb:
    order = 50
    help = ("terminal console on a running graph (a fleet's: one vehicle's stack, --vehicle): FSM, BIOS, tracks, "
            "events, operator commands (keys s, r, m, a, o)")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--profile", help="vehicle profile of the graph (default: the graph's default_profile)")
        parser.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID of the graph (default: $ROS_DOMAIN_ID or 0)")
        parser.add_argument("--vehicle", default="", metavar="NAME",
                            help="attach to this vehicle's stack of a fleet (its topics under /qiki/NAME/)")
        parser.add_argument("--scenario", metavar="NAME",
                            help="the graph's scenario (default: the profile's): a fleet's needs --vehicle, "
                                 "which must be one of its vehicles")
        parser.add_argument("--wait", type=positive, default=3.0, metavar="S",
                            help="say that no graph is reachable after S seconds without agent status (default 3)")
        parser.add_argument("--offset", type=offset_lvlh, metavar="X,Y,Z",
                            help="station keeping: the LVLH offset [m] key o sends (SET_OFFSET)")

    def main(self, args) -> int:
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        domain = command_domain(args)
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        from qiki_tools.console import run_console
        return run_console(domain, args.profile, unreachable_after_s=args.wait, vehicle=args.vehicle,
                           scenario=args.scenario, offset_lvlh_m=args.offset)
