"""The judge on service-linked analyzers and analyzer types newer than this version."""

from __future__ import annotations

from dataclasses import replace

from reports.document.rules import RegionStatus, Severity, Verdict
from scanner.judge import judge
from tests.builders import analyzer, make_document, make_scan_result, region_scan

SECURITY_HUB = "securityhub.amazonaws.com"
INTERNAL = "ORGANIZATION_INTERNAL_ACCESS"
UNUSED = "ORGANIZATION_UNUSED_ACCESS"


def linked(region: str, kind: str, name: str = "_AccessAnalyzerForSecurityHub-1"):
    return replace(analyzer(region, type=kind, name=name), managed_by=SECURITY_HUB)


def test_a_regional_requirement_met_only_by_a_service_linked_analyzer_is_advice():
    scans = [region_scan("us-east-1", [analyzer("us-east-1"), linked("us-east-1", INTERNAL)]),
             region_scan("eu-west-1", [analyzer("eu-west-1"), linked("eu-west-1", INTERNAL),
                                       analyzer("eu-west-1", type=INTERNAL, name="own")])]
    judgement = judge(make_scan_result(scans, coverage_types=("ORGANIZATION", INTERNAL)))
    assert [v.status for v in judgement.regions] == [RegionStatus.COVERED] * 2
    assert judgement.gaps == () and judgement.verdict == Verdict.COMPLIANT
    (advice,) = [a for a in judgement.advisories if a.code == "SERVICE_MANAGED_ANALYZER"]
    assert (advice.scope, advice.region, advice.severity) == ("region", "us-east-1",
                                                              Severity.INFO)
    assert SECURITY_HUB in advice.title and "_AccessAnalyzerForSecurityHub-1" in advice.title
    assert "--type ORGANIZATION_INTERNAL_ACCESS --region us-east-1" in advice.remediation


def test_an_organization_wide_requirement_met_only_by_a_service_linked_analyzer_once():
    scans = [region_scan(r, [analyzer(r)]) for r in ("us-east-1", "ap-southeast-2")]
    scans.append(region_scan("eu-west-1", [analyzer("eu-west-1"), linked("eu-west-1", UNUSED)]))
    judgement = judge(make_scan_result(scans, coverage_types=("ORGANIZATION", UNUSED)))
    assert judgement.gaps == () and judgement.verdict == Verdict.COMPLIANT
    (advice,) = [a for a in judgement.advisories if a.code == "SERVICE_MANAGED_ANALYZER"]
    assert (advice.scope, advice.region) == ("organization", None)
    assert "--type ORGANIZATION_UNUSED_ACCESS --region eu-west-1" in advice.remediation
    # an analyzer of the organization's own beside it: nothing to advise
    scans[0] = region_scan("us-east-1", [analyzer("us-east-1"),
                                         analyzer("us-east-1", type=UNUSED)])
    again = judge(make_scan_result(scans, coverage_types=("ORGANIZATION", UNUSED)))
    assert not [a for a in again.advisories if a.code == "SERVICE_MANAGED_ANALYZER"]


def test_a_service_linked_analyzer_nothing_requires_is_no_advice():
    scans = [region_scan("eu-west-1", [analyzer("eu-west-1"), linked("eu-west-1", UNUSED)])]
    judgement = judge(make_scan_result(scans))
    assert not [a for a in judgement.advisories if a.code == "SERVICE_MANAGED_ANALYZER"]


def test_a_future_analyzer_type_is_listed_never_coverage_never_a_crash(valid_document):
    future = analyzer("eu-west-1", type="ORGANIZATION_FUTURE_THING", name="future")
    scans = [region_scan("us-east-1", [analyzer("us-east-1")]),
             region_scan("eu-west-1", [future])]
    judgement = judge(make_scan_result(scans))
    assert judgement.regions[0].status == RegionStatus.COVERED
    assert (judgement.regions[1].status, judgement.regions[1].reason) == (RegionStatus.GAP,
                                                                         "NO_ANALYZER")
    (advice,) = [a for a in judgement.advisories if a.code == "UNKNOWN_ANALYZER_TYPE"]
    assert "ORGANIZATION_FUTURE_THING" in advice.title
    assert "future (ORGANIZATION_FUTURE_THING) in eu-west-1" in advice.detail
    document = valid_document(make_document(scans))
    (listed,) = next(r for r in document["regions"] if r["region"] == "eu-west-1")["analyzers"]
    assert (listed["analysis"], listed["managed_by"]) == ("unknown", None)
    assert document["internal_access"] == {"analyzers": [], "findings": []}
