"""Every implemented Access Analyzer operation, through plain boto3 clients and paginators.

Expected results are recomputed in Python from the loaded scenario (`world.scenario`), never
taken from the simulator's own code paths.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulator.scenario import AnalyzerSpec

MANAGEMENT = "111111111111"
DELEGATED_ADMIN = "222222222222"
MEMBER = "333333333333"
DATA = "444444444444"
PARTNER = "arn:aws:iam::999988887777:root"
PAGE_SIZE_CAP = 7
REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    return {
        "name": "access-analyzer",
        "seed": 11,
        "page_size_cap": PAGE_SIZE_CAP,
        "organization": {
            "management_account": {"id": MANAGEMENT, "name": "management"},
            "accounts": [{"id": DELEGATED_ADMIN, "name": "security"},
                         {"id": MEMBER, "name": "workload"},
                         {"id": DATA, "name": "data"}],
            "delegated_administrator": "security",
        },
        "scanner": {"account": "security"},
        "regions": {"universe": REGIONS},
        "analyzers": [
            {
                "name": "org-external",
                "type": "ORGANIZATION",
                "regions": ["us-east-1", "us-west-2"],
                "archive_rules": [
                    {"name": "trusted-partner", "filter": {"principal.AWS": {"eq": [PARTNER]}}},
                    {"name": "org-conditions",
                     "filter": {"condition.aws:PrincipalOrgID": {"exists": True}}},
                ],
                "findings": [
                    {"resource": "arn:aws:s3:::public-website", "resource_type": "AWS::S3::Bucket",
                     "owner": "workload", "public": True, "principal": {"AWS": "*"},
                     "action": ["s3:GetObject"], "created_at": "2026-03-14T09:12:00Z"},
                    {"resource": "arn:aws:iam::444444444444:role/partner-reader",
                     "resource_type": "AWS::IAM::Role", "owner": "data",
                     "principal": {"AWS": PARTNER}, "action": ["sts:AssumeRole"],
                     "condition": {"sts:ExternalId": "etl-2026"}, "status": "ARCHIVED",
                     "created_at": "2026-05-02T16:40:00Z"},
                    {"resource": "arn:aws:kms:us-east-1:333333333333:key/broken",
                     "resource_type": "AWS::KMS::Key", "owner": "workload",
                     "principal": {"AWS": PARTNER}, "error": "ACCESS_DENIED"},
                    {"generate": {
                        "count": 45,
                        "resource_types": {"AWS::S3::Bucket": 4, "AWS::IAM::Role": 3,
                                           "AWS::KMS::Key": 2, "AWS::Lambda::Function": 2,
                                           "AWS::SQS::Queue": 1, "AWS::SNS::Topic": 1},
                        "public_share": 0.3,
                        "error_share": 0.1,
                        "statuses": {"ACTIVE": 0.6, "ARCHIVED": 0.25, "RESOLVED": 0.15},
                    }},
                ],
            },
            {"name": "account-external", "type": "ACCOUNT", "region": "us-east-1",
             "findings": [{"generate": {"count": 5}}]},
            {"name": "unused", "type": "ORGANIZATION_UNUSED_ACCESS", "region": "us-east-1"},
            {"name": "failed", "type": "ORGANIZATION", "region": "us-west-2", "status": "FAILED",
             "status_reason": "SERVICE_LINKED_ROLE_CREATION_FAILED"},
            {"name": "management-only", "type": "ACCOUNT", "region": "eu-west-1",
             "account": "management"},
        ],
    }


# -- helpers ---------------------------------------------------------------------------------


def spec_of(world: Any, region: str, name: str, account: str = DELEGATED_ADMIN) -> AnalyzerSpec:
    return next(s for s in world.scenario.analyzers
                if (s.account_id, s.region, s.name) == (account, region, name))


def arn_of(spec: AnalyzerSpec) -> str:
    return f"arn:aws:access-analyzer:{spec.region}:{spec.account_id}:analyzer/{spec.name}"


@pytest.fixture(scope="module")
def org_spec(world: Any) -> AnalyzerSpec:
    return spec_of(world, "us-east-1", "org-external")


@pytest.fixture(scope="module")
def aa(world: Any) -> Any:
    return world.client("accessanalyzer", "us-east-1")


def walk(client: Any, operation: str, key: str, **params: Any) -> list[list[Any]]:
    """Every page of a paginated operation (the items under `key` of each page)."""
    return [page[key] for page in client.get_paginator(operation).paginate(**params)]


def value_of(finding: dict[str, Any], key: str) -> str | None:
    """The value a filter key selects, recomputed independently of the simulator."""
    if key.startswith("principal."):
        return finding["principal"].get(key.split(".", 1)[1])
    if key.startswith("condition."):
        return finding["condition"].get(key.split(".", 1)[1])
    value = finding.get(key)
    if isinstance(value, bool):
        return str(value).lower()
    return value


def matches(finding: dict[str, Any], criteria: dict[str, dict[str, Any]]) -> bool:
    for key, criterion in criteria.items():
        value = value_of(finding, key)
        if "eq" in criterion and value not in criterion["eq"]:
            return False
        if "neq" in criterion and value in criterion["neq"]:
            return False
        if "contains" in criterion and (
                value is None or not any(part in value for part in criterion["contains"])):
            return False
        if "exists" in criterion and (value is not None) != criterion["exists"]:
            return False
    return True


# -- analyzers -------------------------------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_list_analyzers_matches_scenario(world: Any, region: str) -> None:
    client = world.client("accessanalyzer", region)
    listed = [a for page in walk(client, "list_analyzers", "analyzers") for a in page]
    expected = {(arn_of(s), s.name, s.type, s.status) for s in world.scenario.analyzers
                if s.account_id == DELEGATED_ADMIN and s.region == region}
    assert {(a["arn"], a["name"], a["type"], a["status"]) for a in listed} == expected
    assert len(listed) == len(expected)


@pytest.mark.parametrize(("kind", "names"), [
    ("ORGANIZATION", ["org-external"]),
    ("ACCOUNT", ["account-external"]),
    ("ORGANIZATION_UNUSED_ACCESS", ["unused"]),
    ("ACCOUNT_INTERNAL_ACCESS", []),
])
def test_list_analyzers_type_filter(aa: Any, kind: str, names: list[str]) -> None:
    listed = aa.list_analyzers(type=kind)["analyzers"]
    assert [a["name"] for a in listed] == names
    assert all(a["type"] == kind for a in listed)


def test_list_analyzers_paginates(aa: Any) -> None:
    pages = walk(aa, "list_analyzers", "analyzers", PaginationConfig={"PageSize": 1})
    assert [len(p) for p in pages] == [1, 1, 1]
    assert sorted(a["name"] for p in pages for a in p) == [
        "account-external", "org-external", "unused"]


def test_analyzers_are_per_account(world: Any) -> None:
    scanner = world.client("accessanalyzer", "eu-west-1")
    assert scanner.list_analyzers()["analyzers"] == []
    management = world.client("accessanalyzer", "eu-west-1", credentials=world.credentials_for(
        MANAGEMENT, "OrganizationAccountAccessRole"))
    listed = management.list_analyzers()["analyzers"]
    assert [(a["name"], a["arn"]) for a in listed] == [
        ("management-only", f"arn:aws:access-analyzer:eu-west-1:{MANAGEMENT}:analyzer/"
                            "management-only")]


def test_get_analyzer(world: Any, aa: Any, org_spec: AnalyzerSpec) -> None:
    analyzer = aa.get_analyzer(analyzerName="org-external")["analyzer"]
    assert analyzer["arn"] == arn_of(org_spec)
    assert (analyzer["name"], analyzer["type"], analyzer["status"]) == (
        "org-external", "ORGANIZATION", "ACTIVE")
    assert "statusReason" not in analyzer
    latest = max(org_spec.findings, key=lambda f: f["analyzedAt"])
    assert analyzer["lastResourceAnalyzed"] == latest["resource"]
    assert analyzer["lastResourceAnalyzedAt"] == latest["analyzedAt"]


def test_get_failed_analyzer_has_status_reason(world: Any) -> None:
    client = world.client("accessanalyzer", "us-west-2")
    analyzer = client.get_analyzer(analyzerName="failed")["analyzer"]
    assert analyzer["status"] == "FAILED"
    assert analyzer["statusReason"] == {"code": "SERVICE_LINKED_ROLE_CREATION_FAILED"}


def test_create_and_delete_analyzer(world: Any, raises_aws: Any) -> None:
    client = world.client("accessanalyzer", "eu-west-1")
    rule = {"ruleName": "private-only", "filter": {"isPublic": {"eq": ["false"]}}}
    arn = client.create_analyzer(analyzerName="temporary", type="ACCOUNT",
                                 archiveRules=[rule], tags={"team": "security"})["arn"]
    try:
        assert arn == f"arn:aws:access-analyzer:eu-west-1:{DELEGATED_ADMIN}:analyzer/temporary"
        assert [a["arn"] for a in client.list_analyzers()["analyzers"]] == [arn]
        analyzer = client.get_analyzer(analyzerName="temporary")["analyzer"]
        assert (analyzer["type"], analyzer["status"], analyzer["tags"]) == (
            "ACCOUNT", "ACTIVE", {"team": "security"})
        rules = client.list_archive_rules(analyzerName="temporary")["archiveRules"]
        assert [(r["ruleName"], r["filter"]) for r in rules] == [
            ("private-only", rule["filter"])]
        with raises_aws("ConflictException", 409):
            client.create_analyzer(analyzerName="temporary", type="ACCOUNT")
    finally:
        client.delete_analyzer(analyzerName="temporary")
    assert client.list_analyzers()["analyzers"] == []
    with raises_aws("ResourceNotFoundException", 404):
        client.get_analyzer(analyzerName="temporary")
    with raises_aws("ResourceNotFoundException", 404):
        client.delete_analyzer(analyzerName="temporary")


# -- archive rules ---------------------------------------------------------------------------


def test_list_archive_rules_matches_scenario(aa: Any, org_spec: AnalyzerSpec) -> None:
    rules = [r for page in walk(aa, "list_archive_rules", "archiveRules",
                                analyzerName="org-external") for r in page]
    expected = sorted((r.name, r.filter) for r in org_spec.archive_rules)
    assert [(r["ruleName"], r["filter"]) for r in rules] == expected


def test_create_and_delete_archive_rule(aa: Any, org_spec: AnalyzerSpec,
                                        raises_aws: Any) -> None:
    new_filter = {"resourceType": {"eq": ["AWS::S3::Bucket"]}, "isPublic": {"eq": ["false"]}}
    aa.create_archive_rule(analyzerName="org-external", ruleName="private-buckets",
                           filter=new_filter)
    try:
        rules = {r["ruleName"]: r["filter"]
                 for r in aa.list_archive_rules(analyzerName="org-external")["archiveRules"]}
        assert rules["private-buckets"] == new_filter
        assert len(rules) == len(org_spec.archive_rules) + 1
        with raises_aws("ConflictException", 409):
            aa.create_archive_rule(analyzerName="org-external", ruleName="private-buckets",
                                   filter=new_filter)
    finally:
        aa.delete_archive_rule(analyzerName="org-external", ruleName="private-buckets")
    names = [r["ruleName"] for r in aa.list_archive_rules(analyzerName="org-external")[
        "archiveRules"]]
    assert names == sorted(r.name for r in org_spec.archive_rules)
    with raises_aws("ResourceNotFoundException", 404):
        aa.delete_archive_rule(analyzerName="org-external", ruleName="private-buckets")
    with raises_aws("ValidationException", 400):
        aa.create_archive_rule(analyzerName="org-external", ruleName="bad-filter",
                               filter={"owner": {"eq": ["x"]}})
    with raises_aws("ResourceNotFoundException", 404):
        aa.create_archive_rule(analyzerName="no-such-analyzer", ruleName="r",
                               filter=new_filter)


# -- findings --------------------------------------------------------------------------------


def test_list_findings_returns_the_scenario_findings(aa: Any, org_spec: AnalyzerSpec) -> None:
    found = [f for page in walk(aa, "list_findings", "findings", analyzerArn=arn_of(org_spec))
             for f in page]
    assert len(found) == len(org_spec.findings) == 48
    expected = {f["id"]: f for f in org_spec.findings}
    assert {f["id"] for f in found} == set(expected)
    for finding in found:
        want = expected[finding["id"]]
        for key in ("resource", "resourceType", "resourceOwnerAccount", "isPublic", "status",
                    "principal", "action", "condition", "createdAt", "updatedAt",
                    "analyzedAt"):
            assert finding.get(key) == want[key], (key, finding, want)
        assert finding.get("error") == want.get("error")


def test_list_findings_v2_returns_the_scenario_findings(aa: Any,
                                                       org_spec: AnalyzerSpec) -> None:
    found = [f for page in walk(aa, "list_findings_v2", "findings",
                                analyzerArn=arn_of(org_spec)) for f in page]
    expected = {f["id"]: f for f in org_spec.findings}
    assert sorted(f["id"] for f in found) == sorted(expected)
    for finding in found:
        want = expected[finding["id"]]
        assert finding["findingType"] == "ExternalAccess"
        for key in ("resource", "resourceType", "resourceOwnerAccount", "status", "createdAt"):
            assert finding[key] == want[key]


def test_findings_of_each_region_are_its_own(world: Any) -> None:
    west = spec_of(world, "us-west-2", "org-external")
    client = world.client("accessanalyzer", "us-west-2")
    ids = {f["id"] for page in walk(client, "list_findings", "findings", analyzerArn=arn_of(west))
           for f in page}
    assert ids == {f["id"] for f in west.findings}
    east_ids = {f["id"] for f in spec_of(world, "us-east-1", "org-external").findings}
    assert not ids & east_ids


def test_unused_access_analyzer_needs_list_findings_v2(world: Any, aa: Any,
                                                      raises_aws: Any) -> None:
    arn = arn_of(spec_of(world, "us-east-1", "unused"))
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn)
    assert aa.list_findings_v2(analyzerArn=arn)["findings"] == []


def test_get_finding(aa: Any, org_spec: AnalyzerSpec, raises_aws: Any) -> None:
    for want in (org_spec.findings[0], org_spec.findings[2], org_spec.findings[-1]):
        finding = aa.get_finding(analyzerArn=arn_of(org_spec), id=want["id"])["finding"]
        assert finding["id"] == want["id"]
        for key in ("resource", "resourceType", "resourceOwnerAccount", "isPublic", "status",
                    "principal", "action", "condition", "createdAt"):
            assert finding.get(key) == want[key], key
        assert finding.get("error") == want.get("error")
    with raises_aws("ResourceNotFoundException", 404):
        aa.get_finding(analyzerArn=arn_of(org_spec), id="00000000-0000-0000-0000-000000000000")


def test_get_findings_statistics(aa: Any, org_spec: AnalyzerSpec) -> None:
    response = aa.get_findings_statistics(analyzerArn=arn_of(org_spec))
    stats = response["findingsStatistics"][0]["externalAccessFindingsStatistics"]
    findings = org_spec.findings
    assert stats["totalActiveFindings"] == sum(f["status"] == "ACTIVE" for f in findings)
    assert stats["totalArchivedFindings"] == sum(f["status"] == "ARCHIVED" for f in findings)
    assert stats["totalResolvedFindings"] == sum(f["status"] == "RESOLVED" for f in findings)
    assert stats["totalActiveFindings"] + stats["totalArchivedFindings"] + stats[
        "totalResolvedFindings"] == len(findings)
    expected: dict[str, dict[str, int]] = {}
    for f in findings:
        if f["status"] != "ACTIVE":
            continue
        entry = expected.setdefault(f["resourceType"], {
            "totalActivePublic": 0, "totalActiveCrossAccount": 0, "totalActiveErrors": 0})
        if f.get("error"):
            entry["totalActiveErrors"] += 1
        elif f["isPublic"]:
            entry["totalActivePublic"] += 1
        else:
            entry["totalActiveCrossAccount"] += 1
    assert stats["resourceTypeStatistics"] == expected
    assert sum(e["totalActiveErrors"] for e in expected.values()) > 0
    assert sum(e["totalActivePublic"] for e in expected.values()) > 0


# -- pagination ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["list_findings", "list_findings_v2"])
@pytest.mark.parametrize("page_size", [1, 3, 7, 50])
def test_pagination_walks_every_finding_once(aa: Any, org_spec: AnalyzerSpec, operation: str,
                                             page_size: int) -> None:
    pages = walk(aa, operation, "findings", analyzerArn=arn_of(org_spec),
                 PaginationConfig={"PageSize": page_size})
    effective = min(page_size, PAGE_SIZE_CAP)
    total = len(org_spec.findings)
    assert len(pages) == math.ceil(total / effective)
    assert all(len(page) == effective for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= effective
    ids = [f["id"] for page in pages for f in page]
    assert len(ids) == len(set(ids)), "a finding was returned twice"
    assert set(ids) == {f["id"] for f in org_spec.findings}


def test_page_size_cap_is_enforced(aa: Any, org_spec: AnalyzerSpec) -> None:
    response = aa.list_findings(analyzerArn=arn_of(org_spec), maxResults=100)
    assert len(response["findings"]) == PAGE_SIZE_CAP
    assert response.get("nextToken")
    unpaged = aa.list_findings(analyzerArn=arn_of(org_spec))
    assert len(unpaged["findings"]) == PAGE_SIZE_CAP


def test_next_token_is_bound_to_its_query(world: Any, aa: Any, org_spec: AnalyzerSpec,
                                          raises_aws: Any) -> None:
    arn = arn_of(org_spec)
    first = aa.list_findings(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}})
    token = first["nextToken"]
    second = aa.list_findings(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}},
                              nextToken=token)
    assert not {f["id"] for f in first["findings"]} & {f["id"] for f in second["findings"]}
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn, filter={"status": {"eq": ["ARCHIVED"]}},
                         nextToken=token)
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn, nextToken=token)
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn, filter={"status": {"eq": ["ACTIVE"]}},
                         sort={"attributeName": "resourceType", "orderBy": "ASC"},
                         nextToken=token)


@pytest.mark.parametrize("token", ["garbage", "eyJxIjoiYWJjIiwibyI6N30=", "A" * 40, "%%%"])
def test_garbage_next_token_is_rejected(aa: Any, org_spec: AnalyzerSpec, raises_aws: Any,
                                        token: str) -> None:
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn_of(org_spec), nextToken=token)
    with raises_aws("ValidationException", 400):
        aa.list_analyzers(nextToken=token)


# -- filters and sorting ---------------------------------------------------------------------

FILTERS = [
    {"status": {"eq": ["ACTIVE"]}},
    {"status": {"neq": ["ACTIVE"]}},
    {"status": {"eq": ["ARCHIVED", "RESOLVED"]}},
    {"resourceType": {"eq": ["AWS::S3::Bucket", "AWS::KMS::Key"]}},
    {"resourceType": {"neq": ["AWS::IAM::Role"]}},
    {"resourceType": {"contains": ["Lambda", "SQS"]}},
    {"isPublic": {"eq": ["true"]}},
    {"isPublic": {"eq": ["false"]}, "status": {"eq": ["ACTIVE"]}},
    {"isPublic": {"neq": ["true"]}},
    {"status": {"contains": ["ARCH"]}},
    {"resourceOwnerAccount": {"eq": [MEMBER]}},
    {"resourceOwnerAccount": {"neq": [MANAGEMENT, DELEGATED_ADMIN]}},
    {"resourceOwnerAccount": {"contains": ["4444"]}, "resourceType": {"exists": True}},
    {"principal.AWS": {"eq": ["*"]}},
    {"principal.AWS": {"neq": ["*"]}},
    {"principal.AWS": {"contains": ["999988887777"]}},
    {"condition.aws:PrincipalOrgID": {"exists": True}},
    {"condition.aws:PrincipalOrgID": {"exists": False}},
    {"condition.sts:ExternalId": {"eq": ["etl-2026"]}},
    {"condition.sts:ExternalId": {"exists": True}, "status": {"eq": ["ARCHIVED"]}},
    {"resource": {"contains": ["arn:aws:s3:::"]}},
    {"error": {"exists": True}},
]


@pytest.mark.parametrize("operation", ["list_findings", "list_findings_v2"])
@pytest.mark.parametrize("criteria", FILTERS, ids=[str(f) for f in FILTERS])
def test_filters_match_a_python_recomputation(aa: Any, org_spec: AnalyzerSpec, operation: str,
                                              criteria: dict[str, Any]) -> None:
    expected = {f["id"] for f in org_spec.findings if matches(f, criteria)}
    # The scenario must make every filter meaningful: it keeps some findings, drops others.
    assert 0 < len(expected) < len(org_spec.findings)
    found = [f["id"] for page in walk(aa, operation, "findings", analyzerArn=arn_of(org_spec),
                                      filter=criteria) for f in page]
    assert len(found) == len(set(found))
    assert set(found) == expected


@pytest.mark.parametrize("key", ["owner", "principal", "isPublicc", "resourcetype", "tags.team"])
def test_unknown_filter_key_is_rejected(aa: Any, org_spec: AnalyzerSpec, raises_aws: Any,
                                        key: str) -> None:
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn_of(org_spec), filter={key: {"eq": ["x"]}})
    with raises_aws("ValidationException", 400):
        aa.list_findings_v2(analyzerArn=arn_of(org_spec), filter={key: {"eq": ["x"]}})


@pytest.mark.parametrize("operation", ["list_findings", "list_findings_v2"])
@pytest.mark.parametrize("attribute", ["createdAt", "resourceType"])
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_sort_is_honoured(aa: Any, org_spec: AnalyzerSpec, operation: str, attribute: str,
                          order: str) -> None:
    found = [f for page in walk(aa, operation, "findings", analyzerArn=arn_of(org_spec),
                                sort={"attributeName": attribute, "orderBy": order},
                                PaginationConfig={"PageSize": 5}) for f in page]
    values = [f[attribute] for f in found]
    assert values == sorted(values, reverse=order == "DESC")
    assert len(set(values)) > 1
    assert {f["id"] for f in found} == {f["id"] for f in org_spec.findings}


def test_default_order_differs_from_descending(aa: Any, org_spec: AnalyzerSpec) -> None:
    arn = arn_of(org_spec)
    ascending = [f["id"] for p in walk(aa, "list_findings", "findings", analyzerArn=arn,
                                       sort={"attributeName": "createdAt", "orderBy": "ASC"})
                 for f in p]
    descending = [f["id"] for p in walk(aa, "list_findings", "findings", analyzerArn=arn,
                                        sort={"attributeName": "createdAt", "orderBy": "DESC"})
                  for f in p]
    assert ascending == descending[::-1]


@pytest.mark.parametrize("attribute", ["principal", "bogus", "condition.aws:PrincipalOrgID"])
def test_invalid_sort_attribute_is_rejected(aa: Any, org_spec: AnalyzerSpec, raises_aws: Any,
                                            attribute: str) -> None:
    with raises_aws("ValidationException", 400):
        aa.list_findings(analyzerArn=arn_of(org_spec),
                         sort={"attributeName": attribute, "orderBy": "ASC"})


# -- not found -------------------------------------------------------------------------------


def test_unknown_analyzer_name_is_not_found(aa: Any, raises_aws: Any) -> None:
    with raises_aws("ResourceNotFoundException", 404):
        aa.get_analyzer(analyzerName="no-such-analyzer")
    with raises_aws("ResourceNotFoundException", 404):
        aa.list_archive_rules(analyzerName="no-such-analyzer")
    with raises_aws("ResourceNotFoundException", 404):
        aa.delete_analyzer(analyzerName="no-such-analyzer")


def test_unknown_analyzer_arn_is_not_found(aa: Any, raises_aws: Any) -> None:
    arn = f"arn:aws:access-analyzer:us-east-1:{DELEGATED_ADMIN}:analyzer/no-such-analyzer"
    for call in (aa.list_findings, aa.list_findings_v2, aa.get_findings_statistics):
        with raises_aws("ResourceNotFoundException", 404):
            call(analyzerArn=arn)


def test_arn_of_another_region_is_not_found(world: Any, aa: Any, raises_aws: Any) -> None:
    west = spec_of(world, "us-west-2", "org-external")
    with raises_aws("ResourceNotFoundException", 404):
        aa.list_findings(analyzerArn=arn_of(west))
    with raises_aws("ResourceNotFoundException", 404):
        aa.get_finding(analyzerArn=arn_of(west), id=west.findings[0]["id"])
    with raises_aws("ResourceNotFoundException", 404):
        aa.get_findings_statistics(analyzerArn=arn_of(west))


def test_arn_of_another_account_is_not_found(world: Any, raises_aws: Any) -> None:
    other = spec_of(world, "eu-west-1", "management-only", account=MANAGEMENT)
    client = world.client("accessanalyzer", "eu-west-1")
    with raises_aws("ResourceNotFoundException", 404):
        client.list_findings(analyzerArn=arn_of(other))


# -- validation (requests botocore would refuse to send) -------------------------------------


@pytest.fixture(scope="module")
def raw(world: Any) -> Any:
    return world.client("accessanalyzer", "us-east-1", parameter_validation=False)


def test_wrong_enum_value_is_rejected(raw: Any, raises_aws: Any) -> None:
    with raises_aws("ValidationException", 400):
        raw.list_analyzers(type="ORG")
    with raises_aws("ValidationException", 400):
        raw.create_analyzer(analyzerName="x", type="EVERYTHING")


def test_missing_required_member_is_rejected(raw: Any, raises_aws: Any) -> None:
    for call in (raw.list_findings, raw.list_findings_v2, raw.get_findings_statistics):
        with raises_aws("ValidationException", 400) as info:
            call()
        assert "analyzerArn" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["a" * 256, "1-starts-with-a-digit", "has space", "semi;colon"])
def test_bad_analyzer_name_is_rejected(raw: Any, raises_aws: Any, name: str) -> None:
    with raises_aws("ValidationException", 400):
        raw.create_analyzer(analyzerName=name, type="ACCOUNT")
    assert name not in [a["name"] for a in raw.list_analyzers()["analyzers"]]


def test_string_where_integer_expected_is_rejected(raw: Any, org_spec: AnalyzerSpec,
                                                   raises_aws: Any) -> None:
    with raises_aws("ValidationException", 400):
        raw.list_findings(analyzerArn=arn_of(org_spec), maxResults="ten")  # JSON body
    with raises_aws("ValidationException", 400):
        raw.list_analyzers(maxResults="ten")  # query string
    with raises_aws("ValidationException", 400):
        raw.list_findings(analyzerArn=arn_of(org_spec), maxResults=0)


def test_malformed_arn_is_rejected(raw: Any, raises_aws: Any) -> None:
    with raises_aws("ValidationException", 400):
        raw.list_findings(analyzerArn="not-an-arn")
