"""Accepted risk, judged (pure: the exceptions and the scan's start are input, no clock), and
what a re-render refuses: a document whose acceptances its own exceptions do not give."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt

from reports.document.consistency import disagreements, recomputed
from reports.document.exceptions import verdict_text
from scanner.judge import judge
from tests.builders import (
    DENIED,
    analyzer,
    covered,
    exception,
    finding,
    make_document,
    make_scan_result,
    region_scan,
)

ACCOUNT_ONLY = [analyzer("us-west-2", type="ACCOUNT")]


def regions():
    return [covered("us-east-1", [finding(is_public=True, resource="arn:aws:s3:::acme-site-1"),
                                  finding(is_public=True, resource="arn:aws:s3:::other")]),
            region_scan("us-west-2", ACCOUNT_ONLY)]


def test_an_accepted_gap_is_still_a_gap_shown_as_accepted_and_the_verdict_says_so(
        valid_document):
    document = valid_document(make_document(regions(), exceptions=[
        exception("us-west-2", "ACCOUNT_SCOPE_ONLY")]))
    (gap,) = document["gaps"]
    assert gap["code"] == "ACCOUNT_SCOPE_ONLY"
    assert gap["exception"] == {"key": "gap:us-west-2:ACCOUNT_SCOPE_ONLY",
                                "reason": "accepted by the risk board",
                                "owner": "secops@example.com", "expires": "2026-12-31",
                                "ticket": "RISK-101", "state": "active"}
    region = next(r for r in document["regions"] if r["region"] == "us-west-2")
    assert region["status"] == "GAP"  # the facts do not change
    summary = document["summary"]
    assert summary["verdict"] == "COMPLIANT"
    assert summary["accepted"] == {"exceptions": 1, "gaps": 1, "findings": 0,
                                   "public_findings": 0, "expired": 0, "expiring": 0,
                                   "unused": 0}
    assert verdict_text(summary["verdict"], summary["accepted"]) == (
        "COMPLIANT with 1 accepted exception")
    assert document["exceptions"]["as_of"] == document["started_at"]
    assert disagreements(document) == []


def test_expired_expiring_and_unused_exceptions():
    document = make_document(regions(), exceptions=[
        exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-10-31"),  # expired
        exception(resource="arn:aws:s3:::acme-site-*", expires="2026-11-10",  # 9 days left
                  public=True),
        exception("eu-west-1", "NO_ANALYZER")])  # not in this scan
    states = {e["key"]: (e["state"], e["days_left"], e["accepted"])
              for e in document["exceptions"]["entries"]}
    assert states == {"gap:us-west-2:ACCOUNT_SCOPE_ONLY": ("expired", -1, 0),
                      "finding:*:resource:arn:aws:s3:::acme-site-*": ("expiring", 9, 1),
                      "gap:eu-west-1:NO_ANALYZER": ("unused", 60, 0)}
    assert "exception" not in document["gaps"][0]  # counts again
    assert document["summary"]["verdict"] == "NON_COMPLIANT"
    advisories = {a["code"]: a for a in document["advisories"]}
    expired = advisories["EXCEPTION_EXPIRED"]
    assert expired["title"] == ("The exception for gap ACCOUNT_SCOPE_ONLY in us-west-2 expired "
                                "on 2026-10-31: it accepts nothing any more")
    assert "ACCOUNT_SCOPE_ONLY in us-west-2" in expired["detail"]
    assert expired["remediation"].startswith("Edit exceptions.yaml:2: renew the exception")
    assert advisories["EXCEPTION_EXPIRING"]["title"].endswith("expires on 2026-11-10, in 9 days")
    unused = document["exceptions"]["entries"][2]
    assert unused["note"] == "region eu-west-1 is not in this scan's region list"
    accepted = [f for f in document["findings"] if "exception" in f]
    assert [f["resource"] for f in accepted] == ["arn:aws:s3:::acme-site-1"]
    assert accepted[0]["exception"]["state"] == "expiring"
    assert document["summary"]["accepted"]["public_findings"] == 1


def test_the_judge_reads_the_day_from_the_scan_never_from_the_clock():
    result = make_scan_result(regions())
    rules = [exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-11-30")]
    before = judge(result, rules)
    later = judge(dataclasses.replace(result, started_at=result.started_at
                                      + dt.timedelta(days=29)), rules)
    assert before.acceptance and later.acceptance
    assert before.acceptance.entries[0]["state"] == "active"
    assert later.acceptance.entries[0]["state"] == "expiring"  # its last day
    afterwards = judge(dataclasses.replace(result, started_at=result.started_at
                                           + dt.timedelta(days=29, hours=11, minutes=59)),
                       rules)
    assert afterwards.acceptance is not None
    assert afterwards.acceptance.entries[0]["state"] == "expiring"  # 23:59 on its last day
    lapsed = judge(dataclasses.replace(result, started_at=result.started_at
                                       + dt.timedelta(days=29, hours=12)), rules)
    assert lapsed.acceptance and lapsed.acceptance.entries[0]["state"] == "expired"
    assert lapsed.verdict.value == "NON_COMPLIANT"


def test_a_wildcard_exception_accepts_its_code_everywhere_and_lists_each_match():
    scans = [region_scan(r, []) for r in ("us-east-1", "eu-west-1", "sa-east-1")]
    document = make_document(scans, exceptions=[exception(None, "NO_ANALYZER")])
    (entry,) = document["exceptions"]["entries"]
    assert [g["region"] for g in entry["matched"]["gaps"]] == ["us-east-1", "eu-west-1",
                                                              "sa-east-1"]
    assert entry["accepted"] == 3 and document["summary"]["verdict"] == "COMPLIANT"


def test_an_exception_never_makes_a_region_that_was_not_assessed_count():
    scans = [covered("us-east-1"), region_scan("me-south-1", error=DENIED)]
    document = make_document(scans, exceptions=[exception("me-south-1", "NO_ANALYZER")])
    assert document["summary"]["verdict"] == "INCOMPLETE"
    (entry,) = document["exceptions"]["entries"]
    assert entry["state"] == "unused" and "was not assessed" in entry["note"]


def _refused(document, edit) -> list[str]:
    edited = copy.deepcopy(document)
    edit(edited)
    return disagreements(edited)


def test_a_rerender_refuses_acceptances_its_exceptions_do_not_give():
    document = make_document([*regions(), region_scan("sa-east-1", [])], exceptions=[
        exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-11-10")])
    assert disagreements(document) == []
    other = next(g for g in document["gaps"] if g["region"] == "sa-east-1")
    accepted = next(g for g in document["gaps"] if "exception" in g)

    def mark_accepted(d):
        gap = next(g for g in d["gaps"] if g["region"] == "sa-east-1")
        gap["exception"] = dict(accepted["exception"])
        d["summary"]["verdict"] = "COMPLIANT"

    assert any("NO_ANALYZER in sa-east-1: accepted by gap:us-west-2" in f
               for f in _refused(document, mark_accepted))
    assert other not in [g for g in document["gaps"] if "exception" in g]

    def later(d):  # judged as of another day: the exception looks alive longer
        d["exceptions"]["as_of"] = "2026-10-01T00:00:00Z"

    assert any("not the scan's start" in f for f in _refused(document, later))

    def extended(d):  # the register edited, the configuration left as it was
        entry = d["exceptions"]["entries"][0]
        entry["expires"], entry["days_left"] = "2027-06-30", 241
        entry["state"] = "active"
        d["gaps"][0]["exception"]["expires"] = "2027-06-30"

    assert any("not those of the configuration" in f for f in _refused(document, extended))

    def relabelled(d):  # a key that hides what the exception matches
        d["exceptions"]["entries"][0]["key"] = "gap:eu-west-1:NO_ANALYZER"

    assert any("matches 'gap:us-west-2:ACCOUNT_SCOPE_ONLY'" in f
               for f in _refused(document, relabelled))

    def public_hidden(d):
        target = next(f for f in d["findings"] if f["is_public"])
        target["exception"] = dict(accepted["exception"])

    assert any("finding(s) accepted otherwise" in f for f in _refused(document, public_hidden))

    def no_register(d):
        del d["exceptions"]

    assert any("the document has no exceptions" in f for f in _refused(document, no_register))


def test_the_recomputed_verdict_and_counts_follow_the_exceptions_not_the_gaps():
    document = make_document(regions(), exceptions=[
        exception("us-west-2", "ACCOUNT_SCOPE_ONLY")])
    values = recomputed(document)
    assert values["verdict"] == "COMPLIANT"
    assert values["accepted"] == document["summary"]["accepted"]
    stripped = copy.deepcopy(document)
    del stripped["gaps"][0]["exception"]  # what the gap says is not what decides
    assert recomputed(stripped)["verdict"] == "COMPLIANT"
    assert disagreements(stripped)
