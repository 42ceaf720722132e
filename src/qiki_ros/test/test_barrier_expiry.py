"""StepBarrier without a producer that stopped announcing: dropped after the timeout, re-admitted later."""
from qiki_ros.step_barrier import StepBarrier

S = 1_000_000_000


class WallClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def barrier(clock: WallClock) -> StepBarrier:
    return StepBarrier({"/q/sim", "/q/tracker"}, {"/q/tracks", "/q/state"}, clock=clock)


def announce(b: StepBarrier, producer: str, t: int, topic: str | None = None, incarnation: int = 0) -> None:
    if topic:
        b.add_data(topic, t * S, f"{producer}@{t}")
    b.add_done(producer, t * S, [topic] if topic else [], [1] if topic else [], incarnation)


def test_a_silent_producer_holds_the_step_until_the_timeout_then_is_dropped():
    clock = WallClock()
    b = barrier(clock)
    announce(b, "/q/sim", 1, "/q/state")
    announce(b, "/q/tracker", 1, "/q/tracks")
    assert [t for t, _ in b.release()] == [1 * S]
    announce(b, "/q/sim", 2, "/q/state")          # the tracker died before step 2
    assert b.release() == []
    clock.t = 0.9
    assert b.expire(1.0) == [] and b.release() == []
    clock.t = 1.1
    assert b.expire(1.0) == ["/q/tracker"]
    released = b.release()
    assert [t for t, _ in released] == [2 * S] and "/q/tracks" not in released[0][1]
    announce(b, "/q/sim", 3, "/q/state")           # later steps no longer wait for it
    assert [t for t, _ in b.release()] == [3 * S]
    assert b.expired == 1 and b.absent == {"/q/tracker"}


def test_a_producer_that_announces_again_is_waited_for_from_that_step_on():
    clock = WallClock()
    b = barrier(clock)
    announce(b, "/q/sim", 0, "/q/state")
    announce(b, "/q/tracker", 0, "/q/tracks")
    announce(b, "/q/sim", 1, "/q/state")
    clock.t = 5.0
    assert b.expire(1.0) == []                      # step 0 is complete: release it, never give it up
    assert [t for t, _ in b.release()] == [0]
    assert b.expire(1.0) == ["/q/tracker"]
    assert [t for t, _ in b.release()] == [1 * S]
    announce(b, "/q/sim", 2, "/q/state")
    announce(b, "/q/sim", 3, "/q/state")           # step 3 released: nobody waits for the tracker yet
    assert [t for t, _ in b.release()] == [2 * S, 3 * S]
    announce(b, "/q/tracker", 5, "/q/tracks")      # restarted tracker, first step it saw
    announce(b, "/q/sim", 4, "/q/state")
    announce(b, "/q/sim", 5, "/q/state")
    assert [t for t, _ in b.release()] == [4 * S, 5 * S]   # 4 is before its return: not waited for
    announce(b, "/q/sim", 6, "/q/state")
    assert b.release() == []                         # 6 waits for the tracker again
    announce(b, "/q/tracker", 6, "/q/tracks")
    assert [t for t, _ in b.release()] == [6 * S]
    assert b.rejoined == 1 and b.absent == set()


def test_a_step_missing_only_a_listed_message_is_given_up_after_the_longer_timeout():
    """Its producers are alive (they announced it): the message is on its way, e.g. while a late joiner
    takes the transient-local history; only after the start-up timeout is it lost."""
    clock = WallClock()
    b = barrier(clock)
    b.add_done("/q/sim", 1 * S, ["/q/state"], [1])   # announced one message that never arrives
    announce(b, "/q/tracker", 1, "/q/tracks")
    clock.t = 2.0
    assert b.expire(1.0) == [] and b.pending() == [1 * S]
    clock.t = 10.5
    assert b.expire(1.0) == [] and b.pending() == [] and b.skipped == 1
    assert b.absent == set()
    b.add_data("/q/state", 1 * S, "late")           # it comes after all: stale, not a new step
    assert b.pending() == [] and b.stale_dropped == 1


def test_a_message_late_for_a_given_up_step_does_not_blame_every_producer():
    """The start-up SAFE_MODE: a step given up for a late message, opened again by that message, was
    skipped by the next step and counted as missed by every producer."""
    clock = WallClock()
    b = barrier(clock)
    for t in (0, 1):
        announce(b, "/q/sim", t, "/q/state")
        announce(b, "/q/tracker", t, "/q/tracks")
    b.add_done("/q/sim", 2 * S, ["/q/state"], [1])
    b.add_done("/q/tracker", 2 * S, ["/q/tracks"], [1])
    b.add_data("/q/tracks", 2 * S, "tracker@2")
    assert [t for t, _ in b.release()] == [0, 1 * S]
    clock.t = 11.0
    b.expire(1.0)
    b.add_data("/q/state", 2 * S, "sim@2, late")
    for t in (3, 4):
        announce(b, "/q/sim", t, "/q/state")
        announce(b, "/q/tracker", t, "/q/tracks")
    assert [t for t, _ in b.release()] == [3 * S, 4 * S]
    assert dict(b.missed) == {} and b.skipped == 1 and not b.absent


