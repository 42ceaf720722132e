"""Orbital mechanics in ECI: two-body + J2 gravity, RK4 propagation, analytic Kepler, orbital world.

Frame: ECI (Earth-centred inertial, J2000-like; z along the Earth's spin axis) [m, m/s, s].
Everything is vectorised over N bodies: positions and velocities are (N, 3) (or (3,) for one).

Integrator choice (measured by bench/bench_orbit.py): classic RK4 at the sim step. For a 400 km
LEO orbit the truncation error scales as (n dt)^4 with n dt = 6e-5 at dt = 0.05 s, so after one
orbit the position is ~2 um from the analytic Kepler solution at any dt from 0.05 to 1 s (float
round-off dominates) and the specific energy drifts < 1e-13 relative. A higher-order scheme or
substeps would only cost time; RK4 keeps one scheme for the chaser (rigid_body.py) and objects.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qiki_geometry.earth import J2, MU, R_E
from qiki_geometry.lvlh import from_lvlh
from qiki_geometry.orbit_elements import elements_to_state, mean_motion_of

from .scenario import KIND_BY_NAME, assign_ids
from .world import Truth

_J2_Z = np.array([0.0, 0.0, 2.0])  # the z component of the J2 term has (3 - 5 z^2/r^2) instead of (1 - ...)


# ---------------------------------------------------------------- gravity and energy

def gravity(r: np.ndarray, j2: bool = True) -> np.ndarray:
    """Gravitational acceleration [m/s^2] at ECI positions r (..., 3): point mass plus optional J2."""
    r = np.asarray(r, dtype=float)
    r2 = np.einsum("...i,...i->...", r, r)[..., None]
    rn = np.sqrt(r2)
    a = (-MU / (r2 * rn)) * r
    if j2:
        z2 = r[..., 2:3] ** 2 / r2
        k = (-1.5 * J2 * MU * R_E**2) / (r2 * r2 * rn)  # -3/2 J2 mu R^2 / r^5
        a = a + k * r * (1.0 - 5.0 * z2 + _J2_Z)
    return a


def specific_energy(r: np.ndarray, v: np.ndarray, j2: bool = False) -> np.ndarray:
    """Specific orbital energy v^2/2 + U [J/kg]; U includes the J2 term when j2 (conserved in ECI)."""
    r, v = np.asarray(r, dtype=float), np.asarray(v, dtype=float)
    rn = np.linalg.norm(r, axis=-1)
    u = -MU / rn
    if j2:
        sin2_lat = (r[..., 2] / rn) ** 2
        u = u * (1.0 - 0.5 * J2 * (R_E / rn) ** 2 * (3.0 * sin2_lat - 1.0))
    return 0.5 * np.einsum("...i,...i->...", v, v) + u


# ---------------------------------------------------------------- numerical propagation

def rk4_step(r: np.ndarray, v: np.ndarray, dt: float, j2: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One classic RK4 step of r'' = gravity(r) for all bodies at once; returns new (r, v)."""
    h = 0.5 * dt
    a1 = gravity(r, j2)
    r2, v2 = r + h * v, v + h * a1
    a2 = gravity(r2, j2)
    r3, v3 = r + h * v2, v + h * a2
    a3 = gravity(r3, j2)
    r4, v4 = r + dt * v3, v + dt * a3
    a4 = gravity(r4, j2)
    return (r + (dt / 6.0) * (v + 2.0 * (v2 + v3) + v4),
            v + (dt / 6.0) * (a1 + 2.0 * (a2 + a3) + a4))


