"""A scan document's summary, verdict and gaps against its regions (what a re-render checks
before it renders and signs): every document the judge builds agrees; edited ones do not."""

from __future__ import annotations

import copy

import pytest

from reports.document.consistency import ASSESSMENT_GAPS, disagreements, recomputed
from scanner.judge import GAP_TEXT
from scanner.model import ApiError
from tests.builders import (
    ADMIN,
    DENIED,
    MEMBER,
    analyzer,
    covered,
    finding,
    make_document,
    organization,
    region_scan,
)

FINDINGS = [finding(is_public=True), finding(), finding(error="UNKNOWN")]


def test_the_gaps_that_make_a_result_incomplete_are_the_judges():
    blocking = {key.split(":")[0] for key, text in GAP_TEXT.items() if text.blocks_assessment}
    assert blocking == ASSESSMENT_GAPS


@pytest.mark.parametrize(
    "name, document",
    [
        ("covered", lambda: make_document([covered("us-east-1", FINDINGS)])),
        (
            "gaps",
            lambda: make_document(
                [
                    covered("us-east-1"),
                    region_scan("sa-east-1", []),
                    region_scan("eu-west-1", [analyzer("eu-west-1", status="FAILED")]),
                ]
            ),
        ),
        ("errors", lambda: make_document([covered(), region_scan("eu-west-1", error=DENIED)])),
        (
            "findings incomplete",
            lambda: make_document(
                [
                    region_scan(
                        "us-east-1",
                        [analyzer()],
                        FINDINGS,
                        findings_errors=[ApiError("Throttling", "slow", "ListFindings")],
                    )
                ]
            ),
        ),
        (
            "not enabled and excluded",
            lambda: make_document(
                [
                    covered(),
                    region_scan("af-south-1", enabled=False),
                    region_scan("us-west-1", excluded="unused"),
                ]
            ),
        ),
        (
            "coverage only",
            lambda: make_document([covered(), region_scan("sa-east-1", [])], coverage_only=True),
        ),
        ("member account", lambda: make_document([region_scan("us-east-1", [])], account=MEMBER)),
        (
            "trusted access disabled",
            lambda: make_document([covered()], org=organization(trusted=False)),
        ),
        ("interrupted", lambda: make_document([covered()], interrupted=True)),
        ("nothing assessed", lambda: make_document([region_scan("eu-west-1", error=DENIED)])),
        (
            "unused access required",
            lambda: make_document(
                [covered()], coverage_types=("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS")
            ),
        ),
    ],
)
def test_every_document_the_judge_builds_agrees_with_itself(name, document):
    built = document()
    assert disagreements(built) == [], name
    summary = built["summary"]
    assert {k: summary[k] for k in recomputed(built)} == recomputed(built)


def gap_document() -> dict:
    return make_document(
        [
            covered("us-east-1"),
            region_scan("sa-east-1", []),
            region_scan("eu-west-1", []),
            region_scan("ap-south-1", []),
            region_scan("ca-central-1", []),
        ],
        account=ADMIN,
    )


def test_gaps_removed_and_the_verdict_set_to_compliant_is_refused():
    """Issue 20 §3: the edit that a signed re-render turned into a compliant organization."""
    document = gap_document()
    assert document["summary"]["verdict"] == "NON_COMPLIANT"
    document["gaps"] = [g for g in document["gaps"] if g["scope"] != "region"]
    document["summary"]["verdict"] = "COMPLIANT"
    found = disagreements(document)
    # With the gaps gone the verdict agrees with gaps[]: the regions still say GAP.
    assert found == [
        f"region {r} is GAP (NO_ANALYZER) but gaps[] has no gap there"
        for r in ("sa-east-1", "eu-west-1", "ap-south-1", "ca-central-1")
    ]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda d: d["summary"].update(verdict="COMPLIANT"),
            "summary.verdict is 'COMPLIANT', the regions say 'NON_COMPLIANT'",
        ),
        (lambda d: d["summary"].update(gaps=0), "summary.gaps is 0, the regions say 4"),
        (
            lambda d: d["summary"].update(public_findings=0),
            "summary.public_findings is 0, the regions say 1",
        ),
        (
            lambda d: d["regions"][1].update(status="COVERED", reason=None),
            "summary.covered is 1, the regions say 2",
        ),
        (
            lambda d: d["gaps"].append({**d["gaps"][-1], "region": "us-east-1"}),
            "gaps[] has a gap in region us-east-1, which is not GAP",
        ),
        (
            lambda d: d["regions"][0].update(status="ERROR"),
            "summary.errors is 0, the regions say 1",
        ),
        (
            lambda d: d["summary"].update(complete=False),
            "summary.complete is false without incomplete_reasons",
        ),
    ],
)
def test_a_summary_that_disagrees_with_the_regions_is_named(edit, expected):
    document = make_document(
        [
            covered("us-east-1", FINDINGS),
            region_scan("sa-east-1", []),
            region_scan("eu-west-1", []),
            region_scan("ap-south-1", []),
            region_scan("ca-central-1", []),
        ]
    )
    assert disagreements(document) == []
    edited = copy.deepcopy(document)
    edit(edited)
    assert expected in disagreements(edited)


def test_a_document_from_before_a_summary_key_existed_is_not_refused():
    document = make_document([covered("us-east-1", FINDINGS)])
    del document["summary"]["error_findings"]  # added after version 1 was published
    assert disagreements(document) == []
