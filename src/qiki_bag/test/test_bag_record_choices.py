"""Pure choices of `qiki bag record`: which topics' history a recording takes, and the one line a
recording ends with after a write error (parsed back by `qiki run --record` for summary.json)."""
from hypothesis import given
from hypothesis import strategies as st
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from qiki_bag.commands import parse_write_error, write_error_line
from qiki_bag.recorder import LATCHED_MAX_DEPTH, adapted_qos, takes_history
from qiki_ros import qos


def _pub(durability, depth=1000, reliability=ReliabilityPolicy.RELIABLE):
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability, durability=durability)


def test_a_recording_takes_the_history_of_latched_states_only_unless_asked():
    tl, vol = DurabilityPolicy.TRANSIENT_LOCAL, DurabilityPolicy.VOLATILE
    assert takes_history([qos.LATCHED], include_history=False)           # agent status: the current state
    for stream in (qos.STREAM, qos.EVENTS, qos.SYNC):                      # old steps / events: not now
        assert not takes_history([stream], include_history=False)
        assert takes_history([stream], include_history=True) == (stream.durability == tl)
    assert not takes_history([_pub(tl, LATCHED_MAX_DEPTH), _pub(vol, 1)], include_history=True)
    assert not takes_history([], include_history=True)


def test_adapted_qos_is_reliable_only_when_every_publisher_is():
    tl = DurabilityPolicy.TRANSIENT_LOCAL
    both = adapted_qos([_pub(tl, 5), _pub(tl, 5, ReliabilityPolicy.BEST_EFFORT)])
    assert (both.reliability, both.durability) == (ReliabilityPolicy.BEST_EFFORT, tl)
    stream = adapted_qos([qos.STREAM])
    assert (stream.reliability, stream.durability, stream.history) == (
        ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE, HistoryPolicy.KEEP_ALL)


@given(out=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40),
       problem=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60),
       kept=st.integers(0, 10**9), unindexed=st.integers(0, 10**9))
def test_the_write_error_line_is_one_line_and_parses_back(out, problem, kept, unindexed):
    class Problem:
        pass
    error = Problem()
    error.problem = problem
    line = write_error_line(out, error, kept, unindexed)
    assert "\n" not in line and f"qiki bag reindex {out}" in line
    if "recording stopped, " not in out:
        assert parse_write_error(line) == (kept, problem)
    assert parse_write_error("qiki bag record: recorded 12 messages (0.01 MB) on 2 topics") is None


def test_a_stuck_teardown_ends_the_process_with_its_exit_code(tmp_path):
    """TeardownDeadline: a teardown that does not finish in time leaves the process with the code the
    recording earned (the bag is closed before the teardown starts), with one log line."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    src = Path(__file__).resolve().parents[3] / "src"
    code = ("import sys, time\n"
            "from qiki_bag.commands import TeardownDeadline\n"
            "TeardownDeadline(0.5, lambda text: print(text, file=sys.stderr)).start(3)\n"
            "time.sleep(60)\n")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": f"{src / 'qiki_bag'}:{src / 'qiki_ros'}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 3 and time.monotonic() - t0 < 30, done.stderr
    assert done.stderr.strip().splitlines() == ["ROS teardown still running after 0.5 s: exiting with code 3"]
