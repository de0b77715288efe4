"""The bundled demo world (`aa-scan --demo`) shows every kind of region verdict it promises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from simulator.demo import DEMO_CONFIG, DemoWorld, demo_world

DELEGATED_ADMIN = "222222222222"
NO_RETRIES = {"retries": {"total_max_attempts": 1, "mode": "standard"}}


@pytest.fixture(scope="module")
def demo() -> Iterator[Any]:
    with demo_world() as world:
        yield world


def analyzers(world: Any, region: str) -> dict[str, tuple[str, str, str | None]]:
    client = world.client("accessanalyzer", region, **NO_RETRIES)
    return {a["name"]: (a["type"], a["status"], a.get("statusReason", {}).get("code"))
            for a in client.list_analyzers()["analyzers"]}


def test_demo_world_is_a_demo_world(demo: Any) -> None:
    assert isinstance(demo, DemoWorld)
    settings = demo.config_overrides
    assert {k: v for k, v in settings.items() if k != "exceptions"} == DEMO_CONFIG
    # One exception accepting a gap for months, one about to expire (the register shows).
    assert [e.get("code") or e.get("resource") for e in settings["exceptions"]] == [
        "ACCOUNT_SCOPE_ONLY", "arn:aws:s3:::acme-public-website"]
    assert demo.scenario.name == "demo"
    identity = demo.client("sts").get_caller_identity()
    assert identity["Account"] == DELEGATED_ADMIN


@pytest.mark.parametrize("region", ["us-east-1", "us-east-2", "eu-west-1", "ap-east-1"])
def test_covered_regions(demo: Any, region: str) -> None:
    assert analyzers(demo, region)["org-external-access"] == ("ORGANIZATION", "ACTIVE", None)


@pytest.mark.parametrize(("region", "expected"), [
    ("sa-east-1", {}),
    ("ap-northeast-1", {"legacy-account-analyzer": ("ACCOUNT", "ACTIVE", None)}),
    ("eu-west-2", {"org-external-access": ("ORGANIZATION", "FAILED",
                                           "DELEGATED_ADMINISTRATOR_DEREGISTERED")}),
    ("ca-central-1", {"org-external-access": ("ORGANIZATION", "FAILED",
                                              "SERVICE_LINKED_ROLE_CREATION_FAILED")}),
])
def test_gap_regions(demo: Any, region: str, expected: dict[str, Any]) -> None:
    assert analyzers(demo, region) == expected


@pytest.mark.parametrize("region", ["af-south-1", "il-central-1"])
def test_opt_in_regions_never_enabled(demo: Any, region: str, raises_aws: Any) -> None:
    with raises_aws("UnrecognizedClientException", 403):
        analyzers(demo, region)


@pytest.mark.parametrize("region", ["me-south-1", "us-west-1"])
def test_regions_denied_by_the_scp(demo: Any, region: str, raises_aws: Any) -> None:
    with raises_aws("AccessDeniedException", 403):
        analyzers(demo, region)


def test_demo_findings(demo: Any) -> None:
    client = demo.client("accessanalyzer", "us-east-1")
    arn = f"arn:aws:access-analyzer:us-east-1:{DELEGATED_ADMIN}:analyzer/org-external-access"
    findings = [f for page in client.get_paginator("list_findings").paginate(analyzerArn=arn)
                for f in page["findings"]]
    assert len(findings) == 26
    assert {f["status"] for f in findings} == {"ACTIVE", "ARCHIVED", "RESOLVED"}
    assert any(f["isPublic"] for f in findings)
    assert any(not f["isPublic"] for f in findings)
    assert "arn:aws:s3:::acme-public-website" in {f["resource"] for f in findings}


def test_demo_runs_every_analysis(demo: Any) -> None:
    """us-east-1: internal and unused access with findings; eu-central-1: service-linked."""
    east = analyzers(demo, "us-east-1")
    assert east["org-internal-access"][0] == "ORGANIZATION_INTERNAL_ACCESS"
    assert east["org-unused-access"][0] == "ORGANIZATION_UNUSED_ACCESS"
    client = demo.client("accessanalyzer", "us-east-1")
    for name in ("org-internal-access", "org-unused-access"):
        arn = f"arn:aws:access-analyzer:us-east-1:{DELEGATED_ADMIN}:analyzer/{name}"
        assert client.list_findings_v2(analyzerArn=arn)["findings"], name
    central = demo.client("accessanalyzer", "eu-central-1").list_analyzers()["analyzers"]
    linked = [a for a in central if a.get("managedBy")]
    assert [(a["name"], a["managedBy"]) for a in linked] == [
        ("_AccessAnalyzerForSecurityHub-7f3a2c", "securityhub.amazonaws.com")]
def test_split_variant_divides_the_organization_analyzers_between_the_two_accounts() -> None:
    """`--demo split`: seen from the management account, which holds the ACTIVE organization
    analyzer of four regions (the delegated administrator holds the others), with the role
    --admin-role-name needs in both accounts and no region denied."""
    from importlib import resources

    from simulator.demo import ADMIN_ROLE, MANAGEMENT_REGIONS, _split
    from simulator.scenario import load_scenario

    with resources.as_file(resources.files("simulator") / "scenarios" / "demo.yaml") as path:
        base = load_scenario(path)
    split = _split(base)
    management = base.organization.management.id
    assert split.scanner_account == management
    owners = {s.region: s.account_id for s in split.analyzers
              if s.type == "ORGANIZATION" and s.status == "ACTIVE"}
    assert {r for r, owner in owners.items() if owner == management} == MANAGEMENT_REGIONS
    assert set(owners.values()) == {management, DELEGATED_ADMIN}
    assert [(r.name, set(r.account_ids)) for r in split.roles] == [
        (ADMIN_ROLE, {management, DELEGATED_ADMIN})]
    assert not any(c.deny for region, c in split.conditions.items() if region != "us-west-1")
