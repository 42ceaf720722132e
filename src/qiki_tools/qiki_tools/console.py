"""`qiki console`: a Textual terminal console on a running graph.

The app never touches ROS messages: it reads `source.snapshot()` (see `console_ros.ConsoleAdapter`)
on a timer (`refresh_hz`, 5 Hz) and renders the pure model's view of it; widgets are only updated
when their part of the snapshot changed, and the track table holds at most `MAX_ROWS` rows (nearest
first), so the UI cost does not grow with the number of tracks or messages. Keys send operator
commands through `source.command()` without blocking.
"""
from __future__ import annotations

import signal
import time

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from qiki_tools.console_model import (COMMAND_KEYS, LEVEL_NAMES, LEVEL_STYLES, MAX_ROWS, SET_OFFSET, SEVERITY_NAMES,
                                SEVERITY_STYLES, Snapshot, answer_line, status_line, track_rows,
                                unreachable_message)

EVENT_LINES = 12
TRACK_HEADER = f"{'id':>6} {'band':>5} {'range m':>9} {'brg deg':>7} {'closing':>8}  {'IFF':<8} status"


class ConsoleApp(App):
    CSS = """
    #status { height: 1; background: $boost; text-style: bold; }
    #unreachable { height: auto; color: $error; text-style: bold; padding: 0 1; }
    #unreachable.hidden { display: none; }
    #left { width: 44; }
    #fsm { height: auto; border: round $primary; }
    #bios { height: 1fr; border: round $primary; }
    #right { width: 1fr; }
    #tracks { height: 1fr; border: round $primary; }
    #tracks-caption { height: 1; }
    #events { height: 14; border: round $primary; }
    #answer { height: 1; background: $boost; }
    """
    BINDINGS = [Binding(key, f"command({number})", label.split(" (")[0])
                for key, (number, label) in COMMAND_KEYS.items()] + [
        Binding("q", "quit", "quit"), Binding("pagedown", "page(1)", "tracks down"),
        Binding("pageup", "page(-1)", "tracks up"), Binding("home", "page(0)", "nearest", show=False)]

    def __init__(self, source, refresh_hz: float = 5.0, unreachable_after_s: float = 3.0, max_rows: int = MAX_ROWS,
                 offset_lvlh_m: tuple[float, float, float] | None = None):
        """offset_lvlh_m: what key o (SET_OFFSET) sends; None: the agent refuses the empty offset in one line."""
        super().__init__()
        self.source = source
        self.offset_lvlh_m = offset_lvlh_m
        self.refresh_s = 1.0 / refresh_hz
        self.unreachable_after_s = unreachable_after_s
        self.max_rows = max_rows
        self.snapshot: Snapshot | None = None     # what is on screen (tests read it)
        self.texts: dict[str, str] = {}           # widget id -> plain text shown
        self.render_times_s: list[float] = []     # wall time of each refresh
        self.track_rows_shown = 0
        self.track_offset = 0                     # first track row shown (nearest first)
        self._shown: dict[str, object] = {}       # widget id -> the snapshot part it shows
        self._widgets: dict[str, Static] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        yield Static("", id="unreachable", classes="hidden")
        with Horizontal():
            with Vertical(id="left"):
                yield Static("", id="fsm")
                yield DataTable(id="bios", show_cursor=False, zebra_stripes=True)
            with Vertical(id="right"):
                yield Static("", id="tracks-caption")
                yield Static("", id="tracks")
        yield Static("", id="events")
        yield Static("", id="answer")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "QIKI console"
        self._widgets = {w.id: w for w in self.query(Static) if w.id}
        self.query_one("#fsm", Static).border_title = "FSM"
        self._bios = bios = self.query_one("#bios", DataTable)
        bios.can_focus = False          # its paging keys would shadow the track table's
        bios.border_title = "BIOS health"
        bios.add_columns("device", "BIOS", "raw", "message")
        self.query_one("#tracks").border_title = "tracks (/qiki/tracks)"
        self.query_one("#events", Static).border_title = "events (/qiki/events)"
        self.call_after_refresh(self.refresh_view)      # after the first layout: the table's height is known
        self._timer = self.set_interval(self.refresh_s, self.refresh_view)

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_view)

    def on_unmount(self) -> None:
        self._timer.stop()

    # --- rendering ----------------------------------------------------------------------------
    def _changed(self, key: str, value) -> bool:
        if key in self._shown and self._shown[key] is value or self._shown.get(key) == value:
            return False
        self._shown[key] = value
        return True

    def _set_text(self, widget_id: str, text: str | Text) -> None:
        plain = text.plain if isinstance(text, Text) else text
        if self.texts.get(widget_id) != plain:
            self.texts[widget_id] = plain
            self._widgets[widget_id].update(text)

    def refresh_view(self) -> None:
        t0 = time.perf_counter()
        snap = self.source.snapshot()
        self.snapshot = snap
        if self._changed("titles", (snap.vehicle, tuple(snap.topics.items()))):
            self.title = f"QIKI console: {snap.vehicle}" if snap.vehicle else "QIKI console"
            self.query_one("#tracks").border_title = f"tracks ({snap.topics.get('tracks', '/qiki/tracks')})"
            self.query_one("#events", Static).border_title = f"events ({snap.topics.get('events', '/qiki/events')})"
        self._set_text("status", status_line(snap))
        banner = self._widgets["unreachable"]
        message = unreachable_message(snap, self.unreachable_after_s)
        banner.set_class(message is None, "hidden")
        self._set_text("unreachable", message or "")
        self._set_text("answer", answer_line(snap))
        if self._changed("fsm", (snap.state, tuple(snap.transitions))):
            lines = [f"state  {snap.state or '?'}", ""] + [
                f"{t:7.1f} s  {a} -> {b}" for t, a, b, _ in reversed(snap.transitions)]
            self._set_text("fsm", "\n".join(lines))
        if self._changed("bios", (snap.bios_seq, tuple(snap.bios), tuple(snap.device_values.items()))):
            self._render_bios(snap)
        if self._changed("tracks", (snap.tracks, snap.ego, self._visible_rows(), self.track_offset)):
            self._render_tracks(snap)
        if self._changed("events", len(snap.events) and snap.events[-1]):
            self._render_events(snap)
        self.render_times_s.append(time.perf_counter() - t0)
        del self.render_times_s[:-1000]

    def _render_bios(self, snap: Snapshot) -> None:
        table = self._bios
        table.clear()
        names = [d[0] for d in snap.bios] + [n for n in snap.device_values if n not in {d[0] for d in snap.bios}]
        bios = {name: (level, message) for name, level, message in snap.bios}
        for name in names:
            level, message = bios.get(name, (None, ""))
            raw = snap.device_values.get(name)
            table.add_row(name,
                          Text(LEVEL_NAMES.get(level, "-"), style=LEVEL_STYLES.get(level, "")),
                          Text(f"{LEVEL_NAMES.get(raw[0], '?')} {raw[1]:.2f}", style=LEVEL_STYLES.get(raw[0], ""))
                          if raw else "-", message)
        table.border_subtitle = f"self test #{snap.bios_seq}" if snap.bios_seq is not None else "no report yet"

    def _render_tracks(self, snap: Snapshot) -> None:
        # Only the rows that fit are built, as one Text of fixed-width lines (a DataTable re-rendered
        # every cell: ~5x slower per refresh); PgUp/PgDn page through the rest.
        view = track_rows(snap.tracks, snap.ego, self._visible_rows(), self.track_offset)
        text = Text(TRACK_HEADER + "\n", style="bold", no_wrap=True)
        for tid, band, rng, brg, closing, (iff, style), status in view.rows:
            text.append(f"{tid:>6} {band:>5} {rng} {brg} {closing}  ")
            text.append(f"{iff:<8}", style=style)
            text.append(f" {status}\n")
        self.track_rows_shown = len(view.rows)
        self._set_text("tracks", text)
        shown = (f"rows {view.offset + 1}-{view.offset + len(view.rows)} (nearest first, PgUp/PgDn) of "
                 if view.total > len(view.rows) else "")
        iff = ", ".join(f"{k} {v}" for k, v in view.by_iff.items())
        self._set_text("tracks-caption", f"{shown}{view.total} tracks ({iff}) at t = {snap.tracks.stamp_s:.1f} s")

    def _render_events(self, snap: Snapshot) -> None:
        text = Text()
        for t, code, sev, source, message in snap.events[-EVENT_LINES:]:
            text.append(f"{t:8.1f} s {code:3d} {SEVERITY_NAMES.get(sev, sev):5s} {source:6s} {message}\n",
                        style=SEVERITY_STYLES.get(sev, ""))
        self._set_text("events", text)

    def _visible_rows(self) -> int:
        height = self._widgets["tracks"].content_size.height - 1      # minus the header line
        return max(1, min(self.max_rows, height if height > 0 else self.max_rows))

    # --- keys ---------------------------------------------------------------------------------
    def action_page(self, direction: int) -> None:
        page = self._visible_rows()
        total = len(self.snapshot.tracks.id) if self.snapshot else 0
        self.track_offset = 0 if direction == 0 else max(0, min(self.track_offset + direction * page,
                                                                   max(0, total - page)))
        self.refresh_view()

    def action_command(self, number: int) -> None:
        if number == SET_OFFSET:
            self.source.command(number, offset_lvlh_m=self.offset_lvlh_m or ())
        else:
            self.source.command(number)
        self.refresh_view()


