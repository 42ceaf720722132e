"""ROS side of the step barrier: counted publishers, stamped subscriptions and StepDone messages.

A node declares what it publishes and subscribes through StepSync; its `on_step(t_ns, inputs)`
callback runs once per sim step, when the barrier releases it, and StepDone(t) follows automatically.
A wall-clock timer drops an upstream node that stopped announcing (`sync.producer_timeout_s`), so a
crashed node does not freeze the graph; it is re-admitted when it announces again.

Every input is admitted first (qiki_ros.step_admission): on the sim's step grid (`sync.step_ns`), after
the last released step, within `sync.horizon_steps` of the newest known step, and a StepDone only from
this graph run (`sync.run_id`, chosen by the runner) and a member of this graph. What fails is dropped,
counted per topic and reason (`dropped_total.step_rejected_<reason>.<topic>` in /diagnostics and
Prometheus), logged, and reported once per burst as event STEP_INPUT_REJECTED.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.subscription_content_filter_options import ContentFilterOptions

from qiki_msgs.msg import Event, StepDone
from qiki_ros import qos
from qiki_ros.diagnostics import NodeDiagnostics
from qiki_ros.events import EventCode
from qiki_ros.node_health import ERROR, WARN
from qiki_ros.packing import stamp_ns, to_stamp
from qiki_ros.process_start import seconds_since_start
from qiki_ros.step_admission import StepGrid
from qiki_ros.step_barrier import StepBarrier
from qiki_ros.subscriber_gate import SubscriberGate, endpoint_node

if TYPE_CHECKING:
    from qiki_ros.node_config import GraphNodeConfig


def qualified(namespace: str, name: str) -> str:
    """A `sync.upstream` / `sync.members` entry as a full node name: an absolute entry (`/qiki/alpha/agent`, a
    fleet's node in another namespace) as it is, a relative one (`radar`) in the node's own namespace."""
    return name if name.startswith("/") else f"{namespace}/{name}"


class CountedPublisher:
    """A publisher that counts what it sent for the current step (and in total, for diagnostics)."""

    def __init__(self, publisher, counts: Counter, totals: Counter):
        self.publisher, self._counts, self._totals = publisher, counts, totals
        self.topic_name = publisher.topic_name
        self._counts[self.topic_name] += 0      # listed in every StepDone, 0 when nothing was sent

    def publish(self, msg) -> None:
        self.publisher.publish(msg)
        self._counts[self.topic_name] += 1
        self._totals[self.topic_name] += 1

    def get_subscription_count(self) -> int:
        return self.publisher.get_subscription_count()


class StepSync:
    """Barrier membership of one node, configured by its `sync.*` and `qos.ports` parameters (`config`: the
    node's parameter model). Upstream node names come from `sync.upstream`, which the launcher derives from config/graph.yaml (the producers of the topics the node reads);
    an entry starting with `/` is a full node name, any other is in the node's own namespace (`qualified`).
    `announce=False` for the sim, which announces its own steps rather than its inputs' (and times its
    own stepping with `diagnostics.timed()`); otherwise every on_step is timed for /diagnostics.
    `watch_members` (the sim) hears every member's StepDone, so `heard` tells which member went silent."""

    def __init__(self, node: Node, config: "GraphNodeConfig", on_step: Callable[[int, dict[str, list[Any]]], None],
                 announce: bool = True, watch_members: bool = False, events=None):
        self.node = node
        sync = config.sync
        ns = node.get_namespace().rstrip("/")
        # every node of the barrier (the sim starts stepping only when all of them listen)
        self.members = {qualified(ns, name) for name in sync.members if name}
        self.upstream = {qualified(ns, name) for name in sync.upstream if name}
        self.producer_timeout_s = sync.producer_timeout_s
        self.run_id = sync.run_id
        grid = StepGrid(sync.step_ns, sync.horizon_steps)
        self.ports = qos.PortProfiles(config.qos.ports, node.get_name())
        self.on_step = on_step
        self.announce = announce
        self.watch_members = watch_members
        self.heard: dict[str, float] = {}    # node -> wall (monotonic) time of its latest StepDone
        self.heard_step: dict[str, int] = {}  # node -> newest step it announced [ns of sim time]
        self.counts: Counter = Counter()
        self.pub_done = node.create_publisher(StepDone, "step_done", self.ports["step_done"])
        self.barrier = StepBarrier(self.upstream, set(), grid=grid, run_id=self.run_id,
                                   sync_topic=self.pub_done.topic_name,
                                   members=self.upstream | (self.members if watch_members else set()))
        self.barrier.on_reject = self._rejected
        self.pub_events = events or node.create_publisher(Event, "events", self.ports["events"])
        self._last_release_s = time.monotonic()
        # a node restarted into a running graph joins it live: its subscriptions are volatile, so the
        # transient-local history of its inputs (up to the QoS depth of old steps) is not delivered again
        self.joining = sync.join_running
        self._stepped = False
        self.diagnostics = NodeDiagnostics(node, config, self.ports)
        self.health = self.diagnostics.health
        self.health.count_drops("steps_skipped", lambda: self.barrier.skipped)
        self.health.count_drops("producers_dropped", lambda: self.barrier.expired)   # heartbeat lost
        self.health.count_drops("step_done_rejected", lambda: self.barrier.done_rejected)
        self.health.count_drop_map(self.barrier.rejections.by_key)
        self.health.conditions.append(self.condition)
        self._first_input: dict[int, float] = {}      # step stamp -> wall time its first message arrived
        self.name = node.get_fully_qualified_name()
        self.incarnation = time.time_ns()   # StepDone.incarnation: tells consumers this process from a restarted one
        self.gate = SubscriberGate(node, sync, self._join)   # volatile streams: join once our readers matched

    def start(self) -> None:
        """Join the barrier: call last in the node's constructor, after every publisher and subscription
        exists. The join (the step_done subscription the sim waits for) waits for the start-up match gate,
        so that a node listed on the barrier topic is ready for data and its outputs reach their readers."""
        self.gate.start()

    def _join(self) -> None:
        # DDS content filter: only the upstream nodes' announcements reach this node's executor.
        producers = sorted(self.upstream | (self.members - {self.name} if self.watch_members else set()))
        filt = ContentFilterOptions(" OR ".join(f"node = %{i}" for i in range(len(producers))),
                                    [f"'{p}'" for p in producers]) if producers else None
        self.node.create_subscription(StepDone, "step_done", self._on_done, self.qos(self.ports["step_done"]),
                                      content_filter_options=filt)
        if self.joining:
            self.node.get_logger().info(f"step barrier: joining the running graph live, "
                                        f"{seconds_since_start():.2f} s after process start")
        if self.upstream and self.producer_timeout_s > 0:   # wall clock: sim time stands still while we wait
            self.node.create_timer(min(0.25, self.producer_timeout_s / 2), self._expire,
                                   clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _expire(self) -> None:
        gone = self.barrier.expire(self.producer_timeout_s)
        if gone:
            self.node.get_logger().warning(
                f"step barrier: no StepDone from {', '.join(gone)} for {self.producer_timeout_s:g} s: stepping "
                f"without it until it announces again ({self.barrier.expired} dropped so far)")
            self._release()

    def qos(self, profile):
        """The subscription QoS: live only (no history) when joining a running graph."""
        return qos.live_only(profile) if self.joining else profile

    def members_listening(self) -> set[str]:
        """Barrier members whose step_done subscription is visible in the graph."""
        infos = self.node.get_subscriptions_info_by_topic(self.pub_done.topic_name)
        present = {endpoint_node(i) for i in infos}
        return self.members & present

    def publisher(self, msg_type, port: str) -> CountedPublisher:
        """A counted publisher on `port`, with the QoS the graph gives it."""
        return CountedPublisher(self.node.create_publisher(msg_type, port, self.ports[port]), self.counts,
                                self.health.published)

    def subscribe(self, msg_type, port: str) -> str:
        """Subscribe a stamped topic into the barrier; returns its resolved name (the inputs key)."""
        holder: dict[str, str] = {}

        def callback(msg) -> None:
            t = stamp_ns(msg.header.stamp)
            self.health.received[holder["topic"]] += 1
            if self.barrier.add_data(holder["topic"], t, msg):
                return
            self._first_input.setdefault(t, time.perf_counter())
            self._release()
        sub = self.node.create_subscription(msg_type, port, callback, self.qos(self.ports[port]))
        holder["topic"] = sub.topic_name
        self.barrier.topics.add(sub.topic_name)
        return sub.topic_name

    def _on_done(self, msg: StepDone) -> None:
        t = stamp_ns(msg.header.stamp)
        rejoined = self.barrier.rejoined
        try:
            reason = self.barrier.add_done(msg.node, t, list(msg.topics), list(msg.counts), msg.incarnation,
                                           msg.run_id)
        except ValueError as exc:
            self.node.get_logger().warning(f"{exc}: ignored ({self.barrier.done_rejected} rejected so far)",
                                           throttle_duration_sec=1.0)
            return
        if reason:
            return
        self.heard[msg.node] = time.monotonic()
        self.heard_step[msg.node] = max(self.heard_step.get(msg.node, 0), t)
        if self.barrier.rejoined != rejoined:
            self.node.get_logger().info(f"step barrier: {msg.node} announces again: waiting for it from "
                                        f"t={self.barrier.rejoined_at[msg.node] * 1e-9:.3f} s on")
        self._release()

    def _rejected(self, topic: str, reason: str, t_ns: int, first: bool) -> None:
        """Log (throttled) and, once per burst, report a rejection of the barrier as an event."""
        n = self.barrier.rejections.counts[(topic, reason)]
        text = (f"step barrier: {topic} input stamped t={t_ns * 1e-9:.9g} s dropped ({reason}); "
                f"{n} {reason} on {topic} so far")
        self.node.get_logger().warning(text, throttle_duration_sec=1.0)
        if first:
            known = self.barrier.newest_known()
            ev = Event(code=int(EventCode.STEP_INPUT_REJECTED), severity=Event.WARN,
                       source=self.node.get_name(), message=text)
            ev.header.stamp = to_stamp((known or 0) * 1e-9)
            self.pub_events.publish(ev)

    def condition(self):
        """(level, problem) for /diagnostics while the barrier is degraded or stuck, else None."""
        problems, level = [], WARN
        if self.barrier.absent:
            problems.append(f"stepping without {', '.join(sorted(self.barrier.absent))} (no StepDone)")
        pending = self.barrier.pending()
        stalled_s = time.monotonic() - self._last_release_s
        if pending and self.upstream and self.producer_timeout_s > 0 and stalled_s > self.producer_timeout_s:
            level = ERROR
            problems.append(f"not stepping for {stalled_s:.1f} s: step t={pending[0] * 1e-9:.3f} s incomplete")
        return (level, "; ".join(problems)) if problems else None

    def set_step(self, dt_s: float) -> None:
        """The sim's step [s]: the grid every stamp must lie on."""
        self.barrier.grid = StepGrid(round(dt_s * 1e9), self.barrier.grid.horizon_steps)

    def observe_own_step(self, t_ns: int) -> None:
        """The node that steps the world (the sim): its newest step, the reference of admission."""
        self.barrier.observe_own_step(t_ns)
        self._last_release_s = time.monotonic()

    def _release(self) -> None:
        for t_ns, inputs in self.barrier.release():
            self._last_release_s = time.monotonic()
            if self.joining and not self._stepped:
                self._stepped = True
                self.node.get_logger().info(f"step barrier: first step t={t_ns * 1e-9:.3f} s, "
                                            f"{seconds_since_start():.2f} s after process start")
            start, cpu = time.perf_counter(), time.thread_time()
            self.on_step(t_ns, inputs)
            if self.announce:
                self.done(t_ns)
                end = time.perf_counter()
                first = self._first_input.get(t_ns)
                self.health.step_done(end - start, None if first is None else end - first, time.thread_time() - cpu)
            for old in [t for t in self._first_input if t <= t_ns]:
                del self._first_input[old]

    def done(self, t_ns: int) -> None:
        """Announce that this node published everything it had for step t."""
        msg = StepDone(node=self.name, topics=list(self.counts), counts=list(self.counts.values()),
                       incarnation=self.incarnation, run_id=self.run_id)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
        self.pub_done.publish(msg)
        for topic in self.counts:
            self.counts[topic] = 0
