"""The multi-target tracker as QIKI configures it: CV Kalman filter, sparse gated GNN, M-of-N track management.

Public entry of the tracker core (pure numpy/scipy; the tracker node wraps it). `TrackerConfig` holds the
parameters, documented in Stone Soup's terms; `Tracker` builds the components of
`qiki_radar.tracking` from it and times the phases of each frame (`phase_time_s`). For measurements that
do not come from the radar, `Measurements(z, R)` takes Cartesian positions with one shared noise
covariance or one per row.

Track lifecycle, counted over "covered" frames (frames whose coverage contains the predicted track
position, or which assigned a detection to the track): tentative -> confirmed once M of its first N covered
frames were hits (deleted as soon as that is out of reach); a confirmed track coasts on covered misses and
is deleted after more than max_coast_frames consecutive ones. Frames that do not cover a track leave it
untouched, which lets a track cross from the LR band to the SR band without a miss penalty. Two clocks
bound what coverage cannot see: a tentative track unconfirmed tentative_max_age_s after its birth is
deleted, and so is any track without an update for max_unupdated_s (e.g. one that left every band).

With the same models, `assignment_cost="mahalanobis"` and `birth_gate_probability=0` the tracker gives
Stone Soup's `MultiTargetTracker` estimates (bench/bench_tracker.py, docs/perf_tracker.md).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.special import gammaincinv

from qiki_radar.tracking.association import PAIR_COSTS, ConfirmedFirstGNN
from qiki_radar.tracking.confirmation import LineOfSightCoverage, MOfNConfirmation
from qiki_radar.tracking.deletion import (AgeDeleter, CompositeDeleter, MissRunDeleter, StatusDeleter,
                                          UnreachableConfirmationDeleter, UnupdatedDeleter)
from qiki_radar.tracking.gating import MahalanobisGater
from qiki_radar.tracking.initiation import SinglePointInitiator
from qiki_radar.tracking.kalman import ConstantVelocityPredictor, KalmanUpdater
from qiki_radar.tracking.measurements import Coverage, Measurements
from qiki_radar.tracking.multi_target import Components, MultiTargetTracker
from qiki_radar.tracking.output import IffByCode, TrackSetOutput
from qiki_radar.tracking.phase_clock import PhaseClock
from qiki_tracks.track_set import TrackSet

__all__ = ["PHASES", "Coverage", "Measurements", "Tracker", "TrackerConfig"]

GATE_PROBABILITY = 0.997
BIRTH_GATE_PROBABILITY = 0.9999
PHASES = ("predict", "gate", "assign", "update", "manage", "output")


def chi2_quantile(probability: float, dof: int) -> float:
    """scipy.stats.chi2.ppf, computed as it does, without importing scipy.stats (~1 s at node start-up,
    which a restarted tracker cannot afford)."""
    return float(2.0 * gammaincinv(dof / 2.0, probability))


class TrackerConfig(BaseModel):
    """Tracker parameters; defaults suit the 2-D bot profile. "Covered miss": a frame that covers the track's
    predicted position (see coverage_margin_sigma) and assigns it no detection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: Literal[2, 3] = Field(
        2, description="position axes tracked: 2 (x, y) or 3; measurements carry dim coordinates. The output "
                       "state stays 6-D [x, y, z, vx, vy, vz] (TrackArray's layout) with z = vz = 0 for dim 2; "
                       "TrackSet.planar(dim) gives the [position, velocity] state of dim 2 * dim")
    process_accel_std: float = Field(
        1.0, ge=0.0, description="CV model acceleration noise [m/s^2], continuous white noise of density "
                                 "std^2 * 1 s; Stone Soup: ConstantVelocity(noise_diff_coeff=std^2) per axis")
    gate_chi2: float = Field(
        0.0, ge=0.0, description="gate on the squared Mahalanobis distance d^2 = nu' S^-1 nu (a chi-square "
                                 "quantile, not a distance); 0 = the chi2 99.7% quantile for dim DOF. Stone Soup's "
                                 "DistanceHypothesiser(Mahalanobis(), missed_distance=sqrt(gate_chi2)) gates on d")
    confirm_m: int = Field(
        4, ge=1, description="hits needed among a track's first confirm_n covered frames to confirm it; Stone "
                             "Soup's MultiMeasurementInitiator(min_points=confirm_m) has no window (confirm_n=32 "
                             "with tentative_max_misses is its rule)")
    confirm_n: int = Field(
        6, ge=1, le=32, description="window of covered frames for M-of-N confirmation; a tentative track is "
                                    "deleted as soon as confirm_m hits are out of its reach")
    max_coast_frames: int = Field(
        5, ge=0, description="consecutive covered misses a confirmed track survives: it is deleted on miss "
                             "max_coast_frames + 1, i.e. Stone Soup's UpdateTimeStepsDeleter(max_coast_frames + 1)")
    tentative_max_misses: int = Field(
        32, ge=0, description="consecutive covered misses a tentative track survives, on top of M-of-N (the "
                              "default, 32, leaves M-of-N alone to decide): deleted on miss tentative_max_misses + "
                              "1, i.e. MultiMeasurementInitiator(deleter=UpdateTimeStepsDeleter(this + 1))")
    init_velocity_std: float = Field(
        15.0, gt=0.0, description="velocity std of a one-point-initiated track [m/s] (position: the detection "
                                  "and its noise); Stone Soup: prior covariance diag(0, std^2) per axis of "
                                  "SimpleMeasurementInitiator")
    tentative_max_age_s: float = Field(
        5.0, ge=0.0, description="a tentative track still unconfirmed this long after its birth is deleted, "
                                 "covered or not [s]; 0 = no limit")
    max_unupdated_s: float = Field(
        30.0, ge=0.0, description="a track without an update for this long is deleted, covered or not "
                                  "(e.g. one that left every band) [s]; 0 = no limit. Stone Soup: "
                                  "UpdateTimeDeleter(timedelta(seconds=max_unupdated_s))")
    coverage_margin_sigma: float = Field(
        2.0, ge=0.0, description="a frame counts a miss only for tracks predicted at least this many position stds "
                                 "(along the line of sight) inside its coverage, so a track near a band edge is not "
                                 "killed by the band the target has not entered yet")
    birth_gate_probability: float = Field(
        BIRTH_GATE_PROBABILITY, ge=0.0, lt=1.0,
        description="an unassigned detection inside the gate of this chi2 probability of a confirmed track that "
                    "missed this frame starts no new track; 0 = every unassigned detection starts one, as in Stone "
                    "Soup (its initiator gets every detection no track took): equality with Stone Soup needs 0")
    assignment_cost: Literal["likelihood", "mahalanobis"] = Field(
        "likelihood", description="GNN pair cost: likelihood = d^2 + log det S (maximum-likelihood assignment), "
                                  "mahalanobis = d (the distance Stone Soup's Mahalanobis hypothesiser ranks by)")
    friend_codes: list[int] = Field(
        default_factory=list, description="transponder codes of friends (IFF_FRIEND), each in [1, 2^32)")
    foe_codes: list[int] = Field(
        default_factory=list, description="transponder codes of foes (IFF_FOE), each in [1, 2^32)")

    @field_validator("gate_chi2", mode="before")
    @classmethod
    def _none_is_auto(cls, v):
        return 0.0 if v is None else v

    @model_validator(mode="after")
    def _check(self) -> "TrackerConfig":
        if self.confirm_m > self.confirm_n:
            raise ValueError(f"confirm_m ({self.confirm_m}) must not exceed confirm_n ({self.confirm_n})")
        if any(c <= 0 or c >= 2**32 for c in self.friend_codes + self.foe_codes):
            raise ValueError("IFF codes must be in [1, 2^32)")
        if set(self.friend_codes) & set(self.foe_codes):
            raise ValueError(f"codes listed as both friend and foe: {sorted(set(self.friend_codes) & set(self.foe_codes))}")
        return self

    @property
    def gate(self) -> float:
        """Effective chi-square gate on the squared Mahalanobis distance."""
        return self.gate_chi2 if self.gate_chi2 > 0.0 else chi2_quantile(GATE_PROBABILITY, self.dim)

    @property
    def birth_gate(self) -> float:
        """Squared Mahalanobis distance to a confirmed track under which a detection starts no track (0 = off)."""
        if self.birth_gate_probability <= 0.0:
            return 0.0
        return max(self.gate, chi2_quantile(self.birth_gate_probability, self.dim))


