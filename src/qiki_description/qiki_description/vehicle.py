"""Schema of a vehicle description: what the vehicle is (not where it is or what it does).

bot: differential-drive chassis (drive limits, footprint, battery), devices. ship: mass, inertia, RCS
layout (with each thruster's Isp), devices. The scenario says which description a run flies.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from qiki_description.rcs import RcsConfig
from qiki_schema.strict import KeyedStrict
from qiki_schema.vectors import is_number


class BotParams(KeyedStrict):
    """Physical limits and power model of a differential-drive robot."""

    wheel_base_m: float = Field(gt=0, description="distance between the wheel contact points")
    wheel_radius_m: float = Field(gt=0)
    max_wheel_speed_radps: float = Field(gt=0)
    max_wheel_accel_radps2: float = Field(gt=0)
    footprint_radius_m: float = Field(gt=0, description="circle enclosing the robot, for collisions")
    mass_kg: float = Field(gt=0)
    battery_capacity_wh: float = Field(gt=0)
    idle_power_w: float = Field(ge=0, description="electronics and sensors, always drawn")
    drive_power_w_per_mps: float = Field(ge=0, description="extra draw per m/s of mean wheel rim speed")


def _inertia(value: Any) -> Any:
    """3 principal moments or 3 rows of 3 numbers -> symmetric positive definite 3x3 rows [kg m^2]."""
    rows = value
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(is_number(c) for c in value):
        rows = [[value[0], 0.0, 0.0], [0.0, value[1], 0.0], [0.0, 0.0, value[2]]]
    if not (isinstance(rows, (list, tuple)) and len(rows) == 3 and all(
            isinstance(r, (list, tuple)) and len(r) == 3 and all(is_number(c) for c in r) for r in rows)):
        raise PydanticCustomError("numbers", "expected {what}",
                                  {"what": "3 principal moments [Ixx, Iyy, Izz] or 3 rows of 3 numbers"})
    m = np.array(rows, dtype=float)
    if not np.allclose(m, m.T) or np.linalg.eigvalsh(m).min() <= 0:
        raise PydanticCustomError("inertia", "expected a symmetric positive definite tensor, got {m}",
                                  {"m": m.tolist()})
    return tuple(tuple(r) for r in m.tolist())


Inertia = Annotated[tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]],
                    BeforeValidator(_inertia)]


class ShipParams(KeyedStrict):
    """Rigid body and thrusters of a spacecraft."""

    dry_mass_kg: float = Field(gt=0)
    propellant_kg: float = Field(ge=0)
    inertia_kg_m2: Inertia  # about the CoM, body axes
    rcs: RcsConfig


class BotDescription(KeyedStrict):
    """A ground robot."""

    profile: Literal["bot"]
    name: str
    devices: list[str] = Field(min_length=1)
    chassis: BotParams


class ShipDescription(KeyedStrict):
    """A spacecraft."""

    profile: Literal["ship"]
    name: str
    devices: list[str] = Field(min_length=1)
    ship: ShipParams


VehicleDescription = Annotated[Union[BotDescription, ShipDescription], Field(discriminator="profile")]
