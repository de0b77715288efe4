"""Internal access, unused access and managed_by in every report, hostile strings inert."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from reports import excel
from reports.console import render_console
from reports.document.derive import derive
from scanner.model import (
    AccountUnusedAccess,
    AnalysisScan,
    AnalysisStatistics,
    StatusCounts,
)
from tests.builders import ADMIN, MEMBER, analyzer, make_document, organization, region_scan

from .test_excel import HOSTILE, column, header, sheet_xml
from .test_html import IMG, SCRIPT, Page, render, squash

SLY = f"{SCRIPT}{IMG}"
EVIL_SERVICE = f"{SCRIPT}.amazonaws.com"


def analysis_finding(analyzer_arn: str, resource: str, kind: str, resource_type: str,
                     owner: str = MEMBER, region: str = "us-east-1") -> dict[str, Any]:
    return {"region": region, "analyzer_arn": analyzer_arn, "id": f"id-{resource}",
            "finding_type": kind, "resource_type": resource_type, "resource": resource,
            "resource_owner_account": owner, "status": "ACTIVE",
            "created_at": "2026-05-01T10:00:00Z", "updated_at": "2026-05-01T10:00:00Z",
            "analyzed_at": "2026-05-01T10:00:00Z", "error": None}


def analyses_document(texts: list[str], unused_findings: bool = True) -> dict[str, Any]:
    """us-east-1: external, internal and unused analyzers, every string from AWS one of
    `texts`; eu-west-1: a service-linked unused analyzer and a future type."""
    internal = replace(analyzer("us-east-1", type="ORGANIZATION_INTERNAL_ACCESS",
                                name="internal"))
    unused = analyzer("us-east-1", type="ORGANIZATION_UNUSED_ACCESS", name="unused")
    linked = replace(analyzer("eu-west-1", type="ORGANIZATION_UNUSED_ACCESS",
                              name=texts[0]), managed_by=texts[-1])
    future = analyzer("eu-west-1", type="ORGANIZATION_FUTURE_THING", name="future")
    internal_scan = AnalysisScan(
        internal,
        AnalysisStatistics(len(texts), 1, 0, by_resource_type={
            "AWS::S3::Bucket": StatusCounts(len(texts), 1, 0)}),
        tuple(analysis_finding(internal.arn, t, "InternalAccess", "AWS::S3::Bucket")
              for t in texts), True)
    unused_scan = AnalysisScan(
        unused,
        AnalysisStatistics(len(texts), 0, 2, by_finding_type={"UnusedIAMRole": len(texts)},
                           by_account=(AccountUnusedAccess(MEMBER, len(texts),
                                                           {"UnusedIAMRole": len(texts)}),)),
        tuple(analysis_finding(unused.arn, t, "UnusedIAMRole", "AWS::IAM::Role")
              for t in texts) if unused_findings else (), unused_findings)
    east = replace(region_scan("us-east-1", [analyzer("us-east-1"), internal, unused]),
                   analyses=(internal_scan, unused_scan))
    west = replace(region_scan("eu-west-1", [analyzer("eu-west-1"), linked, future]),
                   analyses=(AnalysisScan(linked, AnalysisStatistics(0, 0, 0)),))
    org = organization(accounts={MEMBER: texts[1], ADMIN: "security"})
    return make_document([east, west], org=org)


def caption_rows(text: str, caption: str) -> list[list[str]]:
    """Body rows of the one table with this caption (or this caption and ': N of M shown')."""
    page = Page(text)
    (table,) = [t for t in page.tables
                if t["caption"] == caption or t["caption"].startswith(f"{caption}:")]
    return [[squash(" ".join(cell)) for cell in row] for row in table["body"]]


def test_html_has_both_sections_escaped(tmp_path: Path, valid_document) -> None:
    document = valid_document(analyses_document([SLY, f"name {SCRIPT}", EVIL_SERVICE]))
    text, page = render(tmp_path, document)
    assert not re.search(r"<script", text, re.IGNORECASE)
    assert {tag for tag, _ in page.tags} & {"script", "img"} == set()
    assert {"internal-access", "unused-access"} <= page.ids
    internal = caption_rows(text, "Internal-access findings")
    assert internal[0][0].startswith(SLY)  # resource, read back as it was
    unused = caption_rows(text, "Unused-access findings")
    assert [r[1] for r in unused] == ["Unused roles"] * 3
    accounts = caption_rows(text, "Active unused-access findings per analyzer and finding "
                            "type, and the accounts with the most")
    assert any(row[2] == f"{MEMBER} name {SCRIPT}" for row in accounts)  # account name
    analyzers = caption_rows(text, "Unused-access analyzers")
    linked = next(r for r in analyzers if r[0] == "eu-west-1")
    assert SLY in linked[1] and f"managed by {EVIL_SERVICE}" in linked[1]
    regions = {r[0].split()[0]: r for r in page.rows("regions")}
    assert f"managed by {EVIL_SERVICE}" in regions["eu-west-1"][2]
    assert "unknown type (newer than this aa-scan)" in regions["eu-west-1"][2]


def test_html_says_unused_findings_were_not_read(tmp_path: Path) -> None:
    text, _ = render(tmp_path, analyses_document(["a", "b", "c"], unused_findings=False))
    assert "Findings not read: statistics only" in text


def test_workbook_sheets_never_hold_a_formula(tmp_path: Path, valid_document) -> None:
    document = valid_document(analyses_document(HOSTILE))
    path = excel.write_workbook(derive(document), tmp_path)
    for name, xml in sheet_xml(path).items():
        assert not re.search(r"<f[ >/]", xml), name
    book = load_workbook(path)
    for title in ("Internal access", "Internal findings", "Unused access", "Unused findings"):
        for row in book[title].iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (title, cell.coordinate, cell.value)
    resources = [unescape(v) for v in column(book["Internal findings"], "Resource")]
    assert resources == HOSTILE
    assert [unescape(v) for v in column(book["Unused findings"], "Resource")] == HOSTILE
    assert header(book["Unused access"])[5:10] == ["Active", "Unused roles",
                                                   "Unused access keys", "Unused passwords",
                                                   "Unused permissions"]
    managers = [unescape(v) for v in column(book["Unused access"], "Managed by") if v]
    assert managers == [HOSTILE[-1]]
    analyzers = column(book["Regions"], "Analyzers")
    assert any(f"managed by {HOSTILE[-1]}" in unescape(v) for v in analyzers if v)
    assert any("unknown type" in v for v in analyzers if v)


def test_console_lines_are_one_line_each() -> None:
    text = render_console(analyses_document([SLY, "x", "\x1b[31mevil\nline.amazonaws.com"]))
    lines = [line for line in text.splitlines() if line.startswith(("Internal access:",
                                                                    "Unused access:"))]
    assert len(lines) == 3
    assert "Internal access: internal (us-east-1): 3 active; 3 finding(s) read." in lines
    assert any("managed by [U+001B][31mevil[U+000A]line.amazonaws.com" in line
               for line in lines)
    assert "\x1b" not in text


def test_a_document_from_before_issue_12_renders_as_before(tmp_path: Path,
                                                           valid_document) -> None:
    """No internal_access / unused_access blocks, no managed_by or analysis keys: valid, and
    every report renders without the new sections (a --from-json of an older scan)."""
    document = analyses_document(["a", "b", "c"])
    del document["internal_access"], document["unused_access"]
    for region in document["regions"]:
        for entry in region["analyzers"]:
            del entry["managed_by"], entry["analysis"]
    valid_document(document)
    _, page = render(tmp_path, document)
    assert "internal-access" not in page.ids and "unused-access" not in page.ids
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    assert "Internal access" not in book.sheetnames and "Unused access" not in book.sheetnames
    console = render_console(document)
    assert "Internal access:" not in console and "Unused access:" not in console


def test_an_account_without_a_breakdown_by_type_says_so_instead_of_zeros(tmp_path: Path) -> None:
    """Issue 22: AWS can give an account of the top ten a total and no per-type breakdown;
    the workbook showed 0 for every type."""
    document = analyses_document(["a", "b", "c"])
    stats = document["unused_access"]["analyzers"][0]["statistics"]
    stats["by_account"] = [{"account": MEMBER, "active": 5, "by_finding_type": {}},
                           {"account": ADMIN, "active": 0, "by_finding_type": {}}]
    book = load_workbook(excel.write_workbook(derive(document), tmp_path))
    rows = {row[3]: row for row in book["Unused access"].iter_rows(min_row=2, values_only=True)}
    first = header(book["Unused access"]).index("Unused roles")
    assert rows[MEMBER][5] == 5 and rows[MEMBER][first] == "no breakdown given"
    assert rows[ADMIN][first] == 0  # nothing active: zero of every type is the truth
    text, _ = render(tmp_path, document)
    assert "no breakdown given by AWS for this account" in text