def components(cfg: TrackerConfig) -> Components:
    """The tracker's components as `cfg` sets them."""
    confirmation = MOfNConfirmation(cfg.confirm_m, cfg.confirm_n)
    tentative = [UnreachableConfirmationDeleter(confirmation), MissRunDeleter(cfg.tentative_max_misses)]
    if cfg.tentative_max_age_s > 0.0:
        tentative.append(AgeDeleter(cfg.tentative_max_age_s))
    deleters = [StatusDeleter(tentative=CompositeDeleter(tentative), confirmed=MissRunDeleter(cfg.max_coast_frames))]
    if cfg.max_unupdated_s > 0.0:
        deleters.append(UnupdatedDeleter(cfg.max_unupdated_s))
    iff = IffByCode(np.asarray(cfg.friend_codes, np.uint32), np.asarray(cfg.foe_codes, np.uint32))
    return Components(
        predictor=ConstantVelocityPredictor(cfg.process_accel_std),
        coverage=LineOfSightCoverage(cfg.coverage_margin_sigma),
        gater=MahalanobisGater(cfg.gate, cfg.birth_gate),
        associator=ConfirmedFirstGNN(PAIR_COSTS[cfg.assignment_cost], cfg.gate),
        updater=KalmanUpdater(),
        confirmation=confirmation,
        initiator=SinglePointInitiator(cfg.init_velocity_std),
        deleter=CompositeDeleter(deleters),
        output=TrackSetOutput(cfg.dim, iff))


