"""The diff with accepted risk: what the new-* gates count when exceptions accept, stop
accepting, or appear, and the register's own changes; through a real history file too."""

from __future__ import annotations

from scanner.history.diff import compare, regressions
from scanner.history.runs import run_view
from scanner.history.store import HistoryStore
from tests.builders import analyzer, covered, exception, finding, make_document, region_scan

ACCOUNT_ONLY = [analyzer("us-west-2", type="ACCOUNT")]
SITE = "arn:aws:s3:::acme-site"


def document(exceptions=(), public=False):
    findings = [finding(is_public=True, resource=SITE, id="00000000-0000-4000-8000-00000000000a")]
    if public:
        findings.append(finding(is_public=True, resource=SITE + "-2",
                                id="00000000-0000-4000-8000-00000000000b"))
    return make_document([covered("us-east-1", findings), region_scan("us-west-2", ACCOUNT_ONLY)],
                         exceptions=exceptions)


GAP = exception("us-west-2", "ACCOUNT_SCOPE_ONLY")
LAPSED = exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2026-10-01")
# Accepting public findings is said explicitly (public: true), as the configuration asks.
PUBLIC = exception(resource="arn:aws:s3:::acme-site*", public=True)
PUBLIC_LAPSED = exception(resource="arn:aws:s3:::acme-site*", expires="2026-10-01",
                          public=True)


def gated(now, before):
    current = dict(now)
    current["changes"] = compare(run_view(now), [run_view(before)], "history").block
    return current, regressions(current)


def test_an_exception_that_lapses_makes_an_old_gap_and_finding_count_again():
    current, (gaps, public) = gated(document([LAPSED, PUBLIC_LAPSED]),
                                    document([GAP, PUBLIC]))
    changes = current["changes"]
    assert changes["counts"]["gaps_opened"] == 0 and changes["counts"]["findings_new"] == 0
    assert (gaps, public) == (1, 1)
    register = changes["exceptions"]
    assert [e["key"] for e in register["expired"]] == [GAP["key"], PUBLIC["key"]]
    assert register["expired"][0]["expires"] == "2026-10-01"
    assert [g["exception"] for g in register["gaps_no_longer_accepted"]] == [GAP["key"]]
    assert [f["resource"] for f in register["findings_no_longer_accepted"]] == [SITE]


def test_removing_an_exception_is_a_regression_and_adding_one_is_not():
    _, removed = gated(document([]), document([GAP, PUBLIC]))
    assert removed == (1, 1)
    current, added = gated(document([GAP, PUBLIC]), document([]))
    assert added == (0, 0)
    register = current["changes"]["exceptions"]
    assert [e["key"] for e in register["added"]] == [GAP["key"], PUBLIC["key"]]


def test_new_exposure_an_exception_accepts_is_listed_and_not_counted():
    current, (gaps, public) = gated(document([GAP, PUBLIC], public=True), document([GAP]))
    assert gaps == 0
    new = current["changes"]["findings_new"]
    assert [(f["resource"], f.get("exception")) for f in new] == [
        (SITE + "-2", PUBLIC["key"])]
    assert public == 0  # the old one no longer counts either: it is accepted now
    assert current["changes"]["counts"]["findings_new_public_accepted"] == 1


def test_a_renewed_exception_is_changed_not_a_regression():
    renewed = exception("us-west-2", "ACCOUNT_SCOPE_ONLY", expires="2027-03-31",
                        owner="risk@example.com")
    current, result = gated(document([renewed]), document([GAP]))
    assert result[0] == 0
    (change,) = current["changes"]["exceptions"]["changed"]
    assert (change["expires"], change["expires_before"], change["owner_before"]) == (
        "2027-03-31", "2026-12-31", "secops@example.com")


def test_the_history_keeps_what_each_exception_accepted(tmp_path):
    before = document([GAP, PUBLIC])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(before)
        loaded = store.load(run_view(before).run_id)
    assert [e.key for e in loaded.exceptions] == [GAP["key"], PUBLIC["key"]]
    assert [g.exception for g in loaded.gaps] == [GAP["key"]]
    assert dict(loaded.accepted_findings) == {
        ("us-east-1", "00000000-0000-4000-8000-00000000000a"): PUBLIC["key"]}
    now = document([LAPSED, PUBLIC_LAPSED])
    block = compare(run_view(now), [loaded], "history").block
    assert block["counts"]["gaps_no_longer_accepted"] == 1
    assert block["counts"]["public_no_longer_accepted"] == 1


def test_public_true_is_kept_and_one_recorded_before_it_was_kept_is_not_a_change(tmp_path):
    """The history keeps whether each exception accepts public findings; a run recorded
    before it kept that (the key absent from what the exception accepted) reads back as
    unknown, and an unknown baseline lists no change of it."""
    import json
    import sqlite3

    widened = exception(resource="arn:aws:s3:::acme-site*", public=True)
    narrow = {k: v for k, v in widened.items() if k != "public"}
    before = document([narrow])
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record(before)
        loaded = store.load(run_view(before).run_id)
    assert [e.public for e in loaded.exceptions] == [False]
    block = compare(run_view(document([widened])), [loaded], "history").block
    assert [(e["key"], e["public_before"]) for e in block["exceptions"]["changed"]] == [
        (widened["key"], False)]

    db = sqlite3.connect(path)  # as a history written before it was kept
    for key, accepted in db.execute("SELECT key, accepted FROM run_exceptions").fetchall():
        what = json.loads(accepted)
        del what["public"]
        db.execute("UPDATE run_exceptions SET accepted = ? WHERE key = ?",
                   (json.dumps(what), key))
    db.commit()
    db.close()
    with HistoryStore(path) as store:
        older = store.load(run_view(before).run_id)
    assert [e.public for e in older.exceptions] == [None]
    block = compare(run_view(document([widened])), [older], "history").block
    assert block["exceptions"]["changed"] == []
