"""Issue 23, second review: holes left in the fixes of the first review
(tests/scanner/test_accepted_risk_review.py). Each test fails on main at 6f548bf; each
docstring says what was observed and what is expected. Worlds: the simulated organization of
tests/scanner/conftest.py, served to real boto3 clients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.builders import analyzer, covered, exception, make_document, region_scan

from .conftest import env_world
from .test_accepted_risk_review import _shared_bucket

TODAY = dt.datetime.now(dt.UTC).date()
LATER = (TODAY + dt.timedelta(days=90)).isoformat()
SOON = (TODAY + dt.timedelta(days=5)).isoformat()
REGIONS3 = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def _risk(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("exceptions:\n" + body)
    return str(path)


# -- 1. a resource-type pattern without its separator is not refused -------------------------

def _public_roles_and_keys() -> list[dict]:
    findings = [
        {"resource": "arn:aws:iam::333333333333:role/ci-deploy", "resource_type":
         "AWS::IAM::Role", "owner": "333333333333", "public": True,
         "principal": {"AWS": "*"}, "action": ["sts:AssumeRole"]},
        {"resource": "arn:aws:iam::111111111111:role/break-glass", "resource_type":
         "AWS::IAM::Role", "owner": "111111111111", "public": True,
         "principal": {"AWS": "*"}, "action": ["sts:AssumeRole"]},
        {"resource": "arn:aws:kms:us-east-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
         "resource_type": "AWS::KMS::Key", "owner": "333333333333", "public": True,
         "principal": {"AWS": "*"}, "action": ["kms:Decrypt"]},
    ]
    return [{"type": "ORGANIZATION", "name": "org", "regions": REGIONS3, "findings": findings}]


def test_a_resource_type_pattern_without_its_separator_is_refused(monkeypatch, run_scan,
                                                                  tmp_path):
    """Observed: the first review's fix refuses a pattern whose resource part names only a
    resource type (`arn:aws:iam::*:role/*`, `...:key/*`, `...:function:*`), but
    scanner/config.py _arn_pattern_problem splits the resource part on `/` and `:` and
    refuses it only when there is more than one word and every word after the first is `*`
    and separators. Drop the separator and the same pattern passes: `arn:aws:iam::*:role*`,
    `arn:aws:kms:*:*:key*`, `arn:aws:lambda:*:*:function*` (and `*role*`, `r*`) are one word,
    so they are accepted. Since `*` matches `/`, `arn:aws:iam::*:role*` matches exactly what
    `arn:aws:iam::*:role/*` does: every IAM role of every account, those made later
    included. With `public: true` (the approval the fix asks for) it accepts public role
    trusts in the management account and every member, and `--fail-on public` exits 0
    ("COMPLIANT with 2 accepted exceptions").
    Expected: refused like `arn:aws:iam::*:role/*` (exit 2, one line naming the file and the
    resource): a resource part whose only literal text is a resource-type word (or a prefix
    of one), with or without a separator after it, names nothing."""
    risk = _risk(tmp_path, "wide.yaml",
                 "  - resource: 'arn:aws:iam::*:role*'\n    public: true\n"
                 "    reason: Roles trusted by the identity provider\n"
                 f"    owner: iam@example.com\n    expires: {LATER}\n"
                 "  - resource: 'arn:aws:kms:*:*:key*'\n    public: true\n"
                 "    reason: Keys shared for envelope encryption\n"
                 f"    owner: iam@example.com\n    expires: {LATER}\n")
    with env_world(monkeypatch, analyzers=_public_roles_and_keys()):
        run = run_scan("--exceptions", risk, "--fail-on", "public")
    assert run.code == 2, (
        f"`arn:aws:iam::*:role*` and `arn:aws:kms:*:*:key*` were accepted (exit {run.code}): "
        f"verdict {run.document.get('summary', {}).get('verdict')}, accepted "
        f"{run.document.get('summary', {}).get('accepted')}")
    assert "resource" in run.err and len(run.err.strip().splitlines()) == 1


# -- 2. an exception that refuses all it matches reads as active, and "accepts" it ---------

def test_an_exception_that_refuses_everything_it_matches_is_not_shown_as_accepting(
        monkeypatch, run_scan, tmp_path):
    """Observed: an exception by finding_id approved for a partner share (no `public:
    true`) whose finding has turned public accepts nothing: the finding is refused, counted
    by --fail-on public (exit 1), and an EXCEPTION_NOT_APPLIED advisory says so. Yet its
    register entry has state "expiring" (README: "expiring: it accepts something and its
    last day is within 14 days"; "active: it accepts something"), with accepted 0;
    report.html's register shows it with the Expiring-soon badge and the public finding under
    "Matched in this scan" with no word that it was refused (the refusal note is rendered
    only when nothing matched), and the EXCEPTION_EXPIRING advisory says "it accepts finding
    f-partner-share (arn:aws:s3:::acme-partner-share, us-east-1). After <day> that counts
    again", i.e. that the public finding is accepted and does not count today. An auditor
    reading the register or that advisory is told the public bucket is accepted risk.
    (reports/document/exceptions.py _state counts refused matches as matches;
    scanner/judge/exceptions.py exception_advisories uses `matched`, not what it accepted;
    reports/templates/report.html shows `note` only when `matched` is empty.)
    Expected: an exception that accepted nothing is not active/expiring (a state such as
    "unused" or a "refused" state, with its note); no EXPIRING advisory claims it accepts a
    refused item; report.html's register says which matches were refused."""
    risk = _risk(tmp_path, "risk.yaml",
                 "  - finding_id: f-partner-share\n"
                 "    reason: Shared read-only with partner account 999988887777\n"
                 f"    owner: data@example.com\n    expires: {SOON}\n")
    with env_world(monkeypatch, analyzers=_shared_bucket(public=True)):
        run = run_scan("--exceptions", risk, "--fail-on", "public", formats="json,html")
    assert run.code == 1, run.err  # the refusal itself works: the public finding counts
    (entry,) = run.document["exceptions"]["entries"]
    assert entry["accepted"] == 0 and entry["refused"]["findings"]
    problems = []
    if entry["state"] in ("active", "expiring"):
        problems.append(f"register state {entry['state']!r} for an exception that accepts "
                        "nothing")
    expiring = [a for a in run.document["advisories"] if a["code"] == "EXCEPTION_EXPIRING"]
    if any("it accepts finding f-partner-share" in a["detail"] for a in expiring):
        problems.append("EXCEPTION_EXPIRING says it accepts the refused public finding: "
                        + expiring[0]["detail"])
    page = (run.directory / "report.html").read_text()
    register = page[page.index("Exception register"):]
    register = register[:register.index("</table>")]
    if "refused" not in register.lower() and "not accepted" not in register.lower():
        problems.append("report.html's register lists the public finding as matched by an "
                        "'Expiring soon' exception and never says it was refused")
    assert not problems, problems


# -- 3. an exception widened to public findings is not a change of the register -------------

def test_an_exception_that_gains_public_true_is_listed_as_changed(monkeypatch, run_scan,
                                                                  tmp_path):
    """Observed: week 1, an exception by finding_id (no `public: true`) accepts a partner
    share. Week 2, the bucket's policy is opened to everyone and, in the same edit of the
    risk file, the exception gains `public: true` (same key: `public` is not part of it, nor
    compared). The finding turned public is accepted, `--fail-on new-public` exits 0 (as
    designed for an approved public exposure) but the changes block's register says nothing
    happened to the exception: `changes.exceptions` has added [], removed [], expired [],
    changed [] (scanner/history/diff.py _register compares only expires, owner and reason).
    The only trace that an approval for one partner account became an approval for everyone
    is a finding listed as changed; the exception history an auditor reads shows the same
    exception both weeks.
    Expected: an exception whose `public` changed (or whose scope changed in any way that
    keeps its key) is listed under `changes.exceptions.changed`, with what it was before
    (e.g. public_before false), and counted in exceptions_changed."""
    history = str(tmp_path / "history.sqlite")
    base = ("  - finding_id: f-partner-share\n"
            "    reason: Shared read-only with partner account 999988887777\n"
            f"    owner: data@example.com\n    expires: {LATER}\n")
    week1 = _risk(tmp_path, "week1.yaml", base)
    week2 = _risk(tmp_path, "week2.yaml", base + "    public: true\n")
    with env_world(monkeypatch, analyzers=_shared_bucket(public=False)):
        first = run_scan("--exceptions", week1, "--history", history, "--fail-on", "new-public")
    with env_world(monkeypatch, analyzers=_shared_bucket(public=True)):
        later = run_scan("--exceptions", week2, "--history", history, "--fail-on", "new-public",
                         formats="json,html")
    assert first.code == 0, first.err
    changes = later.document["changes"]
    assert changes["counts"]["findings_turned_public"] == 1
    register = changes["exceptions"]
    assert [e["key"] for e in register["changed"]] == ["finding:*:id:f-partner-share"], (
        "the exception widened from a partner share to public access and the changes "
        f"block's register lists no change: {register}")
    assert register["changed"][0]["public_before"] is False
    assert changes["counts"]["exceptions_changed"] == 1
    # The page says how it changed.
    page = (later.directory / "report.html").read_text()
    assert "now public findings too" in page


# -- 4. an exception with no analyzer type moves to another type between runs ---------------

THREE_TYPES = ("coverage_types: [ORGANIZATION, ORGANIZATION_INTERNAL_ACCESS, "
               "ORGANIZATION_UNUSED_ACCESS]\n")


def _three_types(week: int) -> list[dict]:
    analyzers: list[dict] = [
        {"type": "ORGANIZATION", "name": "org", "regions": REGIONS3},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal",
         "regions": ["us-east-1", "ap-southeast-2"]},
        {"type": "ORGANIZATION_INTERNAL_ACCESS", "name": "internal", "region": "eu-west-1",
         "status": "ACTIVE" if week == 1 else "FAILED"},
        {"type": "ORGANIZATION_UNUSED_ACCESS", "name": "unused", "region": "us-east-1",
         "status": "CREATING" if week == 1 else "ACTIVE"},
    ]
    if week == 2:
        analyzers[2]["status_reason"] = "AWS_SERVICE_ACCESS_DISABLED"
    return analyzers


