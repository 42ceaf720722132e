"""SIGKILL (or SIGTERM, or Ctrl-C) a runner (`qiki run`, `qiki run --record`, `qiki bringup`) at a chosen
moment of its life and see whether any process it started outlives it: tests/integration/test_runner_kill.py
asserts none does, bench/bench_kill.py prints the figures.

The moments, each an observable state of the graph (then `delay_s` more):
- starting: `delay_s` after the runner was started (its own start-up, the recorder's);
- spawning: its first child process exists (nodes starting up: imports, DDS participants);
- nodes-up: every node of the graph has its process;
- standbys-up: every warm spare is up too (they start STANDBY_DELAY_S after their node);
- stepping: the radar publishes frames (needs a GraphObserver on the domain).
The processes of a domain are found in /proc (qiki.supervisor.processes_in_domain); their end is awaited
on pidfds, so the time until the last one died is measured, not polled.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from qiki.supervisor import graph_env, processes_in_domain
from qiki_ros.parent_death import die_with_parent

MOMENTS = ("starting", "spawning", "nodes-up", "standbys-up", "stepping")
PROC_POLL_S = 0.05    # /proc has no change notification: how often the runner's children are counted [s]


@dataclass
class KillOutcome:
    """One SIGKILL of a runner, and what became of the processes it had started."""
    runner: str                       # run, run --record, bringup
    moment: str                       # the moment asked for (MOMENTS)
    reached: bool                     # False: the runner died, or the moment did not come, before the kill
    kill_at_s: float                  # wall seconds from the runner's start to the signal
    signal: str                       # SIGKILL, SIGTERM, SIGINT
    children: int                     # the processes it had started, alive at the signal
    runner_exit_s: float | None       # seconds from the signal until the runner ended (None: SIGKILLed late)
    last_exit_s: float | None         # seconds from the signal until the last process was gone (None: survivors)
    survivors: list[tuple[int, str]] = field(default_factory=list)   # (pid, command line), killed afterwards
    exit_code: int | None = None      # the runner's


def runner_command(qiki: Path, runner: str, domain_id: int, out_dir: Path) -> list[str]:
    """Command line of `runner` ('run', 'run --record' or 'bringup') on its own domain."""
    base = [str(qiki), *runner.split(), "--domain-id", str(domain_id)]
    if runner.startswith("run"):
        base += ["--out", str(out_dir), "--duration", "3000"]
    return base


def standby_env(pid: int) -> bool:
    """Whether the process is a warm spare (QIKI_STANDBY=1 in its environment)."""
    try:
        return b"QIKI_STANDBY=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _children(runner_pid: int) -> list[int]:
    """The runner's child processes, from its /proc children lists (much cheaper to poll than a scan of
    every process)."""
    pids = []
    for children in Path(f"/proc/{runner_pid}/task").glob("*/children"):
        try:
            pids += [int(pid) for pid in children.read_text().split()]
        except OSError:
            pass
    return pids


def _counts(runner_pid: int) -> tuple[int, int]:
    """(node processes, spares) among the runner's children (the recorder excluded)."""
    nodes = spares = 0
    for pid in _children(runner_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--ros-args" not in cmd or b"qiki_bag.commands" in cmd:    # the recorder: `python -m qiki_bag.commands`
            continue
        if standby_env(pid):
            spares += 1
        else:
            nodes += 1
    return nodes, spares


def _await_moment(proc: subprocess.Popen, moment: str, n_nodes: int, n_spares: int, observer, t0: float,
                  timeout_s: float) -> bool:
    """Block until `moment` has come (True), or the runner died / timeout_s passed (False)."""
    deadline = t0 + timeout_s
    if moment == "starting":
        return True
    if moment == "stepping":
        return observer.wait_for(lambda s: s.seen_wall.get("frame", 0.0) > t0, timeout_s)
    while proc.poll() is None and time.monotonic() < deadline:
        if moment == "spawning":
            if _children(proc.pid):
                return True
        else:
            nodes, spares = _counts(proc.pid)
            if nodes >= n_nodes and (moment == "nodes-up" or spares >= n_spares):
                return True
        time.sleep(PROC_POLL_S)
    return False


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait until every process of `pids` has ended (pidfd readable) or timeout_s; return those still alive."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout_s
    try:
        while fds and (left := deadline - time.monotonic()) > 0:
            for fd in select.select(list(fds), [], [], left)[0]:
                os.close(fd)
                del fds[fd]
        return sorted(fds.values())
    finally:
        for fd in fds:
            os.close(fd)


def kill_runner(qiki: Path, runner: str, domain_id: int, out_dir: Path, moment: str, delay_s: float,
                n_nodes: int, n_spares: int, observer=None, sig: int = signal.SIGKILL, to_group: bool = False,
                moment_timeout_s: float = 120.0, gone_timeout_s: float = 30.0) -> KillOutcome:
    """Start `runner`, send it `sig` `delay_s` after `moment` (to its process group with `to_group`, as a
    terminal's Ctrl-C does), wait for the runner to end (SIGKILLed after gone_timeout_s), then for all the
    processes it started. Survivors are SIGKILLed after being counted, so that the domain is free again."""
    if processes_in_domain(domain_id):
        raise RuntimeError(f"domain {domain_id} still has processes: {processes_in_domain(domain_id)}")
    t0 = time.monotonic()
    proc = subprocess.Popen(runner_command(qiki, runner, domain_id, out_dir), env=graph_env(domain_id),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=die_with_parent())
    sent, before = None, []
    try:
        reached = _await_moment(proc, moment, n_nodes, n_spares, observer, t0, moment_timeout_s)
        try:
            proc.wait(delay_s)    # the kill moment itself; the runner ending on its own first is reported
            reached = False
        except subprocess.TimeoutExpired:
            pass
        before = [pid for pid, _ in processes_in_domain(domain_id) if pid != proc.pid]
        sent = time.monotonic()
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        proc.wait(gone_timeout_s)
    except subprocess.TimeoutExpired:
        pass
    finally:
        sent = sent or time.monotonic()
        runner_exit = time.monotonic() - sent if proc.poll() is not None else None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    children = sorted(set(before) | {pid for pid, _ in processes_in_domain(domain_id)})
    alive = wait_gone(children, gone_timeout_s)
    last_exit = time.monotonic() - sent
    survivors = [(pid, cmd) for pid, cmd in processes_in_domain(domain_id) if pid in alive or pid not in children]
    for pid, _ in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_gone([pid for pid, _ in survivors], 10.0)
    return KillOutcome(runner, moment, reached, round(sent - t0, 3), signal.Signals(sig).name, len(before),
                       None if runner_exit is None else round(runner_exit, 3),
                       None if survivors else round(last_exit, 3), survivors, proc.returncode)
