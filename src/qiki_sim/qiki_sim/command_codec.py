"""ActuatorCommand message -> what the simulator applies: the sim node's input checks, without ROS.

A command the vehicle cannot apply (wrong mode for the profile, NaN/inf values, a throttle count that is
not one per thruster) is rejected as a whole with a one-line ValueError naming the field; the sim then
holds the last valid command. Finite values out of range are the vehicle's business (it clamps them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from qiki_msgs.msg import ActuatorCommand
from qiki_ros.packing import unpack

MODES = {"bot": ActuatorCommand.MODE_BOT_VELOCITY, "ship": ActuatorCommand.MODE_SHIP_THRUSTERS}


@dataclass(frozen=True)
class VehicleCommand:
    """A checked command: bot (v, w), ship one finite throttle per thruster."""

    v: float = 0.0
    w: float = 0.0
    throttle: Optional[np.ndarray] = None


def command_from_msg(msg: ActuatorCommand, profile: str, n_thrusters: int) -> VehicleCommand:
    """The command `msg` asks of a `profile` vehicle with `n_thrusters` thrusters (ship).

    Raises ValueError (one line naming the field) when the command as a whole cannot be applied."""
    if msg.mode != MODES[profile]:
        names = {v: k for k, v in MODES.items()}
        raise ValueError(f"ActuatorCommand: mode {msg.mode} ({names.get(msg.mode, 'unknown')}) is not the "
                         f"{profile} mode {MODES[profile]}")
    if profile == "bot":
        v, w = float(msg.linear_x_mps), float(msg.angular_z_radps)
        if not (math.isfinite(v) and math.isfinite(w)):
            raise ValueError(f"ActuatorCommand: non-finite linear_x_mps={v} / angular_z_radps={w}")
        return VehicleCommand(v=v, w=w)
    u = unpack(msg.thruster_throttle)
    if u.size != n_thrusters:
        raise ValueError(f"ActuatorCommand: thruster_throttle has {u.size} values for {n_thrusters} thrusters")
    if not np.isfinite(u).all():
        bad = np.flatnonzero(~np.isfinite(u))
        raise ValueError(f"ActuatorCommand: thruster_throttle has NaN/inf at {bad[:5].tolist()}")
    return VehicleCommand(throttle=u.copy())
