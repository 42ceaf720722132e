"""How far DDS discovery reaches for every process the project starts: loopback unless the user says otherwise.

The default, `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`, keeps a graph on this machine. A graph split over
several machines (`qiki run|bringup --nodes`) needs the ROS 2 variables set explicitly in the environment, as
any ROS 2 user sets them: `ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET` and, where multicast does not reach the other
machines, `ROS_STATIC_PEERS` (their addresses, `;`-separated). Both are passed on unchanged; an empty value
counts as unset. The project's Fast DDS settings (config/fastdds.xml: what ROS QoS does not expose) reach every
process the same way, unless the environment names a profiles file of its own. Pure: no rclpy.
"""
from __future__ import annotations

from typing import Mapping

RANGE = "ROS_AUTOMATIC_DISCOVERY_RANGE"
PEERS = "ROS_STATIC_PEERS"
PROFILES = "FASTDDS_DEFAULT_PROFILES_FILE"
PROFILES_NAMES = (PROFILES, "FASTRTPS_DEFAULT_PROFILES_FILE")   # Fast DDS 3 and 2 spell it differently
DEFAULT_RANGE = "LOCALHOST"
RANGES = ("LOCALHOST", "SUBNET", "OFF", "SYSTEM_DEFAULT")   # the values rmw accepts


class DiscoveryError(ValueError):
    """A discovery variable rmw would not accept; str() is one line."""


def discovery_env(environ: Mapping[str, str]) -> dict[str, str]:
    """{variable: value} of discovery for a process started from `environ`: its explicit range (checked) or
    LOCALHOST, and its static peers when set."""
    chosen = environ.get(RANGE, "").strip() or DEFAULT_RANGE
    if chosen not in RANGES:
        raise DiscoveryError(f"${RANGE}={environ[RANGE]!r} is not a discovery range: give one of "
                             f"{', '.join(RANGES)} (or leave it unset for {DEFAULT_RANGE})")
    out = {RANGE: chosen}
    peers = environ.get(PEERS, "").strip()
    if peers:
        if any(not p.strip() or any(c.isspace() for c in p.strip()) for p in peers.strip(";").split(";")):
            raise DiscoveryError(f"${PEERS}={environ[PEERS]!r}: give addresses separated by ';' "
                                 f"(e.g. 192.168.1.10;192.168.1.11)")
        out[PEERS] = peers
    return out


def profiles_env(environ: Mapping[str, str], profiles_file) -> dict[str, str]:
    """{variable: value} naming `profiles_file` as the Fast DDS default profiles of a process started from
    `environ`; empty when `environ` already names one (the user's file wins)."""
    if any(environ.get(name, "").strip() for name in PROFILES_NAMES):
        return {}
    return {PROFILES: str(profiles_file)}
