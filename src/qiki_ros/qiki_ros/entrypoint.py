"""Common `main()` for QIKI nodes: init, spin, clean shutdown on Ctrl-C/SIGTERM, one-line config errors."""
import sys

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from qiki_ros.params import ConfigError
from qiki_ros.stop_signal import stop_on_signals

STOP_POLL_S = 0.1     # longest an idle node takes to notice a stop request [s]


def run_node(node_factory, args=None) -> int:
    """Create the node with `node_factory()`, spin it until SIGINT/SIGTERM, and return a process exit code.
    rclpy's own signal handlers are off: a signal only sets a stop request (qiki_ros.stop_signal)."""
    with stop_on_signals() as stop:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        node = None
        executor = SingleThreadedExecutor()
        try:
            node = node_factory()
            executor.add_node(node)
            while not stop.is_set() and rclpy.ok():
                executor.spin_once(timeout_sec=STOP_POLL_S)
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
