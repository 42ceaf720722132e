"""qiki_bag.message_codec: rosidl message objects to CDR without rclpy give what rclpy's serializer gives, up to
the alignment padding rclpy leaves undefined (compared canonicalised: decoded and encoded again)."""
import array

import numpy as np
import pytest

from qiki_bag.message_codec import MessageCodec
from qiki_bag.typestore import workspace_typestore


def messages():
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from qiki_msgs.msg import AgentStatus, DeviceHealth, RadarFrame, TrackArray, WorldTruth
    from rosgraph_msgs.msg import Clock
    from visualization_msgs.msg import Marker, MarkerArray
    from geometry_msgs.msg import Point

    tracks = TrackArray(band=2)
    tracks.header.stamp.sec, tracks.header.stamp.nanosec, tracks.header.frame_id = 3, 100_000_000, "map"
    tracks.id, tracks.status = array.array("I", [1, 2]), array.array("B", [1, 0])
    tracks.state = array.array("d", np.linspace(-1e6, 1e6, 12).tolist())
    truth = WorldTruth(id=array.array("I", [7]), position=array.array("d", [1.0, 2.0, 3.5]))
    health = DeviceHealth(name=["radar_lr", "drive"], level=array.array("B", [0, 2]), value=array.array("d", [1, .5]))
    diag = DiagnosticArray(status=[DiagnosticStatus(level=b"\x02", name="qiki/bios", message="self test",
                                                    values=[KeyValue(key="health_score", value="0.500")])])
    markers = MarkerArray(markers=[Marker(ns="tracks", id=4, points=[Point(x=1.0), Point(y=2.0)], text="T4")])
    return [(tracks, "qiki_msgs/msg/TrackArray"), (truth, "qiki_msgs/msg/WorldTruth"),
            (health, "qiki_msgs/msg/DeviceHealth"), (diag, "diagnostic_msgs/msg/DiagnosticArray"),
            (markers, "visualization_msgs/msg/MarkerArray"), (Clock(), "rosgraph_msgs/msg/Clock"),
            (AgentStatus(state="IDLE", health_score=0.25, mission_result="none"), "qiki_msgs/msg/AgentStatus"),
            (RadarFrame(band=1, frame_seq=3, range_m=array.array("d", [10.0])), "qiki_msgs/msg/RadarFrame")]


@pytest.mark.parametrize("index", range(8))
def test_codec_matches_rclpy_serialisation_canonically(index):
    from rclpy.serialization import serialize_message

    from qiki_bag.reader import deserialize     # tolerates the surplus bytes rclpy appends
    store = workspace_typestore()
    msg, msgtype = messages()[index]
    ours = MessageCodec(store).cdr(msg, msgtype)
    canonical = bytes(store.serialize_cdr(deserialize(store, serialize_message(msg), msgtype), msgtype))
    assert ours == canonical
