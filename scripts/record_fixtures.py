#!/usr/bin/env python3
"""Re-record the replay fixtures tests/fixtures/<profile>_replay/ (see tests/fixtures/README.md).

    .venv/bin/python scripts/record_fixtures.py                 # every profile
    .venv/bin/python scripts/record_fixtures.py --profile ship   # one

Run it when a change of the tracker's or the agent's outputs is intended (a contract change): the replay
test (tests/integration/test_replay.py) then passes again against the new fixtures. Per profile it
1. starts ``qiki bag record`` on the topics a replay needs (the tracker's and agent's inputs, their outputs,
   the step barrier) and waits until it is subscribed,
2. runs the whole graph with ``qiki run --mode lockstep --duration S`` in a private ROS_DOMAIN_ID (with
   qiki_tools.replay.DETERMINISM_ENV, as the replay has it),
3. stops the recorder, keeps the first S seconds of steps, checks that every node finished each of them
   and every message its StepDone listed was recorded, and writes the fixture (zstd MCAP + replay.json),
4. replays the new fixture once and checks that it reproduces the recording bit for bit (--no-verify skips).
Nothing is replaced when a step fails. Needs the build (scripts/setup.sh); the bringup packages and qiki_bag
are taken from the source tree.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = [REPO / "src" / "qiki", REPO / "src" / "qiki_bag"]
sys.path[:0] = [str(p) for p in SRC]

FIXTURES = REPO / "tests" / "fixtures"
# profile -> sim seconds kept in the fixture (the bags stay ~200 kB: the ship's debris field is big)
DURATIONS_S = {"bot": 15.0, "ship": 12.0}
EXTRA_S = 1.0            # the graph runs this much longer; the last, possibly unfinished, steps are cut
ATTEMPTS = 3             # a recording that missed a message (the recorder matched a writer late) is redone


def _log(text: str) -> None:
    print(f"record_fixtures: {text}", file=sys.stderr, flush=True)


def _env(domain_id: int) -> dict[str, str]:
    from qiki_tools.replay import DETERMINISM_ENV
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1", **DETERMINISM_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in SRC] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _qiki() -> str:
    exe = Path(sys.executable).with_name("qiki")
    return str(exe) if exe.exists() else shutil.which("qiki") or "qiki"


def record(profile: str, duration_s: float, domain_id: int, work: Path) -> Path:
    """Run the graph while recording; returns the raw bag."""
    from qiki.plan import config_dir, make_plan
    from qiki_tools.replay import replay_topics
    from qiki_bag.background import BackgroundRecorder

    topics = replay_topics(make_plan(profile).graph)
    wanted = list(topics.inputs) + list(topics.outputs) + [topics.sync]
    raw = work / "raw"
    env = _env(domain_id)
    run_cmd = [_qiki(), "run", "--profile", profile, "--mode", "lockstep", "--duration", f"{duration_s + EXTRA_S:g}",
               "--domain-id", str(domain_id), "--out", str(work / "run")]
    with BackgroundRecorder(raw, domain_id, topics=wanted, log_path=work / "record.log", env=env,
                            graph_file=config_dir() / "graph.yaml"):
        _log(f"{profile}: recorder ready; {' '.join(run_cmd[1:])}")
        proc = subprocess.Popen(run_cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
        if code != 0:
            raise SystemExit(f"record_fixtures: qiki run exited with code {code} (logs in {work / 'run'})")
    return raw


def make(profile: str, duration_s: float, domain_id: int, verify: bool, keep: bool) -> None:
    from qiki.plan import make_plan
    from qiki_tools.replay import ReplayError, replay, write_fixture
    from qiki_bag.reader import bag_info

    scenario = make_plan(profile).scenario
    work = Path(tempfile.mkdtemp(prefix=f"qiki-fixture-{profile}-"))
    try:
        t0 = time.monotonic()
        raw = record(profile, duration_s, domain_id, work)
        staged = work / f"{profile}_replay"
        fixture = write_fixture(raw, staged, profile, scenario, last_step_ns=round(duration_s * 1e9),
                                note=f"qiki run --profile {profile} --mode lockstep (scenario {scenario}), "
                                     f"first {duration_s:g} s of sim time")
        _log(f"{profile}: {len(fixture.steps)} steps, transitions {fixture.expected.transitions()}")
        if verify:
            got = replay(staged, domain_id=domain_id, log_dir=work / "replay")
            diff = got.differences(fixture.expected)
            if diff:
                raise ReplayError(f"{profile}: the replay of the new fixture differs from its recording: "
                                  + "; ".join(diff))
            _log(f"{profile}: replay reproduces the recording ({got.wall_time_s:.1f} s)")
        target = FIXTURES / f"{profile}_replay"
        FIXTURES.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        # the bag's split file is named after its directory: move the directory as a whole
        shutil.copytree(staged, target)
        size = sum(f.stat().st_size for f in target.iterdir())
        info = bag_info(target)
        _log(f"{profile}: wrote {target.relative_to(REPO)} ({size / 1000:.0f} kB: bag {info.size / 1000:.0f} kB, "
             f"{info.message_count} messages) in {time.monotonic() - t0:.0f} s")
    finally:
        if keep:
            _log(f"{profile}: work files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(DURATIONS_S), action="append",
                   help="profile to re-record (repeatable; default: all)")
    p.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID to use (default: a random one in 100-199)")
    p.add_argument("--no-verify", action="store_true", help="do not replay the new fixtures")
    p.add_argument("--keep", action="store_true", help="keep the raw recording and logs")
    args = p.parse_args(argv)
    domain = args.domain_id if args.domain_id is not None else random.Random().randrange(100, 200)
    from qiki_tools.replay import ReplayError
    from qiki_bag.background import RecorderError
    for profile in args.profile or sorted(DURATIONS_S):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                make(profile, DURATIONS_S[profile], domain, not args.no_verify, args.keep)
                break
            except (ReplayError, RecorderError) as exc:
                _log(f"error: {profile} (attempt {attempt}/{ATTEMPTS}): {exc}")
        else:
            _log(f"{profile}: giving up, nothing replaced (a rebuild during the recording also does this)")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
