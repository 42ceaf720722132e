"""MissionLifecycle: started, resumed after an interruption, not resumed after the operator stopped it."""
from qiki_agent.mission_lifecycle import MissionLifecycle, MissionResult


def test_start_complete_and_back_from_alert():
    m = MissionLifecycle()
    assert m.result is MissionResult.NONE and m.may_autostart
    assert m.start() == "started" and m.active and not m.may_autostart
    assert m.start() is None  # back from ALERT: nothing to do
    m.complete()
    assert m.result.value == "complete" and not m.may_autostart


def test_interruption_resumes_operator_abort_restarts():
    m = MissionLifecycle()
    m.start()
    m.interrupt(by_operator=False)
    assert m.result is MissionResult.ABORTED and m.may_autostart and m.start() == "resumed"
    m.interrupt(by_operator=True)
    assert not m.may_autostart and m.start() == "started"


def test_safe_mode_commanded_or_not_and_reset():
    m = MissionLifecycle()
    m.start()
    assert m.enter_safe_mode() and m.may_autostart  # rules' safe mode: resumed after recovery
    assert not m.enter_safe_mode()  # nothing running any more
    m.start()
    previous = m.command_safe_mode()
    assert not previous and m.safe_mode_commanded
    assert m.enter_safe_mode() and not m.may_autostart
    m.refused_safe_mode(previous)
    assert not m.safe_mode_commanded
    m.command_safe_mode()
    m.reset()
    assert (m.result, m.operator_aborted, m.safe_mode_commanded) == (MissionResult.NONE, False, False)
