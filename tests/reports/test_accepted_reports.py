"""Accepted risk in every report: its own place (the HTML section, the Exceptions sheet, the
terminal), each accepted gap and finding shown as accepted where it appears, a verdict that
never reads plain Compliant, and every string of the register hostile."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from reports import excel
from reports.console import render_console
from reports.document.derive import derive
from tests.builders import analyzer, covered, exception, finding, make_document, region_scan

from .test_excel import column, data, header, summary_value
from .test_html import IMG, SCRIPT, render

FORMULA = '=HYPERLINK("http://evil","x")'


def document(**overrides):
    rules = overrides.pop("exceptions", None) or [
        exception("us-west-2", "ACCOUNT_SCOPE_ONLY", reason=f"{SCRIPT} {IMG}",
                  owner=FORMULA, ticket="@SUM(1)"),
        exception(resource="arn:aws:s3:::acme-site-*", expires="2026-11-10",
                  reason="The public website \u202egnp.exe", public=True),
        exception("sa-east-1", "NO_ANALYZER", expires="2026-10-01"),
        exception("eu-west-1", "NO_ANALYZER")]
    return make_document([
        covered("us-east-1", [finding(is_public=True, resource="arn:aws:s3:::acme-site-1")]),
        region_scan("us-west-2", [analyzer("us-west-2", type="ACCOUNT")]),
        region_scan("sa-east-1", [])], exceptions=rules, **overrides)


def compliant():
    return make_document([
        covered("us-east-1", [finding(is_public=True, resource="arn:aws:s3:::acme-site-1")]),
        region_scan("us-west-2", [analyzer("us-west-2", type="ACCOUNT")])],
        exceptions=[exception("us-west-2", "ACCOUNT_SCOPE_ONLY")])


def test_the_html_has_an_accepted_risk_section_and_never_a_plain_compliant(tmp_path: Path):
    text, page = render(tmp_path, compliant())
    assert 'class="verdict tone-accepted"' in text
    body = page.text()
    assert "Compliant with 1 accepted exception" in body
    assert "No coverage gap that an exception does not accept" in body
    assert '<a href="#accepted">Accepted risk</a>' in text
    (row,) = page.rows("register")
    assert row[0] == "Active" and row[1].startswith("gap ACCOUNT_SCOPE_ONLY in us-west-2")
    assert "ACCOUNT_SCOPE_ONLY in us-west-2" in row[5]
    # Where the gap appears, it says it is accepted.
    regions = page.rows("regions")
    west = next(r for r in regions if r[0].startswith("us-west-2"))
    assert "Accepted ACCOUNT_SCOPE_ONLY accepted until 2026-12-31 by secops@example.com" in (
        west[3])


def test_every_state_is_listed_and_every_string_escaped(tmp_path: Path):
    text, page = render(tmp_path, document())
    register = page.rows("register")
    assert [r[0] for r in register] == ["Expired", "Expiring soon", "Unused", "Active"]
    assert "counted again: the exception expired" in register[0][5]
    assert "nothing: region eu-west-1 is not in this scan's region list" in register[2][5]
    assert SCRIPT not in text and "<img" not in text  # autoescaped
    assert "&lt;script&gt;" in text
    assert "[U+202E]gnp.exe" in page.text()  # shown, never applied
    accepted = page.text()
    assert "1 accepted finding" in accepted and "accepted until 2026-11-10 (expiring soon)" in (
        accepted)
    detail = page.every_row("detail")
    assert any("Accepted until 2026-11-10" in cell for row in detail for cell in row)


def test_the_workbook_has_an_exceptions_sheet_and_cells_that_are_never_formulas(
        tmp_path: Path):
    path = excel.write_workbook(derive(document()), tmp_path)
    book = load_workbook(path)
    ws = book["Exceptions"]
    assert header(ws)[:4] == ["State", "Accepts", "Reason", "Owner"]
    assert column(ws, "State") == ["Expired", "Expiring soon", "Unused", "Active"]
    hostile = next(c for row in ws.iter_rows(min_row=2) for c in row if c.value == FORMULA)
    assert hostile.data_type == "s" and hostile.quotePrefix
    ticket = next(c for row in ws.iter_rows(min_row=2) for c in row if c.value == "@SUM(1)")
    assert ticket.quotePrefix
    gaps = data(book["Gaps"])
    accepted = next(r for r in gaps if r[0] == "Accepted gap")
    assert accepted[2] == "us-west-2" and accepted[-1].startswith("accepted until 2026-12-31")
    findings = column(book["Findings"], "Accepted (exception)")
    assert findings == ["accepted until 2026-11-10 (expiring soon) by secops@example.com, "
                        "RISK-101: The public website [U+202E]gnp.exe"]
    resting = excel.write_workbook(derive(compliant()), tmp_path / "resting")
    summary = load_workbook(resting)["Summary"]
    assert summary_value(summary, "Verdict") == "COMPLIANT with 1 accepted exception"


def test_a_scan_without_exceptions_says_so_in_its_own_place(tmp_path: Path):
    plain = make_document([covered("us-east-1")])
    _, page = render(tmp_path, plain)
    assert "No exceptions were configured for this scan" in page.text()
    book = load_workbook(excel.write_workbook(derive(plain), tmp_path))
    assert data(book["Exceptions"])[0][:1] == ["None"]
    assert "Exceptions" not in render_console(plain)


def test_the_terminal_lists_what_is_accepted_and_what_expired():
    lines = render_console(document()).splitlines()
    assert "Accepted (1, not counted by --fail-on):" in lines
    assert any(line.startswith("Exceptions (4): 1 expired, 1 expiring soon, 1 unused, 1 active")
               for line in lines)
    expired = next(line for line in lines if line.strip().startswith("EXPIRED"))
    assert "gap NO_ANALYZER in sa-east-1" in expired and "expired 31 days ago" in expired
    assert not any("\u202e" in line for line in lines)  # a reason cannot reorder the line
    assert "Verdict: COMPLIANT with" in render_console(compliant())
