"""Unit tests of the two-band radar measurement model (qiki_radar.radar_model)."""
import numpy as np
import pytest
from pydantic import ValidationError
from scipy.spatial.transform import Rotation

from qiki_msgs.msg import RadarFrame
from qiki_radar.radar_model import (
    Detections, RadarBand, SR_DEFAULT, detection_probability, observe, polar_to_world,
)

# A band that always detects what it covers, without noise or clutter: geometry tests are exact.
EXACT = RadarBand(min_range_m=50.0, max_range_m=200.0, fov_azimuth_rad=np.pi / 2, fov_elevation_rad=np.pi / 4,
                  range_std_m=0.0, azimuth_std_rad=0.0, elevation_std_rad=0.0, range_rate_std_mps=0.0,
                  snr_ref_db=400.0, clutter_per_scan=0.0)
SENSOR_P = np.array([10.0, -20.0, 3.0])
SENSOR_R = Rotation.from_euler("zyx", [0.6, 0.1, -0.05]).as_matrix()  # world-from-sensor


def _observe(band, rng, pos, vel=None, rcs=1.0, code=None, sensor_v=np.zeros(3)):
    vel = np.zeros_like(pos) if vel is None else vel
    return observe(band, rng, SENSOR_P, SENSOR_R, sensor_v, pos, vel, np.full(len(pos), rcs), code)


def test_detection_probability_falls_with_range_and_rises_with_rcs():
    band = RadarBand()
    pd_range = detection_probability(band, np.linspace(100.0, 3000.0, 50), 1.0)
    pd_rcs = detection_probability(band, 1500.0, np.logspace(-2, 2, 50))
    assert np.all(np.diff(pd_range) < 0)
    assert np.all(np.diff(pd_rcs) > 0)
    assert detection_probability(band, band.ref_range_m, 1.0) > 0.95  # snr_ref 20 dB vs threshold 13 dB
    # At the threshold SNR Pd is one half: 1 m^2 at the range where SNR = threshold.
    r_half = band.ref_range_m * 10 ** ((band.snr_ref_db - band.detection_threshold_db) / 40.0)
    assert detection_probability(band, r_half, 1.0) == pytest.approx(0.5)


def test_band_validation():
    with pytest.raises(ValidationError, match="max_range_m"):
        RadarBand(min_range_m=100.0, max_range_m=100.0)
    with pytest.raises(ValidationError):
        RadarBand(range_std_m=-1.0)
    with pytest.raises(ValidationError):
        RadarBand(rate_hz=0.0)
    with pytest.raises(ValidationError):
        RadarBand(unknown_field=1.0)
    assert SR_DEFAULT.band_id == RadarFrame.BAND_SR and SR_DEFAULT.max_range_m == 50.0


def test_coverage_is_respected():
    rng = np.random.default_rng(0)
    pos = SENSOR_P + rng.uniform(-250.0, 250.0, (20000, 3))
    det = _observe(EXACT, rng, pos)
    # Independent geometry in the sensor frame.
    local = (pos - SENSOR_P) @ SENSOR_R
    r = np.linalg.norm(local, axis=1)
    az = np.arctan2(local[:, 1], local[:, 0])
    el = np.arcsin(local[:, 2] / r)
    inside = (r >= 50.0) & (r < 200.0) & (np.abs(az) <= np.pi / 4) & (np.abs(el) <= np.pi / 8)
    assert 100 < inside.sum() < len(pos) - 100  # the test population straddles the coverage
    assert len(det) == inside.sum()
    assert np.all((det.range_m >= 50.0) & (det.range_m < 200.0))
    assert np.all(np.abs(det.azimuth_rad) <= np.pi / 4)
    assert np.all(np.abs(det.elevation_rad) <= np.pi / 8)
    np.testing.assert_allclose(np.sort(det.range_m), np.sort(r[inside]))


