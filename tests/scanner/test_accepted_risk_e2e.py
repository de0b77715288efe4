"""Accepted risk end to end, against the simulated organization through real boto3 clients:
an accepted gap, an expired exception and an unused one, and what --fail-on gaps and
new-gaps make of them, run after run; a public finding accepted by an ARN pattern and
--fail-on public; the history and the changes block."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

from .conftest import env_world

TODAY = dt.datetime.now(dt.UTC).date()
LATER = (TODAY + dt.timedelta(days=90)).isoformat()
SOON = (TODAY + dt.timedelta(days=5)).isoformat()
GONE = (TODAY - dt.timedelta(days=1)).isoformat()

# us-east-1 covered; eu-west-1 only an account analyzer; ap-southeast-2 none.
ANALYZERS = [
    {"type": "ORGANIZATION", "name": "org", "region": "us-east-1", "findings": [
        {"resource": "arn:aws:s3:::acme-public-site", "resource_type": "AWS::S3::Bucket",
         "owner": "333333333333", "public": True, "principal": {"AWS": "*"},
         "action": ["s3:GetObject"]},
        {"resource": "arn:aws:s3:::acme-payroll", "resource_type": "AWS::S3::Bucket",
         "owner": "333333333333", "principal": {"AWS": "arn:aws:iam::777766665555:root"},
         "action": ["s3:GetObject"]}]},
    {"type": "ACCOUNT", "name": "legacy", "region": "eu-west-1"},
]


def gap_exception(region: str, code: str, expires: str, ticket: str = "RISK-101") -> str:
    return (f"  - region: {region}\n    code: {code}\n    reason: Accepted by the risk board\n"
            f"    owner: secops@example.com\n    expires: {expires}\n    ticket: {ticket}\n")


def write(tmp_path: Path, name: str, *items: str) -> str:
    path = tmp_path / name
    path.write_text("exceptions:\n" + "".join(items))
    return str(path)


def test_accepted_expired_and_unused_exceptions_and_the_gaps_gates(monkeypatch, run_scan,
                                                                   tmp_path):
    accepted = gap_exception("eu-west-1", "ACCOUNT_SCOPE_ONLY", LATER)
    expired = gap_exception("ap-southeast-2", "NO_ANALYZER", GONE, "RISK-102")
    unused = gap_exception("us-east-1", "NO_ANALYZER", LATER, "RISK-103")
    both = write(tmp_path, "risk.yaml", accepted, expired, unused)
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run = run_scan("--exceptions", both, "--fail-on", "gaps", formats="json,html,xlsx")
        # The same exceptions, the expired one renewed: every gap accepted.
        renewed = write(tmp_path, "renewed.yaml", accepted,
                        gap_exception("ap-southeast-2", "NO_ANALYZER", SOON, "RISK-102"))
        clean = run_scan("--exceptions", renewed, "--fail-on", "gaps")
    assert run.code == 1, run.err  # the gap of the expired exception counts again
    document = run.document
    states = {e["key"]: (e["state"], e["accepted"]) for e in document["exceptions"]["entries"]}
    assert states == {"gap:eu-west-1:ACCOUNT_SCOPE_ONLY": ("active", 1),
                      "gap:ap-southeast-2:NO_ANALYZER": ("expired", 0),
                      "gap:us-east-1:NO_ANALYZER": ("unused", 0)}
    note = document["exceptions"]["entries"][2]["note"]
    assert note.startswith("region us-east-1 is covered: the gap it accepted is gone")
    gaps = {g["region"]: g.get("exception", {}).get("ticket") for g in document["gaps"]}
    assert gaps == {"eu-west-1": "RISK-101", "ap-southeast-2": None}
    assert document["summary"]["verdict"] == "NON_COMPLIANT"
    expired_advisory = next(a for a in document["advisories"]
                            if a["code"] == "EXCEPTION_EXPIRED")
    assert f"expired on {GONE}" in expired_advisory["title"]
    assert "Accepted by secops@example.com, RISK-102" in expired_advisory["detail"]
    assert document["configuration"]["exceptions_file"]["path"] == both
    assert "Exceptions" in run.out and "EXPIRED" in run.out

    assert clean.code == 0, clean.err
    summary = clean.document["summary"]
    assert summary["verdict"] == "COMPLIANT"
    assert summary["accepted"]["exceptions"] == 2 and summary["accepted"]["gaps"] == 2
    assert "Verdict: COMPLIANT with 2 accepted exceptions." in clean.out
    assert any(a["code"] == "EXCEPTION_EXPIRING" for a in clean.document["advisories"])


def test_new_gaps_fails_when_an_exception_lapses_between_two_runs(monkeypatch, run_scan,
                                                                  tmp_path):
    history = str(tmp_path / "history.sqlite")
    accepted = gap_exception("eu-west-1", "ACCOUNT_SCOPE_ONLY", LATER)
    wide = gap_exception("ap-southeast-2", "NO_ANALYZER", LATER, "RISK-102")
    lapsed = gap_exception("ap-southeast-2", "NO_ANALYZER", GONE, "RISK-102")
    with env_world(monkeypatch, analyzers=ANALYZERS):
        first = run_scan("--exceptions", write(tmp_path, "a.yaml", accepted, wide),
                         "--history", history, "--fail-on", "new-gaps")
        # The same gaps a week later; the exception of ap-southeast-2 has expired since.
        second = run_scan("--exceptions", write(tmp_path, "b.yaml", accepted, lapsed),
                          "--history", history, "--fail-on", "new-gaps")
        third = run_scan("--exceptions", write(tmp_path, "c.yaml", accepted),
                         "--history", history, "--fail-on", "new-gaps")
        unexcused = run_scan("--history", history, "--fail-on", "new-gaps")
    # First recorded run: every gap no exception accepts counts as new; there is none.
    assert first.code == 0, first.err
    assert first.document["changes"]["baseline"] is None
    # The gap is not new, but it was accepted and is not any more: a regression.
    assert second.code == 1, second.err
    changes = second.document["changes"]
    assert changes["counts"]["gaps_opened"] == 0
    assert changes["counts"]["gaps_no_longer_accepted"] == 1
    register = changes["exceptions"]
    assert [e["key"] for e in register["expired"]] == ["gap:ap-southeast-2:NO_ANALYZER"]
    (lost,) = register["gaps_no_longer_accepted"]
    assert (lost["region"], lost["code"], lost["exception"]) == (
        "ap-southeast-2", "NO_ANALYZER", "gap:ap-southeast-2:NO_ANALYZER")
    assert "no longer accepted" in second.out
    # Compared with the second run, where it already counted: nothing new; the expired
    # exception is now removed, and that is said.
    assert third.code == 0, third.err
    assert [e["key"] for e in third.document["changes"]["exceptions"]["removed"]] == [
        "gap:ap-southeast-2:NO_ANALYZER"]
    # Dropping the last exception is a regression again.
    assert unexcused.code == 1
    assert unexcused.document["changes"]["counts"]["gaps_no_longer_accepted"] == 1
    # The history holds each run's register and what each exception accepted.
    with sqlite3.connect(history) as db:
        rows = db.execute("SELECT r.run_id, e.key, e.state, e.accepted FROM run_exceptions e "
                          "JOIN runs r ON r.id = e.run ORDER BY r.seq, e.position").fetchall()
    assert [(key, state) for _, key, state, _ in rows] == [
        ("gap:eu-west-1:ACCOUNT_SCOPE_ONLY", "active"),
        ("gap:ap-southeast-2:NO_ANALYZER", "active"),
        ("gap:eu-west-1:ACCOUNT_SCOPE_ONLY", "active"),
        ("gap:ap-southeast-2:NO_ANALYZER", "expired"),
        ("gap:eu-west-1:ACCOUNT_SCOPE_ONLY", "active")]
    assert json.loads(rows[0][3])["gaps"] == [["region", "eu-west-1", "ACCOUNT_SCOPE_ONLY",
                                               "ORGANIZATION"]]


def test_a_finding_accepted_by_an_arn_pattern_is_not_counted_by_fail_on_public(
        monkeypatch, run_scan, tmp_path):
    covered = [{"type": "ORGANIZATION", "name": "org",
                "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"],
                "findings": ANALYZERS[0]["findings"]}]
    unsaid = ("  - resource: 'arn:aws:s3:::acme-public-*'\n    reason: The public website\n"
              "    owner: web@example.com\n    expires: " + LATER + "\n    ticket: RISK-7\n")
    site = unsaid + "    public: true\n"  # public findings are accepted only when said
    with env_world(monkeypatch, analyzers=covered):
        plain = run_scan("--fail-on", "public")
        accepted = run_scan("--fail-on", "public", "--exceptions",
                            write(tmp_path, "site.yaml", site))
        everything = run_scan("--fail-on", "findings", "--exceptions",
                              write(tmp_path, "site2.yaml", site))
        not_said = run_scan("--fail-on", "public", "--exceptions",
                            write(tmp_path, "site3.yaml", unsaid))
    assert plain.code == 1, plain.out  # each public finding counts
    # Without public: true the exception matches the public site and does not accept it.
    assert not_said.code == 1, not_said.out
    assert [a["code"] for a in not_said.document["advisories"]
            if a["code"] == "EXCEPTION_NOT_APPLIED"] == ["EXCEPTION_NOT_APPLIED"]
    assert not any("exception" in f for f in not_said.document["findings"])
    assert accepted.code == 0, accepted.err
    findings = {f["resource"]: f.get("exception") for f in accepted.document["findings"]}
    assert findings["arn:aws:s3:::acme-public-site"]["ticket"] == "RISK-7"
    assert findings["arn:aws:s3:::acme-payroll"] is None
    # The facts do not change: the site is public in each of the three regions.
    assert accepted.document["summary"]["public_findings"] == 3
    assert accepted.document["summary"]["accepted"]["public_findings"] == 3
    assert everything.code == 1  # the cross-account finding no exception accepts


def test_the_html_lists_what_changed_in_the_exceptions_since_the_last_run(monkeypatch, run_scan,
                                                                         tmp_path):
    """Exceptions added, removed and renewed between two runs of one history are listed in
    report.html's "Since" panel (a dict's `items` once read as dict.items: exit 4)."""
    first = write(tmp_path, "first.yaml",
                  gap_exception("ap-southeast-2", "NO_ANALYZER", SOON, "RISK-102"),
                  gap_exception("us-east-1", "NO_ANALYZER", LATER, "RISK-103"))
    second = write(tmp_path, "second.yaml",
                   gap_exception("ap-southeast-2", "NO_ANALYZER", LATER, "RISK-102"),
                   gap_exception("eu-west-1", "ACCOUNT_SCOPE_ONLY", LATER))
    with env_world(monkeypatch, analyzers=ANALYZERS):
        run_scan("--exceptions", first)
        run = run_scan("--exceptions", second, formats="json,html")
    assert run.code == 0, run.err
    page = (run.directory / "report.html").read_text()
    for title in ("Exceptions added", "Exceptions removed", "Exceptions renewed or changed"):
        assert f"<h3>{title}</h3>" in page
    assert "gap:us-east-1:NO_ANALYZER" in page.split("Exceptions removed", 1)[1]
