"""Parameters of the scorer node (evaluation of the tracker against truth)."""
from typing import Literal

from pydantic import Field

from qiki_radar.radar_config import OwnVehicleConfig
from qiki_ros.node_config import GraphNodeConfig
from qiki_schema.strict import Strict


class GospaConfig(Strict):
    c_m: float = Field(10.0, gt=0, description="GOSPA cut-off c, also the track-to-truth association distance [m]")
    p: float = Field(2.0, ge=1, description="GOSPA order p (alpha is 2)")
    warmup_frames: int = Field(10, ge=0, description="frames per band not scored at start-up")


class ScorerNodeConfig(GraphNodeConfig):
    world_frame: Literal["map", "lvlh"] = Field("map", description="tracking frame the tracks are in")
    gospa: GospaConfig = GospaConfig()
    vehicle: OwnVehicleConfig = OwnVehicleConfig()   # its own vehicle expects no track
