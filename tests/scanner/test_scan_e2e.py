"""End to end: `main(argv)` against simulated organizations through real boto3 clients."""

from __future__ import annotations

import json
from collections import Counter

from simulator import Scenario

from .conftest import env_world, scenario

ADMIN, MANAGEMENT, MEMBER = "222222222222", "111111111111", "333333333333"


def gen(count: int, **extra):
    return [{"generate": {"count": count, **extra}}]


def org_analyzer(regions, findings=None, **extra):
    entry = {"type": "ORGANIZATION", "name": "org", "regions": regions, **extra}
    if findings:
        entry["findings"] = findings
    return entry


def expected(scenario_obj: Scenario, region: str) -> dict[str, dict[str, int]]:
    """Active findings per type in a region, recomputed from the scenario itself."""
    counts: dict[str, dict[str, int]] = {}
    for spec in scenario_obj.analyzers:
        if spec.region != region or spec.type != "ORGANIZATION":
            continue
        for f in spec.findings:
            if f["status"] != "ACTIVE":
                continue
            entry = counts.setdefault(f["resourceType"], {"active": 0, "public": 0,
                                                          "cross_account": 0})
            entry["active"] += 1
            if f.get("error"):
                continue
            entry["public" if f["isPublic"] else "cross_account"] += 1
    return counts


def test_compliant_organization_exits_0_with_exact_counts(monkeypatch, run_scan):
    doc = scenario(analyzers=[org_analyzer(
        ["us-east-1", "eu-west-1", "ap-southeast-2"],
        gen(150, public_share=0.3, statuses={"ACTIVE": 6, "ARCHIVED": 2, "RESOLVED": 1},
            resource_types=["AWS::S3::Bucket", "AWS::IAM::Role", "AWS::KMS::Key",
                            "AWS::SNS::Topic"]))])
    with env_world(monkeypatch, **{k: v for k, v in doc.items() if k != "name"}) as world:
        run = run_scan()
    assert run.code == 0, run.err
    summary = run.document["summary"]
    assert summary["verdict"] == "COMPLIANT" and summary["complete"] is True
    assert (summary["covered"], summary["not_enabled"], summary["gaps"]) == (3, 1, 0)
    assert run.region("af-south-1")["status"] == "NOT_ENABLED"
    assert run.document["organization"]["scanning_account_role"] == "DELEGATED_ADMINISTRATOR"
    assert run.document["organization"]["trusted_access"] is True
    assert run.document["organization"]["delegated_administrators"] == [ADMIN]
    total_active = 0
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        want = expected(world.scenario, region)
        got = {t: {k: c[k] for k in ("active", "public", "cross_account")}
               for t, c in run.region(region)["findings"].items() if c["active"]}
        assert got == want
        total_active += sum(c["active"] for c in want.values())
        spec = next(s for s in world.scenario.analyzers if s.region == region)
        statuses = Counter(f["status"] for f in spec.findings)
        assert run.region(region)["archived"] == statuses["ARCHIVED"]
        assert run.region(region)["resolved"] == statuses["RESOLVED"]
    assert summary["active_findings"] == total_active == len(run.document["findings"])
    # The classic types are always listed, with zeros; SNS (a newer type) appears too.
    assert run.region("us-east-1")["findings"]["AWS::Lambda::LayerVersion"]["active"] == 0
    assert "AWS::SNS::Topic" in run.region("us-east-1")["findings"]
    assert "us-east-1" in run.out and "COMPLIANT" in run.out


