"""The health of a run from the /diagnostics statuses seen during it: per status the worst level and why,
not only the last one (a node that was in ERROR for a minute and recovered still says so). No rclpy.

Levels rank as their diagnostic_msgs/DiagnosticStatus values: OK < WARN < ERROR < STALE.
"""
from __future__ import annotations

from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticStatus

LEVEL_NAMES = {ord(getattr(DiagnosticStatus, name)): name for name in ("OK", "WARN", "ERROR", "STALE")}
STALE = ord(DiagnosticStatus.STALE)
NO_REPORT = "no /diagnostics status received during the run"


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, str(level))


@dataclass
class StatusHistory:
    """One status name's reports: the worst level, the message and sim time of its first report at that level,
    the latest level and message, and how many reports were not OK."""

    worst: int
    why: str
    worst_at_s: float
    final: int
    final_message: str
    reports: int = 1
    not_ok: int = 0

    def as_json(self) -> dict:
        return {"worst": level_name(self.worst), "why": self.why, "worst_at_sim_s": round(self.worst_at_s, 3),
                "final": level_name(self.final), "final_message": self.final_message,
                "reports": self.reports, "reports_not_ok": self.not_ok}


class HealthHistory:
    """Every status name's history (`add` for each DiagnosticStatus received, in arrival order)."""

    def __init__(self) -> None:
        self.statuses: dict[str, StatusHistory] = {}

    def add(self, name: str, level: int, message: str, sim_time_s: float) -> None:
        h = self.statuses.get(name)
        if h is None:
            self.statuses[name] = StatusHistory(level, message, sim_time_s, level, message, not_ok=int(level > 0))
            return
        if level > h.worst:
            h.worst, h.why, h.worst_at_s = level, message, sim_time_s
        h.final, h.final_message = level, message
        h.reports += 1
        h.not_ok += level > 0

    def summary(self, node_names: list[str], prefix: str = "qiki/") -> dict:
        """{"level": worst over the graph's nodes, "nodes": {node: history}, "devices": {other status: history}}.

        A node of the graph without any status counts as STALE (nothing known of it), with NO_REPORT as why.
        """
        nodes, others = {}, {}
        for name, h in sorted(self.statuses.items()):
            short = name.removeprefix(prefix)
            (nodes if short in node_names else others)[short] = h.as_json()
        for node in node_names:
            nodes.setdefault(node, {"worst": level_name(STALE), "why": NO_REPORT, "worst_at_sim_s": None,
                                    "final": level_name(STALE), "final_message": NO_REPORT,
                                    "reports": 0, "reports_not_ok": 0})
        ranks = {v: k for k, v in LEVEL_NAMES.items()}
        worst = max((ranks.get(n["worst"], STALE) for n in nodes.values()), default=STALE)
        return {"level": level_name(worst), "nodes": dict(sorted(nodes.items())), "devices": others}
