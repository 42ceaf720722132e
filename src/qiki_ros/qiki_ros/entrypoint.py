"""Common `main()` for QIKI nodes: init, spin, clean shutdown on Ctrl-C/SIGTERM, one-line config errors."""
import sys

import rclpy
from rclpy.executors import ExternalShutdownException

from qiki_ros.params import ConfigError


def run_node(node_factory, args=None) -> int:
    """Create the node with `node_factory()`, spin it, and return a process exit code."""
    rclpy.init(args=args)
    node = None
    try:
        node = node_factory()
        rclpy.spin(node)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
