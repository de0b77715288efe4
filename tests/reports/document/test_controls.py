"""The control mapping: sourced data, carried by every gap and the verdict, answered per
control; and evidence/ standing on the document alone."""

from __future__ import annotations

import json
from importlib import resources

from reports.document.controls import assess, controls_for_gap, mapping, verdict_controls
from reports.document.rules import GapCode
from tests.builders import (
    MANAGEMENT,
    MEMBER,
    analyzer,
    covered,
    make_document,
    organization,
    region_scan,
)

CIS = "CIS AWS Foundations Benchmark"
CIS_120 = "Ensure that IAM Access analyzer is enabled for all regions"
CIS_119 = "Ensure that IAM External Access Analyzer is enabled for all regions"
EXPECTED = [
    *({"framework": CIS, "version": v, "id": "1.20", "title": CIS_120}
      for v in ("1.4.0", "1.5.0", "2.0.0", "3.0.0", "4.0.0")),
    {"framework": CIS, "version": "5.0.0", "id": "1.19", "title": CIS_119},
    {"framework": CIS, "version": "6.0.0", "id": "2.19", "title": CIS_119},
    {"framework": CIS, "version": "7.0.0", "id": "2.18", "title": CIS_119},
    {"framework": "AWS Security Hub", "version": None, "id": "IAM.28",
     "title": "IAM Access Analyzer external access analyzer should be enabled"},
    {"framework": "AWS Config managed rule", "version": None,
     "id": "iam-external-access-analyzer-enabled",
     "title": "iam-external-access-analyzer-enabled (IAM_EXTERNAL_ACCESS_ANALYZER_ENABLED)"},
]


def raw_mapping() -> dict:
    return json.loads((resources.files("reports.document") / "controls.json").read_text("utf-8"))


def test_the_mapping_holds_the_controls_the_issue_names_with_their_verified_titles():
    assert verdict_controls() == EXPECTED


def test_every_entry_names_its_sources_and_what_could_not_be_confirmed():
    data = raw_mapping()
    codes = {code.value for code in GapCode}
    assert set(data["not_assessed_codes"]) <= codes
    for control in data["controls"]:
        assert control["sources"], control["key"]
        for source in control["sources"]:
            assert source["url"].startswith("https://"), source
            assert source["publisher"] and source["says"]
        # Every version is confirmed by at least one source, or the entry says it is not.
        confirmed = {v for s in control["sources"] for v in s["confirms"]}
        for version in control["versions"]:
            assert (version is None or version in confirmed
                    or f"v{version}" in control["unconfirmed"]), (control["key"], version)
        assert control["unconfirmed"], control["key"]
        assert set(control["gap_codes"]) <= codes, control["key"]
        assert control["requires"] and control["evaluated"]
    # What AWS's own pages say, kept in the entries that cite them.
    by_key = {c["key"]: c for c in data["controls"]}
    hub = by_key["securityhub-iam.28"]["sources"][0]
    assert hub["url"] == ("https://docs.aws.amazon.com/securityhub/latest/userguide/"
                          "iam-controls.html#iam-28")
    assert "v5.0.0/1.19" in by_key["cis-1.19-v5"]["sources"][0]["says"]
    assert "v3.0.0/1.20" in by_key["cis-1.20"]["sources"][0]["says"]
    rule = by_key["config-iam-external-access-analyzer-enabled"]["sources"][0]
    assert rule["url"].endswith("/config/latest/developerguide/"
                                "iam-external-access-analyzer-enabled.html")
    assert "cisecurity.org" in by_key["cis-1.20"]["sources"][-1]["url"]
    # v6.0.0 and v7.0.0 rest on transcriptions at pinned commits, and say so.
    assert "cis_v600_2_19" in by_key["cis-2.19-v6"]["sources"][0]["says"]
    assert "/blob/a366991d9edc" in by_key["cis-2.19-v6"]["sources"][0]["url"]
    v7 = by_key["cis-2.18-v7"]
    assert "/blob/0e868f02602c" in v7["sources"][0]["url"] and v7["sources"][0]["confirms"] == [
        "7.0.0"]
    assert "Requirement Id 2.18" in v7["sources"][0]["says"].replace("requirement", "Requirement")
    assert "Prowler transcription" in v7["unconfirmed"]


def test_every_gap_and_the_verdict_carry_their_controls(valid_document):
    document = valid_document(make_document([
        covered("us-east-1"),
        region_scan("sa-east-1", analyzers=[]),  # NO_ANALYZER
        region_scan("eu-west-2", analyzers=[analyzer("eu-west-2", status="FAILED")]),
        region_scan("ap-northeast-1", analyzers=[analyzer("ap-northeast-1", type="ACCOUNT")]),
    ]))
    codes = {g["region"]: g["code"] for g in document["gaps"]}
    assert codes == {"sa-east-1": "NO_ANALYZER", "eu-west-2": "NOT_ACTIVE",
                     "ap-northeast-1": "ACCOUNT_SCOPE_ONLY"}
    for gap in document["gaps"]:
        assert gap["controls"] == EXPECTED, gap["code"]
    assert document["summary"]["controls"] == EXPECTED
    assert document["summary"]["verdict"] == "NON_COMPLIANT"