def test_noise_statistics_match_band_stds():
    band = EXACT.model_copy(update=dict(range_std_m=2.0, azimuth_std_rad=0.01, range_rate_std_mps=0.5))
    rng = np.random.default_rng(1)
    target = SENSOR_P + SENSOR_R @ np.array([120.0, 0.0, 0.0])
    det = _observe(band, rng, np.tile(target, (20000, 1)))
    assert len(det) == 20000
    assert np.mean(det.range_m) == pytest.approx(120.0, abs=0.1)
    assert np.std(det.range_m) == pytest.approx(2.0, rel=0.03)
    assert np.std(det.azimuth_rad) == pytest.approx(0.01, rel=0.03)
    assert np.std(det.range_rate_mps) == pytest.approx(0.5, rel=0.03)


def test_range_rate_is_positive_receding():
    rng = np.random.default_rng(2)
    los = SENSOR_R @ np.array([1.0, 0.0, 0.0])
    pos = np.array([SENSOR_P + 100.0 * los, SENSOR_P + 150.0 * los])
    vel = np.array([4.0 * los, -3.0 * los])
    det = _observe(EXACT, rng, pos, vel, sensor_v=1.0 * los)
    np.testing.assert_allclose(det.range_rate_mps, [3.0, -4.0])


def test_clutter_count_mean_matches_clutter_per_scan():
    band = EXACT.model_copy(update=dict(clutter_per_scan=3.0))
    rng = np.random.default_rng(3)
    scans = [_observe(band, rng, np.zeros((0, 3))) for _ in range(3000)]
    counts = np.array([len(s) for s in scans])
    assert counts.mean() == pytest.approx(3.0, abs=0.1)
    assert counts.var() == pytest.approx(3.0, rel=0.15)  # Poisson
    all_ = Detections.concatenate(scans)
    assert np.all(all_.transponder_code == 0)
    assert np.all((all_.range_m >= 50.0) & (all_.range_m < 200.0))
    assert np.all(np.abs(all_.azimuth_rad) <= np.pi / 4)
    assert np.all(all_.snr_db >= band.detection_threshold_db)


def test_transponder_codes_are_answered():
    rng = np.random.default_rng(4)
    ranges = np.array([60.0, 90.0, 120.0, 150.0])
    pos = SENSOR_P + ranges[:, None] * (SENSOR_R @ np.array([1.0, 0.0, 0.0]))
    det = _observe(EXACT, rng, pos, code=np.array([0, 7, 42, 0xFFFFFFFF], np.uint32))
    order = np.argsort(det.range_m)
    np.testing.assert_allclose(det.range_m[order], ranges)
    assert det.transponder_code[order].tolist() == [0, 7, 42, 0xFFFFFFFF]
    assert det.transponder_code.dtype == np.uint32 and det.band.dtype == np.uint8


def test_same_seed_gives_identical_detections():
    band = RadarBand(clutter_per_scan=5.0)
    pos = np.random.default_rng(9).uniform(-900.0, 900.0, (500, 3))
    a = _observe(band, np.random.default_rng(42), pos)
    b = _observe(band, np.random.default_rng(42), pos)
    c = _observe(band, np.random.default_rng(43), pos)
    for name in ("range_m", "azimuth_rad", "elevation_rad", "range_rate_mps", "snr_db", "transponder_code", "band"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) != len(c) or not np.array_equal(a.range_m, c.range_m)


def test_from_arrays_length_mismatch_names_field():
    ok = dict(range_m=[1.0, 2.0], azimuth_rad=[0.0, 0.1], elevation_rad=[0.0, 0.0], range_rate_mps=[0.0, 0.0],
              snr_db=[20.0, 20.0], transponder_code=[0, 5], band=[0, 0])
    det = Detections.from_arrays(**ok)
    assert len(det) == 2 and det.transponder_code.dtype == np.uint32
    with pytest.raises(ValueError, match="snr_db") as err:
        Detections.from_arrays(**{**ok, "snr_db": [20.0]})
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="band"):
        Detections.from_arrays(**{**ok, "band": [0, 0, 1]})


