"""The multi-target tracker's algorithm as a track table and small components, in Stone Soup's terms.

`table.TrackTable` holds every track as numpy columns; the components each do one step of a frame:
`kalman` (predictor, updater), `gating` (candidate pairs), `association` (GNN and its pair costs),
`confirmation` (M-of-N and the coverage that decides which frames count), `initiation`, `deletion`
(composable deleters) and `output` (the TrackSet snapshot). `multi_target.MultiTargetTracker` runs them
in order; `qiki_radar.tracker.Tracker` builds them from a `TrackerConfig` and times the phases.
"""
