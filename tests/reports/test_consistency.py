"""Every report says what scan.json says (issue 15): read back from the rendered page and the
workbook, figure by figure, for a scan with findings that could not be analyzed, a region
whose findings are incomplete, gaps with remediation notes and a Findings sheet split."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from reports import excel
from reports.console import render_console
from reports.document.derive import derive
from reports.excel import writer
from reports.html import write_html
from scanner.model import ApiError
from tests.builders import analyzer, covered, finding, make_document, region_scan
from tests.reports.test_html import Page, squash

THROTTLED = ApiError("ThrottlingException", "slow down", "access-analyzer:ListFindings")


@pytest.fixture(scope="module")
def document():
    east = [finding(is_public=True), finding(), finding(error="ACCESS_DENIED"),
            finding(resource_type="AWS::KMS::Key", error="INTERNAL_ERROR", owner="444444444444"),
            finding(resource_type="AWS::KMS::Key")]
    west = [finding(region="eu-west-1", error="ACCESS_DENIED")]
    return make_document([covered("us-east-1", east),
                          region_scan("eu-west-1", [analyzer("eu-west-1")], west,
                                      findings_errors=[THROTTLED]),
                          region_scan("sa-east-1", [])])


@pytest.fixture(scope="module")
def rendered(document, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    html = (write_html(derive(document), folder, max_rows_per_type=2)).read_text()
    original = writer.MAX_ROWS
    writer.MAX_ROWS = 4  # 3 findings a sheet: the 6 findings need Findings and Findings (2)
    try:
        book = load_workbook(excel.write_workbook(derive(document), folder))
    finally:
        writer.MAX_ROWS = original
    return Page(html), book, render_console(document)


def cells(book, title):
    """The data rows of a table, across its continuation sheets (the fixture writes at
    most three rows a sheet)."""
    sheets = [book[t] for t in book.sheetnames if t == title or t.startswith(f"{title} (")]
    return [list(row) for ws in sheets for row in ws.iter_rows(min_row=2)]


def rows(book, title):
    return [[c.value for c in row] for row in cells(book, title)]


def test_the_workbook_carries_every_remediation_note(document, rendered):
    _, book, _ = rendered
    notes = {(r[2], r[4]): r[8] for r in rows(book, "Gaps") if r[0] == "Gap"}
    assert notes and notes == {(g["region"], g["code"]): g["remediation_note"] or None
                               for g in document["gaps"]}
    assert all(notes.values())


def test_findings_that_could_not_be_analyzed_are_a_figure_everywhere(document, rendered):
    page, book, console = rendered
    errors = sum(1 for f in document["findings"] if f["error"])
    assert errors == 3
    text = squash(page.text())
    assert f"{errors}+ Could not be analyzed" in text  # the card (a lower bound: see below)
    assert f"{errors} could not be analyzed" in text  # the matrix caption
    types = {r[0].split(" ")[0] + " " + r[0].split(" ")[1]: r for r in page.rows("types")}
    assert types["S3 bucket"][5] == "2" and types["KMS key"][5] == "1"
    accounts = {r[0]: r for r in page.rows("accounts")}
    assert accounts["444444444444"][5] == "1" and accounts["333333333333"][5] == "2"
    assert page.rows("accounts", "foot")[0][4] == f"{errors}+"
    # Some of them are listed in the capped detail, with their error.
    details = page.every_row("detail")
    assert sum(1 for r in details if "Error" in r[5]) >= 2
    summary = {r[1]: r[2] for r in rows(book, "Summary")}
    assert summary["Could not be analyzed"] == errors
    by_type = rows(book, "By resource type")
    heads = [c.value for c in book["By resource type"][1]]
    assert by_type[-1][heads.index("Total could not be analyzed")] == errors
    by_account = rows(book, "By account")
    assert by_account[-1][:7] == ["Total", None, 6, 1, 2, errors, None]
    assert f"{errors}+ could not be analyzed" in console


def test_a_lower_bound_is_marked_the_same_way_everywhere(document, rendered):
    page, book, console = rendered
    active = document["summary"]["active_findings"]
    assert not document["regions"][1]["complete"]  # eu-west-1: a call failed
    text = squash(page.text())
    assert f"{active}+ Active findings" in text
    assert page.rows("matrix", "foot")[0][-1].startswith(f"{active}+")
    assert f"Active findings: {active}+" in console
    summary = {r[1].value: r[2] for r in cells(book, "Summary")}
    cell = summary["Active findings"]
    assert cell.value == active and cell.number_format == '#,##0"+"'
    assert "lower bounds" in summary["Counts marked +"].value


def test_split_findings_are_named_in_the_summary(document, rendered):
    _, book, _ = rendered
    assert book.sheetnames[book.sheetnames.index("Findings") + 1] == "Findings (2)"
    summary = {r[1]: r[2] for r in rows(book, "Summary")}
    assert summary["Findings sheets"] == "Findings, Findings (2)"


def test_a_complete_scan_has_no_plus(tmp_path: Path):
    document = make_document([covered("us-east-1", [finding(), finding(error="X")])])
    text = squash(Page(write_html(derive(document), tmp_path).read_text()).text())
    assert "2 Active findings" in text and "2+" not in text
    assert "1 Could not be analyzed" in text
