"""Unit tests of the multi-target tracker core (qiki_radar.tracker and its components, qiki_radar.tracking)."""
import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import chi2

from qiki_msgs.msg import TrackArray
from qiki_radar.radar_model import RadarBand, observe, polar_to_world
from qiki_radar.tracker import PHASES, Coverage, Measurements, Tracker, TrackerConfig, TrackSet
from qiki_radar.tracking import gating
from qiki_radar.tracking.gating import pairs_in_radius as _pairs_in_radius
from qiki_radar.tracking.kalman import inv_logdet as _inv_logdet

STATUS_TENTATIVE, STATUS_CONFIRMED, STATUS_COASTING = (
    TrackArray.STATUS_TENTATIVE, TrackArray.STATUS_CONFIRMED, TrackArray.STATUS_COASTING)
IFF_UNKNOWN, IFF_FRIEND, IFF_FOE = TrackArray.IFF_UNKNOWN, TrackArray.IFF_FRIEND, TrackArray.IFF_FOE

DT = 0.5


def frame(truth, rng, std=1.0, band=0, code=0, pd=1.0, clutter=None):
    """Noisy position measurements of the (N,dim) truth, detected with probability pd, plus clutter rows."""
    truth = np.atleast_2d(truth)
    seen = rng.random(len(truth)) < pd
    z = truth[seen] + std * rng.standard_normal(truth[seen].shape)
    code = np.broadcast_to(np.asarray(code, np.uint32), (len(truth),))[seen]
    if clutter is not None:
        z = np.vstack([z, clutter])
        code = np.concatenate([code, np.zeros(len(clutter), np.uint32)])
    d = truth.shape[1]
    return Measurements(z, np.broadcast_to(std**2 * np.eye(d), (len(z), d, d)), band, code)


def nearest(tracks: TrackSet, point) -> int:
    """Row of the confirmed track closest to point."""
    d = len(point)
    dist = np.linalg.norm(tracks.state[:, :d] - point, axis=1)
    return int(np.argmin(np.where(tracks.confirmed_mask(), dist, np.inf)))


def test_config_defaults_and_validation():
    assert TrackerConfig(dim=2).gate == pytest.approx(chi2.ppf(0.997, 2))
    assert TrackerConfig(dim=3).gate == pytest.approx(chi2.ppf(0.997, 3))
    assert TrackerConfig(gate_chi2=None).gate == pytest.approx(chi2.ppf(0.997, 2))
    assert TrackerConfig(gate_chi2=9.0).gate == 9.0
    assert TrackerConfig(dim=2).birth_gate == pytest.approx(chi2.ppf(0.9999, 2))
    assert TrackerConfig(gate_chi2=30.0).birth_gate == 30.0  # never inside the association gate
    assert TrackerConfig(birth_gate_probability=0.0).birth_gate == 0.0
    with pytest.raises(ValidationError, match="confirm_m"):
        TrackerConfig(confirm_m=5, confirm_n=4)
    with pytest.raises(ValidationError, match="friend and foe"):
        TrackerConfig(friend_codes=[1, 2], foe_codes=[2])
    with pytest.raises(ValidationError):
        TrackerConfig(dim=4)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_single_cv_target_confirms_with_stable_id_and_velocity(seed):
    rng = np.random.default_rng(seed)
    tracker = Tracker(TrackerConfig(confirm_m=4, confirm_n=6, process_accel_std=0.2))
    p0, v = np.array([100.0, 50.0]), np.array([5.0, -3.0])
    ids, statuses = set(), []
    for k in range(40):
        out = tracker.step(k * DT, frame(p0 + v * k * DT, rng))
        assert out.id[0] == 1 and len(out) == 1  # a gate miss inside the birth gate starts no duplicate
        statuses.append(int(out.status[0]))
        ids.update(out.id[out.confirmed_mask()].tolist())
    assert statuses[:3] == [STATUS_TENTATIVE] * 3 and set(statuses[3:]) == {STATUS_CONFIRMED}  # 4th hit confirms
    assert ids == {1} and len(out) == 1
    assert out.hits[0] == 40 and out.age_s[0] == pytest.approx(39 * DT)
    np.testing.assert_allclose(out.state[0, 3:5], v, atol=0.5)
    np.testing.assert_allclose(out.state[0, :2], p0 + v * 39 * DT, atol=2.0)
    assert out.state[0, 2] == 0.0 and out.state[0, 5] == 0.0
    assert np.all(out.covariance[0, 2, :] == 0.0) and np.all(out.covariance[0, :, 5] == 0.0)
    assert out.state.shape == (1, 6) and out.covariance.shape == (1, 6, 6)


