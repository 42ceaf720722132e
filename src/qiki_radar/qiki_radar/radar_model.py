"""Two-band (long range / short range) radar measurement model.

Pure numpy core used by the radar node: it turns true target states into polar
detections (range, azimuth, elevation, range rate, SNR, transponder code) with a
radar-equation SNR, a logistic detection probability, Gaussian noise and Poisson
clutter, and converts detections back to world-frame positions with a
first-order covariance for the tracker.

Frames follow REP-103: the sensor frame has x forward, y left, z up; azimuth is
counter-clockwise from +x about +z, in (-pi, pi]; elevation is measured above the
x-y plane. All quantities are SI.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import expit

from qiki_geometry.angles import wrap_angle
from qiki_msgs.msg import RadarFrame

MIN_SNR_RANGE_M = 1e-6  # [m]

_FLOAT_FIELDS = ("range_m", "azimuth_rad", "elevation_rad", "range_rate_mps", "snr_db")


class RadarBand(BaseModel):
    """Static parameters of one radar band; defaults describe the long-range band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["lr", "sr"] = "lr"
    band_id: int = Field(RadarFrame.BAND_LR, ge=0, le=1, description="0 = LR, 1 = SR")
    min_range_m: float = Field(50.0, ge=0.0, description="inner edge of the coverage [m]")
    max_range_m: float = Field(1000.0, gt=0.0, description="outer edge of the coverage [m] (exclusive)")
    fov_azimuth_rad: float = Field(2 * np.pi, gt=0.0, le=2 * np.pi, description="full azimuth width [rad]")
    fov_elevation_rad: float = Field(np.pi, gt=0.0, le=np.pi, description="full elevation width [rad]")
    rate_hz: float = Field(2.0, gt=0.0, description="scan rate [Hz]")
    range_std_m: float = Field(2.0, ge=0.0)
    azimuth_std_rad: float = Field(0.005, ge=0.0)
    elevation_std_rad: float = Field(0.005, ge=0.0)
    range_rate_std_mps: float = Field(0.5, ge=0.0)
    snr_ref_db: float = Field(20.0, description="SNR of a 1 m^2 target at ref_range_m [dB]")
    ref_range_m: float = Field(1000.0, gt=0.0)
    detection_threshold_db: float = Field(13.0, description="SNR at which Pd = 0.5 [dB]")
    pd_slope_db: float = Field(1.5, gt=0.0, description="width of the logistic Pd(SNR) curve [dB]")
    clutter_per_scan: float = Field(1.0, ge=0.0, description="Poisson mean of false alarms per scan")

    @model_validator(mode="after")
    def _check_ranges(self) -> "RadarBand":
        if not self.max_range_m > self.min_range_m:
            raise ValueError(f"max_range_m ({self.max_range_m}) must exceed min_range_m ({self.min_range_m})")
        return self


#: An example short-range band (fine resolution, fast scan), for tests; a vehicle's bands are in its
#: description (qiki_description), the only place the graph reads them from.
SR_DEFAULT = RadarBand(
    name="sr", band_id=RadarFrame.BAND_SR, min_range_m=0.0, max_range_m=50.0, rate_hz=10.0,
    range_std_m=0.1, azimuth_std_rad=0.01, elevation_std_rad=0.01, range_rate_std_mps=0.1,
    snr_ref_db=20.0, ref_range_m=50.0, clutter_per_scan=0.5,
)
#: An example long-range band (the model's defaults), for tests.
LR_DEFAULT = RadarBand()


