"""The operator console's ROS adapter: an rclpy node in a background thread that keeps a snapshot.

Callbacks only replace fields of a `Snapshot` under a lock (arrays are kept as the message delivered
them, no per-message UI work); the app takes a copy with `snapshot()` on its own timer. Operator
commands go to the agent's service asynchronously; the answer lands in the snapshot.
Own rclpy Context, rclpy's signal handlers off: the console's process (Textual) owns the terminal.
"""
from __future__ import annotations

import copy
import threading
import time

import numpy as np
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from qiki_tools.console_model import (COMMAND_NAMES, MAX_EVENTS, MAX_TRANSITIONS, Answer, Ego, Snapshot,
                                parse_transition, quat_yaw, stack_graph)
from qiki.graph import GraphSpec
from qiki_msgs.msg import AgentStatus, BiosReport, DeviceHealth, Event, TrackArray, VehicleState
from qiki_msgs.srv import OperatorCommand
from qiki_ros.events import EventCode
from qiki_ros.graph_node import GraphNode
from qiki_ros.packing import from_stamp, unpack
from qiki_ros.spin_thread import SpinThread, private_context
from qiki_tracks.track_codec import tracks_from_msg

COMMAND_TIMEOUT_S = 10.0


class ConsoleAdapter:
    """Subscribes to the status topics of one stack of the graph (a fleet's: `vehicle`'s, see
    console_model.stack_graph); `snapshot()` and `command()` are safe from any thread."""

    def __init__(self, graph: GraphSpec, domain_id: int = 0, profile: str = "", vehicle: str = ""):
        graph = stack_graph(graph, vehicle)

        def topic(endpoint: str) -> str:
            return graph.topic_of(graph.vehicle_endpoint(vehicle, endpoint))
        self.node = GraphNode(f"qiki_console_{vehicle}" if vehicle else "qiki_console", context=private_context(domain_id))
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._status_wall: float | None = None
        self._pending_since: float | None = None
        self._snap = Snapshot(domain_id=domain_id, profile=profile, vehicle=vehicle, topics={
            "status": topic("agent.status"), "tracks": topic("tracker.tracks"), "events": topic("agent.events")})
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        events = QoSProfile(depth=MAX_EVENTS, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
        # keep-last 1: a console wants the newest state, and a slow UI must not back up the graph
        latest = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        sub = self.node.create_subscription
        sub(AgentStatus, topic("agent.status"), self._on_status, latched)
        sub(BiosReport, topic("agent.bios"), self._on_bios, latched)
        sub(Event, topic("agent.events"), self._on_event, events)
        if topic("sim.events") != topic("agent.events"):    # a fleet's stack: the world's events too
            sub(Event, topic("sim.events"), self._on_event, events)
        sub(DeviceHealth, topic("sim.device_health"), self._on_device_health, latest)
        sub(TrackArray, topic("tracker.tracks"), self._on_tracks, latest)   # union: rows carry track_band
        sub(VehicleState, topic("sim.vehicle_state"), self._on_vehicle_state, latest)
        command = graph.vehicle_endpoint(vehicle, "agent.command")
        service = next(s.name for s in graph.services if s.server == command)
        self.client = self.node.create_client(OperatorCommand, service)
        self._spinner = SpinThread(self.node, "qiki-console-ros")

    # --- callbacks (executor thread) ------------------------------------------------------------
    def _on_status(self, msg: AgentStatus) -> None:
        with self._lock:
            s = self._snap
            s.agent_seen, s.state = True, msg.state
            s.mission, s.mission_progress, s.mission_result = msg.mission, msg.mission_progress, msg.mission_result
            s.health_score, s.all_systems_go = msg.health_score, msg.all_systems_go
            self._status_wall = time.monotonic()

    def _on_bios(self, msg: BiosReport) -> None:
        devices = [(d.name, int(d.level), d.message) for d in msg.devices]
        with self._lock:
            self._snap.bios_seq, self._snap.bios = int(msg.test_seq), devices

    def _on_device_health(self, msg: DeviceHealth) -> None:
        levels, values = unpack(msg.level, "uint8"), unpack(msg.value)
        if not len(msg.name) == len(levels) == len(values):
            return
        raw = {n: (int(lv), float(v)) for n, lv, v in zip(msg.name, levels.tolist(), values.tolist())}
        with self._lock:
            self._snap.device_values = raw

    def _on_event(self, msg: Event) -> None:
        item = (from_stamp(msg.header.stamp), int(msg.code), int(msg.severity), msg.source, msg.message)
        # the transitions come from the FSM transition events (transient-local, depth 200): a console that
        # attaches late still gets the history, where the latched status holds only the current state
        tr = parse_transition(msg.message) if msg.code == EventCode.FSM_TRANSITION else None
        with self._lock:
            self._snap.events = (self._snap.events + [item])[-MAX_EVENTS:]
            if tr is not None:
                self._snap.transitions = (self._snap.transitions + [(item[0], *tr)])[-MAX_TRANSITIONS:]

    def _on_tracks(self, msg: TrackArray) -> None:
        try:
            tracks, _dropped = tracks_from_msg(msg)   # the table shows the usable tracks of a well-formed array
        except ValueError:
            return
        with self._lock:
            self._snap.tracks = tracks

    def _on_vehicle_state(self, msg: VehicleState) -> None:
        p, q, v = msg.pose.position, msg.pose.orientation, msg.velocity_world
        ego = Ego(msg.header.frame_id, np.array([p.x, p.y, p.z]), np.array([v.x, v.y, v.z]),
                  quat_yaw(q.w, q.x, q.y, q.z))
        with self._lock:
            self._snap.ego = ego

    # --- any thread ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """A copy the caller may keep: lists are copied, arrays are never mutated after delivery."""
        now = time.monotonic()
        with self._lock:
            s = self._snap
            if s.pending and self._pending_since is not None and now - self._pending_since > COMMAND_TIMEOUT_S:
                s.answer = Answer(s.pending, None, f"no answer within {COMMAND_TIMEOUT_S:.0f} s")
                s.pending, self._pending_since = "", None
            s.connected_s = now - self._t0
            s.last_status_age_s = None if self._status_wall is None else now - self._status_wall
            return copy.copy(s)

    def command(self, number: int, argument: str = "", offset_lvlh_m=()) -> None:
        """Send an operator command (SET_OFFSET: with offset_lvlh_m) without waiting; the answer (or its absence)
        shows in the snapshot."""
        name = COMMAND_NAMES.get(number, str(number))
        with self._lock:
            if self._snap.pending:
                self._snap.answer = Answer(name, None, f"not sent: {self._snap.pending} still waiting")
                return
            if not self.client.service_is_ready():
                self._snap.answer = Answer(name, None, f"service {self.client.srv_name} not available")
                return
            self._snap.pending, self._pending_since = name, time.monotonic()
        future = self.client.call_async(OperatorCommand.Request(command=number, argument=argument,
                                                                   offset_lvlh_m=[float(c) for c in offset_lvlh_m]))
        future.add_done_callback(lambda f: self._on_answer(name, f))

    def _on_answer(self, name: str, future) -> None:
        try:
            r = future.result()
            answer = Answer(name, bool(r.accepted), r.reason, r.state)
        except Exception as exc:  # noqa: BLE001 - shown to the operator, not raised in the executor
            answer = Answer(name, None, f"call failed: {exc}")
        with self._lock:
            if self._snap.pending == name:
                self._snap.pending, self._pending_since = "", None
            self._snap.answer = answer

    def close(self) -> None:
        self._spinner.close()