@pytest.mark.parametrize("seed", range(1, 41))
def test_two_crossing_targets_keep_their_ids(seed):
    rng = np.random.default_rng(seed)
    tracker = Tracker(TrackerConfig(process_accel_std=0.2))
    p0 = np.array([[-100.0, 15.0], [100.0, -15.0]])
    v = np.array([[10.0, 0.0], [-10.0, 0.0]])
    first_ids = None
    for k in range(41):  # the targets pass each other (30 m apart) at t = 10 s
        truth = p0 + v * k * DT
        out = tracker.step(k * DT, frame(truth, rng))
        conf = out.confirmed_mask()
        if conf.sum() == 2:
            ids = [int(out.id[nearest(out, truth[i])]) for i in range(2)]
            first_ids = first_ids or ids
            assert ids == first_ids
    assert first_ids is not None and first_ids[0] != first_ids[1]
    assert out.confirmed_mask().sum() == 2
    np.testing.assert_allclose(out.state[[nearest(out, truth[0]), nearest(out, truth[1])], 3:5], v, atol=1.0)


def test_clutter_alone_does_not_confirm_tracks():
    rng = np.random.default_rng(2)
    tracker = Tracker(TrackerConfig(confirm_m=4, confirm_n=6))
    born = 0
    for k in range(60):
        clutter = rng.uniform(-500.0, 500.0, (5, 2))
        out = tracker.step(k * DT, frame(np.zeros((0, 2)), rng, clutter=clutter))
        assert not out.confirmed_mask().any()
        born = max(born, int(out.id.max(initial=0)))
    assert born > 250  # clutter points not gated by a tentative track start one ...
    assert len(out) < 40  # ... and they die once 4-of-6 is out of reach


def test_missed_confirmed_track_coasts_then_is_deleted():
    rng = np.random.default_rng(3)
    tracker = Tracker(TrackerConfig(max_coast_frames=3))
    for k in range(8):
        out = tracker.step(k * DT, frame([[10.0 + k, 0.0]], rng))
    assert out.status.tolist() == [STATUS_CONFIRMED]
    empty = Measurements.empty(2)
    for k in range(8, 11):  # three misses: coasting
        out = tracker.step(k * DT, empty)
        assert out.status.tolist() == [STATUS_COASTING]
    assert len(tracker.step(11 * DT, empty)) == 0  # the fourth miss deletes it


def test_track_outside_coverage_is_not_penalised():
    rng = np.random.default_rng(4)
    tracker = Tracker(TrackerConfig(max_coast_frames=2))
    for k in range(8):
        out = tracker.step(k * DT, frame([[300.0, 0.0]], rng))
    conf = out.confirmed_mask()
    assert conf.sum() == 1
    track_id = out.id[conf][0]
    sr = Coverage(np.zeros(3), 0.0, 50.0)
    for k in range(8, 30):
        out = tracker.step(k * DT, Measurements.empty(2), sr)
    conf = out.confirmed_mask()
    assert out.id[conf].tolist() == [track_id] and out.status[conf].tolist() == [STATUS_CONFIRMED]
    # The same empty frames covering the track do count as misses.
    out = tracker.step(30 * DT, Measurements.empty(2), Coverage(np.zeros(3), 50.0, 1000.0))
    assert out.status[out.id == track_id].tolist() == [STATUS_COASTING]


