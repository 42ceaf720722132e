"""The mission's lifecycle beside the FSM: never started, active, complete or aborted, and how it was aborted.

The FSM says what the vehicle does now; the lifecycle remembers what became of the mission across states:
an interruption (safe mode, ALERT -> IDLE under the oscillation guard) is resumed where it stopped, while an
operator's abort or commanded safe mode is not resumed by autostart and restarts from scratch when the
operator starts it again.
"""
from __future__ import annotations

import enum


class MissionResult(str, enum.Enum):
    """AgentStatus.mission_result values."""

    NONE = "none"  # never started (or reset)
    ACTIVE = "active"
    COMPLETE = "complete"
    ABORTED = "aborted"


class MissionLifecycle:
    """Where the mission stands, with named transitions instead of flags set here and there."""

    def __init__(self) -> None:
        self.result = MissionResult.NONE
        self.operator_aborted = False  # aborted by the operator (abort or commanded safe mode): do not resume
        self.safe_mode_commanded = False  # the operator commanded SAFE_MODE (rules must not auto-recover)

    @property
    def active(self) -> bool:
        return self.result is MissionResult.ACTIVE

    @property
    def may_autostart(self) -> bool:
        """Never started, or interrupted (not by the operator): autostart from IDLE (re)starts it."""
        return self.result is MissionResult.NONE or (self.result is MissionResult.ABORTED
                                                     and not self.operator_aborted)

    def start(self) -> str | None:
        """Entering MISSION_ACTIVE. None when already active (back from ALERT); else 'resumed' (an
        interruption: the mission goes on where it stopped) or 'started' (the caller resets the mission)."""
        if self.active:
            return None
        verb = "resumed" if self.result is MissionResult.ABORTED and not self.operator_aborted else "started"
        self.result, self.operator_aborted = MissionResult.ACTIVE, False
        return verb

    def complete(self) -> None:
        self.result = MissionResult.COMPLETE

    def interrupt(self, by_operator: bool) -> None:
        """The running mission stops: resumed later unless the operator stopped it."""
        self.result, self.operator_aborted = MissionResult.ABORTED, by_operator

    def enter_safe_mode(self) -> bool:
        """Entering SAFE_MODE: True if a running mission was aborted (resumed after recovery unless the
        operator commanded the safe mode)."""
        if not self.active:
            return False
        self.interrupt(by_operator=self.safe_mode_commanded)
        return True

    def command_safe_mode(self) -> bool:
        """The operator asks for SAFE_MODE (set before firing: entering it reads the flag); returns the previous
        value for `refused_safe_mode` if the FSM refuses."""
        previous, self.safe_mode_commanded = self.safe_mode_commanded, True
        return previous

    def refused_safe_mode(self, previous: bool) -> None:
        self.safe_mode_commanded = previous

    def reset(self) -> None:
        """Operator reset: back to never started."""
        self.result, self.operator_aborted, self.safe_mode_commanded = MissionResult.NONE, False, False
