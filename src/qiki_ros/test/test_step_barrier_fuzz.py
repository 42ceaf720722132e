"""Property-based: the step barrier (qiki_ros.step_barrier) under messages and StepDone announcements that
arrive out of order, twice, late (stale), from strangers, with too many or mismatched topics/counts arrays:
it never raises except a one-line ValueError for a StepDone whose arrays differ in length, counts what it
drops, and releases steps strictly in time order, each complete and holding only its own messages."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_inputs import fuzz_settings
from qiki_ros.step_admission import StepGrid
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


# --- admission: a message or StepDone that no step of this graph run can carry ------------------------
STEP = 50_000_000
SIM, RADAR = "/qiki/sim", "/qiki/radar"
STATE, FRAME = "/qiki/sim/truth", "/qiki/radar/frame"
RUN = "run-a"


class WallClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def admitting_barrier(clock=None) -> StepBarrier:
    return StepBarrier({SIM, RADAR}, {STATE, FRAME}, clock=clock, grid=StepGrid(STEP, 20), run_id=RUN,
                       members={SIM, RADAR, "/qiki/agent"})


def clean_step(barrier: StepBarrier, k: int) -> None:
    barrier.add_data(STATE, k * STEP, ("state", k))
    barrier.add_done(SIM, k * STEP, [STATE, "/clock"], [1, 1], 1, RUN)
    if k % 2 == 0:                                              # the radar scans every other step
        barrier.add_data(FRAME, k * STEP, ("frame", k))
    barrier.add_done(RADAR, k * STEP, [FRAME], [int(k % 2 == 0)], 2, RUN)


def poison(kind: str, k: int, offset: int) -> tuple:
    """One hostile input relative to the current step k: (what, arguments)."""
    if kind == "future":
        return ("data", STATE, (k + 21 + offset) * STEP)
    if kind == "far_future":
        return ("data", FRAME, (k + 10**9) * STEP)
    if kind == "past":
        return ("data", STATE, max(0, k - 1 - offset) * STEP)
    if kind == "off_grid":
        return ("data", FRAME, (k + offset % 5) * STEP + STEP // 2 + 1)
    if kind == "foreign_run":
        return ("done", SIM, (k + offset % 5) * STEP, "run-b")
    if kind == "stranger":
        return ("done", "/qiki/stranger", (k + offset % 5) * STEP, RUN)
    if kind == "future_done":
        return ("done", RADAR, (k + 21 + offset) * STEP, RUN)
    return ("done", SIM, (k + offset % 3) * STEP + 7_000_000, RUN)     # off-grid StepDone


KINDS = ["future", "far_future", "past", "off_grid", "foreign_run", "stranger", "future_done", "off_grid_done"]


@fuzz_settings(150)
@given(st.lists(st.tuples(st.integers(1, 29), st.sampled_from(KINDS), st.integers(0, 50),
                          st.floats(0.0, 30.0)), max_size=25))
def test_no_hostile_input_changes_what_a_clean_run_releases(injections):
    """30 clean steps with hostile inputs injected after the first and the wall clock jumping (up to 30 s
    between steps, expire() called each time): the barrier releases exactly the clean steps with exactly
    their messages, never drops, misses or blames a producer, and counts every hostile input."""
    clock = WallClock()
    clean, hostile = admitting_barrier(WallClock()), admitting_barrier(clock)
    by_step: dict[int, list] = {}
    for k, kind, offset, wait_s in injections:
        by_step.setdefault(k, []).append((kind, offset, wait_s))
    expected, got = [], []
    for k in range(30):
        for kind, offset, wait_s in by_step.get(k, []):
            what = poison(kind, k, offset)
            if what[0] == "data":
                reason = hostile.add_data(what[1], what[2], ("poison", kind))
            else:
                reason = hostile.add_done(what[1], what[2], [], [], 9, what[3])
            assert reason is not None, (kind, k, offset)
            clock.t += wait_s
            assert hostile.expire(2.0) == []
            got += hostile.release()
        clean_step(clean, k)
        clean_step(hostile, k)
        expected += clean.release()
        got += hostile.release()
    assert got == expected and [t for t, _ in got] == [k * STEP for k in range(30)]
    assert not hostile.absent and dict(hostile.missed) == {} and hostile.expired == 0
    assert hostile.rejections.total() == len(injections)


@fuzz_settings(150)
@given(st.lists(st.tuples(st.sampled_from([SIM, RADAR, "/qiki/agent", "/x"]), st.integers(-3, 60),
                          st.sampled_from([RUN, "run-b", ""]), st.booleans()), max_size=40),
       st.lists(st.tuples(st.sampled_from([STATE, FRAME]), st.integers(-3, 60)), max_size=40))
def test_only_grid_steps_of_this_run_within_the_horizon_are_ever_released(dones, datas):
    """Whatever announcements and messages arrive (any producer, run id, stamp on or off the grid), every
    released step lies on the grid and was announced by both producers of this run, and every input was
    either admitted or counted."""
    barrier = admitting_barrier(WallClock())
    released = []
    events = [("done", *d) for d in dones] + [("data", *d) for d in datas]
    for i, event in enumerate(sorted(events, key=lambda e: (e[2] if e[0] == "done" else e[2], e[0]))):
        if event[0] == "done":
            _, producer, k, run_id, half = event
            stamp = max(0, k * STEP + (STEP // 2 if half else 0))
            barrier.add_done(producer, stamp, [], [], 1, run_id)
        else:
            _, topic, k = event
            barrier.add_data(topic, max(0, k * STEP), (topic, k))
        for t, _inputs in barrier.release():
            assert t % STEP == 0 and (not released or t > released[-1])
            released.append(t)
    announced_ok = {max(0, k * STEP) for p, k, r, half in dones if r == RUN and not half and p in (SIM, RADAR)}
    assert set(released) <= announced_ok


def test_each_rejection_is_counted_per_topic_and_reason_and_opens_one_burst():
    clock = WallClock()
    barrier = admitting_barrier(clock)
    seen = []
    barrier.on_reject = lambda topic, reason, stamp, first: seen.append((topic, reason, stamp, first))
    clean_step(barrier, 0)
    barrier.release()
    barrier.add_data(STATE, 10**6 * 10**9, "far")                 # sim time + 1e6 s
    barrier.add_data(STATE, 10**6 * 10**9 + STEP, "far again")
    clock.t = 10.0
    barrier.add_data(STATE, 10**6 * 10**9, "a new burst")
    barrier.add_data(FRAME, STEP // 2, "off grid")
    barrier.add_data(FRAME, 0, "past")
    assert barrier.add_done(SIM, STEP, [], [], 1, "run-b") == "foreign"
    assert barrier.add_done("/qiki/stranger", STEP, [], [], 1, RUN) == "foreign"
    assert barrier.add_done("/qiki/agent", STEP, [], [], 1, RUN) is None          # a member, not upstream
    assert barrier.rejections.by_key() == {
        f"step_rejected_future.{STATE}": 3, f"step_rejected_off_grid.{FRAME}": 1,
        f"step_rejected_past.{FRAME}": 1, "step_rejected_foreign.step_done": 2}
    assert [first for topic, reason, _, first in seen if reason == "future"] == [True, False, True]
    assert barrier.stale_dropped == 1 and barrier.pending() == []


def test_a_surplus_message_is_dropped_and_counted_the_announced_latest_kept():
    barrier = admitting_barrier(WallClock())
    barrier.add_data(STATE, 3 * STEP, "injected first")
    for k in range(4):
        clean_step(barrier, k)
    released = dict(barrier.release())
    assert released[3 * STEP][STATE] == [("state", 3)]
    assert barrier.rejections.by_key() == {f"step_rejected_surplus.{STATE}": 1}


def test_steps_admitted_before_any_step_is_known_are_dropped_beyond_the_horizon_once_one_is():
    """Start-up: nothing known yet, so only the grid is checked; the first StepDone bounds the rest."""
    barrier = admitting_barrier(WallClock())
    barrier.add_data(STATE, 10**6 * 10**9, "poison before the first step")
    barrier.add_data(STATE, 5 * STEP, "a step of history")
    assert barrier.pending() == [5 * STEP, 10**6 * 10**9]
    clean_step(barrier, 0)
    assert barrier.pending() == [0, 5 * STEP]
    assert barrier.rejections.by_key() == {f"step_rejected_future.{STATE}": 1}
    assert [t for t, _ in barrier.release()] == [0]


def test_grid_judges_within_a_microsecond_of_the_step():
    grid = StepGrid(STEP, 20)
    assert grid.judge(7 * STEP + 999, None, None) is None and grid.judge(7 * STEP - 999, None, None) is None
    assert grid.judge(7 * STEP + 1001, None, None) == "off_grid"
    assert grid.judge(7 * STEP, 7 * STEP, None) == "past"
    assert grid.judge(27 * STEP, None, 7 * STEP) is None                 # 20 steps ahead: the horizon
    assert grid.judge(28 * STEP, None, 7 * STEP) == "future"
    assert StepGrid().judge(123, None, 0) is None                     # grid unknown: only the past is judged
