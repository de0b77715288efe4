"""The exit code, without AWS: decided from the typed Outcome a run returns, and that
Outcome read from the final document (scanner.pipeline.outcome_of)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from reports.document.rules import Verdict
from scanner.cli import exit_code
from scanner.config import FailOn
from scanner.errors import ConfigError
from scanner.pipeline import Outcome, Regressions, outcome_of
from tests.builders import covered, finding, make_document, region_scan

NO_REGRESSION = Regressions(0, 0, 0, 0, None)
CLEAN = Outcome(Path("out"), complete=True, verdict=Verdict.COMPLIANT, gaps=0,
                active_findings=0, public_findings=0, regressions=NO_REGRESSION)
GAPS = replace(CLEAN, verdict=Verdict.NON_COMPLIANT, gaps=2)


@pytest.mark.parametrize(("outcome", "fail_on", "code"), [
    (CLEAN, FailOn.GAPS, 0),
    (GAPS, FailOn.GAPS, 1),
    (GAPS, FailOn.NEVER, 0),
    (replace(CLEAN, complete=False, verdict=Verdict.INCOMPLETE), FailOn.NEVER, 3),
    (replace(GAPS, complete=False), FailOn.GAPS, 3),
    (replace(CLEAN, verdict=Verdict.INCOMPLETE), FailOn.GAPS, 3),
    (replace(CLEAN, active_findings=4, public_findings=0), FailOn.PUBLIC, 0),
    (replace(CLEAN, active_findings=4, public_findings=1), FailOn.PUBLIC, 1),
    (replace(CLEAN, active_findings=4, public_findings=0), FailOn.FINDINGS, 1),
    (replace(CLEAN, active_findings=None, public_findings=None), FailOn.GAPS, 0),
    # The regression gates look at what is new, not at what is there.
    (GAPS, FailOn.NEW_GAPS, 0),
    (replace(GAPS, regressions=replace(NO_REGRESSION, gaps=1)), FailOn.NEW_GAPS, 1),
    (replace(GAPS, public_findings=3), FailOn.NEW_PUBLIC, 0),
    (replace(CLEAN, regressions=replace(NO_REGRESSION, public_findings=1)),
     FailOn.NEW_PUBLIC, 1),
    (replace(CLEAN, regressions=replace(NO_REGRESSION, public_findings=1)), FailOn.NEW_GAPS, 0),
])
def test_the_exit_code_of_each_gate(outcome: Outcome, fail_on: FailOn, code: int) -> None:
    assert exit_code(outcome, fail_on) == code


def test_an_interrupted_run_exits_128_plus_the_signal_and_says_where_its_scan_is(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aa_scan"):
        assert exit_code(replace(GAPS, interrupted_by=15), FailOn.GAPS) == 143
    assert f"what was collected is in {Path('out') / 'scan.json'}" in caplog.text


@pytest.mark.parametrize("fail_on", [FailOn.PUBLIC, FailOn.FINDINGS])
def test_a_findings_gate_cannot_pass_on_findings_never_read(fail_on: FailOn) -> None:
    with pytest.raises(ConfigError, match=f"--fail-on {fail_on.value} needs the findings"):
        exit_code(replace(CLEAN, active_findings=None, public_findings=None), fail_on)


def test_new_public_cannot_pass_on_findings_never_read() -> None:
    unread = replace(CLEAN, regressions=replace(NO_REGRESSION, public_findings=None))
    with pytest.raises(ConfigError, match="--fail-on new-public needs the findings"):
        exit_code(unread, FailOn.NEW_PUBLIC)


def test_a_regression_gate_says_what_it_could_not_compare(
        caplog: pytest.LogCaptureFixture) -> None:
    untold = Regressions(3, 2, 3, 2, "the history could not be used: locked")
    with caplog.at_level(logging.WARNING, logger="aa_scan"):
        assert exit_code(replace(GAPS, regressions=untold), FailOn.NEW_PUBLIC) == 1
    assert "no baseline, because the history could not be used: locked; every gap and " \
           "public finding counts as new" in caplog.text
    assert "3 gap(s) and 2 public finding(s) could not be compared" in caplog.text


def test_the_outcome_of_a_document_is_what_its_summary_and_gaps_say() -> None:
    document = make_document([covered("us-east-1", [finding(is_public=True), finding()]),
                              region_scan("eu-west-1", [])])
    outcome = outcome_of(document, Path("out"))
    assert outcome.directory == Path("out")
    assert outcome.complete is document["summary"]["complete"]
    assert outcome.verdict == document["summary"]["verdict"] == Verdict.NON_COMPLIANT
    assert outcome.gaps == len(document["gaps"]) > 0
    assert (outcome.active_findings, outcome.public_findings) == (2, 1)
    # No history, no baseline: every gap and public finding is new.
    assert (outcome.regressions.gaps, outcome.regressions.public_findings) == (
        len(document["gaps"]), 1)
    assert outcome.interrupted_by is None
