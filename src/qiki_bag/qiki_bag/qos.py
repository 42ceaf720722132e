"""QoS conversions between rclpy profiles and the rosbags ``Qos`` stored as a topic's offered QoS."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

# rosbag2 writes an infinite duration (RMW_DURATION_INFINITE) as these values.
_INFINITE = QosTime(sec=9223372036854775807, nsec=4294967295)
_INFINITE_NS = 2**63 - 1


def _time(duration) -> QosTime:
    ns = int(getattr(duration, "nanoseconds", 0) or 0)
    if ns >= _INFINITE_NS or ns < 0:
        return _INFINITE
    return QosTime(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)


def _enum(cls, value, default):
    try:
        return cls(int(value))
    except (ValueError, TypeError):
        return default


def qos_to_bag(q: QoSProfile) -> Qos:
    """rclpy profile (e.g. a publisher's, from the graph) -> rosbags Qos for the bag metadata."""
    return Qos(
        history=_enum(QosHistory, q.history, QosHistory.UNKNOWN),
        depth=int(q.depth),
        reliability=_enum(QosReliability, q.reliability, QosReliability.UNKNOWN),
        durability=_enum(QosDurability, q.durability, QosDurability.UNKNOWN),
        deadline=_time(q.deadline),
        lifespan=_time(q.lifespan),
        liveliness=_enum(QosLiveliness, q.liveliness, QosLiveliness.UNKNOWN),
        liveliness_lease_duration=_time(q.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(q.avoid_ros_namespace_conventions),
    )


def playback_qos(offered: list[Qos], depth: int = 1000) -> QoSProfile:
    """Publisher QoS for replaying a topic, like ``ros2 bag play``: reliable unless a recorded publisher was
    best effort, transient-local when every recorded publisher was (latched topics stay latched)."""
    best_effort = any(q.reliability == QosReliability.BEST_EFFORT for q in offered)
    latched = bool(offered) and all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