def test_every_region_verdict_in_one_scan(monkeypatch, run_scan):
    regions = {"universe": ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1",
                            "eu-central-1", "me-south-1", "us-west-2", "af-south-1"],
               "opt_in_status": {"me-south-1": "ENABLED"}}
    analyzers = [
        org_analyzer(["us-east-1", "me-south-1"], gen(20)),
        {"type": "ACCOUNT", "name": "acct", "region": "eu-west-1", "findings": gen(5)},
        {"type": "ORGANIZATION", "name": "broken", "region": "ap-southeast-2",
         "status": "FAILED", "status_reason": "DELEGATED_ADMINISTRATOR_DEREGISTERED"},
        {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused", "region": "eu-central-1"},
    ]
    with env_world(monkeypatch, regions=regions, analyzers=analyzers,
                   conditions={"me-south-1": {"deny": True}}):
        run = run_scan("--exclude", "us-west-2")
    assert run.code == 3  # me-south-1 could not be assessed
    status = {r["region"]: (r["status"], r["reason"]) for r in run.document["regions"]}
    assert status["us-east-1"] == ("COVERED", None)
    assert status["eu-west-1"] == ("GAP", "ACCOUNT_SCOPE_ONLY")
    assert status["ap-southeast-2"] == ("GAP", "NOT_ACTIVE")
    assert status["sa-east-1"] == ("GAP", "NO_ANALYZER")
    # An unused-access analyzer is not external-access coverage.
    assert status["eu-central-1"] == ("GAP", "NO_ANALYZER")
    assert status["me-south-1"] == ("ERROR", "AccessDeniedException")
    assert status["us-west-2"] == ("EXCLUDED", "excluded on the command line")
    assert status["af-south-1"][0] == "NOT_ENABLED"
    denied = run.region("me-south-1")
    assert denied["complete"] is False and denied["error"]["code"] == "AccessDeniedException"
    assert "service control policy" in denied["detail"]
    failed = run.region("ap-southeast-2")["analyzers"][0]
    assert (failed["status"], failed["status_reason"]) == ("FAILED",
                                                           "DELEGATED_ADMINISTRATOR_DEREGISTERED")
    # The account-scoped analyzer's findings are collected and labelled as such.
    account_region = run.region("eu-west-1")
    assert account_region["findings_scope"] == "ACCOUNT"
    assert sum(c["active"] for c in account_region["findings"].values()) == 5
    gaps = {(g["region"], g["code"]) for g in run.document["gaps"]}
    assert gaps == {("eu-west-1", "ACCOUNT_SCOPE_ONLY"), ("ap-southeast-2", "NOT_ACTIVE"),
                    ("sa-east-1", "NO_ANALYZER"), ("eu-central-1", "NO_ANALYZER")}
    gap = next(g for g in run.document["gaps"] if g["region"] == "sa-east-1")
    remediation = gap["remediation"]
    # Named as the organization names its own organization analyzers ("org" here).
    assert remediation == ("aws accessanalyzer create-analyzer --analyzer-name org "
                           "--type ORGANIZATION --region sa-east-1")
    severities = {g["code"]: g["severity"] for g in run.document["gaps"]}
    assert severities == {"ACCOUNT_SCOPE_ONLY": "MEDIUM", "NOT_ACTIVE": "HIGH",
                          "NO_ANALYZER": "HIGH"}
    # The region an SCP denies has its fix too: change the SCP, or exclude it with a reason.
    assert "list-policies-for-target" in denied["remediation"]
    assert "exclude:\n  me-south-1: " in denied["remediation"]
    assert "SCP" in denied["remediation_note"]
    assert all(r.get("remediation") == "" for r in run.document["regions"]
               if r["status"] != "ERROR")
    assert ADMIN in gap["remediation_note"]
    assert run.document["summary"]["verdict"] == "NON_COMPLIANT"


def test_gaps_without_errors_exit_1_and_fail_on_never_exits_0(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=[org_analyzer(["us-east-1", "eu-west-1"])]):
        gaps = run_scan()
        never = run_scan("--fail-on", "never")
    assert gaps.code == 1 and never.code == 0
    assert gaps.region("ap-southeast-2")["reason"] == "NO_ANALYZER"


def test_fail_on_public_and_findings(monkeypatch, run_scan):
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    with env_world(monkeypatch, analyzers=[org_analyzer(everywhere, gen(10, public_share=0.0))]):
        assert run_scan("--fail-on", "public").code == 0
        assert run_scan("--fail-on", "findings").code == 1
    with env_world(monkeypatch, analyzers=[org_analyzer(everywhere, gen(10, public_share=1.0))]):
        assert run_scan("--fail-on", "public").code == 1


def test_required_unused_access_type(monkeypatch, run_scan, tmp_path):
    """Issue 12: one ACTIVE unused-access analyzer, in eu-west-1, meets the requirement for
    every region (it was a MISSING_REQUIRED_TYPE gap in each other region); none at all is
    one organization gap."""
    config = tmp_path / "aa.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_UNUSED_ACCESS]\n")
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    analyzers = [org_analyzer(everywhere),
                 {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused",
                  "regions": ["eu-west-1"]}]
    with env_world(monkeypatch, analyzers=analyzers):
        met = run_scan("--config", str(config))
    with env_world(monkeypatch, analyzers=[org_analyzer(everywhere)]):
        missing = run_scan("--config", str(config))
    assert met.code == 0, met.err
    assert {r["status"] for r in met.document["regions"] if r["region"] != "af-south-1"} == {
        "COVERED"}
    assert missing.code == 1
    assert {r["status"] for r in missing.document["regions"]
            if r["region"] != "af-south-1"} == {"COVERED"}
    (gap,) = missing.document["gaps"]
    assert (gap["scope"], gap["region"], gap["code"]) == ("organization", None,
                                                         "MISSING_REQUIRED_TYPE")
    assert "--type ORGANIZATION_UNUSED_ACCESS" in gap["remediation"]


