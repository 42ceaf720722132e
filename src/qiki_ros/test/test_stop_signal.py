"""A stop signal always ends a process promptly: the handler is re-entrant (a signal landing inside it
cannot deadlock it), a second signal or a hung shutdown ends it when asked to, and a child started with
qiki_ros.parent_death that lost its parent before arming exits. Plain processes, no ROS."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qiki_ros.parent_death import ORPHAN_EXIT_CODE, die_with_parent
from qiki_ros.stop_signal import StopRequest

SRC = str(Path(__file__).resolve().parents[3] / "src" / "qiki_ros")

# Raises SIGTERM again at every call/return inside the stop handler (up to NESTED times), so the handler
# runs inside itself at every point of its own code, wherever a lock could be held.
NESTING_CHILD = r"""
import signal, sys
from qiki_ros.stop_signal import stop_on_signals

HANDLERS = {"handle", "<lambda>"}
raised = 0

def in_handler(frame):
    while frame is not None:
        if frame.f_code.co_name in HANDLERS and frame.f_code.co_filename.endswith("stop_signal.py"):
            return True
        frame = frame.f_back
    return False

def hook(frame, event, arg):
    global raised
    if raised < NESTED and in_handler(frame):
        raised += 1
        signal.raise_signal(signal.SIGTERM)

with stop_on_signals(grace_s=GRACE) as stop:
    sys.setprofile(hook)
    signal.raise_signal(signal.SIGTERM)
    while not stop.wait():
        pass
    sys.setprofile(None)
print(f"stopped after {raised} nested signals", flush=True)
"""

HANGING_CHILD = r"""
import time
from qiki_ros.stop_signal import stop_on_signals
with stop_on_signals(grace_s=1.0) as stop:
    print("ready", flush=True)
    while True:          # a shutdown that never finishes: ignores the request
        time.sleep(0.05)
"""

WAITING_CHILD = r"""
from qiki_ros.stop_signal import stop_on_signals
with stop_on_signals() as stop:
    print("ready", flush=True)
    stop.wait()
print(f"stopped by signal {stop.signal}", flush=True)
"""

# setup() made in the grandparent, run in a grandchild: its parent is not the process that made it,
# which is what a child sees when its parent died between fork and prctl
ORPHAN_CHILD = r"""
import os
from qiki_ros.parent_death import die_with_parent
setup = die_with_parent()
if os.fork() == 0:
    if os.fork() == 0:
        setup()
        os._exit(0)
    os._exit(os.waitstatus_to_exitcode(os.wait()[1]))
print(os.waitstatus_to_exitcode(os.wait()[1]), flush=True)
"""

# a forked child still runs its parent's handlers until exec: the death signal must not be swallowed by them
HANDLED_CHILD = r"""
import os, signal
from qiki_ros.parent_death import die_with_parent
signal.signal(signal.SIGTERM, lambda *_: None)       # the parent's own handler, inherited by the fork
setup = die_with_parent()
pid = os.fork()
if pid == 0:
    setup()
    os.kill(os.getpid(), signal.SIGTERM)             # the parent's death signal, between prctl and exec
    os._exit(0)                                      # reached only if the signal was swallowed
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


def child(code: str, **subs) -> subprocess.Popen:
    for name, value in subs.items():
        code = code.replace(name, repr(value))
    return subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=SRC),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout_s: float = 30.0) -> str:
    try:
        return proc.communicate(timeout=timeout_s)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the child did not exit within {timeout_s:g} s: {proc.communicate()[0]}")


def test_a_signal_inside_the_handler_cannot_deadlock_it():
    proc = child(NESTING_CHILD, NESTED=30, GRACE=None)
    out = finish(proc)
    assert proc.returncode == 0, out
    nested = int(out.split("stopped after ")[1].split()[0])
    assert nested >= 3, out                          # it did run inside itself, at more than one point


def test_a_second_signal_exits_at_once_when_a_grace_is_given():
    proc = child(NESTING_CHILD, NESTED=30, GRACE=30.0)
    out = finish(proc)
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "stopped after" not in out, out


def test_a_shutdown_that_hangs_past_its_grace_is_ended_by_sigalrm():
    proc = child(HANGING_CHILD)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    finish(proc)
    assert proc.returncode == -signal.SIGALRM


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_wakes_a_waiter_blocked_without_timeout(sig):
    proc = child(WAITING_CHILD)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(sig)
    out = finish(proc)
    assert proc.returncode == 0, out
    assert f"stopped by signal {int(sig)}" in out, out


def test_stop_request_set_from_another_thread_wakes_wait():
    stop = StopRequest()
    try:
        assert stop.wait(0.01) is False and not stop.is_set()
        threading.Timer(0.05, stop.set).start()
        assert stop.wait(30.0) is True
        stop.set()                                   # idempotent
        assert stop.is_set() and stop.signal is None
    finally:
        stop.close()


def test_a_child_whose_parent_changed_before_arming_exits():
    proc = child(ORPHAN_CHILD)
    out = finish(proc)
    assert out.strip() == str(ORPHAN_EXIT_CODE), out


def test_children_are_started_from_the_main_thread_only():
    errors = []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, die_with_parent)))
    worker.start()
    worker.join()
    assert errors and "main thread" in str(errors[0].value)


def test_the_death_signal_between_prctl_and_exec_ends_the_child_not_an_inherited_handler():
    proc = child(HANDLED_CHILD)
    out = finish(proc)
    assert proc.returncode == 0 and out.strip() == str(-signal.SIGTERM), out
