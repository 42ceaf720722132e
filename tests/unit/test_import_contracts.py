"""The dependency rules of .importlinter hold: a forbidden import anywhere in src/ fails this test.

`lint-imports` runs in its own process: the linter configures Python logging (it disables the loggers that
exist), which would silence the warnings other tests of the same session assert on."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}   # the source trees, as here
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                          "sys.exit(lint_imports_command())", "--config", str(REPO / ".importlinter"), "--no-cache"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, "an import breaks a contract of .importlinter:\n" + run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout
