"""The simulated organization at member-view scale: STS's rate limit, a role in every
account, one analyzer spec for many accounts, and the generated member world."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from simulator import World, load_scenario
from simulator.generate import MEMBER_ROLE, expected_member_cells, member_world
from simulator.scenario import ScenarioError

from .conftest import MANAGEMENT, MEMBER, small_scenario


def scenario(**overrides: Any) -> dict[str, Any]:
    document = small_scenario()
    document.update(overrides)
    return document


def test_sts_throttles_beyond_its_rate_as_aws_does() -> None:
    """Beyond the bucket, AssumeRole gets STS's own throttle: code Throttling, HTTP 400 (a
    Sender error), which botocore reads as a throttle. The seeding itself is never limited."""
    document = scenario(roles=[{"name": "Audit", "accounts": "all"}],
                        sts={"rate_limit": 1, "burst": 2})
    with World(load_scenario(document)) as world:
        sts = world.client("sts", retries={"total_max_attempts": 1})
        arn = f"arn:aws:iam::{MEMBER}:role/Audit"
        codes = []
        for _ in range(4):
            try:
                sts.assume_role(RoleArn=arn, RoleSessionName="test")
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        stats = world.stats.snapshot()
    assert codes[:2] == ["ok", "ok"] and "Throttling" in codes[2:]
    assert stats["throttles"]["sts"] == codes.count("Throttling")
    assert stats["calls"]["sts"]["global"]["AssumeRole"] == 4


def test_assumed_credentials_resolve_without_walking_every_account(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The account of a key AssumeRole issued is remembered when it is issued, and moto is
    told it: moto's own lookup walks every account's IAM (tens of ms a call at 10,000
    accounts), so it must not run for the scanner's calls, nor for a member role's."""
    import moto.iam.models

    document = scenario(roles=[{"name": "Audit", "accounts": "all"}])
    with World(load_scenario(document)) as world:
        def walk(access_key: str) -> str:
            raise AssertionError(f"walked every account for {access_key}")

        monkeypatch.setattr(moto.iam.models, "get_account_id_from", walk)
        sts = world.client("sts")
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/Audit",
                                      RoleSessionName="test")["Credentials"]
        member = world.client("sts", credentials=credentials)
        assert member.get_caller_identity()["Account"] == MEMBER
        analyzers = world.client("accessanalyzer", credentials=credentials)
        analyzers.list_analyzers()
        assert sts.get_caller_identity()["Account"] != MEMBER


def test_botocore_retries_an_sts_throttle() -> None:
    document = scenario(roles=[{"name": "Audit", "accounts": "all"}],
                        sts={"rate_limit": 5, "burst": 1})
    with World(load_scenario(document)) as world:
        sts = world.client("sts", retries={"mode": "standard", "total_max_attempts": 10})
        for _ in range(3):
            sts.assume_role(RoleArn=f"arn:aws:iam::{MEMBER}:role/Audit", RoleSessionName="test")
        assert world.stats.snapshot()["throttles"].get("sts", 0) >= 1


def test_roles_in_every_account_and_one_analyzer_spec_for_many_accounts() -> None:
    document = scenario(
        roles=[{"name": "Audit", "accounts": "all"}],
        analyzers=[{"name": "mine", "type": "ACCOUNT", "regions": ["us-east-1", "eu-west-1"],
                    "accounts": ["management", MEMBER]}])
    loaded = load_scenario(document)
    assert {(a.account_id, a.region) for a in loaded.analyzers} == {
        (MANAGEMENT, "us-east-1"), (MANAGEMENT, "eu-west-1"), (MEMBER, "us-east-1"),
        (MEMBER, "eu-west-1")}
    with World(loaded) as world:
        for account in (MANAGEMENT, MEMBER):
            credentials = world.credentials_for(account, "Audit")
            client = world.client("accessanalyzer", "eu-west-1", credentials=credentials)
            (analyzer,) = client.list_analyzers()["analyzers"]
            assert analyzer["arn"].split(":")[4] == account


@pytest.mark.parametrize("bad, message", [
    ({"analyzers": [{"type": "ACCOUNT", "region": "us-east-1", "account": MEMBER,
                     "accounts": [MEMBER]}]}, "either account or accounts"),
    ({"sts": {"error_rate": 0.5}}, "error_rate"),
    ({"organization": None, "accounts": [{"id": MEMBER}], "scanner": {"account": MEMBER},
      "roles": [{"name": "Audit", "accounts": "all"}]}, "'all' needs an organization"),
])
def test_bad_member_scale_keys_are_refused(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(scenario(**bad))


def test_generated_member_world_mixes_every_kind_of_cell() -> None:
    document = member_world(accounts=30, regions=4, sts_rate_limit=15, suspended_every=10,
                            without_role_every=12)
    loaded = load_scenario(document)
    assert loaded.sts_conditions.rate_limit == 15
    assert len(loaded.organization.accounts) == 30  # type: ignore[union-attr]
    expected = expected_member_cells(document)
    kinds = {v if isinstance(v, str) else c for v in expected.values()
             for c in (v.values() if isinstance(v, dict) else [v])}
    assert kinds == {"PASS", "FAIL", "SUSPENDED", "ERROR"}
    assert [r.name for r in loaded.roles] == [MEMBER_ROLE]
    # every analyzer group is one spec per (account, region), written once in the document
    assert len(document["analyzers"]) == 4 + 3