@pytest.mark.parametrize("seed", range(5, 45))
def test_lr_to_sr_handover_keeps_the_track(seed):
    rng = np.random.default_rng(seed)
    tracker = Tracker(TrackerConfig(max_coast_frames=3))
    lr, sr = Coverage(np.zeros(3), 50.0, 1000.0), Coverage(np.zeros(3), 0.0, 50.0)
    p0, v = np.array([150.0, 20.0]), np.array([-8.0, -1.0])
    ids, bands = set(), []
    for k in range(170):  # SR frames at 10 Hz, LR frames at 2 Hz at the same instants as every 5th SR frame
        t = 0.1 * k
        truth = p0 + v * t
        r = np.linalg.norm(truth)
        if k % 5 == 0:
            meas = frame(truth, rng, std=2.0, band=0) if 50.0 <= r < 1000.0 else Measurements.empty(2)
            out = tracker.step(t, meas, lr)
        meas = frame(truth, rng, std=0.1, band=1) if r < 50.0 else Measurements.empty(2)
        out = tracker.step(t, meas, sr)
        if out.confirmed_mask().any():
            ids.update(out.id[out.confirmed_mask()].tolist())
            bands.append(int(out.band[out.confirmed_mask()][0]))
    assert np.linalg.norm(truth) < 30.0  # the target did cross into the SR band
    assert len(ids) == 1 and out.id.tolist() == list(ids)
    assert out.confirmed_mask().tolist() == [True]  # (the last SR frame may be a 0.3 % gate miss: coasting)
    assert bands[0] == 0 and bands[-1] == 1
    np.testing.assert_allclose(out.state[0, :2], truth, atol=0.5)


def test_iff_from_transponder_codes():
    rng = np.random.default_rng(6)
    tracker = Tracker(TrackerConfig(friend_codes=[100, 101], foe_codes=[200]))
    truth = np.array([[0.0, 0.0], [200.0, 0.0], [0.0, 200.0], [200.0, 200.0]])
    codes = np.array([100, 200, 0, 300], np.uint32)
    for k in range(8):
        out = tracker.step(k * DT, frame(truth, rng, code=codes))
    rows = [nearest(out, p) for p in truth]
    assert out.iff[rows].tolist() == [IFF_FRIEND, IFF_FOE, IFF_UNKNOWN, IFF_UNKNOWN]
    assert out.code[rows].tolist() == [100, 200, 0, 300]
    # A silent frame keeps the last code heard.
    out = tracker.step(8 * DT, frame(truth, rng, code=0))
    assert out.iff[[nearest(out, p) for p in truth]].tolist() == [IFF_FRIEND, IFF_FOE, IFF_UNKNOWN, IFF_UNKNOWN]


def test_time_must_not_go_backwards():
    tracker = Tracker()
    rng = np.random.default_rng(7)
    tracker.step(1.0, frame([[5.0, 5.0]], rng))
    tracker.step(1.0, frame([[5.0, 5.0]], rng))  # same instant (second band) is fine
    with pytest.raises(ValueError, match="earlier"):
        tracker.step(0.9, frame([[5.0, 5.0]], rng))
    assert tracker.time == 1.0
    with pytest.raises(ValueError, match="dim"):
        tracker.step(2.0, Measurements.empty(3))


