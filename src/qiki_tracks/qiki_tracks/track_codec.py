"""TrackArray messages <-> TrackSet: the one codec of the tracks topic (tracker, agent, scorer, observer, tools).

Works on rclpy messages and on the messages a bag reader decodes (numpy arrays in the same fields).
"""
from __future__ import annotations

import numpy as np

from qiki_msgs.msg import TrackArray
from qiki_ros.packing import from_stamp, pack, unpack
from qiki_tracks.track_set import TrackSet

# TrackSet field -> TrackArray field, where the names differ
MSG_FIELD = {"ids": "id", "band": "track_band", "code": "transponder_code"}


def tracks_to_msg(tracks: TrackSet, mask: np.ndarray | None, msg: TrackArray) -> TrackArray:
    """Fill the arrays of `msg` with the rows of `tracks` selected by `mask` (all when None); the header
    and band are the caller's."""
    sel = slice(None) if mask is None else mask
    msg.id, msg.status = pack(tracks.id[sel], np.uint32), pack(tracks.status[sel], np.uint8)
    msg.iff, msg.track_band = pack(tracks.iff[sel], np.uint8), pack(tracks.band[sel], np.uint8)
    msg.transponder_code, msg.hits = pack(tracks.code[sel], np.uint32), pack(tracks.hits[sel], np.uint32)
    msg.age_s, msg.state = pack(tracks.age_s[sel]), pack(tracks.state[sel])
    msg.covariance = pack(tracks.covariance[sel])
    return msg


def track_set_of(msg, optional: tuple[str, ...] = ()) -> TrackSet:
    """Every track of `msg`, as sent (no value checked). `optional`: TrackSet fields that may be empty
    (see TrackSet.from_arrays). Raises a one-line ValueError naming the message field when the arrays do not
    describe N tracks, e.g. "TrackArray: state has 12 values for 3 tracks (expected 6 per track)"."""
    try:
        return TrackSet.from_arrays(
            unpack(msg.id, np.uint32), unpack(msg.status, np.uint8), unpack(msg.iff, np.uint8),
            unpack(msg.track_band, np.uint8), unpack(msg.state), unpack(msg.covariance),
            unpack(msg.transponder_code, np.uint32), unpack(msg.hits, np.uint32), unpack(msg.age_s),
            stamp_s=from_stamp(msg.header.stamp), frame_id=msg.header.frame_id, optional=optional)
    except ValueError as exc:
        name, _, rest = str(exc).partition(" ")
        raise ValueError(f"TrackArray: {MSG_FIELD.get(name, name)} {rest}") from None


def tracks_from_msg(msg) -> tuple[TrackSet, int]:
    """The usable tracks of `msg` (finite state within MAX_ABS_STATE, finite covariance) and how many others
    were dropped, for the caller to count. Every array must hold N tracks' values (ValueError otherwise,
    see track_set_of). When every row is usable the arrays are views of the message's buffers, not copies:
    read them, or copy before changing them."""
    tracks = track_set_of(msg)
    ok = tracks.usable()
    return (tracks if ok.all() else tracks.select(ok)), int((~ok).sum())
