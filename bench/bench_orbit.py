"""Orbit propagation accuracy and cost: RK4 vs analytic Kepler over one LEO orbit, and step cost vs N.

Run: .venv/bin/python bench/bench_orbit.py   (prints Markdown tables; no assertions)
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src" / p)
                 for p in ("qiki_sim", "qiki_description", "qiki_schema", "qiki_geometry")]

from qiki_geometry.earth import R_E  # noqa: E402
from qiki_geometry.orbit_elements import elements_to_state, orbital_period  # noqa: E402
from qiki_sim.orbit import kepler_propagate, propagate, rk4_step, specific_energy  # noqa: E402
from qiki_sim.scenario import load_scenario  # noqa: E402
from qiki_sim.ship_simulation import ShipSimulation  # noqa: E402

SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios"
A = R_E + 400e3


def accuracy(dt: float) -> tuple[int, float, float, float]:
    """(steps, position error [m], velocity error [m/s], relative energy drift) after one two-body orbit."""
    r0, v0 = elements_to_state(A, 0.001, np.radians(51.6), 0.5, 1.0, 0.3)
    n = round(orbital_period(A) / dt)
    r, v = propagate(r0, v0, dt, n, j2=False)
    rk, vk = kepler_propagate(r0, v0, n * dt)
    drift = abs(specific_energy(r, v) / specific_energy(r0, v0) - 1.0)
    return n, float(np.linalg.norm(r - rk)), float(np.linalg.norm(v - vk)), float(drift)


def step_cost(n_bodies: int, repeats: int = 2000) -> float:
    """Median wall time [us] of one vectorised RK4 step (two-body + J2) of n_bodies."""
    rng = np.random.default_rng(0)
    r0, v0 = elements_to_state(A, 0.0, 0.9, 0.0, 0.0, 0.0)
    r, v = r0 + rng.normal(0, 1e4, (n_bodies, 3)), v0 + rng.normal(0, 1.0, (n_bodies, 3))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        r, v = rk4_step(r, v, 0.05, j2=True)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)


def sim_step_cost(name: str, repeats: int = 1000) -> tuple[int, float]:
    """(objects, median wall time [us]) of ShipSimulation.step with all thrusters firing."""
    sim = ShipSimulation(load_scenario(SCENARIOS / f"{name}.yaml"))
    sim.command_thrusters(np.full(sim.rcs.n, 0.1))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        sim.step()
        times.append(time.perf_counter() - t)
    return len(sim.world), float(np.median(times) * 1e6)


def main() -> None:
    print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}` on {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}\n")
    print(f"One orbit (T = {orbital_period(A):.1f} s) of a 400 km, e = 0.001 LEO, RK4 vs universal-variable Kepler:\n")
    print("| dt [s] | steps | position error [m] | velocity error [m/s] | relative energy drift | wall [s] |")
    print("|---:|---:|---:|---:|---:|---:|")
    for dt in (0.05, 0.1, 1.0, 10.0):  # 10 s: where RK4 truncation starts to show
        t = time.perf_counter()
        n, dr, dv, de = accuracy(dt)
        print(f"| {dt} | {n} | {dr:.2e} | {dv:.2e} | {de:.1e} | {time.perf_counter() - t:.1f} |")
    print("\nCost of one vectorised RK4 step (two-body + J2, median of 2000):\n")
    print("| N bodies | us / step | us / body-step |")
    print("|---:|---:|---:|")
    for n in (1, 100, 1000):
        c = step_cost(n)
        print(f"| {n} | {c:.1f} | {c / n:.2f} |")
    print("\nShipSimulation.step (rigid-body chaser + objects, median of 1000):\n")
    print("| scenario | objects | us / step |")
    print("|---|---:|---:|")
    for name in ("ship_station_keeping", "ship_debris_field"):
        n, c = sim_step_cost(name)
        print(f"| {name} | {n} | {c:.0f} |")


if __name__ == "__main__":
    main()
