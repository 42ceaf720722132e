"""Parameters of the agent node (pydantic: defaults, types and validation in one place)."""
from pydantic import BaseModel, ConfigDict, Field

from qiki_ros.node_config import GraphNodeConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
                            "or the operator aborts it)")
    laps: int = Field(1, ge=0, description="bot: patrol laps over the scenario's waypoints; 0 = forever")
    target_code: int = Field(2001, ge=1, le=2**32 - 1,
                             description="ship: transponder code of the spacecraft to station-keep on")
    offset_lvlh_m: tuple[float, float, float] = Field(
        (0.0, -200.0, 0.0), description="ship: where to hold, chaser minus target in LVLH [m]")
    hold_s: float = Field(0.0, ge=0, description="ship: mission complete after this long in tolerance; 0 = hold "
                          "station forever")
    pos_tol_m: float = Field(0.5, gt=0, description="ship: station held when within this distance of the offset [m]")
    vel_tol_mps: float = Field(0.02, gt=0, description="ship: ... and slower than this relative speed [m/s]")
    max_force_n: float = Field(40.0, gt=0, description="ship: force limit of station keeping and avoidance [N] "
                               "(default RCS: 44 N per lateral body axis, 88 N along body x)")


class AgentNodeConfig(GraphNodeConfig):
    fsm_file: str = Field("", description="state machine YAML (set by the launcher from config/graph.yaml)")
    rules_file: str = Field("", description="safety rules YAML, config/rules/<profile>.yaml (set by the launcher)")
    scenario_file: str = Field("", description="scenario YAML: vehicle, waypoints, target (set by the launcher)")
    tick_hz: float = Field(10.0, gt=0, description="decision rate [Hz of sim time]")
    status_hz: float = Field(1.0, gt=0, description="status heartbeat rate [Hz of sim time]")
    warn_interval_s: float = Field(5.0, gt=0, description="repeat a recurring warning (command clamped, input "
                                   "rejected) at most this often [s sim]")
    bios: BiosConfig = BiosConfig()
    mission: MissionConfig = MissionConfig()
