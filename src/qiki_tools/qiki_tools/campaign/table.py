"""DIR/runs.parquet: one row per run (seed, status, dispersed values d.*, summary figures s.*), always valid.

The table is rewritten whole after every finished run into a temporary file that replaces the old one
(os.replace), so a campaign stopped at any moment leaves the last complete table; `--resume` reads it back
and skips the runs it holds. The file's metadata holds the campaign's fingerprint: a table of another campaign
(other scenario, seed or dispersions) is never resumed.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TABLE_FILE = "runs.parquet"
METADATA_KEY = b"qiki.campaign"

RUN_COLUMNS = [("run", pa.int64()), ("seed", pa.int64()), ("status", pa.string()), ("error", pa.string()),
               ("wall_time_s", pa.float64()), ("command", pa.string())]
SUMMARY_COLUMNS = [
    ("s.mission_result", pa.string()), ("s.agent_state_final", pa.string()),
    ("s.min_miss_distance_m", pa.float64()), ("s.min_miss_object_id", pa.int64()),
    ("s.gospa_mean.lr", pa.float64()), ("s.gospa_mean.sr", pa.float64()), ("s.gospa_mean.union", pa.float64()),
    ("s.tracks_confirmed.lr", pa.int64()), ("s.tracks_confirmed.sr", pa.int64()), ("s.events_count", pa.int64()),
    ("s.sim_time_s", pa.float64()), ("s.rtf", pa.float64()), ("s.safe_radius_m", pa.float64()),
    ("s.failure_mode", pa.string())]
FAILURE_MODES = ("collision", "safe_mode", "mission_failed", "timeout", "error")
SAFE_MODE_STATE = "SAFE_MODE"


class TableError(ValueError):
    """A runs.parquet that cannot be resumed; str() is one line."""


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def failure_mode(summary: dict, safe_radius_m: float) -> str:
    """"" for a run whose mission completed without coming inside the safe radius, else its failure class."""
    miss = summary.get("min_miss_distance_m")
    if miss is not None and miss < safe_radius_m:
        return "collision"
    if summary.get("agent_state_final") == SAFE_MODE_STATE:
        return "safe_mode"
    if summary.get("mission_result") in ("failed", "aborted"):
        return "mission_failed"
    if summary.get("mission_result") != "complete":
        return "timeout"
    return ""


def summary_figures(summary: dict, safe_radius_m: float) -> dict[str, Any]:
    """The s.* columns of a finished run's summary.json."""
    gospa, tracks = summary.get("gospa_mean") or {}, summary.get("tracks_confirmed") or {}
    return {"s.mission_result": str(summary.get("mission_result") or ""),
            "s.agent_state_final": str(summary.get("agent_state_final") or ""),
            "s.min_miss_distance_m": _float(summary.get("min_miss_distance_m")),
            "s.min_miss_object_id": summary.get("min_miss_object_id"),
            **{f"s.gospa_mean.{b}": _float(gospa.get(b)) for b in ("lr", "sr", "union")},
            **{f"s.tracks_confirmed.{b}": tracks.get(b) for b in ("lr", "sr")},
            "s.events_count": summary.get("events_count"),
            "s.sim_time_s": _float(summary.get("sim_time_s")), "s.rtf": _float(summary.get("rtf")),
            "s.safe_radius_m": float(safe_radius_m), "s.failure_mode": failure_mode(summary, safe_radius_m)}


def error_figures(safe_radius_m: float) -> dict[str, Any]:
    """The s.* columns of a run that raised: NaN / null / "" and failure mode "error"."""
    blank = {name: ("" if t == pa.string() else math.nan if t == pa.float64() else None)
             for name, t in SUMMARY_COLUMNS}
    return {**blank, "s.safe_radius_m": float(safe_radius_m), "s.failure_mode": "error"}


def column_type(values: list[Any]) -> pa.DataType:
    """A d.* column's type from the values it can hold: bool, int64, float64 (numbers mixed) or string."""
    if values and all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


RETRY_ERRORS = ("worker lost", "interrupted")   # error rows of runs cut short by their surroundings, not by the run


def retryable(row: dict) -> bool:
    """Was this run cut short by something outside it (`--resume` runs it again)?"""
    return row.get("status") == "error" and str(row.get("error", "")).startswith(RETRY_ERRORS)


class CampaignTable:
    """The rows of one campaign, by run, written atomically to DIR/runs.parquet on every flush."""

    def __init__(self, path: Path, dispersed: list[tuple[str, pa.DataType]], fingerprint: dict):
        self.path = Path(path)
        self.schema = pa.schema(RUN_COLUMNS + dispersed + SUMMARY_COLUMNS,
                                metadata={METADATA_KEY: json.dumps(fingerprint, sort_keys=True).encode()})
        self.fingerprint = fingerprint
        self.rows: dict[int, dict] = {}

    def resume(self) -> None:
        """Take the rows of the existing table (TableError if it is another campaign's or unreadable), except the
        runs that did not end by themselves (a lost worker, an interrupted run): those run again."""
        try:
            old = pq.read_table(self.path)
        except (OSError, pa.ArrowException) as exc:
            raise TableError(f"{self.path}: cannot read the table to resume ({exc})") from None
        theirs = (old.schema.metadata or {}).get(METADATA_KEY)
        if theirs is None or json.loads(theirs) != self.fingerprint or old.schema.names != self.schema.names:
            raise TableError(f"{self.path}: the table is of another campaign (base scenario, seed, engine or "
                             "dispersions differ); give a new --out or the campaign that wrote it")
        self.rows = {int(r["run"]): r for r in old.to_pylist() if not retryable(r)}

    def add(self, row: dict) -> None:
        self.rows[int(row["run"])] = {name: self._cell(name, row.get(name)) for name in self.schema.names}

    def _cell(self, name: str, value: Any) -> Any:
        t = self.schema.field(name).type
        if value is None:
            return math.nan if t == pa.float64() else "" if t == pa.string() else None
        if t == pa.string():
            return str(value)
        if t == pa.float64():
            return float(value)
        return value

    def flush(self) -> None:
        """Write every row, in run order, to a temporary file beside the table, then replace the table with it."""
        table = pa.Table.from_pylist([self.rows[i] for i in sorted(self.rows)], schema=self.schema)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.path)
