"""Replay fixtures: a rosbag2 directory with the replay inputs and the small outputs in full, plus
replay.json (profile, scenario, steps, digests of the track arrays); made from a recording of the whole
graph by :func:`write_fixture`, read back by :func:`load_fixture`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from qiki_tools.replay.outputs import Output, Outputs, config_dirs, from_ns, header_stamp_ns, output
from qiki_tools.replay.topics import installed_graph, output_key, replay_topics

FIXTURE_FILE = "replay.json"
FIXTURE_FORMAT = 1
# Pin the numeric code paths of numpy (SIMD dispatch) and OpenBLAS (kernel, threads), so that float
# results do not depend on which x86-64 CPU runs the replay (AVX2/FMA is the common ground); used both when
# recording the fixtures and when replaying them.
DETERMINISM_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Haswell",
                   "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
# Lockstep, as the sim runs the graph: the inputs of step t go out once the agent finished step t-1. Running


class ReplayError(RuntimeError):
    """The replay could not run to its last step (node died, stalled, messages lost, bad fixture)."""


@dataclass
class Fixture:
    path: Path
    profile: str
    scenario: str
    steps: list[int]               # sim steps replayed, in order [ns]
    expected: Outputs              # what the whole graph published for them
    meta: dict = field(default_factory=dict)
    run_id: str = ""                # sync.run_id of the recorded graph (its StepDone carry it)


def load_fixture(path: Path | str) -> Fixture:
    """A fixture directory: its replay.json, its steps and the outputs recorded for them."""
    from qiki_bag.reader import open_bag
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import StepDone

    path = Path(path)
    meta_file = path / FIXTURE_FILE
    if not meta_file.is_file():
        raise ReplayError(f"{path}: not a replay fixture (no {FIXTURE_FILE}); record it with "
                          "scripts/record_fixtures.py")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FIXTURE_FORMAT:
        raise ReplayError(f"{meta_file}: format {meta.get('format')}, this version reads {FIXTURE_FORMAT}")
    topics = replay_topics(installed_graph())
    last = int(meta["last_step_ns"])
    by_key: dict[str, list[Output]] = {k: [] for k in topics.keys}
    steps: set[int] = set()
    run_id = ""
    with open_bag(path) as bag:
        for conn, _stamp, data in bag.messages():
            data = bytes(data)
            if header_stamp_ns(data) > last:
                continue
            if conn.topic == topics.sync:
                msg = deserialize_message(data, StepDone)
                if msg.node in topics.producers:
                    steps.add(from_ns(msg.header.stamp))
                    run_id = msg.run_id
            key = output_key(topics, conn.topic, data)
            if key is not None and conn.topic not in topics.digest_only:
                by_key[key].append(output(data, conn.msgtype, bag.typestore, tuple(meta.get("config_dirs", ()))))
    for topic in topics.digest_only:
        by_key[topic] = [Output(int(t), d) for t, d in meta["digests"].get(topic, [])]
    steps = sorted(steps)
    if len(steps) != meta["steps"] or (steps and steps[-1] != last):
        raise ReplayError(f"{path}: the bag holds {len(steps)} steps up to {steps[-1] if steps else '-'} ns, "
                          f"{FIXTURE_FILE} says {meta['steps']} up to {last} ns")
    return Fixture(path, meta["profile"], meta["scenario"], steps, Outputs(by_key, steps), meta, run_id)


def write_fixture(recording: Path | str, out_dir: Path | str, profile: str, scenario: str,
                  last_step_ns: int | None = None, note: str = "") -> Fixture:
    """Make a replay fixture from a bag of the whole graph (``qiki bag record`` next to ``qiki run``).

    Keeps the steps up to ``last_step_ns`` (default: the last one every node finished), after checking
    that for each of them every node announced StepDone and every message it listed is in the recording.
    Writes the replay inputs and the small outputs into a zstd MCAP bag and the digests of the tracks
    into replay.json."""
    from qiki_bag.reader import open_bag
    from qiki_bag.writer import BagWriter
    from rclpy.serialization import deserialize_message

    from qiki_msgs.msg import StepDone

    out_dir = Path(out_dir)
    topics = replay_topics(installed_graph())
    everyone = topics.producers + topics.replayed
    kept_topics = set(topics.inputs) | set(topics.outputs) | {topics.sync}
    done: dict[str, dict[int, dict[str, int]]] = {n: {} for n in everyone}
    counts: dict[tuple[str, int], int] = {}
    with open_bag(recording) as bag:
        recorded = {c.topic for c in bag.connections}
        missing = sorted((set(topics.inputs) | set(topics.outputs) | {topics.sync}) - recorded)
        if missing:
            raise ReplayError(f"{recording}: no message on {', '.join(missing)}")
        report = json.loads(bag.custom_data.get("qiki_bag.publication_sequence", "{}"))
        missed = {t: r["missed"] for t, r in report.items() if t in kept_topics and r.get("missed")}
        if missed:           # e.g. a latched status published twice before the recorder matched its writer
            raise ReplayError(f"{recording}: the recorder missed messages the graph published: "
                              + ", ".join(f"{t} {n}" for t, n in sorted(missed.items())))
        for conn, _stamp, data in bag.messages(sorted(kept_topics)):
            t = header_stamp_ns(bytes(data))
            counts[(conn.topic, t)] = counts.get((conn.topic, t), 0) + 1
            if conn.topic == topics.sync:
                msg = deserialize_message(bytes(data), StepDone)
                if msg.node in done:
                    done[msg.node][t] = dict(zip(msg.topics, msg.counts))
        sim_steps = sorted(set().union(*(done[n] for n in topics.producers)))
        finished = [t for t in sim_steps if all(t in done[n] for n in everyone)]
        if not finished:
            raise ReplayError(f"{recording}: no step was finished by all of {', '.join(everyone)}")
        if last_step_ns is not None and last_step_ns > finished[-1]:
            raise ReplayError(f"{recording}: the last step every node finished is t={finished[-1] / 1e9:.3f} s, "
                              f"before t={last_step_ns / 1e9:.3f} s")
        steps = [t for t in sim_steps if t <= (finished[-1] if last_step_ns is None else last_step_ns)]
        last = steps[-1]
        for t in steps:
            for node in everyone:
                if t not in done[node]:
                    raise ReplayError(f"{recording}: {node} did not announce step t={t / 1e9:.3f} s")
                for topic, n in done[node][t].items():
                    if topic in kept_topics and counts.get((topic, t), 0) != n:
                        raise ReplayError(f"{recording}: step t={t / 1e9:.3f} s: {node} published {n} on "
                                          f"{topic}, the recording has {counts.get((topic, t), 0)}")
        digests: dict[str, list] = {topic: [] for topic in topics.digest_only}
        with BagWriter(out_dir, compression="zstd") as writer:
            for conn in bag.connections:
                if conn.topic in kept_topics and conn.topic not in topics.digest_only:
                    writer.add_topic(conn.topic, conn.msgtype, list(conn.ext.offered_qos_profiles),
                                     msgdef=conn.msgdef.data, rihs01=conn.digest)
            for conn, stamp, data in bag.messages(sorted(kept_topics)):
                data = bytes(data)
                t = header_stamp_ns(data)
                if t > last:
                    continue
                if conn.topic in topics.digest_only:
                    digests[conn.topic].append([t, output(data, conn.msgtype, bag.typestore).digest])
                else:
                    writer.write(conn.topic, stamp, data)
    meta = {
        "format": FIXTURE_FORMAT,
        "about": "QIKI replay fixture: inputs of the tracker and agent plus their outputs for the steps below; "
                 "the TrackArrays are kept as SHA-256 of their canonical CDR (padding zeroed). See "
                 "tests/fixtures/README.md; re-record: .venv/bin/python scripts/record_fixtures.py",
        "profile": profile,
        "scenario": scenario,
        "steps": len(steps),
        "first_step_ns": steps[0],
        "last_step_ns": last,
        "env": DETERMINISM_ENV,
        "config_dirs": list(config_dirs()),
        "note": note,
        "digests": digests,
    }
    (out_dir / FIXTURE_FILE).write_text(_dump(meta))
    return load_fixture(out_dir)


def _dump(meta: dict) -> str:
    """replay.json: indented, one [stamp, digest] per line."""
    head = json.dumps({k: v for k, v in meta.items() if k != "digests"}, indent=1)[:-2]
    lines = [head + ',\n "digests": {']
    for i, (topic, entries) in enumerate(meta["digests"].items()):
        rows = ",\n".join(f"   {json.dumps(e)}" for e in entries)
        body = f"[\n{rows}\n  ]" if entries else "[]"
        lines.append(f"  {json.dumps(topic)}: {body}" + ("," if i < len(meta["digests"]) - 1 else ""))
    return "\n".join(lines) + "\n }\n}\n"
