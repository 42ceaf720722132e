"""Ship profile: 6-DOF spacecraft with RCS thrusters in low Earth orbit among spacecraft and debris.

Same interface as BotSimulation, except that a ship is driven by thruster throttles
(command_thrusters) instead of (v, w). World frame: ECI. Each vehicle (the one chaser, or every vehicle of
a fleet) is a RigidBody under gravity (two-body + J2 unless its ego disables it) and its own RCS wrench;
world objects are point masses propagated by OrbitalWorld with the same integrator and step. A fleet's
vehicles are objects of the truth (kind spacecraft, the description's radius and RCS, their transponder
codes), so each vehicle's radar sees the others relative to itself. Deterministic from (scenario, seed):
the seed only feeds the random debris.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from transforms3d.quaternions import mat2quat, quat2mat

from qiki_description.rcs import Rcs
from qiki_geometry.lvlh import from_lvlh, lvlh_rate, lvlh_rotation, to_lvlh
from qiki_geometry.orbit_elements import elements_to_state
from qiki_msgs.msg import WorldTruth
from qiki_sim.devices import ERROR, OK, WARN
from qiki_sim.orbit import OrbitalWorld, gravity
from qiki_sim.rigid_body import RigidBody
from qiki_sim.scenario import Scenario
from qiki_sim.simulation import EgoState, SteppedSimulation, fleet_truth
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


def initial_chaser_state(ego, reference: tuple[np.ndarray, np.ndarray] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ShipEgo -> ECI position, velocity, eci-from-body quaternion, inertial body rate. reference: the ECI
    position and velocity an ego given in frame 'lvlh' is relative to (a fleet's first vehicle at t = 0)."""
    if ego.elements is not None:
        el = ego.elements
        r, v = elements_to_state(el.a_m, el.e, *np.radians([el.i_deg, el.raan_deg, el.argp_deg, el.nu_deg]))
    elif ego.frame == "lvlh":
        if reference is None:
            raise ValueError("an ego in frame 'lvlh' needs the reference vehicle's state")
        r, v = (a[0] for a in from_lvlh(*reference, np.array([ego.position]), np.array([ego.velocity])))
    else:
        r, v = np.array(ego.position), np.array(ego.velocity)
    q, w = np.array(ego.attitude_wxyz), np.array(ego.angular_velocity)
    if ego.attitude_frame == "lvlh":  # attitude and rate are relative to the rotating LVLH frame
        lvlh_from_body = quat2mat(q)
        q = mat2quat(lvlh_rotation(r, v) @ lvlh_from_body)
        w = w + lvlh_from_body.T @ lvlh_rate(r, v)
    return r, v, q, w


