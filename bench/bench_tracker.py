#!/usr/bin/env python
"""QIKI tracker core vs Stone Soup on identical generated scenarios: speed and accuracy side by side.

    .venv/bin/python bench/bench_tracker.py            # full run (a few minutes)
    .venv/bin/python bench/bench_tracker.py --quick    # smoke run (< 30 s)

Scenario (2-D): N constant-velocity targets (speed 10-40 m/s, random heading, white acceleration
noise of density q = accel_std^2) spread uniformly with one target per 250 m x 250 m, Cartesian
position measurements with 5 m noise per axis, Pd = 0.9, Poisson clutter uniform over the area
(+300 m margin) with 4 false alarms per km^2 per frame, dt = 0.1 s. Both trackers receive the same
measurements (shuffled per frame) and use the same models: CV with the same q, the same measurement
noise, the same one-point initiation prior (velocity std 30 m/s), the same chi2 99.7 % Mahalanobis
gate, the same confirmation logic (confirmed on the 4th update; a tentative track is dropped on its 3rd
miss in a row) and deletion of a confirmed track on its 6th miss in a row.

Stone Soup (the reference): KalmanPredictor / KalmanUpdater, CombinedLinearGaussianTransitionModel of
two ConstantVelocity, LinearGaussian measurement model, DistanceHypothesiser with Mahalanobis
(missed_distance = sqrt(gate)), the k-d tree GNN DetectionKDTreeGNN2D (max_distance 60 m, beyond
any gate here), MultiMeasurementInitiator (min_points = 4; holding tracks deleted by
UpdateTimeStepsDeleter(3), i.e. on the 3rd frame in a row without an update),
UpdateTimeStepsDeleter(6) for confirmed tracks, all in a MultiTargetTracker. QIKI:
Tracker(TrackerConfig(confirm_m=4, confirm_n=32, tentative_max_misses=2, max_coast_frames=5)): the same
rule (its default 4-of-6 drops a Pd = 0.9 target before confirmation 0.8 % of the time, Stone Soup's
rule 0.3 %; with the same rule the comparison is about association, filtering and speed only). The
"QIKI, Mahalanobis cost" row is QIKI's Stone Soup equivalent: assignment_cost="mahalanobis" and
birth_gate_probability=0 (Stone Soup starts a track from every detection no track took).

Timing covers the tracker step only (both sides get their measurement objects built beforehand);
the process is pinned to one CPU with BLAS/OpenMP threads at 1. Scoring: qiki_radar.scoring
(GOSPA c = 20 m, p = 2, alpha = 2 on confirmed tracks; per target = root of the mean over the frames
after start-up of GOSPA^2 / N; false tracks, missed targets, id switches from TrackScorer).
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # single core: before numpy loads its BLAS (not when imported by the smoke test)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / "src" / "qiki_radar"))

from qiki_radar.scoring import GOSPA_C_M, TrackScorer  # noqa: E402
from qiki_radar.tracker import PHASES, Measurements, Tracker, TrackerConfig  # noqa: E402

DT = 0.1
NOISE_STD = 5.0
PD = 0.9
SPACING_M = 250.0
CLUTTER_PER_KM2 = 4.0
MARGIN_M = 300.0
ACCEL_STD = 1.0
INIT_VEL_STD = 30.0
CONFIRM_M, TENTATIVE_MAX_MISSES, MAX_COAST = 4, 2, 5
WARMUP_FRAMES = 10  # start-up excluded from GOSPA (confirmation needs >= 4 frames)
SS_MAX_DISTANCE_M = 60.0


@dataclass
class Scenario:
    """Truth and measurements of one generated run."""

    n: int
    dt: float
    truth: np.ndarray  # (F, N, 4): x, y, vx, vy
    z: list[np.ndarray] = field(default_factory=list)  # per frame (M, 2), shuffled
    origin: list[np.ndarray] = field(default_factory=list)  # per frame (M,), truth index or -1 (clutter)

    @property
    def frames(self) -> int:
        return int(self.truth.shape[0])


def make_scenario(n: int, frames: int, seed: int, dt: float = DT, noise_std: float = NOISE_STD, pd: float = PD,
                  spacing_m: float = SPACING_M, clutter_per_km2: float = CLUTTER_PER_KM2,
                  accel_std: float = ACCEL_STD, speed=(10.0, 40.0)) -> Scenario:
    """N CV targets at constant density, Pd < 1 detections with Gaussian noise, Poisson clutter."""
    rng = np.random.default_rng(seed)
    side = spacing_m * np.sqrt(n)
    pos = rng.uniform(0.0, side, (n, 2))
    heading = rng.uniform(-np.pi, np.pi, n)
    vel = rng.uniform(*speed, n)[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    q = accel_std**2
    # Exact discretisation of the continuous white-noise-acceleration CV model (same as both trackers).
    Q1 = q * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    L1 = np.linalg.cholesky(Q1)
    truth = np.empty((frames, n, 4))
    x = np.concatenate([pos, vel], axis=1)
    lo, hi = -MARGIN_M, side + MARGIN_M
    clutter_rate = clutter_per_km2 * (hi - lo) ** 2 / 1e6
    sc = Scenario(n, dt, truth)
    for k in range(frames):
        if k:
            x[:, :2] += dt * x[:, 2:]
            w = rng.standard_normal((n, 2, 2)) @ L1.T  # per axis: (position, velocity) noise
            x[:, :2] += w[:, :, 0]
            x[:, 2:] += w[:, :, 1]
        truth[k] = x
        seen = np.flatnonzero(rng.random(n) < pd)
        zt = x[seen, :2] + noise_std * rng.standard_normal((seen.size, 2))
        nc = rng.poisson(clutter_rate)
        zc = rng.uniform(lo, hi, (nc, 2))
        z = np.vstack([zt, zc])
        origin = np.r_[seen, np.full(nc, -1)]
        perm = rng.permutation(len(z))
        sc.z.append(z[perm])
        sc.origin.append(origin[perm])
    return sc


# --- the two trackers behind one interface ------------------------------------------------------------

def qiki_config(assignment_cost: str = "likelihood", birth_gate_probability: float | None = None) -> TrackerConfig:
    """QIKI's core with Stone Soup's confirmation logic: confirmed on the 4th update, a tentative track
    dropped on its 3rd miss in a row (M-of-N widened to 4-of-32 so that only that rule applies);
    birth_gate_probability None keeps QIKI's default."""
    birth = {} if birth_gate_probability is None else {"birth_gate_probability": birth_gate_probability}
    return TrackerConfig(dim=2, process_accel_std=ACCEL_STD, confirm_m=CONFIRM_M, confirm_n=32,
                         tentative_max_misses=TENTATIVE_MAX_MISSES, max_coast_frames=MAX_COAST,
                         init_velocity_std=INIT_VEL_STD, assignment_cost=assignment_cost, **birth)


