"""qiki_bag.drain: a stopped recorder waits for the writers that may still have samples from before the stop on
their way, and for no other."""
from hypothesis import given, strategies as st

from qiki_bag.drain import QUIET_NS, pending_writers

S = 1_000_000_000


def test_silent_writers_and_writers_heard_well_after_the_stop_are_done():
    stop = 100 * S
    last = {"silent long": stop - 3 * S, "just heard": stop - S // 10, "diagnostics after stop": stop + S,
            "in flight at stop": stop + S // 10}
    assert sorted(pending_writers(last, stop, stop + S // 5)) == ["in flight at stop", "just heard"]
    assert pending_writers(last, stop, stop + 2 * S) == []            # everyone quiet or heard after the stop


@given(st.dictionaries(st.integers(0, 20), st.integers(0, 10 * S)), st.integers(0, 10 * S), st.integers(0, 10 * S),
       st.integers(0, 10 * S))
def test_the_drain_ends_within_one_quiet_period_of_silence_and_never_waits_again(last, stop, delay, later):
    """Without new samples a drain ends at most QUIET_NS after the stop, and a writer once done stays done."""
    now = stop + delay
    if delay >= QUIET_NS and all(rx <= stop for rx in last.values()):
        assert pending_writers(last, stop, now) == []
    done_now = set(last) - set(pending_writers(last, stop, now))
    assert done_now.isdisjoint(pending_writers(last, stop, now + later))
    heard_late = {w for w, rx in last.items() if rx >= stop + QUIET_NS}
    assert heard_late.isdisjoint(pending_writers(last, stop, now))
