"""Parameter vehicle.truth_id: the radar and the scorer of a fleet's vehicle leave their own vehicle out of the
truth (the radar does not see itself, the scorer expects no track of it); 0 (default) leaves nothing out."""
from pathlib import Path

import numpy as np
import pytest

from qiki_msgs.msg import WorldTruth
from qiki_radar.radar_config import RadarNodeConfig
from qiki_radar.radar_step import RadarStep
from qiki_radar.scorer_config import ScorerNodeConfig
from qiki_radar.scorer_step import ScorerStep
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_radar.tracker_step import TrackerStep
from qiki_radar.truth_codec import truth_objects
from qiki_ros.packing import pack
from qiki_ros.params import ConfigError, validate_model
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import SimStep
from recorded_ports import Ports

SCENARIOS = Path(__file__).resolve().parents[3] / "config" / "scenarios"


def truth(ids, positions):
    msg = WorldTruth()
    n = len(ids)
    msg.id, msg.kind = pack(np.array(ids, np.uint32), np.uint32), pack(np.zeros(n, np.uint8), np.uint8)
    msg.position, msg.velocity = pack(np.array(positions, float)), pack(np.zeros((n, 3)))
    msg.rcs_m2, msg.radius_m = pack(np.ones(n)), pack(np.ones(n))
    msg.transponder_code = pack(np.zeros(n, np.uint32), np.uint32)
    return msg


def test_truth_objects_leave_out_the_own_id_without_counting_it_dropped():
    msg = truth([1, 101, 2], [[1, 0, 0], [0, 0, 0], [np.nan, 0, 0]])
    objects, dropped = truth_objects(msg, 101)
    assert objects.id.tolist() == [1] and dropped == 1
    objects, dropped = truth_objects(msg)
    assert objects.id.tolist() == [1, 101] and dropped == 1
    assert truth_objects(msg, 55)[0].id.tolist() == [1, 101]      # an id not in the truth: nothing left out


@pytest.mark.parametrize("model", [RadarNodeConfig, ScorerNodeConfig])
def test_the_parameter_defaults_to_none_and_is_checked(model):
    assert model().vehicle.truth_id == 0
    assert validate_model(model, {"vehicle": {"truth_id": 101}}, "p").vehicle.truth_id == 101
    with pytest.raises(ConfigError) as e:
        validate_model(model, {"vehicle": {"truth_id": -1}}, "node parameter")
    assert "vehicle.truth_id" in str(e.value) and "\n" not in str(e.value)


def fleet_steps(truth_id: int, steps: int = 30):
    """alpha's radar, tracker and scorer in the bot_fleet world (every vehicle standing still) for `steps` steps:
    the transponder codes the radar reported, the scorer's last score."""
    sim_ports, radar_ports, tracker_ports, scorer_ports = Ports(), Ports(), Ports(), Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(SCENARIOS / "bot_fleet.yaml")), sim_ports)
    own = {"vehicle": {"truth_id": truth_id}}
    radar = RadarStep(RadarNodeConfig(description="bot", **own), radar_ports)
    tracker = TrackerStep(TrackerNodeConfig(), tracker_ports)
    scorer = ScorerStep(ScorerNodeConfig(gospa={"warmup_frames": 0}, **own), scorer_ports)
    codes = set()
    t_ns = sim.publish_step()
    for _ in range(steps):
        out = sim_ports.take()
        radar.step(t_ns, {"vehicle_state": out["alpha/vehicle_state"], "truth": out["truth"]})
        frames = radar_ports.take()
        codes |= {int(c) for f in frames["frame"] for c in f.transponder_code}
        tracker.step(t_ns, frames)
        scorer.on_ego(out["alpha/vehicle_state"][-1])
        scorer.on_truth(out["truth"][-1])
        for msg in frames["frame_lr"] + frames["frame_sr"]:
            scorer.on_frame(msg)
        for msg in tracker_ports.take()["tracks"]:
            scorer.on_tracks(msg)
        sim.on_agents_step(t_ns, {})
        t_ns = sim.step()
    return codes, scorer_ports.sent["track_score"][-1]


def test_a_fleet_radar_sees_the_others_but_not_itself_and_its_scorer_expects_no_track_of_it():
    codes, score = fleet_steps(101)
    assert {2002, 2003} <= codes and 2001 not in codes
    codes_all, score_all = fleet_steps(0)
    assert 2001 in codes_all                      # without the parameter it would see itself at range 0
    assert score.truth_in_coverage == score_all.truth_in_coverage - 1
