"""Figures of a recorded run (`qiki plot`, and `qiki run --record`): PNGs with matplotlib (Agg).

Plain module: :func:`load_run` reads a bag into numpy arrays (:class:`RunData`), the ``*_figure``
functions turn arrays into a :class:`matplotlib.figure.Figure`, :func:`write_plots` saves them.
No rclpy: messages are decoded with the definitions embedded in the bag (``qiki_bag.reader``).

Figures (file name -> content):

- ``scope.png``: plan-position view in the tracking frame (bot: ``map``, x east / y north; ship: the
  chaser's ``lvlh``, y along-track horizontal / x radial vertical, truth transformed from ECI with the
  ego state of the same stamp). Truth trajectories as grey lines, confirmed tracks (union topic) as dots
  coloured by IFF class with a few id labels, the ego's path, and the SR/LR boundary (the SR band's
  ``max_range_m`` from its radar frames) as a circle around the ego's last position.
- ``fsm_timeline.png``: the agent's FSM state over sim time, events as markers coloured by severity.
- ``gospa.png``: GOSPA distance per band (LR, SR, union) over sim time, with the cut-off c.

A fleet's bag (a scenario with ``vehicles:``, one stack per vehicle, topics named by the graph's expansion
``GraphSpec.for_fleet``): :func:`load_fleet` reads every vehicle's stack in one pass, :func:`write_fleet_plots`
writes the three figures above per vehicle into ``<vehicle>/`` and

- ``world.png``: the world in the ``map`` frame: every truth trajectory, each vehicle's path in its own colour
  and each pair of vehicles' closest approach (dotted), in the plane.

A figure whose topics are not in the bag is still drawn, with a note naming the missing topics.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qiki_msgs.msg import Event, RadarFrame, TrackArray
from qiki_geometry.lvlh import to_lvlh_rowwise
from qiki_tracks.track_codec import track_set_of

# what each figure reads: graph ports, resolved to topic names through config/graph.yaml
PORTS = {"tracks": "tracker.tracks", "truth": "sim.truth", "ego": "sim.vehicle_state",
         "frame_sr": "radar.frame_sr", "frame_lr": "radar.frame_lr", "status": "agent.status",
         "events": "agent.events", "score": "scorer.track_score"}
PLOT_TOPICS = ("tracks", "truth", "status", "events", "score")   # a bag needs at least one of these
FILES = {"scope": "scope.png", "timeline": "fsm_timeline.png", "gospa": "gospa.png"}
SIZES_IN = {"scope": (8.0, 8.0), "timeline": (10.0, 4.0), "gospa": (10.0, 4.0), "world": (9.0, 9.0)}
DPI = 100                                     # -> 800x800, 1000x400, 1000x400 pixels (world: 900x900)
WORLD_FILE = "world.png"                      # a fleet's world view; each vehicle's FILES are in <vehicle>/
VEHICLE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                  "tab:cyan")

IFF_STYLE = {TrackArray.IFF_UNKNOWN: ("unknown", "tab:orange"), TrackArray.IFF_FRIEND: ("friend", "tab:blue"),
             TrackArray.IFF_FOE: ("foe", "tab:red")}
SEVERITY_STYLE = {Event.INFO: ("INFO", "tab:blue"), Event.WARN: ("WARN", "tab:orange"), Event.ERROR: ("ERROR", "tab:red")}
BAND_STYLE = {RadarFrame.BAND_LR: ("LR", "tab:purple"), RadarFrame.BAND_SR: ("SR", "tab:green"),
              RadarFrame.BAND_UNION: ("union", "black")}


class PlotInputError(ValueError):
    """The input cannot be plotted; ``str()`` is one line naming the thing and the fix."""


def _records(**cols) -> np.ndarray:
    """Columns (equal length) -> a numpy structured array."""
    names = list(cols)
    arrays = [np.asarray(cols[n]) for n in names]
    out = np.empty(len(arrays[0]) if arrays else 0, dtype=[(n, a.dtype) for n, a in zip(names, arrays)])
    for n, a in zip(names, arrays):
        out[n] = a
    return out


def _empty(*names_types) -> np.ndarray:
    return np.empty(0, dtype=list(names_types))


@dataclass
class RunData:
    """What the figures draw, as numpy structured arrays (t in seconds of sim time)."""

    frame: str = "map"                         # tracking frame of tracks, truth and ego: "map" or "lvlh"
    tracks: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("id", "u4"), ("iff", "u1"),
                                                              ("band", "u1"), ("x", "f8"), ("y", "f8")))
    truth: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("id", "u4"), ("kind", "u1"),
                                                             ("x", "f8"), ("y", "f8")))
    ego: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("x", "f8"), ("y", "f8")))
    sr_range_m: float | None = None            # SR coverage outer edge = LR/SR boundary [m]
    lr_range_m: float | None = None            # LR coverage outer edge [m]
    status: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("state", "U32")))
    events: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("code", "u2"), ("severity", "u1")))
    score: np.ndarray = field(default_factory=lambda: _empty(("t", "f8"), ("band", "u1"), ("gospa", "f8")))
    gospa_c_m: float | None = None
    end_t: float = 0.0                         # last sim time seen in the bag [s]
    topics: dict[str, str] = field(default_factory=dict)  # PORTS key -> topic name read
    missing: list[str] = field(default_factory=list)   # plotted topics absent from the bag
    source: str = ""
    warnings: list[str] = field(default_factory=list)  # damaged parts of the bag skipped, one line each
    vehicle: str = ""                          # the fleet vehicle whose stack this is ("" for a single vehicle)


# ------------------------------------------------------------------------------------------ frames
def _plane(frame: str, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) plot coordinates of (N, 3) tracking-frame positions."""
    if frame == "lvlh":
        return pos[:, 1], pos[:, 0]            # V-bar (along-track) right, R-bar (radial) up
    return pos[:, 0], pos[:, 1]                # map: east right, north up


