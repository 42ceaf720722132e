"""A node stopped by Ctrl-C in the middle of taking a message exits cleanly with code 0.

rclpy builds each received message by calling its Python class from C++. Python runs signal handlers
at the next bytecode, so a SIGINT that lands during a take runs the handler inside that conversion;
had the handler raised KeyboardInterrupt (Python's default, which rclpy chains to) the node would die
with "RuntimeError: Unable to convert call argument" and exit code 1 — seen once in CI on the scorer.
The child below makes that timing certain: the message class raises SIGINT on itself while rclpy
converts the first message. `qiki_ros.entrypoint.run_node` must finish the callback and exit 0."""
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.integration

CHILD = r"""
import signal, sys
from rclpy.node import Node
from qiki_msgs.msg import Event
from qiki_ros import qos
from qiki_ros.entrypoint import run_node

original_init = Event.__init__
def init_with_sigint(self, *args, **kwargs):
    if Event.raised is False:
        Event.raised = True
        signal.raise_signal(signal.SIGINT)      # handled here, inside rclpy's conversion of a taken message
    original_init(self, *args, **kwargs)
Event.raised = None

class Probe(Node):
    def __init__(self):
        super().__init__("probe")
        self.create_subscription(Event, "probe", self.on_event, qos.EVENTS)
        Event.__init__, Event.raised = init_with_sigint, False
        print("subscribed", flush=True)

    def on_event(self, msg):
        print(f"took code {msg.code}", flush=True)

sys.exit(run_node(Probe))
"""


def test_sigint_while_taking_a_message_exits_zero(domain_id, leftover_processes):
    import rclpy
    from rclpy.context import Context
    from rclpy.event_handler import PublisherEventCallbacks
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from qiki.supervisor import graph_env
    from qiki_msgs.msg import Event
    from qiki_ros import qos

    context = Context()
    rclpy.init(context=context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("sender", context=context)
    matched = threading.Event()
    pub = node.create_publisher(Event, "/probe", qos.EVENTS, event_callbacks=PublisherEventCallbacks(
        matched=lambda info: matched.set() if info.current_count else None))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=graph_env(domain_id), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert matched.wait(60), "the probe node never subscribed"
        pub.publish(Event(code=4242))
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            out, _ = proc.communicate()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "took code 4242" in text, text
    assert "Traceback" not in text, text
    assert leftover_processes(domain_id) == []
