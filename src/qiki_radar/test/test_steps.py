"""The step classes the nodes and the core engine share, driven without ROS: the sim's messages through the
radar, tracker and scorer steps (qiki_sim.sim_step, qiki_radar.radar_step / tracker_step / scorer_step)."""
from pathlib import Path

from qiki_radar.radar_config import RadarNodeConfig
from qiki_radar.radar_step import RadarStep
from qiki_radar.scorer_config import ScorerNodeConfig
from qiki_radar.scorer_step import ScorerStep
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_radar.tracker_step import TrackerStep
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import SimStep
from recorded_ports import Ports

SCENARIOS = Path(__file__).resolve().parents[3] / "config" / "scenarios"


def test_sim_radar_tracker_scorer_steps_run_in_lockstep_without_ros():
    sim_ports, radar_ports, tracker_ports, scorer_ports = Ports(), Ports(), Ports({"tracks_lr"}), Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_crossing.yaml")), sim_ports)
    radar = RadarStep(RadarNodeConfig(description="bot"), radar_ports)
    tracker = TrackerStep(TrackerNodeConfig(), tracker_ports)
    scorer = ScorerStep(ScorerNodeConfig(), scorer_ports)
    t_ns = sim.publish_step()
    confirmed = 0
    for _ in range(60):
        out = sim_ports.take()
        assert {"vehicle_state", "truth", "clock"} <= set(out)
        radar.step(t_ns, out)
        frames = radar_ports.take()
        tracker.step(t_ns, frames)
        tracks = tracker_ports.take()
        for msg in out["vehicle_state"]:
            scorer.on_ego(msg)
        for msg in out["truth"]:
            scorer.on_truth(msg)
        for msg in frames["frame_lr"] + frames["frame_sr"]:
            scorer.on_frame(msg)
        for msg in tracks["tracks"]:
            scorer.on_tracks(msg)
        assert "tracks_sr" not in tracks and "markers" not in tracks     # nobody reads them here
        confirmed = max(confirmed, max((list(m.status).count(1) for m in tracks["tracks"]), default=0))
        sim.on_agent_step(t_ns, [])
        assert sim.next_step_allowed()
        t_ns = sim.step()
    assert confirmed > 0 and scorer_ports.sent["track_score"]
    assert not (radar_ports.counters or tracker_ports.counters or scorer_ports.counters)


def test_sim_step_applies_a_command_command_lag_steps_later_and_counts_a_bad_one():
    from qiki_msgs.msg import ActuatorCommand
    ports = Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_patrol.yaml")), ports)
    sim.publish_step()
    good = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=0.5)
    bad = ActuatorCommand(mode=ActuatorCommand.MODE_BOT_VELOCITY, linear_x_mps=float("nan"))
    sim.on_agent_step(0, [good, bad])
    assert list(sim.pending) == [sim.cfg.clock.command_lag_steps]
    assert ports.counters["commands_rejected"] == 1 and [e.code for e in ports.sent["events"]] == [901]
    assert sim.next_step_allowed()              # the agent finished step 0: the sim may take step 1
    sim.step()
    assert sim.pending == {}                    # step 1 applied it


def test_sim_step_holds_at_clock_hold_at_s_whatever_the_agent_finished():
    cfg = SimNodeConfig(scenario_file=str(SCENARIOS / "bot_patrol.yaml"), clock={"hold_at_s": 0.3})
    sim = SimStep(cfg, Ports())
    t_ns = sim.publish_step()
    stamps = [t_ns]
    for _ in range(10):
        sim.on_agent_step(t_ns, [])             # the agent is always done: only the hold stops the clock
        if not sim.next_step_allowed():
            break
        t_ns = sim.step()
        stamps.append(t_ns)
    assert stamps[-1] == 300_000_000 and len(stamps) == 4 and sim.held()
