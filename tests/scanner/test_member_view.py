"""The member view (--member-accounts): each account's own analyzers, as IAM.28 sees them."""

from __future__ import annotations

import json

from .conftest import ORG, env_world

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
