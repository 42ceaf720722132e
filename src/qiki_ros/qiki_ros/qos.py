"""QoS profiles of the graph, chosen per kind of data (named by the `qos:` key in config/graph.yaml).

- stream: sensor and state streams the next node must not lose (lockstep, tracker input): reliable,
  keep-last 1000 so a subscriber outside the step barrier (observer, scorer, recorder) that falls
  behind a fast lockstep run loses nothing, and volatile so a late joiner (`ros2 topic echo`, the
  console, a recorder) starts at the current step, not up to 1000 steps in the past. Start-up loses
  nothing all the same: each node joins the barrier only once its stream publishers matched the
  subscribers named for them, the graph's own and the runner's observer and recorder
  (qiki_ros.subscriber_gate), and the sim steps only once all joined.
- latched: status-like topics a late joiner needs (agent status, BIOS report): reliable,
  transient-local, keep-last 10 (the boot sequence publishes several statuses in one tick; a recorder
  that joins late still gets all of them).
- sync: the step barrier (StepDone), transient-local and deep enough that no announcement is lost
  (a member whose join completes after a producer announced still hears that step).
- events: coded events, transient-local for late joiners (a monitor started after boot still sees 1xx codes).
A transient-local subscription does not match a volatile publisher: subscribe to a stream with STREAM.
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from qiki_ros.params import ConfigError

STREAM = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                     reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
EVENTS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
CLOCK = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                   reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)

SYNC = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                  reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def live_only(profile: QoSProfile) -> QoSProfile:
    """`profile` as a volatile subscription: a node restarted into a running graph takes live data only,
    not the transient-local history (up to `depth` old messages) the publishers keep for first joiners."""
    return QoSProfile(history=profile.history, depth=profile.depth, reliability=profile.reliability,
                      durability=DurabilityPolicy.VOLATILE)


def matches(publisher: QoSProfile, subscription: QoSProfile) -> bool:
    """Whether DDS matches these two endpoints as far as the graph's profiles differ: a reliable reader
    needs a reliable writer, a transient-local reader a transient-local writer (deadline and liveliness
    are left at their defaults everywhere here; rclpy's qos_check_compatible reports the infinite values
    the graph API returns for them as a mismatch)."""
    if subscription.reliability == ReliabilityPolicy.RELIABLE and publisher.reliability != ReliabilityPolicy.RELIABLE:
        return False
    return not (subscription.durability == DurabilityPolicy.TRANSIENT_LOCAL
                and publisher.durability != DurabilityPolicy.TRANSIENT_LOCAL)


BY_NAME = {"stream": STREAM, "latched": LATCHED, "events": EVENTS, "clock": CLOCK, "sync": SYNC}


class PortProfiles:
    """The QoS profile of each port of a node, as config/graph.yaml gives it (parameter `qos.ports`, entries
    `<port>=<profile>` written by the launcher): the graph file is the one place a topic's QoS is chosen."""

    def __init__(self, entries: list[str], node_name: str):
        self.node_name = node_name
        self.by_port: dict[str, QoSProfile] = {}
        for entry in entries:
            port, sep, name = entry.partition("=")
            if not sep or not port or name not in BY_NAME:
                raise ConfigError(f"node '{node_name}' parameter qos.ports: entry '{entry}' is not <port>=<profile> "
                                  f"with a profile of {sorted(BY_NAME)}")
            self.by_port[port] = BY_NAME[name]

    def __getitem__(self, port: str) -> QoSProfile:
        try:
            return self.by_port[port]
        except KeyError:
            raise ConfigError(f"node '{self.node_name}': no QoS for port '{port}' in parameter qos.ports (the launcher "
                              f"writes it from config/graph.yaml: start the node with qiki bringup or the launch "
                              f"file, or pass -p \"qos.ports:=[{port}=<profile>,...]\" with a profile of {sorted(BY_NAME)})") from None
