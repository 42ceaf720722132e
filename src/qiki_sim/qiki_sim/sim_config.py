"""Parameters of the sim node (pydantic: defaults, types and validation in one place)."""
from typing import Literal

from pydantic import Field

from qiki_ros.node_config import GraphNodeConfig
from qiki_schema.strict import Strict


class ClockConfig(Strict):
    mode: Literal["realtime", "lockstep"] = Field(
        "realtime", description="realtime: step on a wall timer at rate_factor; lockstep: step as soon as "
                                "the agent (every agent of a fleet) has finished the step command_lag_steps "
                                "back (as fast as the slowest node keeps up)")
    rate_factor: float = Field(1.0, gt=0, description="realtime mode: sim seconds per wall second")
    command_lag_steps: int = Field(1, ge=1, description="actuation latency: a command computed at step n "
                                                        "applies from step n + command_lag_steps")
    stall_warn_s: float = Field(5.0, gt=0, description="lockstep: warn when no step for this long [s wall]")
    member_timeout_s: float = Field(1.0, gt=0, description="lockstep: a barrier member that announced no step for "
                                    "this long (crashed, restarting) slows the clock to real time until it is "
                                    "back, leaving the CPU to its restart [s wall]")
    hold_at_s: float = Field(0.0, ge=0, description="stop stepping once sim time reaches this and hold there, "
                             "publishing nothing more (`qiki run` sets it to its duration, so every node and "
                             "watcher ends on the same last step) [s sim]; 0: never")
    agent_timeout_s: float = Field(2.0, ge=0, description="lockstep: when the agent has finished no step for this "
                                   "long, step on without it at real time, vehicle stopped, until it is back "
                                   "[s wall]; 0 waits forever")

class PublishConfig(Strict):
    device_health_hz: float = Field(2.0, gt=0, description="device health rate [Hz of sim time]")


class StartConfig(Strict):
    wait_for: list[str] = Field(["truth", "vehicle_state", "device_health"],
                                description="ports that need a subscriber before the clock starts (vehicle_state, "
                                            "device_health: every vehicle's)")
    wait_timeout_s: float = Field(15.0, ge=0, description="start anyway after this many wall seconds (strict "
                                  "lockstep, clock.agent_timeout_s 0, never starts without every barrier member: "
                                  "a member that missed the first step could never finish it)")


class SimNodeConfig(GraphNodeConfig):
    scenario_file: str = Field("", description="scenario YAML (set by the launcher from config/graph.yaml)")
    seed: int = Field(0, ge=0, description="random seed; 0 keeps the scenario's seed")
    frame_id: str = "map"
    clock: ClockConfig = ClockConfig()
    publish: PublishConfig = PublishConfig()
    start: StartConfig = StartConfig()
