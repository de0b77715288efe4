"""The derive step in a run: once per run, on the final document, for a live scan and for a
re-render; scan.json, report.html, report.xlsx and manifest.json state what it computed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import reports.document.derive as derive_module
from reports.document.controls import assess

from .conftest import env_world

ANALYZERS = [{"type": "ORGANIZATION", "name": "org", "regions": ["us-east-1", "eu-west-1"],
              "findings": [{"generate": {"count": 5}}]}]


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run ids of the documents derived (derive assesses the controls once each time)."""
    seen: list[str] = []

    def counted(document: Any) -> Any:
        seen.append(str(document.get("run_id")))
        return assess(document)

    monkeypatch.setattr(derive_module, "assess", counted)
    return seen


def stated(directory: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """scan.json's derived block, the manifest, the workbook's Scope rows and the page."""
    document = json.loads((directory / "scan.json").read_text())
    manifest = json.loads((directory / "manifest.json").read_text())
    sheet = load_workbook(directory / "report.xlsx")["Summary"]
    rows = {row[1]: row[2] for row in sheet.iter_rows(min_row=2, values_only=True)
            if row[0] == "Scope"}
    return document["derived"], manifest, rows, (directory / "report.html").read_text()


def test_a_scan_and_its_re_render_derive_once_each_and_state_the_same(monkeypatch, run_scan,
                                                                      derivations, tmp_path):
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan(formats="json,html,xlsx")
    assert len(derivations) == 1
    derived, manifest, rows, page = stated(run.directory)
    assert manifest["scope"] == derived["scope"]
    assert manifest["completeness"] == derived["completeness"]
    assert manifest["controls"] == derived["controls"] == run.document["summary"]["controls"]
    assert manifest["configuration_sha256"] == derived["configuration_sha256"]  # a live scan
    assert rows["Configuration SHA-256"] == derived["configuration_sha256"]
    assert derived["configuration_sha256"] in page
    assert rows["Regions scanned, by name"] == ", ".join(derived["scope"]["regions_scanned"])

    # A scan.json written before `derived` existed, and one whose block was edited: both are
    # derived again, to what the scan derived.
    older = dict(run.document)
    del older["derived"]
    edited = json.loads(json.dumps(run.document))
    edited["derived"]["scope"]["regions_scanned"] = ["nowhere-1"]
    for name, given in (("older.json", older), ("edited.json", edited)):
        path = tmp_path / name
        path.write_text(json.dumps(given))
        again = run_scan("--from-json", str(path), "--no-history", formats="json,html,xlsx")
        assert again.code == run.code
        derived_again, manifest_again, rows_again, _ = stated(again.directory)
        assert derived_again == derived
        assert manifest_again["scope"] == derived["scope"]
        assert rows_again == rows
    assert len(derivations) == 3
