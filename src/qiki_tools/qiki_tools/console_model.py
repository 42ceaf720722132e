"""The operator console's model: a snapshot of what the graph said -> what the console shows.

Pure (numpy, and the generated qiki_msgs classes for the interface constants; no rclpy, no Textual), so it is
unit tested and timed without a graph. The ROS adapter (`console_ros`) fills a `Snapshot`; the Textual app
(`console`) renders `view(snapshot)`.

Track rows are computed for all tracks at once (vectorised), sorted nearest first and capped at
`max_rows`: the app never builds more table rows than that, whatever the number of tracks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qiki_msgs.msg import DeviceStatus, Event, RadarFrame, TrackArray
from qiki_msgs.srv import OperatorCommand
from qiki_tracks.track_set import TrackSet

STATUS_NAMES = {TrackArray.STATUS_TENTATIVE: "tentative", TrackArray.STATUS_CONFIRMED: "confirmed",
                TrackArray.STATUS_COASTING: "coasting"}
IFF_NAMES = {TrackArray.IFF_UNKNOWN: "unknown", TrackArray.IFF_FRIEND: "friend", TrackArray.IFF_FOE: "foe"}
BAND_NAMES = {RadarFrame.BAND_LR: "LR", RadarFrame.BAND_SR: "SR", RadarFrame.BAND_UNION: "UNION"}
LEVEL_NAMES = {DeviceStatus.OK: "OK", DeviceStatus.WARN: "WARN", DeviceStatus.ERROR: "ERROR", DeviceStatus.STALE: "STALE"}
SEVERITY_NAMES = {Event.INFO: "INFO", Event.WARN: "WARN", Event.ERROR: "ERROR"}
# Rich styles: IFF class and device level colours
IFF_STYLES = {TrackArray.IFF_UNKNOWN: "yellow", TrackArray.IFF_FRIEND: "green", TrackArray.IFF_FOE: "bold red"}
LEVEL_STYLES = {DeviceStatus.OK: "green", DeviceStatus.WARN: "yellow", DeviceStatus.ERROR: "bold red",
                DeviceStatus.STALE: "magenta"}
SEVERITY_STYLES = {Event.INFO: "", Event.WARN: "yellow", Event.ERROR: "bold red"}

START_MISSION, ABORT, SAFE_MODE, RESET = (OperatorCommand.Request.START_MISSION, OperatorCommand.Request.ABORT,
                                          OperatorCommand.Request.SAFE_MODE, OperatorCommand.Request.RESET)
SET_OFFSET = OperatorCommand.Request.SET_OFFSET
#: console key -> (command number, label)
COMMAND_KEYS = {
    "s": (SAFE_MODE, "safe mode"),
    "r": (RESET, "reset / resume (reboot: self test -> IDLE)"),
    "m": (START_MISSION, "start mission"),
    "a": (ABORT, "abort mission"),
    "o": (SET_OFFSET, "set offset (the console's --offset X,Y,Z)"),
}
COMMAND_NAMES = {SAFE_MODE: "SAFE_MODE", RESET: "RESET", START_MISSION: "START_MISSION", ABORT: "ABORT",
                 SET_OFFSET: "SET_OFFSET"}

MAX_ROWS = 100          # most track rows the table shows at once (nearest first; fewer if the screen is smaller)
MAX_TRANSITIONS = 8     # FSM transitions kept
MAX_EVENTS = 200        # events kept


@dataclass(eq=False)
class Ego:
    """The own vehicle in its header frame (VehicleState)."""

    frame_id: str
    position: np.ndarray      # (3,) [m]
    velocity: np.ndarray      # (3,) [m/s] in the header frame
    yaw_rad: float            # heading about z in the header frame


@dataclass
class Answer:
    """The operator command service's answer (or why there is none)."""

    command: str
    accepted: bool | None     # None: no answer (service missing, timed out, failed)
    reason: str
    state: str = ""


