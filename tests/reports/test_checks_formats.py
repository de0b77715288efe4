"""The formats that list checks (OCSF, JUnit) from documents built by the real judge: the
organization checks, the member view, the accepted-exception hook, and hostile text."""

from __future__ import annotations

import copy
import json
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.document.derive import derive
from reports.document.evaluations import acceptance, evaluations
from reports.document.schema import validate
from reports.junit import junit_tree, write_junit
from reports.ocsf import ocsf_events, write_ocsf
from tests.builders import (
    ADMIN,
    MEMBER,
    analyzer,
    covered,
    finding,
    make_document,
    organization,
    region_scan,
)
from tests.reports.test_properties import hostile_document, text


def _member_view(document: dict) -> dict:
    document = copy.deepcopy(document)
    document["member_view"] = {
        "role_name": "aa-scan-member",
        "accounts": [
            {"account_id": ADMIN, "name": "security", "status": "ASSESSED", "error": None,
             "regions": {"us-east-1": "PASS", "eu-west-1": "NOT_ENABLED"}},
            {"account_id": MEMBER, "name": "workloads", "status": "ASSESSED", "error": None,
             "regions": {"us-east-1": "FAIL", "eu-west-1": "ERROR"},
             "region_errors": {"eu-west-1": {"code": "AccessDeniedException",
                                             "message": "explicit deny"}}},
            {"account_id": "444444444444", "name": "closed", "status": "SUSPENDED",
             "error": None, "regions": {}},
        ],
        "summary": {"accounts": 3, "pass": 1, "fail": 1, "error": 0},
        "error": None,
        "remediation": {"template": "AWSTemplateFormatVersion: '2010-09-09'",
                        "commands": ["aws cloudformation create-stack-set ..."], "note": ""}}
    return validate(document)


def test_a_trusted_access_gap_fails_its_organization_check_and_no_region():
    document = derive(make_document([covered("us-east-1")], org=organization(trusted=False)))
    rows = {e.uid.rsplit("/", 1)[-1]: e for e in evaluations(document)}
    assert rows["trusted-access"].status == "FAIL"
    assert rows["trusted-access"].gaps[0]["code"] == "TRUSTED_ACCESS_DISABLED"
    assert rows["us-east-1"].status == "PASS"
    # OCSF: the organization check cites the controls its gap bears on.
    event = next(e for e in ocsf_events(document)
                 if e["finding_info"]["uid"].endswith("/organization/trusted-access"))
    assert event["compliance"]["status_id"] == 3 and event["severity"] == "Critical"
    assert "AWS Security Hub/IAM.28" in event["compliance"]["requirements"]


def test_unknown_trusted_access_is_not_assessed_not_passed():
    document = derive(make_document([covered("us-east-1")], org=organization(trusted=None)))
    rows = {e.name: e for e in evaluations(document) if e.kind == "organization"}
    assert rows["trusted-access"].status == "NOT_ASSESSED"
    case = next(c for c in junit_tree(document).getroot().iter("testcase")
                if c.get("name") == "trusted-access")
    assert case.find("error") is not None


def test_a_gap_no_control_requires_fails_the_region_but_passes_the_controls():
    """A missing internal-access analyzer is a gap (JUnit fails the region) that bears on
    none of the external-access controls (OCSF passes them)."""
    document = derive(make_document(
        [covered("us-east-1")],
        coverage_types=("ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")))
    (region,) = [e for e in evaluations(document) if e.kind == "region"]
    assert region.status == "FAIL" and region.gaps[0]["code"] == "MISSING_REQUIRED_TYPE"
    statuses = {e["compliance"]["control"]: e["compliance"]["status_id"]
                for e in ocsf_events(document) if "/region/" in e["finding_info"]["uid"]}
    assert set(statuses.values()) == {1}


def test_the_member_view_is_an_evaluation_per_cell_and_a_test_case_per_account():
    document = derive(_member_view(make_document([covered("us-east-1"),
                                                  covered("eu-west-1")])))
    members = [e for e in evaluations(document) if e.kind == "member"]
    assert {(e.account_id, e.region, e.status) for e in members} == {
        (ADMIN, "us-east-1", "PASS"), (MEMBER, "us-east-1", "FAIL"),
        (MEMBER, "eu-west-1", "NOT_ASSESSED")}
    events = [e for e in ocsf_events(document) if "/member/" in e["finding_info"]["uid"]]
    assert len(events) == 3 * 4  # each cell, once per control of the mapping
    failed = [e for e in events if e["compliance"]["status_id"] == 3]
    assert {e["cloud"]["account"]["uid"] for e in failed} == {MEMBER}
    assert all("create-stack-set" in e["remediation"]["desc"] for e in failed)
    root = junit_tree(document).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")
             if c.get("classname") == "aa-scan.member-accounts"}
    assert cases[f"{MEMBER} (workloads)"].find("failure") is not None
    assert cases[f"{ADMIN} (security)"].find("failure") is None
    assert cases["444444444444 (closed)"].find("skipped") is not None


def test_an_accepted_gap_passes_with_its_reason(tmp_path):
    """Issue 23's hook: a gap carrying its exception passes in JUnit, its reason in
    system-out, and is a Warning (not a Pass, not a Fail) in OCSF."""
    document = derive(make_document([region_scan("eu-west-1", [analyzer(
        "eu-west-1", type="ACCOUNT")])]))
    exception = {"reason": "Sandbox region approved by the risk board",
                 "owner": "secops@example.com", "expires": "2027-03-31", "ticket": "RISK-101"}
    document["gaps"][0]["exception"] = exception
    assert acceptance(document["gaps"][0]) == (
        "accepted exception: reason: Sandbox region approved by the risk board; owner: "
        "secops@example.com; expires: 2027-03-31; ticket: RISK-101")
    root = ET.parse(write_junit(document, tmp_path)).getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "eu-west-1")
    assert case.find("failure") is None
    assert "risk board" in (case.findtext("system-out") or "")
    cis = next(e for e in ocsf_events(document)
               if e["finding_info"]["uid"].endswith("/eu-west-1/cis-1.20"))
    assert cis["compliance"]["status_id"] == 2 and "RISK-101" in cis["status_detail"]


def test_detection_findings_carry_status_and_first_seen(tmp_path):
    record = finding("us-east-1", is_public=True, resource="arn:aws:s3:::x")
    record["first_seen_at"] = "2025-01-01T00:00:00Z"
    archived = finding("us-east-1", status="ARCHIVED")
    document = derive(make_document([covered("us-east-1", [record, archived])],
                                    finding_statuses=("ACTIVE", "ARCHIVED")))
    events = json.loads(write_ocsf(document, tmp_path).read_text())
    found = {e["finding_info"]["uid"].rsplit("/", 1)[-1]: e for e in events
             if e["class_uid"] == 2004}
    assert found[record["id"]]["finding_info"]["first_seen_time"] == 1735689600000
    assert found[archived["id"]]["status"] == "Archived"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(text, min_size=1, max_size=8))
def test_junit_and_ocsf_stay_well_formed_whatever_the_text(values):
    document = derive(hostile_document(values))
    with tempfile.TemporaryDirectory() as folder:
        root = ET.parse(write_junit(document, Path(folder))).getroot()
        assert root.tag == "testsuites"
        raw = write_ocsf(document, Path(folder)).read_bytes()
        assert raw.isascii()
        assert all(isinstance(e, dict) for e in json.loads(raw))
