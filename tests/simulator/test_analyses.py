"""Internal access, unused access, service-linked and future analyzers, through plain boto3.

ListFindingsV2, GetFindingV2 and GetFindingsStatistics' internal-access and unused-access
shapes, and `managedBy`; expected values are recomputed from the loaded scenario.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from simulator import ScenarioError, load_scenario
from simulator.scenario import AnalyzerSpec

MANAGEMENT = "111111111111"
SECURITY = "222222222222"
WORKLOAD = "333333333333"
REGION = "eu-central-1"


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    return {
        "name": "analyses",
        "seed": 5,
        "page_size_cap": 4,
        "organization": {
            "management_account": {"id": MANAGEMENT, "name": "management"},
            "accounts": [{"id": SECURITY, "name": "security"},
                         {"id": WORKLOAD, "name": "workload"}],
            "delegated_administrator": "security",
        },
        "regions": {"universe": [REGION, "us-east-1"]},
        "analyzers": [
            {"name": "org", "type": "ORGANIZATION", "region": REGION},
            {"name": "internal", "type": "ORGANIZATION_INTERNAL_ACCESS", "region": REGION,
             "findings": [
                 {"id": "intra-org-1", "resource": "arn:aws:s3:::shared-data",
                  "resource_type": "AWS::S3::Bucket", "owner": "workload",
                  "principal": {"AWS": "arn:aws:iam::222222222222:role/reader"},
                  "action": ["s3:GetObject"], "access_type": "INTRA_ORG",
                  "principal_type": "IAM_ROLE", "principal_owner_account": SECURITY},
                 {"generate": {"count": 9, "statuses": {"ACTIVE": 2, "ARCHIVED": 1},
                               "resource_types": ["AWS::S3::Bucket", "AWS::RDS::DBSnapshot",
                                                  "AWS::DynamoDB::Table"]}},
             ]},
            {"name": "unused", "type": "ORGANIZATION_UNUSED_ACCESS", "region": REGION,
             "findings": [
                 {"id": "old-key", "finding_type": "UnusedIAMUserAccessKey",
                  "resource": "arn:aws:iam::333333333333:user/ci", "resource_type":
                  "AWS::IAM::User", "owner": "workload", "access_key_id": "AKIAEXAMPLE0001",
                  "last_accessed": "2025-06-01T00:00:00Z"},
                 {"generate": {"count": 14}},
             ]},
            {"name": "_AccessAnalyzerForSecurityHub-abc123",
             "type": "ORGANIZATION_UNUSED_ACCESS", "region": "us-east-1",
             "managed_by": "securityhub.amazonaws.com"},
            {"name": "future", "type": "new:ORGANIZATION_FUTURE_THING", "region": "us-east-1"},
        ],
    }


def spec_of(world: Any, region: str, name: str) -> AnalyzerSpec:
    return next(s for s in world.scenario.analyzers if s.region == region and s.name == name)


def arn_of(spec: AnalyzerSpec) -> str:
    return f"arn:aws:access-analyzer:{spec.region}:{spec.account_id}:analyzer/{spec.name}"


def v2_findings(client: Any, spec: AnalyzerSpec, **params: Any) -> list[dict[str, Any]]:
    return [f for page in client.get_paginator("list_findings_v2").paginate(
        analyzerArn=arn_of(spec), **params) for f in page["findings"]]


def test_managed_by_only_on_a_service_linked_analyzer(world: Any) -> None:
    east = world.client("accessanalyzer", "us-east-1")
    listed = {a["name"]: a for a in east.list_analyzers()["analyzers"]}
    linked = listed["_AccessAnalyzerForSecurityHub-abc123"]
    assert linked["managedBy"] == "securityhub.amazonaws.com"
    assert "managedBy" not in listed["future"]
    got = east.get_analyzer(analyzerName="_AccessAnalyzerForSecurityHub-abc123")["analyzer"]
    assert got["managedBy"] == "securityhub.amazonaws.com"
    own = world.client("accessanalyzer", REGION).get_analyzer(analyzerName="org")["analyzer"]
    assert "managedBy" not in own


def test_a_type_newer_than_botocore_is_listed_as_it_is(world: Any) -> None:
    east = world.client("accessanalyzer", "us-east-1")
    listed = {a["name"]: a["type"] for a in east.list_analyzers()["analyzers"]}
    assert listed["future"] == "ORGANIZATION_FUTURE_THING"
    arn = arn_of(spec_of(world, "us-east-1", "future"))
    assert east.get_findings_statistics(analyzerArn=arn)["findingsStatistics"] == []


def test_internal_access_findings_through_list_findings_v2(world: Any,
                                                           raises_aws: Any) -> None:
    client = world.client("accessanalyzer", REGION)
    spec = spec_of(world, REGION, "internal")
    found = v2_findings(client, spec)
    assert sorted(f["id"] for f in found) == sorted(f["id"] for f in spec.findings)
    assert len(found) == 10
    expected = {f["id"]: f for f in spec.findings}
    for finding in found:
        assert finding["findingType"] == "InternalAccess"
        for key in ("resource", "resourceType", "resourceOwnerAccount", "status"):
            assert finding[key] == expected[finding["id"]][key]
        assert "principal" not in finding  # FindingSummaryV2 has no room for it
    active = v2_findings(client, spec, filter={"status": {"eq": ["ACTIVE"]}})
    assert len(active) == sum(f["status"] == "ACTIVE" for f in spec.findings)
    with raises_aws("ValidationException", 400):
        client.list_findings(analyzerArn=arn_of(spec))


def test_get_finding_v2_details_by_finding_type(world: Any, raises_aws: Any) -> None:
    client = world.client("accessanalyzer", REGION)
    internal = client.get_finding_v2(analyzerArn=arn_of(spec_of(world, REGION, "internal")),
                                     id="intra-org-1")
    assert internal["findingType"] == "InternalAccess"
    details = internal["findingDetails"][0]["internalAccessDetails"]
    assert details["accessType"] == "INTRA_ORG"
    assert details["principalOwnerAccount"] == SECURITY
    assert details["principal"] == {"AWS": "arn:aws:iam::222222222222:role/reader"}
    unused_arn = arn_of(spec_of(world, REGION, "unused"))
    key = client.get_finding_v2(analyzerArn=unused_arn, id="old-key")
    assert key["findingType"] == "UnusedIAMUserAccessKey"
    assert key["findingDetails"][0]["unusedIamUserAccessKeyDetails"]["accessKeyId"] == (
        "AKIAEXAMPLE0001")
    with raises_aws("ValidationException", 400):  # GetFinding is external access only
        client.get_finding(analyzerArn=unused_arn, id="old-key")


def test_internal_access_statistics_per_resource_type(world: Any) -> None:
    client = world.client("accessanalyzer", REGION)
    spec = spec_of(world, REGION, "internal")
    answer = client.get_findings_statistics(analyzerArn=arn_of(spec))["findingsStatistics"]
    stats = answer[0]["internalAccessFindingsStatistics"]
    member = {"ACTIVE": "totalActiveFindings", "ARCHIVED": "totalArchivedFindings",
              "RESOLVED": "totalResolvedFindings"}
    expected: dict[str, dict[str, int]] = {}
    for f in spec.findings:
        entry = expected.setdefault(f["resourceType"], dict.fromkeys(member.values(), 0))
        entry[member[f["status"]]] += 1
    assert stats["resourceTypeStatistics"] == expected
    assert stats["totalActiveFindings"] == sum(f["status"] == "ACTIVE" for f in spec.findings)
    assert stats["totalArchivedFindings"] == sum(f["status"] == "ARCHIVED"
                                                 for f in spec.findings)


def test_unused_access_statistics_per_type_and_account(world: Any) -> None:
    client = world.client("accessanalyzer", REGION)
    spec = spec_of(world, REGION, "unused")
    answer = client.get_findings_statistics(analyzerArn=arn_of(spec))["findingsStatistics"]
    stats = answer[0]["unusedAccessFindingsStatistics"]
    active = [f for f in spec.findings if f["status"] == "ACTIVE"]
    per_type = Counter(f["findingType"] for f in active)
    assert {s["unusedAccessType"]: s["total"] for s in stats["unusedAccessTypeStatistics"]} == (
        dict(per_type))
    assert len(per_type) >= 3
    per_account = Counter(f["resourceOwnerAccount"] for f in active)
    assert {a["account"]: a["numberOfActiveFindings"] for a in stats["topAccounts"]} == (
        dict(per_account))
    for account in stats["topAccounts"]:
        mine = Counter(f["findingType"] for f in active
                       if f["resourceOwnerAccount"] == account["account"])
        assert account["details"] == dict(mine)
    assert stats["totalActiveFindings"] == len(active)


def test_unused_findings_filter_on_finding_type(world: Any) -> None:
    client = world.client("accessanalyzer", REGION)
    spec = spec_of(world, REGION, "unused")
    roles = v2_findings(client, spec, filter={"findingType": {"eq": ["UnusedIAMRole"]}})
    assert {f["id"] for f in roles} == {f["id"] for f in spec.findings
                                        if f["findingType"] == "UnusedIAMRole"}
    assert all(f["findingType"] == "UnusedIAMRole" for f in roles)


@pytest.mark.parametrize(("analyzer", "problem"), [
    ({"type": "ORGANIZATION_UNUSED_ACCESS",
      "findings": [{"resource": "arn:aws:iam::1:role/r", "resource_type": "AWS::IAM::Role"}]},
     "findings[0].finding_type: required for an unused-access analyzer"),
    ({"type": "ORGANIZATION_UNUSED_ACCESS",
      "findings": [{"resource": "r", "resource_type": "AWS::IAM::User",
                    "finding_type": "UnusedIAMUserAccessKey"}]},
     "findings[0].access_key_id: required for a UnusedIAMUserAccessKey finding"),
    ({"type": "ORGANIZATION",
      "findings": [{"resource": "r", "resource_type": "AWS::S3::Bucket",
                    "access_type": "INTRA_ORG"}]},
     "findings[0].access_type: not a detail of a ExternalAccess finding"),
    ({"type": "ORGANIZATION_INTERNAL_ACCESS",
      "findings": [{"resource": "r", "resource_type": "AWS::S3::Bucket",
                    "access_type": "ELSEWHERE"}]},
     "findings[0].access_type: 'ELSEWHERE' is not one of"),
    ({"type": "ORGANIZATION", "managed_by": "Security Hub"},
     "managed_by: 'Security Hub' is not a service principal"),
    ({"type": "new:ORGANIZATION"}, "type: 'ORGANIZATION' is not the name of an analyzer type"),
    ({"type": "ORGANIZATION", "findings": [{"generate": {"count": 1,
                                                         "finding_types": ["UnusedIAMRole"]}}]},
     "findings[0].generate.finding_types: only for an unused-access analyzer"),
])
def test_scenario_errors_name_the_field(analyzer: dict[str, Any], problem: str) -> None:
    doc = {"name": "bad", "organization": {"management_account": {"id": MANAGEMENT}},
           "regions": {"universe": [REGION]},
           "analyzers": [{"name": "a", "region": REGION, **analyzer}]}
    with pytest.raises(ScenarioError) as info:
        load_scenario(doc)
    assert f"scenario: analyzers[0].{problem}" in str(info.value), str(info.value)
