"""Common `main()` for QIKI nodes: init, spin, clean shutdown on Ctrl-C/SIGTERM, one-line config errors.

With QIKI_STANDBY=1 in its environment the process is a warm standby (graph.yaml `restart.standby`):
imports done and its DDS participant up and discovered (through a hidden placeholder node), it
waits for a line `go` on stdin from the runner, then creates its node, which takes over from a
crashed one within tens of milliseconds instead of seconds of start-up and discovery. End of
input, SIGINT or SIGTERM while waiting: it exits 0.

A stopping process never lingers: a second SIGINT/SIGTERM exits at once, and a shutdown still running
STOP_GRACE_S after the first one is ended by SIGALRM (qiki_ros.stop_signal). With the runner's
PR_SET_PDEATHSIG (qiki_ros.parent_death) that SIGTERM comes even when the runner was killed outright.

A node stopped by a signal exits without deleting its DDS entities one by one: Fast DDS can deadlock deleting an
endpoint while its timer thread checks a remote participant's liveliness (eProsima/Fast-DDS#6502, open), which left
a stopped node deaf until the runner's SIGKILL. The process's end releases everything; its peers drop it when its
lease runs out, as they do for a node that crashed.
"""
import os
import select
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from qiki_ros.params import ConfigError
from qiki_ros.stop_signal import stop_on_signals

STOP_POLL_S = 0.1     # longest an idle node takes to notice a stop request [s]
STOP_GRACE_S = 10.0   # longest a node may take to shut down after a stop signal; > the runner's SIGINT wait [s]
STANDBY_NODE_PREFIX = "_qiki_standby_"   # + pid: the hidden placeholder node of a waiting standby


def run_node(node_factory, args=None) -> int:
    """Create the node with `node_factory()`, spin it until SIGINT/SIGTERM, and return a process exit code.
    rclpy's own signal handlers are off: a signal only sets a stop request (qiki_ros.stop_signal)."""
    with stop_on_signals(grace_s=STOP_GRACE_S) as stop:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = None
        executor = SingleThreadedExecutor()
        try:
            placeholder = None
            if os.environ.get("QIKI_STANDBY") == "1":
                placeholder = _standby_until_takeover(stop)
                if placeholder is None:
                    return 0
            node = node_factory()
            if placeholder is not None:   # only now: the participant lives as long as one node does
                placeholder.destroy_node()
            executor.add_node(node)
            while not stop.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=STOP_POLL_S)
            if stop.is_set():
                _exit_without_dds_teardown(0)
            return 0
        except ExternalShutdownException:
            return 0
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            executor.shutdown()
            if node is not None:
                node.destroy_node()
            if rclpy.ok():
                rclpy.shutdown()


def _exit_without_dds_teardown(code: int) -> None:
    """End the process now, its output flushed, without the DDS teardown that can deadlock (module docstring)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _standby_until_takeover(stop):
    """Standby: keep a DDS participant up (a hidden node that ignores the command line's remaps)
    until stdin says `go` (returns that node, to destroy once the real one exists), or input ends
    or a stop signal arrives (None)."""
    placeholder = rclpy.create_node(f"{STANDBY_NODE_PREFIX}{os.getpid()}", use_global_arguments=False)
    if not stop.is_set():
        ready = select.select([sys.stdin, stop], [], [])[0]   # the stop request's pipe wakes it at once
        if sys.stdin in ready and not stop.is_set() and sys.stdin.readline().strip() == "go":
            return placeholder
    placeholder.destroy_node()
    return None
