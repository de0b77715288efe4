"""--format ocsf and --format junit against the simulated organization: every event valid for
py-ocsf-models, uids stable from run to run, a golden file for a small world, and JUnit's
failures, errors and skips where the scan found gaps, could not look, or was told not to."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from reports.ocsf import _CloudComplianceFinding

from .conftest import env_world

GOLDEN = Path(__file__).parent / "golden" / "findings.ocsf.json"
REGENERATE = "AA_SCAN_REGENERATE_GOLDEN"
# A small world: us-east-1 covered with two findings (one public), eu-west-1 with only an
# account analyzer (a gap), ap-southeast-2 denied by an SCP (not assessed), af-south-1 not
# enabled.
ANALYZERS = [
    {"type": "ORGANIZATION", "name": "org", "region": "us-east-1",
     "created_at": "2026-01-01T00:00:00Z",
     "findings": [
         {"resource": "arn:aws:s3:::public-site", "resource_type": "AWS::S3::Bucket",
          "owner": "333333333333", "public": True, "principal": {"AWS": "*"},
          "action": ["s3:GetObject"], "created_at": "2026-03-14T09:12:00Z"},
         {"resource": "arn:aws:iam::333333333333:role/partner", "resource_type":
          "AWS::IAM::Role", "owner": "333333333333",
          "principal": {"AWS": "arn:aws:iam::999999999999:root"},
          "action": ["sts:AssumeRole"], "condition": {"sts:ExternalId": "x"},
          "created_at": "2026-04-01T10:00:00Z"}]},
    {"type": "ACCOUNT", "name": "legacy", "region": "eu-west-1",
     "created_at": "2026-01-01T00:00:00Z"},
]
CONDITIONS = {"ap-southeast-2": {"deny": True}}
# What changes from run to run: the run's time and id, and the simulator's clock (a finding's
# updatedAt and analyzedAt are when the world started). A finding_info.uid is never here: its
# stability is the point.
VOLATILE = {("time",), ("metadata", "uid"), ("metadata", "correlation_uid"),
            ("finding_info", "modified_time"), ("finding_info", "last_seen_time")}


def _stable(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its volatile values replaced by a placeholder."""
    copy = json.loads(json.dumps(event))
    for path in VOLATILE:
        *parents, key = path
        node = copy
        for parent in parents:
            node = node.get(parent, {})
        if key in node:
            node[key] = "<volatile>"
    return copy


def _scan(monkeypatch, run_scan, formats: str = "json,ocsf,junit", runs: int = 1):
    with env_world(monkeypatch, analyzers=ANALYZERS, conditions=CONDITIONS):
        return [run_scan(formats=formats) for _ in range(runs)]


