"""SIGINT/SIGTERM as a stop request instead of an exception, safe to raise at any moment.

Python runs signal handlers at the next bytecode, which may be inside the message conversion that
rclpy calls from C++ while taking a message; a KeyboardInterrupt raised there surfaces as
"RuntimeError: Unable to convert call argument" and a failed exit. The handler therefore only records
the request; the spin loop checks it between callbacks.

The handler takes no lock: a second signal can run the handler again inside the first one (Python
checks for signals between any two bytecodes, also inside a lock acquire), and threading.Event.set,
which takes its Condition's lock, then waits forever on a lock its own frame below holds -- a process
deaf to every later signal, that outlives its runner. A StopRequest is a plain flag plus a self-pipe
(one non-blocking write), so waiters wake at once and nothing in the handler can block.
"""
from __future__ import annotations

import math
import os
import select
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A flag that a signal handler (or any thread) sets without a lock; `wait()` wakes as soon as it is set.
    The interface of threading.Event that the spin loops use: set / is_set / wait."""

    def __init__(self) -> None:
        self.signal: int | None = None     # the first stop signal received, None if set() or not set
        self._flag = False
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)

    def set(self) -> None:
        """Request the stop. Safe in a signal handler, even one that interrupts itself."""
        if self._flag:
            return
        self._flag = True
        try:
            os.write(self._write_fd, b"\0")     # wakes wait(); the pipe stays readable from now on
        except OSError:                         # full or closed: the flag alone still stops the loops
            pass

    def is_set(self) -> bool:
        return self._flag

    def fileno(self) -> int:
        """Readable once set: wait for it in select() next to other files."""
        return self._read_fd

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set or `timeout` seconds have passed; return whether it is set."""
        if not self._flag:
            try:
                select.select([self._read_fd], [], [], timeout)
            except (OSError, ValueError):       # closed under us: behave as a plain timeout-less check
                pass
        return self._flag

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._read_fd = self._write_fd = -1


@contextmanager
def stop_on_signals(grace_s: float | None = None) -> Iterator[StopRequest]:
    """Yield a StopRequest that SIGINT/SIGTERM set; the previous handlers are restored on exit.
    Outside the main thread (where handlers cannot be installed) it is only set by the caller.

    With `grace_s`, the process never outlives a stop request by more than that: a second stop signal
    exits at once (status 128 + signal), and the first one arms alarm(2), whose SIGALRM (default action:
    terminate) ends a shutdown that hangs. The alarm stays armed after the block: the process is expected
    to exit. For processes whose stop must never lose data (a bag recorder), leave grace_s None."""
    stop = StopRequest()
    previous = {}

    def handle(signum, _frame) -> None:
        if grace_s is not None and stop.is_set():
            os._exit(128 + signum)
        if stop.signal is None:
            stop.signal = signum
        if grace_s is not None:
            signal.alarm(max(1, math.ceil(grace_s)))
        stop.set()

    if threading.current_thread() is threading.main_thread():
        if grace_s is not None:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
        for sig in STOP_SIGNALS:
            previous[sig] = signal.signal(sig, handle)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        stop.close()