@dataclass
class Snapshot:
    """Everything the console shows; the adapter replaces fields, the app reads a copy."""

    connected_s: float = 0.0          # seconds since the adapter started
    domain_id: int = 0
    profile: str = ""
    vehicle: str = ""                 # the fleet vehicle whose stack is shown ("" for a single vehicle)
    topics: dict[str, str] = field(default_factory=dict)   # "status", "tracks", "events" -> the topic read
    agent_seen: bool = False
    last_status_age_s: float | None = None
    state: str = ""
    mission: str = ""
    mission_progress: float = 0.0
    mission_result: str = ""
    health_score: float = 0.0
    all_systems_go: bool = False
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)   # (t_s, from, to, trigger)
    bios_seq: int | None = None
    bios: list[tuple[str, int, str]] = field(default_factory=list)            # (name, level, message)
    device_values: dict[str, tuple[int, float]] = field(default_factory=dict)  # raw: name -> (level, value)
    tracks: TrackSet = field(default_factory=TrackSet.empty)
    ego: Ego | None = None
    events: list[tuple[float, int, int, str, str]] = field(default_factory=list)  # (t_s, code, sev, source, text)
    pending: str = ""                 # command waiting for its answer
    answer: Answer | None = None


def parse_transition(message: str) -> tuple[str, str, str] | None:
    """(from, to, trigger) of an FSM transition event's text "A -> B (trigger)", else None."""
    head, _, rest = message.partition(" (")
    source, arrow, dest = head.partition(" -> ")
    if not arrow or not source or not dest or " " in source or " " in dest:
        return None
    return source, dest, rest.rstrip(")")


