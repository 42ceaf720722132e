"""Property-based: the step barrier (qiki_ros.step_barrier) under messages and StepDone announcements that
arrive out of order, twice, late (stale), from strangers, with too many or mismatched topics/counts arrays:
it never raises except a one-line ValueError for a StepDone whose arrays differ in length, counts what it
drops, and releases steps strictly in time order, each complete and holding only its own messages."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import fuzz_settings
from qiki_ros.step_barrier import StepBarrier

UPSTREAM = {"/qiki/sim", "/qiki/radar"}
TOPICS = {"/qiki/sim/truth", "/qiki/radar/frame"}
ALL_TOPICS = sorted(TOPICS) + ["/qiki/other"]
STAMPS = st.integers(0, 12).map(lambda k: k * 50_000_000)

data_events = st.tuples(st.just("data"), st.sampled_from(ALL_TOPICS), STAMPS)
done_events = st.tuples(
    st.just("done"), st.sampled_from(sorted(UPSTREAM) + ["/qiki/stranger"]), STAMPS,
    st.lists(st.sampled_from(ALL_TOPICS), max_size=3, unique=True),
    st.lists(st.integers(0, 3), max_size=4))


@fuzz_settings(200)
@given(st.lists(st.one_of(data_events, done_events), max_size=60))
def test_barrier_releases_in_order_complete_steps_whatever_arrives(events):
    barrier = StepBarrier(UPSTREAM, TOPICS)
    released, announced = [], {}
    stale = rejected = 0
    for event in events:
        last = barrier.last_released
        if event[0] == "data":
            _, topic, stamp = event
            stale += last is not None and stamp <= last
            barrier.add_data(topic, stamp, (topic, stamp))
        else:
            _, producer, stamp, topics, counts = event
            try:
                barrier.add_done(producer, stamp, topics, counts)
            except ValueError as exc:
                assert producer in UPSTREAM and len(topics) != len(counts)
                assert str(exc).startswith(f"StepDone from {producer}: ") and "\n" not in str(exc)
                rejected += 1
                continue
            assert producer not in UPSTREAM or len(topics) == len(counts)
            if producer in UPSTREAM:
                if last is not None and stamp <= last:
                    stale += 1
                else:
                    announced.setdefault(stamp, {})[producer] = dict(zip(topics, counts))
        for t, inputs in barrier.release():
            assert not released or t > released[-1]                 # strictly in time order, never twice
            released.append(t)
            assert set(announced[t]) == UPSTREAM                     # every upstream node announced t
            for per in announced[t].values():                        # ... and its listed messages arrived
                assert all(len(inputs.get(topic, ())) >= n for topic, n in per.items() if topic in TOPICS)
            assert all(msg == (topic, t) for topic, msgs in inputs.items() for msg in msgs)
    assert barrier.stale_dropped == stale and barrier.done_rejected == rejected
    assert all(t > released[-1] for t in barrier.pending()) if released else True


def test_mismatched_step_done_is_one_line_and_records_nothing():
    barrier = StepBarrier({"/qiki/sim"}, {"/qiki/sim/truth"})
    with pytest.raises(ValueError, match=r"^StepDone from /qiki/sim: 1 topics but 2 counts$"):
        barrier.add_done("/qiki/sim", 0, ["/qiki/sim/truth"], [1, 1])
    assert barrier.pending() == [] and barrier.done_rejected == 1
    barrier.add_done("/qiki/sim", 0, ["/qiki/sim/truth"], [0])
    assert [t for t, _ in barrier.release()] == [0]
    barrier.add_done("/qiki/sim", 0, [], [])                        # duplicate of a released step: stale
    barrier.add_data("/qiki/sim/truth", 0, "late")
    assert barrier.stale_dropped == 2 and barrier.pending() == []
