"""Run a campaign's runs on a local process pool or a Dask distributed cluster, filling the table as they end.

Each run is a `RunJob` (plain data, picklable) executed by `execute_job` in a worker: it calls
`qiki.engines.run_scenario` on the run's files and returns the run's table row; a run that raises is a row with
status "error" and the exception's one line, never a lost campaign. The parent materialises each run's files
before submitting it, keeps at most one run per worker slot in flight (so a stop request stops promptly) and
flushes the table after every finished run.

Ctrl-C (SIGINT) once: no new runs; the running ones finish and are recorded. Twice: the running ones are
cancelled (workers terminated) and not recorded. Either way the table is written and the campaign returns
`interrupted` (the verb exits 130); `--resume` continues it.
"""
from __future__ import annotations

import concurrent.futures
import importlib.util
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from qiki.domains import DOMAIN_MAX

GRAPH_DOMAIN_BASE = 100     # graph-engine campaigns: worker slot k runs its graphs on ROS domain 100 + k
_worker_domain: int | None = None   # set in each pool worker by _init_worker


class CampaignStartError(ValueError):
    """A campaign that cannot start as asked (table exists, cluster unreachable, too many workers); one line."""


@dataclass(frozen=True)
class RunJob:
    """One run as a worker gets it."""

    run: int
    seed: int
    engine: str
    scenario: str
    overrides: str
    out: str
    command: str
    values: dict[str, Any]
    safe_radius_m: float