AXIS_LABELS = {"map": ("map x (east) [m]", "map y (north) [m]"),
               "lvlh": ("LVLH y, along-track (V-bar) [m]", "LVLH x, radial (R-bar) [m]")}


# ------------------------------------------------------------------------------------------ loading
def _stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def plot_topics(graph=None, vehicle: str = "") -> dict[str, str]:
    """PORTS key -> topic name in the graph description (the installed config/graph.yaml by default); with a
    `vehicle`, the topics of that fleet vehicle's stack (the graph's own expansion, GraphSpec.for_fleet)."""
    if graph is None:
        graph = installed_graph()
    fleet = graph.for_fleet([vehicle]) if vehicle else graph
    return {key: fleet.topic_of(fleet.vehicle_endpoint(vehicle, port)) for key, port in PORTS.items()}


def installed_graph():
    """The installed graph description (config/graph.yaml), before any fleet expansion."""
    from qiki.graph import load_graph
    from qiki.plan import config_dir
    return load_graph(config_dir() / "graph.yaml")


def bag_vehicles(graph, topics: set[str]) -> list[str]:
    """The fleet vehicles whose stacks a bag with these topics holds, sorted ([] for a single vehicle's bag):
    each part of a topic name for which the graph's expansion puts one of the vehicle's plotted topics (those
    that move per vehicle) into the bag."""
    single = plot_topics(graph)
    found = []
    for name in sorted({part for t in topics for part in t.split("/") if part}):
        try:
            own = plot_topics(graph, name)
        except ValueError:                    # not a vehicle's name (a node's, not [a-z][a-z0-9_]*)
            continue
        if any(own[k] != single[k] and own[k] in topics for k in (*PLOT_TOPICS, "ego")):
            found.append(name)
    return found


def load_fleet(bag_path: Path | str, graph=None) -> dict[str, RunData]:
    """{vehicle: RunData} of a bag: one entry per fleet vehicle recorded in it ({"": RunData} for a single
    vehicle's bag), read in one pass. Errors as :func:`load_run`."""
    graph = graph or installed_graph()

    def choose(present: set[str]) -> dict[str, dict[str, str]]:
        return {v: plot_topics(graph, v) for v in bag_vehicles(graph, present) or [""]}
    return load_runs(bag_path, choose)


