"""report.xlsx: sheets, types, layout, hostile data, overflow and atomic writing.

Workbooks are read back with openpyxl in normal mode; formula checks also look at the raw
sheet XML, because a cell openpyxl reads as text could still carry an <f> element.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import io
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape

from reports import excel, tables
from reports.document.derive import derive
from reports.excel import cells, workbook, writer
from reports.formats import OutputFormat, writer_for
from scanner.model import ApiError, ArchiveRule
from tests.builders import (
    ADMIN,
    MANAGEMENT,
    MEMBER,
    T0,
    analyzer,
    covered,
    finding,
    make_document,
    organization,
    region_scan,
)

SHEETS = ["Summary", "Changes", "Gaps", "Exceptions", "Regions", "Findings", "By resource type",
          "By account",
          "Finding age", "Trend", "Archive rules", "Errors"]
FINDINGS_HEADERS = ["Region", "Resource type", "Resource", "Owner account", "Owner name",
                    "Principal", "Actions", "Conditions", "Public", "Status", "Scope",
                    "Created (UTC)", "Age (days)", "Updated (UTC)", "Analyzed (UTC)", "Error",
                    "Finding ID", "Analyzer ARN", "Accepted (exception)"]
CLASSIC_LABELS = ["S3 bucket", "IAM role", "KMS key", "Lambda function", "Lambda layer",
                  "SQS queue", "Secrets Manager secret"]
HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://evil","x")',
           "#REF!", "_x0041_ literal"]
GREEN, RED, AMBER, GREY = "C6EFCE", "FFC7CE", "FFEB9C", "E7E6E6"
RULE = ArchiveRule(analyzer_arn=f"arn:aws:access-analyzer:us-east-1:{MANAGEMENT}:analyzer/"
                                "organization-analyzer",
                   name="trusted-partner",
                   filter={"principal.AWS": {"eq": ["arn:aws:iam::999988887777:root",
                                                    "arn:aws:iam::999988887778:root"]},
                           "condition.aws:PrincipalOrgID": {"exists": True},
                           "isPublic": {"eq": ["false"]}},
                   created_at=T0, updated_at=T0 + dt.timedelta(hours=1))


def every_kind_document() -> dict:
    """One region of each status, findings of a classic and an extra type, an archive rule,
    an advisory, an organization error and a findings error."""
    east = dataclasses.replace(
        covered("us-east-1", findings=[
            finding("us-east-1"),
            finding("us-east-1", is_public=True, owner=ADMIN),
            finding("us-east-1", resource_type="AWS::SNS::Topic", resource="arn:aws:sns:t"),
        ]), archive_rules=(RULE,))
    west = region_scan("us-west-2", [analyzer("us-west-2")],
                       findings=[finding("us-west-2", resource_type="AWS::IAM::Role",
                                         condition={"aws:SourceIp": "10.0.0.0/8"})],
                       findings_errors=[ApiError("ThrottlingException", "slow down",
                                                 "access-analyzer:ListFindingsV2")])
    regions = [
        east, west,
        region_scan("sa-east-1", analyzers=[]),
        region_scan("me-south-1", error=ApiError("AccessDeniedException", "denied by SCP",
                                                 "access-analyzer:ListAnalyzers")),
        region_scan("af-south-1", enabled=False, opt_in_status="NOT_OPTED_IN"),
        region_scan("us-west-1", excluded="decommissioned"),
        region_scan("ap-northeast-1", [analyzer("ap-northeast-1", type="ACCOUNT")],
                    findings=[finding("ap-northeast-1", analyzer_arn=(
                        f"arn:aws:access-analyzer:ap-northeast-1:{ADMIN}:analyzer/"
                        "account-analyzer"))]),
    ]
    org = organization(role_account=MANAGEMENT, admins=(),
                       errors=[ApiError("AccessDenied", "no ListAccounts",
                                        "organizations:ListAccounts")])
    return make_document(regions, org=org, account=MANAGEMENT)


@pytest.fixture
def document(valid_document):
    return valid_document(every_kind_document())


@pytest.fixture
def book(document, tmp_path):
    return load_workbook(excel.write_workbook(derive(document), tmp_path))


def header(ws) -> list:
    return [c.value for c in ws[1]]


def data(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2)]


def column(ws, name: str) -> list:
    index = header(ws).index(name)
    return [row[index] for row in data(ws)]


def summary_value(ws, item: str):
    values = [row[2] for row in data(ws) if row[1] == item]
    assert len(values) == 1, item
    return values[0]


def sheet_xml(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                if name.startswith("xl/worksheets/")}


# --- structure --------------------------------------------------------------------------------

def test_writer_registry_resolves_to_write_workbook():
    assert writer_for(OutputFormat.XLSX) is excel.write_workbook


def test_sheets_in_order_with_exact_headers(book):
    assert book.sheetnames == SHEETS
    assert header(book["Summary"]) == ["Section", "Item", "Value"]
    assert header(book["Gaps"]) == ["Kind", "Scope", "Region", "Severity", "Code", "Title",
                                    "Detail", "Remediation", "Where and when to run it",
                                    "Controls", "Accepted (exception)"]
    assert header(book["Regions"]) == [
        "Region", "Status", "Reason", "Detail", "Opt-in status", "Analyzers", "Findings scope",
        "Active", "Public", "Cross-account", "Could not be analyzed", "Archived", "Resolved",
        "Complete", "Error code", "Error message"]
    assert header(book["Findings"]) == FINDINGS_HEADERS
    counts = ["active", "public", "cross-account", "could not be analyzed"]
    assert header(book["By resource type"]) == [
        "Region", "Status", "Findings scope", "Complete", "Total active", "Total public",
        "Total cross-account", "Total could not be analyzed",
        *(f"{label} {k}" for label in [*CLASSIC_LABELS, "SNS topic"] for k in counts)]
    assert header(book["By account"]) == [
        "Account ID", "Account name", "Active", "Public", "Cross-account",
        "Could not be analyzed", "Regions",
        *(f"{label} active" for label in [*CLASSIC_LABELS, "SNS topic"])]
    assert header(book["Archive rules"]) == [
        "Region", "Analyzer ARN", "Rule name", "Filter", "Can archive public findings", "Why",
        "Archived findings (its analyzer, region)", "Active findings (its analyzer, region)",
        "Created (UTC)", "Updated (UTC)"]
    assert header(book["Errors"]) == ["Scope", "Region", "Operation", "Code", "Message"]


def test_seven_classic_types_even_without_findings(tmp_path, valid_document):
    document = valid_document(make_document([covered("us-east-1")]))
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    labels = header(book["By resource type"])[8::4]
    assert labels == [f"{label} active" for label in CLASSIC_LABELS]
    assert data(book["Findings"]) == []
    assert data(book["By account"]) == []
    assert book["By account"].auto_filter.ref == f"A1:{get_column_letter(14)}1"


def test_row_counts_match_the_document(book, document):
    rules = sum(len(r["archive_rules"]) for r in document["regions"])
    assert rules == 1
    assert len(data(book["Regions"])) == len(document["regions"]) == 7
    assert len(data(book["Findings"])) == len(document["findings"]) == 5
    assert len(data(book["Gaps"])) == len(document["gaps"]) + len(document["advisories"])
    assert len(data(book["Archive rules"])) == rules
    assert len(data(book["Errors"])) == len(tables.errors(document)) == 3
    # One row per region plus the totals row.
    assert len(data(book["By resource type"])) == len(document["regions"]) + 1
    # One row per account plus the totals row.
    assert len(data(book["By account"])) == len(tables.account_totals(document)) + 1 == 3
    assert column(book["Findings"], "Finding ID") == [f["id"] for f in document["findings"]]
    assert column(book["Regions"], "Region") == [r["region"] for r in document["regions"]]


def test_frozen_header_autofilter_and_styled_header_on_every_sheet(book):
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        last = get_column_letter(ws.max_column)
        assert ws.auto_filter.ref == f"A1:{last}{ws.max_row}", ws.title
        first = ws["A1"]
        assert first.font.b is True, ws.title
        assert first.fill.fill_type == "solid", ws.title
        assert ws.print_title_rows == "$1:$1", ws.title


def test_every_sheet_prints_one_page_wide(book):
    """Issue 22: no sheet prints as strips of columns, page after page. Corrected
    (page-fixes): one page wide only where that keeps the text at 7 pt or more; a wider
    sheet (fit to one page, "By resource type" and Regions printed at 3-5 pt) prints as few
    pages wide as keep it there, with its first column repeated on each."""
    for ws in book.worksheets:
        title = ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True, title
        # 1 is the attribute's default (ECMA-376 18.3.1.63): a writer may leave it out.
        wide = ws.page_setup.fitToWidth or 1
        total = sum(ws.column_dimensions[get_column_letter(i)].width or 0
                    for i in range(1, ws.max_column + 1))
        # ~140 characters of 11-point text a page: printed at 7 pt or more, and no more
        # pages wide than that takes (a character of slack for the writer's padding).
        assert total * 7 / 11 <= 140 * wide + 1, (title, total, wide)
        assert wide == 1 or total * 7 / 11 > 140 * (wide - 1) - 1, (title, total, wide)
        if wide > 1:
            assert ws.print_title_cols == "$A:$A", title
        assert ws.page_setup.fitToHeight == 0, title
        assert ws.page_setup.orientation == "landscape", title
        assert ws.page_setup.paperSize in (9, "9"), title  # A4
    # The Gaps sheet is narrow enough to print at 8 pt or more: fit-to-width scales its
    # 11-point text to 8 points or more while its widths (characters of 11-point Calibri)
    # add up to no more than an A4 landscape page's 140 characters x 11/8.
    gaps = book["Gaps"]
    total = sum(gaps.column_dimensions[get_column_letter(i)].width
                for i in range(1, gaps.max_column + 1))
    assert total * 8 / 11 <= 140, total


def test_column_widths_follow_content_within_bounds(book):
    for ws in book.worksheets:
        widths = [ws.column_dimensions[get_column_letter(i)].width
                  for i in range(1, ws.max_column + 1)]
        assert all(writer.MIN_WIDTH <= w <= 90 for w in widths), (ws.title, widths)
    findings = book["Findings"]
    names = header(findings)

    def width(name):
        return findings.column_dimensions[get_column_letter(names.index(name) + 1)].width

    assert width("Analyzer ARN") == 60  # capped: ARNs are longer
    assert width("Public") < width("Resource") < width("Analyzer ARN")


def test_wrapped_rows_get_a_height_for_their_text(book):
    gaps = book["Gaps"]
    assert gaps.row_dimensions[2].height is not None and gaps.row_dimensions[2].height > 15
    assert book["Findings"].row_dimensions[2].height is None


# --- values and types -------------------------------------------------------------------------

def test_finding_cells_are_typed(book, document):
    ws = book["Findings"]
    rows = data(ws)
    names = header(ws)
    first = dict(zip(names, rows[0], strict=True))
    assert first["Created (UTC)"] == dt.datetime(2026, 11, 1, 12, 0)
    assert first["Updated (UTC)"] == dt.datetime(2026, 11, 2, 12, 0)
    assert first["Analyzed (UTC)"] == dt.datetime(2026, 11, 3, 12, 0)
    assert first["Public"] is False
    assert first["Owner account"] == MEMBER
    assert first["Owner name"] == "workloads"
    assert first["Principal"] == "AWS: arn:aws:iam::999999999999:root"
    assert first["Actions"] == "s3:GetObject"
    assert first["Scope"] == "ORGANIZATION"
    assert first["Status"] == "ACTIVE"
    assert first["Conditions"] is None
    assert column(ws, "Public") == [False, True, False, False, False]
    assert column(ws, "Scope")[-1] == "ACCOUNT (account-scoped)"
    assert column(ws, "Conditions")[3] == "aws:SourceIp: 10.0.0.0/8"
    created = ws.cell(row=2, column=names.index("Created (UTC)") + 1)
    assert created.is_date and created.number_format == excel.DATE_FORMAT
    public = ws.cell(row=2, column=names.index("Public") + 1)
    assert public.data_type == "b"


def test_region_rows(book):
    rows = {row[0]: dict(zip(header(book["Regions"]), row, strict=True))
            for row in data(book["Regions"])}
    east = rows["us-east-1"]
    assert east["Status"] == "Covered"
    assert east["Findings scope"] == "ORGANIZATION"
    assert (east["Active"], east["Public"], east["Cross-account"]) == (3, 1, 2)
    assert (east["Archived"], east["Resolved"], east["Complete"]) == (0, 0, True)
    assert east["Analyzers"] == "organization-analyzer (ORGANIZATION, ACTIVE)"
    assert rows["us-west-2"]["Complete"] is False
    gap = rows["sa-east-1"]
    assert (gap["Status"], gap["Reason"], gap["Active"]) == ("Gap", "NO_ANALYZER", None)
    error = rows["me-south-1"]
    assert error["Status"] == "Not assessed"
    assert (error["Error code"], error["Error message"]) == ("AccessDeniedException",
                                                            "denied by SCP")
    assert rows["af-south-1"]["Status"] == "Not enabled"
    assert rows["af-south-1"]["Opt-in status"] == "NOT_OPTED_IN"
    assert rows["us-west-1"]["Status"] == "Excluded"
    assert rows["ap-northeast-1"]["Findings scope"] == "ACCOUNT (account-scoped)"


def test_status_and_verdict_cells_are_coloured(book):
    ws = book["Regions"]
    # The colour, not the alpha byte of its ARGB (which Excel ignores in a fill).
    fills = {row[0].value: row[1].fill.fgColor.rgb[-6:] for row in ws.iter_rows(min_row=2)}
    assert fills["us-east-1"] == GREEN
    assert fills["sa-east-1"] == RED
    assert fills["ap-northeast-1"] == RED
    assert fills["me-south-1"] == AMBER
    assert fills["af-south-1"] == GREY
    assert fills["us-west-1"] == GREY
    summary = book["Summary"]
    verdict = next(row[2] for row in summary.iter_rows(min_row=2) if row[1].value == "Verdict")
    assert verdict.value == "NON_COMPLIANT"
    assert verdict.fill.fgColor.rgb[-6:] == RED
    assert book["By resource type"]["B2"].fill.fgColor.rgb[-6:] == GREEN


def test_summary(book, document):
    ws = book["Summary"]
    assert summary_value(ws, "Verdict") == "NON_COMPLIANT"
    assert summary_value(ws, "Headline") == tables.headline(document) == \
        f"{len(document['gaps'])} gaps (scan incomplete)"
    assert summary_value(ws, "Scan complete") is False
    assert summary_value(ws, "Organization ID") == "o-abcdef1234"
    assert summary_value(ws, "Scanning account") == f"{MANAGEMENT} (management)"
    assert summary_value(ws, "Scanning identity") == \
        f"arn:aws:sts::{MANAGEMENT}:assumed-role/Audit/aa-scan"
    assert summary_value(ws, "Scanning account role") == "MANAGEMENT"
    assert summary_value(ws, "Trusted access for Access Analyzer") is True
    assert summary_value(ws, "Delegated administrators") == "none"
    assert summary_value(ws, "Started (UTC)") == dt.datetime(2026, 11, 1, 12, 0)
    assert summary_value(ws, "Finished (UTC)") == dt.datetime(2026, 11, 1, 12, 0, 42)
    assert summary_value(ws, "Duration (seconds)") == 42
    assert summary_value(ws, "coverage_types") == "ORGANIZATION"
    assert summary_value(ws, "config_file") == "—"
    # The regions counted one way (reports.document.scope): covered of the regions assessed.
    for label, expected in (("Regions assessed", 4), ("Regions covered (of the regions "
                            "assessed)", 2), ("Regions with gaps", 2),
                            ("Regions not assessed", 1), ("Regions not enabled", 1),
                            ("Regions excluded", 1), ("Regions enabled", 6),
                            ("Regions listed", 7)):
        assert summary_value(ws, label) == expected, label
    assert summary_value(ws, "Regions").startswith("covered: 2 of 4 regions assessed")  # Scope
    assert summary_value(ws, "Active findings") == 5
    assert summary_value(ws, "Public") == 1
    assert summary_value(ws, "Cross-account") == 4
    assert summary_value(ws, "Archived (all regions)") == 0
    assert summary_value(ws, "Resolved (all regions)") == 0
    assert summary_value(ws, "Advisories") == 1
    assert summary_value(ws, "Failed calls (Errors sheet)") == 3


def test_gaps_and_advisories(book, document):
    rows = data(book["Gaps"])
    assert [r[0] for r in rows] == ["Gap"] * len(document["gaps"]) + ["Advisory"]
    advisory = rows[-1]
    assert advisory[1:5] == ["organization", None, "LOW", "NO_DELEGATED_ADMINISTRATOR"]
    gap = next(r for r in rows if r[2] == "sa-east-1")
    source = next(g for g in document["gaps"] if g["region"] == "sa-east-1")
    assert gap[1:-2] == [source[k] for k in ("scope", "region", "severity", "code", "title",
                                             "detail", "remediation", "remediation_note")]
    assert gap[-1] is None  # no exception accepts it
    # The controls the gap bears on, each once with its versions.
    assert gap[-2] == ("CIS AWS Foundations Benchmark 1.20 (1.4.0, 1.5.0, 2.0.0, 3.0.0, 4.0.0); "
                       "CIS AWS Foundations Benchmark 1.19 (5.0.0); CIS AWS Foundations "
                       "Benchmark 2.19 (6.0.0); CIS AWS Foundations Benchmark 2.18 (7.0.0); "
                       "AWS Security Hub IAM.28; "
                       "AWS Config managed rule iam-external-access-analyzer-enabled")
    assert advisory[-2] is None  # no delegated administrator: advice no control requires


def test_by_resource_type_matrix_and_totals(book):
    ws = book["By resource type"]
    names = header(ws)
    rows = {row[0]: dict(zip(names, row, strict=True)) for row in data(ws)}
    east = rows["us-east-1"]
    assert (east["Total active"], east["Total public"], east["Total cross-account"]) == (3, 1, 2)
    assert (east["S3 bucket active"], east["S3 bucket public"]) == (2, 1)
    assert east["SNS topic active"] == 1
    assert east["IAM role active"] == 0
    assert rows["sa-east-1"]["Total active"] is None  # not collected: blank, not zero
    total = rows["Total"]
    assert list(rows)[-1] == "Total"
    assert (total["Total active"], total["Total public"], total["Total cross-account"]) == \
        (5, 1, 4)
    assert total["IAM role active"] == 1
    assert ws.cell(row=ws.max_row, column=1).font.b is True


def test_by_account(book):
    rows = data(book["By account"])
    assert rows[0][:7] == [MEMBER, "workloads", 4, 0, 4, 0, 3]
    assert rows[1][:7] == [ADMIN, "security", 1, 1, 0, 0, 1]
    assert rows[2][:7] == ["Total", None, 5, 1, 4, 0, None]
    names = header(book["By account"])
    assert rows[0][names.index("S3 bucket active")] == 2
    assert rows[0][names.index("SNS topic active")] == 1


def test_archive_rules_and_errors(book):
    (rule,) = data(book["Archive rules"])
    assert rule[:3] == ["us-east-1", RULE.analyzer_arn, "trusted-partner"]
    assert rule[3] == ("principal.AWS is one of arn:aws:iam::999988887777:root, "
                       "arn:aws:iam::999988887778:root AND condition.aws:PrincipalOrgID exists "
                       "AND isPublic is false")
    assert rule[4] == "No"  # a named partner and an organization condition: narrow
    assert rule[6:8] == [0, 3]  # the archived and active findings of its analyzer there
    assert rule[8:] == [dt.datetime(2026, 11, 1, 12, 0), dt.datetime(2026, 11, 1, 13, 0)]
    assert data(book["Errors"]) == [
        ["organization", None, "organizations:ListAccounts", "AccessDenied", "no ListAccounts"],
        ["region", "us-west-2", "access-analyzer:ListFindingsV2", "ThrottlingException",
         "slow down"],
        ["region", "me-south-1", "access-analyzer:ListAnalyzers", "AccessDeniedException",
         "denied by SCP"],
    ]


def test_filter_text_operators():
    assert tables.filter_text({"resourceType": {"neq": ["AWS::IAM::Role"]},
                              "principal.AWS": {"contains": ["a", "b"]},
                              "error": {"exists": False}}) == (
        "resourceType is not AWS::IAM::Role AND principal.AWS contains any of a, b "
        "AND error does not exist")
    assert tables.filter_text(None) == ""


def test_timezone_aware_times_are_stored_as_utc(tmp_path):
    document = make_document([covered()])
    document["started_at"] = "2026-11-01T12:00:00Z"
    document["finished_at"] = "2026-11-01T12:00:42.5Z"
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    assert summary_value(book["Summary"], "Finished (UTC)") == dt.datetime(2026, 11, 1, 12, 0,
                                                                           42, 500000)


# --- hostile data -----------------------------------------------------------------------------

def hostile_document() -> dict:
    owners = {f"4000000000{i:02d}": text for i, text in enumerate(HOSTILE)}
    findings = [finding(resource=text, owner=owner, principal={"AWS": text}, action=(text,),
                        condition={"aws:SourceArn": text}, error=text)
                for owner, text in owners.items()]
    org = organization(accounts={**owners, ADMIN: "=cmd|' /C calc'!A0"})
    return make_document([covered(findings=findings)], org=org)


def test_no_formula_anywhere_and_text_preserved(tmp_path, valid_document):
    document = valid_document(hostile_document())
    path = excel.write_workbook(derive(document), tmp_path)
    for name, xml in sheet_xml(path).items():
        assert not re.search(r"<f[ >/]", xml), name
    book = load_workbook(path)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (ws.title, cell.coordinate, cell.value)
    ws = book["Findings"]
    # Excel decodes the OOXML escapes (_x000D_ for a carriage return, _x005F_ for a literal
    # underscore before "xHHHH_"); openpyxl leaves them, so decode as Excel does.
    text = {name: [unescape(v) for v in column(ws, name)]
            for name in ("Resource", "Owner name", "Principal", "Actions", "Conditions", "Error")}
    assert text["Resource"] == HOSTILE
    assert text["Owner name"] == HOSTILE
    assert text["Actions"] == HOSTILE
    assert text["Error"] == HOSTILE
    assert text["Principal"] == [f"AWS: {h}" for h in HOSTILE]
    assert text["Conditions"] == [f"aws:SourceArn: {h}" for h in HOSTILE]
    names = [unescape(v) for v in column(book["By account"], "Account name")[:-1]]
    assert sorted(names) == sorted(HOSTILE)  # (the last row is the totals)


def test_formula_like_cells_are_text_with_quote_prefix(tmp_path):
    path = excel.write_workbook(derive(hostile_document()), tmp_path)
    ws = load_workbook(path)["Findings"]
    resources = [row[2] for row in ws.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in resources)
    assert all(cell.quotePrefix for cell in resources if cell.value[:1] in "=+-@\t#")
    xml = sheet_xml(path)["xl/worksheets/sheet6.xml"]
    assert '<t>=HYPERLINK("http://evil","x")</t>' in xml.replace("&quot;", '"')
    assert "<t>_x000D_=1</t>" in xml
    assert "<t>_x005F_x0041_ literal</t>" in xml


def test_unsafe_characters_are_shown_not_stored(tmp_path):
    """Characters XLSX cannot hold, and those that hide or reorder text, are shown as
    [U+XXXX] (the one cleaning rule of every report), never stored or silently dropped."""
    dirty = "bucket\x00-\x07one\x1b[31m\x0b\ud800\ufffe\uffff\x1f\u202egnp.exe"
    document = make_document([covered(findings=[finding(resource=dirty, error="bad\x08byte")])])
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    ws = book["Findings"]
    assert column(ws, "Resource") == [
        "bucket[U+0000]-[U+0007]one[U+001B][31m[U+000B][U+D800][U+FFFE][U+FFFF][U+001F]"
        "[U+202E]gnp.exe"]
    assert column(ws, "Error") == ["bad[U+0008]byte"]


def test_tabs_and_newlines_are_kept(tmp_path):
    document = make_document([covered(findings=[finding(resource="a\tb\nc", error="x\r\ny")])])
    ws = load_workbook(excel.write_workbook(derive(document), tmp_path))["Findings"]
    assert column(ws, "Resource") == ["a\tb\nc"]
    assert unescape(column(ws, "Error")[0]) == "x\r\ny"


def test_over_long_values_are_truncated_with_a_marker(tmp_path):
    long = "A" * 40_000
    exact = "B" * cells.MAX_CELL_CHARS
    returns = "\r" * 40_000  # 7 characters each once escaped
    findings = [finding(resource=long), finding(resource=exact), finding(resource=returns)]
    document = make_document([covered(findings=findings)])
    ws = load_workbook(excel.write_workbook(derive(document), tmp_path))["Findings"]
    first, second, third = column(ws, "Resource")
    marker = "… [truncated, 40000 characters]"
    assert len(first) == cells.MAX_CELL_CHARS
    assert first == "A" * (cells.MAX_CELL_CHARS - len(marker)) + marker
    assert second == exact
    assert len(third) <= cells.MAX_CELL_CHARS
    assert third.endswith(marker)
    assert set(unescape(third[: -len(marker)])) == {"\r"}


# --- overflow ---------------------------------------------------------------------------------

def test_rows_beyond_the_sheet_limit_continue_on_further_sheets(tmp_path, monkeypatch):
    findings = [finding() for _ in range(7)]
    document = make_document([covered(findings=findings)])
    monkeypatch.setattr(writer, "MAX_ROWS", 4)  # header + 3 rows per sheet
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    titles = [t for t in book.sheetnames if t.startswith("Findings")]
    assert titles == ["Findings", "Findings (2)", "Findings (3)"]
    assert book.sheetnames.index("Findings (3)") + 1 == book.sheetnames.index("By resource type")
    ids = []
    for title, rows in zip(titles, (3, 3, 1), strict=True):
        ws = book[title]
        assert header(ws) == FINDINGS_HEADERS
        assert ws.max_row == rows + 1
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:S{rows + 1}"
        ids += column(ws, "Finding ID")
    assert ids == [f["id"] for f in document["findings"]]


def test_a_table_that_fills_a_sheet_exactly_needs_no_continuation(tmp_path, monkeypatch):
    document = make_document([covered(findings=[finding() for _ in range(3)])])
    monkeypatch.setattr(writer, "MAX_ROWS", 4)
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    assert "Findings (2)" not in book.sheetnames
    assert book["Findings"].max_row == 4


# --- atomic writing ---------------------------------------------------------------------------

def test_written_atomically_without_leftovers(tmp_path, document):
    path = excel.write_workbook(derive(document), tmp_path)
    assert path == tmp_path / "report.xlsx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None


def test_a_failure_midway_leaves_no_report(tmp_path, document, monkeypatch):
    def failing_rows(document):
        yield ["us-east-1", "arn", "rule", "filter", None, None]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(workbook, "archive_rule_rows", failing_rows)
    scratch = tmp_path / "tmp"  # where the sheets stream into their temporary files
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk on fire"):
        excel.write_workbook(derive(document), out)
    assert list(out.iterdir()) == []
    assert list(scratch.iterdir()) == []  # the findings are not left behind in /tmp


def test_a_failure_to_write_the_file_is_an_os_error(document, tmp_path, monkeypatch):
    """The CLI reports an OSError of one writer and goes on with the others; XlsxWriter's own
    wrapper of it (FileCreateError) would escape that."""

    class FullDisk(io.RawIOBase):
        failed = False

        def writable(self):
            return True

        def write(self, data):
            if not self.failed:  # once: the abandoned zip's end record may then go through
                self.failed = True
                raise OSError(errno.ENOSPC, "No space left on device")
            return len(data)

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(OSError, match="No space left on device"):
        excel.build_workbook(derive(document), FullDisk())
    assert list(scratch.iterdir()) == []


def test_a_failure_keeps_the_previous_report(tmp_path, document, monkeypatch):
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"previous")

    def failing_rows(document):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    monkeypatch.setattr(workbook, "error_rows", failing_rows)
    with pytest.raises(RuntimeError):
        excel.write_workbook(derive(document), tmp_path)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def test_by_resource_type_adds_up_with_the_findings_that_could_not_be_analyzed(tmp_path):
    document = make_document([covered("us-east-1", [
        finding(is_public=True), finding(), finding(error="ACCESS_DENIED"),
        finding(resource_type="AWS::KMS::Key", error="INTERNAL_ERROR")])])
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    ws = book["By resource type"]
    heads = header(ws)
    for row in data(ws):
        values = dict(zip(heads, row, strict=True))
        for prefix in ["Total", *CLASSIC_LABELS]:
            active = values[f"{prefix} active"] or 0
            parts = [values[f"{prefix} {k}"] or 0
                     for k in ("public", "cross-account", "could not be analyzed")]
            assert active == sum(parts), (prefix, row)
    total = dict(zip(heads, data(ws)[-1], strict=True))
    assert (total["Total active"], total["Total could not be analyzed"]) == (4, 2)
