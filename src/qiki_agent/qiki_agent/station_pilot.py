"""The station's pilot: an observe mission, no manoeuvre. Every command it gives holds all thrusters off (in
MISSION_ACTIVE, ALERT and stops alike); the station's radar and tracker keep watching and the agent reports."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from qiki_agent.ego_state import EgoState
from qiki_agent.mission_file import ObserveMission
from qiki_agent.missions import Observe
from qiki_agent.pilot import Command
from qiki_agent.ship_pilot import inertial_threat_geometry
from qiki_agent.threat import ThreatReport
from qiki_description.vehicle import ShipDescription
from qiki_geometry.orbit_elements import mean_motion_of
from qiki_tracks.track_set import TrackSet


class StationPilot:
    """Observe: every thruster off, whatever the state; threats are assessed as a ship's (inertial LVLH)."""

    profile = "ship"
    mission_name = "observe"

    def __init__(self, description: ShipDescription, spec: ObserveMission, emit: Callable[[int, int, str], None]
                 ) -> None:
        self.spec, self.emit = spec, emit
        self.n_thrusters = len(description.ship.rcs.thrusters)
        self.mission = Observe(spec.duration_s)
        self.mean_motion_radps = 0.0

    def on_ego(self, ego: EgoState) -> None:
        self.mean_motion_radps = mean_motion_of(ego.position, ego.velocity_world)

    def threat_geometry(self, ego: Optional[EgoState], tracks: TrackSet) -> tuple[np.ndarray, np.ndarray, TrackSet]:
        return inertial_threat_geometry(ego, tracks, self.mean_motion_radps)

    def mission_started(self) -> str:
        length = f"for {self.spec.duration_s:g} s" if self.spec.duration_s else "for the whole run"
        return f"observe {length}, no manoeuvre"

    def mission_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, codes: np.ndarray,
                        threat_tracks: TrackSet) -> Command:
        self.mission.update(now_s)
        return self.stop(f"MISSION_ACTIVE: observing {len(tracks)} tracks, thrusters off")

    def start_avoidance(self) -> None:
        """A station does not manoeuvre: ALERT only reports."""

    def avoidance_command(self, now_s: float, dt_s: float, ego: EgoState, tracks: TrackSet, threat_tracks: TrackSet,
                          report: ThreatReport, mission_active: bool) -> Command:
        threat = report.most_urgent
        what = f"track {threat.id} threatens (DCPA {threat.dcpa_m:.1f} m)" if threat is not None else "no threat"
        return self.stop(f"ALERT: {what}; a station does not manoeuvre, thrusters off")

    def stop(self, reason: str) -> Command:
        return Command("ship", reason, throttle=np.zeros(self.n_thrusters))

    def reset(self) -> None:
        self.mission.reset()
