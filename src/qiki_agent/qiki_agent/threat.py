"""Threat assessment: closest point of approach (CPA) of every track to the ego, vectorised.

Frame-agnostic: ego and track states must be in the same world frame ('map' for the bot, the
chaser-centred 'lvlh' for the ship, where the ego sits at the origin with zero velocity).
Straight-line (constant velocity) extrapolation of the *relative* motion:

    p = p_track - p_ego,  v = v_track - v_ego
    TCPA = max(0, -p.v / |v|^2)        (0 when receding or when there is no relative motion)
    DCPA = |p + v * TCPA|

Pure numpy; no rclpy. Status/IFF codes are the qiki_msgs/TrackArray constants, band codes RadarFrame's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_tracks.track_set import TrackSet

_EPS_V2 = 1e-12  # [m^2/s^2] relative speeds below 1e-6 m/s count as "no relative motion"


def closest_approach(ego_pos, ego_vel, states, planar: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """TCPA [s] (>= 0) and DCPA [m] of every track state relative to the ego, shapes (N,), (N,).

    ego_pos/ego_vel: length 2 or 3 (missing z is 0). states: (N, 6) [x, y, z, vx, vy, vz].
    planar=True ignores z and vz (ground robot).
    """
    s = np.asarray(states, dtype=float).reshape(-1, 6)
    p = s[:, :3] - _vec3(ego_pos)
    v = s[:, 3:] - _vec3(ego_vel)
    if planar:
        p[:, 2] = 0.0
        v[:, 2] = 0.0
    v2 = np.einsum("ij,ij->i", v, v)
    pv = np.einsum("ij,ij->i", p, v)
    moving = v2 > _EPS_V2
    tcpa = np.zeros(len(s))
    tcpa[moving] = np.maximum(0.0, -pv[moving] / v2[moving])
    dcpa = np.linalg.norm(p + v * tcpa[:, None], axis=1)
    return tcpa, dcpa


def _vec3(x) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size not in (2, 3):
        raise ValueError(f"expected a 2- or 3-vector, got shape {np.shape(x)}")
    return np.pad(a, (0, 3 - a.size))


_Code = Annotated[int, Field(ge=0, le=2)]  # a TrackArray STATUS_*/IFF_* or RadarFrame BAND_* value


class ThreatParams(BaseModel):
    """Which tracks are threats (the `threat:` section of config/rules/<profile>.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    tcpa_max_s: float = Field(gt=0, description="closest approach must come sooner than this")
    safe_radius_m: float = Field(gt=0, description="closest approach must be nearer than this")
    sigma_k: float = Field(0.0, ge=0, description="grow the radius by k * largest position std of the track")
    statuses: list[_Code] = Field([TrackArray.STATUS_CONFIRMED, TrackArray.STATUS_COASTING], min_length=1)
    iff: list[_Code] = Field([TrackArray.IFF_UNKNOWN, TrackArray.IFF_FOE], min_length=1)
    bands: list[_Code] = Field([RadarFrame.BAND_SR], min_length=1)
    planar: bool = Field(False, description="ignore z (ground robot)")


@dataclass(frozen=True)
class Threat:
    """One threatening track, relative to the ego at assessment time."""

    id: int
    index: int  # row in the assessed TrackSet
    tcpa_s: float
    dcpa_m: float
    radius_m: float  # the (possibly inflated) safe radius it violates
    rel_pos: np.ndarray  # (3,) track - ego now [m]
    rel_vel: np.ndarray  # (3,) track - ego [m/s]

    @property
    def cpa_rel_pos(self) -> np.ndarray:
        """Track position relative to the ego at closest approach [m]."""
        return self.rel_pos + self.rel_vel * self.tcpa_s


@dataclass(frozen=True)
class ThreatReport:
    """Assessment of one track set: CPA of every track, and the threats sorted most urgent first."""

    tcpa_s: np.ndarray  # (N,) every track
    dcpa_m: np.ndarray  # (N,) every track
    threats: tuple[Threat, ...]  # sorted by TCPA, then DCPA

    @property
    def count(self) -> int:
        return len(self.threats)

    @property
    def min_tcpa_s(self) -> float:
        """Smallest TCPA among threats; inf when there are none."""
        return self.threats[0].tcpa_s if self.threats else math.inf

    @property
    def min_dcpa_m(self) -> float:
        """Smallest DCPA among threats; inf when there are none."""
        return min((t.dcpa_m for t in self.threats), default=math.inf)

    @property
    def most_urgent(self) -> Optional[Threat]:
        return self.threats[0] if self.threats else None


class ThreatAssessment:
    """Select threats: tracks with status in `statuses` (confirmed/coasting), IFF in `iff`
    (unknown/foe), band in `bands` (SR), TCPA < tcpa_max_s and DCPA < safe radius."""

    def __init__(self, params: ThreatParams) -> None:
        self.params = params

    def assess(self, ego_pos, ego_vel, tracks: TrackSet) -> ThreatReport:
        p = self.params
        tcpa, dcpa = closest_approach(ego_pos, ego_vel, tracks.state, planar=p.planar)
        radius = np.full(len(tracks), p.safe_radius_m)
        if p.sigma_k > 0 and tracks.covariance is not None and len(tracks):
            dims = 2 if p.planar else 3
            pos_cov = tracks.covariance[:, :dims, :dims]
            sigma = np.sqrt(np.maximum(np.linalg.eigvalsh(0.5 * (pos_cov + pos_cov.transpose(0, 2, 1)))[:, -1], 0))
            radius = radius + p.sigma_k * sigma
        selected = (np.isin(tracks.status, p.statuses) & np.isin(tracks.iff, p.iff) & np.isin(tracks.band, p.bands)
                    & (tcpa < p.tcpa_max_s) & (dcpa < radius))
        idx = np.flatnonzero(selected)
        idx = idx[np.lexsort((dcpa[idx], tcpa[idx]))]
        ego_p, ego_v = _vec3(ego_pos), _vec3(ego_vel)
        threats = []
        for i in idx:
            rel_p, rel_v = tracks.state[i, :3] - ego_p, tracks.state[i, 3:] - ego_v
            if p.planar:
                rel_p[2] = rel_v[2] = 0.0
            threats.append(Threat(int(tracks.id[i]), int(i), float(tcpa[i]), float(dcpa[i]), float(radius[i]),
                                  rel_p, rel_v))
        return ThreatReport(tcpa, dcpa, tuple(threats))


def select_states(tracks: TrackSet, indices: Sequence[int]) -> np.ndarray:
    """(K, 6) states of the given rows, e.g. `[t.index for t in report.threats]` for avoidance."""
    return tracks.state[np.asarray(indices, dtype=int)].reshape(-1, 6)
