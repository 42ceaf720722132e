"""The catalogue of coded events published on /qiki/events (family = code // 100).

1xx boot, 2xx FSM, 3xx BIOS, 4xx radar and tracks, 5xx mission, 9xx errors.
"""
from enum import IntEnum


class EventCode(IntEnum):
    BOOT_STARTED = 101
    BOOT_COMPLETE = 102
    FSM_TRANSITION = 201
    FSM_OSCILLATION_HOLD = 202
    FSM_TRIGGER_REFUSED = 203
    RULE_FIRED = 204           # a safety rule fired its trigger (rule, condition that held)
    BIOS_PASSED = 301
    BIOS_FAILED = 302
    BIOS_DEVICE_CHANGED = 303
    RADAR_FRAMES_RESUMED = 401
    RADAR_FRAMES_LOST = 402
    TRACK_CONFIRMED = 403
    THREAT_DETECTED = 404      # a track became a collision threat (id, TCPA, DCPA)
    THREAT_CLEARED = 405       # a threat track no longer threatens (or was lost)
    MISSION_STARTED = 501
    MISSION_COMPLETE = 502
    MISSION_ABORTED = 503
    SCENARIO_LOADED = 504
    AVOIDANCE_MANOEUVRE = 505  # avoidance started (threat id, planned miss distance)
    COMMAND_REJECTED = 901
    COMMAND_CLAMPED = 902
    INPUT_DROPPED = 903
    CONFIG_ERROR = 904
    INPUT_REJECTED = 905       # the agent core ignored a malformed input (NaN/inf, inconsistent lengths, stale stamp)
    NODE_SILENT = 906          # lockstep sim: a barrier member announced no step in time (crashed, restarting):
                               # real-time pace until it is back; the agent: stepping without it, vehicle stopped
    NODE_RESUMED = 907         # lockstep sim: that member announces steps again
    UPSTREAM_SILENT = 908      # the agent lost the step heartbeat (StepDone) of an upstream node: it runs without it
    UPSTREAM_RESUMED = 909     # that node announces steps again
    STEP_INPUT_REJECTED = 910  # the step barrier dropped an input or StepDone: off the step grid, past, beyond the
                               # horizon, surplus, or of another graph run (once per burst per topic and reason)