def test_ocsf_events_are_valid_stable_and_match_the_golden_file(monkeypatch, run_scan):
    first, second = _scan(monkeypatch, run_scan, runs=2)
    assert first.code == second.code == 3  # ap-southeast-2 could not be assessed
    events = json.loads((first.directory / "findings.ocsf.json").read_text())
    again = json.loads((second.directory / "findings.ocsf.json").read_text())
    for event in events:
        model = {2003: _CloudComplianceFinding, 2004: DetectionFinding}[event["class_uid"]]
        # Every key is the model's (pydantic drops what it does not know: nothing was).
        assert model.model_validate(event).model_dump(mode="json", exclude_none=True) == event
        assert event["metadata"]["version"] == "1.5.0"
        assert event["metadata"]["correlation_uid"] == first.document["run_id"]
    # The same evaluations and findings, under the same uids, in the next run; each event's
    # own id is new.
    assert [e["finding_info"]["uid"] for e in events] == [
        e["finding_info"]["uid"] for e in again]
    assert not {e["metadata"]["uid"] for e in events} & {e["metadata"]["uid"] for e in again}
    compliance = {e["finding_info"]["uid"]: e for e in events if e["class_uid"] == 2003}
    organization = first.document["organization"]["id"]
    gap = compliance[f"aa-scan/{organization}/region/222222222222/eu-west-1/securityhub-iam.28"]
    assert gap["compliance"] == {
        "control": "IAM.28", "standards": ["AWS Security Hub"],
        "requirements": ["AWS Security Hub/IAM.28"], "status_id": 3,
        "desc": gap["compliance"]["desc"]}
    assert gap["finding_info"]["title"].startswith("Only an account-scoped analyzer")
    assert gap["severity"] == "Medium" and "create-analyzer" in gap["remediation"]["desc"]
    assert gap["cloud"]["region"] == "eu-west-1" and gap["cloud"]["account"]["uid"] == \
        "222222222222"
    cis = compliance[f"aa-scan/{organization}/region/222222222222/us-east-1/cis-1.20"]
    assert cis["compliance"]["status_id"] == 1 and cis["compliance"]["standards"] == [
        f"CIS AWS Foundations Benchmark v{v}" for v in ("1.4.0", "1.5.0", "2.0.0", "3.0.0",
                                                         "4.0.0")]
    denied = compliance[f"aa-scan/{organization}/region/222222222222/ap-southeast-2/cis-1.20"]
    assert denied["compliance"]["status_id"] == 0 and "AccessDenied" in denied["status_detail"]
    # Not enabled: no evaluation, but each control closed under its uid (a SIEM holding an
    # earlier Fail for a region since disabled sees it resolved), compliance Other.
    closed = [e for u, e in compliance.items() if "/af-south-1/" in u]
    assert len(closed) == 6 and {(e["status"], e["compliance"]["status_id"], e["activity_id"])
                                 for e in closed} == {("Resolved", 99, 3)}
    detections = [e for e in events if e["class_uid"] == 2004]
    assert len(detections) == 2
    public = next(e for e in detections if e["resources"][0]["uid"] == "arn:aws:s3:::public-site")
    assert public["severity"] == "High" and public["cloud"]["account"]["uid"] == "333333333333"
    assert public["evidences"][0]["data"]["principal"] == {"AWS": "*"}
    assert public["finding_info"]["created_time"] == 1773479520000
    assert public["status_code"] == "ACTIVE" and public["status"] == "New"

    stable = [_stable(e) for e in events]
    if os.environ.get(REGENERATE):
        GOLDEN.write_text(json.dumps(stable, indent=1, sort_keys=True) + "\n")
    assert stable == json.loads(GOLDEN.read_text()), (
        f"findings.ocsf.json differs from {GOLDEN.name}; if the change is intended, "
        f"regenerate it: {REGENERATE}=1 .venv/bin/python -m pytest -n0 "
        "tests/scanner/test_ocsf_junit_e2e.py, then review the diff")


def test_junit_has_a_case_per_region_and_organization_check(monkeypatch, run_scan):
    (run,) = _scan(monkeypatch, run_scan, formats="junit")
    root = ET.parse(run.directory / "junit.xml").getroot()
    assert root.tag == "testsuites"
    # eu-west-1 fails; ap-southeast-2 could not be assessed, so neither could the scan be
    # complete: two errors.
    assert (root.get("failures"), root.get("errors")) == ("1", "2")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    incomplete = cases[("aa-scan.organization", "scan-complete")].find("error")
    assert incomplete is not None and "ap-southeast-2" in incomplete.get("message", "")
    assert {n for (k, n) in cases if k == "aa-scan.regions"} == {
        "us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"}
    assert {n for (k, n) in cases if k == "aa-scan.organization"} == {
        "in-organization", "trusted-access", "delegated-administrator", "vantage",
        "organization-wide-requirements", "scan-complete"}
    failure = cases[("aa-scan.regions", "eu-west-1")].find("failure")
    assert failure is not None and failure.get("type") == "ACCOUNT_SCOPE_ONLY"
    assert failure.get("message", "").startswith("Only an account-scoped analyzer")
    assert "Fix: aws accessanalyzer create-analyzer" in (failure.text or "")
    error = cases[("aa-scan.regions", "ap-southeast-2")].find("error")
    assert error is not None and "AccessDeniedException" in error.get("message", "")
    skipped = cases[("aa-scan.regions", "af-south-1")].find("skipped")
    assert skipped is not None and "not enabled" in skipped.get("message", "").lower()
    assert list(cases[("aa-scan.regions", "us-east-1")]) == []  # passed
    # The suite's counts are its cases'.
    for suite in root.iter("testsuite"):
        cases_in = list(suite.iter("testcase"))
        assert int(suite.get("tests", "0")) == len(cases_in)
        assert int(suite.get("skipped", "0")) == sum(
            1 for c in cases_in if c.find("skipped") is not None)
    # The pack names what was written.
    manifest = json.loads((run.directory / "manifest.json").read_text())
    assert "junit.xml" in {a["path"] for a in manifest["artifacts"]}


