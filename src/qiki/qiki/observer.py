"""A passive observer node that watches the running graph: what `qiki run` summarises and tests await.

It subscribes like any ROS tool would (real DDS), keeps counters, and lets callers block on a
predicate over its state (`wait_for`) instead of sleeping.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from qiki.graph import GraphSpec
from qiki.plan import OBSERVER_STATUS, OBSERVER_STREAMS, Watcher
from qiki.run_health import HealthHistory
from qiki_msgs.msg import AgentStatus, Event, RadarFrame, TrackArray, TrackScore, VehicleState, WorldTruth
from qiki_ros import qos
from qiki_ros.entrypoint import STANDBY_NODE_PREFIX
from qiki_ros.graph_node import GraphNode
from qiki_ros.packing import from_stamp, stamp_ns, unpack
from qiki_ros.spin_thread import SpinThread, private_context
from qiki_tracks.track_codec import track_set_of

BANDS = {RadarFrame.BAND_LR: "lr", RadarFrame.BAND_SR: "sr"}
SCORE_BANDS = {**BANDS, RadarFrame.BAND_UNION: "union"}


@dataclass
class GraphState:
    """What the observer has seen so far."""

    sim_time_s: float = 0.0
    first_clock: tuple[float, float] | None = None   # (sim time, wall monotonic) of the first /clock
    last_clock_wall: float = 0.0                       # wall monotonic of the latest /clock
    first_state_s: float | None = None                 # sim time of the first vehicle state received
    frames: dict[str, int] = field(default_factory=lambda: {"lr": 0, "sr": 0})
    detections: dict[str, int] = field(default_factory=lambda: {"lr": 0, "sr": 0})
    confirmed_ids: dict[str, set] = field(default_factory=lambda: {"lr": set(), "sr": set()})
    # transponder code -> [(sim time s, track id, band)] of its confirmed tracks, one entry per change
    coded_tracks: dict[int, list[tuple[float, int, str]]] = field(default_factory=dict)
    # wall monotonic of the latest: radar frame ('frame'), track array with a confirmed track ('tracks'),
    # track score ('score'), agent status ('status'), event of each code ('event:<code>')
    seen_wall: dict[str, float] = field(default_factory=dict)
    agent_state: str = ""
    fsm_transitions: list[dict] = field(default_factory=list)
    events: list[tuple[float, int, str]] = field(default_factory=list)
    scores: dict[str, TrackScore] = field(default_factory=dict)   # band -> latest TrackScore
    mission_result: str = "none"
    min_miss_distance_m: float = float("inf")    # closest ego-object centre distance seen in truth
    min_miss_object: int = 0
    # status name (qiki/<node>) -> latest {"level", "message", "values": {key: value}} from /diagnostics
    diagnostics: dict[str, dict] = field(default_factory=dict)
    health: HealthHistory = field(default_factory=HealthHistory)   # every status's worst level over the run
    _ego: dict = field(default_factory=dict)      # stamp -> ego position, until its truth arrives

    def rtf(self) -> float | None:
        """Real-time factor after start-up: sim seconds per wall second between the first and last clock."""
        if self.first_clock is None or self.last_clock_wall <= self.first_clock[1]:
            return None
        return (self.sim_time_s - self.first_clock[0]) / (self.last_clock_wall - self.first_clock[1])

    def tracks_confirmed(self) -> dict[str, int]:
        return {band: len(ids) for band, ids in self.confirmed_ids.items()}


def standby_count(node_names) -> int:
    """How many of these ROS node names are waiting warm standbys (their placeholder nodes)."""
    return sum(name.startswith(STANDBY_NODE_PREFIX) for name in node_names)


class GraphObserver:
    """Runs an rclpy node in a background thread; `state` is read under `cond`.

    `streams=False` leaves out the per-step streams (frames, tracks, vehicle state, truth, scores): a
    benchmark that needs only sim time, agent state, events and /diagnostics then does not deserialise
    ~0.5 MB per step on the cores it measures."""

    def __init__(self, graph: GraphSpec, streams: bool = True, name: str | None = None):
        # a name of its own: the graph's publishers wait for this observer by name (`watcher`)
        self.node = GraphNode(name or f"qiki_observer_{secrets.token_hex(4)}", context=private_context())
        self.watcher = Watcher(self.node.get_fully_qualified_name(), OBSERVER_STREAMS if streams else OBSERVER_STATUS)
        self.standbys = sum(n.restart.standby for n in graph.nodes)   # warm spares `qiki run` keeps
        self.state = GraphState()
        self.received = 0
        self.cond = threading.Condition()
        # the graph's stream QoS (volatile): nothing is lost at start-up because the graph's publishers wait
        # for these subscriptions (qiki.plan OBSERVER_STREAMS / OBSERVER_STATUS) before the sim steps
        stream = qos.STREAM
        latched = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        sub = self.node.create_subscription
        topic = graph.topic_of
        sub(Clock, topic("sim.clock"), self._on_clock, QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        sub(AgentStatus, topic("agent.status"), self._on_status, latched)
        sub(Event, topic("agent.events"), self._on_event, latched)
        sub(DiagnosticArray, topic("agent.diagnostics"), self._on_diagnostics, stream)
        if streams:
            sub(RadarFrame, topic("radar.frame_lr"), self._on_frame, stream)
            sub(RadarFrame, topic("radar.frame_sr"), self._on_frame, stream)
            sub(TrackArray, topic("tracker.tracks"), self._on_tracks, stream)   # union: rows carry their band
            sub(VehicleState, topic("sim.vehicle_state"), self._on_vehicle_state, stream)
            sub(TrackScore, topic("scorer.track_score"), self._on_score, stream)
            sub(WorldTruth, topic("sim.truth"), self._on_truth, stream)
        self._spinner = SpinThread(self.node, "qiki-observer")

    def _update(self, fn, seen: str | None = None) -> None:
        """fn(state) under the lock; `seen`: the seen_wall key to stamp with this message's arrival."""
        now = time.monotonic()
        with self.cond:
            if seen is not None:
                self.state.seen_wall[seen] = now
            fn(self.state)
            self.received += 1
            self.cond.notify_all()

    def drain(self, quiet_s: float = 0.5, timeout_s: float = 15.0) -> None:
        """After the graph stopped: take what is still queued for us until nothing arrives for quiet_s."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while time.monotonic() < deadline:
                seen = self.received
                self.cond.wait(quiet_s)
                if self.received == seen:
                    return

    def _on_clock(self, msg: Clock) -> None:
        t, now = from_stamp(msg.clock), time.monotonic()

        def upd(s: GraphState) -> None:
            s.sim_time_s = max(s.sim_time_s, t)
            if s.first_clock is None:
                s.first_clock = (t, now)
            s.last_clock_wall = now
        self._update(upd)

    def _on_frame(self, msg: RadarFrame) -> None:
        band = BANDS.get(msg.band)
        if band is None:
            return

        def upd(s: GraphState) -> None:
            s.frames[band] += 1
            s.detections[band] += len(msg.range_m)
        self._update(upd, seen="frame")

    def _on_tracks(self, msg: TrackArray) -> None:
        try:
            tracks = track_set_of(msg)
        except ValueError:
            return
        status, ids, bands, codes = tracks.status, tracks.id, tracks.band, tracks.code
        confirmed = status == TrackArray.STATUS_CONFIRMED
        coded = (status != TrackArray.STATUS_TENTATIVE) & (codes != 0)
        t = round(from_stamp(msg.header.stamp), 3)

        def upd(s: GraphState) -> None:
            for code, band in BANDS.items():
                s.confirmed_ids[band].update(ids[confirmed & (bands == code)].tolist())
            for code, tid, b in zip(codes[coded].tolist(), ids[coded].tolist(), bands[coded].tolist()):
                band = BANDS.get(b, str(b))
                history = s.coded_tracks.setdefault(code, [])
                if not history or history[-1][1:] != (tid, band):
                    history.append((t, tid, band))
        self._update(upd, seen="tracks" if confirmed.any() else None)

    def _on_status(self, msg: AgentStatus) -> None:
        t = from_stamp(msg.header.stamp)

        def upd(s: GraphState) -> None:
            if msg.state != s.agent_state and (s.agent_state or msg.previous_state):
                s.fsm_transitions.append({"t_s": round(t, 3), "from": msg.previous_state or s.agent_state,
                                          "to": msg.state})
            s.agent_state = msg.state
            s.mission_result = msg.mission_result or s.mission_result
        self._update(upd, seen="status")

    def _on_vehicle_state(self, msg: VehicleState) -> None:
        p, t = msg.pose.position, stamp_ns(msg.header.stamp)
        sim_s = from_stamp(msg.header.stamp)

        def upd(s: GraphState) -> None:
            # /clock is best effort (as rclpy's TimeSource takes it) and a busy observer may lose all of it
            # for a while; the reliable vehicle state carries the same sim time
            s.sim_time_s = max(s.sim_time_s, sim_s)
            if s.first_state_s is None:
                s.first_state_s = sim_s
            s._ego[t] = np.array([p.x, p.y, p.z])
        self._update(upd)

    def _on_truth(self, msg: WorldTruth) -> None:
        t = stamp_ns(msg.header.stamp)
        pos = unpack(msg.position)
        if not len(pos) or len(pos) % 3:
            return

        def upd(s: GraphState) -> None:
            ego = s._ego.pop(t, None)
            for old in [k for k in s._ego if k < t]:
                del s._ego[old]
            if ego is None:
                return
            d = np.linalg.norm(pos.reshape(-1, 3) - ego, axis=1)
            i = int(np.argmin(d))
            if d[i] < s.min_miss_distance_m:
                s.min_miss_distance_m, s.min_miss_object = float(d[i]), int(msg.id[i])
        self._update(upd)

    def _on_score(self, msg: TrackScore) -> None:
        band = SCORE_BANDS.get(msg.band)
        if band:
            self._update(lambda s: s.scores.__setitem__(band, msg), seen="score")

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        latest = {st.name: {"level": st.level[0], "message": st.message, "values": {kv.key: kv.value for kv in st.values}}
                  for st in msg.status}

        def upd(s: GraphState) -> None:
            s.diagnostics.update(latest)
            for name, d in latest.items():
                s.health.add(name, d["level"], d["message"], s.sim_time_s)
        self._update(upd)

    def _on_event(self, msg: Event) -> None:
        item = (from_stamp(msg.header.stamp), int(msg.code), msg.message)
        self._update(lambda s: s.events.append(item), seen=f"event:{item[1]}")

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
