"""Replay regression: drive the tracker and the agent from a recorded bag, in lockstep, and collect what
they publish.

The step barrier makes a node's outputs a function of its stamped inputs alone (see qiki_ros.step_barrier).
So replaying the inputs of the tracker and the agent -- the sim's vehicle state and device health, the
radar's frames, and the StepDone announcements of the sim and the radar -- must reproduce, bit for bit,
the tracks, agent status, events, actuator commands and StepDone announcements recorded with the whole
graph. Only those two node processes are started (their command lines from :func:`qiki.plan.make_plan`,
with the graph's parameters and ``sync.upstream``); this process plays the bag into them (qiki_bag's
Player, no timing: paced on the agent's progress) and subscribes to their outputs.

    >>> out = replay("tests/fixtures/bot_replay", domain_id=123)            # doctest: +SKIP
    >>> out.differences(load_fixture("tests/fixtures/bot_replay").expected)  # doctest: +SKIP
    []

A *fixture* is a rosbag2 (MCAP, zstd) directory holding the replay inputs plus the small outputs in full
(agent status, events, commands, every node's StepDone), and ``replay.json`` beside ``metadata.yaml``: the
profile and scenario, the replayed steps, and the SHA-256 of every recorded TrackArray (the full track
arrays would make the fixtures megabytes). :func:`write_fixture` makes one from a recording of the whole
graph (``scripts/record_fixtures.py``).

Outputs are compared as SHA-256 digests of their canonical CDR (:func:`canonical_cdr`: the bytes as
published, alignment padding zeroed), per output in publication order: equal digests mean bit-identical
messages. Recording and replay run the nodes with :data:`DETERMINISM_ENV`.
"""

from qiki_tools.replay.fixture import DETERMINISM_ENV, Fixture, ReplayError, load_fixture, write_fixture
from qiki_tools.replay.outputs import Output, Outputs, canonical_cdr, header_stamp_ns, output
from qiki_tools.replay.run import replay
from qiki_tools.replay.topics import ReplayTopics, replay_topics

__all__ = ["DETERMINISM_ENV", "Fixture", "Output", "Outputs", "ReplayError", "ReplayTopics", "canonical_cdr",
           "header_stamp_ns", "load_fixture", "output", "replay", "replay_topics", "write_fixture"]
