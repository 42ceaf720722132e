"""The replay's listening end: subscribes (raw CDR) to the replayed nodes' outputs and StepDone and tells
the player how far the agent got."""
from __future__ import annotations

import threading
import time

from qiki_tools.replay.outputs import from_ns, header_stamp_ns
from qiki_tools.replay.topics import ReplayTopics, catalog, output_key

COLLECTOR_NODE = "qiki_replay_collector"   # the replayed nodes' publishers wait for it by name


class Collector:
    """Subscribes (raw CDR) to the replayed nodes' outputs and StepDone; lets the player wait on them."""

    def __init__(self, context, topics: ReplayTopics, steps: list[int]) -> None:
        from rclpy.node import Node
        from rclpy.qos import HistoryPolicy, QoSProfile
        from rclpy.serialization import deserialize_message

        from qiki_bag.recorder import import_message
        from qiki_msgs.msg import StepDone
        from qiki_ros.spin_thread import SpinThread

        self._decode_done = lambda data: deserialize_message(data, StepDone)
        self.topics = topics
        self.steps = steps
        self.index = {t: i for i, t in enumerate(steps)}
        self.by_key: dict[str, list[tuple[int, str, bytes]]] = {k: [] for k in topics.keys}  # stamp, type, CDR
        self.done: dict[str, dict[int, dict[str, int]]] = {n: {} for n in topics.replayed}
        self.progress = -1                 # index of the last step the agent finished
        self.gaps: list[str] = []
        self.last_message = time.monotonic()
        self.cond = threading.Condition()
        self._seq: dict[tuple[str, bytes], int] = {}
        self.node = Node(COLLECTOR_NODE, context=context, start_parameter_services=False)
        known = catalog()
        for topic in topics.outputs + (topics.sync,):
            q = known[topic][1]
            qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1000, reliability=q.reliability,
                             durability=q.durability)
            self.node.create_subscription(import_message(topics.types[topic]), topic, self._callback(topic), qos,
                                          raw=True)
        self._spinner = SpinThread(self.node, "qiki-replay-collector")

    def _callback(self, topic: str):
        def on_message(data: bytes, info) -> None:
            self._on_message(topic, bytes(data), info)
        return on_message

    def _on_message(self, topic: str, data: bytes, info) -> None:
        seq = info.get("publication_sequence_number") if isinstance(info, dict) else None
        with self.cond:
            self.last_message = time.monotonic()
            if seq is not None:
                gid = bytes((info.get("publisher_gid") or {}).get("data", b""))
                last = self._seq.get((topic, gid), 0)
                if seq != last + 1:
                    self.gaps.append(f"{topic}: message {seq} after {last}")
                self._seq[(topic, gid)] = max(last, seq)
            if topic == self.topics.sync:
                msg = self._decode_done(data)
                if msg.node not in self.done:
                    return                         # the player's own StepDone (sim, radar)
                t = from_ns(msg.header.stamp)
                self.done[msg.node][t] = dict(zip(msg.topics, msg.counts))
                self.by_key[self.topics.step_done_key(msg.node)].append((t, self.topics.types[topic], data))
                if msg.node == self.topics.replayed[-1] and t in self.index:
                    self.progress = max(self.progress, self.index[t])
            else:
                key = output_key(self.topics, topic, data)
                if key is not None:
                    self.by_key[key].append((header_stamp_ns(data), self.topics.types[topic], data))
            self.cond.notify_all()

    def complete(self) -> bool:
        """Every replayed node finished every step and everything their StepDone listed arrived."""
        if self.progress < len(self.steps) - 1:
            return False
        have: dict[tuple[str, int], int] = {}
        for key, outs in self.by_key.items():
            for t, _msgtype, _data in outs:
                have[(key, t)] = have.get((key, t), 0) + 1
        for node, per_step in self.done.items():
            for t in self.steps:
                if t not in per_step:
                    return False
                if any(topic in self.by_key and have.get((topic, t), 0) < n for topic, n in per_step[t].items()):
                    return False
        return True

    def close(self) -> None:
        self._spinner.close(shutdown_context=False)     # replay() owns the context
