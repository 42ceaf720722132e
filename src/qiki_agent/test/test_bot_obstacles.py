"""What the bot's patrol steers around: every confirmed or coasting SR track, friends as much as foes (a friendly
vehicle of the same fleet is a mover to keep clear of), never a tentative or LR-only one."""
import numpy as np

from qiki_agent.bot_pilot import obstacles
from qiki_msgs.msg import RadarFrame, TrackArray
from qiki_tracks.track_set import TrackSet


def test_friends_and_foes_in_sr_are_obstacles_tentative_and_lr_tracks_are_not():
    S, L = RadarFrame.BAND_SR, RadarFrame.BAND_LR
    C, T = TrackArray.STATUS_CONFIRMED, TrackArray.STATUS_TENTATIVE
    rows = [  # id, status, iff, band
        (1, C, TrackArray.IFF_FRIEND, S), (2, C, TrackArray.IFF_FOE, S), (3, TrackArray.STATUS_COASTING,
                                                                          TrackArray.IFF_UNKNOWN, S),
        (4, T, TrackArray.IFF_FRIEND, S), (5, C, TrackArray.IFF_FRIEND, L)]
    ids, status, iff, band = (np.array(c) for c in zip(*rows))
    state = np.arange(len(rows) * 6, dtype=float).reshape(-1, 6)
    tracks = TrackSet.from_arrays(ids, status, iff, band, state)
    assert obstacles(tracks).tolist() == state[:3].tolist()
