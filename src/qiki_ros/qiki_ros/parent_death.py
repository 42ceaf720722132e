"""A child process that the kernel stops when the process that started it dies, even by SIGKILL.

PR_SET_PDEATHSIG, set in the child between fork and exec, survives the exec and makes the kernel send
the signal when the parent goes away. Two gaps it leaves are closed here:
- it is armed only from the prctl call on: a parent that dies between fork and prctl sends nothing,
  so the child checks that its parent is still the process that forked it, and exits otherwise;
- until exec the child still has the parent's signal handlers: a death signal arriving between prctl and exec
  would be taken by the parent's (Python) handler and lost, and the exec'd program would never hear it; the
  child resets that signal to its default action (terminate) first;
- "the parent" is the THREAD that forked: started from a thread that ends first, the child gets the
  signal then (too early, never too late). Start children from a thread that lives as long as the
  process (the main thread) -- `die_with_parent` refuses others.
The child's own SIGTERM handling must then end it promptly (qiki_ros.stop_signal).
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from typing import Callable

_PR_SET_PDEATHSIG = 1
ORPHAN_EXIT_CODE = 128 + signal.SIGTERM   # the child's status when its parent died before it could arm


def die_with_parent(nice: int = 0, sig: int = signal.SIGTERM) -> Callable[[], None]:
    """`preexec_fn` for subprocess.Popen: the child gets `sig` when this process dies (and lowers its
    priority by `nice`). Call it in the main thread, just before Popen."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("die_with_parent: start child processes from the main thread (PR_SET_PDEATHSIG "
                           "follows the forking thread, which must live as long as the process)")
    parent = os.getpid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)   # loaded before the fork: nothing to load in the child

    def setup() -> None:
        signal.signal(sig, signal.SIG_DFL)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:        # the parent died before the line above: nobody will signal us
            os._exit(ORPHAN_EXIT_CODE)
        if nice:
            os.nice(nice)
    return setup



def exit_with(pid: int, code: int = ORPHAN_EXIT_CODE) -> None:
    """End this process (os._exit) as soon as process `pid` ends, even by SIGKILL: for a pool worker whose
    parent is not the process it works for (multiprocessing's forkserver outlives that process while its
    workers hold its liveness pipe, so PR_SET_PDEATHSIG toward it would never fire). Waits on a pidfd in a daemon
    thread; exits at once when `pid` is already gone."""
    import select
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(code)

    def watch() -> None:
        select.select([fd], [], [])        # readable when the process has ended
        os._exit(code)
    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()
