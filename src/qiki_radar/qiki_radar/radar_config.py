"""Parameters of the radar node (pydantic: defaults, types and validation in one place)."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qiki_ros.node_config import GraphNodeConfig

from qiki_radar.radar_model import LR_DEFAULT, SR_DEFAULT, RadarBand


class RadarConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sr_threshold_m: float = Field(60.0, gt=0, description="range splitting the SR band (below) from LR [m]")
    lr: RadarBand = LR_DEFAULT
    sr: RadarBand = SR_DEFAULT

    @model_validator(mode="after")
    def _threshold_inside_lr(self):
        if not self.sr_threshold_m < self.lr.max_range_m:
            raise ValueError(f"sr_threshold_m ({self.sr_threshold_m}) must be below lr.max_range_m "
                             f"({self.lr.max_range_m})")
        return self

    def bands(self) -> tuple[RadarBand, RadarBand]:
        """(LR, SR) with their shared edge at sr_threshold_m."""
        lr = self.lr.model_copy(update={"name": "lr", "band_id": 0, "min_range_m": self.sr_threshold_m})
        sr = self.sr.model_copy(update={"name": "sr", "band_id": 1, "min_range_m": 0.0,
                                        "max_range_m": self.sr_threshold_m})
        return lr, sr


class RadarNodeConfig(GraphNodeConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(1, ge=0, description="seed of the radar's noise, misses and clutter")
    sensor_frame: str = "radar_link"
    world_frame: Literal["map", "lvlh"] = Field("map", description="tracking frame: map (bot) or the chaser's lvlh (ship)")
    radar: RadarConfig = RadarConfig()