def _accepted_scan(monkeypatch, run_scan, tmp_path: Path):
    """The small world with eu-west-1's gap and the public bucket accepted (issue 23)."""
    from .test_accepted_risk_e2e import LATER, gap_exception, write

    finding = ("  - resource: \"arn:aws:s3:::public-*\"\n    reason: The public website\n"
               f"    owner: web@example.com\n    expires: {LATER}\n    public: true\n")
    risk = write(tmp_path, "risk.yaml", gap_exception("eu-west-1", "ACCOUNT_SCOPE_ONLY", LATER),
                 finding)
    with env_world(monkeypatch, analyzers=ANALYZERS, conditions=CONDITIONS):
        return run_scan("--exceptions", risk, formats="json,ocsf,junit"), LATER


def test_ocsf_shows_accepted_risk_as_failed_and_suppressed(monkeypatch, run_scan, tmp_path):
    """An accepted gap's control evaluations are Fail (not met, by decision, as the Controls
    section says; never OCSF's Warning, which means "no result") with the finding status
    Suppressed and the exception in status_detail; an accepted finding is Suppressed."""
    run, later = _accepted_scan(monkeypatch, run_scan, tmp_path)
    events = json.loads((run.directory / "findings.ocsf.json").read_text())
    eu = [e for e in events if e["class_uid"] == 2003
          and e["finding_info"]["uid"].split("/")[-2] == "eu-west-1"]
    assert eu and all(_CloudComplianceFinding.model_validate(e) for e in eu)
    for event in eu:
        assert (event["compliance"]["status_id"], event["status_id"]) == (3, 3)
        assert event["status"] == "Suppressed"
        assert event["status_detail"].startswith(
            f"accepted by gap:eu-west-1:ACCOUNT_SCOPE_ONLY until {later}: reason: ")
        assert "RISK-101" in event["status_detail"]
        assert event["finding_info"]["title"].startswith("Accepted: Only an account-scoped")
        assert event["metadata"]["event_code"] == "ACCOUNT_SCOPE_ONLY"
    # The same uids as without the exception: the SIEM sees the evaluation updated.
    (plain,) = _scan(monkeypatch, run_scan, formats="json,ocsf")
    before = json.loads((plain.directory / "findings.ocsf.json").read_text())
    assert {e["finding_info"]["uid"] for e in before} == {e["finding_info"]["uid"] for e in events}
    assert {e["status_id"] for e in before
            if e["finding_info"]["uid"] in {x["finding_info"]["uid"] for x in eu}} == {1}
    detections = {e["resources"][0]["uid"]: e for e in events if e["class_uid"] == 2004}
    site = detections["arn:aws:s3:::public-site"]
    assert DetectionFinding.model_validate(site)
    assert (site["status_id"], site["status_code"]) == (3, "ACTIVE")
    assert "accepted by finding:*:resource:arn:aws:s3:::public-*" in site["status_detail"]
    assert detections["arn:aws:iam::333333333333:role/partner"]["status_id"] == 1


def test_junit_passes_accepted_risk_with_its_exception(monkeypatch, run_scan, tmp_path):
    """CI does not fail on accepted risk (as no --fail-on gate counts it) and says why."""
    run, later = _accepted_scan(monkeypatch, run_scan, tmp_path)
    root = ET.parse(run.directory / "junit.xml").getroot()
    # ap-southeast-2 only, and the scan it left incomplete
    assert (root.get("failures"), root.get("errors")) == ("0", "2")
    case = next(c for c in root.iter("testcase") if c.get("name") == "eu-west-1")
    assert case.find("failure") is None and case.find("skipped") is None
    out = case.findtext("system-out") or ""
    assert out.startswith("ACCEPTED Only an account-scoped analyzer")
    assert f"accepted by gap:eu-west-1:ACCOUNT_SCOPE_ONLY until {later}" in out
    assert "owner: secops@example.com; ticket: RISK-101" in out
