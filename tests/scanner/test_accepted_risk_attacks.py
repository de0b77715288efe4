"""Accepted risk attacked as a skeptical auditor would: a wildcard that accepts a region
enabled later, a re-render long after an exception expired, a scan.json edited to look
compliant, exceptions in a region not assessed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import openpyxl

from tests.builders import analyzer, covered, exception, finding, make_document, region_scan

from .conftest import env_world
from .test_accepted_risk_e2e import LATER, gap_exception, write


def _old_scan(tmp_path: Path) -> Path:
    """A scan of 2026-11-01 whose exception expires on 2026-11-10 (long gone today)."""
    document = make_document(
        [covered("us-east-1", [finding(is_public=True, resource="arn:aws:s3:::acme-site")]),
         region_scan("us-west-2", [analyzer("us-west-2", type="ACCOUNT")])],
        exceptions=[exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-11-10")])
    path = tmp_path / "old-scan.json"
    path.write_text(json.dumps(document))
    return path


def test_a_rerender_judges_exceptions_as_of_its_scan_not_of_today(run_scan, tmp_path):
    old = _old_scan(tmp_path)
    run = run_scan("--from-json", str(old), "--fail-on", "gaps", formats="json,html")
    assert run.code == 0, run.err  # as of 2026-11-01 the gap was accepted
    (entry,) = run.document["exceptions"]["entries"]
    assert (entry["state"], entry["days_left"]) == ("expiring", 9)
    assert run.document["exceptions"]["as_of"] == "2026-11-01T12:00:00Z"
    page = (run.directory / "report.html").read_text()
    assert "judged as of the scan's start, 2026-11-01 (UTC)" in page
    assert "Compliant with 1 accepted exception" in page


def test_a_scan_json_edited_to_hide_what_it_accepts_is_refused(run_scan, tmp_path):
    document = json.loads(_old_scan(tmp_path).read_text())
    edits = {
        "no-accepted-count": lambda d: d["summary"].pop("accepted"),
        "moved-in-time": lambda d: d["exceptions"].update(as_of="2026-10-01T00:00:00Z"),
        "extended": lambda d: d["exceptions"]["entries"][0].update(expires="2027-10-01"),
        "public-hidden": lambda d: d["findings"][0].update(
            exception=copy.deepcopy(d["gaps"][0]["exception"])),
    }
    for name, edit in edits.items():
        edited = copy.deepcopy(document)
        edit(edited)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(edited))
        run = run_scan("--from-json", str(path))
        assert run.code == 2, (name, run.err)
        assert "disagree with its regions" in run.err, name


def test_a_wildcard_accepts_a_region_enabled_later_and_says_so(monkeypatch, run_scan,
                                                                tmp_path):
    everywhere = [{"type": "ORGANIZATION", "name": "org",
                   "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}]
    wildcard = write(tmp_path, "wide.yaml", gap_exception('"*"', "NO_ANALYZER", LATER))
    history = str(tmp_path / "history.sqlite")
    with env_world(monkeypatch, analyzers=everywhere):
        first = run_scan("--exceptions", wildcard, "--history", history,
                         "--fail-on", "new-gaps")
    enabled = {"universe": ["us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"],
               "opt_in_status": {"af-south-1": "ENABLED"}}
    with env_world(monkeypatch, analyzers=everywhere, regions=enabled):
        later = run_scan("--exceptions", wildcard, "--history", history,
                         "--fail-on", "new-gaps", formats="json,html,xlsx")
    assert first.code == 0
    (entry,) = first.document["exceptions"]["entries"]
    assert entry["state"] == "unused"
    # The gap of the newly enabled region is accepted by the wildcard, as configured: not
    # counted by the gate, but never silent.
    assert later.code == 0, later.err
    (opened,) = later.document["changes"]["gaps_opened"]
    assert (opened["region"], opened["exception"]) == ("af-south-1", "gap:*:NO_ANALYZER")
    assert "+1 gap (1 accepted)" in later.out
    page = (later.directory / "report.html").read_text()
    assert "gap NO_ANALYZER in every region (regions enabled later included)" in page
    assert "accepted by gap:*:NO_ANALYZER" in page
    sheet = openpyxl.load_workbook(later.directory / "report.xlsx", read_only=True)["Changes"]
    (row,) = [r for r in sheet.iter_rows(values_only=True) if r[0] == "Gap opened"]
    assert row[1] == "af-south-1" and row[5].endswith("; accepted by gap:*:NO_ANALYZER")


def test_an_exception_for_a_region_not_assessed_changes_nothing(monkeypatch, run_scan,
                                                                tmp_path):
    analyzers = [{"type": "ORGANIZATION", "name": "org",
                  "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}]
    risk = write(tmp_path, "denied.yaml", gap_exception("eu-west-1", "NO_ANALYZER", LATER))
    with env_world(monkeypatch, analyzers=analyzers, conditions={"eu-west-1": {"deny": True}}):
        run = run_scan("--exceptions", risk, "--fail-on", "gaps")
    assert run.code == 3  # still incomplete: no exception makes a region assessed
    (entry,) = run.document["exceptions"]["entries"]
    assert entry["state"] == "unused" and "was not assessed" in entry["note"]
