"""Closest approaches of a fleet: to objects (never to a fleet vehicle's own truth entry) and between vehicles."""
import math

import numpy as np

from qiki_geometry.closest_approach import ClosestApproachRecord, closest_approaches


def test_distances_to_objects_skip_the_fleet_and_pairs_are_symmetric():
    vehicles = [[0, 0, 0], [3, 4, 0], [0, -10, 0]]
    truth_ids = [1, 2, 101, 102, 103]
    truth_xyz = [[1, 0, 0], [0, 20, 0], [0, 0, 0], [3, 4, 0], [0, -10, 0]]
    to_objects, nearest, to_vehicles = closest_approaches(vehicles, [101, 102, 103], truth_ids, truth_xyz)
    np.testing.assert_allclose(to_objects, [1.0, math.hypot(2, 4), math.hypot(1, 10)])
    assert nearest.tolist() == [0, 0, 0]                                  # truth row of object 1, for all three
    assert to_vehicles[0, 1] == to_vehicles[1, 0] == 5.0 and to_vehicles[0, 2] == 10.0
    assert np.all(np.isinf(np.diag(to_vehicles)))


def test_a_single_unnamed_vehicle_is_not_in_the_truth():
    to_objects, nearest, to_vehicles = closest_approaches([[0, 0, 0]], [0], [1, 2], [[0, 2, 0], [6, 8, 0]])
    assert to_objects.tolist() == [2.0] and nearest.tolist() == [0] and to_vehicles.shape == (1, 1) and math.isinf(to_vehicles[0, 0])


def test_no_objects_is_infinite():
    to_objects, nearest, _ = closest_approaches([[0, 0, 0], [1, 0, 0]], [5, 6], [5, 6], [[0, 0, 0], [1, 0, 0]])
    assert np.all(np.isinf(to_objects)) and nearest.tolist() == [-1, -1]


def test_record_keeps_the_minima_and_summarises_by_name():
    record = ClosestApproachRecord(2)
    record.update([[0, 0, 0], [10, 0, 0]], [7, 8], [1], [[0, 5, 0]])
    record.update([[0, 0, 0], [4, 0, 0]], [7, 8], [1], [[0, 9, 0]])
    assert record.summary(["a", "b"]) == {"a": {"objects": 5.0, "vehicles": {"b": 4.0}},
                                          "b": {"objects": math.hypot(4, 9), "vehicles": {"a": 4.0}}}
    assert ClosestApproachRecord(1).summary([""]) == {"": {"objects": None, "vehicles": {}}}