def test_validate_flags_non_finite_rows_and_select_drops_them():
    det = Detections.from_arrays(range_m=[1.0, np.nan, 3.0, 4.0], azimuth_rad=[0.0, 0.0, np.inf, 0.0],
                                 elevation_rad=[0.0] * 4, range_rate_mps=[0.0, 0.0, 0.0, -np.inf],
                                 snr_db=[1.0] * 4, transponder_code=[1, 2, 3, 4], band=[0] * 4)
    assert det.validate().tolist() == [True, False, False, False]
    clean = det.select(det.validate())
    assert len(clean) == 1 and clean.transponder_code.tolist() == [1]


def test_empty_and_concatenate():
    assert len(Detections.empty()) == 0
    assert len(Detections.concatenate([])) == 0
    a = Detections.from_arrays([1.0], [0.0], [0.0], [0.0], [9.0], [3], [0])
    b = Detections.from_arrays([2.0, 5.0], [0.1, 0.2], [0.0, 0.0], [0.0, 0.0], [9.0, 9.0], [0, 0], [1, 1])
    ab = Detections.concatenate([a, Detections.empty(), b])
    assert ab.range_m.tolist() == [1.0, 2.0, 5.0] and ab.band.tolist() == [0, 1, 1]


def test_polar_to_world_round_trip_without_noise():
    rng = np.random.default_rng(5)
    pos = SENSOR_P + rng.uniform(-250.0, 250.0, (5000, 3))
    det = _observe(EXACT, rng, pos)
    z, R = polar_to_world(det, SENSOR_P, SENSOR_R, 0.0, 0.0, 0.0)
    local = (pos - SENSOR_P) @ SENSOR_R
    r = np.linalg.norm(local, axis=1)
    truth = pos[(r >= 50.0) & (r < 200.0) & (np.abs(np.arctan2(local[:, 1], local[:, 0])) <= np.pi / 4)
                & (np.abs(np.arcsin(local[:, 2] / r)) <= np.pi / 8)]
    assert len(z) == len(truth) > 0
    key = np.lexsort(z.T)
    np.testing.assert_allclose(z[key], truth[np.lexsort(truth.T)], atol=1e-9)
    np.testing.assert_array_equal(R, 0.0)


def test_polar_to_world_covariance():
    # On the sensor +x axis the Jacobian is diag(1, r, r): R = diag(sr^2, (r s_az)^2, (r s_el)^2) in the sensor frame.
    det = Detections.from_arrays([100.0], [0.0], [0.0], [0.0], [20.0], [0], [0])
    z, R = polar_to_world(det, SENSOR_P, SENSOR_R, 2.0, 0.01, 0.02)
    np.testing.assert_allclose(z[0], SENSOR_P + SENSOR_R[:, 0] * 100.0)
    np.testing.assert_allclose(SENSOR_R.T @ R[0] @ SENSOR_R, np.diag([4.0, 1.0, 4.0]), atol=1e-12)
    # Off axis: compare with the Monte Carlo covariance of the converted noisy polar samples.
    rng = np.random.default_rng(6)
    n = 200000
    rr, az, el = 300.0 + 1.0 * rng.standard_normal(n), 0.8 + 0.003 * rng.standard_normal(n), \
        -0.3 + 0.003 * rng.standard_normal(n)
    mc = Detections.from_arrays(rr, az, el, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))
    zs, _ = polar_to_world(mc, SENSOR_P, SENSOR_R, 0.0, 0.0, 0.0)
    one = Detections.from_arrays([300.0], [0.8], [-0.3], [0.0], [0.0], [0], [0])
    _, R1 = polar_to_world(one, SENSOR_P, SENSOR_R, 1.0, 0.003, 0.003)
    np.testing.assert_allclose(np.cov(zs.T), R1[0], atol=0.03 * np.abs(R1[0]).max())
    assert np.all(np.linalg.eigvalsh(R1[0]) > 0)
