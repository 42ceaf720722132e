"""What a run has shown so far (`GraphState`) and how each observed message updates it: the figures of
summary.json. No rclpy: the ROS observer (qiki.observer) feeds it from its subscriptions, the core engine
(qiki.core_engine) from the messages its steps emit, so both engines summarise with the same code.

A fleet's state holds one GraphState per vehicle (`vehicles`), fed by that vehicle's topics; the world's
(clock, truth, the sim's events, /diagnostics) update the fleet's own. `routes(graph)` says which update each
topic of a graph takes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from qiki.run_health import HealthHistory
from qiki_geometry.closest_approach import closest_approaches
from qiki_msgs.msg import AgentStatus, Event, RadarFrame, TrackArray, TrackScore, VehicleState, WorldTruth
from qiki_ros.packing import from_stamp, stamp_ns, unpack
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
    # a fleet: vehicle name -> its own state, and its id in the truth
    vehicles: dict[str, GraphState] = field(default_factory=dict)
    truth_ids: dict[str, int] = field(default_factory=dict)
    # a fleet vehicle's closest approach to another vehicle seen in truth: (distance, the other's name)
    min_vehicle_distance_m: float = float("inf")
    min_vehicle: str = ""

    def rtf(self) -> float | None:
        """Real-time factor after start-up: sim seconds per wall second between the first and last clock."""
        if self.first_clock is None or self.last_clock_wall <= self.first_clock[1]:
            return None
        return (self.sim_time_s - self.first_clock[0]) / (self.last_clock_wall - self.first_clock[1])

    def tracks_confirmed(self) -> dict[str, int]:
        return {band: len(ids) for band, ids in self.confirmed_ids.items()}

    def vehicle(self, name: str) -> GraphState:
        """A fleet vehicle's own state (created empty on first use)."""
        return self.vehicles.setdefault(name, GraphState())


# Each update takes (state, message, wall monotonic of its arrival) and returns the seen_wall key the
# message stamps, or None.

def on_clock_time(s: GraphState, t: float, wall: float) -> None:
    """A /clock tick at sim time t."""
    s.sim_time_s = max(s.sim_time_s, t)
    if s.first_clock is None:
        s.first_clock = (t, wall)
    s.last_clock_wall = wall


def on_clock(s: GraphState, msg, wall: float) -> None:
    on_clock_time(s, from_stamp(msg.clock), wall)


def on_frame(s: GraphState, msg: RadarFrame, wall: float) -> str | None:
    band = BANDS.get(msg.band)
    if band is None:
        return None
    s.frames[band] += 1
    s.detections[band] += len(msg.range_m)
    return "frame"


def on_tracks(s: GraphState, msg: TrackArray, wall: float) -> str | None:
    try:
        tracks = track_set_of(msg)
    except ValueError:
        return None
    status, ids, bands, codes = tracks.status, tracks.id, tracks.band, tracks.code
    confirmed = status == TrackArray.STATUS_CONFIRMED
    coded = (status != TrackArray.STATUS_TENTATIVE) & (codes != 0)
    t = round(from_stamp(msg.header.stamp), 3)
    for code, band in BANDS.items():
        s.confirmed_ids[band].update(ids[confirmed & (bands == code)].tolist())
    for code, tid, b in zip(codes[coded].tolist(), ids[coded].tolist(), bands[coded].tolist()):
        band = BANDS.get(b, str(b))
        history = s.coded_tracks.setdefault(code, [])
        if not history or history[-1][1:] != (tid, band):
            history.append((t, tid, band))
    return "tracks" if confirmed.any() else None


def on_status(s: GraphState, msg: AgentStatus, wall: float) -> str:
    t = from_stamp(msg.header.stamp)
    if msg.state != s.agent_state and (s.agent_state or msg.previous_state):
        s.fsm_transitions.append({"t_s": round(t, 3), "from": msg.previous_state or s.agent_state, "to": msg.state})
    s.agent_state = msg.state
    s.mission_result = msg.mission_result or s.mission_result
    return "status"


def on_state_time(s: GraphState, msg: VehicleState, wall: float) -> None:
    """The sim time a vehicle state carries: /clock is best effort (as rclpy's TimeSource takes it) and a busy
    observer may lose all of it for a while; the reliable vehicle state carries the same sim time."""
    sim_s = from_stamp(msg.header.stamp)
    s.sim_time_s = max(s.sim_time_s, sim_s)
    if s.first_state_s is None:
        s.first_state_s = sim_s


def on_vehicle_state(s: GraphState, msg: VehicleState, wall: float) -> None:
    p = msg.pose.position
    on_state_time(s, msg, wall)
    s._ego[stamp_ns(msg.header.stamp)] = np.array([p.x, p.y, p.z])


def on_truth(s: GraphState, msg: WorldTruth, wall: float) -> None:
    t = stamp_ns(msg.header.stamp)
    pos = unpack(msg.position)
    if not len(pos) or len(pos) % 3:
        return
    ego = s._ego.pop(t, None)
    for old in [k for k in s._ego if k < t]:
        del s._ego[old]
    if ego is None:
        return
    d = np.linalg.norm(pos.reshape(-1, 3) - ego, axis=1)
    i = int(np.argmin(d))
    if d[i] < s.min_miss_distance_m:
        s.min_miss_distance_m, s.min_miss_object = float(d[i]), int(msg.id[i])


