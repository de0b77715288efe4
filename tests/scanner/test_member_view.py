"""The member view (--member-accounts): each account's own analyzers, as IAM.28 sees them."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError

import scanner.collect.members as members
import scanner.run as runner
from scanner.aws import ActingCredentials, ClientFactory, make_session
from scanner.config import Options
from simulator.generate import MEMBER_ROLE, expected_member_cells, member_world

from .conftest import ORG, env_world, world_env

ADMIN, MANAGEMENT, WORKLOADS, CLOSED, NO_ROLE = (
    "222222222222", "111111111111", "333333333333", "444444444444", "555555555555")
ENABLED = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def organization():
    org = json.loads(json.dumps(ORG))
    org["accounts"] += [{"id": CLOSED, "name": "closed", "status": "SUSPENDED"},
                        {"id": NO_ROLE, "name": "no-role"}]
    return org


WORLD = {
    "organization": organization(),
    "roles": [{"name": "MemberAudit", "accounts": [MANAGEMENT, WORKLOADS, CLOSED]}],
    "analyzers": [
        {"name": "org", "type": "ORGANIZATION", "regions": ENABLED},
        {"name": "mine", "type": "ACCOUNT", "regions": ["us-east-1"], "account": WORKLOADS},
        {"name": "broken", "type": "ACCOUNT", "regions": ["eu-west-1"], "account": WORKLOADS,
         "status": "FAILED"}],
}


def test_every_account_gets_a_cell_per_region_and_the_verdict_does_not_change(monkeypatch,
                                                                               run_scan):
    with env_world(monkeypatch, **WORLD):
        run = run_scan("--member-accounts", "all", "--member-role-name", "MemberAudit")
    assert run.code == 0  # the organization is covered: the member view is beside it
    view = run.document["member_view"]
    assert view["role_name"] == "MemberAudit"
    accounts = {a["account_id"]: a for a in view["accounts"]}
    assert {k: a["status"] for k, a in accounts.items()} == {
        MANAGEMENT: "ASSESSED", ADMIN: "ASSESSED", WORKLOADS: "ASSESSED",
        CLOSED: "SUSPENDED", NO_ROLE: "ERROR"}
    assert accounts[WORKLOADS]["regions"] == {
        "us-east-1": "PASS", "eu-west-1": "FAIL", "ap-southeast-2": "FAIL",
        "af-south-1": "NOT_ENABLED"}
    assert set(accounts[ADMIN]["regions"].values()) == {"PASS", "NOT_ENABLED"}
    assert set(accounts[MANAGEMENT]["regions"].values()) == {"FAIL", "NOT_ENABLED"}
    assert accounts[CLOSED]["regions"] == {}
    assert accounts[NO_ROLE]["error"]["code"] == "AccessDenied"
    # not examined: every region it should have been is ERROR (the reason is the account's)
    assert accounts[NO_ROLE]["regions"] == {**dict.fromkeys(ENABLED, "ERROR"),
                                            "af-south-1": "NOT_ENABLED"}
    assert view["summary"] == {"accounts": 5, "pass": 1, "fail": 2, "error": 1}
    remediation = view["remediation"]
    assert "AWS::AccessAnalyzer::Analyzer" in remediation["template"]
    assert "Type: ACCOUNT" in remediation["template"]
    commands = remediation["commands"]
    assert commands[0].startswith("aws cloudformation create-stack-set ")
    assert "--permission-model SERVICE_MANAGED" in commands[0]
    assert commands[1].endswith(
        f"""'{{"OrganizationalUnitIds":["<root-or-ou-id>"],"Accounts":["{WORKLOADS}"],"""
        """"AccountFilterType":"INTERSECTION"}' --regions ap-southeast-2 eu-west-1""")
    # the management account is out of a StackSet's reach: plain create-analyzer there
    assert sorted(c for c in commands if "create-analyzer" in c) == sorted(
        f"aws accessanalyzer create-analyzer --analyzer-name account-external-access "
        f"--type ACCOUNT --region {r}" for r in ENABLED)
    assert run.document["summary"]["verdict"] == "COMPLIANT"


def test_only_the_accounts_asked_for(monkeypatch, run_scan):
    with env_world(monkeypatch, **WORLD):
        run = run_scan("--member-accounts", f"{WORKLOADS},{CLOSED},999999999999",
                       "--member-role-name", "MemberAudit")
    accounts = {a["account_id"]: a for a in run.document["member_view"]["accounts"]}
    assert {k: a["status"] for k, a in accounts.items()} == {
        WORKLOADS: "ASSESSED", CLOSED: "SUSPENDED", "999999999999": "ERROR"}
    assert accounts["999999999999"]["error"]["code"] == "AccountNotFound"


def test_without_the_flag_no_member_view_and_a_role_is_required(monkeypatch, run_scan):
    with env_world(monkeypatch, **WORLD):
        plain = run_scan()
        refused = run_scan("--member-accounts", "all")
    assert "member_view" not in plain.document
    assert refused.code == 2 and "needs aws.member_role_name" in refused.err


