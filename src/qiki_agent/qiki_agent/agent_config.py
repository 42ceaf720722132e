"""Parameters of the agent node (pydantic: defaults, types and validation in one place)."""
from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BiosConfig(_Strict):
    devices: list[str] = Field(["radar_lr", "radar_sr", "navigation", "drive", "power", "comms"],
                               description="devices the profile declares; each is self-tested")
    stale_after_s: float = Field(2.0, gt=0, description="a device reading older than this is STALE [s]")
    retest_s: float = Field(5.0, gt=0, description="periodic re-test interval while running [s sim]")
    boot_timeout_s: float = Field(10.0, gt=0, description="BOOTING -> SAFE_MODE if not all go by then [s]")
    power_warn_below: float = Field(0.2, ge=0, le=1)
    power_error_below: float = Field(0.05, ge=0, le=1)


class AgentNodeConfig(_Strict):
    fsm_file: str = Field("", description="state machine YAML (set by the launcher from config/graph.yaml)")
    tick_hz: float = Field(10.0, gt=0, description="decision rate [Hz of sim time]")
    status_hz: float = Field(1.0, gt=0, description="status heartbeat rate [Hz of sim time]")
    bios: BiosConfig = BiosConfig()
