"""Which topics a replay plays into the tracker and the agent and which of their outputs it compares, read
from the graph description (config/graph.yaml)."""
from __future__ import annotations

from dataclasses import dataclass

REPLAYED_NODES = ("tracker", "agent")
# Outputs compared, as <node>.<port> of config/graph.yaml (markers, BIOS and diagnostics are not stepped).
OUTPUT_PORTS = ("tracker.tracks_lr", "tracker.tracks_sr", "tracker.tracks", "agent.status", "agent.events",
                "agent.cmd")
# Outputs too large to keep in a fixture bag: only their digests go to replay.json.
DIGEST_ONLY_PORTS = ("tracker.tracks_lr", "tracker.tracks_sr", "tracker.tracks")
STEP_DONE_KEY = "{topic} {node}"            # output key of one node's StepDone announcements


@dataclass(frozen=True)
class ReplayTopics:
    """Topic names of a replay, from the graph description."""

    namespace: str
    inputs: tuple[str, ...]            # data topics the replayed nodes read and other nodes publish
    producers: tuple[str, ...]         # fully qualified nodes whose StepDone is replayed (/qiki/sim ...)
    replayed: tuple[str, ...]          # fully qualified replayed nodes (/qiki/tracker, /qiki/agent)
    outputs: tuple[str, ...]           # compared output topics
    digest_only: tuple[str, ...]
    sync: str                          # the StepDone topic
    types: dict[str, str]              # topic -> message type, every topic of the graph

    def step_done_key(self, node: str) -> str:
        return STEP_DONE_KEY.format(topic=self.sync, node=node)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.outputs + tuple(self.step_done_key(n) for n in self.replayed)


def replay_topics(graph) -> ReplayTopics:
    from qiki.graph import SYNC_TYPE
    replayed = set(REPLAYED_NODES)
    inputs, producers = [], set()
    for t in graph.topics:
        if t.type == SYNC_TYPE:
            continue
        pubs = {p.partition(".")[0] for p in t.pub}
        if any(s.partition(".")[0] in replayed for s in t.sub) and not pubs & replayed:
            inputs.append(t.name)
    for node in REPLAYED_NODES:
        producers.update(n for n in graph.upstream(node) if n not in replayed)
    ns = "/" + graph.namespace.strip("/")
    sync = next(t.name for t in graph.topics if t.type == SYNC_TYPE)
    return ReplayTopics(ns, tuple(inputs), tuple(f"{ns}/{n}" for n in sorted(producers)),
                        tuple(f"{ns}/{n}" for n in REPLAYED_NODES), tuple(graph.topic_of(p) for p in OUTPUT_PORTS),
                        tuple(graph.topic_of(p) for p in DIGEST_ONLY_PORTS), sync,
                        {t.name: t.type for t in graph.topics})


def installed_graph():
    """The installed graph description (share/qiki/config/graph.yaml)."""
    from qiki.graph import load_graph
    from qiki.plan import config_dir
    return load_graph(config_dir() / "graph.yaml")


def catalog():
    """Type and QoS of every topic of the installed graph description (qiki_bag.catalog)."""
    from qiki.plan import config_dir
    from qiki_bag.catalog import load_catalog
    return load_catalog(config_dir() / "graph.yaml")


def output_key(topics: ReplayTopics, topic: str, data: bytes):
    """Output key of a recorded message (None when it is not a compared output): StepDone and events count
    only when a replayed node sent them."""
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import Event, StepDone
    if topic == topics.sync:
        node = deserialize_message(bytes(data), StepDone).node
        return topics.step_done_key(node) if node in topics.replayed else None
    if topic not in topics.outputs:
        return None
    if topics.types[topic] == "qiki_msgs/msg/Event":
        source = deserialize_message(bytes(data), Event).source
        return topic if f"{topics.namespace}/{source}" in topics.replayed else None
    return topic
