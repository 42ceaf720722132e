"""The agent's behaviour as a state machine declared in YAML (config/fsm/<profile>.yaml).

The YAML says *what* the states and transitions are; the host (the agent node) supplies
guards and entry actions by name. `transitions.Machine` does the state bookkeeping; this
module adds strict config validation with one-line errors, a transition history and an
oscillation guard that stops two states from flapping.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Iterable, Literal, Mapping, Optional, Union

from pydantic import BeforeValidator, Field, StringConstraints, ValidationError
from transitions import Machine

from qiki_schema.hinted import HintedError, hinted_validation_error, read_hinted_mapping, unknown
from qiki_schema.strict import StrictTypes

ANY = "*"


class FsmConfigError(HintedError):
    """A state-machine config problem; str() is one line: '<file>: <key>: <problem> (<fix>)'."""


@dataclass(frozen=True)
class Transition:
    """One completed transition, as kept in AgentStateMachine.history."""

    t_s: float
    source: str
    dest: str
    trigger: str


# ---------------------------------------------------------------- schema

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# A single name or a list of names; a bare string is read as a one-element list.
_one_or_many = BeforeValidator(lambda v: [v] if isinstance(v, str) else v)
Names = Annotated[list[Name], _one_or_many]
Sources = Annotated[list[Union[Name, Literal["*"]]], _one_or_many]


class StateSpec(StrictTypes):
    name: Name
    on_enter: Names = []
    on_exit: Names = []


class TransitionSpec(StrictTypes):
    trigger: Name
    source: Sources = Field(min_length=1)
    dest: Name
    guard: Names = []  # all must return True
    unless: Names = []  # all must return False


class OscillationGuardSpec(StrictTypes):
    window_s: float = Field(gt=0)
    max_flips: int = Field(ge=2)
    cooldown_s: float = Field(gt=0)
    exempt: Names = []  # triggers never held nor counted (e.g. enter_safe_mode)


class FsmSpec(StrictTypes):
    initial: Name
    states: list[StateSpec] = Field(min_length=1)
    transitions: list[TransitionSpec] = Field(min_length=1)
    triggers: Names = []  # triggers the host fires; each must have a transition
    oscillation_guard: Optional[OscillationGuardSpec] = None


_SECTIONS = {"states": StateSpec, "transitions": TransitionSpec, "oscillation_guard": OscillationGuardSpec}


def load_spec(path: Union[str, Path]) -> FsmSpec:
    """Parse and validate a state-machine YAML file; raise FsmConfigError on the first problem."""
    raw = read_hinted_mapping(path, FsmConfigError, FsmSpec)
    try:
        spec = FsmSpec.model_validate(raw)
    except ValidationError as err:
        raise hinted_validation_error(path, err, FsmConfigError, FsmSpec, _SECTIONS) from None
    _check_structure(path, spec)
    return spec


def _unhandled(trigger: str) -> str:
    return f"no transition handles trigger '{trigger}' (add a transition with trigger: {trigger})"


def _check_structure(path, spec: FsmSpec) -> None:
    """Cross-references pydantic cannot see."""
    states = _check_states(path, spec)
    _check_references(path, spec, states)
    _check_reachable(path, spec, states)


def _check_states(path, spec: FsmSpec) -> dict[str, int]:
    """State names are unique and the initial state exists; returns name -> index."""
    states: dict[str, int] = {}
    for i, state in enumerate(spec.states):
        if state.name in states:
            first = f"states[{states[state.name]}]"
            raise FsmConfigError(path, f"states[{i}].name",
                                 f"duplicate state '{state.name}' (first defined at {first}; rename or remove one)")
        states[state.name] = i
    if spec.initial not in states:
        raise FsmConfigError(path, "initial", unknown("state", spec.initial, states))
    return states


def _check_references(path, spec: FsmSpec, states: Mapping[str, int]) -> None:
    """Transitions name known states; declared and exempt triggers have transitions."""
    for i, t in enumerate(spec.transitions):
        for src in t.source:
            if src != ANY and src not in states:
                raise FsmConfigError(path, f"transitions[{i}].source", unknown("state", src, states))
        if ANY in t.source and len(t.source) > 1:
            raise FsmConfigError(path, f"transitions[{i}].source", "'*' already means every state (use it alone)")
        if t.dest not in states:
            raise FsmConfigError(path, f"transitions[{i}].dest", unknown("state", t.dest, states))
    known = sorted({t.trigger for t in spec.transitions})
    for i, trig in enumerate(spec.triggers):
        if trig not in known:
            raise FsmConfigError(path, f"triggers[{i}]", _unhandled(trig))
    for i, trig in enumerate(spec.oscillation_guard.exempt if spec.oscillation_guard else []):
        if trig not in known:
            raise FsmConfigError(path, f"oscillation_guard.exempt[{i}]", unknown("trigger", trig, known))


def _check_reachable(path, spec: FsmSpec, states: Mapping[str, int]) -> None:
    """Every state can be reached from the initial state (guards assumed passable)."""
    reached, frontier = {spec.initial}, [spec.initial]
    while frontier:
        here = frontier.pop()
        for t in spec.transitions:
            if (ANY in t.source or here in t.source) and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    for name, i in states.items():
        if name not in reached:
            raise FsmConfigError(path, f"states[{i}].name", f"state '{name}' is unreachable from initial "
                                 f"'{spec.initial}' (add a transition into it or remove it)")


# ---------------------------------------------------------------- runtime

def _bind(path, kind: str, table: Mapping[str, Callable], names: list[str], key: str) -> list[Callable]:
    """Host callables for the YAML names, adapted to transitions' one-argument (EventData) calls."""
    for j, name in enumerate(names):
        if name not in table:
            problem = unknown(kind, name, sorted(table))
            raise FsmConfigError(path, f"{key}[{j}]", f"{problem}; provide it in the host or fix the name")
    return [lambda _event, f=table[name]: f() for name in names]


