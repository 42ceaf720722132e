"""Closest approaches of a fleet: per vehicle, the distance to the nearest world object and to each other vehicle.

Pure numpy over the arrays both engines observe (the truth's ids and positions, each vehicle's position), so
the graph's observer and the core engine compute the same figures. Distances are between centres [m].
"""
from __future__ import annotations

import numpy as np


def closest_approaches(vehicle_xyz, vehicle_ids, truth_ids, truth_xyz) -> tuple[np.ndarray, np.ndarray]:
    """(to_objects (V,), to_vehicles (V, V)) at one instant.

    vehicle_xyz (V, 3): each vehicle's position; vehicle_ids (V,): its truth id (0: not in the truth);
    truth_ids (N,), truth_xyz (N, 3): the truth. to_objects[i] is the distance from vehicle i to the nearest
    truth object that is not a vehicle of the fleet (inf without one); to_vehicles[i, j] the distance between
    vehicles i and j (inf on the diagonal)."""
    vehicles = np.asarray(vehicle_xyz, dtype=np.float64).reshape(-1, 3)
    objects = np.asarray(truth_xyz, dtype=np.float64).reshape(-1, 3)
    others = objects[~np.isin(np.asarray(truth_ids).reshape(-1), np.asarray(vehicle_ids).reshape(-1))]
    to_objects = (np.linalg.norm(others[None, :, :] - vehicles[:, None, :], axis=2).min(axis=1) if len(others)
                  else np.full(len(vehicles), np.inf))
    to_vehicles = np.linalg.norm(vehicles[None, :, :] - vehicles[:, None, :], axis=2)
    np.fill_diagonal(to_vehicles, np.inf)
    return to_objects, to_vehicles


class ClosestApproachRecord:
    """Running minima of closest_approaches over a run (update once per observed step)."""

    def __init__(self, n_vehicles: int):
        self.objects = np.full(n_vehicles, np.inf)
        self.vehicles = np.full((n_vehicles, n_vehicles), np.inf)

    def update(self, vehicle_xyz, vehicle_ids, truth_ids, truth_xyz) -> None:
        to_objects, to_vehicles = closest_approaches(vehicle_xyz, vehicle_ids, truth_ids, truth_xyz)
        np.minimum(self.objects, to_objects, out=self.objects)
        np.minimum(self.vehicles, to_vehicles, out=self.vehicles)

    def summary(self, names: list[str]) -> dict[str, dict]:
        """{name: {"objects": m or None, "vehicles": {other: m}}}; None/absent where nothing was seen."""
        def finite(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None
        return {name: {"objects": finite(self.objects[i]),
                       "vehicles": {other: finite(self.vehicles[i, j]) for j, other in enumerate(names) if j != i}}
                for i, name in enumerate(names)}
