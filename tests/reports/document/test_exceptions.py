"""The rules of accepted risk, each once: which exception matches what, its state on the
scan's day (the boundaries in UTC), which of several accepts an item, and how the verdict
that rests on exceptions is worded."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.document.exceptions import (
    days_left,
    judge_exceptions,
    matches_finding,
    pattern_matches,
    verdict_text,
)
from tests.builders import exception


@pytest.mark.parametrize("pattern, text, expected", [
    ("arn:aws:s3:::site", "arn:aws:s3:::site", True),
    ("arn:aws:s3:::site", "arn:aws:s3:::site2", False),
    ("arn:aws:s3:::site-*", "arn:aws:s3:::site-", True),
    ("arn:aws:s3:::site-*", "arn:aws:s3:::site-prod/logs", True),
    ("arn:aws:iam::*:role/partner-*", "arn:aws:iam::123456789012:role/partner-etl", True),
    ("arn:aws:iam::*:role/partner-*", "arn:aws:iam::123456789012:role/admin", False),
    # Every character but * is itself: no regular expression, no glob classes.
    ("arn:aws:s3:::a.b", "arn:aws:s3:::axb", False),
    ("arn:aws:s3:::a+b", "arn:aws:s3:::aab", False),
    ("arn:aws:s3:::a+b", "arn:aws:s3:::a+b", True),
    ("arn:aws:s3:::a?b", "arn:aws:s3:::axb", False),
    ("arn:aws:s3:::[ab]", "arn:aws:s3:::a", False),
    ("arn:aws:s3:::[ab]", "arn:aws:s3:::[ab]", True),
    ("arn:aws:s3:::(a|b)", "arn:aws:s3:::a", False),
    ("arn:aws:s3:::^a$", "arn:aws:s3:::^a$", True),
    ("arn:aws:s3:::a\\d", "arn:aws:s3:::a1", False),
    ("arn:aws:s3:::a**b", "arn:aws:s3:::ab", True),
    ("arn:aws:s3:::*-logs-*", "arn:aws:s3:::x-logs-y", True),
    ("arn:aws:s3:::*ab*ab", "arn:aws:s3:::xabab", True),
    ("arn:aws:s3:::*ab*ab", "arn:aws:s3:::xab", False),  # the parts may not overlap
    ("arn:aws:s3:::site*", None, False),
])
def test_a_pattern_is_literal_text_with_star_for_any_run(pattern, text, expected):
    assert pattern_matches(pattern, text) is expected


def test_matching_is_linear_whatever_the_pattern():
    pattern = "arn:" + "*a" * 200 + "*b"
    text = "arn:" + "a" * 50_000
    started = time.process_time()
    assert pattern_matches(pattern, text) is False
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("as_of, expires, left", [
    ("2027-03-31T00:00:00Z", "2027-03-31", 0),  # its last day: it still accepts
    ("2027-03-31T23:59:59Z", "2027-03-31", 0),
    ("2027-04-01T00:00:00Z", "2027-03-31", -1),  # the next UTC day: expired
    ("2027-03-17T12:00:00Z", "2027-03-31", 14),
    # Days are UTC days: a local time past midnight elsewhere is still that UTC day.
    ("2027-03-31T23:30:00-02:00", "2027-03-31", -1),
    ("2027-04-01T01:00:00+02:00", "2027-03-31", 0),
    ("not a time", "2027-03-31", -(10**6)),
    ("2027-03-31T00:00:00Z", "2027-02-30", -(10**6)),
])
def test_days_left_count_utc_days_and_the_last_day_accepts(as_of, expires, left):
    assert days_left(expires, as_of) == left


GAP = {"scope": "region", "region": "us-west-2", "code": "ACCOUNT_SCOPE_ONLY",
       "analyzer_type": "ORGANIZATION"}


def _state(expires: str, as_of: str = "2027-03-01T08:00:00Z") -> str:
    found = judge_exceptions([exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires=expires)],
                             [GAP], [], as_of, {"us-west-2": "GAP"})
    return found.entries[0]["state"]


def test_states_on_the_boundaries():
    assert _state("2027-03-15") == "expiring"  # 14 days left
    assert _state("2027-03-16") == "active"  # 15
    assert _state("2027-03-01") == "expiring"  # its last day
    assert _state("2027-02-28") == "expired"


def test_the_most_specific_unexpired_exception_accepts_and_an_expired_one_never_does():
    wide = exception(None, "ACCOUNT_SCOPE_ONLY", owner="platform")
    named = exception("us-west-2", "ACCOUNT_SCOPE_ONLY", owner="risk")
    found = judge_exceptions([wide, named], [GAP], [], "2026-11-01T00:00:00Z",
                             {"us-west-2": "GAP"})
    assert found.gaps == [named["key"]]
    assert [e["accepted"] for e in found.entries] == [0, 1]
    assert [len(e["matched"]["gaps"]) for e in found.entries] == [1, 1]  # both match it
    lapsed = exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-10-01")
    found = judge_exceptions([lapsed, wide], [GAP], [], "2026-11-01T00:00:00Z",
                             {"us-west-2": "GAP"})
    assert found.gaps == [wide["key"]]
    assert found.entries[0]["state"] == "expired" and found.entries[0]["accepted"] == 0


def test_finding_exceptions_match_active_findings_by_id_or_resource_in_their_region():
    findings = [
        {"region": "us-east-1", "id": "f1", "resource": "arn:aws:s3:::site-a",
         "status": "ACTIVE", "is_public": True},
        {"region": "eu-west-1", "id": "f2", "resource": "arn:aws:s3:::site-b",
         "status": "ACTIVE", "is_public": True},
        {"region": "us-east-1", "id": "f3", "resource": "arn:aws:s3:::site-c",
         "status": "ARCHIVED", "is_public": True},
    ]
    # Public findings: accepted only by exceptions that say public: true.
    by_pattern = exception("us-east-1", resource="arn:aws:s3:::site-*", public=True)
    by_id = exception(finding_id="f2", public=True)
    found = judge_exceptions([by_pattern, by_id], [], findings, "2026-11-01T00:00:00Z",
                             {"us-east-1": "COVERED", "eu-west-1": "COVERED"})
    assert found.findings == {("us-east-1", "f1"): by_pattern["key"],
                              ("eu-west-1", "f2"): by_id["key"]}


def test_an_exception_that_matches_nothing_says_why_when_the_scan_knows():
    notes = {}
    for status in ("ERROR", "EXCLUDED", "NOT_ENABLED", "COVERED"):
        found = judge_exceptions([exception("me-south-1", "NO_ANALYZER")], [], [],
                                 "2026-11-01T00:00:00Z", {"me-south-1": status})
        entry = found.entries[0]
        assert entry["state"] == "unused"
        notes[status] = entry["note"]
    assert "not assessed" in notes["ERROR"] and "unknown" in notes["ERROR"]
    assert "excluded" in notes["EXCLUDED"]
    assert "not enabled" in notes["NOT_ENABLED"]
    assert "can be removed" in notes["COVERED"]


def test_the_verdict_never_reads_plain_compliant_when_it_rests_on_exceptions():
    assert verdict_text("COMPLIANT", None) == "COMPLIANT"
    accepted = {"exceptions": 2, "gaps": 3, "findings": 1, "public_findings": 1}
    assert verdict_text("COMPLIANT", accepted) == "COMPLIANT with 2 accepted exceptions"
    one = {**accepted, "exceptions": 1}
    assert verdict_text("COMPLIANT", one) == "COMPLIANT with 1 accepted exception"
    assert verdict_text("COMPLIANT", {**accepted, "exceptions": 0}) == "COMPLIANT"
    assert verdict_text("NON_COMPLIANT", accepted) == "NON_COMPLIANT"  # its gaps say why


ALPHABET = "ab*:-/"


@settings(max_examples=300, deadline=None)
@given(patterns=st.lists(st.tuples(st.sampled_from(["arn:aws:s3:::", "arn", "", "*:"]),
                                   st.text(ALPHABET, min_size=1, max_size=8)),
                         min_size=1, max_size=6),
       resources=st.lists(st.text(ALPHABET.replace("*", ""), max_size=10), max_size=12))
def test_the_index_finds_exactly_what_comparing_every_exception_finds(patterns, resources):
    """Findings are looked up by id, exact ARN and literal ends, never compared with every
    exception: the same acceptances as comparing each finding with each exception (a pattern
    whose literal prefix has no colon, "*:aws:s3:::site", included)."""
    specs = list({e["key"]: e for e in (
        exception(resource=head + p) for head, p in patterns)}.values())
    findings = [{"region": "us-east-1", "id": f"f{i}", "resource": "arn:aws:s3:::" + r,
                 "status": "ACTIVE", "is_public": False} for i, r in enumerate(resources)]
    found = judge_exceptions(specs, [], findings, "2026-11-01T00:00:00Z", {})
    for finding in findings:
        matching = [s for s in specs if matches_finding(s, "us-east-1", finding["id"],
                                                        finding["resource"])]
        accepted = found.findings.get(("us-east-1", finding["id"]))
        assert (accepted is None) == (not matching)
        if matching:  # the most specific (an exact ARN before a pattern), then the first
            assert accepted == min(matching, key=lambda s: ("*" in (s["resource"] or ""),
                                                            specs.index(s)))["key"]


def test_a_public_finding_is_accepted_only_by_an_exception_that_says_public():
    findings = [
        {"region": "us-east-1", "id": "f1", "resource": "arn:aws:s3:::share",
         "status": "ACTIVE", "is_public": True},
        {"region": "us-east-1", "id": "f2", "resource": "arn:aws:s3:::share-2",
         "status": "ACTIVE", "is_public": False},
    ]
    unsaid = exception(finding_id="f1")
    pattern = exception(resource="arn:aws:s3:::share*")
    found = judge_exceptions([unsaid, pattern], [], findings, "2026-11-01T00:00:00Z",
                             {"us-east-1": "COVERED"})
    # Both match the public finding; neither accepts it. The cross-account one is accepted.
    assert found.findings == {("us-east-1", "f2"): pattern["key"]}
    by_key = found.by_key()
    assert [f["id"] for f in by_key[unsaid["key"]]["refused"]["findings"]] == ["f1"]
    assert [f["id"] for f in by_key[pattern["key"]]["matched"]["findings"]] == ["f1", "f2"]
    assert "not say public: true" in str(by_key[unsaid["key"]]["note"])
    said = exception(finding_id="f1", public=True)
    found = judge_exceptions([said], [], findings, "2026-11-01T00:00:00Z",
                             {"us-east-1": "COVERED"})
    assert found.findings == {("us-east-1", "f1"): said["key"]}
    assert "refused" not in found.entries[0]


def _typed(region, code, kind):
    return {"scope": "region", "region": region, "code": code, "analyzer_type": kind}


BOTH = ("ORGANIZATION", "ORGANIZATION_INTERNAL_ACCESS")
ALL = (*BOTH, "ORGANIZATION_UNUSED_ACCESS")


def test_a_gap_exception_without_a_type_accepts_no_primary_gap_when_types_are_several():
    internal = _typed("eu-west-1", "NOT_ACTIVE", "ORGANIZATION_INTERNAL_ACCESS")
    external = _typed("eu-west-1", "NOT_ACTIVE", "ORGANIZATION")
    untyped = exception("eu-west-1", "NOT_ACTIVE")

    def accepted(gaps, specs, coverage):
        return judge_exceptions(specs, gaps, [], "2026-11-01T00:00:00Z",
                                {"eu-west-1": "GAP"}, coverage_types=coverage).gaps

    # One type required: as before.
    assert accepted([external], [untyped], ("ORGANIZATION",)) == [untyped["key"]]
    # Several: an untyped exception accepts no gap of any type (which one it was written for
    # is not said, and one type's gap can replace another's from one run to the next).
    assert accepted([internal], [untyped], BOTH) == [None]
    assert accepted([internal, external], [untyped], BOTH) == [None, None]
    assert accepted([external], [untyped], BOTH) == [None]
    # Named, it accepts its own type only; a typed one is preferred to an untyped one.
    typed = exception("eu-west-1", "NOT_ACTIVE", analyzer_type="ORGANIZATION")
    assert typed["key"] == "gap:eu-west-1:NOT_ACTIVE:ORGANIZATION"
    assert accepted([internal, external], [typed], BOTH) == [None, typed["key"]]
    assert accepted([internal, external], [untyped, typed], BOTH) == [None, typed["key"]]


def test_an_untyped_exception_matching_two_other_types_accepts_neither():
    wide = _typed(None, "MISSING_REQUIRED_TYPE", "ORGANIZATION_UNUSED_ACCESS") | {
        "scope": "organization"}
    regional = _typed("eu-west-1", "MISSING_REQUIRED_TYPE", "ORGANIZATION_INTERNAL_ACCESS")
    untyped = exception(None, "MISSING_REQUIRED_TYPE")
    found = judge_exceptions([untyped], [wide, regional], [], "2026-11-01T00:00:00Z",
                             {"eu-west-1": "GAP"}, coverage_types=ALL)
    assert found.gaps == [None, None]
    assert len(found.entries[0]["refused"]["gaps"]) == 2
    assert "names no analyzer_type" in str(found.entries[0]["note"])
    alone = judge_exceptions([untyped], [wide], [], "2026-11-01T00:00:00Z",
                             {"eu-west-1": "GAP"}, coverage_types=ALL)
    assert alone.gaps == [None]  # one other type alone: refused all the same
