"""Schema of a vehicle description: what the vehicle is (not where it is or what it does).

bot: differential-drive chassis (drive limits, footprint, battery), devices, radar bands. ship: mass,
inertia, RCS layout (with each thruster's Isp), devices, radar bands. The scenario says which description
a run flies. The radar is mounted at the body origin, aligned with the body axes (radar_link = body).
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BeforeValidator, Field, model_validator
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
    radius_m: float = Field(2.0, gt=0, description="sphere enclosing the spacecraft (its size in a fleet's truth)")
    rcs_m2: float = Field(10.0, gt=0, description="radar cross-section other vehicles' radars see [m^2]")


class BandSpec(KeyedStrict):
    """One radar band's sensor characteristics (its coverage edges follow from RadarSpec.sr_threshold_m)."""

    fov_azimuth_rad: float = Field(gt=0.0, le=2 * math.pi, description="full azimuth width [rad]")
    fov_elevation_rad: float = Field(gt=0.0, le=math.pi, description="full elevation width [rad]")
    rate_hz: float = Field(gt=0.0, description="scan rate [Hz]")
    range_std_m: float = Field(ge=0.0)
    azimuth_std_rad: float = Field(ge=0.0)
    elevation_std_rad: float = Field(ge=0.0)
    range_rate_std_mps: float = Field(ge=0.0)
    snr_ref_db: float = Field(description="SNR of a 1 m^2 target at ref_range_m [dB]")
    ref_range_m: float = Field(gt=0.0)
    detection_threshold_db: float = Field(description="SNR at which Pd = 0.5 [dB]")
    pd_slope_db: float = Field(gt=0.0, description="width of the logistic Pd(SNR) curve [dB]")
    clutter_per_scan: float = Field(ge=0.0, description="Poisson mean of false alarms per scan")


class LongRangeBandSpec(BandSpec):
    """The long-range band also has its outer edge."""

    max_range_m: float = Field(gt=0.0, description="outer edge of the LR coverage [m] (exclusive)")


class RadarSpec(KeyedStrict):
    """The two-band radar: SR covers [0, sr_threshold_m), LR [sr_threshold_m, lr.max_range_m)."""

    sr_threshold_m: float = Field(gt=0, description="range splitting the SR band (below) from LR [m]")
    lr: LongRangeBandSpec
    sr: BandSpec

    @model_validator(mode="after")
    def _threshold_inside_lr(self) -> RadarSpec:
        if not self.sr_threshold_m < self.lr.max_range_m:
            raise PydanticCustomError("range", "sr_threshold_m ({t}) must be below lr.max_range_m ({m})",
                                      {"t": self.sr_threshold_m, "m": self.lr.max_range_m})
        return self


class BotDescription(KeyedStrict):
    """A ground robot."""

    profile: Literal["bot"]
    name: str
    devices: list[str] = Field(min_length=1)
    chassis: BotParams
    radar: RadarSpec


class ShipDescription(KeyedStrict):
    """A spacecraft."""

    profile: Literal["ship"]
    name: str
    devices: list[str] = Field(min_length=1)
    ship: ShipParams
    radar: RadarSpec


VehicleDescription = Annotated[Union[BotDescription, ShipDescription], Field(discriminator="profile")]
