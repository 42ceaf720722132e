"""Safety rules declared in YAML (config/rules/<profile>.yaml), evaluated every agent tick.

Each rule says: in these FSM states (`when`), if this condition on the `Facts` snapshot has held
for `for_s` seconds, fire this FSM trigger (then stay quiet for `cooldown_s`). Rules are listed in
priority order: the first one in the file wins. Conditions are a structured, data-only language
(no eval):

    {fact: <name>, <op>: <value>}      op: eq, ne, lt, le, gt, ge, in (value: a list for `in`)
    {all: [<cond>, ...]}  {any: [<cond>, ...]}  {not: <cond>}

Facts are typed (see `Facts`); the loader rejects unknown facts, operators that make no sense for
the fact's type (lt on a bool) and values of the wrong type. The optional `threat:` section holds
the ThreatAssessment parameters that define `threat_count`, `min_tcpa_s` and `min_dcpa_m`.

Every config problem raises RulesConfigError whose str() is one line:
'<file>: <key path>: <problem> (<fix>)'.
"""
from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Literal, Optional, Union

from pydantic import BeforeValidator, Field, StringConstraints, ValidationError

from qiki_agent.threat import ThreatParams
from qiki_schema.hinted import HintedError, hinted_validation_error, read_hinted_mapping, unknown
from qiki_schema.strict import StrictTypes

ANY_STATE = "*"


class RulesConfigError(HintedError):
    """A rules config problem; str() is one line: '<file>: <key>: <problem> (<fix>)'."""


# ---------------------------------------------------------------- facts

@dataclass(frozen=True)
class Facts:
    """What the agent knows at one tick. The host fills every field (no defaults on purpose)."""

    state: str  # current FSM state
    seconds_in_state: float  # since the last transition [s]
    bios_ok: bool  # latest self test says all systems go (BiosResult.all_systems_go); False before the first
    health_score: float  # latest BiosResult.health_score in [0, 1]; 0 before the first
    seconds_since_radar_frame: float  # since the last radar/track frame; since agent start if none yet [s]
    seconds_since_tracks: float  # since the last track array from the tracker; since agent start if none yet [s]
    upstream_silent: int  # upstream nodes (sim, radar, tracker) whose step heartbeat the barrier lost
    seconds_since_upstream_gap: float  # since an upstream node came back restarted (missed steps or a new
    #                                    StepDone.incarnation: its state is gone); inf if never [s]
    threat_count: int  # ThreatReport.count
    min_tcpa_s: float  # ThreatReport.min_tcpa_s (inf when no threat) [s]
    min_dcpa_m: float  # ThreatReport.min_dcpa_m (inf when no threat) [m]
    mission_pending: bool  # a mission was started and is neither done nor aborted
    mission_done: bool  # the running mission reports done
    mission_progress: float  # running mission progress in [0, 1]
    safe_mode_commanded: bool  # the operator commanded SAFE_MODE (rules must not auto-recover)


#: fact name -> python type, from the Facts annotations.
FACT_TYPES: dict[str, type] = {
    f.name: {"str": str, "bool": bool, "int": int, "float": float}[f.type] for f in dataclasses.fields(Facts)
}

_NUMERIC_OPS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_EQ_OPS = {"eq": operator.eq, "ne": operator.ne}
OPS = {**_EQ_OPS, **_NUMERIC_OPS, "in": lambda a, b: a in b}
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in"}
_COMBINATORS = ("all", "any", "not")


# ---------------------------------------------------------------- conditions (compiled)

@dataclass(frozen=True)
class Compare:
    fact: str
    op: str
    value: Any

    def test(self, facts: Facts) -> bool:
        return bool(OPS[self.op](getattr(facts, self.fact), self.value))

    def describe(self, facts: Facts) -> str:
        got = getattr(facts, self.fact)
        got = f"{got:.3g}" if isinstance(got, float) else got
        return f"{self.fact}={got} {_SYMBOL[self.op]} {self.value}"


@dataclass(frozen=True)
class All:
    items: tuple

    def test(self, facts: Facts) -> bool:
        return all(c.test(facts) for c in self.items)

    def describe(self, facts: Facts) -> str:
        return " and ".join(_wrap(c, facts) for c in self.items)


