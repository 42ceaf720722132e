"""One simulated world: ego vehicle, scripted objects and device health, advanced in fixed steps.

Pure Python over numpy (no ROS): the sim node publishes what this produces, tests and benchmarks
drive it directly. Time advances by exact multiples of the scenario's dt_s, so a run is reproducible
from (scenario, seed) regardless of wall-clock timing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transforms3d.quaternions import quat2mat

from qiki_description.loader import load_description
from qiki_sim.bot import ClampReport, DiffDriveBot
from qiki_sim.devices import DeviceHealthModel
from qiki_sim.scenario import Scenario
from qiki_sim.world import Truth, World



@dataclass(frozen=True)
class EgoState:
    """Ego pose and motion in the world frame (bot: map, z = 0; ship: eci), as VehicleState.msg."""

    position: np.ndarray              # (3,) [m] in the world frame
    quaternion_wxyz: np.ndarray       # (4,) world-from-body attitude (transforms3d order w, x, y, z)
    velocity_world: np.ndarray        # (3,) [m/s] in the world frame
    velocity_body: np.ndarray         # (3,) [m/s] in the body frame
    angular_velocity_body: np.ndarray  # (3,) [rad/s] in the body frame
    mass_kg: float
    energy_fraction: float            # bot: battery state of charge; ship: propellant fraction [0..1]
    propellant_kg: float = 0.0

    def rotation(self) -> np.ndarray:
        """World-from-body rotation matrix."""
        return quat2mat(self.quaternion_wxyz)


class SteppedSimulation:
    """What both profiles share: scenario, seed, device health and the step counter that is the sim's
    time. Subclasses build their vehicle and world in _reset_models (from self.rng) and advance them by
    one dt in _advance."""

    def __init__(self, scenario: Scenario, seed: int = 0, description=None):
        """description: the vehicle description (None: the one the scenario names)."""
        self.scenario = scenario
        self.description = description or load_description(scenario.vehicle.description)
        if self.description.profile != scenario.profile:
            raise ValueError(f"vehicle description {self.description.name!r} is a {self.description.profile}, "
                             f"not a {scenario.profile}")
        self.seed = seed or scenario.seed
        self.reset()

    def reset(self, seed: int = 0) -> None:
        """Back to t = 0 with the scenario's initial state (and an optional new seed)."""
        if seed:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self.devices = DeviceHealthModel(self.description.devices, self.scenario.failures)
        self.step_index = 0
        self._reset_models()

    @property
    def dt(self) -> float:
        return self.scenario.dt_s

    @property
    def time_s(self) -> float:
        return self.step_index * self.scenario.dt_s

    def step(self) -> None:
        """Advance one dt."""
        self._advance(self.dt)
        self.step_index += 1

    def truth(self) -> Truth:
        """World objects in the world frame."""
        return self.world.truth()

    def _reset_models(self) -> None:
        raise NotImplementedError

    def _advance(self, dt: float) -> None:
        raise NotImplementedError


class BotSimulation(SteppedSimulation):
    """Ground-robot profile: differential-drive ego among scripted objects."""

    def _reset_models(self) -> None:
        sc = self.scenario
        self.world = World.from_scenario(sc, self.rng)
        self.ego = DiffDriveBot(self.description.chassis, sc.ego.x, sc.ego.y, sc.ego.yaw)

    def _advance(self, dt: float) -> None:
        self.ego.step(dt)
        self.world.step(dt)

    def command(self, v: float, w: float) -> ClampReport:
        return self.ego.command(v, w)

    def ego_state(self) -> EgoState:
        s = self.ego.state
        vx, vy = s.velocity_world
        quat = np.array([np.cos(s.yaw / 2), 0.0, 0.0, np.sin(s.yaw / 2)])
        return EgoState(np.array([s.x, s.y, 0.0]), quat, np.array([vx, vy, 0.0]), np.array([s.v, 0.0, 0.0]),
                        np.array([0.0, 0.0, s.w]), self.ego.params.mass_kg, s.battery_soc)

    def device_readings(self):
        return self.devices.readings(self.time_s, self.ego.state.battery_soc)
