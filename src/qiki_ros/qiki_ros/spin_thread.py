"""An rclpy node spun by a background thread, in a context of its own: for the tools that watch or drive a
graph (observer, console, replay) from a process whose main thread is busy with something else.

The context is initialised without rclpy's signal handlers: the process decides what Ctrl-C does
(qiki_ros.stop_signal), and a signal never shuts the context down under a running callback."""
from __future__ import annotations

import threading

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

STOP_POLL_S = 0.1     # longest a spin thread takes to notice close() [s]
NO_LOG_FILE_ARGS = ["qiki", "--ros-args", "--disable-external-lib-logs"]


def private_context(domain_id: int | None = None) -> Context:
    """A fresh, initialised rclpy Context (on ROS_DOMAIN_ID unless domain_id is given), no signal handlers,
    no rcl log file (a tool's log goes to its terminal; one file per process under ~/.ros/log grows forever)."""
    context = Context()
    rclpy.init(args=NO_LOG_FILE_ARGS, context=context, domain_id=domain_id,
               signal_handler_options=SignalHandlerOptions.NO)
    return context


class SpinThread:
    """Spins `node` on its own SingleThreadedExecutor in a daemon thread until close()."""

    def __init__(self, node, name: str = "qiki-spin"):
        self.node = node
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        # bounded waits: close() must not depend on waking a wait that could have started after the
        # executor's shutdown signal (destroying endpoints a wait still holds blocks for good)
        try:
            while not self._stop.is_set() and self.node.context.ok():
                self.executor.spin_once(timeout_sec=STOP_POLL_S)
        except Exception:  # the context shut down while spinning
            pass

    def close(self, shutdown_context: bool = True) -> None:
        """Stop spinning and destroy the node (and shut its context down unless the caller owns it)."""
        context = self.node.context
        self._stop.set()
        self._thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        if shutdown_context and context.ok():
            rclpy.shutdown(context=context)
        self._thread.join(timeout=2.0)
