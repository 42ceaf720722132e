"""Track scoring against truth, without ROS: the scorer node's work per message (qiki_radar.scoring: GOSPA and
track counts per band), TrackScore out on port track_score. The scorer node and the core engine both run it.
Truth reaches only this and the sim; the tracker and the agent never see it."""
from __future__ import annotations

import numpy as np

from qiki_msgs.msg import RadarFrame, TrackArray, TrackScore, VehicleState, WorldTruth
from qiki_radar.scorer_config import ScorerNodeConfig
from qiki_radar.scoring import TrackScorer
from qiki_radar.truth_codec import ego_view, truth_objects
from qiki_ros.packing import stamp_ns
from qiki_ros.step_ports import StepPorts
from qiki_tracks.track_codec import tracks_from_msg

BANDS = (RadarFrame.BAND_LR, RadarFrame.BAND_SR, RadarFrame.BAND_UNION)


class ScorerStep:
    """Scores each union TrackArray once the truth and ego state of its stamp have arrived (in any order)."""

    def __init__(self, cfg: ScorerNodeConfig, ports: StepPorts):
        self.cfg, self.ports = cfg, ports
        g = cfg.gospa
        self.scorers = {b: TrackScorer(c=g.c_m, p=g.p, assoc_distance_m=g.c_m, warmup_frames=g.warmup_frames)
                        for b in BANDS}
        self.coverage = {b: None for b in BANDS}            # (min, max) range of each band [m]
        self.truth: dict[int, WorldTruth] = {}        # by stamp [ns], until their tracks are scored
        self.ego: dict[int, VehicleState] = {}
        self._views: dict[int, tuple] = {}
        self.pending: dict[int, list[TrackArray]] = {}

    def on_frame(self, frame: RadarFrame) -> None:
        self.coverage[frame.band] = (frame.min_range_m, frame.max_range_m)
        lr, sr = self.coverage[RadarFrame.BAND_LR], self.coverage[RadarFrame.BAND_SR]
        if lr and sr:
            self.coverage[RadarFrame.BAND_UNION] = (min(lr[0], sr[0]), max(lr[1], sr[1]))

    def on_ego(self, msg: VehicleState) -> None:
        self.ego[stamp_ns(msg.header.stamp)] = msg
        self._match()

    def on_truth(self, msg: WorldTruth) -> None:
        self.truth[stamp_ns(msg.header.stamp)] = msg
        self._match()

    def on_tracks(self, msg: TrackArray) -> None:
        self.pending.setdefault(stamp_ns(msg.header.stamp), []).append(msg)
        self._match()

    def _truth_view(self, t: int):
        """(ids, positions in the tracking frame, range from the ego) of the truth at stamp t; None when
        the truth or the ego state of that stamp is unusable (counted)."""
        if t not in self._views:
            try:
                objects, dropped = truth_objects(self.truth[t], self.cfg.vehicle.truth_id)
                view = ego_view(self.cfg.world_frame, self.ego[t], objects)
            except ValueError as exc:
                self.ports.count_input("truth_dropped", f"{exc}: truth not scored")
                self._views[t] = None
                return None
            if dropped:
                self.ports.count_input("truth_objects_dropped", f"{dropped} truth objects with NaN/inf/absurd state "
                                         "or RCS not scored", dropped)
            rng = np.linalg.norm(view.target_position - view.sensor_position, axis=1)
            self._views[t] = (objects.id.copy(), view.target_position, rng)
        return self._views[t]

    def _match(self) -> None:
        """Score every track array whose truth and ego state (same stamp) have arrived; forget old stamps."""
        for t in sorted(self.pending):
            if t in self.truth and t in self.ego:
                view = self._truth_view(t)
                for msg in self.pending.pop(t):
                    if view is not None:
                        self.score(msg, *view)
        newest = max(self.truth, default=0)
        for d in (self.truth, self.ego, self._views, self.pending):
            for old in [k for k in d if k < newest - 5_000_000_000]:
                del d[old]

    def score(self, msg: TrackArray, ids, pos, rng) -> None:
        """Score the union tracks and, split by their track_band, the LR and SR tracks (what the
        tracker publishes per band)."""
        try:
            tracks, dropped = tracks_from_msg(msg)
        except ValueError as exc:
            self.ports.count_input("track_arrays_dropped", f"{exc}: not scored")
            return
        if dropped:
            self.ports.count_input("tracks_dropped", f"{dropped} tracks with NaN/inf/absurd state not scored", dropped)
        tpos = tracks.state[:, :3]
        for band in BANDS:
            rows = np.ones(len(tracks), bool) if band == RadarFrame.BAND_UNION else tracks.band == band
            self.score_band(band, msg.header, tracks.status[rows], tracks.id[rows], tpos[rows], ids, pos, rng)

    def score_band(self, band: int, header, status, tid, tpos, ids, pos, rng) -> None:
        cov = self.coverage.get(band)
        if cov is None:
            return
        covered = (rng >= cov[0]) & (rng < cov[1])
        keep = status != TrackArray.STATUS_TENTATIVE
        tid, tpos = tid[keep], tpos[keep]
        scorer = self.scorers[band]
        res = scorer.update(ids, pos, tid, tpos, covered)
        if res is None:
            return
        s = scorer.summary()
        out = TrackScore(band=band, gospa_m=float(res.total), gospa_mean_m=float(s.gospa_mean),
                         gospa_c_m=scorer.c, gospa_p=scorer.p, truth_in_coverage=int(covered.sum()),
                         tracks_confirmed=int(keep.sum()), distinct_confirmed=int(s.tracks_confirmed),
                         false_tracks=int(s.false_tracks), missed_targets=int(s.missed_targets),
                         id_switches=int(s.id_switches))
        out.header = header
        self.ports.publish("track_score", out)

