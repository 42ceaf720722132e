"""When a process started, from Linux /proc: how long a restart took, which of two processes is older."""
import os
from pathlib import Path


def start_ticks(pid: int | str = "self") -> int:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19])


def seconds_since_start(pid: int | str = "self") -> float:
    """Wall seconds since the process started."""
    return float(Path("/proc/uptime").read_text().split()[0]) - start_ticks(pid) / os.sysconf("SC_CLK_TCK")
