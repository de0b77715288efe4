"""Issue 12 end to end: internal access, unused access, service-linked and future analyzers,
collected through real boto3 clients from the simulator; expected values recomputed from
the scenario."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from scanner.collect.analyses import shortfall
from scanner.config import load_options
from scanner.errors import ConfigError
from scanner.model import AnalysisStatistics

from .conftest import env_world

EVERYWHERE = ["us-east-1", "eu-west-1", "ap-southeast-2"]
SECURITY_HUB = "securityhub.amazonaws.com"


def analyzers_world() -> list[dict[str, Any]]:
    return [
        {"type": "ORGANIZATION", "name": "org", "regions": EVERYWHERE,
         "findings": [{"generate": {"count": 12}}]},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "region": "us-east-1",
         "findings": [
             {"id": "internal-ledger", "resource": "arn:aws:s3:::ledger",
              "resource_type": "AWS::S3::Bucket", "owner": "workloads",
              "access_type": "INTRA_ORG"},
             {"generate": {"count": 25, "statuses": {"ACTIVE": 3, "ARCHIVED": 1},
                           "resource_types": ["AWS::S3::Bucket", "AWS::RDS::DBSnapshot",
                                              "AWS::DynamoDB::Table"]}}]},
        {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused", "region": "us-east-1",
         "findings": [{"generate": {"count": 30, "statuses": {"ACTIVE": 5, "RESOLVED": 1}}}]},
        {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "_AccessAnalyzerForSecurityHub-1",
         "region": "eu-west-1", "managed_by": SECURITY_HUB},
        {"type": "new:ORGANIZATION_FUTURE_THING", "name": "future", "region": "eu-west-1"},
    ]


def spec(world: Any, name: str) -> Any:
    return next(s for s in world.scenario.analyzers if s.name == name)


def test_internal_and_unused_access_are_collected_apart(monkeypatch, run_scan):
    with env_world(monkeypatch, page_size_cap=7, analyzers=analyzers_world()) as world:
        default = run_scan()
        calls = world.stats.snapshot()["calls"]["access-analyzer"]
        with_findings = run_scan("--unused-findings")
    assert default.code == 0, default.err
    document = default.document
    internal_spec, unused_spec = spec(world, "internal"), spec(world, "unused")

    # internal access: statistics per resource type, every ACTIVE finding (paged by 7)
    (internal,) = document["internal_access"]["analyzers"]
    assert (internal["region"], internal["name"], internal["managed_by"]) == (
        "us-east-1", "internal", None)
    expected: dict[str, dict[str, int]] = {}
    for f in internal_spec.findings:
        entry = expected.setdefault(f["resourceType"], {"active": 0, "archived": 0,
                                                        "resolved": 0})
        entry[f["status"].lower()] += 1
    assert internal["statistics"]["by_resource_type"] == expected
    active_internal = {f["id"] for f in internal_spec.findings if f["status"] == "ACTIVE"}
    assert len(active_internal) > 7
    read = document["internal_access"]["findings"]
    assert {f["id"] for f in read} == active_internal and len(read) == len(active_internal)
    assert {f["finding_type"] for f in read} == {"InternalAccess"}
    assert internal["findings_read"] == len(active_internal) and internal["errors"] == []

    # never mixed into the external-access counts
    external_active = sum(f["status"] == "ACTIVE" for s in world.scenario.analyzers
                          if s.name == "org" for f in s.findings)
    assert document["summary"]["active_findings"] == external_active
    assert not {f["id"] for f in document["findings"]} & active_internal

    # unused access: statistics per finding type and account, findings only when asked
    unused = {a["name"]: a for a in document["unused_access"]["analyzers"]}
    assert set(unused) == {"unused", "_AccessAnalyzerForSecurityHub-1"}
    assert unused["_AccessAnalyzerForSecurityHub-1"]["managed_by"] == SECURITY_HUB
    active_unused = [f for f in unused_spec.findings if f["status"] == "ACTIVE"]
    stats = unused["unused"]["statistics"]
    assert stats["by_finding_type"] == dict(Counter(f["findingType"] for f in active_unused))
    assert {a["account"]: a["active"] for a in stats["by_account"]} == dict(
        Counter(f["resourceOwnerAccount"] for f in active_unused))
    assert stats["active"] == len(active_unused)
    assert unused["unused"]["findings_collected"] is False
    assert document["unused_access"]["findings"] == []
    assert calls["us-east-1"]["ListFindingsV2"] == -(-len(active_internal) // 7)
    assert "ListFindingsV2" not in calls["eu-west-1"]
    assert "GetFindingV2" not in calls["us-east-1"]  # no call per finding
    asked = with_findings.document["unused_access"]
    assert {f["id"] for f in asked["findings"]} == {f["id"] for f in active_unused}
    assert {f["finding_type"] for f in asked["findings"]} <= {
        "UnusedIAMRole", "UnusedIAMUserAccessKey", "UnusedIAMUserPassword", "UnusedPermission"}
    assert with_findings.document["configuration"]["unused_findings"] is True

    # every analyzer shows managed_by and its analysis; a future type is listed as unknown
    listed = {a["name"]: a for r in document["regions"] for a in r["analyzers"]}
    assert listed["org"]["managed_by"] is None
    assert listed["org"]["analysis"] == "external_access"
    assert listed["internal"]["analysis"] == "internal_access"
    assert listed["_AccessAnalyzerForSecurityHub-1"]["managed_by"] == SECURITY_HUB
    assert (listed["future"]["type"], listed["future"]["analysis"]) == (
        "ORGANIZATION_FUTURE_THING", "unknown")


def test_coverage_only_reads_no_other_analysis(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=analyzers_world()) as world:
        run = run_scan("--coverage-only")
        calls = world.stats.snapshot()["calls"]["access-analyzer"]
    assert all(set(ops) == {"ListAnalyzers"} for ops in calls.values())
    assert "internal_access" not in run.document and "unused_access" not in run.document


def test_unused_findings_is_a_config_key_and_a_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/regions.yaml here
    config = tmp_path / "aa.yaml"
    config.write_text("unused_access:\n  findings: true\n")
    assert load_options(config, {}).unused_findings is True
    assert load_options(None, {}).unused_findings is False
    assert load_options(None, {"unused_access": {"findings": True}}).unused_findings is True
    config.write_text("unused_access:\n  findings: sometimes\n")
    with pytest.raises(ConfigError, match=r"unused_access\.findings"):
        load_options(config, {})


def test_service_linked_coverage_future_type_and_a_failing_v2_page(monkeypatch, run_scan,
                                                                   tmp_path):
    """The unused-access requirement met only by Security Hub's analyzer: covered, with an
    advisory; a type newer than botocore: listed; ListFindingsV2 failing: an error, kept."""
    config = tmp_path / "aa.yaml"
    config.write_text("coverage_types: [ORGANIZATION, ORGANIZATION_UNUSED_ACCESS]\n")
    analyzers = [
        {"type": "ORGANIZATION", "name": "org", "regions": EVERYWHERE},
        {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "_AccessAnalyzerForSecurityHub-1",
         "region": "eu-west-1", "managed_by": SECURITY_HUB},
        {"type": "new:ORGANIZATION_FUTURE_THING", "name": "future", "region": "us-east-1"},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "region": "ap-southeast-2",
         "findings": [{"generate": {"count": 3}}]},
    ]
    failing = {"ap-southeast-2": {"error_rate": 1.0, "error_operations": ["ListFindingsV2"]}}
    with env_world(monkeypatch, analyzers=analyzers, conditions=failing):
        run = run_scan("--config", str(config))
    assert run.code == 0, run.err  # advice is not a gap
    document = run.document
    assert document["gaps"] == []
    advice = {a["code"]: a for a in document["advisories"]}
    linked = advice["SERVICE_MANAGED_ANALYZER"]
    assert (linked["severity"], linked["scope"]) == ("INFO", "organization")
    assert SECURITY_HUB in linked["title"]
    assert "ORGANIZATION_FUTURE_THING" in advice["UNKNOWN_ANALYZER_TYPE"]["title"]
    (internal,) = document["internal_access"]["analyzers"]
    assert internal["statistics"]["active"] == 3  # statistics answered
    assert internal["findings_read"] == 0
    assert [e["code"] for e in internal["errors"]] == ["InternalServerException"]
    assert "ListFindingsV2" in internal["errors"][0]["operation"]


def test_the_demo_report_shows_all_three_analyses(run_scan):
    run = run_scan("--demo", formats="json,html")
    document = run.document
    assert document["summary"]["active_findings"] > 0  # external access
    (internal,) = document["internal_access"]["analyzers"]
    assert internal["region"] == "us-east-1" and document["internal_access"]["findings"]
    unused = {a["name"]: a for a in document["unused_access"]["analyzers"]}
    assert unused["org-unused-access"]["statistics"]["active"] > 0
    assert unused["_AccessAnalyzerForSecurityHub-7f3a2c"]["managed_by"] == SECURITY_HUB
    page = (run.directory / "report.html").read_text(encoding="utf-8")
    assert 'id="internal-access"' in page and 'id="unused-access"' in page
    assert f"managed by <span class=\"mono\">{SECURITY_HUB}</span>" in page
    assert "Internal access: org-internal-access (us-east-1)" in run.out


def test_fewer_internal_findings_read_than_announced_is_an_error():
    statistics = AnalysisStatistics(active=3, archived=0, resolved=0)
    found = [{"status": "ACTIVE"}, {"status": "ACTIVE"}, {"status": "ARCHIVED"}]
    error = shortfall(statistics, found, ("ACTIVE", "ARCHIVED"))
    assert error is not None and error.code == "FindingsShortfall"
    assert "3 active findings but 2 were read" in error.message
    assert shortfall(statistics, found * 2, ("ACTIVE",)) is None
    assert shortfall(statistics, [], ("ARCHIVED",)) is None  # ACTIVE not read: no claim
    assert shortfall(None, [], ("ACTIVE",)) is None
