"""SIGINT/SIGTERM as a stop request instead of an exception.

Python runs signal handlers at the next bytecode, which may be inside the message conversion that
rclpy calls from C++ while taking a message; a KeyboardInterrupt raised there surfaces as
"RuntimeError: Unable to convert call argument" and a failed exit. A handler that only sets an event
is safe anywhere; the spin loop checks it between callbacks."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGINT/SIGTERM set; the previous handlers are restored on exit.
    Outside the main thread (where handlers cannot be installed) the event is only set by the caller."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda _signum, _frame: stop.set())
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
