"""Bind a pydantic config model to ROS parameters: one schema gives defaults, types and validation.

Nested models become dotted parameter names (`radar.sr_threshold_m`), as in nav2 params files.
Validation failures become a one-line `ConfigError` naming the parameter and the expected type.
Every parameter is read once at start-up, so a change at run time (`ros2 param set`) is refused with a
reason instead of being accepted and ignored (`refuse_changes`).
"""
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult

from qiki_schema.yaml_file import first_non_finite  # noqa: F401 (re-exported: layered_config)


class ConfigError(ValueError):
    """A parameter or configuration file (graph, params file, node parameter) is malformed; the message is one
    line naming the file or node and the key."""


_ARRAY_TYPES = {float: ParameterType.PARAMETER_DOUBLE_ARRAY, int: ParameterType.PARAMETER_INTEGER_ARRAY,
                str: ParameterType.PARAMETER_STRING_ARRAY, bool: ParameterType.PARAMETER_BOOL_ARRAY}
_SCALAR_TYPES = {float: ParameterType.PARAMETER_DOUBLE, int: ParameterType.PARAMETER_INTEGER,
                 str: ParameterType.PARAMETER_STRING, bool: ParameterType.PARAMETER_BOOL}


def flatten_fields(model: type[BaseModel], prefix: str = "", defaults: BaseModel | None = None
                   ) -> dict[str, tuple[Any, int]]:
    """Map dotted parameter name -> (default, ParameterType) for every leaf field of `model`.

    A nested model's defaults are those of the field's default instance (e.g. the radar's
    `sr: RadarBand = SR_DEFAULT`), not of its class.
    """
    out = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        key = f"{prefix}{name}"
        default = getattr(defaults, name) if defaults is not None else field.get_default(call_default_factory=True)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(flatten_fields(ann, key + ".", default if isinstance(default, ann) else None))
            continue
        if get_origin(ann) in (list, tuple):
            ptype = _ARRAY_TYPES[get_args(ann)[0]]
            default = list(default)
        else:
            ptype = _SCALAR_TYPES.get(ann, ParameterType.PARAMETER_STRING)
        out[key] = (default, ptype)
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1} -> {"a": {"b": 1}}: dotted parameter names as the nested mapping a model validates."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return nested


def validate_model(model: type[BaseModel], data: dict, where: str):
    """model.model_validate(data) with a one-line ConfigError naming `where` and the key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{where}: {key}: {err['msg']} (got {err.get('input')!r})") from None


def declare_model(node, model: type[BaseModel], prefix: str = ""):
    """Declare every field of `model` as a parameter of `node` and return the validated model."""
    flat = {}
    for key, (default, ptype) in flatten_fields(model, prefix).items():
        descriptor = ParameterDescriptor(type=ptype, dynamic_typing=True)
        param = node.declare_parameter(key, default, descriptor)
        flat[key[len(prefix):]] = param.value
    config = validate_model(model, nest(flat), f"node '{node.get_name()}' parameter")
    refuse_changes(node)
    return config


def change_refusal(node_name: str, changed: list[str]) -> str:
    """The reason a set of already-declared parameters is refused: they are read once, at start-up."""
    name = changed[0]
    return (f"{name} is read at start-up: restart the node with the new value "
            f"(qiki run --set {node_name}.{name}=VALUE, or a params file)")


def refuse_changes(node) -> None:
    """Refuse every change of a declared parameter of `node` (SetParameters answers successful: false and the
    reason); declaring a new parameter (what a node does while starting) is still accepted."""
    def on_set(parameters) -> SetParametersResult:
        changed = [p.name for p in parameters if node.has_parameter(p.name)]
        if not changed:
            return SetParametersResult(successful=True)
        return SetParametersResult(successful=False, reason=change_refusal(node.get_name(), changed))
    node.add_on_set_parameters_callback(on_set)
