"""The core engine's bag: the topics `qiki run --record` records from the graph (qiki_bag's default patterns:
/qiki/*, /clock, /diagnostics), written directly as each message is sent (qiki_bag.message_codec, no rclpy).
Log times are sim time, as the graph's recorder stamps them with --use-sim-time. The step barrier's StepDone
does not exist in one process, so /qiki/sync/step_done is absent."""
from __future__ import annotations

from pathlib import Path

from qiki.graph import GraphSpec
from qiki_bag.commands import TIME_LINE_KEY
from qiki_bag.errors import BagError
from qiki_bag.message_codec import MessageCodec
from qiki_bag.topic_choice import DEFAULT_TOPICS, topic_wanted
from qiki_bag.writer import BagWriter


class CoreRecorder:
    def __init__(self, out_dir: Path, graph: GraphSpec):
        self.out_dir = Path(out_dir)
        self.types = {t.name: t.type for t in graph.topics}
        self.writer = BagWriter(self.out_dir).open()
        self.writer.custom_data[TIME_LINE_KEY] = "sim"
        self.codec = MessageCodec(self.writer.typestore)
        self.now_ns = 0
        self.messages = 0
        self.error: BagError | None = None

    def records(self, topic: str) -> bool:
        return topic_wanted(topic, DEFAULT_TOPICS)

    def write(self, topic: str, msg) -> None:
        if not self.records(topic) or self.error is not None:
            return
        header = getattr(msg, "header", None)
        if header is not None:
            self.now_ns = max(self.now_ns, header.stamp.sec * 1_000_000_000 + header.stamp.nanosec)
        elif hasattr(msg, "clock"):
            self.now_ns = max(self.now_ns, msg.clock.sec * 1_000_000_000 + msg.clock.nanosec)
        try:
            if topic not in self.writer.topics:
                self.writer.add_topic(topic, self.types[topic])
            self.writer.write(topic, self.now_ns, self.codec.cdr(msg, self.types[topic]))
        except BagError as exc:
            self.error = exc
            return
        self.messages += 1

    def finish(self) -> dict:
        """Close the bag; what became of it, as the graph's recorder says: {"path", "state", "messages", "error"}."""
        try:
            self.writer.close()
        except BagError as exc:
            self.error = self.error or exc
        return {"path": str(self.out_dir), "state": "complete" if self.error is None else "write_error",
                "messages": self.messages, "error": None if self.error is None else str(self.error)}