def test_an_unused_access_requirement_bears_on_none_of_the_controls(valid_document):
    unused = "ORGANIZATION_UNUSED_ACCESS"
    internal = "ORGANIZATION_INTERNAL_ACCESS"
    document = valid_document(make_document(
        [covered("us-east-1"),
         region_scan("eu-west-1", analyzers=[analyzer("eu-west-1"),
                                             analyzer("eu-west-1", type=internal,
                                                      status="FAILED")])],
        coverage_types=("ORGANIZATION", unused, internal)))
    by_code = {(g["code"], g["region"]): g for g in document["gaps"]}
    # No unused-access analyzer anywhere, an internal-access one FAILED, one missing:
    # requirements of the configuration, which none of the four controls makes.
    assert set(by_code) == {("MISSING_REQUIRED_TYPE", None), ("NOT_ACTIVE", "eu-west-1"),
                            ("MISSING_REQUIRED_TYPE", "us-east-1")}
    assert all(g["controls"] == [] for g in document["gaps"])
    assert controls_for_gap("NOT_ACTIVE", "ORGANIZATION") == EXPECTED
    assert controls_for_gap("NOT_ACTIVE", unused) == []
    assert controls_for_gap("NO_DELEGATED_ADMINISTRATOR") == []


def answers(document: dict) -> dict[str, dict]:
    found = assess(document)
    assert found is not None
    return {a["key"]: a for a in found}


def test_a_covered_organization_meets_every_control_but_not_for_member_accounts():
    found = answers(make_document([covered("us-east-1"), covered("eu-west-1")]))
    assert {k: a["status"] for k, a in found.items()} == dict.fromkeys(found, "Met")
    assert found["cis-1.20"]["versions"] == "1.4.0, 1.5.0, 2.0.0, 3.0.0, 4.0.0"
    assert found["securityhub-iam.28"]["versions"] == ""
    assert found["cis-1.20"]["answer"][0] == ("2 region(s) listed as enabled; 2 assessed, 2 of "
                                              "them with an ACTIVE analyzer whose zone of trust "
                                              "is the organization.")
    for key in ("securityhub-iam.28", "config-iam-external-access-analyzer-enabled"):
        text = " ".join(found[key]["per_account"])
        assert "Evaluated in each account separately" in text
        assert "does not make this control pass in the organization's 2 other account(s)" in text
    assert "does not make" not in " ".join(found["cis-1.20"]["per_account"])


def test_a_gap_fails_the_controls_and_names_the_region():
    found = answers(make_document([covered("us-east-1"), region_scan("sa-east-1", [])]))
    assert found["cis-1.19-v5"]["status"] == "Not met"
    assert found["cis-1.19-v5"]["tone"] == "bad"
    assert "1 gap(s) against it: sa-east-1: NO_ANALYZER." in found["cis-1.19-v5"]["answer"]


def test_a_scan_that_could_not_see_the_analyzers_determines_nothing():
    org = organization(admins=(MANAGEMENT,))
    document = make_document([region_scan("us-east-1", [])], org=org, account=MEMBER)
    assert document["summary"]["verdict"] == "INCOMPLETE"
    found = answers(document)
    assert {a["status"] for a in found.values()} == {"Not determined"}
    assert any("SCANNED_FROM_MEMBER_ACCOUNT" in line for line in found["cis-1.20"]["answer"])


def test_a_document_from_before_the_mapping_is_not_answered():
    document = make_document()
    del document["summary"]["controls"]
    assert assess(document) is None
    assert mapping().not_assessed_codes == {"SCANNED_FROM_MEMBER_ACCOUNT",
                                             "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_"
                                             "ADMINISTRATOR", "ANALYZER_VISIBILITY_UNKNOWN"}


def _with_members(document: dict, regions: dict[str, dict[str, str]],
                  errors: tuple[str, ...] = ()) -> dict:
    accounts = [{"account_id": a, "name": "", "status": "ASSESSED", "error": None,
                 "regions": cells, "region_errors": {}} for a, cells in regions.items()]
    accounts += [{"account_id": a, "name": "", "status": "ERROR", "regions": {},
                  "error": {"code": "AccessDenied", "message": "no", "operation": "AssumeRole"}}
                 for a in errors]
    fail = sum("FAIL" in c.values() for c in regions.values())
    document["member_view"] = {"role_name": "R", "accounts": accounts, "summary": {
        "accounts": len(accounts), "pass": len(regions) - fail, "fail": fail,
        "error": len(errors)}}
    return document


def test_the_member_view_answers_the_per_account_controls():
    """Probe: a member view showing accounts FAIL in IAM.28's own per-account terms made the
    Controls section say IAM.28 was Met and that the scan did not list those accounts."""
    base = [covered("us-east-1")]
    failing = answers(_with_members(make_document(base), {
        "111111111111": {"us-east-1": "FAIL"}, "333333333333": {"us-east-1": "PASS"}}))
    for key in ("securityhub-iam.28", "config-iam-external-access-analyzer-enabled"):
        assert (failing[key]["status"], failing[key]["tone"]) == ("Not met", "bad")
        text = " ".join(failing[key]["per_account"])
        assert "does not list" not in text
        assert "1 of 2 account(s) pass" in text and "1 fail (111111111111)" in text
    # Issue 22: CIS is evaluated per account too; with the member view, every control follows
    # the per-account result (a green verdict above a "Met" that lists failing accounts was
    # a report contradicting itself), and each says which reading it used.
    for key in failing:
        assert failing[key]["status"] == "Not met", key
        assert failing[key]["reading"].startswith("per account: the member view"), key
    assert "1 fail (111111111111)" in " ".join(failing["cis-1.20"]["per_account"])
    alone = answers(make_document(base))
    assert {a["status"] for a in alone.values()} == {"Met"}
    assert {a["reading"] for a in alone.values()} == {
        "organization-wide analysis; per-account evaluation not run (--member-accounts)"}
    unknown = answers(_with_members(make_document(base), {
        "333333333333": {"us-east-1": "PASS"}}, errors=("444444444444",)))
    assert unknown["securityhub-iam.28"]["status"] == "Not determined"
    passing = answers(_with_members(make_document(base), {
        "333333333333": {"us-east-1": "PASS"}}))
    assert passing["securityhub-iam.28"]["status"] == "Met"
