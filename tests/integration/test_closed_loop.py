"""Closed-loop scenarios through the real graph (lockstep, separate processes over DDS), per profile:
a collision course ends in ALERT, an avoidance manoeuvre and a miss above the safe radius; an injected
device failure reaches SAFE_MODE within 1 s of sim time; the default mission completes back in IDLE."""
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qiki.plan import config_dir
from qiki.supervisor import processes_in_domain
from qiki_ros.events import EventCode

pytestmark = pytest.mark.integration
QIKI = Path(sys.executable).with_name("qiki")


def run(tmp_path, domain_id, *args) -> dict:
    out = tmp_path / "run"
    proc = subprocess.run([str(QIKI), "run", "--out", str(out), "--domain-id", str(domain_id), *args],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "━" not in proc.stderr       # no progress bar when stderr is not a terminal
    return json.loads((out / "summary.json").read_text())


def safe_radius(profile: str) -> float:
    return yaml.safe_load((config_dir() / "rules" / f"{profile}.yaml").read_text())["threat"]["safe_radius_m"]


def scenario_with_failure(tmp_path, name: str, device: str, at_s: float) -> Path:
    data = yaml.safe_load((config_dir() / "scenarios" / f"{name}.yaml").read_text())
    data["failures"] = [{"device": device, "at_s": at_s, "level": 2}]
    path = tmp_path / f"{name}_failure.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def states(summary) -> list[str]:
    return [t["to"] for t in summary["fsm_transitions"]]


# each run ends some 15 s of sim time after the agent left ALERT (bot_crossing: t = 85 s, ship_debris_field:
# t = 134 s; lockstep is deterministic), so the closest approach of the threat lies inside it
@pytest.mark.parametrize("profile, scenario, duration", [("bot", "bot_crossing", 100), ("ship", "ship_debris_field", 150)])
def test_collision_course_alert_avoid_and_miss(tmp_path, domain_id, leftover_processes, profile, scenario, duration):
    s = run(tmp_path, domain_id, "--profile", profile, "--scenario", scenario, "--duration", str(duration))
    assert "ALERT" in states(s)
    assert states(s)[-1] != "ALERT", s["fsm_transitions"]      # the encounter is over: the miss is final
    assert s["events_by_code"].get(str(int(EventCode.THREAT_DETECTED)), 0) >= 1
    assert s["events_by_code"].get(str(int(EventCode.AVOIDANCE_MANOEUVRE)), 0) >= 1
    print(f"{profile}: min miss distance {s['min_miss_distance_m']} m (object {s['min_miss_object_id']}), "
          f"safe radius {safe_radius(profile)} m")
    assert s["min_miss_distance_m"] > safe_radius(profile)
    assert leftover_processes(domain_id) == []


@pytest.mark.parametrize("profile, scenario, device", [("bot", "bot_patrol", "radar_sr"), ("ship", "ship_station_keeping", "propulsion")])
def test_device_failure_reaches_safe_mode_within_1s(tmp_path, domain_id, profile, scenario, device):
    at_s = 15.0
    path = scenario_with_failure(tmp_path, scenario, device, at_s)
    s = run(tmp_path, domain_id, "--profile", profile, "--scenario", str(path), "--duration", str(at_s + 3))
    entered = [t["t_s"] for t in s["fsm_transitions"] if t["to"] == "SAFE_MODE"]
    assert entered, s["fsm_transitions"]
    print(f"{profile}: {device} failed at {at_s} s, SAFE_MODE at {entered[0]} s")
    assert at_s <= entered[0] <= at_s + 1.0
    assert s["agent_state_final"] == "SAFE_MODE"
    assert s["plots"] == []            # not recorded: no figures


@pytest.fixture(scope="module")
def bot_default_mission(tmp_path_factory, module_domain_id):
    """`qiki run --profile bot --duration 135`, run once: its summary is read by the mission test and by the
    handover test (the bot's default scenario is bot_patrol), which only look at it. The mission completes
    at t = 122 s, the friend's handover is at t = 77 s."""
    summary = run(tmp_path_factory.mktemp("bot_mission"), module_domain_id, "--profile", "bot", "--duration", "135")
    assert processes_in_domain(module_domain_id) == []
    return summary


def assert_mission_complete(s):
    assert s["mission_result"] == "complete"
    assert s["agent_state_final"] == "IDLE"
    assert states(s)[-1] == "IDLE" and "MISSION_ACTIVE" in states(s)
    assert s["events_by_code"].get(str(int(EventCode.MISSION_COMPLETE)), 0) == 1


def test_default_mission_completes_back_to_idle_bot(bot_default_mission):
    assert_mission_complete(bot_default_mission)


def test_default_mission_completes_back_to_idle_ship(tmp_path, domain_id):
    """ship_station_keeping completes its mission at t = 32 s."""
    assert_mission_complete(run(tmp_path, domain_id, "--profile", "ship", "--duration", "45"))


def test_friend_keeps_its_track_id_through_the_lr_to_sr_handover(bot_default_mission):
    """bot_patrol: the friend robot (transponder 1001) closes from 250 m and its range falls below
    radar.sr_threshold_m (60 m) at about t = 77 s. Its confirmed track is reported on the LR topic, then on
    the SR topic, under one id all along (from the start of the run until the handover and after it)."""
    s = bot_default_mission
    assert s["scenario"] == "bot_patrol"
    history = s["transponder_tracks"]["1001"]
    print("friend 1001:", history)
    assert history[0]["band"] == "lr" and history[0]["t_s"] < 30.0
    handover = next(h["t_s"] for h in history if h["band"] == "sr")
    assert 70.0 <= handover <= 85.0
    assert {h["id"] for h in history} == {history[0]["id"]}


def test_run_shows_progress_on_a_terminal(tmp_path, domain_id):
    """On a terminal `qiki run` draws sim time / duration (the runs above, on pipes, draw nothing)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(QIKI), "run", "--out", str(tmp_path / "run"), "--domain-id", str(domain_id),
                             "--duration", "4"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 4096)     # blocks until output; EIO once the child closed the pty
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=120)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    assert "sim" in text and "/ 4.0 s" in text and "━" in text, text[-2000:]
