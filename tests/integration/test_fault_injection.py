"""Hostile inputs into a running lockstep graph (bench/bench_fault_matrix.py runs every topic x kind): one
message of each kind -- far-future, past, off the step grid, NaN fields, mismatched arrays, a StepDone of
another graph run -- into the input topics of the step barrier. The graph keeps stepping, the consumer
counts the drop under its topic and reason, its /diagnostics leaves OK, and the run's truth, tracks,
actuator commands and agent states equal a clean run of the same scenario and seed (lockstep is
deterministic: only counters may differ)."""
import importlib.util
import pathlib
import sys

import pytest

pytestmark = pytest.mark.integration

_BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
# a representative subset: every kind once, every stepped consumer (sim, radar, tracker, agent) at least once
SUBSET = [("/qiki/cmd", "far_future"), ("/qiki/radar/lr/frame", "far_future"), ("/qiki/sim/vehicle_state", "past"),
          ("/qiki/tracks", "off_grid"), ("/qiki/sim/truth", "nan"), ("/qiki/radar/frame", "mismatched"),
          ("/qiki/tracks", "foreign_step_done")]


def _bench(name: str):
    """bench/<name>.py as a module, registered while the tests use it (dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(name, _BENCH / f"{name}.py")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def matrix():
    yield from _bench("bench_fault_matrix")


@pytest.fixture(scope="module")
def start_ups():
    yield from _bench("bench_startup")


def test_hostile_inputs_are_counted_reported_and_change_no_result(matrix, domain_id, leftover_processes, tmp_path):
    clean = matrix.run_graph(domain_id, [], log_dir=tmp_path / "clean")
    assert not clean.error, clean.error
    hostile = matrix.run_graph(domain_id, SUBSET, log_dir=tmp_path / "hostile")
    assert not hostile.error, hostile.error
    assert hostile.stepped_to_s >= matrix.END_S + 1.0
    for cell in hostile.cells:
        assert cell.injected, (cell.topic, cell.kind)
        assert cell.counted, f"{cell.kind} on {cell.topic}: {matrix.counter(cell.topic, cell.kind)} did not grow"
        assert cell.level >= 1, f"{cell.kind} on {cell.topic}: /diagnostics of {cell.nodes} stayed OK"
    assert set(clean.outputs) == {"/qiki/sim/truth", "/qiki/tracks", "/qiki/cmd", "/qiki/agent/status"}
    stamps = [t for t, _ in clean.outputs["/qiki/sim/truth"]]      # every step from 0 to END_S, once
    assert stamps[0] == 0 and stamps[-1] == round(matrix.END_S * 1e9)
    assert len({b - a for a, b in zip(stamps, stamps[1:])}) == 1
    for topic, expected in clean.outputs.items():
        got = hostile.outputs.get(topic, [])
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
        assert len(got) == len(expected) and first is None, \
            f"{topic}: {len(got)} vs {len(expected)} messages, first difference at " \
            f"{None if first is None else got[first][0] * 1e-9} s"
    assert leftover_processes(domain_id) == []


def test_repeated_start_ups_never_lose_a_step(start_ups, domain_id, leftover_processes, tmp_path):
    """A graph that starts (discovery not simultaneous, the start-up gate opening node by node, warm
    standbys joining the participants) never blames a producer for a step, so never enters SAFE_MODE.
    Two start-ups here; bench/bench_startup.py runs 20 (the figure in docs/RELIABILITY.md)."""
    for i in range(2):
        r = start_ups.start_up(domain_id, log_dir=tmp_path / str(i))
        assert not r.error, f"start-up {i + 1}: {r.error}"
        assert r.safe_mode == [] and r.blamed == [], f"start-up {i + 1}: {r.safe_mode} {r.blamed}"
        assert leftover_processes(domain_id) == []