class _Model:
    """The object `transitions` decorates; holds only `state`."""

    state: str


class AgentStateMachine:
    """A YAML-defined machine bound to host guards/actions, with history and an oscillation guard.

    Exactly like `transitions`, transitions sharing a trigger and source are tried in YAML order
    and the first whose guards pass wins. Entry actions run inside fire(); a fire() issued from
    an action is queued and runs after the current transition (that nested call returns True).
    """

    def __init__(
        self,
        spec: FsmSpec,
        guards: Mapping[str, Callable[[], bool]],
        actions: Mapping[str, Callable[[], None]],
        path: Union[str, Path] = "<fsm>",
        on_transition: Optional[Callable[[Transition], None]] = None,
        on_guard_hold: Optional[Callable[[str, str, float], None]] = None,
        history_len: int = 1000,
    ) -> None:
        self.spec, self.path = spec, str(path)
        self.on_transition, self.on_guard_hold = on_transition, on_guard_hold
        self._history: deque[Transition] = deque(maxlen=history_len)
        self._now = -math.inf
        self._result: Optional[bool] = None
        self._busy = False
        self._flips: dict[frozenset, deque[float]] = {}
        self._held_until: dict[frozenset, float] = {}
        osc = spec.oscillation_guard
        self._exempt = set(osc.exempt) if osc else set()
        self._triggers = frozenset(t.trigger for t in spec.transitions)

        states = [
            {"name": s.name,
             "on_enter": _bind(path, "action", actions, s.on_enter, f"states[{i}].on_enter"),
             "on_exit": _bind(path, "action", actions, s.on_exit, f"states[{i}].on_exit")}
            for i, s in enumerate(spec.states)
        ]
        self._entry = {s["name"]: s["on_enter"] for s in states}
        every_state = [s.name for s in spec.states]
        rules = []
        for i, t in enumerate(spec.transitions):
            conditions = _bind(path, "guard", guards, t.guard, f"transitions[{i}].guard")
            if osc and t.trigger not in self._exempt:
                conditions.append(self._pair_open)
            rules.append({
                "trigger": t.trigger, "dest": t.dest,
                "source": every_state if ANY in t.source else t.source,
                "conditions": conditions,
                "unless": _bind(path, "guard", guards, t.unless, f"transitions[{i}].unless"),
            })
        self._model = _Model()
        self._machine = Machine(
            model=self._model, states=states, transitions=rules, initial=spec.initial,
            auto_transitions=False, ignore_invalid_triggers=True, send_event=True, queued=True,
            after_state_change=self._record, finalize_event=self._finalize,
        )

    @classmethod
    def from_yaml(cls, path: Union[str, Path], guards: Mapping[str, Callable[[], bool]],
                  actions: Mapping[str, Callable[[], None]], **kwargs) -> "AgentStateMachine":
        """Load config/fsm/<profile>.yaml and bind it to the host's guards and actions."""
        return cls(load_spec(path), guards, actions, path=path, **kwargs)

    @property
    def state(self) -> str:
        return self._model.state

    @property
    def history(self) -> list[Transition]:
        return list(self._history)

    def triggers_available(self) -> list[str]:
        """Triggers with a transition out of the current state (guards not evaluated)."""
        return sorted(self._machine.get_triggers(self.state))

    def validate_triggers(self, required: Iterable[str]) -> None:
        """Fail fast if the host will fire a trigger that no transition handles."""
        for trig in required:
            if trig not in self._triggers:
                raise FsmConfigError(self.path, "transitions", _unhandled(trig) + " [required by the host]")

    def validate_states(self, required: Iterable[str]) -> None:
        """Fail fast if the host relies on a state the YAML does not define."""
        known = [s.name for s in self.spec.states]
        for name in required:
            if name not in known:
                raise FsmConfigError(self.path, "states", f"no state '{name}' [required by the host] "
                                     f"(states here: {', '.join(known)})")

    def start(self) -> None:
        """Run the initial state's entry actions (`transitions` does not run them on construction)."""
        for action in self._entry[self.state]:
            action(None)

    def fire(self, trigger: str, now_s: float) -> bool:
        """Try a trigger at time now_s; True if a transition happened, False if none applies,
        guards refuse or the oscillation guard holds. Unknown trigger names raise ValueError."""
        if trigger not in self._triggers:
            raise ValueError(unknown("trigger", trigger, sorted(self._triggers)))
        self._now = float(now_s)
        if self._busy:  # fired from an action: queued behind the running transition
            return self._model.trigger(trigger)
        self._busy, self._result = True, None
        try:
            self._model.trigger(trigger)
            return bool(self._result)
        finally:
            self._busy = False

    # -- callbacks wired into transitions.Machine (send_event=True: each gets EventData)

    def _finalize(self, event) -> None:
        if self._result is None:  # the outermost event finalizes first when queued
            self._result = bool(event.result)

    def _pair_open(self, event) -> bool:
        pair = frozenset((event.state.name, event.transition.dest))
        return self._now >= self._held_until.get(pair, -math.inf)

    def _record(self, event) -> None:
        step = Transition(self._now, event.transition.source, event.transition.dest, event.event.name)
        self._history.append(step)
        if self.spec.oscillation_guard and step.trigger not in self._exempt and step.source != step.dest:
            self._count_flip(step)
        if self.on_transition:
            self.on_transition(step)

    def _count_flip(self, step: Transition) -> None:
        """Hold a state pair for cooldown_s once it has flipped max_flips times within window_s."""
        osc = self.spec.oscillation_guard
        pair = frozenset((step.source, step.dest))
        times = self._flips.setdefault(pair, deque())
        times.append(step.t_s)
        while times and times[0] < step.t_s - osc.window_s:
            times.popleft()
        if len(times) >= osc.max_flips:
            times.clear()
            until = step.t_s + osc.cooldown_s
            self._held_until[pair] = until
            if self.on_guard_hold:
                self.on_guard_hold(step.source, step.dest, until)