def test_a_step_opened_by_data_alone_holds_nobody_and_blames_nobody():
    """A stray message (stamped ahead, no producer announces its step) is orphan data when a later step
    completes, and expire() never drops a producer for it, however long it waits."""
    clock = WallClock()
    b = barrier(clock)
    announce(b, "/q/sim", 0, "/q/state")
    announce(b, "/q/tracker", 0, "/q/tracks")
    b.add_data("/q/state", 7 * S + S // 2, "stray")
    assert [t for t, _ in b.release()] == [0]
    clock.t = 100.0
    assert b.expire(1.0) == [] and not b.absent
    for t in (8, 9):
        announce(b, "/q/sim", t, "/q/state")
        announce(b, "/q/tracker", t, "/q/tracks")
    assert [t for t, _ in b.release()] == [8 * S, 9 * S]
    assert dict(b.missed) == {} and b.rejections.counts == {("/q/state", "orphan"): 1}


def test_nothing_pending_nothing_expires():
    clock = WallClock()
    b = barrier(clock)
    clock.t = 100.0
    assert b.expire(1.0) == [] and b.expired == 0


def test_a_producer_never_heard_from_is_still_starting_and_gets_the_longer_timeout():
    clock = WallClock()
    b = barrier(clock)
    announce(b, "/q/sim", 1, "/q/state")           # the tracker has not announced anything yet
    clock.t = 5.0
    assert b.expire(1.0) == [] and b.release() == []
    clock.t = 10.5
    assert b.expire(1.0) == ["/q/tracker"]
    assert [t for t, _ in b.release()] == [1 * S]



def test_a_dropped_producer_whose_first_announcement_comes_late_is_waited_for_from_the_next_step():
    clock = WallClock()
    b = barrier(clock)
    announce(b, "/q/sim", 0, "/q/state")
    announce(b, "/q/tracker", 0, "/q/tracks")
    b.release()
    announce(b, "/q/sim", 1, "/q/state")
    clock.t = 2.0
    assert b.expire(1.0) == ["/q/tracker"]
    announce(b, "/q/sim", 2, "/q/state")
    assert [t for t, _ in b.release()] == [1 * S, 2 * S]
    announce(b, "/q/tracker", 2, "/q/tracks")      # restarted, but step 2 is already released
    assert b.rejoined == 1 and b.absent == set()
    announce(b, "/q/sim", 3, "/q/state")
    assert b.release() == []                         # step 3 waits for it
    announce(b, "/q/tracker", 3, "/q/tracks")
    released = b.release()
    assert [t for t, _ in released] == [3 * S] and released[0][1]["/q/tracks"] == ["/q/tracker@3"]


def test_a_producer_back_before_the_timeout_leaves_a_gap_counted_as_missed_steps():
    """A fast restart: the tracker misses steps 2-4 and announces 5 before expire() would drop it."""
    clock = WallClock()
    b = barrier(clock)
    for t in (1, 2, 3, 4, 5):
        announce(b, "/q/sim", t, "/q/state")
    announce(b, "/q/tracker", 1, "/q/tracks")
    assert [t for t, _ in b.release()] == [1 * S]
    clock.t = 0.5
    assert b.expire(1.0) == []
    announce(b, "/q/tracker", 5, "/q/tracks")      # the new process joins live at step 5
    assert [t for t, _ in b.release()] == [5 * S]
    assert b.skipped == 3 and dict(b.missed) == {"/q/tracker": 3} and not b.absent


def test_steps_given_up_at_start_up_are_not_missed_steps():
    """Joining a running graph: steps older than a producer's first announcement are not its gap."""
    b = barrier(WallClock())
    announce(b, "/q/sim", 1, "/q/state")           # the tracker's StepDone(1) came before we subscribed
    announce(b, "/q/sim", 2, "/q/state")
    announce(b, "/q/tracker", 2, "/q/tracks")
    assert [t for t, _ in b.release()] == [2 * S]
    assert b.skipped == 1 and dict(b.missed) == {}


def test_a_restart_between_two_steps_is_counted_by_its_new_incarnation():
    """A warm standby takes over before the next step: no step is missed, but the incarnation changes."""
    b = barrier(WallClock())
    for t in (1, 2, 3):
        announce(b, "/q/sim", t, "/q/state", incarnation=7)
    announce(b, "/q/tracker", 1, "/q/tracks", incarnation=100)
    announce(b, "/q/tracker", 2, "/q/tracks", incarnation=100)
    assert dict(b.restarted) == {}                   # the first incarnation heard is not a restart
    announce(b, "/q/tracker", 3, "/q/tracks", incarnation=200)
    assert [t for t, _ in b.release()] == [1 * S, 2 * S, 3 * S]
    assert dict(b.restarted) == {"/q/tracker": 1} and dict(b.missed) == {} and b.incarnation["/q/tracker"] == 200


def test_an_unknown_incarnation_is_never_a_restart():
    """0 (a producer that does not fill the field, e.g. a replayed recording of an older build)."""
    b = barrier(WallClock())
    for t, inc in ((1, 100), (2, 0), (3, 100)):
        announce(b, "/q/tracker", t, "/q/tracks", incarnation=inc)
    assert dict(b.restarted) == {}
