"""`qiki console` on a real bot graph, driven through Textual's headless harness: tracks appear, the
safe-mode key reaches the agent's service and the FSM shows SAFE_MODE, the reset key brings it back.
And on an empty domain it says so instead of failing."""
import asyncio
import time

import pytest

pytestmark = pytest.mark.integration


async def _until(pilot, predicate, timeout_s: float, what: str) -> None:
    """Let the app run (its refresh timer pulls the ROS snapshot) until predicate() or the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def fsm_state(app) -> str:
    """The FSM state of the app's latest snapshot ('' before the first)."""
    return app.snapshot.state if app.snapshot else ""


async def _until_booted(pilot, app, timeout_s: float, what: str) -> None:
    """Until the app shows tracks and an agent past BOOTING."""
    await _until(pilot, lambda: app.track_rows_shown > 0 and fsm_state(app) not in ("", "BOOTING"), timeout_s, what)


def test_console_shows_the_graph_and_steers_the_agent(domain_id, leftover_processes):
    from qiki_tools.console import ConsoleApp
    from qiki_tools.console_ros import ConsoleAdapter
    from qiki.plan import make_plan
    from qiki.supervisor import GraphSupervisor, graph_env

    plan = make_plan("bot")
    adapter = ConsoleAdapter(plan.graph, domain_id=domain_id, profile="bot")
    app = ConsoleApp(adapter, refresh_hz=5.0)

    async def drive(sup):
        async with app.run_test(size=(160, 50)) as pilot:
            await _until_booted(pilot, app, 120, "tracks and a booted agent")
            assert app.texts["status"].startswith(f"FSM {fsm_state(app)}")
            assert "BOOTING -> IDLE" in app.texts["fsm"]
            await _until(pilot, lambda: app.query_one("#bios").row_count > 0, 30, "the BIOS report")
            assert "NaN" not in app.texts["tracks"]
            await _until(pilot, lambda: adapter.client.service_is_ready(), 30, "the operator command service")

            await pilot.press("s")
            await _until(pilot, lambda: app.texts["answer"].startswith("SAFE_MODE: ACCEPTED"), 30,
                         "the answer to safe mode")
            assert app.texts["answer"].endswith("(state SAFE_MODE)")
            await _until(pilot, lambda: fsm_state(app) == "SAFE_MODE", 30, "FSM state SAFE_MODE on the status topic")
            assert app.texts["status"].startswith("FSM SAFE_MODE")

            await pilot.press("r")
            await _until(pilot, lambda: app.texts["answer"].startswith("RESET: ACCEPTED"), 30, "the answer to reset")
            await _until(pilot, lambda: "SAFE_MODE -> BOOTING" in app.texts["fsm"] and fsm_state(app) in
                         ("IDLE", "MISSION_ACTIVE", "ALERT"), 60, "the agent back out of SAFE_MODE")
            assert sup.dead() == []

    try:
        with GraphSupervisor(plan.commands(), graph_env(domain_id), log_dir=None) as sup:
            asyncio.run(drive(sup))
    finally:
        adapter.close()
    assert leftover_processes(domain_id) == []


def test_console_on_an_empty_domain_says_no_graph_is_reachable(domain_id, leftover_processes):
    from qiki_tools.console import ConsoleApp
    from qiki_tools.console_ros import ConsoleAdapter
    from qiki.plan import make_plan

    adapter = ConsoleAdapter(make_plan("bot").graph, domain_id=domain_id)
    app = ConsoleApp(adapter, unreachable_after_s=1.0)

    async def drive():
        async with app.run_test() as pilot:
            banner = app.query_one("#unreachable")
            await _until(pilot, lambda: not banner.has_class("hidden"), 30, "the unreachable message")
            await pilot.press("s")                        # a command with no graph: answered plainly
            await _until(pilot, lambda: app.texts["answer"].startswith("SAFE_MODE: no answer"), 10,
                         "the missing-service answer")
            return app.texts["unreachable"], app.texts["answer"]

    try:
        banner, answer = asyncio.run(drive())
    finally:
        adapter.close()
    assert banner.startswith(f"No QIKI graph reachable on ROS_DOMAIN_ID={domain_id}")
    assert "service /qiki/agent/command not available" in answer
    assert leftover_processes(domain_id) == []
