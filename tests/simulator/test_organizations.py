"""Organizations, account:ListRegions, ec2:DescribeRegions and STS, as AWS behaves.

Scanning from the delegated administrator; the management account, a plain member and an
account outside any organization are reached through `world.credentials_for`.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import DELEGATED_ADMIN, MANAGEMENT, MEMBER, small_scenario

OUTSIDER = "999999999999"
ACCESS_ANALYZER = "access-analyzer.amazonaws.com"
ORG_ROLE = "OrganizationAccountAccessRole"

REGIONS = {
    "us-east-1": "ENABLED_BY_DEFAULT",
    "us-west-2": "ENABLED_BY_DEFAULT",
    "eu-west-1": "ENABLED_BY_DEFAULT",
    "me-south-1": "ENABLED",
    "ap-east-1": "DISABLED",
    "af-south-1": "ENABLING",
    "il-central-1": "DISABLING",
}


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    return {
        **small_scenario(),
        "name": "organizations",
        "accounts": [{"id": OUTSIDER, "name": "standalone"}],
        "scanner": {"account": "delegated_administrator", "role_name": "AuditRole"},
        "regions": {
            "universe": list(REGIONS),
            # ap-east-1 is left out: opt-in regions are DISABLED unless the scenario says so.
            "opt_in_status": {r: s for r, s in REGIONS.items()
                              if s != "ENABLED_BY_DEFAULT" and r != "ap-east-1"},
        },
    }


@pytest.fixture(scope="module")
def identities(world: Any) -> dict[str, Any]:
    """Credentials of each kind of caller (None: the scanner's own)."""
    return {
        "management": world.credentials_for(MANAGEMENT, ORG_ROLE),
        "delegated_administrator": None,
        "member": world.credentials_for(MEMBER, ORG_ROLE),
        "outsider": world.credentials_for(OUTSIDER, ORG_ROLE),
    }


def organizations(world: Any, identities: dict[str, Any], who: str) -> Any:
    return world.client("organizations", "us-east-1", credentials=identities[who],
                        retries={"total_max_attempts": 1, "mode": "standard"})


def test_scanner_is_the_delegated_administrator(world: Any) -> None:
    identity = world.client("sts").get_caller_identity()
    assert identity["Account"] == DELEGATED_ADMIN
    assert identity["Arn"] == f"arn:aws:sts::{DELEGATED_ADMIN}:assumed-role/AuditRole/aa-scan"


@pytest.mark.parametrize("who", ["management", "delegated_administrator", "member"])
def test_describe_organization_works_for_every_member(world: Any, identities: dict[str, Any],
                                                      who: str) -> None:
    org = organizations(world, identities, who).describe_organization()["Organization"]
    assert org["MasterAccountId"] == MANAGEMENT
    assert org["FeatureSet"] == "ALL"
    assert org["Id"].startswith("o-")


@pytest.mark.parametrize("who", ["management", "delegated_administrator"])
def test_management_and_delegated_admin_see_the_real_data(world: Any, identities: dict[str, Any],
                                                         who: str) -> None:
    client = organizations(world, identities, who)
    admins = client.list_delegated_administrators(ServicePrincipal=ACCESS_ANALYZER)
    assert [a["Id"] for a in admins["DelegatedAdministrators"]] == [DELEGATED_ADMIN]
    assert admins["DelegatedAdministrators"][0]["Name"] == "security"
    everything = client.list_delegated_administrators()["DelegatedAdministrators"]
    assert [a["Id"] for a in everything] == [DELEGATED_ADMIN]
    services = client.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in services] == [ACCESS_ANALYZER]
    accounts = [a["Id"] for page in client.get_paginator("list_accounts").paginate()
                for a in page["Accounts"]]
    assert sorted(accounts) == [MANAGEMENT, DELEGATED_ADMIN, MEMBER]


def test_plain_member_is_denied(world: Any, identities: dict[str, Any], raises_aws: Any) -> None:
    client = organizations(world, identities, "member")
    with raises_aws("AccessDeniedException"):
        client.list_delegated_administrators(ServicePrincipal=ACCESS_ANALYZER)
    with raises_aws("AccessDeniedException"):
        client.list_aws_service_access_for_organization()
    with raises_aws("AccessDeniedException"):
        client.list_accounts()


def test_delegated_admin_cannot_change_the_organization(world: Any, identities: dict[str, Any],
                                                        raises_aws: Any) -> None:
    client = organizations(world, identities, "delegated_administrator")
    with raises_aws("AccessDeniedException"):
        client.register_delegated_administrator(AccountId=MEMBER,
                                                ServicePrincipal=ACCESS_ANALYZER)
    with raises_aws("AccessDeniedException"):
        client.disable_aws_service_access(ServicePrincipal=ACCESS_ANALYZER)
    management = organizations(world, identities, "management")
    assert [a["Id"] for a in management.list_delegated_administrators()[
        "DelegatedAdministrators"]] == [DELEGATED_ADMIN]


