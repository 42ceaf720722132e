"""A fleet's step classes in one loop, without ROS and without the graph (test harness): the sim's step, then per
vehicle its radar, tracker and agent (parameters from config/params/bot.yaml, as the launcher gives them), every
agent's command back to the sim, as the lockstep graph orders them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.agent_step import AgentStep
from qiki_geometry.closest_approach import ClosestApproachRecord
from qiki_msgs.msg import TrackArray
from qiki_radar.radar_config import RadarNodeConfig
from qiki_radar.radar_step import RadarStep
from qiki_radar.tracker_config import TrackerNodeConfig
from qiki_radar.tracker_step import TrackerStep
from qiki_ros.packing import unpack_items
from qiki_ros.params import validate_model
from qiki_sim.sim_config import SimNodeConfig
from qiki_sim.sim_step import SimStep, vehicle_port
from recorded_ports import Ports

CONFIG = Path(__file__).resolve().parents[2] / "config"


def params(node: str, model, **launcher):
    """The node's parameter model from the bot params file plus the launcher's parameters."""
    file = yaml.safe_load((CONFIG / "params" / "bot.yaml").read_text())
    data = {**file.get(f"/**/{node}", {}).get("ros__parameters", {}), **launcher}
    return validate_model(model, data, f"node '{node}' parameter")


def mission_path(mission: str) -> str:
    """A mission name (config/missions/<name>.yaml) or a path."""
    return mission if mission.endswith((".yaml", ".yml")) else str(CONFIG / "missions" / f"{mission}.yaml")


class VehicleStack:
    """One vehicle's radar, tracker and agent."""

    def __init__(self, vehicle):
        self.vehicle = vehicle
        self.friend_codes: set[int] = set()       # transponder codes of the tracks its tracker called friends
        self.radar_ports, self.tracker_ports, self.agent_ports = Ports(), Ports(), Ports()
        self.radar = RadarStep(params("radar", RadarNodeConfig, description=vehicle.description,
                                      vehicle={"truth_id": vehicle.truth_id}), self.radar_ports)
        self.tracker = TrackerStep(params("tracker", TrackerNodeConfig), self.tracker_ports)
        self.agent = AgentStep(params("agent", AgentNodeConfig, description=vehicle.description,
                                      fsm_file=str(CONFIG / "fsm" / "bot.yaml"),
                                      rules_file=str(CONFIG / "rules" / "bot.yaml"),
                                      mission_file=mission_path(vehicle.mission)),
                               self.agent_ports)

    def step(self, t_ns: int, sim_out: dict) -> list:
        """The stack's step t_ns from the sim's outputs; the agent's commands."""
        own = {port: sim_out.get(vehicle_port(self.vehicle.name, port), [])
               for port in ("vehicle_state", "device_health")}
        self.radar.step(t_ns, {"vehicle_state": own["vehicle_state"], "truth": sim_out.get("truth", [])})
        frames = self.radar_ports.take()
        self.tracker.step(t_ns, frames)
        tracks = self.tracker_ports.take()
        for msg in tracks.get("tracks", []):
            self.friend_codes |= {int(c) for c, iff in zip(msg.transponder_code, msg.iff) if iff == TrackArray.IFF_FRIEND}
        self.agent.step(t_ns, {**own, "radar_frame": frames.get("frame", []), "tracks": tracks.get("tracks", [])})
        return self.agent_ports.take().get("cmd", [])


def run_fleet(scenario_file: Path, duration_s: float | None = None):
    """Run the scenario's fleet; (sim step, stacks, closest approach record, the truth ids seen per step)."""
    sim_ports = Ports()
    sim = SimStep(SimNodeConfig(scenario_file=str(scenario_file)), sim_ports)
    fleet = sim.sim.fleet
    stacks = [VehicleStack(v) for v in fleet]
    record = ClosestApproachRecord(len(fleet))
    vehicle_ids = [v.truth_id for v in fleet]
    end_ns = round((duration_s or sim.sim.scenario.duration_s) * 1e9)
    t_ns = sim.publish_step()
    while True:
        out = sim_ports.take()
        truth = unpack_items(out["truth"][-1], "object", {"id": (np.uint32, 1), "position": (np.float64, 3)})
        xyz = [[s.pose.position.x, s.pose.position.y, s.pose.position.z]
               for s in (out[vehicle_port(v.name, "vehicle_state")][-1] for v in fleet)]
        record.update(xyz, vehicle_ids, truth["id"], truth["position"])
        commands = {vehicle_port(s.vehicle.name, "cmd"): s.step(t_ns, out) for s in stacks}
        sim.on_agents_step(t_ns, commands)
        if t_ns >= end_ns:
            return sim, stacks, record
        assert sim.next_step_allowed()
        t_ns = sim.step()