class QikiRunner:
    """QIKI's default GNN cost: negative log-likelihood d^2 + log det S."""
    name = "QIKI"
    assignment_cost = "likelihood"
    birth_gate_probability: float | None = None

    def __init__(self, sc: Scenario):
        self.tracker = Tracker(qiki_config(self.assignment_cost, self.birth_gate_probability))
        R = NOISE_STD**2 * np.eye(2)  # Cartesian measurements with one shared noise covariance
        self.meas = [Measurements(z, R) for z in sc.z]
        self.dt = sc.dt

    def step(self, k: int):
        """One frame; returns (confirmed ids, confirmed positions (M, 2))."""
        out = self.tracker.step(k * self.dt, self.meas[k])
        conf = out.confirmed_mask()
        return out.id[conf].astype(np.int64), out.state[conf, :2]


class QikiMahalanobisRunner(QikiRunner):
    """QIKI configured as Stone Soup's equivalent: pairs ranked by Mahalanobis distance, as Stone Soup's
    hypothesiser does, and no birth gate (birth_gate_probability = 0: every detection no track took starts
    a track, as Stone Soup's initiator does). With the same models this isolates implementation from the
    choice of association cost."""
    name = "QIKI, Mahalanobis cost"
    assignment_cost = "mahalanobis"
    birth_gate_probability = 0.0