def load_run(bag_path: Path | str, topics: dict[str, str] | None = None) -> RunData:
    """Decode the plotted topics of a bag into :class:`RunData` (topics: plot_topics() by default).

    Damaged parts of the bag are skipped, each named once in a warning (logger ``qiki_bag``, and in
    ``RunData.warnings``). Raises qiki_bag.reader.BagError (unreadable bag) or PlotInputError (none of the
    plotted topics)."""
    return load_runs(bag_path, lambda _present: {"": topics or plot_topics()})[""]


def load_runs(bag_path: Path | str, choose) -> dict[str, RunData]:
    """Decode several sets of plotted topics of a bag in one pass: ``choose(set of the bag's topics)`` gives
    {vehicle: PORTS key -> topic name}; returns {vehicle: RunData}. Errors and warnings as :func:`load_run`
    (PlotInputError when a set has none of its plotted topics in the bag)."""
    from qiki_bag.reader import open_bag

    warnings: list[str] = []
    log = logging.getLogger("qiki_bag")

    def warn(text: str) -> None:
        # before the bag opened, keep the warning: if it cannot be opened, the error's one line says it all
        warnings.append(text)
        if opened:
            log.warning(text)

    opened = False
    with open_bag(bag_path, warn=warn) as bag:
        opened = True
        for text in warnings:
            log.warning(text)
        present = set(bag.topic_types())
        sets = choose(present)
        runs: dict[str, RunData] = {}
        cols: dict[str, dict[str, list]] = {}
        readers: dict[str, list[tuple[str, str]]] = {}    # topic -> the (vehicle, PORTS key) reading it
        for vehicle, names in sets.items():
            missing = [names[k] for k in PLOT_TOPICS if names[k] not in present]
            if len(missing) == len(PLOT_TOPICS):
                raise PlotInputError(f"{bag_path}: none of the plotted topics ({', '.join(missing)}) is in this "
                                     "bag; record with 'qiki run --record' or 'qiki bag record' (default topics)")
            runs[vehicle] = RunData(topics=names, missing=missing, source=str(bag_path), warnings=warnings,
                                    vehicle=vehicle)
            cols[vehicle] = {k: [] for k in names}
            for key in ("frame_sr", "frame_lr"):       # coverage is constant: the first frame of each band
                for _topic, _t, msg in bag.decoded([names[key]]):
                    cols[vehicle][key].append(msg)
                    break
            for key in ("tracks", "truth", "ego", "status", "events", "score"):
                readers.setdefault(names[key], []).append((vehicle, key))
        end_ns = dict.fromkeys(sets, 0)
        for topic, _t, msg in bag.decoded(list(readers)):
            t = _stamp(msg)
            for vehicle, key in readers[topic]:
                end_ns[vehicle] = max(end_ns[vehicle], t)
                row = _row(key, t, msg, topic, warn)
                if row is not None:
                    cols[vehicle][key].append(row)
    for vehicle, data in runs.items():
        data.end_t = end_ns[vehicle] / 1e9
        _fill(data, cols[vehicle])
    return runs


def _row(key: str, t: int, msg, topic: str, warn):
    """What load_runs keeps of one decoded message read as PORTS key `key` (None: nothing usable)."""
    if key == "tracks":
        try:
            return t, track_set_of(msg)
        except ValueError as exc:
            warn(f"{topic} at {t / 1e9:.3f} s: {exc}: not plotted")
            return None
    if key == "truth":
        return t, msg.id, msg.kind, msg.position
    if key == "ego":
        p, v = msg.pose.position, msg.velocity_world
        return t, p.x, p.y, p.z, v.x, v.y, v.z
    if key == "status":
        return t, msg.state
    if key == "events":
        return t, msg.code, msg.severity
    return t, msg.band, msg.gospa_m, msg.gospa_c_m


