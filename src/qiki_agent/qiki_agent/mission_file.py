"""Mission files (config/missions/<name>.yaml): what the vehicle is asked to do, read by the agent only.

The scenario (the world) names the mission a run flies; the launcher hands the agent its path. Every
load error is a one-line MissionError naming the file and the key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, TypeAdapter

from qiki_schema.strict import KeyedStrict
from qiki_schema.vectors import Vec2, Vec3
from qiki_schema.yaml_file import SchemaFileError, load_model


class MissionError(SchemaFileError):
    """A mission file that cannot be found, parsed or validated; str() is one line."""


class PatrolMission(KeyedStrict):
    """Bot: drive the waypoints (map frame) at the cruise speed, avoiding obstacles."""

    kind: Literal["patrol"]
    waypoints: list[Vec2] = Field(min_length=1)
    cruise_speed_mps: float = Field(gt=0)  # capped by the vehicle's top speed
    laps: int = Field(ge=0)  # 0 = forever


class StationKeepingMission(KeyedStrict):
    """Ship: hold an LVLH offset from the spacecraft with a transponder code, in the attitude it starts in."""

    kind: Literal["station_keeping"]
    target_code: int = Field(ge=1, le=2**32 - 1)  # transponder code of the spacecraft to station-keep on
    offset_lvlh_m: Vec3  # where to hold, chaser minus target in LVLH [m]
    hold_s: float = Field(ge=0)  # mission complete after this long in tolerance; 0 = hold station forever
    pos_tol_m: float = Field(gt=0)  # station held when within this distance of the offset [m]
    vel_tol_mps: float = Field(gt=0)  # ... and slower than this relative speed [m/s]
    max_force_n: float = Field(gt=0)  # force limit of station keeping and avoidance [N]


class ObserveMission(KeyedStrict):
    """Ship (e.g. a station): track and report what is around, never manoeuvre (every thruster off)."""

    kind: Literal["observe"]
    duration_s: float = Field(0.0, ge=0)  # mission complete after observing this long; 0 = observe forever


Mission = Annotated[Union[PatrolMission, StationKeepingMission, ObserveMission], Field(discriminator="kind")]
_ADAPTER = TypeAdapter(Mission)
KINDS = {"bot": ("patrol",), "ship": ("station_keeping", "observe")}  # the mission kinds each vehicle profile flies


def load_mission(path: str | Path) -> PatrolMission | StationKeepingMission | ObserveMission:
    """Read and validate a mission file; raises MissionError (one line) on any problem."""
    return load_model(path, _ADAPTER, "mission", MissionError,
                      union_tag="expected kind 'patrol', 'station_keeping' or 'observe'",
                      union_tags=("patrol", "station_keeping", "observe"))
