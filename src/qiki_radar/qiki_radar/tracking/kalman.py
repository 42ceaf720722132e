"""Kalman filter steps on the track table: constant-velocity prediction and the position update.

Both work in place on the table's filter columns (x, P), the only copy of the tracks' state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_radar.tracking.measurements import Measurements
from qiki_radar.tracking.table import TrackTable


@dataclass(frozen=True, slots=True)
class ConstantVelocityPredictor:
    """Constant-velocity prediction with continuous white-noise acceleration on every axis.

    Stone Soup: `KalmanPredictor(CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * dim))`
    with q = process_accel_std^2. The continuous model composes exactly: predicting 0.5 s in one step or
    in five 0.1 s steps (interleaved SR frames) gives the same covariance, so a track's consistency does
    not depend on the other band's rate.
    """

    process_accel_std: float  #: acceleration noise std [m/s^2] (spectral density std^2 * 1 s)

    def predict(self, tracks: TrackTable, dt: float) -> None:
        """Move every track dt [s] ahead, in place; F P F^T as a row then a column operation."""
        if dt <= 0.0 or len(tracks) == 0:
            return
        d = tracks.dim
        q = self.process_accel_std ** 2
        x, P = tracks.x, tracks.P
        x[:d] += dt * x[d:]
        P[:d] += dt * P[d:]  # F P
        P[:, :d] += dt * P[:, d:]  # (F P) F^T
        for i in range(d):
            P[i, i] += q * dt**3 / 3.0
            P[i, d + i] += q * dt**2 / 2.0
            P[d + i, i] += q * dt**2 / 2.0
            P[d + i, d + i] += q * dt


@dataclass(frozen=True, slots=True)
class KalmanUpdater:
    """Kalman update of the assigned tracks with their position detections (H = [I 0]), Joseph form
    (I-KH) P (I-KH)^T + K R K^T. Stone Soup: `KalmanUpdater(LinearGaussian(mapping=position axes))`
    (whose default covariance form differs only in rounding). Also records the hit: hit count, update
    time, band and the transponder code when one was heard."""

    def update(self, tracks: TrackTable, ti: np.ndarray, mj: np.ndarray, meas: Measurements, t: float) -> None:
        """Update track rows ti with detections mj (one-to-one), in place."""
        if ti.size == 0:
            return
        d = tracks.dim
        x, P = np.take(tracks.x, ti, axis=1), np.take(tracks.P, ti, axis=2)
        R = np.take(meas.R.transpose(1, 2, 0), mj, axis=2)
        Sinv, _ = inv_logdet(P[:d, :d] + R)
        # Track-last layout: each product is a few numpy calls over contiguous length-k rows.
        K = np.einsum("iak,abk->ibk", P[:, :d], Sinv)  # P H^T S^-1, (2d, d, k)
        KR = np.einsum("iak,abk->ibk", K, R)
        x += np.einsum("iak,ak->ik", K, meas.z[mj].T - x[:d])
        M = P - (K[:, :, None, :] * P[None, :d, :, :]).sum(axis=1)  # (I - K H) P
        P = M + ((KR - M[:, :d])[:, None] * K[None]).sum(axis=2)  # M (I - K H)^T + K R K^T
        P = 0.5 * (P + P.transpose(1, 0, 2))
        tracks.x[:, ti] = x
        tracks.P[:, :, ti] = P
        tracks.hits[ti] += 1
        tracks.band[ti] = meas.band[mj]
        heard = meas.code[mj] != 0
        tracks.code[ti[heard]] = meas.code[mj[heard]]
        tracks.last_hit_t[ti] = t


def inv_logdet(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and log-determinant of a track-last stack (d, d, K) of SPD matrices (closed form, d = 2 or 3)."""
    d = S.shape[0]
    inv = np.empty(S.shape)
    if d == 2:
        a, b, c = S[0, 0], S[0, 1], S[1, 1]
        det = a * c - b * b
        inv[0, 0], inv[1, 1] = c / det, a / det
        inv[0, 1] = inv[1, 0] = -b / det
        return inv, np.log(det)
    if d == 3:
        for i in range(3):
            for j in range(3):  # adjugate: inv[i, j] = cofactor(j, i)
                r0, r1 = [k for k in range(3) if k != j]
                c0, c1 = [k for k in range(3) if k != i]
                inv[i, j] = (-1) ** (i + j) * (S[r0, c0] * S[r1, c1] - S[r0, c1] * S[r1, c0])
        det = S[0, 0] * inv[0, 0] + S[0, 1] * inv[1, 0] + S[0, 2] * inv[2, 0]
        return inv / det, np.log(det)
    St = S.transpose(2, 0, 1)
    return np.linalg.inv(St).transpose(1, 2, 0), np.linalg.slogdet(St)[1]
