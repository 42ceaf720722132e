"""Parameters of the radar node (pydantic: defaults, types and validation in one place).

The bands' sensor characteristics are facts of the vehicle: they come from its description
(qiki_description, `radar:`), named by the `description` parameter, never from this node's parameters.
"""
from typing import Literal

from pydantic import Field

from qiki_description.vehicle import RadarSpec
from qiki_msgs.msg import RadarFrame
from qiki_radar.radar_model import RadarBand
from qiki_ros.node_config import GraphNodeConfig
from qiki_schema.strict import Strict


def bands(spec: RadarSpec) -> tuple[RadarBand, RadarBand]:
    """(LR, SR) of a described radar, with their shared edge at sr_threshold_m."""
    lr = RadarBand(name="lr", band_id=RadarFrame.BAND_LR, min_range_m=spec.sr_threshold_m, **spec.lr.model_dump())
    sr = RadarBand(name="sr", band_id=RadarFrame.BAND_SR, min_range_m=0.0, max_range_m=spec.sr_threshold_m,
                   **spec.sr.model_dump())
    return lr, sr


class OwnVehicleConfig(Strict):
    truth_id: int = Field(0, ge=0, le=2**32 - 1, description="truth id of the vehicle this node rides on, left out "
                          "of the truth it reads (a fleet's vehicles are in the truth; set by the launcher); 0 = none "
                          "(a single vehicle is not in the truth)")


class RadarNodeConfig(GraphNodeConfig):
    seed: int = Field(1, ge=0, description="seed of the radar's noise, misses and clutter")
    sensor_frame: str = "radar_link"
    world_frame: Literal["map", "lvlh"] = Field("map", description="tracking frame: map (bot) or the chaser's lvlh (ship)")
    description: str = Field("", description="vehicle description holding the radar bands: a name (qiki_description "
                             "vehicles/<name>.yaml) or a path (set by the launcher from the scenario's vehicle)")
    vehicle: OwnVehicleConfig = OwnVehicleConfig()
