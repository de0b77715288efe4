"""The evidence in the reports: report.html's scope statement on the first page and its
Controls section, the Summary sheet's scope rows, the Gaps sheet's controls, all parsed
back from the files."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from reports.document.derive import derive
from reports.document.scope import configuration_sha256
from reports.excel import write_workbook
from reports.html import write_html
from scanner.model import ApiError
from tests.builders import (
    ADMIN,
    MANAGEMENT,
    MEMBER,
    analyzer,
    covered,
    make_document,
    organization,
    region_scan,
)

SCRIPT = "<script>alert(1)</script>"


class Elements(HTMLParser):
    """The text inside every element that has an id, the class of each, and the order in
    which ids appear."""

    VOID = frozenset({"meta", "br", "col", "img", "input", "link", "hr"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: dict[str, str] = {}
        self.classes: dict[str, list[str]] = {}
        self.order: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._parts: dict[str, list[str]] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        found = dict(attrs).get("id")
        self._open.append((tag, found))
        if found:
            self.order.append(found)
            self._parts[found] = []
            self.classes[found] = (dict(attrs).get("class") or "").split()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <line .../> and the like: no text, nothing to close

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or not any(name == tag for name, _ in self._open):
            return
        while self._open:
            name, found = self._open.pop()
            if found:
                self.text[found] = re.sub(r"\s+", " ", "".join(self._parts[found])).strip()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, found in self._open:
            if found:
                self._parts[found].append(data)


def page(tmp_path: Path, document: dict[str, Any]) -> tuple[str, Elements]:
    text = write_html(derive(document), tmp_path).read_text(encoding="utf-8")
    return text, Elements(text)


def scoped_document() -> dict[str, Any]:
    document = make_document([
        covered("us-east-1"),
        region_scan("sa-east-1", analyzers=[]),
        region_scan("me-south-1", error=ApiError("AccessDeniedException", "SCP", "ListAnalyzers")),
        region_scan("af-south-1", enabled=False, opt_in_status="NOT_OPTED_IN"),
        region_scan("us-west-1", excluded=f"decommissioned {SCRIPT}"),
    ], org=organization(accounts={MANAGEMENT: "management", ADMIN: "security",
                                  MEMBER: "workloads"}))
    document["api_calls"] = {"ListAnalyzers": 3, "ListFindings": 7, "GetCallerIdentity": 1}
    return document


def test_the_first_page_states_population_query_parameters_and_completeness(tmp_path):
    document = scoped_document()
    text, found = page(tmp_path, document)
    # On the first page: right after the verdict, before the table of contents.
    assert found.order.index("scope") < found.order.index("toc-h")
    assert found.order.index("verdict-h") < found.order.index("scope")
    assert found.text["scope-population"] == (
        "3 accounts in organization o-abcdef1234; regions covered: 1 of 2 regions assessed "
        "(1 with gaps); 4 enabled: 1 not assessed, 1 excluded; 1 not enabled.")
    assert found.text["scope-scanned"] == "me-south-1, sa-east-1, us-east-1"
    assert found.text["scope-not-enabled"] == "af-south-1"
    assert found.text["scope-excluded"] == f"us-west-1: decommissioned {SCRIPT}"
    assert "&lt;script&gt;" in text and SCRIPT not in text
    assert found.text["scope-query"] == ("11 API calls: GetCallerIdentity 1, ListAnalyzers 3, "
                                         "ListFindings 7.")
    parameters = found.text["scope-parameters"]
    assert parameters.startswith("coverage_types: ORGANIZATION.")
    assert configuration_sha256(document["configuration"]) in parameters
    assert f"All {len(document['configuration'])} settings are under Configuration" in parameters
    assert found.text["scope-completeness"] == ("Incomplete: 1 region(s) could not be assessed: "
                                                "me-south-1.")


def test_an_older_document_says_what_it_does_not_record(tmp_path):
    document = make_document()
    del document["api_calls"]
    del document["summary"]["controls"]
    for gap in document["gaps"]:
        del gap["controls"]
    _, found = page(tmp_path, document)
    assert found.text["scope-query"] == ("Not recorded: this scan document predates "
                                         "per-operation call counts.")
    assert "written before aa-scan mapped gaps to controls" in found.text["controls"]
    assert found.text["scope-completeness"].startswith("Complete")


def test_the_controls_section_answers_each_control(tmp_path):
    _, found = page(tmp_path, scoped_document())
    section = found.text["controls"]
    assert ("IAM.28 and the AWS Config rule evaluate each account separately: an organization "
            "analyzer in the administrator account does not make them pass in member accounts."
            ) in section
    keys = [k for k in found.order if k.startswith("control-")]
    assert keys == ["control-cis-1.20", "control-cis-1.19-v5", "control-cis-2.19-v6",
                    "control-cis-2.18-v7", "control-securityhub-iam.28",
                    "control-config-iam-external-access-analyzer-enabled"]
    cis = found.text["control-cis-1.20"]
    assert cis.startswith("CIS AWS Foundations Benchmark · versions 1.4.0, 1.5.0, 2.0.0, 3.0.0, "
                          "4.0.0 · 1.20 Ensure that IAM Access analyzer is enabled for all "
                          "regions Not met Not met: organization-wide analysis; per-account "
                          "evaluation not run (--member-accounts). Requires:")
    assert "1 gap(s) against it: sa-east-1: NO_ANALYZER." in cis
    assert "Not assessed, no evidence either way: me-south-1." in cis
    assert "Excluded by the configuration, outside this evidence: us-west-1" in cis
    # Where the numbers were checked is in the appendix, not beside the answer (issue 22).
    assert "https://github.com/turbot/steampipe-mod-aws-compliance/" not in cis
    assert "Not confirmed at the source:" not in cis
    appendix = found.text["provenance-cis-1.20"]
    assert "https://github.com/turbot/steampipe-mod-aws-compliance/" in appendix
    assert "Not confirmed at the source:" in appendix
    assert found.order.index("provenance-cis-1.20") > found.order.index("errors")
    assert "tone-bad" in found.classes["control-cis-1.20"]
    hub = found.text["control-securityhub-iam.28"]
    assert "AWS Security Hub · IAM.28 IAM Access Analyzer external access analyzer should be " \
           "enabled Not met" in hub
    assert (f"Evaluated in each account separately: an organization analyzer in account {ADMIN} "
            "(the delegated administrator) does not make this control pass in the "
            "organization's 2 other account(s)") in hub
    assert "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-28" \
        in found.text["provenance-securityhub-iam.28"]
    rule = found.text["control-config-iam-external-access-analyzer-enabled"]
    assert "Evaluated in each account separately" in rule
    assert ("https://docs.aws.amazon.com/config/latest/developerguide/"
            "iam-external-access-analyzer-enabled.html") in found.text[
        "provenance-config-iam-external-access-analyzer-enabled"]


def test_a_compliant_scan_meets_the_controls_and_gaps_name_theirs(tmp_path):
    _, found = page(tmp_path, make_document([covered("us-east-1")]))
    assert "tone-ok" in found.classes["control-cis-1.19-v5"]
    assert " Met Met: organization-wide analysis;" in found.text["control-cis-1.19-v5"]
    text, _ = page(tmp_path, make_document([covered("us-east-1"),
                                            region_scan("sa-east-1", analyzers=[])]))
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
    assert ("Bears on: CIS AWS Foundations Benchmark 1.20, CIS AWS Foundations Benchmark 1.19, "
            "CIS AWS Foundations Benchmark 2.19, CIS AWS Foundations Benchmark 2.18, "
            "AWS Security Hub IAM.28, AWS Config managed rule "
            "iam-external-access-analyzer-enabled") in plain


def test_the_summary_sheet_carries_the_scope_statement_and_the_gaps_their_controls(tmp_path):
    document = scoped_document()
    book = load_workbook(write_workbook(derive(document), tmp_path))
    rows = [[c.value for c in row] for row in book["Summary"].iter_rows(min_row=2)]
    scope = {row[1]: row[2] for row in rows if row[0] == "Scope"}
    assert scope == {
        "Population: accounts in the organization": 3,
        "Regions": "covered: 1 of 2 regions assessed (1 with gaps); 4 enabled: 1 not "
                   "assessed, 1 excluded; 1 not enabled",
        "Regions scanned, by name": "me-south-1, sa-east-1, us-east-1",
        "Regions not enabled, by name": "af-south-1",
        "Regions excluded, with the reason": f"us-west-1: decommissioned {SCRIPT}",
        "Query (API calls)": 11,
        "API calls: GetCallerIdentity": 1, "API calls: ListAnalyzers": 3,
        "API calls: ListFindings": 7,
        "Parameters": "the effective configuration (Configuration rows below)",
        "Configuration SHA-256": configuration_sha256(document["configuration"]),
        "Completeness": "incomplete: 1 region(s) could not be assessed: me-south-1",
    }
    controls = {row[1]: row[2] for row in rows if row[0] == "Controls"}
    assert controls["AWS Security Hub IAM.28"] == (
        "Not met: IAM Access Analyzer external access analyzer should be enabled (reading: "
        "organization-wide analysis; per-account evaluation not run (--member-accounts))")
    assert set(controls) == {
        "CIS AWS Foundations Benchmark v1.4.0, 1.5.0, 2.0.0, 3.0.0, 4.0.0 1.20",
        "CIS AWS Foundations Benchmark v5.0.0 1.19", "CIS AWS Foundations Benchmark v6.0.0 2.19",
        "CIS AWS Foundations Benchmark v7.0.0 2.18", "AWS Security Hub IAM.28",
        "AWS Config managed rule iam-external-access-analyzer-enabled"}
    gaps = [[c.value for c in row] for row in book["Gaps"].iter_rows(min_row=2)]
    assert [g[4] for g in gaps if g[0] == "Gap"] == ["NO_ANALYZER"]
    assert gaps[0][-2].startswith("CIS AWS Foundations Benchmark 1.20 (1.4.0, 1.5.0")


def test_an_unused_access_gap_bears_on_no_control_in_the_page(tmp_path):
    document = make_document([covered("us-east-1"),
                              region_scan("eu-west-1", analyzers=[analyzer("eu-west-1")])],
                             coverage_types=("ORGANIZATION", "ORGANIZATION_UNUSED_ACCESS"))
    text, found = page(tmp_path, document)
    assert [g["code"] for g in document["gaps"]] == ["MISSING_REQUIRED_TYPE"]
    assert "Bears on:" not in text
    assert " Met Met: organization-wide analysis;" in found.text["control-cis-1.20"]
