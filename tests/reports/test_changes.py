"""What every report shows of the audit trail: the changes, the trend, the age of findings."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree

from openpyxl import load_workbook

from reports import excel
from reports.console import changes_line, render_console
from reports.document.derive import derive
from scanner.history.analysis import finding_age, trend
from scanner.history.diff import changes
from scanner.history.runs import run_view
from scanner.history.store import RunRecord
from tests.builders import T0, covered, finding, make_document, region_scan
from tests.reports.test_html import SCRIPT, render, squash

CHART_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
HOSTILE = f"arn:aws:s3:::{SCRIPT}\u202e=cmd|' /C calc'!A0"


def stable(n: int, **kwargs):
    return [finding(id=f"00000000-0000-4000-8000-{i:012d}", resource=f"arn:aws:s3:::b{i}",
                    **kwargs) for i in range(n)]


def week_later() -> dict:
    """A baseline, and a run a week later with a new gap, a closed gap, a new public
    finding with a hostile name and two findings closed; its trend has three runs."""
    before = make_document([covered("us-east-1", stable(4)), region_scan("eu-west-1", [])])
    after = make_document([covered("us-east-1", [*stable(2), finding(
        is_public=True, resource=HOSTILE)]), covered("eu-west-1"), region_scan("sa-east-1", [])])
    after["changes"] = changes(run_view(after), [run_view(before)], "history")
    records = [RunRecord(f"run-{i}", i, f"2026-11-{i + 1:02d}T00:00:00Z",
                         f"2026-11-{i + 1:02d}T00:01:00Z", True, False, False, "NON_COMPLIANT",
                         3, 1 + (i % 2), 1, 0, 10 * i, i, "scan") for i in range(3)]
    after["trend"] = trend(records)
    after["finding_age"] = finding_age(after)
    return after


def test_the_console_says_what_changed_in_one_line():
    document = week_later()
    line = changes_line(document)
    # eu-west-1 had no analyzer to read findings from before: its findings are not compared.
    assert line == "Since 2026-11-01: +1 gap, -1 gap, 2 regions changed status, " \
                   "+1 finding (1 public), 2 closed; not compared in 1 region (eu-west-1)"
    assert line in render_console(document)
    first = make_document([covered()])
    first["changes"] = changes(run_view(first), [], "history")
    assert changes_line(first) == "First recorded run: nothing to compare with yet."
    assert changes_line(make_document([covered()])) is None  # not compared at all


def test_the_page_opens_with_what_changed_and_the_trend(tmp_path: Path):
    text, page = render(tmp_path, week_later())
    squashed = squash(page.text())
    assert "Since 2026-11-01" in squashed
    for fragment in ("+1 gaps opened", "−1 gaps closed", "2 regions changed status",
                     "+1 new findings (1 public)", "2 findings closed"):
        assert fragment in squashed, fragment
    assert "No analyzer with the organization as zone of trust in sa-east-1" in squashed
    assert "[U+202E]" in squashed and SCRIPT not in text  # the hostile name, shown inert
    assert text.index('id="changes"') < text.index('id="organization"')
    # The trend: two inline charts, one point per run, no script.
    assert "Trend over 3 recorded runs (2026-11-01 to 2026-11-03)" in squashed
    # Regions covered, with gaps and assessed (issue 22: the gaps series, and covered against
    # the regions assessed, not against every region listed); active and public findings.
    assert text.count("<polyline") == 5 and text.count('class="dot covered"') == 3
    assert text.count('class="dot gaps"') == 3
    for label in ("2026-11-01", "2026-11-02", "2026-11-03"):  # every run labelled
        assert text.count(f">{label}</text>") == 2, label
    assert "<script" not in text


def test_two_runs_of_one_day_are_told_apart_by_their_time():
    from reports.html.changes import trend

    document = week_later()
    for point, when in zip(document["trend"], ("2026-12-04T06:00:00Z", "2026-12-04T18:30:00Z",
                                               "2026-12-05T06:00:00Z"), strict=True):
        point["started_at"] = when
    found = trend(document)
    assert (found["first"], found["last"]) == ("2026-12-04 06:00", "2026-12-05")
    labels = [t["label"] for t in found["coverage"]["chart"]["xticks"]]
    assert labels == ["2026-12-04 06:00", "2026-12-04 18:30", "2026-12-05"]
    # The y axis runs to a round number just above the most regions assessed, with ticks.
    chart = found["coverage"]["chart"]
    assert chart["yticks"][0]["label"] == "0" and len(chart["yticks"]) >= 2


def test_the_first_recorded_run_says_so(tmp_path: Path):
    document = make_document([covered()])
    document["changes"] = changes(run_view(document), [], "history")
    _, page = render(tmp_path, document)
    assert "This is the first recorded run" in squash(page.text())


def test_the_age_of_findings_and_the_oldest_public_one(tmp_path: Path):
    document = make_document([covered("us-east-1", [
        finding(is_public=True, resource="old-public", created_at=T0.replace(year=2025)),
        finding(), finding(resource_type="AWS::KMS::Key")])])
    document["finding_age"] = finding_age(document)
    _, page = render(tmp_path, document)
    squashed = squash(page.text())
    assert "Oldest active public finding: old-public (S3 bucket, us-east-1), public for 365 " \
           "days, since 2025-11-01" in squashed
    rows = {r[0]: r[1:] for r in page.rows("ages")}
    assert rows == {"S3 bucket": ["1", "0", "0", "1"], "KMS key": ["1", "0", "0", "0"]}
    assert page.rows("ages", "foot") == [["All types", "2", "0", "0", "1"],
                                         ["of which public", "0", "0", "0", "1"]]


def test_the_workbook_has_the_changes_the_trend_chart_and_the_ages(tmp_path: Path):
    document = week_later()
    path = excel.write_workbook(derive(document), tmp_path)
    book = load_workbook(path)
    changes_sheet = [[c.value for c in row] for row in book["Changes"].iter_rows(min_row=2)]
    kinds = [row[0] for row in changes_sheet]
    assert kinds == ["Baseline", "Gap opened", "Gap closed", "Region status", "Region status",
                     "New public finding", "Closed finding", "Closed finding", "Not compared"]
    new = changes_sheet[kinds.index("New public finding")]
    assert new[2].startswith("arn:aws:s3:::<script>") and "[U+202E]" in new[2]
    trend_rows = [[c.value for c in row] for row in book["Trend"].iter_rows(min_row=2)]
    assert [row[0] for row in trend_rows] == ["run-0", "run-1", "run-2"]
    assert [row[8] for row in trend_rows] == [0, 10, 20]
    with zipfile.ZipFile(path) as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        # A line chart, whatever prefix the writer gives the DrawingML chart namespace.
        chart = ElementTree.fromstring(archive.read(charts[0]))
        assert len(charts) == 2 and chart.find(f".//{{{CHART_NS}}}lineChart") is not None
    ages = [[c.value for c in row] for row in book["Finding age"].iter_rows(min_row=2)]
    assert ages[-2][:5] == ["All types", 3, 0, 0, 0]
    assert ages[-1][0] == "of which public"
    findings = book["Findings"]
    heads = [c.value for c in findings[1]]
    assert {row[heads.index("Age (days)")].value for row in findings.iter_rows(min_row=2)} == {
        0.0}
    summary = {row[1].value: row[2].value for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Since the baseline"] == changes_line(document)
