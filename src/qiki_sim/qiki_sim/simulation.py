"""One simulated world: ego vehicle, scripted objects and device health, advanced in fixed steps.

Pure Python over numpy (no ROS): the sim node publishes what this produces, tests and benchmarks
drive it directly. Time advances by exact multiples of the scenario's dt_s, so a run is reproducible
from (scenario, seed) regardless of wall-clock timing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_sim.bot import ClampReport, DiffDriveBot
from qiki_sim.devices import DeviceHealthModel
from qiki_sim.scenario import Scenario
from qiki_sim.world import Truth, World


@dataclass(frozen=True)
class EgoState:
    """Ego pose and motion in the world frame (bot: map, z = 0)."""

    position: np.ndarray          # (3,) [m]
    yaw: float                    # [rad]
    velocity_world: np.ndarray    # (3,) [m/s]
    v_body: float                 # forward speed [m/s]
    w_body: float                 # yaw rate [rad/s]
    energy_fraction: float        # battery state of charge [0..1]

    def rotation(self) -> np.ndarray:
        """World-from-body rotation matrix (yaw only for the bot)."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class BotSimulation:
    """Ground-robot profile: differential-drive ego among scripted objects."""

    def __init__(self, scenario: Scenario, seed: int = 0):
        self.scenario = scenario
        self.seed = seed or scenario.seed
        self.reset()

    def reset(self, seed: int = 0) -> None:
        """Back to t = 0 with the scenario's initial state (and an optional new seed)."""
        if seed:
            self.seed = seed
        sc = self.scenario
        self.rng = np.random.default_rng(self.seed)
        self.world = World.from_scenario(sc, self.rng)
        self.ego = DiffDriveBot(sc.ego.params, sc.ego.x, sc.ego.y, sc.ego.yaw)
        self.devices = DeviceHealthModel.for_profile(sc.profile, sc.failures)
        self.step_index = 0

    @property
    def dt(self) -> float:
        return self.scenario.dt_s

    @property
    def time_s(self) -> float:
        return self.step_index * self.scenario.dt_s

    def command(self, v: float, w: float) -> ClampReport:
        return self.ego.command(v, w)

    def step(self) -> None:
        self.ego.step(self.dt)
        self.world.step(self.dt)
        self.step_index += 1

    def ego_state(self) -> EgoState:
        s = self.ego.state
        vx, vy = s.velocity_world
        return EgoState(np.array([s.x, s.y, 0.0]), s.yaw, np.array([vx, vy, 0.0]), s.v, s.w, s.battery_soc)

    def truth(self) -> Truth:
        return self.world.truth()

    def device_readings(self):
        return self.devices.readings(self.time_s, self.ego.state.battery_soc)
