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
    assert gap["severity"] == "High" and "create-analyzer" in gap["remediation"]["desc"]
    assert gap["cloud"]["region"] == "eu-west-1" and gap["cloud"]["account"]["uid"] == \
        "222222222222"
    cis = compliance[f"aa-scan/{organization}/region/222222222222/us-east-1/cis-1.20"]
    assert cis["compliance"]["status_id"] == 1 and cis["compliance"]["standards"] == [
        f"CIS AWS Foundations Benchmark v{v}" for v in ("1.4.0", "1.5.0", "2.0.0", "3.0.0",
                                                         "4.0.0")]
    denied = compliance[f"aa-scan/{organization}/region/222222222222/ap-southeast-2/cis-1.20"]
    assert denied["compliance"]["status_id"] == 0 and "AccessDenied" in denied["status_detail"]
    assert not [u for u in compliance if "/af-south-1/" in u]  # not enabled: no evaluation
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
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert {n for (k, n) in cases if k == "aa-scan.regions"} == {
        "us-east-1", "eu-west-1", "ap-southeast-2", "af-south-1"}
    assert {n for (k, n) in cases if k == "aa-scan.organization"} == {
        "in-organization", "trusted-access", "delegated-administrator", "vantage",
        "organization-wide-requirements"}
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
