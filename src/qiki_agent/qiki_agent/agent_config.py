"""Parameters of the agent node (pydantic: defaults, types and validation in one place)."""
from pydantic import Field

from qiki_ros.node_config import GraphNodeConfig
from qiki_schema.strict import Strict as _Strict


class BiosConfig(_Strict):
    devices: list[str] = Field(["radar_lr", "radar_sr", "navigation", "drive", "power", "comms"],
                               description="devices the profile declares; each is self-tested")
    stale_after_s: float = Field(2.0, gt=0, description="a device reading older than this is STALE [s]")
    retest_s: float = Field(5.0, gt=0, description="periodic re-test interval while running [s sim]; a device "
                            "reporting a new level is re-tested at the next tick")
    boot_timeout_s: float = Field(10.0, gt=0, description="BOOTING -> SAFE_MODE if not all go by then [s]")
    power_warn_below: float = Field(0.2, ge=0, le=1)
    power_error_below: float = Field(0.05, ge=0, le=1)


class MissionConfig(_Strict):
    autostart: bool = Field(True, description="start the mission on reaching IDLE (once; not after it completes "
                            "or the operator aborts it); the mission itself is the mission_file")


class AgentNodeConfig(GraphNodeConfig):
    fsm_file: str = Field("", description="state machine YAML (set by the launcher from config/graph.yaml)")
    rules_file: str = Field("", description="safety rules YAML, config/rules/<profile>.yaml (set by the launcher)")
    description: str = Field("", description="vehicle description: a name (qiki_description vehicles/<name>.yaml) "
                             "or a path (set by the launcher from the scenario's vehicle)")
    mission_file: str = Field("", description="mission YAML, config/missions/<name>.yaml (set by the launcher from "
                              "the scenario's vehicle)")
    tick_hz: float = Field(10.0, gt=0, description="decision rate [Hz of sim time]")
    status_hz: float = Field(1.0, gt=0, description="status heartbeat rate [Hz of sim time]")
    warn_interval_s: float = Field(5.0, gt=0, description="repeat a recurring warning (command clamped, input "
                                   "rejected) at most this often [s sim]")
    bios: BiosConfig = BiosConfig()
    mission: MissionConfig = MissionConfig()