def snr_db(band: RadarBand, range_m, rcs_m2) -> np.ndarray:
    """Radar-equation SNR: +10 dB per decade of RCS, -40 dB per decade of range (range floored at
    MIN_SNR_RANGE_M: an object at the sensor itself has a huge, not an infinite, SNR)."""
    r = np.maximum(np.asarray(range_m, dtype=np.float64), MIN_SNR_RANGE_M)
    rcs = np.asarray(rcs_m2, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return band.snr_ref_db + 10.0 * np.log10(rcs) - 40.0 * np.log10(r / band.ref_range_m)


def detection_probability(band: RadarBand, range_m, rcs_m2) -> np.ndarray:
    """Logistic Pd(SNR): 0.5 at the threshold, falls with range, rises with RCS."""
    s = snr_db(band, range_m, rcs_m2)
    return expit((s - band.detection_threshold_db) / band.pd_slope_db)


@dataclass
class Detections:
    """One scan of polar detections in the sensor frame, as flat equal-length arrays."""

    range_m: np.ndarray
    azimuth_rad: np.ndarray
    elevation_rad: np.ndarray
    range_rate_mps: np.ndarray
    snr_db: np.ndarray
    transponder_code: np.ndarray  # uint32, 0 = none / clutter
    band: np.ndarray  # uint8, RadarFrame.BAND_LR / RadarFrame.BAND_SR

    def __len__(self) -> int:
        return int(self.range_m.shape[0])

    @classmethod
    def empty(cls) -> "Detections":
        f = np.zeros(0, np.float64)
        return cls(f, f.copy(), f.copy(), f.copy(), f.copy(), np.zeros(0, np.uint32), np.zeros(0, np.uint8))

    @classmethod
    def from_arrays(cls, range_m, azimuth_rad, elevation_rad, range_rate_mps, snr_db,
                    transponder_code, band) -> "Detections":
        """Build from array-likes (e.g. message fields); a length mismatch raises ValueError naming the field."""
        values = dict(range_m=range_m, azimuth_rad=azimuth_rad, elevation_rad=elevation_rad,
                      range_rate_mps=range_rate_mps, snr_db=snr_db,
                      transponder_code=transponder_code, band=band)
        arrays = {}
        for name, v in values.items():
            dtype = np.uint32 if name == "transponder_code" else np.uint8 if name == "band" else np.float64
            a = np.asarray(v, dtype=dtype)
            if a.ndim != 1:
                raise ValueError(f"Detections field '{name}' must be 1-D, got shape {a.shape}")
            arrays[name] = a
        n = arrays["range_m"].shape[0]
        for name, a in arrays.items():
            if a.shape[0] != n:
                raise ValueError(f"Detections field '{name}' has length {a.shape[0]}, expected {n} (length of range_m)")
        return cls(**arrays)

    @staticmethod
    def concatenate(parts: list["Detections"]) -> "Detections":
        """Join scans, e.g. LR and SR into the union frame."""
        if not parts:
            return Detections.empty()
        return Detections(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Detections)})

    def validate(self) -> np.ndarray:
        """Boolean mask of rows whose float fields are all finite (False rows should be dropped)."""
        ok = np.ones(len(self), dtype=bool)
        for name in _FLOAT_FIELDS:
            ok &= np.isfinite(getattr(self, name))
        return ok

    def select(self, mask) -> "Detections":
        """Rows picked by a boolean mask or an index array."""
        return Detections(**{f.name: getattr(self, f.name)[mask] for f in fields(Detections)})