def test_the_member_view_in_every_report(monkeypatch, run_scan):
    import openpyxl

    with env_world(monkeypatch, **WORLD):
        run = run_scan("--member-accounts", "all", "--member-role-name", "MemberAudit",
                       formats="json,html,xlsx")
    assert "Member view (MemberAudit): 5 account(s), 1 pass, 2 fail, 1 error" in run.out
    html = (run.directory / "report.html").read_text()
    assert "Member accounts: the per-account view of IAM.28" in html
    assert "aws cloudformation create-stack-set" in html and "AWS::AccessAnalyzer::Analyzer" in html
    sheet = openpyxl.load_workbook(run.directory / "report.xlsx", read_only=True)[
        "Member accounts"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Account ID", "Account name", "Status") and rows[0][-1] == "Error"
    regions = rows[0][3:-1]
    workloads = next(r for r in rows if r[0] == WORKLOADS)
    assert dict(zip(regions, workloads[3:-1], strict=True)) == {
        "ap-southeast-2": "FAIL", "eu-west-1": "FAIL", "us-east-1": "PASS"}
    assert next(r for r in rows if r[0] == CLOSED)[2] == "SUSPENDED"
    assert next(r for r in rows if r[0] == NO_ROLE)[-1].startswith("AccessDenied: ")
    # the page: failing accounts first, the regions enabled nowhere left out and named,
    # and why an account could not be examined listed under the matrix
    matrix = html[html.index('<table class="members">'):]
    matrix = matrix[:matrix.index("</table>")]
    order = [matrix.index(f">{a}<") for a in (MANAGEMENT, WORKLOADS, NO_ROLE, ADMIN, CLOSED)]
    assert order == sorted(order)
    assert ">af-south-1<" not in matrix
    problems = html[html.index('<table class="member-errors">'):]
    assert NO_ROLE in problems[:problems.index("</table>")] and "AccessDenied" in problems


def member_cells(document) -> dict[str, dict[str, str] | str]:
    """What the member view said, in the shape of simulator.generate.expected_member_cells."""
    cells: dict[str, dict[str, str] | str] = {}
    for account in document["member_view"]["accounts"]:
        if account["status"] == "ASSESSED":
            cells[account["account_id"]] = account["regions"]
        else:
            cells[account["account_id"]] = account["status"]
    return cells


def test_every_cell_is_right_under_an_sts_rate_limit(monkeypatch, run_scan):
    """30 accounts, 3 regions, STS at 5 requests per second with a burst of 2 and regions at
    20: AssumeRole runs on the pool, paced, and every throttle is waited out, not reported."""
    document = member_world(accounts=30, regions=3, min_latency_ms=5, max_latency_ms=20,
                            rate_limit=20, sts_rate_limit=5, sts_latency_ms=10,
                            suspended_every=10, without_role_every=12)
    document["sts"]["burst"] = 2
    with world_env(document, monkeypatch) as world:
        run = run_scan("--member-accounts", "all", "--member-role-name", MEMBER_ROLE)
        stats = world.stats.snapshot()
    expected = expected_member_cells(document)
    assert member_cells(run.document) == expected
    errors = [a["error"]["code"] for a in run.document["member_view"]["accounts"]
              if a["error"]]
    assert errors and set(errors) == {"AccessDenied"}  # the accounts without the role only
    assert stats["throttles"].get("sts", 0) > 0  # the limit was met, and waited out
    assumed = stats["operations"]["sts:AssumeRole"]
    assert assumed >= sum(1 for v in expected.values() if v != "SUSPENDED") - 2
    assert run.document["summary"]["verdict"] == "COMPLIANT"


def test_member_credentials_that_expire_mid_run_are_assumed_again(monkeypatch, run_scan):
    """Member sessions last three seconds and every ListAnalyzers takes 300 ms, two at a time:
    the view outlasts several sessions, every cell right, no ExpiredToken anywhere. (A request
    is signed before it waits for its region's token: in AWS that wait is seconds against
    botocore's refresh margin of 10 to 15 minutes; here sessions are shorter than any wait
    could be, so the regions do not make callers wait.)"""
    # (Three, not one: a request signed with a fresh key must still be within its session
    # when the simulator reads it, and on a loaded machine that took more than a second.)
    document = member_world(accounts=16, regions=3, min_latency_ms=300, max_latency_ms=300,
                            rate_limit=100, sts_rate_limit=100, sts_latency_ms=5,
                            suspended_every=0, without_role_every=0, session_seconds=3)
    with world_env(document, monkeypatch) as world:
        run = run_scan("--member-accounts", "all", "--member-role-name", MEMBER_ROLE,
                       "--workers", "2")
        assumed = world.stats.snapshot()["operations"]["sts:AssumeRole"]
    assert member_cells(run.document) == expected_member_cells(document)
    assert run.document["timings"]["scan_seconds"] > 3  # longer than a session
    assert assumed > 16  # some accounts' credentials were refreshed


def test_the_organization_scan_does_not_wait_behind_the_member_view(monkeypatch, run_scan):
    """Every region of the organization scan finishes before the member view's 40 accounts
    (on a pool of 4 workers): its tasks come first."""
    document = member_world(accounts=40, regions=3, min_latency_ms=20, max_latency_ms=20,
                            rate_limit=100, sts_rate_limit=100, sts_latency_ms=20)
    finished: list[float] = []
    original = runner.Scan._finish

    def finish(self, region):
        finished.append(time.monotonic())
        original(self, region)

    monkeypatch.setattr(runner.Scan, "_finish", finish)
    with world_env(document, monkeypatch) as world:
        started = time.monotonic()
        run = run_scan("--member-accounts", "all", "--member-role-name", MEMBER_ROLE,
                       "--workers", "4")
        ended = time.monotonic()
        del world
    assert run.code == 0 and len(finished) == 3
    assert max(finished) - started < (ended - started) / 2


def test_open_accounts_and_threads_stay_bounded(monkeypatch, run_scan):
    """40 accounts on a pool of 3 workers: at most 8 accounts hold credentials at a time
    (the window: twice the workers, at least 8), and no thread is added beyond the pool
    (but the run's two helpers while it scans, whatever its size: the history's views of
    the findings and the writers' warm-up, scanner.pipeline._live)."""
    document = member_world(accounts=40, regions=2, min_latency_ms=5, max_latency_ms=5,
                            rate_limit=200, sts_rate_limit=200, sts_latency_ms=5,
                            suspended_every=0, without_role_every=0)
    most = {"open": 0, "threads": 0}
    original = members.MemberCollection._list

    helpers = ("aa-scan-views", "aa-scan-warm")

    def listing(self, member):
        most["open"] = max(most["open"], self.open)
        alive = threading.enumerate()
        most["threads"] = max(most["threads"],
                              sum(1 for t in alive if t.name not in helpers))
        most["helpers"] = max(most.get("helpers", 0),
                              sum(1 for t in alive if t.name in helpers))
        original(self, member)

    monkeypatch.setattr(members.MemberCollection, "_list", listing)
    with world_env(document, monkeypatch):
        before = threading.active_count()
        run = run_scan("--member-accounts", "all", "--member-role-name", MEMBER_ROLE,
                       "--workers", "3")
    assert member_cells(run.document) == expected_member_cells(document)
    assert most["open"] == 8
    assert most["threads"] <= before + 3
    assert most["helpers"] <= 2


def test_one_client_signs_each_call_as_the_account_it_acts_for(monkeypatch):
    """ActingCredentials: one client per region serves every account, each call signed with
    the credentials of the account the thread acts for, and none outside `acting_as`."""
    with env_world(monkeypatch, **WORLD) as world:
        options = Options()
        acting = ActingCredentials()
        client = ClientFactory(make_session(options), options).acting(acting).accessanalyzer(
            "us-east-1")
        for account, names in ((WORKLOADS, ["mine"]), (MANAGEMENT, []), (ADMIN, ["org"])):
            given = world.credentials_for(account, "MemberAudit" if account != ADMIN
                                          else "AuditRole")
            own = Credentials(given["AccessKeyId"], given["SecretAccessKey"],
                              given["SessionToken"])
            with acting.acting_as(own):
                listed = client.list_analyzers()["analyzers"]
            assert [a["name"] for a in listed] == names
            assert all(a["arn"].split(":")[4] == account for a in listed)
        with pytest.raises(NoCredentialsError):
            client.list_analyzers()


def test_an_account_with_no_enabled_region_examined_is_not_a_pass(monkeypatch, run_scan):
    """Probe: with only a region that is not enabled scanned, no account met anything: none
    is counted as pass (nor fail nor error), and the page says so rather than PASS."""
    with env_world(monkeypatch, **WORLD):
        run = run_scan("--member-accounts", "all", "--member-role-name", "MemberAudit",
                       "--regions", "af-south-1", formats="json,html")
    view = run.document["member_view"]
    assert {a["account_id"]: set(a["regions"].values()) for a in view["accounts"]
            if a["status"] == "ASSESSED"} == {
        account: {"NOT_ENABLED"} for account in (MANAGEMENT, ADMIN, WORKLOADS)}
    assert view["summary"] == {"accounts": 5, "pass": 0, "fail": 0, "error": 1}
    matrix = (run.directory / "report.html").read_text()
    matrix = matrix[matrix.index('<table class="members">'):]
    assert ">PASS<" not in matrix[:matrix.index("</table>")]


def test_accounts_that_cannot_be_listed_are_said_on_the_terminal(monkeypatch, run_scan):
    """Probe: from a member account ListAccounts is refused; the summary line said only
    "0 account(s)", the reason was a warning on stderr."""
    with env_world(monkeypatch, scanner={"account": WORKLOADS}, **WORLD):
        run = run_scan("--member-accounts", "all", "--member-role-name", "MemberAudit")
    assert run.document["member_view"]["error"]["code"] == "AccessDeniedException"
    line = next(x for x in run.out.splitlines() if x.startswith("Member view"))
    assert "the accounts could not be listed: AccessDeniedException" in line
