"""The agent's inputs, checked: device health, vehicle state, tracks and radar liveness as last accepted.

Hostile or stale input never raises and never reaches a decision: each rejection counts once in `rejected`
and goes out as a rate-limited INPUT_REJECTED warning (WarningThrottle). Plain Python, no ROS.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional

import numpy as np

from qiki_agent.bios import Reading
from qiki_agent.ego_state import EgoState
from qiki_agent.warning_throttle import WarningThrottle
from qiki_geometry.state_bounds import MAX_ABS_STATE
from qiki_ros.events import EventCode
from qiki_tracks.track_set import TrackSet


class InputChecks:
    """Validates each input and keeps the last accepted one of each kind.

    clock(): the agent's current sim time, used to stamp a rejection whose own stamp is not finite.
    """

    def __init__(self, warnings: WarningThrottle, clock: Callable[[], float]) -> None:
        self.warnings = warnings
        self.clock = clock
        self.rejected = 0
        self.readings: dict[str, Reading] = {}
        self.readings_changed = False  # a device reported a new level since the last self test
        self.ego: Optional[EgoState] = None
        self.tracks = TrackSet.empty()
        self.codes = np.zeros(0, np.uint32)  # transponder code per track
        self.tracks_t = 0.0
        self.last_tracks_t: Optional[float] = None
        self.last_radar_t: Optional[float] = None
        self._health_t = -math.inf  # stamp of the newest device health accepted

    def device_health(self, names, levels, values, stamp_s: float) -> None:
        """Raw device readings; rejected with inconsistent lengths or a stamp older than the last accepted.
        A NaN value is the device's problem, not the input's: the BIOS grades it ERROR."""
        if not (len(names) == len(levels) == len(values)):
            self._reject(stamp_s, "device_health", f"{len(names)} names, {len(levels)} levels, {len(values)} values")
            return
        if not finite(stamp_s) or stamp_s < self._health_t:
            self._reject(stamp_s, "device_health", f"stamp {stamp_s!r} is not finite or older than the last "
                         f"({self._health_t:.3f} s)")
            return
        self._health_t = float(stamp_s)
        for name, level, value in zip(names, levels, values):
            previous = self.readings.get(name)
            if previous is None or previous.level != int(level):
                self.readings_changed = True
            self.readings[name] = Reading(int(level), float(value), stamp_s)

    def vehicle_state(self, t_s: float, position, quaternion_wxyz, velocity_world, angular_velocity_body) -> bool:
        """Ego state at sim time t_s; True if accepted (then `ego`). Rejected: NaN/inf/absurd values, a non-unit
        quaternion, a stamp older than the last."""
        try:
            parts = [np.asarray(a, dtype=float).reshape(n) for a, n in
                     ((position, 3), (quaternion_wxyz, 4), (velocity_world, 3), (angular_velocity_body, 3))]
        except (TypeError, ValueError) as exc:
            self._reject(t_s, "vehicle_state", f"malformed: {exc}")
            return False
        if not (finite(t_s) and all(np.all(np.abs(a) < MAX_ABS_STATE) for a in parts)):
            self._reject(t_s, "vehicle_state", f"NaN/inf or |value| >= {MAX_ABS_STATE:g} in the vehicle state")
            return False
        if self.ego is not None and t_s < self.ego.t_s:
            self._reject(t_s, "vehicle_state", f"stamp {t_s:.3f} s is older than the last ({self.ego.t_s:.3f} s)")
            return False
        norm = float(np.linalg.norm(parts[1]))
        if abs(norm - 1.0) > 0.1:
            self._reject(t_s, "vehicle_state", f"quaternion norm {norm:.3g} is not 1")
            return False
        pos, q, vel, omega = parts
        self.ego = EgoState(float(t_s), pos, q / norm, vel, omega)
        return True

    def track_array(self, t_s: float, ids, status, iff, band, state, covariance=None, transponder_code=None) -> None:
        """A TrackArray at sim time t_s. Inconsistent lengths or a stamp older than the last tracks: the whole
        array is ignored; tracks with a NaN/inf/absurd (>= MAX_ABS_STATE) state or a NaN/inf covariance are
        dropped. Each counts once in `rejected`."""
        try:
            ids_f = np.asarray(ids, dtype=float).ravel()
            if not (np.all(np.isfinite(ids_f)) and np.all(ids_f >= 0) and np.all(ids_f < 2**32)):
                raise ValueError("track ids must be integers in [0, 2^32)")
            tracks = TrackSet.from_arrays(ids_f.astype(np.uint32), status, iff, band, state, covariance,
                                          transponder_code)
        except (TypeError, ValueError, OverflowError) as exc:
            self._reject(t_s, "tracks", f"ignored: {exc}")
            return
        if not finite(t_s):
            self._reject(self.clock(), "tracks", f"ignored: stamp {t_s!r} is not finite")
            return
        if t_s < self.tracks_t:
            self._reject(t_s, "tracks", f"ignored: stamp {t_s:.3f} s is older than the last ({self.tracks_t:.3f} s)")
            return
        good = tracks.usable()
        if not good.all():
            self._reject(t_s, "tracks", f"{int((~good).sum())} of {len(tracks)} tracks with NaN/inf/absurd values dropped "
                         f"(ids {tracks.id[~good][:5].tolist()})")
            tracks = tracks.select(good)
        self.tracks, self.codes, self.tracks_t = tracks, tracks.code, float(t_s)
        self.last_tracks_t = float(t_s)

    def radar_frame(self, t_s: float) -> None:
        """A radar frame arrived (radar liveness); a non-finite stamp is ignored."""
        if finite(t_s):
            self.last_radar_t = float(t_s)

    def tracks_at(self, t_s: float) -> TrackSet:
        """The latest tracks, positions extrapolated (constant velocity, at most 1 s) to time t_s."""
        tr = self.tracks
        dt = float(np.clip(t_s - self.tracks_t, 0.0, 1.0))
        if dt == 0.0 or not len(tr):
            return tr
        state = tr.state.copy()
        state[:, :3] += state[:, 3:] * dt
        return dataclasses.replace(tr, state=state)

    def _reject(self, t_s, what: str, why: str) -> None:
        self.rejected += 1
        t = float(t_s) if finite(t_s) else self.clock()
        self.warnings.warn(t, f"input:{what}", EventCode.INPUT_REJECTED, f"{what} input rejected: {why} "
                           f"[{self.rejected} rejected so far]")


def finite(x) -> bool:
    """x converts to a finite float."""
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
