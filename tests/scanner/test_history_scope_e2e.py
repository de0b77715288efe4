"""What changed, end to end, where it used to lie: two or three scans of a simulated
organization into one history, for every case the second probe found (issue 19)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import env_world

ROOT_DIR = Path(__file__).resolve().parents[2]

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
ORG_ADMIN, MEMBER = "222222222222", "333333333333"


def grants(n: int, tag: str, public: int = 0, owner: str = MEMBER, ids: str = "0",
           created: str = "2026-10-01T00:00:00Z"):
    """n findings with fixed grants; `ids` picks a family of ids (a re-created analyzer
    reports the same grants under new ids)."""
    return [{"id": f"{ids * 8}-0000-4000-8000-{tag}{i:09d}",
             "resource": f"arn:aws:s3:::{tag}-bucket-{i}", "owner": owner,
             "resource_type": "AWS::S3::Bucket", "public": i < public,
             "principal": {"AWS": "*" if i < public else "arn:aws:iam::999999999999:root"},
             "action": ["s3:GetObject"], "created_at": created}
            for i in range(n)]


def org(region: str, findings=(), **extra):
    return {"type": "ORGANIZATION", "name": "org", "region": region, "findings": list(findings),
            **extra}


def requirement(tmp_path: Path, *types: str, **more) -> str:
    """A configuration file requiring these analyzer types."""
    path = tmp_path / f"req-{'-'.join(types)}-{len(more)}.yaml"
    lines = [f"coverage_types: [{', '.join(types)}]"] + [f"{k}: {v}" for k, v in more.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def unknown(run) -> dict[str, str]:
    return {u["region"]: u["reason"] for u in run.document["changes"]["unknown"]}


# -- 1. two gaps of one code in one region ----------------------------------------------------

def test_two_not_active_gaps_in_one_region_are_two_gaps(monkeypatch, run_scan, tmp_path):
    both = requirement(tmp_path, "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")
    internal = {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
                "regions": REGIONS}
    failed = org("us-east-1", status="FAILED",
                 status_reason="DELEGATED_ADMINISTRATOR_DEREGISTERED")
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[failed, *rest, internal]):
        before = run_scan("--config", both)
    internal_failed = {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
                       "region": "us-east-1", "status": "FAILED"}
    with env_world(monkeypatch, analyzers=[failed, *rest, {**internal, "regions": REGIONS[1:]},
                                           internal_failed]):
        after = run_scan("--config", both, "--fail-on", "new-gaps")
    gaps = [(g["region"], g["code"], g["analyzer_type"]) for g in after.document["gaps"]]
    assert gaps == [("us-east-1", "NOT_ACTIVE", "ORGANIZATION"),
                    ("us-east-1", "NOT_ACTIVE", "ORGANIZATION_INTERNAL_ACCESS")]
    changes = after.document["changes"]
    assert changes["baseline"]["run_id"] == before.document["run_id"]
    assert [(g["code"], g["analyzer_type"]) for g in changes["gaps_opened"]] == [
        ("NOT_ACTIVE", "ORGANIZATION_INTERNAL_ACCESS")]
    assert changes["gaps_closed"] == []
    assert after.code == 1 and "+1 gap" in after.out
    db = sqlite3.connect(tmp_path / "output" / "history.sqlite")
    stored = db.execute("SELECT g.region, g.code, g.subject FROM run_gaps g JOIN runs r ON "
                        "r.id = g.run WHERE r.run_id = ? ORDER BY g.subject",
                        (after.document["run_id"],)).fetchall()
    assert stored == [("us-east-1", "NOT_ACTIVE", "ORGANIZATION"),
                      ("us-east-1", "NOT_ACTIVE", "ORGANIZATION_INTERNAL_ACCESS")]


# -- 2. a finding that turns public under the same id -----------------------------------------

def test_a_finding_that_turns_public_under_the_same_id_is_new_public_exposure(monkeypatch,
                                                                              run_scan):
    private = grants(3, "100")
    turned = [dict(private[0], public=True, principal={"AWS": "*"},
                   updated_at="2026-11-20T00:00:00Z"), *private[1:]]
    covered = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", private), *covered]):
        assert run_scan().code == 0
    with env_world(monkeypatch, analyzers=[org("us-east-1", turned), *covered]):
        gate = run_scan("--fail-on", "new-public", formats="json,html,xlsx")
    changes = gate.document["changes"]
    assert gate.code == 1
    assert changes["findings_new"] == [] and changes["findings_closed"] == []
    [change] = changes["findings_changed"]
    assert change["resource"] == "arn:aws:s3:::100-bucket-0"
    assert (change["was_public"], change["is_public"]) == (False, True)
    assert {"is_public", "principal", "updated_at"} <= set(change["fields"])
    assert change["before"]["principal"] == {"AWS": "arn:aws:iam::999999999999:root"}
    assert change["after"]["principal"] == {"AWS": "*"}
    counts = changes["counts"]
    assert (counts["findings_new_public"], counts["findings_turned_public"],
            counts["findings_changed"]) == (1, 1, 1)
    assert "1 changed (1 turned public)" in gate.out
    html = (gate.directory / "report.html").read_text()
    assert "TURNED PUBLIC" in html and "arn:aws:s3:::100-bucket-0" in html


# -- 3 and 13. a region left out of a run is not fixed ----------------------------------------

WORLD = [org("us-east-1", grants(4, "100", public=2)),
         org("ap-southeast-2", grants(3, "300", public=1))]  # eu-west-1: no analyzer


@pytest.mark.parametrize("narrower", [["--exclude", "eu-west-1,ap-southeast-2"],
                                      ["--regions", "us-east-1"]])
def test_a_region_left_out_of_a_run_is_not_compared_and_found_again(monkeypatch, run_scan,
                                                                    narrower):
    with env_world(monkeypatch, analyzers=WORLD):
        first = run_scan()
        narrow = run_scan(*narrower, "--fail-on", "new-gaps")
        again = run_scan("--fail-on", "new-gaps")
        public = run_scan("--fail-on", "new-public")
    assert first.code == 1  # eu-west-1 has no analyzer
    for run in (narrow, again, public):
        changes = run.document["changes"]
        assert (changes["gaps_opened"], changes["gaps_closed"]) == ([], []), run.out
        assert (changes["findings_new"], changes["findings_closed"]) == ([], []), run.out
        assert run.code == 0, run.err
    left_out = unknown(narrow)
    assert set(left_out) == {"eu-west-1", "ap-southeast-2"}
    assert all(r.startswith("not compared (scope changed): excluded") for r in
               left_out.values())
    # Included again, each region is compared with the last run that assessed it.
    assert unknown(again) == {}
    # (and the gaps about where the scan ran with the last run of the same region scope)
    assert {(c["region"], c["what"], c["run_id"])
            for c in again.document["changes"]["compared_with"]} == {
        (region, what, first.document["run_id"])
        for region in ("eu-west-1", "ap-southeast-2") for what in ("gaps", "findings")} | {
        ("organization", "gaps", first.document["run_id"])}


def test_a_change_while_a_region_was_left_out_is_listed_when_it_comes_back(monkeypatch,
                                                                           run_scan):
    with env_world(monkeypatch, analyzers=WORLD):
        run_scan()
        run_scan("--exclude", "ap-southeast-2")
    grown = [WORLD[0], org("ap-southeast-2", [*grants(2, "300", public=1),
                                              *grants(1, "400", public=1)])]
    with env_world(monkeypatch, analyzers=grown):
        back = run_scan("--fail-on", "new-public")
    changes = back.document["changes"]
    assert [f["resource"] for f in changes["findings_new"]] == ["arn:aws:s3:::400-bucket-0"]
    assert [f["resource"] for f in changes["findings_closed"]] == ["arn:aws:s3:::300-bucket-2"]
    assert back.code == 1


def test_a_narrower_requirement_closes_nothing_and_is_listed(monkeypatch, run_scan, tmp_path):
    both = requirement(tmp_path, "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")
    one = requirement(tmp_path, "ORGANIZATION")
    analyzers = [org(r) for r in REGIONS] + [{"type": "ORGANIZATION_INTERNAL_ACCESS",
                                              "name": "internal", "region": "us-east-1"}]
    with env_world(monkeypatch, analyzers=analyzers):
        wide = run_scan("--config", both)
        narrow = run_scan("--config", one, "--fail-on", "new-gaps")
        wide_again = run_scan("--config", both, "--fail-on", "new-gaps")
    assert {g["region"] for g in wide.document["gaps"]} == {"eu-west-1", "ap-southeast-2"}
    assert narrow.document["changes"]["gaps_closed"] == []
    assert narrow.document["changes"]["requirement"] == {
        "before": ["ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS"], "after": ["ORGANIZATION"]}
    assert "requirement changed" in narrow.out
    assert wide_again.document["changes"]["gaps_opened"] == []
    assert wide_again.code == 0, wide_again.err  # compared with the run of its requirement


# -- 4. coverage-only runs ---------------------------------------------------------------------

def test_coverage_only_runs_compare_gaps_and_never_fail_new_gaps_on_an_unchanged_world(
        monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=WORLD):
        full = run_scan()
        quick = run_scan("--coverage-only", "--fail-on", "new-gaps")
        full_again = run_scan("--fail-on", "new-gaps")
    assert full.code == 1
    assert quick.code == 0, quick.err
    assert full_again.code == 0, full_again.err
    assert all(u["gaps_compared"] and not u["findings_compared"]
               for u in quick.document["changes"]["unknown"])
    changes = full_again.document["changes"]
    assert changes["findings_new"] == [] and changes["findings_closed"] == []
    # Findings compared with the last run that read them (eu-west-1: none, then and now).
    assert {(c["region"], c["what"], c["run_id"]) for c in changes["compared_with"]} == {
        (r, "findings", full.document["run_id"]) for r in REGIONS}


# -- 5. a narrowed zone of trust ---------------------------------------------------------------

def test_a_narrowed_zone_of_trust_closes_no_finding(monkeypatch, run_scan):
    others = grants(7, "100", owner=MEMBER)
    own = grants(1, "200", owner=ORG_ADMIN)
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", [*others, *own]), *rest]):
        run_scan()
    account = {"type": "ACCOUNT", "name": "acct", "region": "us-east-1", "findings": own}
    with env_world(monkeypatch, analyzers=[account, *rest]):
        narrowed = run_scan()
    changes = narrowed.document["changes"]
    assert changes["findings_closed"] == [] and changes["findings_new"] == []
    assert "analyzer scope narrowed" in unknown(narrowed)["us-east-1"]
    assert [g["code"] for g in changes["gaps_opened"]] == ["ACCOUNT_SCOPE_ONLY"]


# -- 6. a baseline of another standalone account -----------------------------------------------

def test_a_baseline_of_another_standalone_account_is_refused(monkeypatch, run_scan):
    def alone(account: str):
        return dict(organization=None, accounts=[{"id": account, "name": "solo"}],
                    scanner={"account": account},
                    analyzers=[{"type": "ACCOUNT", "name": "a", "account": account,
                                "regions": REGIONS}])

    with env_world(monkeypatch, **alone("444444444444")):
        theirs = run_scan("--no-history")
    with env_world(monkeypatch, **alone("555555555555")):
        ours = run_scan("--baseline", str(theirs.directory / "scan.json"))
    assert ours.code == 2
    [error] = [line for line in ours.err.splitlines() if line.startswith("ERROR")]
    assert "444444444444" in error and "555555555555" in error
    assert len(ours.document["regions"]) == 4  # the scan itself was kept


# -- 7 and 14. an analyzer re-created under the same name --------------------------------------

def test_an_analyzer_recreated_under_its_name_keeps_its_findings_and_their_age(monkeypatch,
                                                                              run_scan):
    old = grants(6, "100", public=2, created="2024-06-01T00:00:00Z")
    new = grants(6, "100", public=2, ids="1", created="2026-11-20T00:00:00Z")
    rest = [org("eu-west-1"), org("ap-southeast-2")]
    with env_world(monkeypatch, analyzers=[org("us-east-1", old,
                                               created_at="2024-05-01T00:00:00Z"), *rest]):
        first = run_scan()
    recreated = org("us-east-1", new, created_at="2026-11-19T00:00:00Z")
    with env_world(monkeypatch, analyzers=[recreated, *rest]):
        second = run_scan("--fail-on", "new-public", formats="json,html,xlsx")
        third = run_scan("--fail-on", "new-public")
    for run in (second, third):
        counts = run.document["changes"]["counts"]
        assert (counts["findings_new"], counts["findings_closed"]) == (0, 0)
        assert run.code == 0, run.err
        oldest = run.document["finding_age"]["oldest_public"]
        assert oldest["first_seen_at"] == "2024-06-01T00:00:00Z"
        assert oldest["age_days"] > 800  # not the 14 days since the re-creation
        seen = {f["first_seen_at"] for f in run.document["findings"]}
        assert seen == {"2024-06-01T00:00:00Z"}
    assert first.document["finding_age"]["oldest_public"]["first_seen_at"] is None
    # The workbook, begun before the comparison carried the ages over (the pipeline's early
    # workbook), states them: every us-east-1 finding over 800 days old, none 14.
    from openpyxl import load_workbook

    sheet = load_workbook(second.directory / "report.xlsx", read_only=True)["Findings"]
    rows = list(sheet.iter_rows(values_only=True))
    region, age = rows[0].index("Region"), rows[0].index("Age (days)")
    ages = [row[age] for row in rows[1:] if row[region] == "us-east-1"]
    assert len(ages) == 6 and min(ages) > 800


# -- 8. pruning keeps the baseline -------------------------------------------------------------

def test_keep_one_never_prunes_the_latest_complete_run(monkeypatch, run_scan, tmp_path):
    history = tmp_path / "h.sqlite"
    config = requirement(tmp_path, "ORGANIZATION", history=f"{{path: {history}, keep: 1}}")
    with env_world(monkeypatch, analyzers=WORLD):
        complete = run_scan("--config", config)
        # A run interrupted later (its scan.json, imported): the latest by start time.
        stopped = json.loads((complete.directory / "scan.json").read_text())
        stopped["run_id"] = "interrupted-run"
        stopped["started_at"] = stopped["finished_at"] = "2099-01-01T00:00:00Z"
        stopped["summary"].update(interrupted=True, complete=False, verdict="NON_COMPLIANT",
                                  incomplete_reasons=["the scan was interrupted"])
        path = tmp_path / "stopped.json"
        path.write_text(json.dumps(stopped))
        assert run_scan("--from-json", str(path), "--config", config, "--history",
                        str(history)).code == 3
        after = run_scan("--config", config, "--fail-on", "new-gaps")
    changes = after.document["changes"]
    assert changes["baseline"]["run_id"] == complete.document["run_id"]
    assert after.code == 0, after.err


# -- 9. a history that cannot be read ----------------------------------------------------------

@pytest.mark.parametrize("damage", ["random", "newer", "folder"])
def test_an_unreadable_history_is_said_everywhere_never_called_a_first_run(
        monkeypatch, run_scan, tmp_path, damage):
    history = tmp_path / "h.sqlite"
    if damage == "random":
        history.write_bytes(bytes(range(256)) * 64)
    elif damage == "newer":
        db = sqlite3.connect(history)
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('version', '99')")
        db.commit()
        db.close()
    else:
        history.mkdir()
    with env_world(monkeypatch, analyzers=WORLD):
        run = run_scan("--history", str(history), "--fail-on", "new-gaps",
                       formats="json,html,xlsx")
    changes = run.document["changes"]
    assert changes["baseline"] is None and changes["history_error"]
    assert str(history) in changes["history_error"]
    assert "First recorded run" not in run.out and "Not compared:" in run.out
    html = (run.directory / "report.html").read_text()
    assert "The history could not be used" in html and "first recorded run" not in html
    assert run.code == 1  # the gates count every gap as new, and say why
    assert "no baseline, because the history could not be used" in run.err


# -- 10. advisories are independent of gaps ----------------------------------------------------

def test_a_service_managed_analyzer_is_advised_beside_another_gap(monkeypatch, run_scan,
                                                                 tmp_path):
    both = requirement(tmp_path, "ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")
    managed = [org(r, managed_by="securityhub.amazonaws.com") for r in REGIONS]
    internal = {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "i", "regions": REGIONS[1:]}
    with env_world(monkeypatch, analyzers=[*managed, internal]):
        run = run_scan("--config", both)
    assert [(g["region"], g["code"]) for g in run.document["gaps"]] == [
        ("us-east-1", "MISSING_REQUIRED_TYPE")]
    advised = {a["region"] for a in run.document["advisories"]
               if a["code"] == "SERVICE_MANAGED_ANALYZER"}
    assert advised == set(REGIONS)


# -- 12. two scans started in the same second --------------------------------------------------

def test_overlapping_runs_never_take_each_other_as_baseline(monkeypatch, run_scan, tmp_path):
    history = tmp_path / "h.sqlite"
    with env_world(monkeypatch, analyzers=WORLD):
        before = run_scan("--history", str(history))
    changed = [org("us-east-1", grants(5, "100", public=3), status="ACTIVE"),
               org("ap-southeast-2", grants(3, "300", public=1), status="FAILED")]
    slow = {"default": {"latency_ms": 400}}
    with env_world(monkeypatch, analyzers=changed, conditions=slow) as world:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(world.environment(), AWS_CONFIG_FILE="/nonexistent/config",
                           AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials")
        runs = [subprocess.Popen(
            [sys.executable, str(ROOT_DIR / "run_scan.py"), "--history", str(history),
             "--output-dir", str(tmp_path / f"p{i}"), "--format", "json", "--log-file", "",
             "--fail-on", "new-public"], env=environment, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
        codes = [p.wait(timeout=120) for p in runs]
    documents = [json.loads((tmp_path / f"p{i}" / "scan.json").read_text()) for i in range(2)]
    for code, document in zip(codes, documents, strict=True):
        changes = document["changes"]
        assert changes["baseline"]["run_id"] == before.document["run_id"]
        assert changes["counts"]["gaps_opened"] == 1
        assert changes["counts"]["findings_new_public"] == 1
        assert code == 1
        assert document["trend"][-1]["run_id"] == document["run_id"]


# -- 15. trend counts ----------------------------------------------------------------------

def test_trend_counts_stay_integers_beside_a_coverage_only_run(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=WORLD):
        run_scan()
        run_scan("--coverage-only")
        last = run_scan()
    actives = [p["active_findings"] for p in last.document["trend"]]
    assert actives == [7, None, 7]
    assert all(type(v) is int for p in last.document["trend"] for k, v in p.items()
               if k in ("covered", "gaps", "errors", "active_findings", "public_findings")
               and v is not None)


def test_sns_summary_lists_the_manifest(monkeypatch, run_scan):
    with env_world(monkeypatch, analyzers=WORLD):
        run_scan()
    with env_world(monkeypatch, analyzers=WORLD[:1]) as world:
        sns, sqs = world.client("sns"), world.client("sqs")
        topic = sns.create_topic(Name="aa-scan-changes")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        run = run_scan("--notify-sns", topic)
        [message] = sqs.receive_message(QueueUrl=queue).get("Messages", [])
    body = json.loads(message["Body"])["Message"]
    assert str(run.directory / "manifest.json") in body


def test_member_role_name_alone_is_refused_and_member_accounts_names_the_flag(monkeypatch,
                                                                              run_scan):
    with env_world(monkeypatch, analyzers=WORLD):
        alone = run_scan("--member-role-name", "Audit")
        without = run_scan("--member-accounts", "all")
    assert alone.code == 2 and "--member-accounts" in alone.err
    assert without.code == 2
    [error] = [line for line in without.err.splitlines() if line.startswith("ERROR")]
    assert error.startswith("ERROR") and "command line" in error and "regions.yaml" not in error
