"""The Textual console against a fake snapshot source (no ROS): 1000 tracks stay cheap, keys call the source."""
import asyncio
import time

import numpy as np

from qiki_tools import console_model as cm
from qiki_tracks.track_set import TrackSet
from qiki_tools.console import ConsoleApp


class FakeSource:
    def __init__(self, snap: cm.Snapshot):
        self.snap, self.sent, self.offsets = snap, [], []

    def snapshot(self) -> cm.Snapshot:
        return self.snap

    def command(self, number: int, argument: str = "", offset_lvlh_m=()) -> None:
        self.sent.append(number)
        self.offsets.append(tuple(offset_lvlh_m))
        self.snap.answer = cm.Answer(cm.COMMAND_NAMES[number], True, "ok", "SAFE_MODE")


def _many_tracks(n: int, seed: int) -> TrackSet:
    rng = np.random.default_rng(seed)
    state = np.hstack([rng.uniform(-800, 800, (n, 2)), np.zeros((n, 1)), rng.normal(0, 2, (n, 2)), np.zeros((n, 1))])
    return TrackSet.from_arrays(np.arange(n, dtype=np.uint32), np.ones(n, np.uint8),
                                rng.integers(0, 3, n).astype(np.uint8), rng.integers(0, 2, n).astype(np.uint8), state,
                                stamp_s=float(seed), frame_id="map")


def test_console_renders_1000_tracks_capped_and_keys_send_commands():
    snap = cm.Snapshot(agent_seen=True, state="IDLE", domain_id=7, tracks=_many_tracks(1000, 0),
                       ego=cm.Ego("map", np.zeros(3), np.zeros(3), 0.0),
                       bios=[("radar_lr", 0, "ok"), ("power", 1, "low")], device_values={"power": (1, 0.2)},
                       events=[(1.0, 201, 0, "agent", "BOOTING -> IDLE")])
    source = FakeSource(snap)

    async def scenario():
        app = ConsoleApp(source, refresh_hz=5.0, max_rows=100)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            rows = app.track_rows_shown                            # only what fits on the screen
            assert 10 < rows < 100 and app.texts["tracks"].count("\n") == rows + 1   # + header
            assert app.texts["tracks-caption"].startswith(f"rows 1-{rows} (nearest first, PgUp/PgDn) of 1000 tracks")
            await pilot.press("pagedown")
            assert app.texts["tracks-caption"].startswith(f"rows {rows + 1}-{2 * rows} ")
            await pilot.press("home")
            assert app.texts["tracks-caption"].startswith(f"rows 1-{rows} ")
            assert app.query_one("#bios").row_count == 2
            assert "BOOTING -> IDLE" in app.texts["events"]
            # new track arrays at every refresh: time the refresh (model + table rebuild) and the repaint
            times, refresh = [], []
            for seed in range(1, 11):
                snap.tracks = _many_tracks(1000, seed)
                t0 = time.perf_counter()
                app.refresh_view()
                t1 = time.perf_counter()
                await pilot.pause()
                refresh.append(t1 - t0)
                times.append(time.perf_counter() - t0)
            await pilot.press("s")
            await pilot.pause()
            assert source.sent == [cm.SAFE_MODE]
            assert app.texts["answer"].startswith("SAFE_MODE: ACCEPTED")
            return times, refresh

    times, refresh = asyncio.run(scenario())
    print(f"1000 tracks: refresh_view median {np.median(refresh) * 1e3:.1f} ms, "
          f"refresh + repaint median {np.median(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms")
    assert np.median(refresh) < 0.1     # well inside the 200 ms refresh period on 2 cores


def test_key_o_sends_the_console_offset():
    source = FakeSource(cm.Snapshot(agent_seen=True, state="MISSION_ACTIVE"))

    async def scenario():
        app = ConsoleApp(source, offset_lvlh_m=(0.0, 150.0, 0.0))
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("o")
            await pilot.pause()

    asyncio.run(scenario())
    assert source.sent == [cm.SET_OFFSET] and source.offsets == [(0.0, 150.0, 0.0)]


def test_console_says_plainly_when_no_graph_answers():
    source = FakeSource(cm.Snapshot(connected_s=5.0, domain_id=42))

    async def scenario():
        app = ConsoleApp(source, unreachable_after_s=3.0)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert not app.query_one("#unreachable").has_class("hidden")
            return app.texts["unreachable"]

    text = asyncio.run(scenario())
    assert text.startswith("No QIKI graph reachable on ROS_DOMAIN_ID=42")