def timed(parts: Components, clock: PhaseClock) -> Components:
    """The same components, those that open a phase of `clock` (PHASES) entering it when called: predict
    (predictor), gate (coverage, gater), assign (associator), update (updater), manage (confirmation,
    initiator, deleter), output (output). A phase lasts until the next one opens, so the components called
    inside a phase need no timing of their own."""
    return Components(
        predictor=clock.timed(parts.predictor, "predict"), coverage=clock.timed(parts.coverage, "gate"),
        gater=parts.gater, associator=clock.timed(parts.associator, "assign"),
        updater=clock.timed(parts.updater, "update"), confirmation=clock.timed(parts.confirmation, "manage"),
        initiator=parts.initiator, deleter=parts.deleter, output=clock.timed(parts.output, "output"))


class Tracker:
    """Batched multi-target tracker configured by a TrackerConfig; call step() once per frame in
    non-decreasing time. phase_time_s accumulates where the frames' time goes."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._clock = PhaseClock(PHASES)
        self._core = MultiTargetTracker(self.config.dim, timed(components(self.config), self._clock))

    def step(self, t: float, meas: Measurements, coverage: Coverage | None = None) -> TrackSet:
        """Process one frame at time t (>= last t) and return all tracks."""
        self._clock.begin()
        try:
            return self._core.step(t, meas, coverage)
        finally:
            self._clock.end()

    def tracks(self) -> TrackSet:
        """Snapshot of the current tracks (copies, safe to keep)."""
        return self._core.tracks()

    def reset(self) -> None:
        """Drop all tracks and the time reference; ids keep increasing so they are never reused."""
        self._core.reset()

    def __len__(self) -> int:
        return len(self._core.table)

    @property
    def time(self) -> float | None:
        """Time of the last processed frame, None before the first."""
        return self._core.time

    @property
    def phase_time_s(self) -> dict[str, float]:
        """Cumulative wall time per phase of step() [s] (keys: PHASES), for profiling."""
        return self._clock.total_s

    def reset_timing(self) -> None:
        """Zero phase_time_s."""
        self._clock.reset()
