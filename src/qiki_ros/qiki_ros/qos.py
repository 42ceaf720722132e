"""QoS profiles of the graph, chosen per kind of data (named by the `qos:` key in config/graph.yaml).

- stream: sensor and state streams the next node must not lose (lockstep, tracker input):
  reliable, keep-last 1000 so a subscriber outside the step barrier (observer, scorer, recorder) that
  falls behind a fast lockstep run loses nothing, and transient-local so a subscriber
  whose DDS match completes a little after the graph starts still receives the first steps (discovery
  of one node's endpoints is not simultaneous; a lost step 0 would stall the lockstep barrier).
- latched: status-like topics a late joiner needs (agent status, BIOS report): reliable,
  transient-local, keep-last 10 (the boot sequence publishes several statuses in one tick; a recorder
  that joins late still gets all of them).
- sync: the step barrier (StepDone), transient-local and deep enough that no announcement is lost.
- events: coded events, kept for late joiners (a monitor started after boot still sees 1xx codes).
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

STREAM = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
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
    not the transient-local history (up to `depth` old steps) the publishers keep for first joiners."""
    return QoSProfile(history=profile.history, depth=profile.depth, reliability=profile.reliability,
                      durability=DurabilityPolicy.VOLATILE)


BY_NAME = {"stream": STREAM, "latched": LATCHED, "events": EVENTS, "clock": CLOCK, "sync": SYNC}
