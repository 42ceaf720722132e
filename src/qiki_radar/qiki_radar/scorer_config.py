"""Parameters of the scorer node (evaluation of the tracker against truth)."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qiki_ros.node_config import GraphNodeConfig


class GospaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    c_m: float = Field(10.0, gt=0, description="GOSPA cut-off c, also the track-to-truth association distance [m]")
    p: float = Field(2.0, ge=1, description="GOSPA order p (alpha is 2)")
    warmup_frames: int = Field(10, ge=0, description="frames per band not scored at start-up")


class ScorerNodeConfig(GraphNodeConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)

    world_frame: Literal["map", "lvlh"] = Field("map", description="tracking frame the tracks are in")
    gospa: GospaConfig = GospaConfig()