def propagate(r: np.ndarray, v: np.ndarray, dt: float, n_steps: int, j2: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    """n_steps RK4 steps of dt (negative dt propagates backwards)."""
    r, v = np.array(r, dtype=float), np.array(v, dtype=float)
    for _ in range(int(n_steps)):
        r, v = rk4_step(r, v, dt, j2)
    return r, v


# ---------------------------------------------------------------- analytic two-body

def _stumpff(z: float) -> tuple[float, float]:
    """Stumpff functions C(z), S(z); series near 0 to avoid cancellation."""
    if z > 1e-3:
        s = np.sqrt(z)
        return (1.0 - np.cos(s)) / z, (s - np.sin(s)) / s**3
    if z < -1e-3:
        s = np.sqrt(-z)
        return (np.cosh(s) - 1.0) / -z, (np.sinh(s) - s) / s**3
    return (1 / 2 - z / 24 + z**2 / 720 - z**3 / 40320,
            1 / 6 - z / 120 + z**2 / 5040 - z**3 / 362880)


def kepler_propagate(r0: np.ndarray, v0: np.ndarray, t: float, mu: float = MU) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-body state after t seconds, universal-variable formulation (any conic).

    Solves the universal Kepler equation for chi by Newton's method to round-off, then applies
    the Lagrange f, g coefficients (Curtis, Orbital Mechanics for Engineering Students, alg. 3.4).
    """
    r0, v0 = np.asarray(r0, dtype=float), np.asarray(v0, dtype=float)
    r0n = np.linalg.norm(r0)
    vr0 = r0 @ v0 / r0n
    alpha = 2.0 / r0n - v0 @ v0 / mu  # 1/a
    smu = np.sqrt(mu)
    chi = smu * abs(alpha) * t if alpha > 0 else smu * t / r0n
    for _ in range(100):
        z = alpha * chi**2
        c, s = _stumpff(z)
        f = r0n * vr0 / smu * chi**2 * c + (1.0 - alpha * r0n) * chi**3 * s + r0n * chi - smu * t
        df = r0n * vr0 / smu * chi * (1.0 - z * s) + (1.0 - alpha * r0n) * chi**2 * c + r0n
        step = f / df
        chi -= step
        if abs(step) <= 1e-15 * max(1.0, abs(chi)):
            break
    z = alpha * chi**2
    c, s = _stumpff(z)
    f, g = 1.0 - chi**2 / r0n * c, t - chi**3 / smu * s
    r = f * r0 + g * v0
    rn = np.linalg.norm(r)
    fdot, gdot = smu / (rn * r0n) * (z * s - 1.0) * chi, 1.0 - chi**2 / rn * c
    return r, fdot * r0 + gdot * v0


# ---------------------------------------------------------------- world of orbiting objects

class OrbitalWorld:
    """N free-flying objects (spacecraft, debris) in ECI, propagated together by RK4 each step.

    truth() has the same layout as World.truth(); positions and velocities are ECI.
    """

    def __init__(self, id: Any, kind: Any, position: Any, velocity: Any, rcs_m2: Any, radius_m: Any,
                 transponder_code: Any, j2: bool = True) -> None:
        self.id = np.asarray(id, dtype=np.uint32).reshape(-1)
        n = self.id.size
        self.kind = np.asarray(kind, dtype=np.uint8).reshape(n)
        self.position = np.array(position, dtype=np.float64).reshape(n, 3)
        self.velocity = np.array(velocity, dtype=np.float64).reshape(n, 3)
        self.rcs_m2 = np.array(rcs_m2, dtype=np.float64).reshape(n)
        self.radius_m = np.array(radius_m, dtype=np.float64).reshape(n)
        self.transponder_code = np.asarray(transponder_code, dtype=np.uint32).reshape(n)
        self.j2 = bool(j2)
        self.time_s = 0.0
        if np.unique(self.id).size != n:
            raise ValueError("world object ids must be unique")

    @classmethod
    def from_specs(cls, objects: Sequence[Any], random_debris: Any, rng: np.random.Generator,
                   chaser_r: np.ndarray, chaser_v: np.ndarray, dt: float, j2: bool = True) -> OrbitalWorld:
        """Build from ShipObjectSpecs and a RandomDebrisSpec (or None) around the chaser's ECI state.

        Per object, exactly one initial state: position/velocity in 'lvlh' (relative to the chaser
        at t = 0) or 'eci'; classical elements; or an encounter (its state relative to the chaser's
        unthrusted orbit at time_s, propagated back to t = 0 with the sim's own integrator and dt).
        Objects without an id get the smallest unused ids, then the random debris, in file order.
        """
        n_rand = random_debris.count if random_debris is not None else 0
        ids = np.array(assign_ids([o.id for o in objects] + [None] * n_rand), dtype=np.uint32)
        pos, vel = np.zeros((len(objects), 3)), np.zeros((len(objects), 3))
        lvlh = np.array([o.elements is None and o.encounter is None and o.frame == "lvlh" for o in objects], bool)
        for k, o in enumerate(objects):
            if o.elements is not None:
                el = o.elements
                pos[k], vel[k] = elements_to_state(el.a_m, el.e, *np.radians(
                    [el.i_deg, el.raan_deg, el.argp_deg, el.nu_deg]))
            elif o.encounter is not None:
                pos[k], vel[k] = _encounter_state(o.encounter, chaser_r, chaser_v, dt, j2)
            else:
                pos[k], vel[k] = o.position, o.velocity
        if lvlh.any():
            pos[lvlh], vel[lvlh] = from_lvlh(chaser_r, chaser_v, pos[lvlh], vel[lvlh])
        kind = [KIND_BY_NAME[o.kind] for o in objects]
        rcs = [o.rcs for o in objects]
        radius = [o.radius for o in objects]
        code = [o.transponder_code for o in objects]
        if n_rand:
            rp, rv = random_debris_lvlh(random_debris, rng, mean_motion_of(chaser_r, chaser_v))
            rp, rv = from_lvlh(chaser_r, chaser_v, rp, rv)
            pos, vel = np.vstack([pos, rp]), np.vstack([vel, rv])
            kind += [KIND_BY_NAME[random_debris.kind]] * n_rand
            rcs += list(rng.uniform(*random_debris.rcs_range, n_rand))
            radius += [random_debris.radius_m] * n_rand
            code += [random_debris.transponder_code] * n_rand
        return cls(ids, kind, pos, vel, rcs, radius, code, j2)

    def __len__(self) -> int:
        return int(self.id.size)

    def step(self, dt: float) -> None:
        """Advance every object by dt seconds (one RK4 step)."""
        if dt <= 0.0:
            return
        if len(self):
            self.position, self.velocity = rk4_step(self.position, self.velocity, dt, self.j2)
        self.time_s += dt

    def truth(self) -> Truth:
        """Copies of the object arrays (ECI) at the current sim time."""
        return Truth(self.time_s, self.id.copy(), self.kind.copy(), self.position.copy(), self.velocity.copy(),
                     self.rcs_m2.copy(), self.radius_m.copy(), self.transponder_code.copy())


def random_debris_lvlh(spec: Any, rng: np.random.Generator, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Random debris around the chaser in its LVLH frame (x radial, y along-track, z normal).

    Draws, in this order: direction (isotropic, then its radial component scaled by radial_scale
    and renormalised, so debris on nearby orbits lies mostly along-track and cross-track) and range
    (uniform in range_m), velocity direction (isotropic) and speed (uniform in speed_range). The
    velocity is that random part plus the Clohessy-Wiltshire drift-free term vy = -2 n x, so each
    piece sits on a bounded relative orbit (2:1 ellipse) instead of drifting away along-track.
    """
    m = spec.count
    d = rng.normal(size=(m, 3)) * np.array([spec.radial_scale, 1.0, 1.0])
    pos = d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(*spec.range_m, m)[:, None]
    d = rng.normal(size=(m, 3))
    vel = d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(*spec.speed_range, m)[:, None]
    vel[:, 1] -= 2.0 * n * pos[:, 0]
    return pos, vel


def _encounter_state(enc: Any, chaser_r: np.ndarray, chaser_v: np.ndarray, dt: float, j2: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """ECI state at t = 0 of an object that is at enc.miss_m / enc.relative_velocity (LVLH) at enc.time_s."""
    steps = round(enc.time_s / dt)
    rc, vc = propagate(chaser_r, chaser_v, dt, steps, j2)
    r, v = from_lvlh(rc, vc, np.array([enc.miss_m]), np.array([enc.relative_velocity]))
    r, v = propagate(r[0], v[0], -dt, steps, j2)
    return r, v
