"""Security Hub's BatchImportFindings behind the rules AWS applies and moto does not: an
account where Security Hub is not enabled is refused, at most 100 findings a call, and a
customer's findings only under its own default product, for its own account and region."""

from __future__ import annotations

from typing import Any

from .conftest import DELEGATED_ADMIN, MANAGEMENT


def finding(account: str = DELEGATED_ADMIN, product_account: str = DELEGATED_ADMIN,
            region: str = "us-east-1", number: int = 0) -> dict[str, Any]:
    return {"SchemaVersion": "2018-10-08", "Id": f"test/{number}",
            "ProductArn": f"arn:aws:securityhub:{region}:{product_account}:product/"
                          f"{product_account}/default",
            "GeneratorId": "test", "AwsAccountId": account, "Types": ["Software and "
                                                                    "Configuration Checks"],
            "CreatedAt": "2026-01-01T00:00:00Z", "UpdatedAt": "2026-01-01T00:00:00Z",
            "Severity": {"Label": "LOW"}, "Title": "t", "Description": "d",
            "Resources": [{"Type": "Other", "Id": "x"}]}


def test_batch_import_follows_security_hubs_rules(world, raises_aws):
    hub = world.client("securityhub")
    with raises_aws("InvalidAccessException"):
        hub.batch_import_findings(Findings=[finding()])
    hub.enable_security_hub()
    assert hub.batch_import_findings(Findings=[finding()])["SuccessCount"] == 1
    with raises_aws("InvalidInputException"):
        hub.batch_import_findings(Findings=[finding(number=n) for n in range(101)])
    for other in (finding(account=MANAGEMENT), finding(product_account=MANAGEMENT),
                  finding(region="eu-west-1")):
        with raises_aws("AccessDeniedException"):
            hub.batch_import_findings(Findings=[other])
    assert [f["Id"] for f in hub.get_findings()["Findings"]] == ["test/0"]
    assert world.stats.snapshot()["operations"]["securityhub:BatchImportFindings"] >= 6