def test_an_untyped_exception_does_not_move_to_another_analyzer_type_between_runs(
        monkeypatch, run_scan, tmp_path):
    """Observed: three types required (external, internal and unused access). Week 1 the
    risk board accepts `region: "*"`, `code: NOT_ACTIVE` with no analyzer_type, for the
    unused-access analyzer still being created: it matches that one gap (one other type),
    so the first review's rule accepts it. Week 2 the unused-access analyzer is ACTIVE, and
    the internal-access analyzer of eu-west-1 FAILS: a new NOT_ACTIVE gap of another type
    that the exception never matched nor was approved for. It is the only gap the
    exception matches now (again one other type), so it is accepted: `--fail-on new-gaps`
    exits 0 (gaps_opened_accepted 1) and `--fail-on gaps` exits 0, although the history
    recorded that the exception matched an ORGANIZATION_UNUSED_ACCESS gap (its register's
    `matched`). The ambiguity the fix refuses within one run (two other types at once) is
    accepted when the two types come one after the other.
    Expected: an exception that names no analyzer_type, where more than one type is required,
    does not accept a gap of a type other than the one(s) it matched (and was accepted for)
    in the baseline: the new internal-access gap counts for new-gaps (exit 1), with the
    EXCEPTION_NOT_APPLIED advisory asking for analyzer_type; or such an exception is
    refused by the configuration outright."""
    config = tmp_path / "config.yaml"
    config.write_text(THREE_TYPES)
    risk = _risk(tmp_path, "risk.yaml",
                 "  - region: '*'\n    code: NOT_ACTIVE\n"
                 "    reason: Unused-access analyzer being created (RISK-77)\n"
                 f"    owner: iam@example.com\n    expires: {LATER}\n")
    history = str(tmp_path / "history.sqlite")
    with env_world(monkeypatch, analyzers=_three_types(1)):
        first = run_scan("--config", str(config), "--exceptions", risk, "--history", history,
                         "--fail-on", "new-gaps")
    with env_world(monkeypatch, analyzers=_three_types(2)):
        later = run_scan("--config", str(config), "--exceptions", risk, "--history", history,
                         "--fail-on", "new-gaps")
    # Fixed by refusing outright: with three types required, an exception that names none
    # accepts nothing (which type it was written for is not said), from the first run.
    assert first.code == 1, (first.code, first.err, first.document["gaps"])
    (before,) = first.document["exceptions"]["entries"][0]["refused"]["gaps"]
    assert before["analyzer_type"] == "ORGANIZATION_UNUSED_ACCESS"
    assert any(a["code"] == "EXCEPTION_NOT_APPLIED" for a in first.document["advisories"])
    internal = [g for g in later.document["gaps"]
                if g["analyzer_type"] == "ORGANIZATION_INTERNAL_ACCESS"]
    assert internal and internal[0]["region"] == "eu-west-1"
    assert later.code == 1 and "exception" not in internal[0], (
        f"an exception approved for the unused-access analyzer accepts the internal-access "
        f"analyzer FAILED in eu-west-1 (exit {later.code}); counts "
        f"{later.document['changes']['counts']}")


