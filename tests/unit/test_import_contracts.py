"""The dependency rules of .importlinter hold: a forbidden import anywhere in src/ fails this test."""
from pathlib import Path

from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / ".importlinter"), no_cache=True) == 0, \
        "an import breaks a contract of .importlinter (run `lint-imports` for the details)"