class StoneSoupRunner:
    name = "Stone Soup"

    def __init__(self, sc: Scenario):
        from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
        from stonesoup.deleter.time import UpdateTimeStepsDeleter
        from stonesoup.hypothesiser.distance import DistanceHypothesiser
        from stonesoup.initiator.simple import MultiMeasurementInitiator
        from stonesoup.measures import Mahalanobis
        from stonesoup.models.measurement.linear import LinearGaussian
        from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
        from stonesoup.predictor.kalman import KalmanPredictor
        from stonesoup.tracker.simple import MultiTargetTracker
        from stonesoup.types.detection import Detection
        from stonesoup.types.state import GaussianState
        from stonesoup.updater.kalman import KalmanUpdater

        q = ACCEL_STD**2
        transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q), ConstantVelocity(q)])
        self.measurement_model = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=NOISE_STD**2 * np.eye(2))
        predictor = KalmanPredictor(transition)
        updater = KalmanUpdater(self.measurement_model)
        hypothesiser = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(),
                                            missed_distance=float(np.sqrt(qiki_config().gate)))
        associator = DetectionKDTreeGNN2D(hypothesiser=hypothesiser, predictor=predictor, updater=updater,
                                          max_distance=SS_MAX_DISTANCE_M)
        prior = GaussianState(np.zeros((4, 1)), np.diag([0.0, INIT_VEL_STD**2, 0.0, INIT_VEL_STD**2]))
        initiator = MultiMeasurementInitiator(
            prior_state=prior, measurement_model=self.measurement_model,
            deleter=UpdateTimeStepsDeleter(time_steps_since_update=TENTATIVE_MAX_MISSES + 1),
            data_associator=associator, updater=updater, min_points=CONFIRM_M)
        self.tracker = MultiTargetTracker(initiator=initiator, deleter=UpdateTimeStepsDeleter(MAX_COAST + 1),
                                          detector=None, data_associator=associator, updater=updater)
        t0 = datetime.datetime(2025, 1, 1)
        self.times = [t0 + datetime.timedelta(seconds=k * sc.dt) for k in range(sc.frames)]
        self.detections = [{Detection(zi[:, None], timestamp=self.times[k], measurement_model=self.measurement_model)
                            for zi in z} for k, z in enumerate(sc.z)]
        self._ids: dict[str, int] = {}

    def step(self, k: int):
        _, tracks = self.tracker.update_tracker(self.times[k], self.detections[k])
        ids = np.fromiter((self._ids.setdefault(tr.id, len(self._ids) + 1) for tr in tracks), np.int64, len(tracks))
        pos = np.array([[tr.state_vector[0, 0], tr.state_vector[2, 0]] for tr in tracks]).reshape(-1, 2)
        return ids, pos


@dataclass
class RunResult:
    name: str
    n: int
    frames: int
    frame_ms: np.ndarray
    score: object
    phase_s: dict | None = None


def run(runner_cls, sc: Scenario, frames: int | None = None, warmup: int = WARMUP_FRAMES) -> RunResult:
    """Feed the scenario's first `frames` frames to one tracker, timing each step and scoring it."""
    frames = sc.frames if frames is None else min(frames, sc.frames)
    runner = runner_cls(sc)
    scorer = TrackScorer(c=GOSPA_C_M, warmup_frames=warmup)
    ms = np.empty(frames)
    truth_ids = np.arange(sc.n)
    for k in range(frames):
        t0 = time.perf_counter()
        ids, pos = runner.step(k)
        ms[k] = 1e3 * (time.perf_counter() - t0)
        scorer.update(truth_ids, sc.truth[k, :, :2], ids, pos)
    phase = dict(runner.tracker.phase_time_s) if isinstance(runner, QikiRunner) else None
    return RunResult(runner_cls.name, sc.n, frames, ms, scorer.summary(), phase)


@dataclass
class Pooled:
    """Runs of one tracker at one N over several seeds."""

    name: str
    n: int
    runs: list[RunResult]

    @property
    def ms(self) -> np.ndarray:
        return np.concatenate([r.frame_ms for r in self.runs])

    def mean(self, attr: str) -> float:
        return float(np.mean([getattr(r.score, attr) for r in self.runs]))

    def total(self, attr: str) -> int:
        return int(sum(getattr(r.score, attr) for r in self.runs))


# --- report -------------------------------------------------------------------------------------------

def _pin_one_cpu() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def comparison_table(groups: list[tuple[Pooled, ...]]) -> str:
    """One row per tracker and N; each group ends with Stone Soup, which the QIKI rows are compared with:
    speed-up of the median frame, and per seed whether QIKI's GOSPA/target is lower, equal or higher."""
    head = ("| N | seeds x frames | tracker | ms/frame p50 | ms/frame p95 | speed-up (p50) | GOSPA/target [m] "
            "| GOSPA per seed vs Stone Soup (lower/equal/higher) | loc. RMS [m] | confirmed (mean) | false tracks "
            "| missed targets | id switches |")
    lines = [head, "|" + "|".join(["---"] * 13) + "|"]
    for group in groups:
        s = group[-1]
        ss_gospa = np.array([r.score.gospa_per_target for r in s.runs])
        for p in group:
            vs = ""
            if p is not s:
                d = np.array([r.score.gospa_per_target for r in p.runs]) - ss_gospa
                tie = np.abs(d) < 5e-4            # equal at the table's 3 decimals
                vs = f"{int((~tie & (d < 0)).sum())}/{int(tie.sum())}/{int((~tie & (d > 0)).sum())}"
            lines.append(
                f"| {p.n} | {len(p.runs)} x {p.runs[0].frames} | {p.name} | {np.median(p.ms):.2f} "
                f"| {np.percentile(p.ms, 95):.2f} | {'' if p is s else f'{np.median(s.ms) / np.median(p.ms):.0f}x'} "
                f"| {p.mean('gospa_per_target'):.3f} | {vs} | {p.mean('localisation_rms'):.3f} "
                f"| {p.mean('confirmed_mean'):.1f} "
                f"| {p.total('false_tracks')} | {p.total('missed_targets')} | {p.total('id_switches')} |")
    return "\n".join(lines)


def scaling_table(results: list[RunResult]) -> str:
    lines = ["| N | frames | p50 [ms] | p95 [ms] | p99 [ms] | max [ms] | GOSPA/target [m] | false tracks "
             "| id switches | " + " | ".join(f"{p} ms" for p in PHASES) + " |",
             "|" + "|".join(["---"] * (9 + len(PHASES))) + "|"]
    for r in results:
        per_frame = " | ".join(f"{1e3 * r.phase_s[p] / r.frames:.2f}" for p in PHASES)
        lines.append(f"| {r.n} | {r.frames} | {np.percentile(r.frame_ms, 50):.2f} "
                     f"| {np.percentile(r.frame_ms, 95):.2f} "
                     f"| {np.percentile(r.frame_ms, 99):.2f} | {r.frame_ms.max():.2f} | {r.score.gospa_per_target:.3f} "
                     f"| {r.score.false_tracks} | {r.score.id_switches} | {per_frame} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few frames (< 30 s)")
    ap.add_argument("--seed", type=int, default=1, help="first seed; scenario seeds are derived from it")
    args = ap.parse_args(argv)
    pin = _pin_one_cpu()
    warnings.filterwarnings("ignore")
    if args.quick:
        compare = [(10, 1, 40), (100, 1, 20)]  # (N, seeds, frames), both trackers on the same frames
        scaling = [(1000, 50), (5000, 10)]
    else:
        compare = [(10, 3, 200), (100, 4, 120), (1000, 1, 25)]
        scaling = [(1000, 600), (5000, 150), (10000, 80)]

    import stonesoup
    print(f"# QIKI tracker vs Stone Soup ({'quick' if args.quick else 'full'} run, seed {args.seed})\n")
    print(f"python {platform.python_version()}, numpy {np.__version__}, stonesoup {stonesoup.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {pin}, BLAS/OpenMP threads = 1, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"dt = {DT} s, noise {NOISE_STD} m, Pd = {PD}, {CLUTTER_PER_KM2:g} clutter/km^2/frame, "
          f"one target per {SPACING_M:g} m square, GOSPA c = {GOSPA_C_M:g} m, p = 2, alpha = 2, "
          f"start-up excluded from GOSPA = first {WARMUP_FRAMES} frames\n")
    pairs = []
    wall = time.perf_counter()
    runners = (QikiRunner, QikiMahalanobisRunner, StoneSoupRunner)
    for n, seeds, frames in compare:
        group = tuple(Pooled(r.name, n, []) for r in runners)
        for i in range(seeds):
            sc = make_scenario(n, frames, seed=1000 * args.seed + 10 * n + i)
            for runner, pooled in zip(runners, group):
                pooled.runs.append(run(runner, sc))
        pairs.append(group)
        q, s = group[0], group[-1]
        print(f"  N={n}: QIKI {np.median(q.ms):.2f} ms/frame, Stone Soup {np.median(s.ms):.1f} ms/frame "
              f"({seeds} x {frames} frames)", file=sys.stderr)
    print("## Side by side (identical measurements)\n")
    print(comparison_table(pairs))
    print("\nTimes are pooled over all frames of all seeds; GOSPA/target, loc. RMS and confirmed are means over "
          "seeds; false tracks, missed targets and id switches are sums over seeds. Stone Soup is slow at large N, "
          "so each N runs only the frames shown (QIKI on the same frames).")

    print("\n## QIKI scaling (single core) and where the time goes\n")
    results = []
    for n, frames in scaling:
        sc = make_scenario(n, frames, seed=1000 * args.seed + 7 * n)
        results.append(run(QikiRunner, sc))
        print(f"  scaling N={n}: p50 {np.median(results[-1].frame_ms):.2f} ms", file=sys.stderr)
    print(scaling_table(results))
    print("\nPhase columns: mean ms per frame in predict (CV prediction), gate (grid or k-d tree candidates, "
          "Mahalanobis gating), assign (sparse GNN: components + linear_sum_assignment), update (Kalman update), "
          "manage (hit/miss counting, birth, deletion), output (TrackSet snapshot).")
    print(f"\n(bench wall time {time.perf_counter() - wall:.0f} s, load average at end {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
