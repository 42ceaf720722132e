"""Parameters of the sim node (pydantic: defaults, types and validation in one place)."""
from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockConfig(_Strict):
    rate_factor: float = Field(1.0, gt=0, description="sim seconds per wall second (1 = real time)")


class PublishConfig(_Strict):
    device_health_hz: float = Field(2.0, gt=0, description="device health rate [Hz of sim time]")


class StartConfig(_Strict):
    wait_for: list[str] = Field(["truth", "vehicle_state", "device_health"],
                                description="ports that need a subscriber before the clock starts")
    wait_timeout_s: float = Field(15.0, ge=0, description="start anyway after this many wall seconds")


class SimNodeConfig(_Strict):
    scenario_file: str = Field("", description="scenario YAML (set by the launcher from config/graph.yaml)")
    seed: int = Field(0, ge=0, description="random seed; 0 keeps the scenario's seed")
    frame_id: str = "map"
    clock: ClockConfig = ClockConfig()
    publish: PublishConfig = PublishConfig()
    start: StartConfig = StartConfig()