def run_console(domain_id: int, profile: str | None, unreachable_after_s: float = 3.0, vehicle: str = "",
                scenario: str | None = None, offset_lvlh_m: tuple[float, float, float] | None = None) -> int:
    """Attach to the graph on `domain_id` (a fleet's: to `vehicle`'s stack) and run the console until the
    operator quits; key o sends SET_OFFSET with offset_lvlh_m. UsageError (one line) for a vehicle the scenario
    has not."""
    from qiki_tools.console_model import stack_graph
    from qiki_tools.console_ros import ConsoleAdapter
    from qiki.plan import UsageError, make_plan

    plan = make_plan(profile, scenario)
    try:
        graph = stack_graph(plan.graph, vehicle)
    except ValueError as exc:
        raise UsageError(f"scenario '{plan.scenario}': {exc}") from None
    adapter = ConsoleAdapter(graph, domain_id=domain_id, profile=plan.profile, vehicle=vehicle)
    app = ConsoleApp(adapter, unreachable_after_s=unreachable_after_s, offset_lvlh_m=offset_lvlh_m)
    # In the terminal Ctrl-C is a key (raw mode); SIGINT/SIGTERM from outside quit like `q` does.
    previous = {sig: signal.signal(sig, lambda *_: app.exit()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        adapter.close()
    return 0