def on_fleet_truth(s: GraphState, msg: WorldTruth, wall: float) -> None:
    """A fleet's truth holds every vehicle (under its truth id): each vehicle's closest approach to the objects
    (centre distance, as min_miss_distance_m) and to the other vehicles (qiki_geometry.closest_approach). A vehicle
    whose id is not in the truth exactly once gets no figure, and its rows count as no object."""
    pos = unpack(msg.position)
    ids = np.asarray(msg.id, dtype=np.int64)
    if not len(pos) or len(pos) != 3 * len(ids):
        return
    pos = pos.reshape(-1, 3)
    rows = {name: np.flatnonzero(ids == tid) for name, tid in s.truth_ids.items()}
    present = [name for name, row in rows.items() if len(row) == 1]
    own = [int(rows[n][0]) for n in present]
    keep = ~np.isin(ids, list(s.truth_ids.values()))
    keep[own] = True
    now = closest_approaches(pos[own], ids[own], ids[keep], pos[keep])
    ids = ids[keep]
    for k, name in enumerate(present):
        v = s.vehicle(name)
        if now.to_objects[k] < v.min_miss_distance_m:
            v.min_miss_distance_m, v.min_miss_object = float(now.to_objects[k]), int(ids[now.nearest_object[k]])
        j = int(np.argmin(now.to_vehicles[k])) if len(present) > 1 else -1
        if j >= 0 and now.to_vehicles[k, j] < v.min_vehicle_distance_m:
            v.min_vehicle_distance_m, v.min_vehicle = float(now.to_vehicles[k, j]), present[j]


def on_score(s: GraphState, msg: TrackScore, wall: float) -> str | None:
    band = SCORE_BANDS.get(msg.band)
    if not band:
        return None
    s.scores[band] = msg
    return "score"


def on_diagnostics(s: GraphState, msg, wall: float, name_of=lambda st: st.name) -> None:
    latest = {name_of(st): {"level": st.level[0], "message": st.message, "values": {kv.key: kv.value for kv in st.values}}
              for st in msg.status}
    s.diagnostics.update(latest)
    for name, d in latest.items():
        s.health.add(name, d["level"], d["message"], s.sim_time_s)


def fleet_status_name(st) -> str:
    """A node's status in a fleet, named by its node under the graph's namespace (`qiki/alpha/radar`, from
    hardware_id /qiki/alpha/radar): every vehicle's radar names its own status `qiki/radar`."""
    parts = st.hardware_id.split("/")
    return f"qiki/{'/'.join(parts[2:])}" if len(parts) > 3 and st.name == f"qiki/{parts[-1]}" else st.name


def on_fleet_diagnostics(s: GraphState, msg, wall: float) -> None:
    on_diagnostics(s, msg, wall, fleet_status_name)


def on_event(s: GraphState, msg: Event, wall: float) -> str:
    item = (from_stamp(msg.header.stamp), int(msg.code), msg.message)
    s.events.append(item)
    return f"event:{item[1]}"


# port of config/graph.yaml ("node.port") -> its update: what the observer subscribes to
UPDATES = {
    "sim.clock": on_clock,
    "agent.status": on_status,
    "agent.events": on_event,
    "agent.diagnostics": on_diagnostics,
    "radar.frame_lr": on_frame,
    "radar.frame_sr": on_frame,
    "tracker.tracks": on_tracks,
    "sim.vehicle_state": on_vehicle_state,
    "scorer.track_score": on_score,
    "sim.truth": on_truth,
}
STATUS_PORTS = ("sim.clock", "agent.status", "agent.events", "agent.diagnostics")


# a fleet's updates that differ from one vehicle's: its truth has every vehicle; a vehicle's state gives time only
FLEET_UPDATES = {"sim.truth": on_fleet_truth, "sim.vehicle_state": on_state_time, "sim.events": on_event,
                 "agent.diagnostics": on_fleet_diagnostics}


def in_vehicle(name: str, update):
    """`update` applied to vehicle `name`'s own state of a fleet; the fleet's sim time follows."""
    def vehicle_update(s: GraphState, msg, wall: float) -> str | None:
        v = s.vehicle(name)
        seen = update(v, msg, wall)
        s.sim_time_s = max(s.sim_time_s, v.sim_time_s)
        if s.first_state_s is None:
            s.first_state_s = v.first_state_s
        return seen
    return vehicle_update


def routes(graph) -> list[tuple[str, str, Callable]]:
    """(template port, topic, update) of every topic whose messages update the run's state (qiki.graph.GraphSpec
    `graph`, expanded for a fleet): UPDATES as they are for one unnamed vehicle; for a fleet, a vehicle topic's
    messages update that vehicle's state (`in_vehicle`), a world topic's (once) the fleet's."""
    if not graph.vehicles:
        return [(port, graph.topic_of(port), update) for port, update in UPDATES.items()]
    out, seen = [], set()
    scope = {t.name: t.scope for t in graph.topics}
    for port, update in {**UPDATES, **FLEET_UPDATES}.items():
        update = FLEET_UPDATES.get(port, update)
        for name in graph.vehicles:
            topic = graph.topic_of(graph.vehicle_endpoint(name, port))
            if topic not in seen:
                seen.add(topic)
                out.append((port, topic, in_vehicle(name, update) if scope[topic] == "vehicle" else update))
    return out


def graph_state(plan) -> GraphState:
    """The empty state of a run of `plan` (qiki.plan.GraphPlan): a fleet's knows its vehicles and their truth ids."""
    s = GraphState()
    for name in plan.graph.vehicles:
        agent = plan.node_overrides.get(f"{name}/radar", {})
        s.truth_ids[name] = int(agent.get("vehicle.truth_id", 0))
        s.vehicle(name)
    return s


def observe(s: GraphState, update, msg, wall: float) -> None:
    """Apply one message's update and stamp its seen_wall key."""
    seen = update(s, msg, wall)
    if seen is not None:
        s.seen_wall[seen] = wall
