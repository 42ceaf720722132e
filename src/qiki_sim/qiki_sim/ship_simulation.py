"""Ship profile: a 6-DOF chaser with RCS thrusters in low Earth orbit among spacecraft and debris.

Same interface as BotSimulation, except that the ship is driven by thruster throttles
(command_thrusters) instead of (v, w). World frame: ECI. The chaser is a RigidBody under
gravity (two-body + J2 unless the scenario disables it) and its RCS wrench; world objects are
point masses propagated by OrbitalWorld with the same integrator and step. Deterministic from
(scenario, seed): the seed only feeds the random debris.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat

from qiki_description.rcs import Rcs
from qiki_geometry.lvlh import lvlh_rate, lvlh_rotation, to_lvlh
from qiki_geometry.orbit_elements import elements_to_state
from qiki_sim.devices import ERROR, OK, WARN
from qiki_sim.orbit import OrbitalWorld, gravity
from qiki_sim.rigid_body import RigidBody
from qiki_sim.scenario import Scenario
from qiki_sim.simulation import EgoState, SteppedSimulation
from qiki_sim.world import Truth

PROPELLANT_WARN_FRACTION = 0.1  # propulsion reports at least WARN below this, ERROR when empty


@dataclass(frozen=True)
class ThrottleReport:
    """What the last thruster command asked for and what was applied; truthy when clamped."""

    clamped: bool
    requested: np.ndarray  # (N,)
    applied: np.ndarray    # (N,) in [0, 1]
    reason: str = ""

    def __bool__(self) -> bool:
        return self.clamped


def initial_chaser_state(ego) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ShipEgo -> ECI position, velocity, eci-from-body quaternion, inertial body rate."""
    if ego.elements is not None:
        el = ego.elements
        r, v = elements_to_state(el.a_m, el.e, *np.radians([el.i_deg, el.raan_deg, el.argp_deg, el.nu_deg]))
    else:
        r, v = np.array(ego.position), np.array(ego.velocity)
    q, w = np.array(ego.attitude_wxyz), np.array(ego.angular_velocity)
    if ego.attitude_frame == "lvlh":  # attitude and rate are relative to the rotating LVLH frame
        lvlh_from_body = quat2mat(q)
        q = mat2quat(lvlh_rotation(r, v) @ lvlh_from_body)
        w = w + lvlh_from_body.T @ lvlh_rate(r, v)
    return r, v, q, w


class ShipSimulation(SteppedSimulation):
    """Ship profile: RCS-driven rigid-body chaser among OrbitalWorld objects, stepped at the scenario's dt."""

    def __init__(self, scenario: Scenario, seed: int = 0, description=None):
        if scenario.profile != "ship":
            raise ValueError(f"ShipSimulation needs a 'ship' scenario, got profile {scenario.profile!r}")
        super().__init__(scenario, seed, description)
        idx = next((i for i, o in enumerate(scenario.objects) if o.role == "target"), None)
        self.target_id = None if idx is None else int(self.world.id[idx])  # the object with role: target

    def _reset_models(self) -> None:
        self.params = p = self.description.ship
        self.rcs = Rcs(p.rcs)  # the thrusters whose forces the sim applies
        sc = self.scenario
        r, v, q, w = initial_chaser_state(sc.ego)
        self.body = RigidBody(p.inertia_kg_m2, r, v, q, w, p.dry_mass_kg + p.propellant_kg,
                              gravity=partial(gravity, j2=sc.ego.j2))
        self.world = OrbitalWorld.from_specs(sc.objects, sc.random_debris, self.rng, r, v, sc.dt_s, sc.ego.j2)
        self.throttle = np.zeros(self.rcs.n)

    @property
    def propellant_kg(self) -> float:
        return max(0.0, float(self.body.y[13]) - self.params.dry_mass_kg)

    @property
    def propellant_fraction(self) -> float:
        return self.propellant_kg / self.params.propellant_kg if self.params.propellant_kg > 0 else 0.0

    def command(self, v: float, w: float):
        raise NotImplementedError("the ship has no (v, w) drive command; use command_thrusters(throttle) "
                                  f"with {self.rcs.n} throttles in [0, 1] (see ThrustAllocator)")

    def command_thrusters(self, throttle: np.ndarray) -> ThrottleReport:
        """Hold these throttles (one per thruster) until the next command; clamps to [0, 1].

        Raises ValueError for a wrong shape or a NaN/inf entry (the previous command stays).
        """
        u = np.array(throttle, dtype=float)
        if u.shape != (self.rcs.n,):
            raise ValueError(f"throttle: expected shape ({self.rcs.n},), got {u.shape}")
        if not np.all(np.isfinite(u)):
            bad = np.flatnonzero(~np.isfinite(u)).tolist()
            raise ValueError(f"throttle: expected finite values, got NaN/inf at {bad}")
        applied = np.clip(u, 0.0, 1.0)
        out = np.flatnonzero(applied != u)
        reason = f"throttle(s) {out.tolist()} outside [0, 1] clamped" if out.size else ""
        self.throttle = applied
        return ThrottleReport(bool(out.size), u, applied.copy(), reason)

    def thrust_efficiency(self) -> np.ndarray | None:
        """(N,) share of its commanded thrust each thruster delivers now (the scenario's thruster_faults due by
        this step's time), or None while no fault is due."""
        due = [f for f in self.scenario.thruster_faults if f.at_s <= self.time_s]
        if not due:
            return None
        efficiency = np.ones(self.rcs.n)
        for f in sorted(due, key=lambda f: f.at_s):     # a later fault of the same thruster wins
            efficiency[f.thruster] = f.efficiency
        return efficiency

    def _advance(self, dt: float) -> None:
        """Chaser under the held throttles (as far as faulty thrusters deliver them; scaled down if propellant
        runs out), then objects."""
        u = self.throttle
        efficiency = self.thrust_efficiency()
        if efficiency is not None:
            u = u * efficiency
        flow = self.rcs.mass_flow(u)
        if flow * dt > self.propellant_kg:
            u = u * (self.propellant_kg / (flow * dt))
            flow = self.rcs.mass_flow(u)
        force, torque = self.rcs.forces_torques(u)
        self.body.step(dt, force, torque, flow)
        self.world.step(dt)

    def ego_state(self, vehicle: int = 0) -> EgoState:
        """Chaser state in ECI (the ship profile has one vehicle); energy_fraction is the propellant fraction."""
        s = self.body.state
        return EgoState(s.position, s.quaternion_wxyz, s.velocity, quat2mat(s.quaternion_wxyz).T @ s.velocity,
                        s.angular_velocity_body, s.mass_kg, self.propellant_fraction, self.propellant_kg)

    def relative_truth_lvlh(self) -> Truth:
        """World objects relative to the chaser, in its LVLH frame (see lvlh.py): for the radar and evaluation."""
        t, y = self.world.truth(), self.body.y
        pos, vel = to_lvlh(y[0:3], y[3:6], t.position, t.velocity)
        return replace(t, position=pos, velocity=vel)

    def device_readings(self, vehicle: int = 0):
        """(names, levels, values) of the ship devices (one vehicle); power is constant (solar), propulsion tracks propellant."""
        names, levels, values = self.devices.readings(self.time_s, 1.0)
        i, frac = names.index("propulsion"), self.propellant_fraction
        floor = ERROR if frac <= 0.0 else WARN if frac < PROPELLANT_WARN_FRACTION else OK
        levels[i] = max(int(levels[i]), floor)
        return names, levels, values
