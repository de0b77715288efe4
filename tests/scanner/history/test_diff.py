"""The diff: what changed between two runs, rule by rule, without a database."""

from __future__ import annotations

from scanner.history.diff import changes, regressions
from scanner.history.runs import run_view
from tests.builders import (
    DENIED,
    analyzer,
    changed,
    covered,
    finding,
    make_document,
    region_scan,
)


def view(regions, **kwargs):
    return run_view(make_document(regions, **kwargs))


def keep(n: int, region: str = "us-east-1", **kwargs):
    """n findings with stable ids (the same finding in two runs)."""
    return [finding(region=region, id=f"00000000-0000-4000-8000-{region[-1]}{i:011d}",
                    resource=f"arn:aws:s3:::{region}-bucket-{i}", **kwargs) for i in range(n)]


def test_the_first_recorded_run_says_nothing_changed():
    result = changes(view([covered()]), [], "history")
    assert result["baseline"] is None and set(result["counts"].values()) == {0}


def test_findings_matched_on_region_and_id():
    before = view([covered("us-east-1", keep(5))])
    after = view([covered("us-east-1", [*keep(3), finding(is_public=True, resource="new")])])
    result = changes(after, [before], "history")
    assert [f["resource"] for f in result["findings_new"]] == ["new"]
    assert result["findings_new"][0]["is_public"] is True
    assert sorted(f["resource"] for f in result["findings_closed"]) == [
        "arn:aws:s3:::us-east-1-bucket-3", "arn:aws:s3:::us-east-1-bucket-4"]
    assert result["counts"] == {"regions_changed": 0, "gaps_opened": 0, "gaps_closed": 0,
                                "gaps_changed": 0, "gaps_escalated": 0,
                                "findings_new": 1, "findings_new_public": 1,
                                "findings_closed": 2, "findings_changed": 0,
                                "findings_turned_public": 0}


def test_a_closed_finding_says_how_it_ended_when_that_was_collected():
    old = keep(2)
    before = view([covered("us-east-1", old)], finding_statuses=("ACTIVE", "RESOLVED"))
    after = view([covered("us-east-1", [old[0], changed(old[1], status="RESOLVED")])],
                 finding_statuses=("ACTIVE", "RESOLVED"))
    closed = changes(after, [before], "history")["findings_closed"]
    assert [(f["resource"], f["status_now"]) for f in closed] == [
        ("arn:aws:s3:::us-east-1-bucket-1", "RESOLVED")]


def test_a_recreated_analyzer_is_matched_on_what_findings_grant_not_on_ids():
    old = keep(4)
    recreated = analyzer(name="org-2")
    renamed = [changed(f, id=f"11111111-0000-4000-8000-{i:012d}", analyzer_arn=recreated.arn)
               for i, f in enumerate(old)]
    before = view([covered("us-east-1", old)])
    after = view([region_scan("us-east-1", [recreated], renamed)])
    result = changes(after, [before], "history")
    assert result["counts"]["findings_new"] == 0 and result["counts"]["findings_closed"] == 0
    # Re-created under the same name (the same ARN): every id changed, the grants did not.
    same_analyzer = view([covered("us-east-1", [changed(f, analyzer_arn=old[0]["analyzer_arn"])
                                                 for f in renamed])])
    again = changes(same_analyzer, [before], "history")["counts"]
    assert (again["findings_new"], again["findings_closed"]) == (0, 0)
    # One grant that really is new among them is new, and one that went is closed.
    swapped = [*renamed[:3], finding(resource="arn:aws:s3:::other", is_public=True,
                                     analyzer_arn=old[0]["analyzer_arn"])]
    result = changes(view([covered("us-east-1", swapped)]), [before], "history")
    assert [f["resource"] for f in result["findings_new"]] == ["arn:aws:s3:::other"]
    assert [f["resource"] for f in result["findings_closed"]] == [old[3]["resource"]]