def one_line(exc: BaseException) -> str:
    """The exception as one line: the project's input errors (ValueError subclasses: SchemaFileError, UsageError,
    ConfigError, ...) as they are; anything else with its type, e.g. "KeyError: 'x'"."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute_job(job: RunJob) -> dict:
    """Run one job (in a worker) and return its table row."""
    from qiki_tools.campaign.table import error_figures, summary_figures
    t0 = time.monotonic()
    base = {"run": job.run, "seed": job.seed, "command": job.command, **job.values}
    try:
        from qiki.engines import RunRequest, run_scenario
        domain = None
        if job.engine == "graph":
            os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
            domain = _worker_domain
        summary = run_scenario(RunRequest(scenario=job.scenario, out=Path(job.out), engine=job.engine,
                                          overrides=Path(job.overrides), domain_id=domain, quiet=True))
    except Exception as exc:        # a run that fails is a row with its error, never a lost campaign
        return {**base, "status": "error", "error": one_line(exc), "wall_time_s": time.monotonic() - t0,
                **error_figures(job.safe_radius_m)}
    if summary.get("interrupted"):          # stopped from outside before its duration: not a result
        stopped = summary["interrupted"]
        return {**base, "status": "error", "wall_time_s": time.monotonic() - t0, **error_figures(job.safe_radius_m),
                "error": f"interrupted by {stopped['by']} at sim {stopped['sim_time_s']:g} s (--resume runs it again)"}
    return {**base, "status": "ok", "error": "", "wall_time_s": time.monotonic() - t0,
            **summary_figures(summary, job.safe_radius_m)}


ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")   # set in workers, as Dask's nanny does


def _init_worker(campaign_pid: int, domains) -> None:
    """Pool worker start: Ctrl-C is the parent's to handle (a terminal sends it to the whole process group);
    one BLAS thread (a worker per core already uses the cores: more threads only contend; numpy is not imported
    yet here); take a graph-engine domain of its own. A worker ends when the campaign's process ends, even by
    SIGKILL (a graph run's node processes then end with it): no run outlives the campaign."""
    global _worker_domain
    from qiki_ros.parent_death import exit_with
    exit_with(campaign_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ONE_THREAD:
        os.environ.setdefault(name, "1")
    if domains is not None:
        _worker_domain = domains.get()


def _main_by_name() -> None:
    """Let new workers run qiki_tools.campaign.worker_main (nothing) as their main, not the parent's main script."""
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None:
        main.__spec__ = importlib.util.find_spec("qiki_tools.campaign.worker_main")


class LocalPool:
    """`workers` processes on this machine (forked from a fresh forkserver: no state inherited from the parent)."""

    def __init__(self, workers: int, engine: str):
        if engine == "graph" and GRAPH_DOMAIN_BASE + workers - 1 > DOMAIN_MAX:
            raise CampaignStartError(f"--workers {workers}: a graph campaign needs one ROS domain per worker "
                             f"({GRAPH_DOMAIN_BASE}..{DOMAIN_MAX}: at most {DOMAIN_MAX - GRAPH_DOMAIN_BASE + 1})")
        self.slots, self.engine = workers, engine
        self.where = f"local pool of {workers} worker{'s' * (workers > 1)}"
        self.executor = self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")   # workers fork from a server that imported this module once
        ctx.set_forkserver_preload([__name__])
        _main_by_name()
        domains = None
        if self.engine == "graph":
            domains = ctx.Queue()
            for k in range(self.slots):
                domains.put(GRAPH_DOMAIN_BASE + k)
        return concurrent.futures.ProcessPoolExecutor(self.slots, mp_context=ctx, initializer=_init_worker,
                                                      initargs=(os.getpid(), domains))

    def submit(self, job: RunJob):
        try:
            return self.executor.submit(execute_job, job)
        except BrokenProcessPool:    # a worker died: its runs are error rows; go on
            self.executor.shutdown(wait=True)
            self.executor = self._start()
            return self.executor.submit(execute_job, job)

    def wait_any(self, pending: set) -> set:
        return concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED).done

    @staticmethod
    def result(future) -> dict:
        return future.result()

    def abort(self) -> None:
        """Cancel what runs: terminate the workers (a run in progress is lost, and re-run by --resume)."""
        processes = list((self.executor._processes or {}).values())   # no public API before Python 3.14
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join()

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class DaskCluster:
    """An existing Dask distributed scheduler (`--cluster tcp://HOST:PORT`); one run per worker thread."""

    def __init__(self, address: str):
        from distributed import Client
        from distributed.comm import parse_address, parse_host_port
        try:                # the address first: a Client half-built from a bad one hangs in its finaliser
            parse_host_port(parse_address(address)[1])
        except (ValueError, TypeError) as exc:
            raise CampaignStartError(f"--cluster {address}: not a scheduler address ({one_line(exc)}); expected "
                                     "e.g. tcp://10.0.0.5:8786") from None
        try:
            self.client = Client(address, timeout=20, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CampaignStartError(f"--cluster {address}: cannot reach a Dask scheduler there ({one_line(exc)})") \
                from None
        threads = sum(self.client.nthreads().values())
        self.slots = max(1, threads)
        self.where = f"Dask cluster {address} ({threads} worker thread{'s' * (threads > 1)})"

    def submit(self, job: RunJob):
        return self.client.submit(execute_job, job, pure=False, key=f"qiki-run-{job.run:05d}-{os.getpid()}-"
                                                                  f"{time.monotonic_ns()}")

    def wait_any(self, pending: set) -> set:
        from distributed import as_completed
        return {next(as_completed(list(pending), loop=self.client.loop))}

    @staticmethod
    def result(future) -> dict:
        return future.result()

    def abort(self) -> None:
        pass        # close() cancels what the client submitted

    def close(self) -> None:
        self.client.close()


class StopRequest:
    """SIGINT handler: the first asks to stop submitting, the second cancels the running runs."""

    def __init__(self, say: Callable[[str], None]):
        self.count = 0
        self.say = say

    def __call__(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            self.say("stopping: no new runs; the running ones finish (Ctrl-C again to cancel them)")
        else:
            raise KeyboardInterrupt


@dataclass
class Progress:
    finished: int = 0
    errors: int = 0
    interrupted: bool = False


def run_jobs(backend, jobs: Iterable[tuple[int, Callable[[], RunJob]]], on_row: Callable[[dict], None],
             stop: StopRequest, error_row: Callable[[int, str], dict]) -> Progress:
    """Submit jobs (run index, a function materialising its RunJob) keeping at most backend.slots in flight;
    on_row(row) for every finished run. Returns when all ran or a stop was asked for."""
    progress = Progress()
    pending: dict[Any, int] = {}
    todo = iter(jobs)
    try:
        while True:
            while stop.count == 0 and len(pending) < backend.slots:
                item = next(todo, None)
                if item is None:
                    break
                run, make = item
                pending[backend.submit(make())] = run
            if not pending:
                break
            for future in backend.wait_any(set(pending)):
                run = pending.pop(future)
                try:
                    row = backend.result(future)
                except Exception as exc:    # the worker itself died (BrokenProcessPool, KilledWorker)
                    row = error_row(run, f"worker lost: {one_line(exc)}")
                progress.finished += 1
                progress.errors += row["status"] != "ok"
                on_row(row)
        progress.interrupted = stop.count > 0
    except KeyboardInterrupt:
        backend.abort()
        progress.interrupted = True
    return progress


def with_sigint(handler: StopRequest):
    """Context manager: `handler` on SIGINT while inside (main thread only), the previous one restored after."""
    class _Scope:
        def __enter__(self):
            self.old = signal.signal(signal.SIGINT, handler)
            return handler

        def __exit__(self, *exc):
            signal.signal(signal.SIGINT, self.old)
    return _Scope()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def say(text: str) -> None:
    print(f"qiki campaign: {text}", file=sys.stderr)
