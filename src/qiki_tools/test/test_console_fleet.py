"""`qiki console --vehicle NAME` without DDS: which stack's graph the console reads (the graph's expansion), what
its lines say, and one-line errors (exit 2) for a vehicle the scenario has not."""
import subprocess
import sys
from pathlib import Path

import pytest

from qiki.plan import make_plan
from qiki_tools import console_model as cm

QIKI = Path(sys.executable).with_name("qiki")


def test_the_stack_graph_of_a_fleet_vehicle_is_the_graphs_expansion():
    fleet = make_plan(scenario="bot_fleet").graph
    single = make_plan(scenario="bot_patrol").graph
    assert cm.stack_graph(single) is single                          # one unnamed vehicle: as before
    assert cm.stack_graph(fleet, "bravo") is fleet                   # a fleet's expanded graph holds every stack
    alone = cm.stack_graph(single, "bravo")                          # no scenario given: graph.yaml for bravo
    for endpoint in ("agent.status", "tracker.tracks", "agent.events", "sim.vehicle_state", "sim.events"):
        assert alone.topic_of(alone.vehicle_endpoint("bravo", endpoint)) == \
            fleet.topic_of(fleet.vehicle_endpoint("bravo", endpoint))
    assert alone.topic_of(alone.vehicle_endpoint("bravo", "agent.status")) == "/qiki/bravo/agent/status"
    with pytest.raises(ValueError, match=r"^a fleet: give --vehicle NAME \(one of alpha, bravo, charlie\)$"):
        cm.stack_graph(fleet)
    with pytest.raises(ValueError, match=r"^vehicle 'delta' is not in the fleet \(alpha, bravo, charlie\)$"):
        cm.stack_graph(fleet, "delta")
    with pytest.raises(ValueError, match="is a node name"):
        cm.stack_graph(single, "agent")


def test_lines_name_the_vehicle_and_its_status_topic():
    snap = cm.Snapshot(connected_s=5.0, domain_id=9, vehicle="bravo", topics={"status": "/qiki/bravo/agent/status"})
    text = cm.unreachable_message(snap, after_s=3.0)
    assert text.startswith("No QIKI graph reachable on ROS_DOMAIN_ID=9: no agent status on /qiki/bravo/agent/status")
    assert "check --domain-id and --vehicle" in text
    assert cm.status_line(snap) == "domain 9: waiting for the agent of bravo ..."
    snap.agent_seen, snap.state = True, "IDLE"
    assert cm.status_line(snap).startswith("bravo  FSM IDLE")
    single = cm.Snapshot(connected_s=5.0, domain_id=9)
    assert "a fleet's stack: --vehicle NAME" in cm.unreachable_message(single, after_s=3.0)


@pytest.mark.parametrize("args, expected", [
    (["--scenario", "bot_fleet"], "scenario 'bot_fleet': a fleet: give --vehicle NAME (one of alpha, bravo, charlie)"),
    (["--scenario", "bot_fleet", "--vehicle", "delta"], "scenario 'bot_fleet': vehicle 'delta' is not in the fleet"),
    (["--vehicle", "Bad-Name"], "vehicle name 'Bad-Name' is not [a-z][a-z0-9_]*"),
])
def test_a_vehicle_the_scenario_has_not_is_one_line_exit_2(args, expected):
    proc = subprocess.run([str(QIKI), "console", "--domain-id", "97", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qiki console: error: ") and expected in lines[0], proc.stderr
