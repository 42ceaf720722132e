"""Track initiation: one tentative track per detection that no track took."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiki_radar.tracking.measurements import Measurements
from qiki_radar.tracking.table import TrackTable


@dataclass(frozen=True, slots=True)
class SinglePointInitiator:
    """One-point initiation: position = the detection with its noise R, velocity 0 with std init_velocity_std.

    Stone Soup: `SimpleMeasurementInitiator(prior_state=GaussianState(0, diag(0, v^2, ...)))`, the holding
    stage of `MultiMeasurementInitiator`; the new rows start tentative with one hit.
    """

    init_velocity_std: float  #: velocity std of a new track [m/s]

    def initiate(self, meas: Measurements, rows: np.ndarray, t: float, first_id: int) -> TrackTable:
        """Tracks born at t from detections `rows` of meas, ids first_id, first_id + 1, ..."""
        k, d = rows.size, meas.z.shape[1]
        if k == 0:
            return TrackTable.empty(d)
        x = np.zeros((2 * d, k))
        x[:d] = meas.z[rows].T
        P = np.zeros((2 * d, 2 * d, k))
        P[:d, :d] = meas.R[rows].transpose(1, 2, 0)
        for i in range(d, 2 * d):
            P[i, i] = self.init_velocity_std ** 2
        return TrackTable(
            id=np.arange(first_id, first_id + k, dtype=np.uint32), x=x, P=P, birth_t=np.full(k, t),
            last_hit_t=np.full(k, t), hits=np.ones(k, np.uint32), hist=np.ones(k, np.uint32),
            nhist=np.ones(k, np.int64), misses=np.zeros(k, np.int64), confirmed=np.zeros(k, bool),
            band=meas.band[rows].copy(), code=meas.code[rows].copy())
