"""World objects with scripted motion, held as struct-of-arrays and stepped without per-object loops.

Behaviours: static, constant_velocity, turn (constant speed, constant CCW turn rate of the
velocity in the x-y plane, exact arc integration) and stop_and_go (moves at its velocity for
go_s, stands for stop_s, repeats; displacement integrated exactly across phase changes).
Same objects + same rng seed -> bit-identical truth.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .scenario import KIND_BY_NAME, ObjectSpec, RandomMoversSpec, assign_ids

BEHAVIOUR_STATIC, BEHAVIOUR_CONSTANT_VELOCITY, BEHAVIOUR_TURN, BEHAVIOUR_STOP_AND_GO = 0, 1, 2, 3
BEHAVIOUR_BY_NAME = {"static": 0, "constant_velocity": 1, "turn": 2, "stop_and_go": 3}


@dataclass(frozen=True)
class Truth:
    """Ground truth snapshot (copies), laid out as WorldTruth.msg."""

    time_s: float
    id: np.ndarray  # (N,) uint32
    kind: np.ndarray  # (N,) uint8 KIND_*
    position: np.ndarray  # (N, 3) [m]
    velocity: np.ndarray  # (N, 3) [m/s]
    rcs_m2: np.ndarray  # (N,)
    radius_m: np.ndarray  # (N,)
    transponder_code: np.ndarray  # (N,) uint32, 0 = none


def go_time(t: np.ndarray, go_s: np.ndarray, period_s: np.ndarray) -> np.ndarray:
    """Total time spent moving in [0, t] for a cycle that moves for go_s then stops until period_s."""
    return np.floor(t / period_s) * go_s + np.minimum(np.mod(t, period_s), go_s)


class World:
    """N scripted objects; step(dt) advances them all, truth() returns copies."""

    def __init__(self, id: Any, kind: Any, position: Any, velocity: Any, rcs_m2: Any, radius_m: Any,
                 transponder_code: Any, behaviour: Any = None, turn_rate_radps: Any = None,
                 go_s: Any = None, stop_s: Any = None, phase_s: Any = None) -> None:
        self.id = np.asarray(id, dtype=np.uint32).reshape(-1)
        n = self.id.size
        self.kind = np.asarray(kind, dtype=np.uint8).reshape(n)
        self.position = np.array(position, dtype=np.float64).reshape(n, 3)
        self.velocity = np.array(velocity, dtype=np.float64).reshape(n, 3)
        self.rcs_m2 = np.array(rcs_m2, dtype=np.float64).reshape(n)
        self.radius_m = np.array(radius_m, dtype=np.float64).reshape(n)
        self.transponder_code = np.asarray(transponder_code, dtype=np.uint32).reshape(n)
        self.behaviour = (np.full(n, BEHAVIOUR_CONSTANT_VELOCITY, np.uint8) if behaviour is None
                          else np.asarray(behaviour, dtype=np.uint8).reshape(n))
        self.turn_rate_radps = np.zeros(n) if turn_rate_radps is None else np.array(turn_rate_radps, float).reshape(n)
        self.go_s = np.ones(n) if go_s is None else np.array(go_s, float).reshape(n)
        self.stop_s = np.zeros(n) if stop_s is None else np.array(stop_s, float).reshape(n)
        self.phase_s = np.zeros(n) if phase_s is None else np.array(phase_s, float).reshape(n)
        if np.unique(self.id).size != n:
            raise ValueError("world object ids must be unique")
        self._static = self.behaviour == BEHAVIOUR_STATIC
        self._cv = self.behaviour == BEHAVIOUR_CONSTANT_VELOCITY
        self._turn = self.behaviour == BEHAVIOUR_TURN
        self._sag = self.behaviour == BEHAVIOUR_STOP_AND_GO
        self.velocity[self._static] = 0.0
        self._cruise = self.velocity[self._sag].copy()  # stop_and_go velocity while moving
        self._period = (self.go_s + self.stop_s)[self._sag]
        self._sag_go = self.go_s[self._sag]
        self.time_s = 0.0
        self._set_sag_velocity(self.phase_s[self._sag])

    @classmethod
    def from_scenario(cls, objects_spec: Any, rng: np.random.Generator,
                      random_movers: RandomMoversSpec | dict | None = None) -> World:
        """Build from a Scenario (its objects and random_movers) or a list of ObjectSpec/dicts.

        Objects without an id get the smallest unused ids from 1 up, in file order, then the
        random movers (a Scenario's fleet vehicles keep their explicit ids: Scenario.object_ids).
        Random movers draw position, heading, speed, RCS from rng in that order.
        """
        reserved: list[int] = []
        if hasattr(objects_spec, "objects"):
            reserved = [v.id for v in getattr(objects_spec, "vehicles", None) or () if v.id is not None]
            random_movers = getattr(objects_spec, "random_movers", None) if random_movers is None else random_movers
            objects_spec = objects_spec.objects
        specs: Sequence[ObjectSpec] = [o if isinstance(o, ObjectSpec) else ObjectSpec.model_validate(o)
                                       for o in objects_spec]
        if isinstance(random_movers, dict):
            random_movers = RandomMoversSpec.model_validate(random_movers)
        n_rand = random_movers.count if random_movers is not None else 0
        requested = [o.id for o in specs] + [None] * n_rand
        ids = np.array(assign_ids(requested + reserved)[:len(requested)], dtype=np.uint32)

        kind = [KIND_BY_NAME[o.kind] for o in specs]
        pos = [o.position for o in specs]
        vel = [o.velocity for o in specs]
        rcs = [o.rcs for o in specs]
        radius = [o.radius for o in specs]
        code = [o.transponder_code for o in specs]
        behaviour = [BEHAVIOUR_BY_NAME[o.behaviour] for o in specs]
        turn = [o.turn_rate_radps or 0.0 for o in specs]
        go = [o.go_s or 1.0 for o in specs]
        stop = [o.stop_s or 0.0 for o in specs]
        phase = [o.phase_s for o in specs]

        arrays = [np.array(a, dtype=float).reshape(-1, 3) for a in (pos, vel)]
        scalars = [np.array(a, dtype=float) for a in (rcs, radius, turn, go, stop, phase)]
        if n_rand:
            m = random_movers
            x0, y0, x1, y1 = m.area
            xy = rng.uniform((x0, y0), (x1, y1), size=(n_rand, 2))
            heading = rng.uniform(-np.pi, np.pi, n_rand)
            speed = rng.uniform(*m.speed_range, n_rand)
            rcs_r = rng.uniform(*m.rcs_range, n_rand)
            zeros = np.zeros(n_rand)
            arrays[0] = np.vstack([arrays[0], np.column_stack([xy, zeros])])
            vel_r = np.column_stack([speed * np.cos(heading), speed * np.sin(heading), zeros])
            arrays[1] = np.vstack([arrays[1], vel_r])
            kind += [KIND_BY_NAME[m.kind]] * n_rand
            code += [m.transponder_code] * n_rand
            behaviour += [BEHAVIOUR_CONSTANT_VELOCITY] * n_rand
            extra = (rcs_r, np.full(n_rand, m.radius_m), zeros, np.ones(n_rand), zeros, zeros)
            scalars = [np.concatenate([s, e]) for s, e in zip(scalars, extra)]
        rcs_a, radius_a, turn_a, go_a, stop_a, phase_a = scalars
        return cls(ids, kind, arrays[0], arrays[1], rcs_a, radius_a, code, behaviour, turn_a, go_a, stop_a, phase_a)

    def __len__(self) -> int:
        return int(self.id.size)

    def _set_sag_velocity(self, tau: np.ndarray) -> None:
        moving = np.mod(tau, self._period) < self._sag_go
        self.velocity[self._sag] = np.where(moving[:, None], self._cruise, 0.0)

    def step(self, dt: float) -> None:
        """Advance every object by dt seconds."""
        if dt <= 0.0:
            return
        t0, t1 = self.time_s, self.time_s + dt

        cv = self._cv
        self.position[cv] += self.velocity[cv] * dt

        tm = self._turn
        if tm.any():
            vel = self.velocity[tm]
            dth = self.turn_rate_radps[tm] * dt
            half = 0.5 * dth
            chord = dt * np.sinc(half / np.pi)  # exact arc: |chord| = v*dt*sin(h)/h along heading + h
            c, s = np.cos(half), np.sin(half)
            self.position[tm, 0] += chord * (c * vel[:, 0] - s * vel[:, 1])
            self.position[tm, 1] += chord * (s * vel[:, 0] + c * vel[:, 1])
            self.position[tm, 2] += vel[:, 2] * dt
            c, s = np.cos(dth), np.sin(dth)
            self.velocity[tm, 0] = c * vel[:, 0] - s * vel[:, 1]
            self.velocity[tm, 1] = s * vel[:, 0] + c * vel[:, 1]

        sm = self._sag
        if sm.any():
            phase = self.phase_s[sm]
            moved = go_time(t1 + phase, self._sag_go, self._period) - go_time(t0 + phase, self._sag_go, self._period)
            self.position[sm] += self._cruise * moved[:, None]
            self._set_sag_velocity(t1 + phase)

        self.time_s = t1

    def truth(self) -> Truth:
        """Copies of the object arrays at the current sim time."""
        return Truth(self.time_s, self.id.copy(), self.kind.copy(), self.position.copy(), self.velocity.copy(),
                     self.rcs_m2.copy(), self.radius_m.copy(), self.transponder_code.copy())