def test_a_required_regional_type_is_judged_in_every_region(monkeypatch, run_scan, tmp_path):
    config = tmp_path / "aa.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS]\n")
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    analyzers = [org_analyzer(everywhere),
                 {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
                  "regions": ["us-east-1"]}]
    with env_world(monkeypatch, analyzers=analyzers):
        run = run_scan("--config", str(config))
    assert run.region("us-east-1")["status"] == "COVERED"
    assert (run.region("eu-west-1")["status"], run.region("eu-west-1")["reason"]) == (
        "GAP", "MISSING_REQUIRED_TYPE")
    gap = next(g for g in run.document["gaps"] if g["region"] == "eu-west-1")
    assert "--type ORGANIZATION_INTERNAL_ACCESS" in gap["remediation"]


def test_scan_from_management_without_delegated_administrator(monkeypatch, run_scan):
    org = dict(scenario()["organization"], delegated_administrator=None)
    with env_world(monkeypatch, organization=org, scanner={"account": "management"},
                   analyzers=[org_analyzer(["us-east-1", "eu-west-1", "ap-southeast-2"],
                                           account="management")]):
        run = run_scan()
    assert run.code == 0
    organization = run.document["organization"]
    assert organization["scanning_account_role"] == "MANAGEMENT"
    assert organization["delegated_administrators"] == []
    assert [a["code"] for a in run.document["advisories"]] == ["NO_DELEGATED_ADMINISTRATOR"]
    assert "register-delegated-administrator" in run.document["advisories"][0]["remediation"]


