"""Message definitions for bags: a rosbags Typestore of the ROS 2 base types plus this workspace's types.

The writer embeds, for every topic, the full ``ros2msg`` definition (the type and all its nested types,
concatenated the rosbag2 way) taken from this typestore, so a reader without this workspace can decode
``qiki_msgs`` messages. The reader side (:func:`typestore_from_definitions`) builds a typestore from those
embedded definitions alone.

Sources, in order:
- the rosbags store of the ROS 2 distribution the wheels come from (Kilted; Jazzy/Humble with an older
  rosbags),
- every ``.msg`` of ``qiki_msgs`` (installed share directory through the ament index, else ``src/``),
- on demand (:func:`ensure_type`), the ``.msg`` of any other installed interface package a topic uses.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

LOG = logging.getLogger("qiki_bag")

WORKSPACE_PACKAGES = ("qiki_msgs",)
_SRC = Path(__file__).resolve().parents[2]          # src/ when running from the source tree


def base_store() -> Stores:
    """The newest ROS 2 distribution store this rosbags knows, Kilted first (the wheels' distribution)."""
    for name in ("ROS2_KILTED", "ROS2_JAZZY", "ROS2_HUMBLE"):
        if hasattr(Stores, name):
            return getattr(Stores, name)
    raise RuntimeError("the installed rosbags has no ROS 2 Kilted/Jazzy/Humble type store")


def _share_dir(package: str) -> Path | None:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # pragma: no cover - ament_index_python ships with rclpy
        return None
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, ValueError, LookupError):
        return None


def msg_dir(package: str) -> Path | None:
    """Directory holding ``<package>``'s ``.msg`` files: installed share dir, else the source tree."""
    share = _share_dir(package)
    if share is not None and (share / "msg").is_dir():
        return share / "msg"
    src = _SRC / package / "msg"
    return src if src.is_dir() else None


def _parse_msg(text: str, msgtype: str) -> dict:
    return get_types_from_msg(text, msgtype)


def package_types(package: str) -> dict:
    """rosbags field definitions of every ``.msg`` of an interface package ({} when not found)."""
    folder = msg_dir(package)
    types: dict = {}
    if folder is None:
        return types
    for path in sorted(folder.glob("*.msg")):
        types.update(_parse_msg(path.read_text(), f"{package}/msg/{path.stem}"))
    return types


def workspace_typestore() -> Typestore:
    """A fresh typestore: ROS 2 base types + every message of this workspace's interface packages."""
    store = get_typestore(base_store())
    for package in WORKSPACE_PACKAGES:
        types = package_types(package)
        if not types:
            LOG.warning("message definitions of '%s' not found (not built?): its topics will be skipped",
                        package)
        store.register(types)
    return store


_TYPE_RE = re.compile(r"^([A-Za-z_][\w]*)/(msg)/([A-Za-z_]\w*)$")


def _dependencies(fields: tuple) -> set[str]:
    """Message types referenced by a rosbags field tuple (consts, fields)."""
    deps: set[str] = set()

    def walk(desc) -> None:
        kind, rest = desc
        if getattr(kind, "name", str(kind)).upper() == "NAME":
            deps.add(rest)
        elif isinstance(rest, tuple) and rest and isinstance(rest[0], tuple):
            walk(rest[0])

    for _name, desc in fields[1]:
        walk(desc)
    return deps


def ensure_type(store: Typestore, msgtype: str) -> bool:
    """Make ``msgtype`` (``pkg/msg/Name``) known to ``store``, loading installed ``.msg`` files as needed.

    Returns False when the type (or one of its nested types) has no definition available here.
    """
    if msgtype in store.types:
        return True
    pending = [msgtype]
    found: dict = {}
    while pending:
        name = pending.pop()
        if name in store.types or name in found:
            continue
        match = _TYPE_RE.match(name)
        if not match:
            return False
        folder = msg_dir(match.group(1))
        path = folder / f"{match.group(3)}.msg" if folder else None
        if path is None or not path.is_file():
            return False
        try:
            parsed = _parse_msg(path.read_text(), name)
        except Exception as exc:  # rosbags raises its own parse errors
            LOG.warning("cannot parse %s: %s", path, exc)
            return False
        found.update(parsed)
        for deps in (_dependencies(v) for v in parsed.values()):
            pending.extend(d for d in deps if d not in store.types and d not in found)
    store.register(found)
    return msgtype in store.types


def definition(store: Typestore, msgtype: str) -> tuple[str, str]:
    """(ros2msg definition with all nested types, RIHS01 hash) of a type known to ``store``."""
    msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
    return msgdef, store.hash_rihs01(msgtype)


def typestore_from_definitions(definitions: dict[str, str], warn=None) -> tuple[Typestore, list[str]]:
    """A typestore built only from embedded definitions ({msgtype: ros2msg text}), no workspace needed.

    Types whose definition is missing or cannot be parsed are left out; ``warn(msgtype, reason)`` is
    called for each. Returns (store, skipped types).
    """
    store = get_typestore(Stores.EMPTY)
    skipped: list[str] = []
    for msgtype, text in sorted(definitions.items()):
        if msgtype in store.types:
            continue
        try:
            if not text:
                raise ValueError("no message definition embedded in the bag")
            types = _parse_msg(text, msgtype)
            if msgtype not in types:
                raise ValueError(f"the embedded definition does not define {msgtype}")
            missing = sorted({d for v in types.values() for d in _dependencies(v)} - set(types) - set(store.types))
            if missing:
                raise ValueError(f"the embedded definition refers to undefined type(s) {', '.join(missing)}")
            store.register({k: v for k, v in types.items() if k not in store.types})
        except Exception as exc:
            skipped.append(msgtype)
            if warn is not None:
                warn(msgtype, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return store, skipped