class ShipSimulation(SteppedSimulation):
    """Ship profile: RCS-driven rigid-body vehicles among OrbitalWorld objects, stepped at the scenario's dt.
    `vehicle` arguments index the fleet (0: the first, or the only, vehicle); body/rcs/params/throttle are the
    first vehicle's."""

    def __init__(self, scenario: Scenario, seed: int = 0, description=None):
        if scenario.profile != "ship":
            raise ValueError(f"ShipSimulation needs a 'ship' scenario, got profile {scenario.profile!r}")
        super().__init__(scenario, seed, description)
        idx = next((i for i, o in enumerate(scenario.objects) if o.role == "target"), None)
        self.target_id = None if idx is None else int(self.world.id[idx])  # the object with role: target

    def _reset_models(self) -> None:
        sc = self.scenario
        self.params_of = [d.ship for d in self.descriptions]
        self.rcs_of = [Rcs(p.rcs) for p in self.params_of]  # the thrusters whose forces the sim applies
        self.bodies: list[RigidBody] = []
        reference = None
        for v, p in zip(self.fleet, self.params_of):
            r, vel, q, w = initial_chaser_state(v.ego, reference)
            reference = reference or (r, vel)
            self.bodies.append(RigidBody(p.inertia_kg_m2, r, vel, q, w, p.dry_mass_kg + p.propellant_kg,
                                         gravity=partial(gravity, j2=v.ego.j2)))
        self.params, self.rcs, self.body = self.params_of[0], self.rcs_of[0], self.bodies[0]
        self.world = OrbitalWorld.from_specs(sc.objects, sc.random_debris, self.rng, *reference, sc.dt_s,
                                             self.fleet[0].ego.j2)
        self.throttles = [np.zeros(rcs.n) for rcs in self.rcs_of]

    @property
    def throttle(self) -> np.ndarray:
        """The first vehicle's held throttles."""
        return self.throttles[0]

    def propellant_kg_of(self, vehicle: int = 0) -> float:
        return max(0.0, float(self.bodies[vehicle].y[13]) - self.params_of[vehicle].dry_mass_kg)

    def propellant_fraction_of(self, vehicle: int = 0) -> float:
        full = self.params_of[vehicle].propellant_kg
        return self.propellant_kg_of(vehicle) / full if full > 0 else 0.0

    @property
    def propellant_kg(self) -> float:
        return self.propellant_kg_of(0)

    @property
    def propellant_fraction(self) -> float:
        return self.propellant_fraction_of(0)

    def command(self, v: float, w: float, vehicle: int = 0):
        raise NotImplementedError("the ship has no (v, w) drive command; use command_thrusters(throttle) "
                                  f"with {self.rcs_of[vehicle].n} throttles in [0, 1] (see ThrustAllocator)")

    def command_thrusters(self, throttle: np.ndarray, vehicle: int = 0) -> ThrottleReport:
        """Hold these throttles (one per thruster of the vehicle) until the next command; clamps to [0, 1].

        Raises ValueError for a wrong shape or a NaN/inf entry (the previous command stays).
        """
        n = self.rcs_of[vehicle].n
        u = np.array(throttle, dtype=float)
        if u.shape != (n,):
            raise ValueError(f"throttle: expected shape ({n},), got {u.shape}")
        if not np.all(np.isfinite(u)):
            bad = np.flatnonzero(~np.isfinite(u)).tolist()
            raise ValueError(f"throttle: expected finite values, got NaN/inf at {bad}")
        applied = np.clip(u, 0.0, 1.0)
        out = np.flatnonzero(applied != u)
        reason = f"throttle(s) {out.tolist()} outside [0, 1] clamped" if out.size else ""
        self.throttles[vehicle] = applied
        return ThrottleReport(bool(out.size), u, applied.copy(), reason)

    def thrust_efficiency(self, vehicle: int = 0) -> np.ndarray | None:
        """(N,) share of its commanded thrust each thruster of the vehicle delivers now (the scenario's
        thruster_faults due by this step's time), or None while no fault is due."""
        name = self.fleet[vehicle].name
        due = [f for f in self.scenario.thruster_faults if f.at_s <= self.time_s and f.vehicle == name]
        if not due:
            return None
        efficiency = np.ones(self.rcs_of[vehicle].n)
        for f in sorted(due, key=lambda f: f.at_s):     # a later fault of the same thruster wins
            efficiency[f.thruster] = f.efficiency
        return efficiency

    def _advance(self, dt: float) -> None:
        """Every vehicle under its held throttles (as far as faulty thrusters deliver them; scaled down if
        propellant runs out), then objects."""
        for i, (body, rcs) in enumerate(zip(self.bodies, self.rcs_of)):
            u = self.throttles[i]
            efficiency = self.thrust_efficiency(i)
            if efficiency is not None:
                u = u * efficiency
            flow = rcs.mass_flow(u)
            propellant = self.propellant_kg_of(i)
            if flow * dt > propellant:
                u = u * (propellant / (flow * dt))
                flow = rcs.mass_flow(u)
            force, torque = rcs.forces_torques(u)
            body.step(dt, force, torque, flow)
        self.world.step(dt)

    def ego_state(self, vehicle: int = 0) -> EgoState:
        """The vehicle's state in ECI; energy_fraction is its propellant fraction."""
        s = self.bodies[vehicle].state
        return EgoState(s.position, s.quaternion_wxyz, s.velocity, quat2mat(s.quaternion_wxyz).T @ s.velocity,
                        s.angular_velocity_body, s.mass_kg, self.propellant_fraction_of(vehicle),
                        self.propellant_kg_of(vehicle))

    def truth(self) -> Truth:
        """World objects in ECI, then (a fleet) every vehicle as a spacecraft: its truth id, the description's
        radius and RCS, its transponder code. The unnamed single vehicle is not in the truth."""
        objects = self.world.truth()
        if not self.scenario.is_fleet():
            return objects
        return fleet_truth(objects, self.fleet, WorldTruth.KIND_SPACECRAFT, [b.y[0:3] for b in self.bodies],
                           [b.y[3:6] for b in self.bodies], [p.rcs_m2 for p in self.params_of],
                           [p.radius_m for p in self.params_of])

    def relative_truth_lvlh(self, vehicle: int = 0) -> Truth:
        """The truth relative to a vehicle, in its LVLH frame (see lvlh.py), itself left out: for the radar and
        evaluation."""
        t, y = self.truth(), self.bodies[vehicle].y
        own = self.fleet[vehicle].truth_id
        if own:
            keep = t.id != own
            t = replace(t, **{k: getattr(t, k)[keep] for k in ("id", "kind", "position", "velocity", "rcs_m2",
                                                                "radius_m", "transponder_code")})
        pos, vel = to_lvlh(y[0:3], y[3:6], t.position, t.velocity)
        return replace(t, position=pos, velocity=vel)

    def device_readings(self, vehicle: int = 0):
        """(names, levels, values) of the vehicle's devices; power is constant (solar), propulsion tracks its
        propellant."""
        names, levels, values = self.devices_of[vehicle].readings(self.time_s, 1.0)
        i, frac = names.index("propulsion"), self.propellant_fraction_of(vehicle)
        floor = ERROR if frac <= 0.0 else WARN if frac < PROPELLANT_WARN_FRACTION else OK
        levels[i] = max(int(levels[i]), floor)
        return names, levels, values