def _fill(data: RunData, cols: dict[str, list]) -> None:
    """Turn the kept rows of each PORTS key into data's arrays, in the tracking frame."""
    # tracking frame: the tracks' header, else the radar frames' (a bag without tracks)
    frame_ids = {row[1].frame_id for row in cols["tracks"][:1]} | {m.world_frame_id for m in cols["frame_sr"][:1]}
    data.frame = "lvlh" if "lvlh" in frame_ids else "map"
    if cols["frame_sr"]:
        data.sr_range_m = float(cols["frame_sr"][0].max_range_m)
    if cols["frame_lr"]:
        data.lr_range_m = float(cols["frame_lr"][0].max_range_m)
        if data.sr_range_m is None:
            data.sr_range_m = float(cols["frame_lr"][0].min_range_m)

    ego = np.array(cols["ego"], dtype=float).reshape(-1, 7)
    ego_ns = ego[:, 0].astype(np.int64)
    if data.frame == "lvlh":                   # the chaser is the origin of its LVLH frame
        data.ego = _records(t=ego[:, 0] / 1e9, x=np.zeros(len(ego)), y=np.zeros(len(ego)))
    else:
        data.ego = _records(t=ego[:, 0] / 1e9, x=ego[:, 1], y=ego[:, 2])

    if cols["tracks"]:
        n = np.array([len(r[1]) for r in cols["tracks"]])
        t = np.repeat(np.array([r[0] for r in cols["tracks"]], dtype=np.int64), n) / 1e9
        cat = lambda name: np.concatenate([getattr(r[1], name) for r in cols["tracks"]])  # noqa: E731
        state = cat("state")
        keep = cat("status") == TrackArray.STATUS_CONFIRMED
        h, v = _plane(data.frame, state[:, :3])
        data.tracks = _records(t=t, id=cat("id"), iff=cat("iff"), band=cat("band"), x=h, y=v)[keep]

    if cols["truth"]:
        n = np.array([len(r[1]) for r in cols["truth"]])
        t_ns = np.repeat(np.array([r[0] for r in cols["truth"]], dtype=np.int64), n)
        pos = np.concatenate([np.asarray(r[3], dtype=float) for r in cols["truth"]]).reshape(-1, 3)
        ids = np.concatenate([np.asarray(r[1], dtype=np.uint32) for r in cols["truth"]])
        kind = np.concatenate([np.asarray(r[2], dtype=np.uint8) for r in cols["truth"]])
        if data.frame == "lvlh":               # ECI truth -> LVLH of the ego state with the same stamp
            ok = np.zeros(len(t_ns), bool)
            row = np.zeros((len(t_ns), 7))
            if len(ego_ns):
                order = np.argsort(ego_ns, kind="stable")
                j = np.clip(np.searchsorted(ego_ns[order], t_ns), 0, len(order) - 1)
                ok = ego_ns[order][j] == t_ns
                row = ego[order][j]
            row = row[ok]
            pos = to_lvlh_rowwise(row[:, 1:4], row[:, 4:7], pos[ok])
            t_ns, ids, kind = t_ns[ok], ids[ok], kind[ok]
        h, v = _plane(data.frame, pos)
        data.truth = _records(t=t_ns / 1e9, id=ids, kind=kind, x=h, y=v)

    if cols["status"]:
        st = cols["status"]
        data.status = _records(t=np.array([r[0] for r in st]) / 1e9, state=np.array([r[1] for r in st], dtype="U32"))
    if cols["events"]:
        ev = np.array(cols["events"], dtype=np.int64).reshape(-1, 3)
        data.events = _records(t=ev[:, 0] / 1e9, code=ev[:, 1].astype(np.uint16), severity=ev[:, 2].astype(np.uint8))
    if cols["score"]:
        sc = np.array(cols["score"], dtype=float).reshape(-1, 4)
        data.score = _records(t=sc[:, 0] / 1e9, band=sc[:, 1].astype(np.uint8), gospa=sc[:, 2])
        data.gospa_c_m = float(sc[-1, 3])


# ------------------------------------------------------------------------------------------ figures
def _figure(kind: str):
    from matplotlib.figure import Figure      # no pyplot: no global state, no GUI backend
    return Figure(figsize=SIZES_IN[kind], dpi=DPI, layout="constrained")


def _titled(data: RunData, title: str) -> str:
    """A figure's title, naming the fleet vehicle whose stack it draws."""
    return f"{data.vehicle}: {title}" if data.vehicle else title


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.35",
            bbox={"facecolor": "white", "edgecolor": "0.7"})


