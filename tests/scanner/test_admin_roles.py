"""Both administrator accounts in one run (--admin-role-name): role hops, the union of their
analyzers, one findings source per region, roles that cannot be assumed, expiring sessions."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from scanner.aws import assume_role_session, make_session
from scanner.config import AwsOptions, Options

from .conftest import env_world

ADMIN, MANAGEMENT, MEMBER = "222222222222", "111111111111", "333333333333"


def test_assumed_role_credentials_are_refreshed_before_they_expire(monkeypatch):
    """The simulated STS hands out 2-second sessions and refuses their keys afterwards:
    the assumed session keeps working because botocore assumes the role again."""
    with env_world(monkeypatch, sts={"session_seconds": 2}) as world:
        options = Options(aws=AwsOptions(external_id=None))
        assumed = assume_role_session(make_session(options),
                                      f"arn:aws:iam::{MANAGEMENT}:role/AuditRole", options)
        client = assumed.client("accessanalyzer", region_name="us-east-1")
        first = assumed.get_credentials().get_frozen_credentials()
        static = world.client("accessanalyzer", "us-east-1", credentials={
            "AccessKeyId": first.access_key, "SecretAccessKey": first.secret_key,
            "SessionToken": first.token})
        client.list_analyzers()
        deadline = time.time() + 10
        while True:  # until the first session has expired (the simulator refuses it)
            try:
                static.list_analyzers()
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ExpiredTokenException"
                break
            assert time.time() < deadline, "the simulated session never expired"
            time.sleep(0.2)
        assert client.list_analyzers()["analyzers"] == []
        now = assumed.get_credentials().get_frozen_credentials()
        assert now.access_key != first.access_key
        assert world.stats.operations[("sts", "AssumeRole")] >= 2


def test_a_role_requiring_an_external_id_refuses_a_wrong_one(monkeypatch):
    roles = [{"name": "AaScanAdmin", "accounts": ["management"], "external_id": "s3cret"}]
    with env_world(monkeypatch, roles=roles):
        arn = f"arn:aws:iam::{MANAGEMENT}:role/AaScanAdmin"
        for given in (None, "wrong"):
            options = Options(aws=AwsOptions(external_id=given))
            with pytest.raises(ClientError, match="AccessDenied"):
                assume_role_session(make_session(options), arn, options)
        options = Options(aws=AwsOptions(external_id="s3cret"))
        session = assume_role_session(make_session(options), arn, options)
        assert session.client("sts").get_caller_identity()["Account"] == MANAGEMENT


ENABLED = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def split(**extra):
    """Organization analyzers split between the two administrator accounts: us-east-1 in the
    management account (created before the delegation), the other two in the delegated
    administrator."""
    return {"analyzers": [
        {"name": "org-legacy", "type": "ORGANIZATION", "regions": ["us-east-1"],
         "account": "management", "findings": [{"generate": {"count": 4}}]},
        {"name": "org", "type": "ORGANIZATION", "regions": ["eu-west-1", "ap-southeast-2"],
         "findings": [{"generate": {"count": 3}}]}], **extra}


def statuses(run):
    return {r["region"]: r["status"] for r in run.document["regions"] if r["region"] in ENABLED}


def examined(run):
    return [(e["account_id"], e["role"], e["via"] if e["via"] == "caller" else "role",
             e["error"]["code"] if e["error"] else None)
            for e in run.document["organization"]["examined_accounts"]]


@pytest.mark.parametrize("caller, without, hops", [
    ("management", 3, [(ADMIN, "DELEGATED_ADMINISTRATOR")]),
    ("delegated_administrator", 1, [(MANAGEMENT, "MANAGEMENT")]),
    (MEMBER, 3, [(MANAGEMENT, "MANAGEMENT"), (ADMIN, "DELEGATED_ADMINISTRATOR")]),
])
def test_each_caller_with_the_admin_role_sees_both_accounts(monkeypatch, run_scan, caller,
                                                             without, hops):
    """Without the role the split organization is INCOMPLETE (or, from the delegated
    administrator, shows a false gap where only the management account has an analyzer);
    with it, every caller gets the complete answer."""
    with env_world(monkeypatch, scanner={"account": caller}, **split()):
        alone = run_scan()
        both = run_scan("--admin-role-name", "AuditRole")
    assert alone.code == without
    assert both.code == 0, both.document["summary"]["incomplete_reasons"]
    assert statuses(both) == dict.fromkeys(ENABLED, "COVERED")
    assert both.document["gaps"] == [] and both.document["advisories"] == []
    me = both.document["identity"]["account_id"]
    assert examined(both) == [(me, both.document["organization"]["scanning_account_role"],
                               "caller", None), *[(a, r, "role", None) for a, r in hops]]
    assert both.document["organization"]["delegated_administrators"] == [ADMIN]
    owners = {r["region"]: {a["account_id"] for a in r["analyzers"]}
              for r in both.document["regions"] if r["region"] in ENABLED}
    assert owners["us-east-1"] >= {MANAGEMENT} and owners["eu-west-1"] >= {ADMIN}
    reader = {r["region"]: r["findings_analyzer"]["account_id"]
              for r in both.document["regions"] if r["region"] in ENABLED}
    assert reader == {"us-east-1": MANAGEMENT, "eu-west-1": ADMIN, "ap-southeast-2": ADMIN}
    # each region's findings come from its one analyzer, through the owner's role
    assert {(f["region"], f["analyzer_arn"].split(":")[4])
            for f in both.document["findings"]} == set(reader.items())


@pytest.mark.parametrize("args, roles, code", [
    (("--admin-role-name", "NoSuchRole"), [], "AccessDenied"),
    (("--admin-role-name", "AaScanAdmin", "--external-id", "wrong"),
     [{"name": "AaScanAdmin", "accounts": ["delegated_administrator"],
       "external_id": "s3cret"}], "AccessDenied"),
])
def test_a_role_that_cannot_be_assumed_leaves_the_regions_that_needed_it_not_assessed(
        monkeypatch, run_scan, args, roles, code):
    with env_world(monkeypatch, scanner={"account": "management"}, roles=roles, **split()):
        run = run_scan(*args)
    assert run.code == 3
    assert examined(run) == [(MANAGEMENT, "MANAGEMENT", "caller", None),
                             (ADMIN, "DELEGATED_ADMINISTRATOR", "role", code)]
    # us-east-1 has the management account's ACTIVE analyzer: covered whoever owns it
    assert statuses(run) == {"us-east-1": "COVERED", "eu-west-1": "ERROR",
                             "ap-southeast-2": "ERROR"}
    region = run.region("eu-west-1")
    assert region["reason"] == "OrganizationAnalyzersNotVisible"
    assert f"account {ADMIN} (DELEGATED_ADMINISTRATOR) could not be examined: {code}" in (
        region["detail"])
    [gap] = run.document["gaps"]
    assert gap["code"] == "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR"
    assert gap["title"].startswith("Not every account") and code in gap["detail"]
    assert "eu-west-1" in gap["detail"] and "us-east-1" not in gap["detail"]
    assert run.document["summary"]["verdict"] == "INCOMPLETE"


def test_the_right_external_id_reaches_the_role(monkeypatch, run_scan):
    roles = [{"name": "AaScanAdmin", "accounts": ["delegated_administrator"],
              "external_id": "s3cret"}]
    with env_world(monkeypatch, scanner={"account": "management"}, roles=roles, **split()):
        run = run_scan("--admin-role-name", "AaScanAdmin", "--external-id", "s3cret")
    assert run.code == 0 and statuses(run) == dict.fromkeys(ENABLED, "COVERED")


def test_from_a_member_a_missing_management_role_assesses_nothing_it_cannot_see(
        monkeypatch, run_scan):
    with env_world(monkeypatch, scanner={"account": MEMBER}, **split()):
        run = run_scan("--admin-role-name", "NoSuchRole")
    assert run.code == 3
    assert examined(run) == [(MEMBER, "MEMBER", "caller", None),
                             (MANAGEMENT, "MANAGEMENT", "role", "AccessDenied")]
    assert set(statuses(run).values()) == {"ERROR"}
    assert [g["code"] for g in run.document["gaps"]] == ["SCANNED_FROM_MEMBER_ACCOUNT"]


def test_findings_are_read_from_one_analyzer_when_both_accounts_have_one(monkeypatch,
                                                                           run_scan):
    """Both accounts hold an ACTIVE organization analyzer in us-east-1 (the management
    account's is older): the delegated administrator's findings are read, and only them."""
    analyzers = [
        {"name": "org-legacy", "type": "ORGANIZATION", "regions": ENABLED,
         "account": "management", "created_at": "2024-01-01T00:00:00Z",
         "findings": [{"generate": {"count": 9, "resource_types": ["AWS::S3::Bucket"]}}]},
        {"name": "org", "type": "ORGANIZATION", "regions": ["us-east-1"],
         "created_at": "2026-01-01T00:00:00Z",
         "findings": [{"generate": {"count": 5, "resource_types": ["AWS::S3::Bucket"]}}]}]
    with env_world(monkeypatch, scanner={"account": "management"}, analyzers=analyzers):
        run = run_scan("--admin-role-name", "AuditRole")
    assert run.code == 0
    region = run.region("us-east-1")
    assert {a["account_id"] for a in region["analyzers"]} == {MANAGEMENT, ADMIN}
    assert region["findings_analyzer"]["account_id"] == ADMIN
    assert region["findings"]["AWS::S3::Bucket"]["active"] == 5  # not 5 + 9
    selection = region["findings_analyzer"]["selection"]
    assert "the delegated administrator's of 2 ACTIVE ORGANIZATION analyzers" in selection
    assert f"not read: org-legacy (account {MANAGEMENT})" in selection
    assert {f["analyzer_arn"].split(":")[4] for f in run.document["findings"]
            if f["region"] == "us-east-1"} == {ADMIN}
    assert run.region("eu-west-1")["findings_analyzer"]["account_id"] == MANAGEMENT


def test_every_report_says_which_accounts_were_examined_and_why_not(monkeypatch, run_scan):
    import openpyxl

    with env_world(monkeypatch, scanner={"account": "management"}, **split()):
        run = run_scan("--admin-role-name", "NoSuchRole", formats="json,html,xlsx")
    not_examined = f"{ADMIN} (security), DELEGATED_ADMINISTRATOR, via arn:aws:iam::{ADMIN}:role/" \
                   "NoSuchRole: NOT EXAMINED: AccessDenied"
    assert "Accounts examined: " in run.out and not_examined in run.out
    html = (run.directory / "report.html").read_text()
    assert "Accounts examined (--admin-role-name)" in html and "1 of 2 not examined" in html
    assert not_examined in html
    sheet = openpyxl.load_workbook(run.directory / "report.xlsx", read_only=True)["Summary"]
    rows = [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]
    examined_rows = [r[2] for r in rows if r[1] == "Account examined"]
    assert len(examined_rows) == 2 and examined_rows[1].startswith(not_examined)
    assert examined_rows[0].startswith(f"{MANAGEMENT} (management), MANAGEMENT, the scanning")


def test_a_scan_longer_than_the_role_session_does_not_fail(monkeypatch, run_scan):
    """Admin-role sessions last two seconds here, every call takes 500 ms and findings come
    one per page: the scan outlives a session and completes, each expired one assumed again
    in time. (Not one second: a request signed with a fresh key must still be within its
    session when the simulator reads it, which on a loaded machine took over a second.)"""
    with env_world(monkeypatch, scanner={"account": "management"}, sts={"session_seconds": 2},
                   conditions={"default": {"latency_ms": 500}}, page_size_cap=1,
                   **split()) as world:
        run = run_scan("--admin-role-name", "AuditRole")
        assumed = world.stats.operations[("sts", "AssumeRole")]
    assert run.code == 0, run.document["summary"]["incomplete_reasons"]
    assert run.document["timings"]["scan_seconds"] > 2
    assert assumed >= 2


def test_the_other_administrators_internal_and_unused_analyzers_are_read_with_its_role(
        monkeypatch, run_scan):
    """Internal-access and unused-access analyzers of the delegated administrator, scanned
    from the management account: read through the role, in the account that owns them."""
    extra = [
        {"name": "internal", "type": "ORGANIZATION_INTERNAL_ACCESS", "region": "eu-west-1",
         "findings": [{"generate": {"count": 6, "resource_types": ["AWS::S3::Bucket"]}}]},
        {"name": "unused", "type": "ORGANIZATION_UNUSED_ACCESS", "region": "eu-west-1",
         "findings": [{"generate": {"count": 4}}]}]
    world = split()
    world["analyzers"] += extra
    with env_world(monkeypatch, scanner={"account": "management"}, **world):
        run = run_scan("--admin-role-name", "AuditRole", "--unused-findings")
    assert run.code == 0, run.document["summary"]["incomplete_reasons"]
    for key, count in (("internal_access", 6), ("unused_access", 4)):
        (analyzer,) = run.document[key]["analyzers"]
        assert analyzer["arn"].split(":")[4] == ADMIN
        assert analyzer["errors"] == [] and analyzer["statistics"]["active"] == count
        assert analyzer["findings_read"] == count == len(run.document[key]["findings"])
