"""A ``qiki bag record`` process next to a running graph (``qiki run --record``, the replay fixtures).

    with BackgroundRecorder(run_dir / "bag", domain_id=dom, log_path=run_dir / "logs" / "bag.log"):
        ...   # start the graph here: the recorder is subscribed to every graph topic already
    # leaving the block stops the recorder with SIGINT: pending messages written, metadata.yaml complete

``qiki run --record`` uses :meth:`BackgroundRecorder.finish` instead of :meth:`stop`: it never raises and
returns the bag's state for summary.json (complete, write_error after a disk full, failed...).

The process runs in its own session with PR_SET_PDEATHSIG (it never outlives its parent), with the
project's discovery (qiki_ros.discovery: loopback unless asked otherwise) and the given ROS_DOMAIN_ID.
:meth:`start` returns once the recorder logged that it is ready (event driven: its stderr is read line by
line), so nothing the graph publishes afterwards is missed.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

from qiki_bag.commands import READY, parse_write_error, record_command
from qiki_bag.recorder import DEFAULT_TOPICS, topic_wanted
from qiki_ros.discovery import discovery_env
from qiki_ros.parent_death import die_with_parent


class RecorderError(RuntimeError):
    """The recorder did not start, or did not finish its bag cleanly."""


class BackgroundRecorder:
    def __init__(self, out_dir: Path | str, domain_id: int, topics: list[str] | None = None,
                 log_path: Path | str | None = None, env: dict[str, str] | None = None,
                 compression: str | None = None, include_history: bool = True,
                 use_sim_time: bool = False, graph_file: Path | str | None = None) -> None:
        self.out_dir = Path(out_dir)
        # a name of its own: the graph's publishers wait for this recorder by name (`watcher`)
        self.node_name = f"qiki_bag_recorder_{secrets.token_hex(4)}"
        self.cmd = record_command(self.out_dir, domain_id, topics, compression, include_history=include_history,
                                  use_sim_time=use_sim_time, node_name=self.node_name, graph_file=graph_file)
        self.patterns = tuple(topics or DEFAULT_TOPICS)
        self.env = dict(os.environ if env is None else env)
        self.env.update(discovery_env(self.env), ROS_DOMAIN_ID=str(int(domain_id)), PYTHONUNBUFFERED="1")
        self.log_path = Path(log_path) if log_path else None
        self.lines: list[str] = []
        self.popen: subprocess.Popen | None = None
        self._cond = threading.Condition()
        self._pump: threading.Thread | None = None

    def records(self, topic: str) -> bool:
        """Whether this recorder records `topic` (its topic patterns, as ``qiki bag record --topics``)."""
        return topic_wanted(topic, self.patterns)

    # ------------------------------------------------------------------------------------------ control
    def start(self, timeout_s: float = 60.0) -> BackgroundRecorder:
        """Start the recorder and wait until it is subscribed (RecorderError if it is not within timeout_s)."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.popen = subprocess.Popen(self.cmd, env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True, preexec_fn=die_with_parent())
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()
        if not self.wait_line(lambda line: line.endswith(f": {READY}"), timeout_s):
            self.kill()
            raise RecorderError(f"qiki bag record did not become ready within {timeout_s:g} s: {self.tail()}")
        return self

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGINT (the recorder drains and closes the bag); SIGKILL after timeout_s. Returns the exit code;
        RecorderError when the bag was not closed cleanly."""
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            self._signal(signal.SIGINT)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RecorderError(f"qiki bag record did not stop within {timeout_s:g} s: {self.tail()}") from None
        if self._pump is not None:
            self._pump.join(timeout=5)
        code = self.popen.returncode
        if code != 0:
            raise RecorderError(f"qiki bag record exited with code {code}: {self.tail()}")
        return code

    def finish(self, timeout_s: float = 30.0) -> dict:
        """Stop the recorder and say what became of the bag, without raising: ``{"path", "state",
        "messages", "error"}`` with state ``complete``, ``write_error`` (the recorder hit a disk error:
        ``messages`` kept, recoverable with ``qiki bag reindex``), ``failed`` (another non-zero exit) or
        ``killed`` (did not stop within timeout_s)."""
        outcome = {"path": str(self.out_dir), "state": "complete", "messages": None, "error": None}
        try:
            self.stop(timeout_s)
        except RecorderError as exc:
            outcome["state"], outcome["error"] = ("killed" if self.popen.returncode in (-9, None) else "failed"), \
                str(exc)
        with self._cond:
            lines = list(self.lines)
        for line in reversed(lines):
            written = parse_write_error(line)
            if written is not None:
                outcome.update(state="write_error", messages=written[0], error=written[1])
                break
            m = re.search(r"recorded (\d+) messages .* into ", line)
            if m and outcome["state"] == "complete":
                outcome["messages"] = int(m.group(1))
                break
        return outcome

    def kill(self) -> None:
        """SIGKILL the recorder's process group (the bag is then incomplete)."""
        if self.popen is not None and self.popen.poll() is None:
            self._signal(signal.SIGKILL)
            self.popen.wait(10)

    def __enter__(self) -> BackgroundRecorder:
        return self.start()

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is None:
            self.stop()
        else:
            try:
                self.stop(timeout_s=10)
            except RecorderError:
                pass
            finally:
                self.kill()

    # ------------------------------------------------------------------------------------------ output
    def wait_line(self, pred, timeout_s: float) -> str | None:
        """First stderr line matching pred, waiting up to timeout_s (None on timeout or exit)."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if pred(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self._pump is not None and not self._pump.is_alive()):
                    return None
                self._cond.wait(min(left, 0.5))

    def tail(self, n: int = 5) -> str:
        with self._cond:
            return " | ".join(self.lines[-n:])

    def _read(self) -> None:
        log = open(self.log_path, "w") if self.log_path else None
        try:
            for line in self.popen.stderr:
                if log:
                    log.write(line)
                    log.flush()
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        finally:
            if log:
                log.close()
            with self._cond:
                self._cond.notify_all()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