def _square_plan(ax, xs: list[np.ndarray], ys: list[np.ndarray]) -> None:
    """Equal-aspect plan axes holding every point of xs/ys, centred, with a margin, and a light grid."""
    if xs:
        x, y = np.concatenate(xs), np.concatenate(ys)
        half = 0.55 * max(np.ptp(x), np.ptp(y), 1.0)
        ax.set_xlim(x.min() + np.ptp(x) / 2 - half, x.min() + np.ptp(x) / 2 + half)
        ax.set_ylim(y.min() + np.ptp(y) / 2 - half, y.min() + np.ptp(y) / 2 + half)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, lw=0.3)


def _paths(t: np.ndarray, ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Per-id polylines (sorted by time) as a list of (M, 2) arrays for a LineCollection."""
    if not len(ids):
        return []
    order = np.lexsort((t, ids))
    xy = np.column_stack([x[order], y[order]])
    cuts = np.flatnonzero(np.diff(ids[order])) + 1
    return [p for p in np.split(xy, cuts) if len(p) > 1]


def scope_figure(data: RunData, max_labels: int = 25, title: str = ""):
    """Plan-position view: truth trajectories, confirmed tracks by IFF class, ego path, SR boundary."""
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Circle

    fig = _figure("scope")
    ax = fig.add_subplot()
    xs, ys = [], []
    if len(data.truth):
        paths = _paths(data.truth["t"], data.truth["id"], data.truth["x"], data.truth["y"])
        ax.add_collection(LineCollection(paths, colors="0.2", linewidths=0.6, alpha=0.7, zorder=4,
                                         label="truth trajectories"))
    if len(data.ego):
        ax.plot(data.ego["x"], data.ego["y"], color="black", lw=1.5,
                label="ego path" if data.frame == "map" else "ego (LVLH origin)")
        ax.plot(data.ego["x"][-1:], data.ego["y"][-1:], marker="^", color="black", ms=9, ls="none")
        xs.append(data.ego["x"]), ys.append(data.ego["y"])
    tr = data.tracks
    for code, (name, color) in IFF_STYLE.items():
        rows = tr[tr["iff"] == code]
        if len(rows):
            ax.scatter(rows["x"], rows["y"], s=3, color=color, alpha=0.5, lw=0,
                       label=f"confirmed track: {name}", zorder=3)
    if len(tr):
        xs.append(tr["x"]), ys.append(tr["y"])
        # sparse id labels: each id once, at its last confirmed position, at most max_labels (longest-lived)
        order = np.lexsort((tr["t"], tr["id"]))
        ids_sorted = tr["id"][order]
        last = order[np.r_[np.flatnonzero(np.diff(ids_sorted)), len(order) - 1]]
        counts = np.diff(np.r_[-1, np.flatnonzero(np.diff(ids_sorted)), len(order) - 1])
        for i in last[np.argsort(-counts, kind="stable")[:max_labels]]:
            ax.annotate(str(tr["id"][i]), (tr["x"][i], tr["y"][i]), xytext=(3, 3), textcoords="offset points",
                        fontsize=7, color=IFF_STYLE.get(int(tr["iff"][i]), IFF_STYLE[TrackArray.IFF_UNKNOWN])[1])
    if data.sr_range_m and len(data.ego):
        cx, cy = data.ego["x"][-1], data.ego["y"][-1]
        r = data.sr_range_m
        ax.add_patch(Circle((cx, cy), r, fill=False, ls="--", color="tab:green",
                            label=f"LR/SR boundary {r:g} m (SR max range)"))
        xs.append(np.array([cx - r, cx + r])), ys.append(np.array([cy - r, cy + r]))
    _square_plan(ax, xs, ys)
    ax.set_xlabel(AXIS_LABELS[data.frame][0])
    ax.set_ylabel(AXIS_LABELS[data.frame][1])
    ax.set_title(title or _titled(data, f"Plan-position view, frame {data.frame}"
                 + (" (truth ECI -> LVLH, in-plane projection)" if data.frame == "lvlh" else "")), fontsize=10)
    absent = [data.topics[k] for k in ("tracks", "truth") if data.topics.get(k) in data.missing]
    if absent:
        _note(ax, f"not in the bag: {', '.join(absent)}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    return fig


def timeline_figure(data: RunData, title: str = ""):
    """FSM state over sim time (step line) with events as markers coloured by severity."""
    fig = _figure("timeline")
    ax = fig.add_subplot()
    st = data.status
    states: list[str] = []
    if len(st):
        order = np.argsort(st["t"], kind="stable")
        t, s = st["t"][order], st["state"][order]
        names, first = np.unique(s, return_index=True)
        states = list(names[np.argsort(first)])          # in order of first appearance
        level = np.searchsorted(names, s)
        rank = np.argsort(np.argsort(first))             # unique-sorted index -> appearance order
        y = rank[level] + 1
        end = max(data.end_t, t[-1])
        ax.step(np.r_[t, end], np.r_[y, y[-1]], where="post", color="black", lw=1.5, label="FSM state")
    ev = data.events
    for sev, (name, color) in SEVERITY_STYLE.items():
        rows = ev[ev["severity"] == sev]
        if len(rows):
            ax.scatter(rows["t"], np.zeros(len(rows)), marker="|", s=300, color=color, lw=2,
                       label=f"event {name}", zorder=3)
    ax.set_yticks(range(len(states) + 1), ["events"] + states)
    ax.set_ylim(-0.7, len(states) + 0.7)
    ax.set_xlabel("sim time [s]")
    ax.grid(True, axis="x", lw=0.3)
    ax.set_title(title or _titled(data, "Agent FSM state and events"), fontsize=10)
    absent = [data.topics[k] for k in ("status", "events") if data.topics.get(k) in data.missing]
    if absent:
        _note(ax, f"not in the bag: {', '.join(absent)}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=7, bbox_to_anchor=(1.0, 1.0))
    return fig


def gospa_figure(data: RunData, title: str = ""):
    """GOSPA distance per band over sim time."""
    fig = _figure("gospa")
    ax = fig.add_subplot()
    sc = data.score
    for band, (name, color) in BAND_STYLE.items():
        rows = sc[sc["band"] == band]
        if len(rows):
            rows = rows[np.argsort(rows["t"], kind="stable")]
            ax.plot(rows["t"], rows["gospa"], color=color, lw=1, label=f"{name} (mean {rows['gospa'].mean():.2f} m)")
    if data.gospa_c_m:
        ax.axhline(data.gospa_c_m, color="0.5", ls=":", lw=1, label=f"cut-off c = {data.gospa_c_m:g} m")
    ax.set_xlabel("sim time [s]")
    ax.set_ylabel("GOSPA [m] (p = 2, alpha = 2)")
    ax.grid(True, lw=0.3)
    ax.set_title(title or _titled(data, "Tracking error against truth (GOSPA) per band"), fontsize=10)
    if data.topics.get("score") in data.missing:
        _note(ax, f"not in the bag: {data.topics['score']}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)
    return fig


def figures(data: RunData) -> dict[str, object]:
    return {"scope": scope_figure(data), "timeline": timeline_figure(data), "gospa": gospa_figure(data)}


def write_plots(data: RunData, out_dir: Path | str) -> list[str]:
    """Save every figure as PNG into out_dir; returns the file names (relative to out_dir)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for kind, fig in figures(data).items():
        fig.savefig(out / FILES[kind], dpi=DPI)
        names.append(FILES[kind])
    return names


def _closest_pairs(runs: dict[str, RunData]) -> list[tuple[str, str, float, float, tuple, tuple]]:
    """(a, b, distance [m], t [s], a's position, b's position) at each pair of vehicles' closest approach in
    the plane, over the stamps where both have a vehicle state."""
    out = []
    names = [v for v in runs if len(runs[v].ego)]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ea, eb = runs[a].ego, runs[b].ego
            t, ia, ib = np.intersect1d(ea["t"], eb["t"], return_indices=True)
            if not len(t):
                continue
            d = np.hypot(ea["x"][ia] - eb["x"][ib], ea["y"][ia] - eb["y"][ib])
            k = int(np.argmin(d))
            out.append((a, b, float(d[k]), float(t[k]), (ea["x"][ia[k]], ea["y"][ia[k]]),
                        (eb["x"][ib[k]], eb["y"][ib[k]])))
    return out


def world_figure(runs: dict[str, RunData], title: str = ""):
    """The world of a fleet: every truth trajectory, each vehicle's path in its colour (a triangle at its last
    position), and each pair of vehicles' closest approach as a dotted segment."""
    from matplotlib.collections import LineCollection

    fig = _figure("world")
    ax = fig.add_subplot()
    first = next(iter(runs.values()))
    xs, ys = [], []
    if len(first.truth) and first.frame == "map":         # one world: every stack reads the same truth
        ax.add_collection(LineCollection(_paths(first.truth["t"], first.truth["id"], first.truth["x"],
                                                first.truth["y"]), colors="0.5", linewidths=0.6, alpha=0.7,
                                         label="truth trajectories"))
        xs.append(first.truth["x"]), ys.append(first.truth["y"])
    for k, (vehicle, data) in enumerate(runs.items()):
        if not len(data.ego) or data.frame != "map":
            continue
        color = VEHICLE_COLORS[k % len(VEHICLE_COLORS)]
        ax.plot(data.ego["x"], data.ego["y"], color=color, lw=1.8, label=f"{vehicle} path", zorder=4)
        ax.plot(data.ego["x"][-1:], data.ego["y"][-1:], marker="^", color=color, ms=9, ls="none", zorder=5)
        ax.annotate(vehicle, (data.ego["x"][-1], data.ego["y"][-1]), xytext=(5, 5), textcoords="offset points",
                    fontsize=8, color=color)
        xs.append(data.ego["x"]), ys.append(data.ego["y"])
    for a, b, d, t, pa, pb in _closest_pairs({v: r for v, r in runs.items() if r.frame == "map"}):
        ax.plot([pa[0], pb[0]], [pa[1], pb[1]], ls=":", color="tab:red", lw=1.2, marker="o", ms=3, zorder=6,
                label=f"closest {a}-{b}: {d:.2f} m at {t:.1f} s")
    _square_plan(ax, xs, ys)
    ax.set_xlabel(AXIS_LABELS["map"][0])
    ax.set_ylabel(AXIS_LABELS["map"][1])
    ax.set_title(title or f"World view: {len(runs)} vehicles ({', '.join(runs)}), frame map", fontsize=10)
    if any(r.frame != "map" for r in runs.values()):
        _note(ax, "the world view draws map-frame stacks only; see each vehicle's scope")
    elif first.topics.get("truth") in first.missing:
        _note(ax, f"not in the bag: {first.topics['truth']}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)
    return fig


def write_fleet_plots(runs: dict[str, RunData], out_dir: Path | str) -> list[str]:
    """Save the figures of :func:`load_fleet`'s runs into out_dir; returns the file names (relative to
    out_dir): a single vehicle's as write_plots; a fleet's world view (world.png) and each vehicle's figures in
    <vehicle>/."""
    if list(runs) == [""]:
        return write_plots(runs[""], out_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world_figure(runs).savefig(out / WORLD_FILE, dpi=DPI)
    return [WORLD_FILE] + [f"{v}/{name}" for v, data in runs.items() for name in write_plots(data, out / v)]


def resolve_input(path: Path | str) -> tuple[Path, Path]:
    """RUN_DIR_OR_BAG -> (bag path, default output directory). Raises PlotInputError (one line)."""
    p = Path(path)
    if not p.exists():
        raise PlotInputError(f"{p}: no such file or directory; give a run directory of 'qiki run --record' "
                             "or a bag directory")
    if p.is_dir() and not (p / "metadata.yaml").exists() and (p / "summary.json").exists():
        if not (p / "bag").exists():
            raise PlotInputError(f"{p}: run directory without a bag (the run was not recorded); "
                                 "run 'qiki run --record' to record one")
        return p / "bag", p
    if p.is_dir() and (p / "metadata.yaml").exists():
        return p, (p.parent if (p.parent / "summary.json").exists() else p.parent / f"{p.name}-plots")
    if p.is_file():
        return p, p.parent / f"{p.stem}-plots"
    return p, p.parent / f"{p.name}-plots"          # open_bag names the problem