# -- 5. an expired exception says "counts again" for a gap another exception accepts --------

def test_an_expired_exception_does_not_say_counts_again_for_what_another_accepts():
    """Observed: the risk board's exception for ACCOUNT_SCOPE_ONLY in us-west-2 (RISK-1)
    expired; a wildcard exception for ACCOUNT_SCOPE_ONLY in every region (RISK-2, another
    reason) is active. The EXCEPTION_EXPIRED advisory says "it accepts nothing any more ...
    Since that day, what it matches counts again in every report and gate: ACCOUNT_SCOPE_ONLY
    in us-west-2" (and report.html's register adds "counted again: the exception expired"),
    while the same document's verdict is COMPLIANT and the gap carries the wildcard's
    acceptance: `--fail-on gaps` passes. The reader is told the lapsed approval now fails the
    gate, while the gap slid silently under a broader approval given for another reason
    (scanner/judge/exceptions.py exception_advisories uses `matched`, not which of those no
    other exception accepts).
    Expected: the expired advisory names the exception that accepts each item now ("still
    accepted by gap:*:ACCOUNT_SCOPE_ONLY") and says "counts again" only of what nothing
    accepts."""
    document = make_document(
        [covered("us-east-1"), region_scan("us-west-2", [analyzer("us-west-2", type="ACCOUNT")])],
        exceptions=[exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-10-01",
                              ticket="RISK-1"),
                    exception(None, "ACCOUNT_SCOPE_ONLY", expires="2026-12-31",
                              ticket="RISK-2", reason="Every sandbox region")])
    (gap,) = [g for g in document["gaps"] if g["code"] == "ACCOUNT_SCOPE_ONLY"]
    assert gap["exception"]["key"] == "gap:*:ACCOUNT_SCOPE_ONLY"
    assert document["summary"]["verdict"] == "COMPLIANT"
    (expired,) = [a for a in document["advisories"] if a["code"] == "EXCEPTION_EXPIRED"]
    assert "counts again" not in expired["detail"] or "gap:*:ACCOUNT_SCOPE_ONLY" in (
        expired["detail"]), (
        "the expired exception's advisory says the gap counts again in every gate, while "
        f"gap:*:ACCOUNT_SCOPE_ONLY accepts it and the verdict is COMPLIANT: {expired['detail']}")
