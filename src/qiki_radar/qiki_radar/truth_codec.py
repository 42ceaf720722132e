"""WorldTruth / VehicleState messages -> the radar model's (and the scorer's) view of the world, without ROS.

The radar and the scorer read the same two messages: the truth objects and the ego pose, from which
sensor_frame.sensor_view builds the tracking-frame view. A message that cannot be used as a whole (arrays
of different lengths, a NaN or non-unit ego pose, a degenerate LVLH frame) raises a one-line ValueError
naming the field; single objects with a non-finite or absurd state, or a negative or non-finite RCS, are
dropped and counted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_geometry.state_bounds import MAX_ABS_STATE
from qiki_msgs.msg import VehicleState, WorldTruth
from qiki_radar.sensor_frame import SensorView, sensor_view
from qiki_ros.packing import unpack_items


@dataclass(frozen=True)
class TruthObjects:
    """The truth objects the radar can observe, in the message's world frame."""

    id: np.ndarray                # (N,) uint32
    position: np.ndarray          # (N, 3) [m]
    velocity: np.ndarray          # (N, 3) [m/s]
    rcs_m2: np.ndarray            # (N,)
    transponder_code: np.ndarray  # (N,) uint32

    def __len__(self) -> int:
        return int(self.id.size)


def truth_objects(msg: WorldTruth, own_id: int = 0) -> tuple[TruthObjects, int]:
    """The usable objects of `msg` and how many were dropped (non-finite or absurd state, bad RCS). own_id: the
    truth id of the reader's own vehicle (a fleet's), left out (not counted as dropped); 0 = none.

    Raises ValueError naming the field when the arrays do not describe one set of N objects."""
    a = unpack_items(msg, "object", {"id": (np.uint32, 1), "position": (np.float64, 3),
                                     "velocity": (np.float64, 3), "rcs_m2": (np.float64, 1),
                                     "transponder_code": (np.uint32, 1)})
    with np.errstate(invalid="ignore"):
        ok = ((np.abs(a["position"]) < MAX_ABS_STATE).all(axis=1) & (np.abs(a["velocity"]) < MAX_ABS_STATE).all(axis=1)
              & np.isfinite(a["rcs_m2"]) & (a["rcs_m2"] >= 0.0))
    own = a["id"] == own_id if own_id else np.zeros_like(ok)
    keep = ok & ~own
    objects = TruthObjects(*(a[k][keep] for k in ("id", "position", "velocity", "rcs_m2", "transponder_code")))
    return objects, int((~ok & ~own).sum())


def ego_view(frame: str, msg: VehicleState, objects: TruthObjects) -> SensorView:
    """The sensor (ego body) pose and the objects in the tracking frame `frame` (see sensor_frame).

    Raises ValueError naming the field when the ego pose is not usable: NaN/inf or absurd values, a
    non-unit quaternion, or (lvlh) a position and velocity that define no orbit frame."""
    p, q, v = msg.pose.position, msg.pose.orientation, msg.velocity_world
    position, velocity = np.array([p.x, p.y, p.z]), np.array([v.x, v.y, v.z])
    quat = np.array([q.w, q.x, q.y, q.z])
    if not ((np.abs(position) < MAX_ABS_STATE).all() and (np.abs(velocity) < MAX_ABS_STATE).all()
            and np.isfinite(quat).all()):
        raise ValueError("VehicleState: pose.position / velocity_world / pose.orientation has NaN/inf or "
                         f"|value| >= {MAX_ABS_STATE:g}")
    norm = float(np.linalg.norm(quat))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f"VehicleState: pose.orientation is not a unit quaternion (norm {norm:.6g})")
    if frame == "lvlh" and not np.linalg.norm(np.cross(position, velocity)) > 0.0:
        raise ValueError("VehicleState: pose.position and velocity_world are parallel or zero: no LVLH frame")
    return sensor_view(frame, position, velocity, quat, objects.position, objects.velocity)