def test_regions_and_gaps_that_changed():
    before = view([covered("us-east-1"), region_scan("eu-west-1", []),
                   region_scan("ap-east-1", enabled=False, opt_in_status="DISABLED")])
    after = view([region_scan("us-east-1", []), covered("eu-west-1"),
                  region_scan("ap-east-1", [])])
    result = changes(after, [before], "history")
    assert [(r["region"], r["before"], r["after"]) for r in result["regions"]] == [
        ("ap-east-1", "NOT_ENABLED", "GAP"), ("eu-west-1", "GAP", "COVERED"),
        ("us-east-1", "COVERED", "GAP")]
    assert sorted((g["region"], g["code"]) for g in result["gaps_opened"]) == [
        ("ap-east-1", "NO_ANALYZER"), ("us-east-1", "NO_ANALYZER")]
    assert [(g["region"], g["code"]) for g in result["gaps_closed"]] == [
        ("eu-west-1", "NO_ANALYZER")]


def test_a_region_not_assessed_in_either_run_has_no_new_or_closed_anything():
    before = view([covered("us-east-1", keep(3)), region_scan("eu-west-1", [])])
    after = view([region_scan("us-east-1", error=DENIED), region_scan("eu-west-1", error=DENIED)])
    result = changes(after, [before], "history")
    assert result["findings_closed"] == [] and result["gaps_closed"] == []
    assert {u["region"] for u in result["unknown"]} == {"us-east-1", "eu-west-1"}
    assert all("not assessed" in u["reason"] for u in result["unknown"])
    # ...but its change of status is a change.
    assert {r["region"] for r in result["regions"]} == {"us-east-1", "eu-west-1"}


def test_a_newly_enabled_region_is_compared_with_nothing():
    before = view([region_scan("ap-east-1", enabled=False, opt_in_status="DISABLED")])
    after = view([covered("ap-east-1", keep(2, "ap-east-1", is_public=True))])
    result = changes(after, [before], "history")
    assert result["counts"]["findings_new_public"] == 2 and result["unknown"] == []


def test_regressions_count_what_cannot_be_proven_old():
    before = make_document([covered("us-east-1"), region_scan("eu-west-1", error=DENIED)])
    after = make_document([covered("us-east-1", keep(1, is_public=True)),
                           region_scan("eu-west-1", [], findings=[])])
    assert regressions(after) == (1, 1)  # no changes block yet: everything is new
    after["changes"] = changes(run_view(after), [run_view(before)], "file")
    # eu-west-1 was not assessed before: its gap cannot be proven old, so it counts.
    assert regressions(after) == (1, 1)
    same = make_document([covered("us-east-1", keep(1, is_public=True))])
    same["changes"] = changes(run_view(same), [run_view(same)], "file")
    assert regressions(same) == (0, 0)


def test_coverage_only_runs_compare_gaps_but_not_findings():
    before = view([covered("us-east-1", keep(3))])
    after = run_view(make_document([region_scan("us-east-1", [analyzer()])], coverage_only=True))
    result = changes(after, [before], "history")
    assert result["findings_closed"] == [] and result["unknown"][0]["reason"].startswith(
        "findings not collected (coverage only)")


def test_views_made_while_the_scan_ran_are_the_views_run_view_makes():
    """FindingViews (made as regions finish) give run_view exactly what it would make, and
    a view is used only for the very finding it was made of."""
    from scanner.history.runs import FindingViews

    document = make_document([covered("us-east-1", keep(4)),
                              covered("eu-west-2", keep(3, "eu-west-2"))])
    views = FindingViews()
    views.add([f for f in document["findings"] if f["region"] == "us-east-1"])
    known = views.views()
    assert len(known) == 4
    assert run_view(document, known) == run_view(document)
    # An equal finding that is another object (a copy) is viewed afresh, not from `known`.
    copied = {**document, "findings": [dict(f) for f in document["findings"]]}
    changed_copy = copied["findings"][0]
    changed_copy["resource"] = "arn:aws:s3:::changed"
    assert run_view(copied, known) == run_view(copied)