def test_scan_from_management_with_delegated_administrator_is_not_assessed(monkeypatch,
                                                                          run_scan):
    with env_world(monkeypatch, scanner={"account": "management"},
                   analyzers=[org_analyzer(["us-east-1", "eu-west-1", "ap-southeast-2"])]):
        run = run_scan()
    assert run.code == 3
    assert run.document["organization"]["scanning_account_role"] == "MANAGEMENT"
    assert {r["status"] for r in run.document["regions"] if r["region"] != "af-south-1"} == {
        "ERROR"}
    codes = [g["code"] for g in run.document["gaps"]]
    assert codes == ["SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert run.document["summary"]["verdict"] == "INCOMPLETE"


def test_scan_from_plain_member_is_an_organization_gap_not_regional_false_alarms(
        monkeypatch, run_scan):
    with env_world(monkeypatch, scanner={"account": MEMBER},
                   analyzers=[org_analyzer(["us-east-1", "eu-west-1", "ap-southeast-2"])]):
        run = run_scan()
    organization = run.document["organization"]
    assert organization["scanning_account_role"] == "MEMBER"
    assert organization["trusted_access"] is None
    assert organization["delegated_administrators"] is None
    assert {e["code"] for e in organization["errors"]} == {"AccessDeniedException"}
    assert [g["code"] for g in run.document["gaps"]] == ["SCANNED_FROM_MEMBER_ACCOUNT"]
    assert "--role-arn 'arn:aws:iam::" in run.document["gaps"][0]["remediation"]
    scanned = [r for r in run.document["regions"] if r["region"] != "af-south-1"]
    assert {r["status"] for r in scanned} == {"ERROR"}
    assert not any(r["reason"] == "NO_ANALYZER" for r in run.document["regions"])
    assert run.code == 3 and run.document["summary"]["verdict"] == "INCOMPLETE"


def test_account_outside_any_organization(monkeypatch, run_scan):
    with env_world(monkeypatch, organization=None,
                   accounts=[{"id": "444444444444", "name": "standalone"}],
                   analyzers=[{"type": "ACCOUNT", "name": "acct",
                               "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}]):
        run = run_scan()
    organization = run.document["organization"]
    assert organization["scanning_account_role"] == "NOT_IN_ORGANIZATION"
    assert organization["id"] is None and organization["errors"] == []
    assert run.document["gaps"][0]["code"] == "NOT_IN_ORGANIZATION"
    assert run.region("us-east-1")["reason"] == "ACCOUNT_SCOPE_ONLY"
    assert run.code == 1


def test_trusted_access_disabled(monkeypatch, run_scan):
    org = dict(scenario()["organization"], trusted_access=False)
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    with env_world(monkeypatch, organization=org, analyzers=[org_analyzer(
            everywhere, status="DISABLED", status_reason="AWS_SERVICE_ACCESS_DISABLED")]):
        run = run_scan()
    assert run.document["organization"]["trusted_access"] is False
    first = run.document["gaps"][0]
    assert (first["code"], first["severity"]) == ("TRUSTED_ACCESS_DISABLED", "CRITICAL")
    assert "enable-aws-service-access --service-principal access-analyzer.amazonaws.com" in \
        first["remediation"]
    assert {r["reason"] for r in run.document["regions"] if r["status"] == "GAP"} == {
        "NOT_ACTIVE"}
    assert run.code == 1


def test_region_discovery_falls_back_to_ec2_then_botocore(monkeypatch, run_scan):
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    with env_world(monkeypatch, scanner={"deny_operations": ["account:ListRegions"]},
                   analyzers=[org_analyzer(everywhere)]):
        ec2 = run_scan()
    assert ec2.document["discovery"]["source"] == "ec2:DescribeRegions"
    assert ec2.document["discovery"]["errors"][0]["code"] == "AccessDeniedException"
    assert ec2.region("af-south-1")["status"] == "NOT_ENABLED"
    assert ec2.code == 0

    with env_world(monkeypatch, scanner={"deny_operations": ["account:ListRegions",
                                                             "ec2:DescribeRegions"]},
                   analyzers=[org_analyzer(everywhere)]):
        fallback = run_scan("--regions", "us-east-1,eu-west-1,ap-southeast-2,af-south-1")
    assert fallback.document["discovery"]["source"].startswith("botocore")
    # Enablement unknown: the region's own answer (invalid token) marks it not enabled.
    assert fallback.region("af-south-1")["status"] == "NOT_ENABLED"
    assert fallback.region("af-south-1")["reason"] == "UnrecognizedClientException"
    assert fallback.region("us-east-1")["status"] == "COVERED"
    assert fallback.code == 0


def test_pagination_across_many_pages_reads_every_finding_once(monkeypatch, run_scan):
    with env_world(monkeypatch, page_size_cap=25, regions={"universe": ["us-east-1"]},
                   analyzers=[org_analyzer(["us-east-1"], gen(
                       1234, resource_types={"AWS::S3::Bucket": 5, "AWS::IAM::Role": 3,
                                             "AWS::KMS::Key": 1, "AWS::SQS::Queue": 1}))]
                   ) as world:
        run = run_scan()
        stats = world.stats.snapshot()
    ids = [f["id"] for f in run.document["findings"]]
    assert len(ids) == len(set(ids)) == 1234
    assert {f["id"] for f in world.scenario.analyzers[0].findings} == set(ids)
    calls = stats["calls"]["access-analyzer"]["us-east-1"]
    assert "GetFinding" not in calls
    # Every page is needed: at most one partly filled page per stream beyond ceil(1234/25).
    assert 50 <= calls["ListFindings"] <= 50 + 8
    assert run.code == 0


def test_coverage_only_makes_no_findings_calls(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=[org_analyzer(
            ["us-east-1", "eu-west-1", "ap-southeast-2"], gen(50))]) as world:
        run = run_scan("--coverage-only")
        calls = world.stats.snapshot()["calls"]["access-analyzer"]
    assert run.code == 0
    assert all(set(ops) == {"ListAnalyzers"} for ops in calls.values())
    assert all(calls[r]["ListAnalyzers"] == 1 for r in ("us-east-1", "eu-west-1",
                                                          "ap-southeast-2"))
    assert run.document["summary"]["coverage_only"] is True
    assert not any(r["findings_collected"] for r in run.document["regions"])
    assert run.document["findings"] == []


def test_role_arn_assumes_into_the_delegated_administrator(monkeypatch, run_scan):
    everywhere = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    with env_world(monkeypatch, scanner={"account": "management"},
                   analyzers=[org_analyzer(everywhere)]):
        run = run_scan("--role-arn", f"arn:aws:iam::{ADMIN}:role/AuditRole")
        missing = run_scan("--role-arn", f"arn:aws:iam::{ADMIN}:role/NoSuchRole")
    assert run.code == 0
    assert run.document["identity"]["account_id"] == ADMIN
    assert run.document["organization"]["scanning_account_role"] == "DELEGATED_ADMINISTRATOR"
    assert missing.code == 2 and missing.document == {}
    assert "cannot assume role" in missing.err and "Traceback" not in missing.err


def test_demo_scan_writes_a_schema_valid_document(run_scan):
    run = run_scan("--demo")
    assert run.code == 3  # the demo has a region denied by an SCP
    statuses = {r["status"] for r in run.document["regions"]}
    assert statuses == {"COVERED", "GAP", "NOT_ENABLED", "EXCLUDED", "ERROR"}
    reasons = {r["reason"] for r in run.document["regions"] if r["status"] == "GAP"}
    assert reasons == {"NO_ANALYZER", "ACCOUNT_SCOPE_ONLY", "NOT_ACTIVE"}
    types = {f["resource_type"] for f in run.document["findings"]}
    assert {"AWS::S3::Bucket", "AWS::IAM::Role", "AWS::KMS::Key", "AWS::Lambda::Function",
            "AWS::SQS::Queue", "AWS::SecretsManager::Secret"} <= types
    assert "Verdict: NON_COMPLIANT" in run.out
    # The demo's own settings carry accepted risk, so the register shows: one exception
    # that accepts a gap, one about to expire that accepts the public website's findings.
    states = {e["key"]: e["state"] for e in run.document["exceptions"]["entries"]}
    assert states == {"gap:ap-northeast-1:ACCOUNT_SCOPE_ONLY": "active",
                      "finding:*:resource:arn:aws:s3:::acme-public-website": "expiring"}
    assert "Exceptions (2): 1 expiring soon, 1 active" in run.out
    # And a broad archive rule beside the narrow ones, flagged.
    assert [a["title"] for a in run.document["advisories"]
            if a["code"] == "BROAD_ARCHIVE_RULE"] == [
        "Archive rule archive-public-buckets of analyzer legacy-account-analyzer can archive "
        "public findings (in ap-northeast-1)"]


def test_bad_configuration_is_one_line_exit_2(run_scan, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("regions: [us-east-1]\nworkres: 4\n")
    run = run_scan("--config", str(config))
    assert run.code == 2 and run.document == {}
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "bad.yaml:2" in lines[0] and "did you mean 'workers'" in lines[0]


def test_scan_json_is_the_documented_contract(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=[org_analyzer(["us-east-1"], gen(3))]):
        run = run_scan()
    document = run.document
    assert set(document) >= {"schema_version", "tool", "started_at", "finished_at", "identity",
                             "organization", "regions", "findings", "gaps", "summary"}
    assert document["schema_version"] == 1 and document["tool"]["name"] == "aa-scan"
    finding = document["findings"][0]
    assert set(finding) == {"region", "analyzer_arn", "id", "resource_type", "resource",
                            "resource_owner_account", "principal", "action", "condition",
                            "is_public", "status", "created_at", "updated_at", "analyzed_at",
                            "error"}
    region = run.region("us-east-1")
    assert set(region) >= {"region", "status", "reason", "analyzers", "findings", "archived",
                           "resolved", "complete", "error"}
    assert set(region["analyzers"][0]) >= {"name", "arn", "type", "status", "status_reason"}
    assert json.loads(json.dumps(document)) == document


HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>',
           '=HYPERLINK("http://evil.example","click")', "+SUM(A1:A9)", "@cmd|' /C calc'!A0",
           "-2+3", "\u202eevil\u202c", "tab\there"]


def test_hostile_strings_from_aws_stay_inert_in_every_report(monkeypatch, run_scan):
    import re
    import zipfile

    findings = [{"resource": value, "resource_type": "AWS::S3::Bucket", "owner": MEMBER,
                 "public": i % 2 == 0, "principal": {"AWS": value},
                 "action": [value], "condition": {value: value}, "error": value if i == 3
                 else None} for i, value in enumerate(HOSTILE)]
    for f in findings:
        if f["error"] is None:
            del f["error"]
    org = scenario()["organization"]
    org["accounts"][1]["name"] = HOSTILE[2]
    with env_world(monkeypatch, organization=org,
                   analyzers=[org_analyzer(["us-east-1"], findings)]):
        run = run_scan(formats="json,html,xlsx")
    # scan.json keeps every value exactly.
    resources = {f["resource"] for f in run.document["findings"]}
    assert resources == set(HOSTILE)
    assert run.document["organization"]["accounts"][MEMBER] == HOSTILE[2]
    # The page shows them escaped and runs nothing.
    page = (run.directory / "report.html").read_text()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\u202e" not in page and "[U+202E]" in page
    # The workbook holds text, never a formula.
    with zipfile.ZipFile(run.directory / "report.xlsx") as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
        shared = archive.read("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in \
            archive.namelist() else b""
    assert sheets and not any(re.search(rb"<f[ >]", sheet) for sheet in sheets)
    assert b"HYPERLINK" in b"".join(sheets) + shared


# -- issue 14: wrong answers an independent probe found, each against a simulated world ----

EVERYWHERE = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def test_management_owning_an_active_analyzer_everywhere_is_compliant(monkeypatch, run_scan):
    """A delegated administrator is registered, but the management account's own ACTIVE
    organization analyzers cover every region: COMPLIANT, exit 0 (it was INCOMPLETE, 3)."""
    with env_world(monkeypatch, scanner={"account": "management"},
                   analyzers=[org_analyzer(EVERYWHERE, gen(12), account="management")]):
        run = run_scan()
    summary = run.document["summary"]
    assert run.code == 0, run.err
    assert (summary["verdict"], summary["complete"], summary["incomplete_reasons"]) == (
        "COMPLIANT", True, [])
    assert summary["covered"] == 3 and run.document["gaps"] == []
    assert [a["code"] for a in run.document["advisories"]] == [
        "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"]
    assert summary["active_findings"] == 36


def test_required_types_seen_from_management_are_not_false_gaps(monkeypatch, run_scan,
                                                                 tmp_path):
    """The delegated administrator may own the required analyzers, invisible from the
    management account: not assessed (it was GAP MISSING_REQUIRED_TYPE, exit 1); and a
    FAILED one beside an ACTIVE organization analyzer is worded as what it is. Per region
    for a regional type (internal access), once for one met anywhere (unused access)."""
    config = tmp_path / "required.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS, "
                      "ORGANIZATION_UNUSED_ACCESS]\n")
    analyzers = [org_analyzer(EVERYWHERE, gen(5), account="management"),
                 {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
                  "region": "us-east-1", "account": "management", "status": "FAILED",
                  "status_reason": "SERVICE_LINKED_ROLE_CREATION_FAILED"}]
    with env_world(monkeypatch, scanner={"account": "management"}, analyzers=analyzers):
        run = run_scan("--config", str(config))
    assert run.code == 3, run.err
    assert run.document["summary"]["verdict"] == "INCOMPLETE"
    assert not any(g["code"] == "MISSING_REQUIRED_TYPE" for g in run.document["gaps"])
    for name in EVERYWHERE:
        region = run.region(name)
        assert (region["status"], region["reason"]) == ("ERROR",
                                                        "OrganizationAnalyzersNotVisible")
        assert "no ACTIVE ORGANIZATION_INTERNAL_ACCESS analyzer is visible" in region["detail"]
        assert "whose findings were read" in region["detail"]
        assert sum(c["active"] for c in region["findings"].values()) == 5
    failed = run.region("us-east-1")["detail"]
    assert "no organization analyzer is visible" not in failed
    assert "internal (FAILED: SERVICE_LINKED_ROLE_CREATION_FAILED)" in failed
    gap = next(g for g in run.document["gaps"]
               if g["code"] == "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR")
    assert all(name in gap["detail"] for name in EVERYWHERE)
    assert "the ORGANIZATION_UNUSED_ACCESS requirement" in gap["detail"]
    assert any("ORGANIZATION_UNUSED_ACCESS" in r
               for r in run.document["summary"]["incomplete_reasons"])


def test_coverage_only_never_passes_a_findings_gate(monkeypatch, run_scan, tmp_path):
    """--coverage-only reads no finding: the counts are unknown (null), not 0, and a gate on
    findings is refused instead of passing (it exited 0 on public findings)."""
    with env_world(monkeypatch, analyzers=[org_analyzer(EVERYWHERE, gen(10, public_share=1.0))]):
        coverage = run_scan("--coverage-only", formats="json,html,xlsx")
        public = run_scan("--coverage-only", "--fail-on", "public")
        findings = run_scan("--coverage-only", "--fail-on", "findings")
    assert coverage.code == 0
    summary = coverage.document["summary"]
    assert (summary["active_findings"], summary["public_findings"],
            summary["cross_account_findings"]) == (None, None, None)
    assert "Findings: not collected" in coverage.out
    html = (coverage.directory / "report.html").read_text()
    assert "not collected" in html
    for refused in (public, findings):
        assert refused.code == 2 and refused.document == {}
        assert "coverage-only" in refused.err and "Traceback" not in refused.err
    # Re-rendering that scan with a findings gate cannot pass either.
    again = run_scan("--from-json", str(coverage.directory / "scan.json"), "--fail-on",
                     "public")
    assert again.code == 2 and "coverage-only" in again.err


def test_a_region_newer_than_botocore_can_be_excluded(monkeypatch, run_scan):
    """Discovery lists a region the installed botocore does not know, and an SCP denies it:
    --exclude accepts its name (it was exit 2, "unknown region"), so the run can be clean."""
    regions = {"universe": [*EVERYWHERE, "new:xx-future-1"]}
    with env_world(monkeypatch, regions=regions, analyzers=[org_analyzer(EVERYWHERE)],
                   conditions={"xx-future-1": {"deny": True}}):
        scanned = run_scan()
        excluded = run_scan("--exclude", "xx-future-1")
        typo = run_scan("--exclude", "xx-futrue-1")
    assert scanned.code == 3
    assert scanned.region("xx-future-1")["status"] == "ERROR"
    assert excluded.code == 0, excluded.err
    assert excluded.region("xx-future-1")["status"] == "EXCLUDED"
    assert "xx-future-1 is not a region the installed botocore knows" in excluded.err
    # A name neither botocore nor the region list knows is still a one-line error.
    assert typo.code == 2 and typo.document == {}
    assert "unknown region 'xx-futrue-1'" in typo.err
    assert "did you mean 'xx-future-1'" in typo.err


def test_of_two_active_organization_analyzers_the_oldest_is_read(monkeypatch, run_scan):
    """ListAnalyzers lists "alpha" (newer) before "zeta" (older): the findings of the oldest
    are read, whatever the order, and the report says so (it read whichever came first)."""
    analyzers = [
        {**org_analyzer(["us-east-1"], gen(7)), "name": "zeta",
         "created_at": "2024-01-01T00:00:00Z"},
        {**org_analyzer(["us-east-1"], gen(3)), "name": "alpha",
         "created_at": "2026-01-01T00:00:00Z"},
        org_analyzer(["eu-west-1", "ap-southeast-2"])]
    with env_world(monkeypatch, analyzers=analyzers):
        run = run_scan()
    region = run.region("us-east-1")
    assert region["findings_analyzer"]["name"] == "zeta"
    assert sum(c["active"] for c in region["findings"].values()) == 7
    assert "the oldest of 2 ACTIVE ORGANIZATION analyzers" in region["detail"]
    assert "not read: alpha" in region["findings_analyzer"]["selection"]


def test_several_inactive_organization_analyzers_are_all_named(monkeypatch, run_scan):
    analyzers = [org_analyzer(["us-east-1", "eu-west-1"]),
                 {"type": "ORGANIZATION", "name": "old", "region": "ap-southeast-2",
                  "status": "FAILED", "status_reason": "DELEGATED_ADMINISTRATOR_DEREGISTERED"},
                 {"type": "ORGANIZATION", "name": "new", "region": "ap-southeast-2",
                  "status": "CREATING"}]
    with env_world(monkeypatch, analyzers=analyzers):
        run = run_scan()
    gap = next(g for g in run.document["gaps"] if g["region"] == "ap-southeast-2")
    assert "old (FAILED: DELEGATED_ADMINISTRATOR_DEREGISTERED)" in gap["title"]
    assert "new (CREATING)" in gap["title"]


def test_analyzer_disabled_while_trusted_access_was_off_is_recreated(monkeypatch, run_scan):
    analyzers = [org_analyzer(["us-east-1", "eu-west-1"]),
                 {"type": "ORGANIZATION", "name": "org", "region": "ap-southeast-2",
                  "status": "DISABLED", "status_reason": "AWS_SERVICE_ACCESS_DISABLED"}]
    with env_world(monkeypatch, analyzers=analyzers):  # trusted access is enabled
        run = run_scan()
    gap = next(g for g in run.document["gaps"] if g["region"] == "ap-southeast-2")
    assert "enable-aws-service-access" not in gap["remediation"]
    lines = gap["remediation"].splitlines()
    assert lines[0].startswith("aws accessanalyzer list-archive-rules --analyzer-name org ")
    assert lines[1].startswith("aws accessanalyzer delete-analyzer --analyzer-name org ")
    assert "create-archive-rule" in lines[3]


def test_a_region_list_keeps_every_other_region_in_the_evidence(monkeypatch, run_scan):
    """Probe: `--regions us-east-1 --exclude eu-west-1` dropped eu-west-1 from regions[] and
    the manifest. Every region discovery lists stays, with why it was not called; the
    terminal folds those the list left out into one line."""
    from reports.document.rules import UNSELECTED

    with env_world(monkeypatch, analyzers=[org_analyzer(["us-east-1"])]):
        run = run_scan("--regions", "us-east-1", "--exclude", "eu-west-1")
    statuses = {r["region"]: (r["status"], r["reason"]) for r in run.document["regions"]}
    assert statuses["us-east-1"] == ("COVERED", None)
    assert statuses["eu-west-1"][0] == "EXCLUDED" and statuses["eu-west-1"][1] != UNSELECTED
    assert statuses["ap-southeast-2"] == ("EXCLUDED", UNSELECTED)
    assert statuses["af-south-1"][0] == "NOT_ENABLED"
    assert run.code == 0
    rows = [line.split()[0] for line in run.out.splitlines() if line[:1].isalpha()]
    assert rows[rows.index("REGION") + 1:][:2] == ["us-east-1", "eu-west-1"]
    assert "ap-southeast-2" not in rows and "af-south-1" not in rows
    folded = " ".join(run.out.split())
    assert f"(excluded, {UNSELECTED}: ap-southeast-2" in folded
    assert "(not enabled: af-south-1)" in folded