@dataclass(frozen=True)
class AnyOf:
    items: tuple

    def test(self, facts: Facts) -> bool:
        return any(c.test(facts) for c in self.items)

    def describe(self, facts: Facts) -> str:
        # only the parts that hold explain why the rule fired
        return " or ".join(_wrap(c, facts) for c in self.items if c.test(facts)) or "none"


@dataclass(frozen=True)
class Not:
    item: Any

    def test(self, facts: Facts) -> bool:
        return not self.item.test(facts)

    def describe(self, facts: Facts) -> str:
        return f"not {_wrap(self.item, facts)}"


Condition = Union[Compare, All, AnyOf, Not]


def _wrap(c, facts: Facts) -> str:
    text = c.describe(facts)
    return f"({text})" if isinstance(c, (All, AnyOf)) and len(c.items) > 1 else text


# ---------------------------------------------------------------- schema

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_one_or_many = BeforeValidator(lambda v: [v] if isinstance(v, str) else v)
States = Annotated[list[Union[Name, Literal["*"]]], _one_or_many]


class RuleSpec(StrictTypes):
    name: Name
    when: States = Field(min_length=1)  # FSM states the rule is active in; '*' = every state
    condition: dict[str, Any]  # structured condition, compiled by _compile
    trigger: Name
    for_s: float = Field(0.0, ge=0, allow_inf_nan=False)  # the condition must hold continuously this long
    cooldown_s: float = Field(0.0, ge=0, allow_inf_nan=False)  # after an attempt, skip the rule this long
    description: str = ""


class RulesSpec(StrictTypes):
    threat: Optional[ThreatParams] = None
    rules: list[RuleSpec] = Field(min_length=1)


_SECTIONS = {"rules": RuleSpec, "threat": ThreatParams}


# ---------------------------------------------------------------- loading

@dataclass(frozen=True)
class Rule:
    """A validated, compiled rule."""

    name: str
    when: frozenset  # empty = every state
    condition: Condition
    trigger: str
    for_s: float
    cooldown_s: float
    description: str = ""

    def active_in(self, state: str) -> bool:
        return not self.when or state in self.when


def load_rules(path: Union[str, Path], triggers: Iterable[str], states: Optional[Iterable[str]] = None,
               transitions: Optional[Iterable[tuple[str, Iterable[str]]]] = None,
               ) -> tuple[list[Rule], Optional[ThreatParams]]:
    """Parse, validate and compile a rules file.

    triggers: valid FSM trigger names. states: valid FSM state names (None: not checked).
    transitions: (trigger, sources) pairs; when given, every rule's trigger must have a transition
    out of each of its `when` states ('*' sources match all).
    """
    raw = read_hinted_mapping(path, RulesConfigError, RulesSpec, "start the file with 'rules:'")
    try:
        spec = RulesSpec.model_validate(raw)
    except ValidationError as err:
        raise hinted_validation_error(path, err, RulesConfigError, RulesSpec, _SECTIONS) from None
    triggers = sorted(set(triggers))
    states = list(dict.fromkeys(states)) if states is not None else None
    trans = [(t, set(src)) for t, src in transitions] if transitions is not None else None
    seen: dict[str, int] = {}
    rules = []
    for i, r in enumerate(spec.rules):
        key = f"rules[{i}]"
        if r.name in seen:
            raise RulesConfigError(path, f"{key}.name", f"duplicate rule '{r.name}' (first defined at "
                                   f"rules[{seen[r.name]}]; rename or remove one)")
        seen[r.name] = i
        if r.trigger not in triggers:
            raise RulesConfigError(path, f"{key}.trigger", unknown("trigger", r.trigger, triggers))
        when = _check_when(path, key, r.when, states)
        if trans is not None:
            _check_fireable(path, key, r, when or set(states or []), trans)
        condition = _compile(path, f"{key}.condition", r.condition, states)
        rules.append(Rule(r.name, frozenset(when), condition, r.trigger, r.for_s, r.cooldown_s, r.description))
    return rules, spec.threat


def _check_when(path, key: str, when: list[str], states: Optional[list[str]]) -> set[str]:
    """Set of states ('*' -> empty set meaning all)."""
    if ANY_STATE in when:
        if len(when) > 1:
            raise RulesConfigError(path, f"{key}.when", "'*' already means every state (use it alone)")
        return set()
    for j, s in enumerate(when):
        if states is not None and s not in states:
            raise RulesConfigError(path, f"{key}.when[{j}]", unknown("state", s, states))
    return set(when)


def _check_fireable(path, key: str, rule: RuleSpec, when: set[str], trans) -> None:
    sources = set().union(*(src for t, src in trans if t == rule.trigger))
    if ANY_STATE in sources:
        return
    for j, s in enumerate(rule.when if rule.when != [ANY_STATE] else sorted(when)):
        if s not in sources:
            where = f"{key}.when[{j}]" if rule.when != [ANY_STATE] else f"{key}.when"
            raise RulesConfigError(path, where, f"trigger '{rule.trigger}' has no transition out of state '{s}' "
                                   f"(leaves: {', '.join(sorted(sources)) or 'none'}; drop the state or "
                                   "change the trigger)")


def _compile(path, key: str, raw: Any, states: Optional[list[str]]) -> Condition:
    """Structured condition -> Compare/All/AnyOf/Not, with one-line errors naming the key path."""
    if not isinstance(raw, dict):
        raise RulesConfigError(path, key, f"expected a condition mapping, got {type(raw).__name__} "
                               f"{repr(raw)[:40]} (write e.g. {{fact: bios_ok, eq: false}} or {{all: [...]}})")
    heads = [k for k in ("fact", *_COMBINATORS) if k in raw]
    if len(heads) != 1:
        problem = "has several of" if heads else "needs exactly one of"
        raise RulesConfigError(path, key, f"condition {problem} fact, all, any, not (use one per mapping; "
                               "combine with all/any)")
    head = heads[0]
    if head in ("all", "any"):
        _only(path, key, raw, {head})
        items = raw[head]
        if not isinstance(items, list) or not items:
            raise RulesConfigError(path, f"{key}.{head}", f"expected a non-empty list of conditions, got "
                                   f"{repr(items)[:40]} (list at least one condition)")
        compiled = tuple(_compile(path, f"{key}.{head}[{i}]", c, states) for i, c in enumerate(items))
        return All(compiled) if head == "all" else AnyOf(compiled)
    if head == "not":
        _only(path, key, raw, {"not"})
        return Not(_compile(path, f"{key}.not", raw["not"], states))
    return _compile_compare(path, key, raw, states)


def _only(path, key: str, raw: dict, allowed: set[str]) -> None:
    for k in raw:
        if k not in allowed:
            raise RulesConfigError(path, f"{key}.{k}", f"unknown key next to '{next(iter(allowed))}' "
                                   "(remove it; nest conditions inside all/any)")


def _compile_compare(path, key: str, raw: dict, states: Optional[list[str]]) -> Compare:
    fact = raw["fact"]
    if not isinstance(fact, str) or fact not in FACT_TYPES:
        raise RulesConfigError(path, f"{key}.fact", unknown("fact", str(fact), FACT_TYPES))
    kind = FACT_TYPES[fact]
    allowed = list(_EQ_OPS) + (["in"] if kind is not bool else []) + (list(_NUMERIC_OPS) if kind in (int, float)
                                                                       else [])
    ops = [k for k in raw if k != "fact"]
    for k in ops:
        if k not in OPS:
            raise RulesConfigError(path, f"{key}.{k}", unknown("operator", k, allowed))
        if k not in allowed:
            raise RulesConfigError(path, f"{key}.{k}", f"operator '{k}' does not apply to {kind.__name__} fact "
                                   f"'{fact}' (use one of: {', '.join(allowed)})")
    if len(ops) != 1:
        raise RulesConfigError(path, key, f"comparison on '{fact}' needs exactly one operator, got "
                               f"{len(ops)} (use one of: {', '.join(allowed)}; combine with all/any)")
    op, value = ops[0], raw[ops[0]]
    vkey = f"{key}.{op}"
    if op == "in":
        if not isinstance(value, list) or not value:
            raise RulesConfigError(path, vkey, f"expected a non-empty list, got {repr(value)[:40]} "
                                   "(write e.g. in: [IDLE, ALERT])")
        for j, v in enumerate(value):
            _check_value(path, f"{vkey}[{j}]", fact, kind, v, states)
        value = tuple(value)
    else:
        _check_value(path, vkey, fact, kind, value, states)
    return Compare(fact, op, value)


