"""Run i on disk: DIR/runs/<i:05d>/{scenario.yaml, description.yaml (when dispersed), overrides.yaml}, the files
`qiki run --scenario ... --overrides ...` reads, so the table's `command` reproduces the run exactly."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from qiki_tools.campaign.dispersion import RunDraw

DESCRIPTION_FILE = "description.yaml"   # beside the run's scenario.yaml, which names it relatively


@dataclass(frozen=True)
class RunFiles:
    dir: Path
    scenario: Path
    overrides: Path
    description: Path | None


def run_dir(out: Path, run: int) -> Path:
    return out / "runs" / f"{run:05d}"


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)


def write_run(draw: RunDraw, directory: Path, note: str = "") -> RunFiles:
    """Write run `draw` into `directory` (created); values are written as drawn (YAML floats round-trip exactly)."""
    directory.mkdir(parents=True, exist_ok=True)
    scenario = dict(draw.scenario)
    description = None
    if draw.description is not None:
        description = directory / DESCRIPTION_FILE
        description.write_text(_dump(draw.description))
        scenario["vehicle"] = {**scenario["vehicle"], "description": DESCRIPTION_FILE}
    head = f"# {note}\n" if note else ""
    (directory / "scenario.yaml").write_text(head + _dump(scenario))
    (directory / "overrides.yaml").write_text(head + _dump(draw.overrides_document()))
    return RunFiles(directory, directory / "scenario.yaml", directory / "overrides.yaml", description)


def files_of(directory: Path) -> RunFiles:
    """The files write_run wrote into `directory`."""
    description = directory / DESCRIPTION_FILE
    return RunFiles(directory, directory / "scenario.yaml", directory / "overrides.yaml",
                    description if description.exists() else None)


def run_command(files: RunFiles, engine: str) -> str:
    """The `qiki run` command that reproduces the run (into the run's rerun/ directory)."""
    return " ".join(["qiki", "run", "--engine", engine, "--scenario", shlex.quote(str(files.scenario.resolve())),
                     "--overrides", shlex.quote(str(files.overrides.resolve())),
                     "--out", shlex.quote(str((files.dir / "rerun").resolve()))])
