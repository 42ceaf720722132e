"""One simulated world: its vehicles (one, or a fleet), scripted objects and device health, advanced in fixed steps.

Pure Python over numpy (no ROS): the sim node publishes what this produces, tests and benchmarks
drive it directly. Time advances by exact multiples of the scenario's dt_s, so a run is reproducible
from (scenario, seed) regardless of wall-clock timing. Vehicles are indexed in the scenario's fleet order
(Scenario.fleet()); a fleet's vehicles are objects of the truth, the unnamed single vehicle is not.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from transforms3d.quaternions import quat2mat

from qiki_description.loader import load_description
from qiki_sim.bot import ClampReport, DiffDriveBot
from qiki_sim.devices import DeviceHealthModel
from qiki_msgs.msg import WorldTruth
from qiki_sim.scenario import DEFAULT_RCS_M2, Scenario
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


def failures_of(failures, vehicle: str) -> list:
    """The scheduled failures of one vehicle (FailureSpec or mappings, as DeviceHealthModel takes them)."""
    return [f for f in failures if (f.get("vehicle", "") if isinstance(f, Mapping) else f.vehicle) == vehicle]


class SteppedSimulation:
    """What both profiles share: scenario, seed, device health and the step counter that is the sim's
    time. Subclasses build their vehicles and world in _reset_models (from self.rng) and advance them by
    one dt in _advance."""

    def __init__(self, scenario: Scenario, seed: int = 0, description=None):
        """description: the (first) vehicle's description (None: the one the scenario names)."""
        self.scenario = scenario
        self.fleet = scenario.fleet()
        loaded = {}
        for v in self.fleet[0 if description is None else 1:]:
            if v.description not in loaded:       # each description file read once, however many fly it
                loaded[v.description] = load_description(v.description)
        self.descriptions = [description or loaded[self.fleet[0].description]] + \
            [loaded[v.description] for v in self.fleet[1:]]
        self.description = self.descriptions[0]
        for d in self.descriptions:
            if d.profile != scenario.profile:
                raise ValueError(f"vehicle description {d.name!r} is a {d.profile}, not a {scenario.profile}")
        self.seed = seed or scenario.seed
        self.reset()

    def reset(self, seed: int = 0) -> None:
        """Back to t = 0 with the scenario's initial state (and an optional new seed)."""
        if seed:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self.devices_of = [DeviceHealthModel(d.devices, failures_of(self.scenario.failures, v.name))
                           for v, d in zip(self.fleet, self.descriptions)]
        self.devices = self.devices_of[0]
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
    """Ground-robot profile: differential-drive vehicles (each its own model, command and device health) among
    scripted objects. `vehicle` arguments index the fleet (0: the first, or the only, vehicle)."""

    def _reset_models(self) -> None:
        sc = self.scenario
        self.world = World.from_scenario(sc, self.rng)
        self.egos = [DiffDriveBot(d.chassis, v.ego.x, v.ego.y, v.ego.yaw)
                     for v, d in zip(self.fleet, self.descriptions)]
        self.ego = self.egos[0]

    def _advance(self, dt: float) -> None:
        for ego in self.egos:
            ego.step(dt)
        self.world.step(dt)

    def command(self, v: float, w: float, vehicle: int = 0) -> ClampReport:
        return self.egos[vehicle].command(v, w)

    def ego_state(self, vehicle: int = 0) -> EgoState:
        ego = self.egos[vehicle]
        s = ego.state
        vx, vy = s.velocity_world
        quat = np.array([np.cos(s.yaw / 2), 0.0, 0.0, np.sin(s.yaw / 2)])
        return EgoState(np.array([s.x, s.y, 0.0]), quat, np.array([vx, vy, 0.0]), np.array([s.v, 0.0, 0.0]),
                        np.array([0.0, 0.0, s.w]), ego.params.mass_kg, s.battery_soc)

    def device_readings(self, vehicle: int = 0):
        return self.devices_of[vehicle].readings(self.time_s, self.egos[vehicle].state.battery_soc)

    def truth(self) -> Truth:
        """World objects, then (a fleet) every vehicle as a robot: its truth id, footprint radius, a robot's RCS
        and its transponder code. The unnamed single vehicle is not in the truth."""
        objects = self.world.truth()
        if not self.scenario.is_fleet():
            return objects
        states = [ego.state for ego in self.egos]
        return fleet_truth(objects, self.fleet, WorldTruth.KIND_ROBOT, [[s.x, s.y, 0.0] for s in states],
                           [[*s.velocity_world, 0.0] for s in states], [DEFAULT_RCS_M2["robot"]] * len(states),
                           [d.chassis.footprint_radius_m for d in self.descriptions])


def fleet_truth(objects: Truth, fleet, kind: int, position, velocity, rcs_m2, radius_m) -> Truth:
    """The objects' truth followed by a fleet's vehicles (file order): their truth ids and transponder codes, one
    kind, and per vehicle its position, velocity, RCS and radius."""
    n = len(fleet)
    return replace(
        objects,
        id=np.concatenate([objects.id, np.array([v.truth_id for v in fleet], np.uint32)]),
        kind=np.concatenate([objects.kind, np.full(n, kind, np.uint8)]),
        position=np.vstack([objects.position, np.reshape(position, (n, 3))]),
        velocity=np.vstack([objects.velocity, np.reshape(velocity, (n, 3))]),
        rcs_m2=np.concatenate([objects.rcs_m2, np.asarray(rcs_m2, float)]),
        radius_m=np.concatenate([objects.radius_m, np.asarray(radius_m, float)]),
        transponder_code=np.concatenate([objects.transponder_code,
                                         np.array([v.transponder_code for v in fleet], np.uint32)]))
