"""What a pilot is: the per-profile part of the agent that turns a state's intent into actuator commands.

AgentCore picks one pilot at construction (BotPilot or ShipPilot by the vehicle description's profile; StationPilot
for a ship's observe mission) and asks it, each tick, for the command of the FSM state: the mission, the avoidance
or a stop. The pilot owns its mission, the frame threats are assessed in and its actuator model (rate limiter /
thrust allocator).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

from qiki_agent.ego_state import EgoState
from qiki_agent.threat import Threat, ThreatReport
from qiki_msgs.msg import Event
from qiki_ros.events import EventCode
from qiki_tracks.track_set import TrackSet


@dataclass(frozen=True)
class Command:
    """What the agent asks of the vehicle this tick: bot (v, w), ship one throttle per thruster."""

    profile: str  # "bot" or "ship"
    reason: str  # one line: state and what the command does
    v: float = 0.0  # bot: forward speed [m/s]
    w: float = 0.0  # bot: yaw rate [rad/s], CCW positive
    throttle: Optional[np.ndarray] = None  # ship: (N,) in [0, 1], thruster order of the description's RCS


class Pilot(Protocol):
    """The per-profile interface AgentCore drives (see BotPilot, ShipPilot, StationPilot); a pilot whose mission
    has an LVLH offset also has `set_offset(offset_lvlh_m) -> (accepted, reason)` (operator SET_OFFSET)."""

    profile: str
    mission_name: str
    mission: object  # WaypointPatrol / StationKeeping: progress, done, reset()

    def on_ego(self, ego: EgoState) -> None:
        """A navigation state was accepted."""

    def threat_geometry(self, ego: Optional[EgoState], tracks: TrackSet) -> tuple[np.ndarray, np.ndarray, TrackSet]:
        """Ego position, velocity and tracks in the frame the threat assessment works in."""

    def mission_started(self) -> str:
        """One line: what the mission does (for the MISSION_STARTED event)."""

    def mission_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, codes: np.ndarray,
                        threat_tracks: TrackSet) -> Command:
        """MISSION_ACTIVE: follow the mission."""

    def start_avoidance(self) -> None:
        """Entering ALERT: the next avoidance command announces the manoeuvre."""

    def avoidance_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, threat_tracks: TrackSet,
                          report: ThreatReport, mission_active: bool) -> Command:
        """ALERT: avoid the most urgent threat."""

    def stop(self, reason: str) -> Command:
        """Stop the vehicle."""

    def reset(self) -> None:
        """Operator reset: mission and avoidance bookkeeping back to the start."""


def announce_avoidance(emit, threat: Threat, planned_miss_m: float, how: str) -> None:
    """The AVOIDANCE_MANOEUVRE event, sent with the first command of an ALERT."""
    emit(EventCode.AVOIDANCE_MANOEUVRE, Event.WARN, f"avoiding track {threat.id} (TCPA {threat.tcpa_s:.1f} s, "
         f"DCPA {threat.dcpa_m:.2f} m): {how}, planned miss {planned_miss_m:.1f} m "
         f"(safe radius {threat.radius_m:.1f} m)")