def next_scan_time(next_s: float, t_s: float, rate_hz: float) -> float:
    """First scan time after the scan at t_s (due since next_s): next_s plus whole scan periods.

    One period per call in a steady run (the same float sums as stepping period by period); a jump of
    the clock (a late join, a stamp far ahead) skips the missed scans in one multiplication instead of a
    loop as long as the jump."""
    period = 1.0 / rate_hz
    missed = int((t_s + 1e-9 - next_s) // period)
    if missed > 1:
        next_s += missed * period
    while next_s <= t_s + 1e-9:
        next_s += period
    return next_s


def observe(band: RadarBand, rng: np.random.Generator, sensor_position, sensor_rotation, sensor_velocity,
            target_position, target_velocity, rcs, transponder_code=None) -> Detections:
    """Simulate one scan of `band` over N targets given in the world frame.

    sensor_rotation is the world-from-sensor rotation matrix. Targets inside the
    coverage (range in [min, max), inside the FOV) are detected with probability
    Pd and reported with Gaussian noise; detected transponders answer with their
    code. Poisson clutter (code 0, SNR just above threshold) is appended. The
    random draws depend only on N and the rng state, so a seed reproduces a scan.
    """
    p = np.asarray(target_position, np.float64).reshape(-1, 3)
    n = p.shape[0]
    v = np.asarray(target_velocity, np.float64).reshape(n, 3)
    rcs = np.broadcast_to(np.asarray(rcs, np.float64), (n,))
    code = np.zeros(n, np.uint32) if transponder_code is None else \
        np.broadcast_to(np.asarray(transponder_code, np.uint32), (n,))
    rot = np.asarray(sensor_rotation, np.float64).reshape(3, 3)

    # Row vectors: sensor-frame = (R^T d^T)^T = d @ R.
    rel = (p - np.asarray(sensor_position, np.float64)) @ rot
    vrel = (v - np.asarray(sensor_velocity, np.float64)) @ rot
    rng_m = np.linalg.norm(rel, axis=1)
    az = np.arctan2(rel[:, 1], rel[:, 0])
    el = np.arctan2(rel[:, 2], np.hypot(rel[:, 0], rel[:, 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        rr = np.where(rng_m > 0.0, np.einsum("ij,ij->i", rel, vrel) / rng_m, 0.0)

    covered = ((rng_m >= band.min_range_m) & (rng_m < band.max_range_m)
               & (np.abs(az) <= 0.5 * band.fov_azimuth_rad) & (np.abs(el) <= 0.5 * band.fov_elevation_rad))
    snr = snr_db(band, rng_m, rcs)
    hit = covered & (rng.random(n) < expit((snr - band.detection_threshold_db) / band.pd_slope_db))

    k = int(hit.sum())
    noise = rng.standard_normal((k, 4)) * np.array(
        [band.range_std_m, band.azimuth_std_rad, band.elevation_std_rad, band.range_rate_std_mps])
    targets = Detections(
        range_m=np.abs(rng_m[hit] + noise[:, 0]),
        azimuth_rad=wrap_angle(az[hit] + noise[:, 1]),
        elevation_rad=np.clip(el[hit] + noise[:, 2], -0.5 * np.pi, 0.5 * np.pi),
        range_rate_mps=rr[hit] + noise[:, 3],
        snr_db=snr[hit],
        transponder_code=code[hit].copy(),
        band=np.full(k, band.band_id, np.uint8),
    )
    return Detections.concatenate([targets, clutter(band, rng)])


def clutter(band: RadarBand, rng: np.random.Generator) -> Detections:
    """Poisson false alarms spread uniformly in range/azimuth/elevation over the band coverage."""
    m = int(rng.poisson(band.clutter_per_scan))
    half_az, half_el = 0.5 * band.fov_azimuth_rad, 0.5 * band.fov_elevation_rad
    return Detections(
        range_m=rng.uniform(band.min_range_m, band.max_range_m, m),
        azimuth_rad=wrap_angle(rng.uniform(-half_az, half_az, m)),
        elevation_rad=rng.uniform(-half_el, half_el, m),
        range_rate_mps=rng.normal(0.0, band.range_rate_std_mps, m),
        snr_db=band.detection_threshold_db + rng.exponential(band.pd_slope_db, m),
        transponder_code=np.zeros(m, np.uint32),
        band=np.full(m, band.band_id, np.uint8),
    )


def polar_to_world(det: Detections, sensor_position, sensor_rotation, range_std, az_std, el_std):
    """Convert detections to world-frame positions with first-order covariance.

    Returns z (M,3) and R (M,3,3) with R = Rot J diag(s^2) J^T Rot^T, J being the
    Jacobian of the polar-to-Cartesian map at the measured point. Stds may be
    scalars or per-row arrays (e.g. a union frame mixing both bands).
    """
    m = len(det)
    r, az, el = det.range_m, det.azimuth_rad, det.elevation_rad
    ca, sa, ce, se = np.cos(az), np.sin(az), np.cos(el), np.sin(el)
    local = np.stack([r * ce * ca, r * ce * sa, r * se], axis=1)
    rot = np.asarray(sensor_rotation, np.float64).reshape(3, 3)
    z = local @ rot.T + np.asarray(sensor_position, np.float64)

    jac = np.empty((m, 3, 3))
    jac[:, :, 0] = np.stack([ce * ca, ce * sa, se], axis=1)          # d/d range
    jac[:, :, 1] = np.stack([-r * ce * sa, r * ce * ca, np.zeros(m)], axis=1)  # d/d azimuth
    jac[:, :, 2] = np.stack([-r * se * ca, -r * se * sa, r * ce], axis=1)      # d/d elevation
    var = np.stack([np.broadcast_to(np.square(np.asarray(s, np.float64)), (m,))
                    for s in (range_std, az_std, el_std)], axis=1)
    cov_local = (jac * var[:, None, :]) @ jac.transpose(0, 2, 1)   # J diag(s^2) J^T (batched matmul: ~3x einsum)
    cov = rot @ cov_local @ rot.T
    return z, 0.5 * (cov + cov.transpose(0, 2, 1))
