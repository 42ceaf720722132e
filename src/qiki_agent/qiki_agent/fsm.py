"""The agent's behaviour as a state machine declared in YAML (config/fsm/<profile>.yaml).

The YAML says *what* the states and transitions are; the host (the agent node) supplies
guards and entry actions by name. `transitions.Machine` does the state bookkeeping; this
module adds strict config validation with one-line errors, a transition history and an
oscillation guard that stops two states from flapping.
"""
from __future__ import annotations

import difflib
import math
import typing
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Iterable, Mapping, Optional, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from transitions import Machine

ANY = "*"


class FsmConfigError(ValueError):
    """A state-machine config problem; str() is one line: '<file>: <key>: <problem> (<fix>)'."""

    def __init__(self, path: Union[str, Path], key: str, problem: str) -> None:
        super().__init__(" ".join(f"{path}: {key}: {problem}".split()))


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
Names = Annotated[list[Union[Name, typing.Literal["*"]]], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StateSpec(_Strict):
    name: Name
    on_enter: Names = []
    on_exit: Names = []


class TransitionSpec(_Strict):
    trigger: Name
    source: Names = Field(min_length=1)
    dest: Name
    guard: Names = []  # all must return True
    unless: Names = []  # all must return False


class OscillationGuardSpec(_Strict):
    window_s: float = Field(gt=0)
    max_flips: int = Field(ge=2)
    cooldown_s: float = Field(gt=0)
    exempt: Names = []  # triggers never held nor counted (e.g. enter_safe_mode)


class FsmSpec(_Strict):
    initial: Name
    states: list[StateSpec] = Field(min_length=1)
    transitions: list[TransitionSpec] = Field(min_length=1)
    triggers: Names = []  # triggers the host fires; each must have a transition
    oscillation_guard: Optional[OscillationGuardSpec] = None


def load_spec(path: Union[str, Path]) -> FsmSpec:
    """Parse and validate a state-machine YAML file; raise FsmConfigError on the first problem."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise FsmConfigError(path, where, f"YAML syntax error: {err.problem or err.context} (fix the YAML syntax)") from None
    except (OSError, yaml.YAMLError) as err:
        raise FsmConfigError(path, "<file>", f"cannot read: {err}") from None
    if not isinstance(raw, dict):
        raise FsmConfigError(path, "<top level>", f"expected a mapping with keys {_keys(FsmSpec)}, got {type(raw).__name__}")
    try:
        spec = FsmSpec.model_validate(raw)
    except ValidationError as err:
        raise _pydantic_error(path, err) from None
    _check_structure(path, spec)
    return spec


def _keys(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _pydantic_error(path, err: ValidationError) -> FsmConfigError:
    """First pydantic error as '<key path>: <problem> (<fix>)'."""
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if p not in ("function-before[<lambda>(), list[union[constrained-str,literal['*']]]]",))
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "<top level>"
    if first["type"] == "missing":
        problem = "required key is missing (add it)"
    elif first["type"] == "extra_forbidden":
        problem = f"unknown key (remove it; allowed here: {_keys(_model_at(loc[:-1]))})"
    else:
        problem = f"{first['msg']}, got {str(repr(first['input']))[:60]}"
    more = len(err.errors()) - 1
    return FsmConfigError(path, key, problem + (f" [+{more} more]" if more else ""))


def _model_at(loc: tuple) -> type[BaseModel]:
    """The schema model that owns the keys at a location path (for listing allowed keys)."""
    model: type[BaseModel] = FsmSpec
    for part in loc:
        if isinstance(part, str) and part in model.model_fields:
            candidates = [model.model_fields[part].annotation]
            while candidates:
                ann = candidates.pop()
                if isinstance(ann, type) and issubclass(ann, BaseModel):
                    model = ann
                    break
                candidates.extend(typing.get_args(ann))
    return model


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}' ({hint}known: {', '.join(known)})"


def _check_structure(path, spec: FsmSpec) -> None:
    """Cross-references pydantic cannot see: duplicates, unknown states/triggers, unreachable states."""
    names: dict[str, int] = {}
    for i, state in enumerate(spec.states):
        if state.name in names:
            raise FsmConfigError(path, f"states[{i}].name", f"duplicate state '{state.name}' (first defined at states[{names[state.name]}]; rename or remove one)")
        names[state.name] = i
    if spec.initial not in names:
        raise FsmConfigError(path, "initial", _unknown("state", spec.initial, names))
    for i, t in enumerate(spec.transitions):
        for src in t.source:
            if src != ANY and src not in names:
                raise FsmConfigError(path, f"transitions[{i}].source", _unknown("state", src, names))
        if ANY in t.source and len(t.source) > 1:
            raise FsmConfigError(path, f"transitions[{i}].source", "'*' already means every state (use it alone)")
        if t.dest not in names:
            raise FsmConfigError(path, f"transitions[{i}].dest", _unknown("state", t.dest, names))
    known_triggers = {t.trigger for t in spec.transitions}
    for i, trig in enumerate(spec.triggers):
        if trig not in known_triggers:
            raise FsmConfigError(path, f"triggers[{i}]", f"no transition handles trigger '{trig}' (add a transition with trigger: {trig})")
    for i, trig in enumerate(spec.oscillation_guard.exempt if spec.oscillation_guard else []):
        if trig not in known_triggers:
            raise FsmConfigError(path, f"oscillation_guard.exempt[{i}]", _unknown("trigger", trig, sorted(known_triggers)))
    reached, frontier = {spec.initial}, [spec.initial]
    while frontier:
        here = frontier.pop()
        for t in spec.transitions:
            if (ANY in t.source or here in t.source) and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    for name, i in names.items():
        if name not in reached:
            raise FsmConfigError(path, f"states[{i}].name", f"state '{name}' is unreachable from initial '{spec.initial}' (add a transition into it or remove it)")


# ---------------------------------------------------------------- runtime

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
        self._flips: dict[frozenset, deque[float]] = {}
        self._held_until: dict[frozenset, float] = {}
        osc = spec.oscillation_guard
        exempt = set(osc.exempt) if osc else set()

        def bound(kind: str, table: Mapping[str, Callable], names: list[str], key: str) -> list[Callable]:
            for j, name in enumerate(names):
                if name not in table:
                    raise FsmConfigError(path, f"{key}[{j}]", _unknown(kind, name, sorted(table)) + " — provide it in the host or fix the name")
            return [lambda _event, f=table[n]: f() for n in names]

        states = [
            {"name": s.name,
             "on_enter": bound("action", actions, s.on_enter, f"states[{i}].on_enter"),
             "on_exit": bound("action", actions, s.on_exit, f"states[{i}].on_exit")}
            for i, s in enumerate(spec.states)
        ]
        all_states = [s.name for s in spec.states]
        rules = []
        for i, t in enumerate(spec.transitions):
            conditions = [lambda e, g=g: bool(g(e)) for g in bound("guard", guards, t.guard, f"transitions[{i}].guard")]
            unless = bound("guard", guards, t.unless, f"transitions[{i}].unless")
            if osc and t.trigger not in exempt:
                conditions.append(self._pair_open)
            rules.append({"trigger": t.trigger, "source": all_states if ANY in t.source else t.source,
                          "dest": t.dest, "conditions": conditions, "unless": unless})
        self._model = _Model()
        self._machine = Machine(
            model=self._model, states=states, transitions=rules, initial=spec.initial,
            auto_transitions=False, ignore_invalid_triggers=True, send_event=True, queued=True,
            after_state_change=self._record, finalize_event=self._finalize,
        )
        self._triggers = frozenset(t.trigger for t in spec.transitions)
        self._exempt = exempt

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
                raise FsmConfigError(self.path, "transitions", f"no transition handles trigger '{trig}' used by the host (add a transition with trigger: {trig})")

    def start(self) -> None:
        """Run the initial state's entry actions (`transitions` does not run them on construction)."""
        self._machine.get_state(self.state).enter(None)

    def fire(self, trigger: str, now_s: float) -> bool:
        """Try a trigger at time now_s; True if a transition happened, False if none applies,
        guards refuse or the oscillation guard holds. Unknown trigger names raise ValueError."""
        if trigger not in self._triggers:
            raise ValueError(_unknown("trigger", trigger, sorted(self._triggers)))
        self._now = float(now_s)
        if self._result is not None or self._machine._transition_queue:
            return self._model.trigger(trigger)  # nested: queued behind the running transition
        self._result = None
        try:
            self._model.trigger(trigger)
            return bool(self._result)
        finally:
            self._result = None

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
