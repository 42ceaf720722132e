"""The bound every position, velocity or rate on the graph respects: a larger value is corrupt input."""

MAX_ABS_STATE = 1e12
