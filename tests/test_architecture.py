"""The import directions the architecture allows, as declared in pyproject.toml's
[tool.importlinter] contracts (the reports never import the scanner, the product never
imports the simulator, the scanner's layers and the reports' layers point down): one check
of the whole graph instead of a subprocess per package."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_every_import_contract_is_kept(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # where pyproject.toml declares the contracts
    assert lint_imports() == 0, "run `lint-imports` to see which import broke a contract"
