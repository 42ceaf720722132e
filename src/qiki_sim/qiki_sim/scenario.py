"""Scenario files: pydantic schema, YAML loader, name resolution.

A scenario holds one world and its vehicles: either one unnamed vehicle (`vehicle:` + `ego:`) or a fleet
(`vehicles:`, each with a name, description, mission, initial state, truth id and transponder code).
Everything downstream reads the vehicles through Scenario.fleet(); `vehicle`/`ego` are None for a fleet.

Every load error is a ScenarioError whose str() is one line naming the file, the key path
and what was expected, e.g. ``bot_patrol.yaml: objects[2].velocity: expected a list of 3 numbers, got 'fast'``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from qiki_description.loader import DescriptionError, load_description
from qiki_geometry.earth import R_E
from qiki_msgs.msg import WorldTruth
from qiki_schema.strict import KeyedStrict as _Strict
from qiki_schema.vectors import Range, Vec3, Vec4, numbers as _numbers, ordered as _ordered
from qiki_schema.yaml_file import SchemaFileError, key_path, read_mapping, validate

# scenario object kind -> its WorldTruth KIND_* value
KIND_BY_NAME = {"obstacle": WorldTruth.KIND_OBSTACLE, "robot": WorldTruth.KIND_ROBOT, "person": WorldTruth.KIND_PERSON,
                "spacecraft": WorldTruth.KIND_SPACECRAFT, "debris": WorldTruth.KIND_DEBRIS}
BEHAVIOURS = ("static", "constant_velocity", "turn", "stop_and_go")
# Typical radar cross-section [m^2] and physical radius [m] by kind, used when the file omits them.
DEFAULT_RCS_M2 = {"obstacle": 20.0, "robot": 8.0, "person": 1.0, "spacecraft": 10.0, "debris": 0.1}
DEFAULT_RADIUS_M = {"obstacle": 1.0, "robot": 0.4, "person": 0.3, "spacecraft": 5.0, "debris": 0.2}
UINT32_MAX = 2**32 - 1
PROFILES = ("bot", "ship")
# A vehicle's name is a ROS name part (namespace /qiki/<name>): lower case, no repeated or trailing underscore.
VEHICLE_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
# Names a vehicle may not take: the graph's nodes and the first parts of its topics under /qiki.
RESERVED_VEHICLE_NAMES = ("sim", "radar", "tracker", "scorer", "agent", "tracks", "eval", "events", "sync", "cmd",
                          "observer", "diagnostics", "clock")


class ScenarioError(SchemaFileError):
    """A scenario that cannot be found, parsed or validated; str() is one line."""


class Vehicle(_Strict):
    """What the ego is and does: its vehicle description (qiki_description) and its mission (config/missions)."""

    description: str  # a name (installed vehicles/<name>.yaml) or a path
    mission: str  # a name (config/missions/<name>.yaml) or a path; read by the agent, never by the sim


class BotEgo(_Strict):
    """Own robot: start pose."""

    profile: Literal["bot"] = Field("bot", exclude=True)  # injected from the scenario's profile
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0


class _KindDefaults:
    """RCS and radius of a world object, defaulted by its kind when the scenario leaves them out."""

    @property
    def rcs(self) -> float:
        return self.rcs_m2 if self.rcs_m2 is not None else DEFAULT_RCS_M2[self.kind]

    @property
    def radius(self) -> float:
        return self.radius_m if self.radius_m is not None else DEFAULT_RADIUS_M[self.kind]


class ObjectSpec(_KindDefaults, _Strict):
    """One explicit world object and its scripted motion."""

    profile: Literal["bot"] = Field("bot", exclude=True)  # injected from the scenario's profile
    id: int | None = Field(None, ge=1, le=UINT32_MAX)
    kind: Literal["obstacle", "robot", "person", "spacecraft", "debris"]
    position: Vec3
    velocity: Vec3 = (0.0, 0.0, 0.0)
    behaviour: Literal["static", "constant_velocity", "turn", "stop_and_go"] = "constant_velocity"
    turn_rate_radps: float | None = None  # turn: CCW yaw rate of the velocity vector
    go_s: float | None = Field(None, gt=0)  # stop_and_go: seconds moving at velocity
    stop_s: float | None = Field(None, ge=0)  # stop_and_go: seconds standing still
    phase_s: float = Field(0.0, ge=0)  # stop_and_go: offset into the go/stop cycle at t = 0
    rcs_m2: float | None = Field(None, gt=0)  # default by kind
    radius_m: float | None = Field(None, gt=0)  # default by kind
    transponder_code: int = Field(0, ge=0, le=UINT32_MAX)  # 0 = no transponder

    @model_validator(mode="after")
    def _behaviour_params(self) -> ObjectSpec:
        needs = {"turn": ("turn_rate_radps",), "stop_and_go": ("go_s", "stop_s")}.get(self.behaviour, ())
        for key in ("turn_rate_radps", "go_s", "stop_s"):
            given = getattr(self, key) is not None
            if key in needs and not given:
                raise PydanticCustomError("behaviour", "behaviour {b} needs key {k}",
                                          {"b": repr(self.behaviour), "k": repr(key)})
            if given and key not in needs:
                raise PydanticCustomError("behaviour", "key {k} does not apply to behaviour {b}",
                                          {"b": repr(self.behaviour), "k": repr(key)})
        if self.behaviour == "static" and any(self.velocity):
            raise PydanticCustomError("behaviour", "behaviour 'static' needs velocity [0, 0, 0] or no velocity", {})
        return self


class RandomMoversSpec(_Strict):
    """count constant-velocity movers drawn from the scenario rng: uniform position, heading, speed, RCS."""

    count: int = Field(ge=0, le=100_000)
    area: Annotated[tuple[float, float, float, float], _numbers(4, "a list of 4 numbers [x_min, y_min, x_max, y_max]")]
    speed_range: Range = (0.5, 1.5)
    rcs_range: Range = (1.0, 10.0)
    kind: Literal["obstacle", "robot", "person", "spacecraft", "debris"] = "robot"
    radius_m: float = Field(0.4, gt=0)
    transponder_code: int = Field(0, ge=0, le=UINT32_MAX)

    @model_validator(mode="after")
    def _ranges(self) -> RandomMoversSpec:
        _ordered((self.area[0], self.area[2]), "area x")
        _ordered((self.area[1], self.area[3]), "area y")
        _ordered(self.speed_range, "speed_range")
        _ordered(self.rcs_range, "rcs_range")
        if self.speed_range[0] < 0 or self.rcs_range[0] <= 0:
            raise PydanticCustomError("range", "expected speed_range >= 0 and rcs_range > 0", {})
        return self


# ---------------------------------------------------------------- ship profile
# The ship lives in ECI (see orbit.py); objects are usually placed in the chaser's LVLH frame at t = 0 (a
# fleet: its first vehicle's), lvlh.py: x radial out, y along-track, z orbit normal.

class OrbitElements(_Strict):
    """Classical orbital elements in ECI; angles in degrees, nu_deg = true anomaly at t = 0."""

    a_m: float = Field(gt=0)  # semi-major axis [m]; 6778137 = 400 km circular
    e: float = Field(0.0, ge=0, lt=1)
    i_deg: float = 0.0
    raan_deg: float = 0.0
    argp_deg: float = 0.0
    nu_deg: float = 0.0

    @model_validator(mode="after")
    def _above_ground(self) -> OrbitElements:
        if self.a_m * (1.0 - self.e) <= R_E:
            raise PydanticCustomError("orbit", "perigee radius {rp} m is inside the Earth (radius {re} m)",
                                      {"rp": self.a_m * (1.0 - self.e), "re": R_E})
        return self


class ShipEgo(_Strict):
    """Own spacecraft (the chaser): initial orbit (elements or a position + velocity), attitude."""

    profile: Literal["ship"] = Field("ship", exclude=True)
    elements: OrbitElements | None = None
    position: Vec3 | None = None  # [m] in `frame`, together with velocity, instead of elements
    velocity: Vec3 | None = None  # [m/s] in `frame`
    frame: Literal["eci", "lvlh"] = "eci"  # of position/velocity; lvlh: relative to the fleet's first vehicle at t = 0
    attitude_frame: Literal["lvlh", "eci"] = "lvlh"
    attitude_wxyz: Vec4 = (1.0, 0.0, 0.0, 0.0)  # attitude_frame-from-body unit quaternion
    angular_velocity: Vec3 = (0.0, 0.0, 0.0)  # body rate relative to attitude_frame, body axes [rad/s]
    j2: bool = True  # J2 gravity for every body (false: two-body only)

    @model_validator(mode="after")
    def _state(self) -> ShipEgo:
        has_state = (self.position is not None, self.velocity is not None)
        if not (all(has_state) if self.elements is None else not any(has_state)):
            raise PydanticCustomError("state", "expected either elements or both position and velocity (ECI)", {})
        if self.frame == "lvlh" and self.position is None:
            raise PydanticCustomError("state", "frame 'lvlh' applies only with position and velocity", {})
        if self.frame == "eci" and self.position is not None and math.hypot(*self.position) <= R_E:
            raise PydanticCustomError("state", "position is inside the Earth (|r| <= {re} m)",
                                      {"re": R_E})
        return self

    @field_validator("attitude_wxyz")
    @classmethod
    def _unit(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        norm = math.sqrt(sum(c * c for c in q))
        if abs(norm - 1.0) > 1e-3:
            raise PydanticCustomError("quaternion", "expected a unit quaternion (w, x, y, z), got norm {n}",
                                      {"n": round(norm, 6)})
        return tuple(c / norm for c in q)


class Encounter(_Strict):
    """Scripted close approach: the object's LVLH state relative to the chaser's unthrusted orbit at time_s."""

    time_s: float = Field(gt=0)
    miss_m: Vec3  # relative position at time_s [m], LVLH
    relative_velocity: Vec3  # relative velocity at time_s [m/s], LVLH (rotating frame)


class ShipObjectSpec(_KindDefaults, _Strict):
    """One orbiting object: exactly one of position (+ velocity, frame), elements or encounter."""

    profile: Literal["ship"] = Field("ship", exclude=True)
    id: int | None = Field(None, ge=1, le=UINT32_MAX)
    kind: Literal["spacecraft", "debris"]
    role: Literal["none", "target"] = "none"  # target: the spacecraft to station-keep on (at most one)
    frame: Literal["lvlh", "eci"] = "lvlh"  # of position/velocity; lvlh = relative to the chaser at t = 0
    position: Vec3 | None = None  # [m]
    velocity: Vec3 = (0.0, 0.0, 0.0)  # [m/s]; lvlh: as seen in the rotating frame
    elements: OrbitElements | None = None
    encounter: Encounter | None = None
    rcs_m2: float | None = Field(None, gt=0)  # default by kind
    radius_m: float | None = Field(None, gt=0)  # default by kind
    transponder_code: int = Field(0, ge=0, le=UINT32_MAX)  # 0 = no transponder

    @model_validator(mode="after")
    def _one_state(self) -> ShipObjectSpec:
        given = [k for k in ("position", "elements", "encounter") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError("state", "expected exactly one of position, elements, encounter; got {g}",
                                      {"g": ", ".join(given) or "none"})
        stray = sorted({"velocity", "frame"} & self.model_fields_set)
        if self.position is None and stray:
            raise PydanticCustomError("state", "key {k} applies only with position", {"k": repr(stray[0])})
        return self


class RandomDebrisSpec(_Strict):
    """count pieces around the chaser from the scenario rng (see orbit.random_debris_lvlh)."""

    count: int = Field(ge=0, le=100_000)
    range_m: Range = (1000.0, 20000.0)  # initial distance from the chaser [m]
    radial_scale: float = Field(0.1, gt=0, le=1)  # squashes directions toward the along/cross-track plane
    speed_range: Range = (0.0, 1.0)  # random LVLH velocity on top of the drift-free one [m/s]
    rcs_range: Range = (0.01, 1.0)
    kind: Literal["spacecraft", "debris"] = "debris"
    radius_m: float = Field(0.2, gt=0)
    transponder_code: int = Field(0, ge=0, le=UINT32_MAX)

    @model_validator(mode="after")
    def _ranges(self) -> RandomDebrisSpec:
        for name in ("range_m", "speed_range", "rcs_range"):
            _ordered(getattr(self, name), name)
        if self.range_m[0] <= 0 or self.speed_range[0] < 0 or self.rcs_range[0] <= 0:
            raise PydanticCustomError("range", "expected range_m > 0, speed_range >= 0 and rcs_range > 0", {})
        return self


class FailureSpec(_Strict):
    """Device failure applied when sim time passes at_s."""

    device: str
    vehicle: str = ""  # a fleet: the vehicle whose device fails (required); one-vehicle scenarios leave it out
    at_s: float = Field(ge=0)
    level: int = Field(ge=0, le=3)  # 0 OK (recovery), 1 WARN, 2 ERROR, 3 STALE
    value: float | None = Field(None, ge=0, le=1)


class ThrusterFaultSpec(_Strict):
    """Ship: from sim time at_s on, thruster `thruster` (index into the description's RCS list) delivers only
    `efficiency` of the thrust (and burns only that share of the propellant) it is commanded; 0 = failed off.
    The agent is not told: it sees the fault only through the vehicle's motion."""

    thruster: int = Field(ge=0)
    vehicle: str = ""  # a fleet: the vehicle whose thruster fails (required); one-vehicle scenarios leave it out
    at_s: float = Field(ge=0)
    efficiency: float = Field(0.0, ge=0, le=1)


class FleetVehicleSpec(_Strict):
    """One vehicle of a fleet (`vehicles:` list entry)."""

    name: str  # ROS name part [a-z][a-z0-9_]*: its stack runs in namespace /qiki/<name>
    description: str  # as vehicle.description
    mission: str  # as vehicle.mission
    ego: Annotated[Union[BotEgo, ShipEgo], Field(discriminator="profile")]  # initial state
    id: int | None = Field(None, ge=1, le=UINT32_MAX)  # its id in the truth; default: smallest unused after objects
    transponder_code: int = Field(0, ge=0, le=UINT32_MAX)  # what the other vehicles' radars read; 0 = none
    safe_radius_m: float | None = Field(None, gt=0)  # closest approach to another vehicle it must keep

    @field_validator("name")
    @classmethod
    def _ros_name(cls, name: str) -> str:
        if not VEHICLE_NAME.fullmatch(name):
            raise PydanticCustomError("name", "expected a ROS name part ([a-z][a-z0-9_]*, no repeated or trailing "
                                      "underscore), got {n}", {"n": repr(name)})
        if name in RESERVED_VEHICLE_NAMES:
            raise PydanticCustomError("name", "{n} is a name of the graph (one of {r}); choose another",
                                      {"n": repr(name), "r": ", ".join(RESERVED_VEHICLE_NAMES)})
        return name


@dataclass(frozen=True)
class FleetVehicle:
    """A vehicle of the scenario as every package sees it (Scenario.fleet()).

    name is "" for the one vehicle of a `vehicle:` + `ego:` scenario, whose truth_id is 0: it is not in the
    truth. A fleet's vehicles are in the truth under truth_id, answering with transponder_code."""

    name: str
    description: str  # a name or a path (load_scenario resolves a relative path against the scenario file)
    mission: str
    truth_id: int
    transponder_code: int
    ego: BotEgo | ShipEgo  # initial state
    safe_radius_m: float | None = None


def _with_profile(data: Any) -> Any:
    """Let the ego and object unions pick their models from the scenario's profile."""
    if not (isinstance(data, dict) and data.get("profile") in PROFILES):
        return data
    profile = data["profile"]

    def tagged(d: Any) -> Any:
        return {**d, "profile": profile} if isinstance(d, dict) else d

    if isinstance(data.get("ego"), dict):
        data = {**data, "ego": tagged(data["ego"])}
    if isinstance(data.get("objects"), list):
        data = {**data, "objects": [tagged(o) for o in data["objects"]]}
    if isinstance(data.get("vehicles"), list):
        data = {**data, "vehicles": [{**v, "ego": tagged(v["ego"])} if isinstance(v, dict) and "ego" in v else v
                                     for v in data["vehicles"]]}
    return data


def assign_ids(requested: list[int | None]) -> list[int]:
    """Keep explicit ids; give the rest the smallest unused ids from 1 up, in order."""
    taken = {i for i in requested if i is not None}
    out, nxt = [], 1
    for i in requested:
        if i is None:
            while nxt in taken:
                nxt += 1
            i, nxt = nxt, nxt + 1
        out.append(i)
    return out


class Scenario(_Strict):
    """A scenario file."""

    name: str
    description: str = ""
    profile: Literal["bot", "ship"]
    seed: int = Field(ge=0, le=UINT32_MAX)
    duration_s: float = Field(gt=0)
    dt_s: float = Field(0.05, gt=0, le=1.0)  # physics step
    vehicle: Vehicle | None = None  # one unnamed vehicle (with ego), or None for a fleet (vehicles)
    ego: Annotated[Union[BotEgo, ShipEgo], Field(discriminator="profile")] | None = None
    vehicles: list[FleetVehicleSpec] | None = None  # a fleet, instead of vehicle + ego
    objects: list[Annotated[Union[ObjectSpec, ShipObjectSpec], Field(discriminator="profile")]] = []
    random_movers: RandomMoversSpec | None = None  # bot only
    random_debris: RandomDebrisSpec | None = None  # ship only
    failures: list[FailureSpec] = []
    thruster_faults: list[ThrusterFaultSpec] = []  # ship only

    @model_validator(mode="before")
    @classmethod
    def _inject_profile(cls, data: Any) -> Any:
        return _with_profile(data)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        self._one_or_fleet()
        ids = [o.id for o in self.objects if o.id is not None]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise PydanticCustomError("ids", "objects: duplicate id {dup}", {"dup": dup[0]})
        wrong = {"bot": "random_debris", "ship": "random_movers"}[self.profile]
        if getattr(self, wrong) is not None:
            raise PydanticCustomError("profile", "{k} does not apply to profile {p}",
                                      {"k": wrong, "p": repr(self.profile)})
        if self.thruster_faults and self.profile != "ship":
            raise PydanticCustomError("profile", "thruster_faults does not apply to profile {p}",
                                      {"p": repr(self.profile)})
        targets = [i for i, o in enumerate(self.objects) if getattr(o, "role", "none") == "target"]
        if len(targets) > 1:
            raise PydanticCustomError("role", "objects[{i}]: more than one object with role 'target'",
                                      {"i": targets[1]})
        if self.dt_s > self.duration_s:
            raise PydanticCustomError("dt", "dt_s {dt} is longer than duration_s {d}",
                                      {"dt": self.dt_s, "d": self.duration_s})
        if whole_steps(self.duration_s, self.dt_s) is None:
            raise PydanticCustomError("dt", "duration_s {d} is not a whole number of dt_s {dt} steps (a run ends "
                                      "on a step)", {"dt": self.dt_s, "d": self.duration_s})
        return self

    def _one_or_fleet(self) -> None:
        """Either vehicle + ego or vehicles (unique names and ids, bot profile), each failure naming its key."""
        single = [k for k in ("vehicle", "ego") if getattr(self, k) is not None]
        if self.vehicles is None:
            if len(single) < 2:
                missing = "vehicle" if "vehicle" not in single else "ego"
                raise PydanticCustomError("vehicles", "missing required key {k} (or give vehicles: for a fleet)",
                                          {"k": missing})
            for key in ("failures", "thruster_faults"):
                named = [i for i, f in enumerate(getattr(self, key)) if f.vehicle]
                if named:
                    raise PydanticCustomError("vehicles", "{k}[{i}].vehicle: applies only to a fleet (vehicles:)",
                                              {"k": key, "i": named[0]})
            if getattr(self.ego, "frame", "eci") == "lvlh":
                raise PydanticCustomError("vehicles", "ego.frame: 'lvlh' is relative to a fleet's first vehicle; "
                                          "give the one vehicle's orbit in eci or as elements", {})
            return
        if single:
            raise PydanticCustomError("vehicles", "give either vehicle + ego (one vehicle) or vehicles (a fleet), "
                                      "not both: remove {k}", {"k": " and ".join(single)})
        if not self.vehicles:
            raise PydanticCustomError("vehicles", "vehicles: expected at least one vehicle", {})
        if getattr(self.vehicles[0].ego, "frame", "eci") == "lvlh":
            raise PydanticCustomError("vehicles", "vehicles[0].ego.frame: the first vehicle is the fleet's LVLH "
                                      "reference; give its orbit in eci or as elements", {})
        names = [v.name for v in self.vehicles]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise PydanticCustomError("vehicles", "vehicles[{i}].name: {n} is taken by vehicles[{j}]",
                                          {"i": i, "n": repr(name), "j": names.index(name)})
        objects = {o.id: j for j, o in enumerate(self.objects) if o.id is not None}
        vids = [v.id for v in self.vehicles]
        for i, vid in enumerate(vids):
            if vid in objects:
                raise PydanticCustomError("vehicles", "vehicles[{i}].id: id {id} is taken by objects[{j}]",
                                          {"i": i, "id": vid, "j": objects[vid]})
            if vid is not None and vid in vids[:i]:
                raise PydanticCustomError("vehicles", "vehicles[{i}].id: id {id} is taken by vehicles[{j}]",
                                          {"i": i, "id": vid, "j": vids.index(vid)})
        for key in ("failures", "thruster_faults"):
            for i, f in enumerate(getattr(self, key)):
                if f.vehicle not in names:
                    raise PydanticCustomError("vehicles", "{k}[{i}].vehicle: expected one of {n}, got {v}",
                                              {"k": key, "i": i, "n": ", ".join(names), "v": repr(f.vehicle)})

    def _random_count(self) -> int:
        extra = self.random_movers if self.profile == "bot" else self.random_debris
        return extra.count if extra is not None else 0

    def object_ids(self) -> list[int]:
        """Truth ids of the objects (file order, then the random movers/debris): explicit ids kept, the rest the
        smallest unused ids from 1 up, never a fleet vehicle's explicit id."""
        reserved = [v.id for v in self.vehicles or () if v.id is not None]
        requested = [o.id for o in self.objects] + [None] * self._random_count()
        return assign_ids(requested + reserved)[:len(requested)]

    def fleet(self) -> list[FleetVehicle]:
        """The scenario's vehicles in file order: one unnamed vehicle (name "", truth_id 0: not in the truth) or
        the fleet, each vehicle without an id taking the smallest unused id after the objects'."""
        if self.vehicles is None:
            return [FleetVehicle("", self.vehicle.description, self.vehicle.mission, 0, 0, self.ego)]
        n_objects = len(self.objects) + self._random_count()
        ids = assign_ids(self.object_ids() + [v.id for v in self.vehicles])[n_objects:]
        return [FleetVehicle(v.name, v.description, v.mission, int(i), v.transponder_code, v.ego, v.safe_radius_m)
                for v, i in zip(self.vehicles, ids)]

    def is_fleet(self) -> bool:
        """Named vehicles (a `vehicles:` list), each in the truth."""
        return self.vehicles is not None


def whole_steps(duration_s: float, dt_s: float) -> int | None:
    """How many steps of dt_s make duration_s; None when it is not a whole number of them."""
    n = round(duration_s / dt_s)
    return n if abs(n * dt_s - duration_s) <= 1e-9 * max(1.0, duration_s) else None


# ---------------------------------------------------------------- loading

def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file; raises ScenarioError (one line) on any problem."""
    path = Path(path)
    if not path.is_file():
        names = available_scenarios(path.parent)
        hint = (f"; available scenarios in {path.parent}: {', '.join(names)}" if names
                else f"; no scenarios in {path.parent}")
        raise ScenarioError(path, "no such scenario file" + hint)
    data = read_mapping(path, "scenario", ScenarioError)
    scenario = validate(Scenario, data, path, ScenarioError, lambda loc: key_path(loc, PROFILES, ("ego",)),
                        union_tag="expected profile 'bot' or 'ship'")
    if scenario.vehicles is None:
        where = _beside(scenario.vehicle.description, path)
        scenario = scenario.model_copy(update={"vehicle": scenario.vehicle.model_copy(update={"description": where})})
        keys = {"": "vehicle.description"}
    else:
        vehicles = [v.model_copy(update={"description": _beside(v.description, path)}) for v in scenario.vehicles]
        scenario = scenario.model_copy(update={"vehicles": vehicles})
        keys = {v.name: f"vehicles[{i}].description" for i, v in enumerate(vehicles)}
    descriptions = {v.name: _description_of(v.description, scenario.profile, path, keys[v.name])
                    for v in scenario.fleet()}
    for i, f in enumerate(scenario.failures):
        description = descriptions[f.vehicle]
        if f.device not in description.devices:
            raise ScenarioError(path, f"unknown device {f.device!r} of vehicle {description.name!r}; expected one "
                                f"of {', '.join(description.devices)}", f"failures[{i}].device")
    for i, f in enumerate(scenario.thruster_faults):
        description = descriptions[f.vehicle]
        thrusters = len(description.ship.rcs.thrusters)
        if f.thruster >= thrusters:
            raise ScenarioError(path, f"thruster {f.thruster} does not exist: vehicle {description.name!r} has "
                                f"{thrusters} (0..{thrusters - 1})", f"thruster_faults[{i}].thruster")
    return scenario


def _description_of(where: str, profile: str, path: Path, key: str):
    """The vehicle description at `where`, of the scenario's profile (ScenarioError at `key` otherwise)."""
    try:
        description = load_description(where)
    except DescriptionError as e:
        raise ScenarioError(path, str(e), key) from None
    if description.profile != profile:
        raise ScenarioError(path, f"vehicle description {description.name!r} is a {description.profile}, not a "
                            f"{profile}", key)
    return description


def _beside(name_or_path: str, scenario_path: Path) -> str:
    """A relative description path is relative to the scenario file (load_scenario stores it resolved); a
    bare name is left to the loader."""
    if ("/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))) and not Path(name_or_path).is_absolute():
        return str(scenario_path.parent / name_or_path)
    return name_or_path


def available_scenarios(scenarios_dir: str | Path) -> list[str]:
    """Sorted scenario names (file stems) in a directory."""
    d = Path(scenarios_dir)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def find_scenario(name_or_path: str | Path, scenarios_dir: str | Path) -> Path:
    """Resolve 'bot_patrol' to <scenarios_dir>/bot_patrol.yaml; an existing path is returned as is.

    A path with a directory that does not exist is an error, never the installed scenario of the same
    name: a typo must not run something else. A bare 'bot_patrol.yaml' is a file here, else the installed one.
    """
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix in (".yaml", ".yml") or "/" in text:
        if candidate.is_file():
            return candidate
        if "/" in text:
            raise ScenarioError(text, "no such scenario file (give an existing path, or a name from "
                                      f"{scenarios_dir}: {', '.join(available_scenarios(scenarios_dir)) or '(none)'})")
        if (Path(scenarios_dir) / candidate.name).is_file():
            return Path(scenarios_dir) / candidate.name
    elif (Path(scenarios_dir) / f"{text}.yaml").is_file():
        return Path(scenarios_dir) / f"{text}.yaml"
    names = available_scenarios(scenarios_dir)
    raise ScenarioError(text, f"unknown scenario; valid names in {scenarios_dir}: {', '.join(names) or '(none)'}")