def quat_yaw(w: float, x: float, y: float, z: float) -> float:
    """Heading about z [rad] of a unit quaternion (REP-103: counter-clockwise from x)."""
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def relative_kinematics(tracks: TrackSet, ego: Ego | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(range [m], bearing [deg], closing speed [m/s]) of every track relative to the ego, vectorised.

    The tracking frame decides the ego: in `lvlh` (ship) the origin is the ego itself; in `map` (bot)
    it is the VehicleState, whose heading makes the bearing relative to the nose (REP-103,
    counter-clockwise positive, (-180, 180]). Closing speed is -d(range)/dt: positive = approaching.
    Without an ego in the tracks' frame the ego is taken at the frame's origin, at rest."""
    n = len(tracks.id)
    if n == 0:
        z = np.zeros(0)
        return z, z, z
    s = tracks.state.reshape(n, 6)
    if ego is not None and tracks.frame_id != "lvlh" and ego.frame_id == tracks.frame_id:
        pos, vel, yaw = ego.position, ego.velocity, ego.yaw_rad
    else:
        pos, vel, yaw = np.zeros(3), np.zeros(3), 0.0
    rel = s[:, 0:3] - pos
    rel_v = s[:, 3:6] - vel
    rng = np.sqrt(np.einsum("ij,ij->i", rel, rel))
    bearing = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]) - yaw)
    bearing = -((-bearing + 180.0) % 360.0 - 180.0)     # wrap to (-180, 180]
    with np.errstate(invalid="ignore", divide="ignore"):
        closing = np.where(rng > 0, -np.einsum("ij,ij->i", rel, rel_v) / np.where(rng > 0, rng, 1.0), 0.0)
    return rng, bearing, closing


@dataclass
class TrackRows:
    """The table's rows: the nearest `max_rows` tracks as strings, plus counts for the caption."""

    total: int
    offset: int
    by_iff: dict[str, int]
    rows: list[tuple]          # (id, band, range, bearing, closing, (iff text, style), status)
    keys: list[str]            # row keys (track ids)


def track_rows(tracks: TrackSet, ego: Ego | None, max_rows: int = MAX_ROWS, offset: int = 0) -> TrackRows:
    """Rows `offset` .. `offset + max_rows` of the tracks sorted nearest first; only those rows are formatted."""
    n = len(tracks.id)
    rng, bearing, closing = relative_kinematics(tracks, ego)
    closing = np.where(np.abs(closing) < 5e-3, 0.0, closing)     # no "-0.00"
    offset = max(0, min(offset, n - 1))
    k = min(n, offset + max(max_rows, 0))
    if k < n:
        top = np.argpartition(rng, k - 1)[:k]
        order = top[np.argsort(rng[top], kind="stable")][offset:]
    else:
        order = np.argsort(rng, kind="stable")[offset:k]
    counts = np.bincount(tracks.iff.astype(np.int64), minlength=3) if n else np.zeros(3, int)
    by_iff = {IFF_NAMES[k]: int(counts[k]) for k in IFF_NAMES}
    rows, keys = [], []
    ids, bands, iffs, status = (a[order].tolist() for a in (tracks.id, tracks.band, tracks.iff, tracks.status))
    for i, tid, b, f, st, r, br, c in zip(order.tolist(), ids, bands, iffs, status, rng[order].tolist(),
                                          bearing[order].tolist(), closing[order].tolist()):
        rows.append((str(tid), BAND_NAMES.get(b, str(b)), f"{r:9.1f}", f"{br:7.1f}", f"{c:+8.2f}",
                     (IFF_NAMES.get(f, str(f)), IFF_STYLES.get(f, "")), STATUS_NAMES.get(st, str(st))))
        keys.append(str(tid))
    return TrackRows(total=n, offset=offset, by_iff=by_iff, rows=rows, keys=keys)


def unreachable_message(snap: Snapshot, after_s: float) -> str | None:
    """The plain sentence the console shows when no graph answers, else None."""
    if snap.agent_seen or snap.connected_s < after_s:
        return None
    check = "--domain-id and --vehicle" if snap.vehicle else "--domain-id; a fleet's stack: --vehicle NAME"
    return (f"No QIKI graph reachable on ROS_DOMAIN_ID={snap.domain_id}: no agent status on "
            f"{snap.topics.get('status', '/qiki/agent/status')} after {snap.connected_s:.0f} s. Start one with "
            f"`qiki bringup --domain-id {snap.domain_id}` (or check {check}); still listening.")


def status_line(snap: Snapshot) -> str:
    if not snap.agent_seen:
        return f"domain {snap.domain_id}: waiting for the agent{' of ' + snap.vehicle if snap.vehicle else ''} ..."
    mission = f"{snap.mission or '-'} {snap.mission_result} {100 * snap.mission_progress:.0f} %"
    age = "" if snap.last_status_age_s is None else f", status {snap.last_status_age_s:.1f} s ago"
    return (f"{snap.vehicle + '  ' if snap.vehicle else ''}"
            f"FSM {snap.state}   health {snap.health_score:.2f} {'GO' if snap.all_systems_go else 'NO-GO'}"
            f"   mission {mission}   domain {snap.domain_id}{age}")


def stack_graph(graph, vehicle: str = ""):
    """The graph (qiki.graph.GraphSpec) holding the stack the console attaches to: a single vehicle's graph as
    is, one vehicle of a fleet's expanded graph, or graph.yaml's graph expanded for `vehicle` (its stack's
    topics do not depend on the other vehicles). ValueError (one line) for a vehicle that cannot be there."""
    if not vehicle:
        if graph.vehicles:
            raise ValueError(f"a fleet: give --vehicle NAME (one of {', '.join(graph.vehicles)})")
        return graph
    if graph.vehicles:
        if vehicle not in graph.vehicles:
            raise ValueError(f"vehicle '{vehicle}' is not in the fleet ({', '.join(graph.vehicles)})")
        return graph
    return graph.for_fleet([vehicle])


def answer_line(snap: Snapshot) -> str:
    if snap.pending:
        return f"{snap.pending}: waiting for the agent's answer ..."
    a = snap.answer
    if a is None:
        return "keys: " + "  ".join(f"{k} = {label}" for k, (_, label) in COMMAND_KEYS.items()) + "  q = quit"
    if a.accepted is None:
        return f"{a.command}: no answer ({a.reason})"
    return f"{a.command}: {'ACCEPTED' if a.accepted else 'REJECTED'} - {a.reason} (state {a.state})"
