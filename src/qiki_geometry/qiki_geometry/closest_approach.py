"""Closest approaches of a fleet: per vehicle, the distance to the nearest world object and to each other vehicle.

Pure numpy over the arrays both engines observe (the truth's ids and positions, each vehicle's position), so
the graph's observer and the core engine compute the same figures. Distances are between centres [m].
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Approaches(NamedTuple):
    """A fleet's distances at one instant."""
    to_objects: np.ndarray        # (V,) vehicle i -> the nearest truth object that is not a fleet vehicle (inf: none)
    nearest_object: np.ndarray    # (V,) that object's row in the truth (-1: none)
    to_vehicles: np.ndarray       # (V, V) between vehicles i and j (inf on the diagonal)


def closest_approaches(vehicle_xyz, vehicle_ids, truth_ids, truth_xyz) -> Approaches:
    """The distances at one instant. vehicle_xyz (V, 3): each vehicle's position; vehicle_ids (V,): its truth
    id (0: not in the truth); truth_ids (N,), truth_xyz (N, 3): the truth."""
    vehicles = np.asarray(vehicle_xyz, dtype=np.float64).reshape(-1, 3)
    objects = np.asarray(truth_xyz, dtype=np.float64).reshape(-1, 3)
    rows = np.flatnonzero(~np.isin(np.asarray(truth_ids).reshape(-1), np.asarray(vehicle_ids).reshape(-1)))
    if len(rows):
        d = np.linalg.norm(objects[rows][None, :, :] - vehicles[:, None, :], axis=2)
        nearest = d.argmin(axis=1)
        to_objects, nearest_object = d[np.arange(len(vehicles)), nearest], rows[nearest]
    else:
        to_objects, nearest_object = np.full(len(vehicles), np.inf), np.full(len(vehicles), -1)
    to_vehicles = np.linalg.norm(vehicles[None, :, :] - vehicles[:, None, :], axis=2)
    np.fill_diagonal(to_vehicles, np.inf)
    return Approaches(to_objects, nearest_object, to_vehicles)


class ClosestApproachRecord:
    """Running minima of closest_approaches over a run (update once per observed step)."""

    def __init__(self, n_vehicles: int):
        self.objects = np.full(n_vehicles, np.inf)
        self.vehicles = np.full((n_vehicles, n_vehicles), np.inf)

    def update(self, vehicle_xyz, vehicle_ids, truth_ids, truth_xyz) -> None:
        now = closest_approaches(vehicle_xyz, vehicle_ids, truth_ids, truth_xyz)
        np.minimum(self.objects, now.to_objects, out=self.objects)
        np.minimum(self.vehicles, now.to_vehicles, out=self.vehicles)

    def summary(self, names: list[str]) -> dict[str, dict]:
        """{name: {"objects": m or None, "vehicles": {other: m}}}; None/absent where nothing was seen."""
        def finite(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None
        return {name: {"objects": finite(self.objects[i]),
                       "vehicles": {other: finite(self.vehicles[i, j]) for j, other in enumerate(names) if j != i}}
                for i, name in enumerate(names)}
