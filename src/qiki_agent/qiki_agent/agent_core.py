"""The agent's decision core: BIOS self test and the YAML state machine, driven by ticks of sim time.

Plain Python (no ROS): the node feeds it device health and operator commands and publishes what it
reports; unit tests drive it directly. Events go out through the `emit(code, severity, text)` callback.
"""
from __future__ import annotations

from typing import Callable

from qiki_agent.agent_config import AgentNodeConfig
from qiki_agent.bios import OK, BiosResult, Reading, SelfTest, Threshold
from qiki_agent.fsm import AgentStateMachine, Transition
from qiki_ros.events import EventCode

INFO, WARN, ERROR = 0, 1, 2
#: Operator command number (OperatorCommand.srv) -> FSM trigger.
OPERATOR_TRIGGERS = {1: "start_mission", 2: "abort", 3: "enter_safe_mode", 4: "reset"}


class AgentCore:
    def __init__(self, cfg: AgentNodeConfig, emit: Callable[[int, int, str], None]):
        self.cfg = cfg
        self.emit = emit
        b = cfg.bios
        self.self_test = SelfTest(b.devices, {"power": Threshold(b.power_warn_below, b.power_error_below)}
                                  if "power" in b.devices else None, stale_after_s=b.stale_after_s)
        self.readings: dict[str, Reading] = {}
        self.bios: BiosResult | None = None
        self.bios_seq = 0
        self.now_s = 0.0
        self._boot_t: float | None = None
        self._next_test_s = 0.0
        self.fsm = AgentStateMachine.from_yaml(
            cfg.fsm_file,
            guards={"all_systems_go": lambda: bool(self.bios and self.bios.all_systems_go),
                    "mission_pending": lambda: False},
            actions={"run_self_test": self._on_boot, "start_mission": lambda: None,
                     "start_avoidance": lambda: None, "stop_vehicle": lambda: None},
            on_transition=self._on_transition,
            on_guard_hold=lambda a, b, until: self.emit(
                EventCode.FSM_OSCILLATION_HOLD, WARN, f"{a} <-> {b} flapping: held until t={until:.1f} s"),
        )
        self.fsm.validate_triggers(list(OPERATOR_TRIGGERS.values()) + ["self_test_passed", "self_test_failed"])

    # --- inputs -------------------------------------------------------------------------------
    def on_device_health(self, names, levels, values, stamp_s: float) -> None:
        for name, level, value in zip(names, levels, values):
            self.readings[name] = Reading(int(level), float(value), stamp_s)

    def start(self, now_s: float) -> None:
        self.now_s = now_s
        self.emit(EventCode.BOOT_STARTED, INFO, f"agent booting, state machine {self.cfg.fsm_file}")
        self.fsm.start()

    def tick(self, now_s: float) -> None:
        """Advance the agent to sim time now_s: self test when due, boot decisions."""
        self.now_s = now_s
        if now_s >= self._next_test_s:
            self.run_self_test()
        if self.fsm.state == "BOOTING":
            if self.bios and self.bios.all_systems_go:
                if self.fsm.fire("self_test_passed", now_s):
                    self.emit(EventCode.BOOT_COMPLETE, INFO, f"boot complete in {now_s - self._boot_t:.2f} s")
            elif now_s - self._boot_t >= self.cfg.bios.boot_timeout_s:
                self.fsm.fire("self_test_failed", now_s)

    def command(self, number: int) -> tuple[bool, str]:
        """Operator command -> (accepted, reason); the resulting state is `self.fsm.state`."""
        trigger = OPERATOR_TRIGGERS.get(number)
        if trigger is None:
            return False, f"unknown command {number} (valid: {sorted(OPERATOR_TRIGGERS)})"
        before = self.fsm.state
        if self.fsm.fire(trigger, self.now_s):
            return True, f"{trigger}: {before} -> {self.fsm.state}"
        reason = f"{trigger} not allowed in state {before}"
        self.emit(EventCode.FSM_TRIGGER_REFUSED, WARN, reason)
        return False, reason

    # --- internals ----------------------------------------------------------------------------
    def run_self_test(self) -> BiosResult:
        previous = self.bios
        self.bios = self.self_test.run(self.now_s, self.readings)
        self.bios_seq += 1
        self._next_test_s = self.now_s + self.cfg.bios.retest_s
        if previous is None or previous.all_systems_go != self.bios.all_systems_go:
            bad = [f"{d.name}={d.level}" for d in self.bios.devices if d.level != OK]
            if self.bios.all_systems_go:
                self.emit(EventCode.BIOS_PASSED, INFO, f"self test passed, health {self.bios.health_score:.2f}")
            else:
                self.emit(EventCode.BIOS_FAILED, ERROR if previous else WARN,
                          f"self test: not all systems go ({', '.join(bad)})")
        return self.bios

    def _on_boot(self) -> None:
        self._boot_t = self.now_s
        self._next_test_s = self.now_s

    def _on_transition(self, tr: Transition) -> None:
        self.emit(EventCode.FSM_TRANSITION, INFO, f"{tr.source} -> {tr.dest} ({tr.trigger})")
