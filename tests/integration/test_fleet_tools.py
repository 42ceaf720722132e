"""The tools on a real fleet graph (bot_fleet: three stacks under /qiki/alpha|bravo|charlie): `qiki console
--vehicle bravo` shows bravo's stack and its safe-mode key reaches bravo's agent only; `qiki bag record` with its
defaults (/qiki/*, the installed graph.yaml as catalog) takes every stack's topics, and `qiki plot` draws a world
view and each vehicle's figures from that bag."""
import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_console import _until, _until_booted, fsm_state  # noqa: E402

pytestmark = pytest.mark.integration
FLEET = ["alpha", "bravo", "charlie"]
RECORD_S = 10.0


def test_console_attaches_to_one_vehicle_and_the_recorder_takes_every_stack(tmp_path, domain_id, leftover_processes):
    from qiki.plan import config_dir, make_plan
    from qiki.supervisor import GraphSupervisor, graph_env
    from qiki_bag.background import BackgroundRecorder
    from qiki_bag.reader import open_bag
    from qiki_tools import plots
    from qiki_tools.console import ConsoleApp
    from qiki_tools.console_ros import ConsoleAdapter

    plan = make_plan(scenario="bot_fleet")
    assert plan.graph.vehicles == FLEET
    template = plan.base_graph
    single = plots.plot_topics(template)
    stack_topics = sorted({t for v in FLEET for k, t in plots.plot_topics(template, v).items() if t != single[k]})
    assert len(stack_topics) == len(FLEET) * 7          # all but the world's truth move per vehicle
    bravo = ConsoleAdapter(plan.graph, domain_id=domain_id, profile="bot", vehicle="bravo")
    alpha = ConsoleAdapter(plan.graph, domain_id=domain_id, profile="bot", vehicle="alpha")
    app = ConsoleApp(bravo, refresh_hz=5.0)
    recorder = BackgroundRecorder(tmp_path / "bag", domain_id, log_path=tmp_path / "bag.log",
                                  graph_file=config_dir() / "graph.yaml")

    async def drive(sup):
        async with app.run_test(size=(160, 50)) as pilot:
            await _until_booted(pilot, app, 180, "bravo's tracks and a booted agent")
            assert app.texts["status"].startswith(f"bravo  FSM {fsm_state(app)}")
            assert app.query_one("#tracks").border_title == "tracks (/qiki/bravo/tracks)"
            assert app.query_one("#events").border_title == "events (/qiki/bravo/events)"
            assert "BOOTING -> IDLE" in app.texts["fsm"]
            await _until(pilot, lambda: bravo.client.service_is_ready(), 30, "bravo's operator command service")
            assert bravo.client.srv_name == "/qiki/bravo/agent/command"

            await pilot.press("s")
            await _until(pilot, lambda: app.texts["answer"].startswith("SAFE_MODE: ACCEPTED"), 30,
                         "the answer to safe mode")
            await _until(pilot, lambda: fsm_state(app) == "SAFE_MODE", 30, "bravo's FSM state SAFE_MODE")
            others = alpha.snapshot()
            assert others.agent_seen and others.state not in ("", "SAFE_MODE"), others.state   # alpha keeps going
            # some sim time for every stack's outputs, the scorers' too (outside the step barrier)
            await _until(pilot, lambda: min(a.snapshot().tracks.stamp_s for a in (alpha, bravo)) >= RECORD_S, 180,
                         f"{RECORD_S} s of sim time")
            assert sup.dead() == []

    try:
        with recorder:
            with GraphSupervisor(plan.commands(), graph_env(domain_id), log_dir=tmp_path / "logs") as sup:
                asyncio.run(drive(sup))
                # the recorder names each topic it found and subscribed to (the fleet's are not in graph.yaml)
                for topic in stack_topics:
                    assert recorder.wait_line(lambda line, t=topic: f"recording {t} " in line, 60), \
                        f"{topic}: not recorded ({recorder.tail()})"
    finally:
        bravo.close()
        alpha.close()
    assert leftover_processes(domain_id) == []

    with open_bag(tmp_path / "bag") as bag:
        topics = set(bag.topic_types())
    for v in FLEET:
        missing = set(plots.plot_topics(template, v).values()) - topics
        assert not missing, f"{v}: not recorded: {sorted(missing)}"
    runs = plots.load_fleet(tmp_path / "bag", template)
    assert list(runs) == FLEET and all(len(r.ego) and len(r.status) for r in runs.values())
    assert "SAFE_MODE" in runs["bravo"].status["state"] and "SAFE_MODE" not in runs["alpha"].status["state"]
    names = plots.write_fleet_plots(runs, tmp_path / "plots")
    assert names[0] == "world.png" and len(names) == 1 + 3 * len(FLEET)
    assert all((tmp_path / "plots" / n).stat().st_size > 5000 for n in names)
    print(f"recorded {len(topics)} topics; figures: {', '.join(names)}", file=sys.stderr)