def _check_value(path, key: str, fact: str, kind: type, v: Any, states: Optional[list[str]]) -> None:
    if kind is bool:
        ok = isinstance(v, bool)
    elif kind is str:
        ok = isinstance(v, str)
    else:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
    if not ok:
        raise RulesConfigError(path, key, f"'{fact}' is a {kind.__name__} fact, got {type(v).__name__} "
                               f"{repr(v)[:40]} (give a {kind.__name__} value)")
    if kind is str and fact == "state" and states is not None and v not in states:
        raise RulesConfigError(path, key, unknown("state", v, states))


# ---------------------------------------------------------------- runtime

@dataclass(frozen=True)
class Firing:
    """A rule that is due: its trigger, and why (one line, for the events topic)."""

    rule: str
    trigger: str
    t_s: float
    reason: str


class RuleEngine:
    """Evaluates compiled rules against Facts, keeping the per-rule hold (for_s) and cooldown timers."""

    def __init__(self, rules: list[Rule], threat: Optional[ThreatParams] = None, path: str = "<rules>") -> None:
        self.rules = list(rules)
        self.threat = threat
        self.path = str(path)
        self.reset()

    @classmethod
    def from_yaml(cls, path: Union[str, Path], fsm=None, *, triggers: Optional[Iterable[str]] = None,
                  states: Optional[Iterable[str]] = None) -> "RuleEngine":
        """Load config/rules/<profile>.yaml. Pass the FsmSpec (qiki_agent.fsm.load_spec) to check triggers,
        states and that each rule's trigger can leave each of its states; or just the names."""
        transitions = None
        if fsm is not None:
            triggers = [t.trigger for t in fsm.transitions]
            states = [s.name for s in fsm.states]
            transitions = [(t.trigger, t.source) for t in fsm.transitions]
        if triggers is None:
            raise TypeError("from_yaml needs the FsmSpec or the list of valid triggers")
        rules, threat = load_rules(path, triggers, states, transitions)
        return cls(rules, threat, path=str(path))

    def reset(self) -> None:
        """Forget hold and cooldown timers (e.g. after a sim reset)."""
        self._held_since: dict[str, float] = {}
        self._last_attempt: dict[str, float] = {}
        self._last_now = -math.inf

    def evaluate(self, facts: Facts, now_s: float) -> list[Firing]:
        """Rules due at now_s, in priority order. Updates hold timers; cooldowns start in `attempted`/`step`."""
        if now_s < self._last_now:  # time went backwards: sim restarted
            self.reset()
        self._last_now = now_s
        due = []
        for rule in self.rules:
            if not (rule.active_in(facts.state) and rule.condition.test(facts)):
                self._held_since.pop(rule.name, None)
                continue
            since = self._held_since.setdefault(rule.name, now_s)
            held = now_s - since
            if held + 1e-9 < rule.for_s:
                continue
            if now_s - self._last_attempt.get(rule.name, -math.inf) + 1e-9 < rule.cooldown_s:
                continue
            reason = f"{rule.name}: {rule.condition.describe(facts)}" + (f" for {held:.1f} s" if rule.for_s else "")
            due.append(Firing(rule.name, rule.trigger, now_s, reason))
        return due

    def attempted(self, firing: Firing) -> None:
        """Start the cooldown of a rule whose trigger was fired (accepted or not)."""
        self._last_attempt[firing.rule] = firing.t_s

    def step(self, facts: Facts, now_s: float, fire: Callable[[str, float], bool]) -> Optional[Firing]:
        """Fire due rules in priority order until the FSM accepts one (fire(trigger, now_s) -> bool);
        return that firing, or None. Every attempted rule starts its cooldown; lower-priority rules
        after an accepted one are not tried this tick (the state has changed)."""
        for firing in self.evaluate(facts, now_s):
            self.attempted(firing)
            if fire(firing.trigger, now_s):
                return firing
        return None
