"""Parameters of the tracker node (pydantic: defaults, types and validation in one place)."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qiki_ros.node_config import GraphNodeConfig

from qiki_radar.tracker import TrackerConfig


class MarkerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tracks: int = Field(200, ge=0, description="confirmed tracks drawn at most (rviz cost)")
    scale_m: float = Field(1.0, gt=0, description="size of a track's marker [m]")
    rate_hz: float = Field(5.0, gt=0, description="marker updates per second of sim time (only when subscribed)")


class TrackerNodeConfig(GraphNodeConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)

    world_frame: Literal["map", "lvlh"] = "map"
    tracker: TrackerConfig = TrackerConfig()
    markers: MarkerConfig = MarkerConfig()