def test_account_outside_any_organization(world: Any, identities: dict[str, Any],
                                          raises_aws: Any) -> None:
    client = organizations(world, identities, "outsider")
    with raises_aws("AWSOrganizationsNotInUseException"):
        client.describe_organization()
    with raises_aws("AWSOrganizationsNotInUseException"):
        client.list_delegated_administrators(ServicePrincipal=ACCESS_ANALYZER)
    with raises_aws("AWSOrganizationsNotInUseException"):
        client.list_aws_service_access_for_organization()


# -- regions ---------------------------------------------------------------------------------


def list_regions(world: Any, **params: Any) -> dict[str, str]:
    account = world.client("account", "us-east-1")
    pages = account.get_paginator("list_regions").paginate(
        **params, PaginationConfig={"PageSize": 2})
    found = [(r["RegionName"], r["RegionOptStatus"]) for page in pages for r in page["Regions"]]
    assert len(found) == len({name for name, _ in found})
    return dict(found)


def test_list_regions_matches_the_scenario(world: Any) -> None:
    assert world.scenario.regions == REGIONS
    assert list_regions(world) == REGIONS


@pytest.mark.parametrize("statuses", [
    ["ENABLED", "ENABLED_BY_DEFAULT"], ["ENABLED"], ["DISABLED"], ["ENABLING", "DISABLING"],
])
def test_list_regions_filters_by_opt_in_status(world: Any, statuses: list[str]) -> None:
    expected = {r: s for r, s in REGIONS.items() if s in statuses}
    assert expected
    assert list_regions(world, RegionOptStatusContains=statuses) == expected


def test_describe_regions_agrees_with_list_regions(world: Any) -> None:
    ec2 = world.client("ec2", "us-east-1")
    every = {r["RegionName"]: r["OptInStatus"]
             for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    ec2_status = {"ENABLED_BY_DEFAULT": "opt-in-not-required", "ENABLED": "opted-in"}
    assert every == {r: ec2_status.get(s, "not-opted-in") for r, s in REGIONS.items()}
    enabled = {r["RegionName"] for r in ec2.describe_regions()["Regions"]}
    assert enabled == {r for r, s in REGIONS.items() if s in ("ENABLED", "ENABLED_BY_DEFAULT")}
    assert enabled == set(list_regions(world, RegionOptStatusContains=[
        "ENABLED", "ENABLED_BY_DEFAULT"]))


# -- STS -------------------------------------------------------------------------------------


def test_assume_role_that_does_not_exist_is_denied(world: Any, raises_aws: Any) -> None:
    sts = world.client("sts")
    with raises_aws("AccessDenied", 403):
        sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/NoSuchRole", RoleSessionName="test")
    with raises_aws("AccessDenied", 403):
        sts.assume_role(RoleArn=f"arn:aws:iam::{DELEGATED_ADMIN}:role/NoSuchRole",
                        RoleSessionName="test")


def test_assume_existing_role(world: Any) -> None:
    response = world.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{DELEGATED_ADMIN}:role/AuditRole", RoleSessionName="chained")
    identity = world.client("sts", credentials=response["Credentials"]).get_caller_identity()
    assert identity["Account"] == DELEGATED_ADMIN
    assert identity["Arn"] == f"arn:aws:sts::{DELEGATED_ADMIN}:assumed-role/AuditRole/chained"


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_credentials_for_other_accounts(world: Any, identities: dict[str, Any], who: str) -> None:
    identity = world.client("sts", credentials=identities[who]).get_caller_identity()
    assert identity["Account"] == {"member": MEMBER, "outsider": OUTSIDER}[who]


# -- organization analyzers ------------------------------------------------------------------


def test_member_cannot_create_an_organization_analyzer(world: Any, identities: dict[str, Any],
                                                       raises_aws: Any) -> None:
    client = world.client("accessanalyzer", "us-west-2", credentials=identities["member"])
    with raises_aws("ValidationException", 400):
        client.create_analyzer(analyzerName="rogue", type="ORGANIZATION")
    assert client.list_analyzers()["analyzers"] == []
    outsider = world.client("accessanalyzer", "us-west-2", credentials=identities["outsider"])
    with raises_aws("ValidationException", 400):
        outsider.create_analyzer(analyzerName="rogue", type="ORGANIZATION")
    # A member may still create an analyzer for its own account.
    client.create_analyzer(analyzerName="own-account", type="ACCOUNT")
    try:
        assert [a["name"] for a in client.list_analyzers()["analyzers"]] == ["own-account"]
    finally:
        client.delete_analyzer(analyzerName="own-account")


@pytest.mark.parametrize("who", ["delegated_administrator", "management"])
def test_delegated_admin_and_management_create_organization_analyzers(
        world: Any, identities: dict[str, Any], who: str) -> None:
    client = world.client("accessanalyzer", "us-west-2", credentials=identities[who])
    account = {"delegated_administrator": DELEGATED_ADMIN, "management": MANAGEMENT}[who]
    arn = client.create_analyzer(analyzerName="org-west", type="ORGANIZATION")["arn"]
    try:
        assert arn == f"arn:aws:access-analyzer:us-west-2:{account}:analyzer/org-west"
        listed = client.list_analyzers(type="ORGANIZATION")["analyzers"]
        assert [(a["arn"], a["status"]) for a in listed] == [(arn, "ACTIVE")]
    finally:
        client.delete_analyzer(analyzerName="org-west")
