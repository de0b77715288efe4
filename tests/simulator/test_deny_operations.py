"""`scanner.deny_operations`: the scanner's role lacks permissions, as an IAM policy would."""

from __future__ import annotations

from typing import Any

import pytest

MANAGEMENT = "111111111111"
DELEGATED_ADMIN = "222222222222"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture(scope="module")
def scenario_doc() -> dict[str, Any]:
    return {
        "name": "deny-operations",
        "organization": {
            "management_account": {"id": MANAGEMENT, "name": "management"},
            "accounts": [{"id": DELEGATED_ADMIN, "name": "security"}],
            "delegated_administrator": "security",
        },
        "scanner": {"account": "security", "role_name": "AuditRole",
                    "deny_operations": ["account:ListRegions",
                                        "access-analyzer:GetFindingsStatistics"]},
        "regions": {"universe": REGIONS},
        "analyzers": [{"name": "org", "type": "ORGANIZATION", "regions": REGIONS}],
    }


def test_denied_operation_raises_access_denied_for_the_scanner(world: Any,
                                                               raises_aws: Any) -> None:
    account = world.client("account", "us-east-1")
    with raises_aws("AccessDeniedException", 403) as info:
        account.list_regions()
    message = info.value.response["Error"]["Message"]
    assert world.scanner_arn in message
    assert "account:ListRegions" in message


def test_other_operations_still_work_for_the_scanner(world: Any, raises_aws: Any) -> None:
    regions = world.client("ec2", "us-east-1").describe_regions()["Regions"]
    assert sorted(r["RegionName"] for r in regions) == sorted(REGIONS)
    aa = world.client("accessanalyzer", "eu-west-1")
    arn = aa.get_analyzer(analyzerName="org")["analyzer"]["arn"]
    assert aa.list_findings(analyzerArn=arn)["findings"] == []
    with raises_aws("AccessDeniedException", 403):
        aa.get_findings_statistics(analyzerArn=arn)


def test_a_new_session_of_the_scanner_role_is_denied_too(world: Any, raises_aws: Any) -> None:
    session = world.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{DELEGATED_ADMIN}:role/AuditRole", RoleSessionName="again")
    account = world.client("account", "us-east-1", credentials=session["Credentials"])
    with raises_aws("AccessDeniedException", 403):
        account.list_regions()


@pytest.mark.parametrize("account_id", [MANAGEMENT, DELEGATED_ADMIN])
def test_other_principals_are_not_limited_by_the_scanner_policy(world: Any,
                                                                account_id: str) -> None:
    credentials = world.credentials_for(account_id, "OrganizationAccountAccessRole")
    account = world.client("account", "us-east-1", credentials=credentials)
    regions = account.list_regions()["Regions"]
    assert sorted(r["RegionName"] for r in regions) == sorted(REGIONS)
