"""What a replay compares: each output message as the SHA-256 of its canonical CDR (alignment padding
zeroed), per output key in publication order; equal digests mean bit-identical messages."""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from qiki_tracks.track_codec import track_set_of


@dataclass(frozen=True)
class Output:
    stamp_ns: int                  # header stamp: the sim step that produced it
    digest: str                    # SHA-256 of the canonical CDR bytes
    data: bytes | None = None      # the canonical CDR bytes (None for outputs kept as digests only)
    msgtype: str = ""


CONFIG_PLACEHOLDER = "$QIKI_CONFIG"


def canonical_cdr(data: bytes, msgtype: str, store, config_dirs: tuple[str, ...] = ()) -> bytes:
    """The message's CDR with its alignment padding zeroed (decoded and encoded again with rosbags) and
    a StepDone's incarnation and run id zeroed.

    Publishers serialise into buffers that are not cleared, so the padding bytes between fields of the
    same message can differ from one run to the next; every field's bytes are kept as they are, except
    that in an Event's text the installed config directory (``config_dirs``: where the fixture was
    recorded, or where it is replayed) reads ``$QIKI_CONFIG`` (the agent's boot event names its files).
    Surplus bytes after the message (``rclpy.serialization.serialize_message`` leaves some) are dropped."""
    from qiki_bag.reader import deserialize
    msg = deserialize(store, bytes(data), msgtype)
    if msgtype == "qiki_msgs/msg/StepDone":
        msg.incarnation = 0     # which process ran (a start time), not what it computed
        msg.run_id = ""         # which graph run, likewise
    if msgtype == "qiki_msgs/msg/Event" and config_dirs:
        text = msg.message
        for path in sorted(config_dirs, key=len, reverse=True):
            text = text.replace(path, CONFIG_PLACEHOLDER)
        msg.message = text
    return bytes(store.serialize_cdr(msg, msgtype))


def output(data: bytes, msgtype: str, store, config_dirs: tuple[str, ...] = ()) -> Output:
    """Output of one received or recorded message: its canonical CDR and the digest of that."""
    canon = canonical_cdr(data, msgtype, store, config_dirs)
    return Output(header_stamp_ns(canon), hashlib.sha256(canon).hexdigest(), canon, msgtype)


def config_dirs() -> tuple[str, ...]:
    """The installed config directory as the node parameters name it (resolved), as found, and where its files
    resolve to (a symlink install links them to the repository's config/)."""
    from qiki.plan import config_dir
    cfg = config_dir()
    return tuple(dict.fromkeys((str(cfg.resolve()), str(cfg), str((cfg / "graph.yaml").resolve().parent))))


@dataclass
class Outputs:
    """What the tracker and the agent published, per output key (a topic, or ``'<sync topic> <node>'`` for
    StepDone) in publication order, for steps ``steps[0]`` .. ``steps[-1]``."""

    by_key: dict[str, list[Output]]
    steps: list[int]
    wall_time_s: float = 0.0

    def digests(self) -> dict[str, list[tuple[int, str]]]:
        return {k: [(o.stamp_ns, o.digest) for o in v] for k, v in sorted(self.by_key.items())}

    def differences(self, expected: Outputs, limit: int = 3) -> list[str]:
        """Human-readable differences from ``expected`` (empty: bit-identical), first ones per output."""
        out = []
        for key in sorted(set(self.by_key) | set(expected.by_key)):
            got, want = self.by_key.get(key, []), expected.by_key.get(key, [])
            if [(o.stamp_ns, o.digest) for o in got] == [(o.stamp_ns, o.digest) for o in want]:
                continue
            line = f"{key}: {len(got)} messages, expected {len(want)}"
            diffs = [i for i in range(min(len(got), len(want)))
                     if (got[i].stamp_ns, got[i].digest) != (want[i].stamp_ns, want[i].digest)]
            for i in diffs[:limit]:
                line += (f"; #{i} at t={got[i].stamp_ns / 1e9:.3f} s differs"
                         + (f" (expected t={want[i].stamp_ns / 1e9:.3f} s)" if got[i].stamp_ns != want[i].stamp_ns
                            else ""))
            out.append(line)
        return out

    def messages(self, key: str) -> list:
        """Decoded messages of one output (those kept in full)."""
        from qiki_bag.recorder import import_message
        from rclpy.serialization import deserialize_message
        return [deserialize_message(o.data, import_message(o.msgtype)) for o in self.by_key.get(key, [])
                if o.data is not None]

    def tracks(self, topic: str = "/qiki/tracks") -> list[tuple[int, list[int], list[int], bytes]]:
        """Per TrackArray: (stamp_ns, track ids, statuses, state as float64 bytes)."""
        return [(from_ns(m.header.stamp), t.id.tolist(), t.status.tolist(), t.state.tobytes())
                for m in self.messages(topic) for t in (track_set_of(m),)]

    def transitions(self, status_topic: str = "/qiki/agent/status") -> list[tuple[int, str, str]]:
        """Agent state transitions (stamp_ns, from, to) seen on its status (as `qiki run` counts them)."""
        out, state = [], ""
        for m in self.messages(status_topic):
            if m.state != state and (state or m.previous_state):
                out.append((from_ns(m.header.stamp), m.previous_state or state, m.state))
            state = m.state
        return out


def from_ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def header_stamp_ns(data: bytes) -> int:
    """Stamp of the std_msgs/Header that starts a message, read from its CDR bytes (no decoding)."""
    sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)
    return sec * 1_000_000_000 + nanosec
