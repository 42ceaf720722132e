"""A passive observer node that watches the running graph: what `qiki run` summarises and tests await.

It subscribes like any ROS tool would (real DDS), keeps counters, and lets callers block on a
predicate over its state (`wait_for`) instead of sleeping.
"""
from __future__ import annotations

import secrets
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from qiki.graph import GraphSpec
from qiki.plan import Watcher, observer_topics
from qiki.run_state import STATUS_PORTS, GraphState, observe, routes
from qiki_msgs.msg import (AgentStatus, Event, RadarFrame, StepDone, TrackArray, TrackScore, VehicleState,
                           WorldTruth)
from qiki_ros import qos
from qiki_ros.entrypoint import STANDBY_NODE_PREFIX
from qiki_ros.graph_node import GraphNode
from qiki_ros.packing import stamp_ns
from qiki_ros.spin_thread import SpinThread, private_context


def standby_count(node_names) -> int:
    """How many of these ROS node names are waiting warm standbys (their placeholder nodes)."""
    return sum(name.startswith(STANDBY_NODE_PREFIX) for name in node_names)


class GraphObserver:
    """Runs an rclpy node in a background thread; `state` is read under `cond`.

    `streams=False` leaves out the per-step streams (frames, tracks, vehicle state, truth, scores): a
    benchmark that needs only sim time, agent state, events and /diagnostics then does not deserialise
    ~0.5 MB per step on the cores it measures."""

    def __init__(self, graph: GraphSpec, streams: bool = True, name: str | None = None, state: GraphState | None = None):
        # a name of its own: the graph's publishers wait for this observer by name (`watcher`)
        self.node = GraphNode(name or f"qiki_observer_{secrets.token_hex(4)}", context=private_context())
        self.watcher = Watcher(self.node.get_fully_qualified_name(), observer_topics(graph, streams))
        self.standbys = sum(n.restart.standby for n in graph.nodes)   # warm spares `qiki run` keeps
        self.state = state or GraphState()     # a fleet's: qiki.run_state.graph_state(plan)
        self.namespace = f"/{graph.namespace.strip('/')}/"
        self.received = 0
        self.cond = threading.Condition()
        # the graph's stream QoS (volatile): nothing is lost at start-up because the graph's publishers wait
        # for these subscriptions (qiki.plan OBSERVER_STREAMS / OBSERVER_STATUS) before the sim steps
        stream = qos.STREAM
        latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        types = {"sim.clock": Clock, "agent.status": AgentStatus, "agent.events": Event,
                 "agent.diagnostics": DiagnosticArray, "radar.frame_lr": RadarFrame, "radar.frame_sr": RadarFrame,
                 "tracker.tracks": TrackArray, "sim.vehicle_state": VehicleState,
                 "scorer.track_score": TrackScore, "sim.truth": WorldTruth, "sim.events": Event}
        profiles = {"sim.clock": QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT),
                    "agent.status": latched, "agent.events": latched, "sim.events": latched}
        for port, topic, update in routes(graph):    # the union tracks: their rows carry their band
            if streams or port in STATUS_PORTS + ("sim.events",):
                self.node.create_subscription(types[port], topic, self._callback(update), profiles.get(port, stream))
        # the step barrier's announcements: when the run ends, which step each stepping node has finished
        self.steps_done: dict[str, int] = {}      # node (graph name: radar, alpha/radar) -> newest step announced [ns]
        self.node.create_subscription(StepDone, graph.topic_of("sim.step_done"), self._on_step_done, qos.SYNC)
        self._spinner = SpinThread(self.node, "qiki-observer")

    def _on_step_done(self, msg: StepDone) -> None:
        node, t_ns = msg.node.removeprefix(self.namespace), stamp_ns(msg.header.stamp)
        with self.cond:
            if t_ns > self.steps_done.get(node, -1):
                self.steps_done[node] = t_ns
            self.cond.notify_all()

    def wait_for_step(self, nodes, t_ns: int, timeout_s: float) -> bool:
        """Block until every one of `nodes` has announced step t_ns (StepDone) or timeout."""
        return self.wait_for(lambda _s: all(self.steps_done.get(n, -1) >= t_ns for n in nodes), timeout_s)

    def _callback(self, update):
        """The subscription callback applying `update` (qiki.run_state) to the state under the lock."""
        def callback(msg) -> None:
            now = time.monotonic()
            with self.cond:
                observe(self.state, update, msg, now)
                self.received += 1
                self.cond.notify_all()
        return callback

    def drain(self, quiet_s: float = 0.5, timeout_s: float = 15.0) -> None:
        """After the graph stopped: take what is still queued for us until nothing arrives for quiet_s."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while time.monotonic() < deadline:
                seen = self.received
                self.cond.wait(quiet_s)
                if self.received == seen:
                    return

    def wait_for(self, predicate, timeout_s: float) -> bool:
        """Block until predicate(state) is true (re-checked on every message) or timeout."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not predicate(self.state):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def wait_for_node_names(self, predicate, timeout_s: float) -> set[str] | None:
        """Poll the ROS graph's node names (hidden ones too, e.g. warm standbys) until predicate(names)
        holds; returns them, or None after timeout_s. rclpy offers no wait on a graph change."""
        deadline = time.monotonic() + timeout_s
        while not predicate(names := set(self.node.get_node_names())):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return names

    def wait_for_standbys(self, timeout_s: float) -> set[str] | None:
        """Wait until every warm standby of the graph (graph.yaml restart.standby) has its placeholder node
        in the ROS graph; returns the node names, or None after timeout_s."""
        return self.wait_for_node_names(lambda names: standby_count(names) >= self.standbys, timeout_s)

    def read(self, fn):
        """fn(state) under the state's lock (a consistent snapshot of what fn reads)."""
        with self.cond:
            return fn(self.state)

    def close(self) -> None:
        self._spinner.close()
