"""Base class of the graph's nodes: an rclpy Node whose endpoints carry no QoS event handlers.

rclpy gives every publisher and subscription two event handlers by default (warnings on incompatible
QoS and type). Each is a waitable that SingleThreadedExecutor re-adds to its wait set on every spin:
measured here, they made up ~40 % of a node's CPU per received message (docs/PERFORMANCE.md). Every
endpoint of the graph takes its QoS from qiki_ros.qos, so the graph cannot be incompatible with
itself; an outside tool that asks for an incompatible QoS still gets the warning on its own side.
"""
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.node import Node

NO_PUB_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)
NO_SUB_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)


class GraphNode(Node):
    def create_publisher(self, *args, event_callbacks=None, **kwargs):
        return super().create_publisher(*args, event_callbacks=event_callbacks or NO_PUB_EVENTS, **kwargs)

    def create_subscription(self, *args, event_callbacks=None, **kwargs):
        return super().create_subscription(*args, event_callbacks=event_callbacks or NO_SUB_EVENTS, **kwargs)

    def count_input(self, counter: str, text: str, n: int = 1) -> None:
        """Add n to the node's input counter attribute `counter` (e.g. truth_dropped) and log `text` with the
        running total, throttled to one line a second: bad inputs are counted, never raised."""
        total = getattr(self, counter) + n
        setattr(self, counter, total)
        self.get_logger().warning(f"{text} ({total} {counter} so far)", throttle_duration_sec=1.0)
