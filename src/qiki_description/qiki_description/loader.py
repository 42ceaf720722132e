"""Load a vehicle description by name (`bot`: the installed vehicles/bot.yaml) or by path."""
from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from pydantic import TypeAdapter

from qiki_description.vehicle import BotDescription, ShipDescription, VehicleDescription
from qiki_schema.yaml_file import SchemaFileError, load_model

_ADAPTER = TypeAdapter(VehicleDescription)


class DescriptionError(SchemaFileError):
    """A vehicle description that cannot be found, parsed or validated; str() is one line."""


def vehicles_dir() -> Path:
    """The installed descriptions (share/qiki_description/vehicles), else this source tree's."""
    try:
        return Path(get_package_share_directory("qiki_description")) / "vehicles"
    except (PackageNotFoundError, ValueError):
        return Path(__file__).resolve().parents[1] / "vehicles"


def available_descriptions() -> list[str]:
    d = vehicles_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def description_path(name_or_path: str | Path) -> Path:
    """'bot' -> the installed bot.yaml; a path (with '/' or a .yaml suffix) as given."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    path = vehicles_dir() / f"{text}.yaml"
    if not path.is_file():
        raise DescriptionError(text, f"unknown vehicle description; valid names: "
                               f"{', '.join(available_descriptions()) or '(none)'}")
    return path


def load_description(name_or_path: str | Path) -> BotDescription | ShipDescription:
    """Read and validate a vehicle description; raises DescriptionError (one line) on any problem."""
    return load_model(description_path(name_or_path), _ADAPTER, "vehicle description", DescriptionError,
                      union_tag="expected profile 'bot' or 'ship'", union_tags=("bot", "ship"))