def test_ids_are_never_reused():
    tracker = Tracker(TrackerConfig(max_coast_frames=0))
    rng = np.random.default_rng(8)
    seen = []
    for k in range(30):
        # A target that blinks in and out at a new place every 5 frames.
        out = tracker.step(k * DT, frame([[100.0 * (k // 5), 0.0]], rng) if k % 5 < 4 else Measurements.empty(2))
        seen.extend(out.id.tolist())
    first_seen = list(dict.fromkeys(seen))
    assert first_seen == sorted(first_seen) and first_seen[0] == 1 and len(first_seen) >= 6
    tracker.reset()
    assert len(tracker) == 0 and tracker.time is None
    out = tracker.step(0.0, frame([[0.0, 0.0]], rng))
    assert out.id[0] > max(first_seen)


def test_3d_mode():
    rng = np.random.default_rng(9)
    tracker = Tracker(TrackerConfig(dim=3, process_accel_std=0.3))
    p0, v = np.array([1000.0, -500.0, 300.0]), np.array([-20.0, 10.0, 5.0])
    for k in range(30):
        out = tracker.step(k * DT, frame(p0 + v * k * DT, rng, std=2.0))
    conf = out.confirmed_mask()  # a rare gate miss (0.3 %) may leave a tentative duplicate, never a confirmed one
    assert conf.sum() == 1
    np.testing.assert_allclose(out.state[conf][0, 3:], v, atol=1.0)
    np.testing.assert_allclose(out.state[conf][0, :3], p0 + v * 29 * DT, atol=4.0)
    assert np.all(np.linalg.eigvalsh(out.covariance[conf][0]) > 0)


def test_measurements_from_world_slices_to_dim():
    z3 = np.arange(6.0).reshape(2, 3)
    R3 = np.broadcast_to(np.arange(9.0).reshape(3, 3), (2, 3, 3))
    m = Measurements.from_world(z3, R3, 1, [0, 9], dim=2)
    assert m.z.tolist() == [[0.0, 1.0], [3.0, 4.0]] and m.R[0].tolist() == [[0.0, 1.0], [3.0, 4.0]]
    assert m.band.tolist() == [1, 1] and m.code.dtype == np.uint32 and len(m) == 2
    with pytest.raises(ValueError, match="R"):
        Measurements(np.zeros((2, 2)), np.zeros((3, 2, 2)), 0, 0)


def test_radar_model_feeds_tracker():
    """observe -> polar_to_world -> Measurements.from_world -> Tracker for a crossing ground target."""
    band = RadarBand(clutter_per_scan=2.0, fov_elevation_rad=0.2)
    rng = np.random.default_rng(10)
    tracker = Tracker()
    sensor_p, sensor_r = np.array([0.0, 0.0, 0.5]), np.eye(3)
    p0, v = np.array([400.0, -100.0, 0.0]), np.array([-3.0, 6.0, 0.0])
    for k in range(30):
        truth = p0 + v * k * DT
        det = observe(band, rng, sensor_p, sensor_r, np.zeros(3), truth[None], v[None], [10.0], [55])
        z, R = polar_to_world(det, sensor_p, sensor_r, band.range_std_m, band.azimuth_std_rad,
                              band.elevation_std_rad)
        out = tracker.step(k * DT, Measurements.from_world(z, R, det.band, det.transponder_code, 2))
    conf = out.confirmed_mask()
    assert conf.sum() == 1
    assert out.code[conf].tolist() == [55]
    np.testing.assert_allclose(out.state[conf, :2][0], truth[:2], atol=6.0)


def test_thousand_targets():
    rng = np.random.default_rng(11)
    n = 1000
    grid = np.stack(np.meshgrid(np.arange(32.0), np.arange(32.0)), axis=-1).reshape(-1, 2)[:n] * 40.0
    vel = rng.normal(0.0, 3.0, (n, 2))
    tracker = Tracker()
    for k in range(12):
        truth = grid + vel * k * DT
        out = tracker.step(k * DT, frame(truth, rng, pd=0.95, clutter=rng.uniform(-50, 1300, (20, 2))))
    conf = out.confirmed_mask()
    assert 990 <= conf.sum() <= 1010
    dist = np.linalg.norm(truth[:, None, :] - out.state[conf][None, :, :2], axis=2).min(axis=1)
    assert np.mean(dist < 5.0) > 0.99


def _confirmed_tracker(config: TrackerConfig, point, rng, frames: int = 8) -> tuple[Tracker, int]:
    """A tracker holding one confirmed track on a static target at point."""
    tracker = Tracker(config)
    for k in range(frames):
        out = tracker.step(k * DT, frame([point], rng))
    assert out.confirmed_mask().tolist() == [True]
    return tracker, int(out.id[0])


def test_tentative_track_outside_every_coverage_dies_of_age():
    tracker = Tracker(TrackerConfig(tentative_max_age_s=3.0))
    rng = np.random.default_rng(20)
    tracker.step(0.0, frame([[300.0, 0.0]], rng))  # one detection: a tentative track
    sr = Coverage(np.zeros(3), 0.0, 50.0)  # frames that never cover it: M-of-N never advances
    for k in range(1, 6):
        out = tracker.step(k * DT, Measurements.empty(2), sr)
        assert out.status.tolist() == [STATUS_TENTATIVE]
    assert len(tracker.step(3.0, Measurements.empty(2), sr)) == 1  # exactly at the limit: kept
    assert len(tracker.step(3.1, Measurements.empty(2), sr)) == 0
    # 0 disables the limit (and the no-update clock, default 30 s, would catch it later).
    tracker = Tracker(TrackerConfig(tentative_max_age_s=0.0))
    tracker.step(0.0, frame([[300.0, 0.0]], rng))
    assert len(tracker.step(20.0, Measurements.empty(2), sr)) == 1
    assert len(tracker.step(31.0, Measurements.empty(2), sr)) == 0


def test_confirmed_track_without_updates_is_deleted_after_max_unupdated():
    rng = np.random.default_rng(21)
    tracker, _ = _confirmed_tracker(TrackerConfig(max_unupdated_s=10.0, process_accel_std=0.0), [300.0, 0.0], rng)
    last_update = 7 * DT
    sr = Coverage(np.zeros(3), 0.0, 50.0)
    assert tracker.step(last_update + 10.0, Measurements.empty(2), sr).status.tolist() == [STATUS_CONFIRMED]
    assert len(tracker.step(last_update + 10.5, Measurements.empty(2), sr)) == 0


def test_gate_miss_inside_the_birth_gate_of_a_missed_track_starts_no_duplicate():
    rng = np.random.default_rng(22)
    point = np.array([100.0, 0.0])
    for prob, expect_birth in ((0.9999, False), (0.0, True)):
        tracker, tid = _confirmed_tracker(TrackerConfig(process_accel_std=0.0, birth_gate_probability=prob),
                                          point, np.random.default_rng(22))
        # A detection with squared Mahalanobis distance ~14 (outside the 99.7 % gate 11.6, inside the
        # 99.99 % birth gate 18.4) for the track's S = P + R.
        S = tracker.tracks().covariance[0, :2, :2] + np.eye(2)
        z = tracker.tracks().state[0, :2] + np.array([np.sqrt(14.0 * S[0, 0]), 0.0])
        out = tracker.step(8 * DT, Measurements(z[None], np.eye(2)[None], 0, 0))
        assert out.status[out.id == tid].tolist() == [STATUS_COASTING]  # not gated: a miss
        assert (len(out) == 2) == expect_birth
    # The same stray detection next to a track that did get its own detection is a new object: it starts one.
    tracker, tid = _confirmed_tracker(TrackerConfig(process_accel_std=0.0), point, rng)
    S = tracker.tracks().covariance[0, :2, :2] + np.eye(2)
    own = tracker.tracks().state[0, :2]
    z = np.array([own, own + [np.sqrt(14.0 * S[0, 0]), 0.0]])
    out = tracker.step(8 * DT, Measurements(z, np.broadcast_to(np.eye(2), (2, 2, 2)), 0, 0))
    assert out.status[out.id == tid].tolist() == [STATUS_CONFIRMED] and len(out) == 2


def test_confirmed_track_is_served_before_a_tentative_one():
    rng = np.random.default_rng(23)
    cfg = TrackerConfig(process_accel_std=0.0, init_velocity_std=0.5)
    tracker, tid = _confirmed_tracker(cfg, [0.0, 0.0], rng)
    s_conf = tracker.tracks().covariance[0, 0, 0] + 1.0  # the confirmed track's S (isotropic), R = 1
    r_gate, r_birth = np.sqrt(cfg.gate * s_conf), np.sqrt(cfg.birth_gate * s_conf)
    # A tentative track born just outside the birth gate, then one detection inside the confirmed
    # track's gate but much nearer the tentative track (which alone would take it): the confirmed one does.
    both = np.array([[0.0, 0.0], [1.2 * r_birth, 0.0]])
    before = tracker.step(8 * DT, Measurements(both, np.broadcast_to(np.eye(2), (2, 2, 2)), 0, 0))
    z = np.array([[0.95 * r_gate, 0.0]])

    def nll(row):  # the association cost d2 + log det S each track alone would have
        P = before.covariance[row]
        S = P[:2, :2] + DT * (P[:2, 3:5] + P[3:5, :2]) + DT**2 * P[3:5, 3:5] + np.eye(2)
        nu = z[0] - (before.state[row, :2] + DT * before.state[row, 3:5])
        return nu @ np.linalg.solve(S, nu) + np.linalg.slogdet(S)[1]

    assert nll(1) < nll(0)
    out = tracker.step(9 * DT, Measurements(z, np.eye(2)[None], 0, 0))
    rows = {int(i): r for r, i in enumerate(out.id)}
    assert len(out) == 2 and out.hits[rows[tid]] == 10 and out.status[rows[tid]] == STATUS_CONFIRMED
    assert out.hits[[r for i, r in rows.items() if i != tid][0]] == 1


def test_track_at_a_coverage_edge_is_not_penalised_by_the_band_it_may_not_be_in():
    rng = np.random.default_rng(24)
    tracker, tid = _confirmed_tracker(TrackerConfig(max_coast_frames=1), [51.0, 0.0], rng)
    sr = Coverage(np.zeros(3), 0.0, 52.0)  # the track sits 1 m (< 2 sigma) inside the SR edge
    for k in range(8, 14):
        out = tracker.step(k * DT, Measurements.empty(2), sr)
        assert out.id.tolist() == [tid] and out.status.tolist() == [STATUS_CONFIRMED]
    tracker = Tracker(TrackerConfig(max_coast_frames=1, coverage_margin_sigma=0.0))
    for k in range(8):
        tracker.step(k * DT, frame([[51.0, 0.0]], rng))
    for k in range(8, 10):
        out = tracker.step(k * DT, Measurements.empty(2), sr)
    assert len(out) == 0  # without the margin two SR misses delete it
    assert Coverage(np.zeros(3), 10.0, 50.0).contains(np.array([[12.0, 0, 0], [47.0, 0, 0], [30.0, 0, 0]]),
                                                       np.array([3.0, 1.0, 0.0])).tolist() == [False, True, True]


def test_prediction_composes_over_split_intervals():
    rng = np.random.default_rng(25)
    a, b = Tracker(TrackerConfig(dim=3)), Tracker(TrackerConfig(dim=3))
    m = frame([[10.0, 20.0, 30.0]], rng)
    a.step(0.0, m)
    b.step(0.0, m)
    nowhere = Coverage(np.zeros(3), 0.0, 1.0)  # empty frames that do not count as misses
    a.step(0.5, Measurements.empty(3), nowhere)
    for k in range(1, 6):
        b.step(0.1 * k, Measurements.empty(3), nowhere)
    np.testing.assert_allclose(a.tracks().covariance, b.tracks().covariance, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_inverse_and_log_determinant(d):
    rng = np.random.default_rng(d)
    A = rng.normal(size=(30, d, d))
    S = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)
    inv, logdet = _inv_logdet(np.ascontiguousarray(S.transpose(1, 2, 0)))
    np.testing.assert_allclose(inv.transpose(2, 0, 1), np.linalg.inv(S), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(logdet, np.linalg.slogdet(S)[1], rtol=1e-10)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("mode", ["dense", "grid", "kdtree"])
def test_candidate_pairs_within_per_point_radius(mode, dim, monkeypatch):
    monkeypatch.setattr(gating, "DENSE_PAIRS_MAX", 10**9 if mode == "dense" else 0)
    if mode == "kdtree":
        monkeypatch.setattr(gating, "pairs_grid", lambda *args: None)
    rng = np.random.default_rng(29)
    points, targets = rng.uniform(0, 60, (300, dim)), rng.uniform(0, 60, (250, dim))
    points[:5] = targets[:5]  # exact coincidences
    radius = rng.uniform(1.0, 9.0, 300)
    radius[5:8] = [40.0, 80.0, 0.0]  # a few wide ones go through the per-point query
    i, j = _pairs_in_radius(points, targets, radius)
    d = np.linalg.norm(points[:, None] - targets[None], axis=2)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(*map(list, np.nonzero(d <= radius[:, None]))))
    assert len(i) > 300


def test_phase_timing_is_accumulated():
    tracker = Tracker()
    rng = np.random.default_rng(27)
    for k in range(3):
        tracker.step(k * DT, frame([[0.0, 0.0], [50.0, 0.0]], rng))
    assert set(tracker.phase_time_s) == set(PHASES) and all(v > 0.0 for v in tracker.phase_time_s.values())
    tracker.reset_timing()
    assert all(v == 0.0 for v in tracker.phase_time_s.values())


@pytest.mark.parametrize("dim", [2, 3])
def test_filter_equals_a_textbook_kalman_filter(dim):
    """Batched predict/update against a plain one-track KF (x = [p, v], Joseph update) with uneven dt."""
    rng = np.random.default_rng(28 + dim)
    q, v0 = 0.7, 12.0
    tracker = Tracker(TrackerConfig(dim=dim, process_accel_std=np.sqrt(q), init_velocity_std=v0))
    times = np.cumsum(rng.uniform(0.05, 0.6, 12))
    eye, zero = np.eye(dim), np.zeros((dim, dim))
    x, P = None, None
    for k, t in enumerate(times):
        z = np.arange(1.0, dim + 1) * 10.0 + 3.0 * t + rng.normal(0.0, 0.5, dim)
        A = rng.normal(size=(dim, dim))
        R = 0.25 * eye + 0.05 * A @ A.T
        out = tracker.step(t, Measurements(z[None], R[None], 0, 0))
        if k == 0:
            x = np.r_[z, np.zeros(dim)]
            P = np.block([[R, zero], [zero, v0**2 * eye]])
        else:
            dt = t - times[k - 1]
            F = np.block([[eye, dt * eye], [zero, eye]])
            Q = q * np.kron(np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]), eye)
            x, P = F @ x, F @ P @ F.T + Q
            H = np.hstack([eye, zero])
            S = H @ P @ H.T + R
            K = P @ H.T @ np.linalg.inv(S)
            x = x + K @ (z - H @ x)
            IKH = np.eye(2 * dim) - K @ H
            P = IKH @ P @ IKH.T + K @ R @ K.T
        idx = np.r_[0:dim, 3:3 + dim]
        assert len(out) == 1
        np.testing.assert_allclose(out.state[0, idx], x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(out.covariance[0][np.ix_(idx, idx)], P, rtol=1e-9, atol=1e-9)


def test_tentative_max_misses_drops_a_tentative_track_on_a_run_of_misses():
    """4-of-32 with at most 2 misses in a row: Stone Soup's MultiMeasurementInitiator logic."""
    cfg = TrackerConfig(confirm_m=4, confirm_n=32, tentative_max_misses=2)
    rng = np.random.default_rng(30)
    empty = Measurements.empty(2)
    # hit, miss, miss, hit, miss, miss, hit, hit: survives (never 3 misses in a row), confirms on the 4th hit.
    tracker = Tracker(cfg)
    for k, seen in enumerate([1, 0, 0, 1, 0, 0, 1, 1]):
        out = tracker.step(k * 0.1, frame([[5.0, 5.0]], rng, std=0.5) if seen else empty)
        assert len(out) == 1
    assert out.status.tolist() == [STATUS_CONFIRMED]
    # hit, hit, then three misses in a row: dropped on the third.
    tracker = Tracker(cfg)
    for k, seen in enumerate([1, 1, 0, 0]):
        out = tracker.step(k * 0.1, frame([[5.0, 5.0]], rng, std=0.5) if seen else empty)
    assert len(out) == 1
    assert len(tracker.step(0.4, empty)) == 0
    # The default leaves M-of-N (4-of-6) alone: the first pattern dies on its third miss in six frames.
    tracker = Tracker(TrackerConfig())
    lens = [len(tracker.step(k * 0.1, frame([[5.0, 5.0]], rng, std=0.5) if seen else empty))
            for k, seen in enumerate([1, 0, 0, 1, 0])]
    assert lens == [1, 1, 1, 1, 0]


@pytest.mark.parametrize("cost, track0_takes", [("likelihood", "v"), ("mahalanobis", "u")])
def test_assignment_cost_decides_an_ambiguous_pair(cost, track0_takes):
    """Two confirmed tracks with equal covariances at (0, 0) and (1.6, 0); u = (0.1, 0) is 0.1 m from track 0
    and 1.5 m from track 1, v is 1.7 m from track 0 and 3.0 m from track 1. Pairing (0-u, 1-v) has the smaller
    total distance (3.1 vs 3.2), (0-v, 1-u) the smaller total squared distance (5.14 vs 9.01): the
    maximum-likelihood cost picks the latter, the Mahalanobis-distance cost (Stone Soup's) the former."""
    cfg = TrackerConfig(process_accel_std=0.0, init_velocity_std=0.5, assignment_cost=cost)
    tracker, R = Tracker(cfg), np.broadcast_to(np.eye(2), (2, 2, 2))
    anchors = np.array([[0.0, 0.0], [1.6, 0.0]])
    for k in range(6):
        out = tracker.step(k * DT, Measurements(anchors, R, 0, 0))
    assert (out.status == STATUS_CONFIRMED).all()
    x = -1.1094
    u, v = np.array([0.1, 0.0]), np.array([x, np.sqrt(1.7**2 - x**2)])
    assert np.linalg.norm(v - anchors[1]) == pytest.approx(3.0, abs=1e-3)
    track0 = int(out.id[np.argmin(np.linalg.norm(out.state[:, :2] - anchors[0], axis=1))])
    out = tracker.step(6 * DT, Measurements(np.array([u, v]), R, 0, 0))
    p0 = out.state[list(out.id).index(track0), :2]
    step = p0 - anchors[0]          # the update moves the track part of the way towards its detection
    toward = {name: step @ (z - anchors[0]) / np.linalg.norm(z - anchors[0]) / np.linalg.norm(step)
              for name, z in (("u", u), ("v", v))}
    assert toward[track0_takes] > 0.99


def test_cartesian_measurements_with_one_shared_noise_matrix():
    """Non-radar use: positions and one (dim, dim) noise covariance, no band or code; the same tracks as
    with one matrix per row, and the 2-D [position, velocity] state from TrackSet.planar."""
    rng = np.random.default_rng(31)
    R = np.array([[4.0, 1.0], [1.0, 9.0]])
    shared, per_row = Tracker(), Tracker()
    for k in range(10):
        z = np.array([[10.0 + 2.0 * k, 0.0], [-50.0, 30.0 - k]]) + rng.normal(0.0, 1.0, (2, 2))
        a = shared.step(k * DT, Measurements(z, R))
        b = per_row.step(k * DT, Measurements(z, np.broadcast_to(R, (2, 2, 2)), 0, 0))
    for name in ("id", "status", "band", "code", "hits", "state", "covariance"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.confirmed_mask().sum() == 2 and a.band.tolist() == [0, 0]
    state, cov = a.planar()
    assert state.shape == (2, 4) and cov.shape == (2, 4, 4)
    np.testing.assert_array_equal(state, a.state[:, [0, 1, 3, 4]])
    np.testing.assert_array_equal(cov, a.covariance[:, [0, 1, 3, 4]][:, :, [0, 1, 3, 4]])
    with pytest.raises(ValueError, match="R"):
        Measurements(np.zeros((2, 2)), np.eye(3))


def test_deleters_count_misses_survived():
    """MissRunDeleter(k) deletes on the (k+1)-th miss in a row: Stone Soup's UpdateTimeStepsDeleter(k + 1);
    CompositeDeleter deletes what any of its deleters deletes; StatusDeleter splits by confirmation."""
    from qiki_radar.tracking.deletion import CompositeDeleter, MissRunDeleter, StatusDeleter, UnupdatedDeleter
    from qiki_radar.tracking.table import TrackTable
    table = TrackTable.empty(2)
    table.id = np.arange(1, 5, dtype=np.uint32)
    table.misses = np.array([0, 1, 2, 3])
    table.confirmed = np.array([False, True, False, True])
    table.last_hit_t = np.array([0.0, 9.0, 9.5, 10.0])
    assert MissRunDeleter(2).delete(table, 10.0).tolist() == [False, False, False, True]
    assert UnupdatedDeleter(0.5).delete(table, 10.0).tolist() == [True, True, False, False]
    both = CompositeDeleter([MissRunDeleter(2), UnupdatedDeleter(0.5)])
    assert both.delete(table, 10.0).tolist() == [True, True, False, True]
    split = StatusDeleter(tentative=MissRunDeleter(1), confirmed=MissRunDeleter(5))
    assert split.delete(table, 10.0).tolist() == [False, False, True, False]
