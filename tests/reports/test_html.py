"""report.html: the sections, the numbers in them, escaping of hostile data, atomic writing."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reports.document.derive import derive
from reports.formats import OutputFormat, writer_for
from reports.html import environment, visible, write_html
from scanner.model import ApiError
from tests.builders import (
    ADMIN,
    MANAGEMENT,
    MEMBER,
    analyzer,
    covered,
    finding,
    make_document,
    organization,
    region_scan,
)

CLASSIC_LABELS = ["S3 bucket", "IAM role", "KMS key", "Lambda function", "Lambda layer",
                  "SQS queue", "Secrets Manager secret"]
SECTIONS = {"summary", "scope", "controls", "organization", "gaps", "regions", "matrix",
            "accounts", "findings", "errors"}
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ACCOUNTS = {MANAGEMENT: "management", ADMIN: "security-tooling", MEMBER: "payments-prod"}


# -- reading the page -------------------------------------------------------------------------


class Page(HTMLParser):
    """Tags, ids, texts of <pre> blocks and the tables (caption, head, body, foot rows)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.tables: list[dict[str, Any]] = []
        self.pre: list[str] = []
        self.texts: list[str] = []
        self._table: dict[str, Any] | None = None
        self._part = "body"
        self._row: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._pre: list[str] | None = None
        self._caption: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "table":
            self._table = {"class": (attributes.get("class") or "").split(), "caption": "",
                           "head": [], "body": [], "foot": [], "row_classes": []}
            self.tables.append(self._table)
            self._part = "body"
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = {"thead": "head", "tbody": "body", "tfoot": "foot"}[tag]
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table[self._part].append(self._row)
            if self._part == "body":
                self._table["row_classes"].append((attributes.get("class") or "").split())
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._row.append(self._cell)
        elif tag == "pre":
            self._pre = []
        elif tag == "caption":
            self._caption = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = self._row = self._cell = None
        elif tag == "tr":
            self._row = self._cell = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "pre" and self._pre is not None:
            self.pre.append("".join(self._pre))
            self._pre = None
        elif tag == "caption" and self._caption is not None and self._table is not None:
            self._table["caption"] = squash(" ".join(self._caption))
            self._caption = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        for sink in (self._cell, self._pre, self._caption):
            if sink is not None:
                sink.append(data)

    def table(self, css_class: str) -> dict[str, Any]:
        found = [t for t in self.tables if css_class in t["class"]]
        assert len(found) == 1, f"{len(found)} tables of class {css_class}"
        return found[0]

    def rows(self, css_class: str, part: str = "body") -> list[list[str]]:
        return [[squash(" ".join(cell)) for cell in row] for row in self.table(css_class)[part]]

    def every_row(self, css_class: str) -> list[list[str]]:
        """Body rows of every table of a class (the detail has one table per resource type)."""
        return [[squash(" ".join(cell)) for cell in row]
                for table in self.tables if css_class in table["class"] for row in table["body"]]

    def text(self) -> str:
        return squash(" ".join(self.texts))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def render(directory: Path, document: dict[str, Any], **options: Any) -> tuple[str, Page]:
    path = write_html(derive(document), directory, **options)
    assert path == directory / "report.html"
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def by_first_cell(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row for row in rows}


# -- documents --------------------------------------------------------------------------------


def every_status_document() -> dict[str, Any]:
    return make_document(
        regions=[
            covered("us-east-1", findings=[
                finding("us-east-1", is_public=True, owner=MEMBER),
                finding("us-east-1", owner=MEMBER),
                finding("us-east-1", resource_type="AWS::SNS::Topic", owner=ADMIN),
            ]),
            covered("eu-west-1", findings=[finding("eu-west-1", resource_type="AWS::KMS::Key",
                                                   owner=MANAGEMENT)]),
            region_scan("sa-east-1", analyzers=[]),
            region_scan("me-south-1", error=ApiError("AccessDeniedException",
                                                     "explicit deny in an SCP", "ListAnalyzers")),
            region_scan("af-south-1", enabled=False, opt_in_status="NOT_OPTED_IN"),
            region_scan("us-west-1", excluded="decommissioned in 2025"),
        ],
        org=organization(accounts=ACCOUNTS))


def hostile_document() -> dict[str, Any]:
    """Markup in every string AWS hands us: names, ARNs, principals, conditions, errors."""
    return make_document(
        regions=[
            covered("us-east-1", findings=[
                finding("us-east-1", resource=f"arn:aws:s3:::{SCRIPT}{IMG}",
                        principal={"AWS": f"{IMG}{SCRIPT}"},
                        condition={f"aws:{SCRIPT}{IMG}": "o-1"}, owner=MEMBER),
            ]),
            region_scan("eu-west-1", analyzers=[analyzer("eu-west-1", name=f"{SCRIPT}{IMG}")]),
            region_scan("me-south-1", error=ApiError("AccessDenied", f"{SCRIPT} {IMG}",
                                                     "ListAnalyzers")),
        ],
        org=organization(accounts={**ACCOUNTS, MEMBER: f"{SCRIPT}{IMG}"}))


# -- sections and numbers -----------------------------------------------------------------------


def test_every_section_is_there_and_in_the_table_of_contents(tmp_path: Path) -> None:
    text, page = render(tmp_path, every_status_document())
    assert page.ids >= SECTIONS
    links = {a.get("href") for tag, a in page.tags if tag == "a"}
    # The scope statement is the first page itself: nothing to jump to.
    assert {f"#{s}" for s in SECTIONS - {"summary", "scope"}} <= links
    assert text.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in text


def test_the_header_states_the_verdict_and_who_scanned(tmp_path: Path) -> None:
    document = every_status_document()
    text, page = render(tmp_path, document)
    body = page.text()
    assert "1 gap (scan incomplete)" in body
    assert 'class="verdict tone-bad"' in text
    assert "o-abcdef1234" in body
    assert f"arn:aws:sts::{ADMIN}:assumed-role/Audit/aa-scan" in body
    assert "Delegated administrator" in body
    assert "2026-11-01 12:00:00 UTC" in body and "2026-11-01 12:00:42 UTC" in body
    assert f"aa-scan {document['tool']['version']}" in body
    assert "coverage_types" in body


def test_a_compliant_scan_is_green(tmp_path: Path) -> None:
    text, page = render(tmp_path, make_document())
    assert 'class="verdict tone-ok"' in text
    assert "Compliant" in page.text()
    assert "No coverage gaps were found." in page.text()


def test_every_region_has_a_row_with_its_status_label(tmp_path: Path) -> None:
    _, page = render(tmp_path, every_status_document())
    rows = by_first_cell(page.rows("regions"))
    statuses = {region.split()[0]: row[1] for region, row in rows.items()}
    # Regions not enabled are folded into one line under the table (issue 22: they took
    # three printed pages), not a row each.
    assert statuses == {"us-east-1": "Covered", "eu-west-1": "Covered", "sa-east-1": "Gap",
                        "me-south-1": "Not assessed", "us-west-1": "Excluded"}
    assert re.search(r"Not enabled \(1\).{0,120}af-south-1", squash(page.text()))
    assert [r[0].split()[0] for r in page.rows("regions")][:2] == ["me-south-1", "sa-east-1"]
    tones = {row[0].split()[0]: next(c for c in classes if c.startswith("st-"))
             for row, classes in zip(page.rows("regions"), page.table("regions")["row_classes"],
                                     strict=True)}
    assert tones == {"us-east-1": "st-ok", "eu-west-1": "st-ok", "sa-east-1": "st-bad",
                     "me-south-1": "st-warn", "us-west-1": "st-excl"}
    me_south = next(r for r in page.rows("regions") if r[0].startswith("me-south-1"))
    assert "explicit deny in an SCP" in me_south[3]
    us_east = next(r for r in page.rows("regions") if r[0].startswith("us-east-1"))
    assert us_east[4].startswith("3") and us_east[5] == "1"


def test_incomplete_findings_are_flagged(tmp_path: Path) -> None:
    document = make_document(regions=[region_scan(
        "us-east-1", analyzers=[analyzer()], findings=[finding()],
        findings_errors=[ApiError("ThrottlingException", "slow down", "ListFindings")])])
    _, page = render(tmp_path, document)
    row = page.rows("regions")[0]
    assert "Findings incomplete" in row[3]
    assert row[4].startswith("1+")
    matrix_row = page.rows("matrix")[0]
    assert "Incomplete" in matrix_row[0]
    assert matrix_row[-1] == "1+ 0 / 1"
    assert page.rows("matrix", "foot")[0][-1] == "1+ 0 / 1"


def test_matrix_has_the_classic_columns_an_extra_type_and_totals(tmp_path: Path) -> None:
    _, page = render(tmp_path, every_status_document())
    header = page.rows("matrix", "head")[0]
    assert header == ["Region", *CLASSIC_LABELS, "SNS topic", "Total"]
    rows = by_first_cell(page.rows("matrix"))
    assert rows["us-east-1"][1] == "2 1 / 1"  # S3: 2 active, 1 public, 1 cross-account
    assert rows["us-east-1"][8] == "1 0 / 1"  # SNS
    assert rows["us-east-1"][9] == "3 1 / 2"
    assert rows["sa-east-1"][1] == "Gap: findings not collected"
    totals = page.rows("matrix", "foot")[0]
    assert totals[0] == "All regions"
    assert totals[1] == "2 1 / 1" and totals[3] == "1 0 / 1" and totals[-1] == "4 1 / 3"


def test_matrix_without_extra_types_has_only_the_classic_columns(tmp_path: Path) -> None:
    _, page = render(tmp_path, make_document(regions=[covered(findings=[finding()])]))
    assert page.rows("matrix", "head")[0] == ["Region", *CLASSIC_LABELS, "Total"]


def test_account_scoped_findings_are_labelled(tmp_path: Path) -> None:
    account = analyzer("ap-northeast-1", type="ACCOUNT")
    document = make_document(regions=[region_scan(
        "ap-northeast-1", analyzers=[account],
        findings=[finding("ap-northeast-1", analyzer_arn=account.arn)])])
    _, page = render(tmp_path, document)
    assert "Account-scoped" in page.rows("matrix")[0][0]
    assert "Account-scoped analyzer" in page.rows("regions")[0][3]
    assert "Account-scoped" in page.every_row("detail")[0][5]


def test_gaps_carry_their_remediation_commands(tmp_path: Path) -> None:
    document = make_document(regions=[covered(), region_scan("sa-east-1", analyzers=[])],
                             org=organization(trusted=False, admins=()), account=MANAGEMENT)
    _, page = render(tmp_path, document)
    commands = set(page.pre)
    assert ("aws accessanalyzer create-analyzer --analyzer-name organization-analyzer "
            "--type ORGANIZATION --region sa-east-1") in commands
    assert ("aws organizations enable-aws-service-access --service-principal "
            "access-analyzer.amazonaws.com") in commands
    assert any(c.startswith("aws organizations register-delegated-administrator")
               for c in commands)
    organization_rows = by_first_cell(page.rows("org"))
    trusted = organization_rows["Trusted access for IAM Access Analyzer"]
    assert trusted[1] == "Disabled"
    assert "enable-aws-service-access" in trusted[2]
    admins = organization_rows["Delegated administrator"]
    assert admins[1] == "None registered" and "register-delegated-administrator" in admins[2]
    gaps = page.text()
    assert "CRITICAL" in gaps and "Run in the management account 111111111111." in gaps


def test_remediation_block_holds_only_the_command(tmp_path: Path) -> None:
    html_text, _ = render(tmp_path, every_status_document())
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", html_text, flags=re.S)
    commands = [b for b in blocks if "create-analyzer" in b]
    assert commands, blocks
    assert all("Run in account" not in b for b in commands)


def test_accounts_are_named_when_the_organization_lists_them(tmp_path: Path) -> None:
    _, page = render(tmp_path, every_status_document())
    rows = by_first_cell(page.rows("accounts"))
    assert rows[MEMBER][1] == "payments-prod"
    assert rows[MEMBER][2:5] == ["2", "1", "1"]
    assert rows[ADMIN][1].startswith("security-tooling")
    assert "delegated administrator" in rows[ADMIN][1]
    assert rows[MANAGEMENT][1].startswith("management")
    detail = page.every_row("detail")
    assert any(MEMBER in row[1] and "payments-prod" in row[1] for row in detail)


def test_errors_list_every_call_that_failed(tmp_path: Path) -> None:
    _, page = render(tmp_path, every_status_document())
    rows = page.rows("errors")
    assert ["region", "me-south-1", "ListAnalyzers", "AccessDeniedException",
            "explicit deny in an SCP"] in rows


def test_detail_is_capped_and_says_the_workbook_has_every_finding(tmp_path: Path) -> None:
    findings = [finding(resource=f"arn:aws:s3:::bucket-{i:03d}", is_public=i == 7)
                for i in range(12)]
    _, page = render(tmp_path, make_document(regions=[covered(findings=findings)]),
                     max_rows_per_type=5)
    rows = page.every_row("detail")
    assert len(rows) == 5
    assert rows[0][0].startswith("arn:aws:s3:::bucket-007")  # public first
    body = page.text()
    assert "This page shows 5 of 12 findings" in body
    assert "The workbook report.xlsx (and scan.json) has all 12." in body
    assert "Showing the first 5 of 12" in body


def test_uncapped_detail_shows_every_finding(tmp_path: Path) -> None:
    _, page = render(tmp_path, every_status_document())
    assert len(page.every_row("detail")) == 4  # S3 (2), KMS (1) and SNS (1)
    assert "findings-capped" not in page.ids
    assert "report.xlsx" in page.text()


def test_large_scan_stays_light(tmp_path: Path) -> None:
    findings = [finding(region="us-east-1", resource=f"arn:aws:s3:::b-{i}",
                        resource_type="AWS::S3::Bucket" if i % 2 else "AWS::IAM::Role")
                for i in range(3000)]
    text, page = render(tmp_path, make_document(regions=[covered(findings=findings)]))
    assert sum(len(t["body"]) for t in page.tables if "detail" in t["class"]) == 400
    assert len(text.encode()) < 600_000


# -- hostile data -----------------------------------------------------------------------------


def test_hostile_strings_are_escaped_everywhere(tmp_path: Path) -> None:
    text, page = render(tmp_path, hostile_document())
    assert "<script>alert(1)" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    assert not re.search(r"<script", text, re.IGNORECASE)
    assert {tag for tag, _ in page.tags} & {"script", "img", "iframe", "object", "link"} == set()
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    # and the strings read back as they were, in each place they came from
    body = page.text()
    assert f"arn:aws:s3:::{SCRIPT}{IMG}" in body  # resource ARN
    assert f"AWS: {IMG}{SCRIPT}" in body  # principal
    assert f"aws:{SCRIPT}{IMG}: o-1" in body  # condition key
    assert f"{SCRIPT}{IMG}" in by_first_cell(page.rows("accounts"))[MEMBER][1]  # account name
    regions = {r[0].split()[0]: r for r in page.rows("regions")}
    assert f"{SCRIPT}{IMG}" in regions["eu-west-1"][2]  # analyzer name
    assert [r for r in page.rows("errors") if r[4] == f"{SCRIPT} {IMG}"]  # error message


def test_nothing_external_is_referenced(tmp_path: Path) -> None:
    text, page = render(tmp_path, hostile_document())
    assert not re.search(r"<[a-z][^>]*\ssrc\s*=", text, re.IGNORECASE)
    assert not re.search(r"href\s*=\s*[\"']?\s*(https?:|//)", text, re.IGNORECASE)
    assert not any("src" in attrs for _, attrs in page.tags)
    assert "@import" not in text and "url(" not in text
    hrefs = [a["href"] for tag, a in page.tags if tag == "a"]
    assert hrefs and all(str(h).startswith("#") for h in hrefs)
    assert all(tag != "link" for tag, _ in page.tags)
    assert "default-src 'none'" in text  # and a policy that would block anything that slipped


def test_invisible_and_reordering_characters_are_shown(tmp_path: Path) -> None:
    resource = "arn:aws:s3:::evil\u202egnp.exe\x1b[31m\x00" + "x" * 3000
    document = make_document(regions=[covered(findings=[finding(resource=resource)])])
    text, page = render(tmp_path, document)
    assert "\u202e" not in text and "\x1b" not in text and "\x00" not in text
    assert "arn:aws:s3:::evil[U+202E]gnp.exe[U+001B][31m[U+0000]" + "x" * 3000 in page.text()
    assert "overflow-wrap: anywhere" in text
    assert visible(None) == "" and visible(3) == 3 and visible("a\tb\nc") == "a\tb\nc"


def test_autoescape_is_on_for_every_template() -> None:
    env = environment()
    assert env.autoescape is True
    for name in env.list_templates():
        assert env.from_string("{{ v }}").render(v="<b>") == "&lt;b&gt;", name


# -- writing ----------------------------------------------------------------------------------


def test_written_atomically_through_the_registry(tmp_path: Path) -> None:
    path = writer_for(OutputFormat.HTML)(derive(make_document()), tmp_path)
    assert path == tmp_path / "report.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert path.read_bytes().decode("utf-8").rstrip().endswith("</html>")


def test_a_failing_render_leaves_no_report(tmp_path: Path) -> None:
    document = derive(copy.deepcopy(make_document()))
    document["regions"][0]["analyzers"] = [42]  # not an analyzer: preparing the page fails
    with pytest.raises(TypeError):
        write_html(document, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_render_failing_midway_keeps_the_previous_report(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    write_html(derive(make_document()), tmp_path)
    before = (tmp_path / "report.html").read_bytes()
    calls = 0

    def number(value: Any) -> str:
        nonlocal calls
        calls += 1
        if calls > 40:
            raise RuntimeError("render failed halfway")
        return str(value)

    monkeypatch.setitem(environment().filters, "num", number)
    findings = [finding(resource=f"arn:aws:s3:::b-{i}") for i in range(50)]
    with pytest.raises(RuntimeError, match="halfway"):
        write_html(derive(make_document(regions=[covered(findings=findings)])), tmp_path)
    assert calls > 40
    assert (tmp_path / "report.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_organization_errors_and_unknowns_are_shown(tmp_path: Path) -> None:
    failure = ApiError("AccessDeniedException", "not allowed", "ListDelegatedAdministrators")
    document = make_document(org=organization(admins=None, errors=[failure]))
    _, page = render(tmp_path, document)
    rows = by_first_cell(page.rows("org"))
    assert rows["Delegated administrator"][1] == "Unknown"
    organization_errors = [t for t in page.tables if "Organizations" in t["caption"]]
    assert len(organization_errors) == 1
    assert [squash(" ".join(c)) for c in organization_errors[0]["body"][0]] == [
        "ListDelegatedAdministrators", "AccessDeniedException", "not allowed"]
    assert ["organization", "—", "ListDelegatedAdministrators", "AccessDeniedException",
            "not allowed"] in page.rows("errors")


def test_a_scan_from_a_member_account_is_incomplete(tmp_path: Path) -> None:
    document = make_document(regions=[region_scan("us-east-1", analyzers=[])], account=MEMBER)
    text, page = render(tmp_path, document)
    assert 'class="verdict tone-warn"' in text
    assert document["summary"]["verdict"] == "INCOMPLETE"
    role = by_first_cell(page.rows("org"))["Scanning account role"]
    assert role[1].startswith("Member account")
    assert "aa-scan --role-arn 'arn:aws:iam::222222222222:role/<audit-role>'" in page.pre


def test_a_coverage_only_scan_says_findings_were_not_collected(tmp_path: Path) -> None:
    _, page = render(tmp_path, make_document(coverage_only=True))
    assert not [t for t in page.tables if "matrix" in t["class"] or "detail" in t["class"]]
    assert page.text().count("Coverage-only scan: findings were not collected.") == 3
    assert {"matrix", "accounts", "findings"} <= page.ids


def test_the_contents_and_the_headings_take_their_numbers_from_one_outline(tmp_path: Path
                                                                          ) -> None:
    """Issue 22: the Contents said "4. Gaps and remediation" above a heading "3 Gaps ...",
    because two sections were unnumbered in the body."""
    text, _ = render(tmp_path, every_status_document())
    toc = text[text.index('<nav class="toc"'):text.index("</nav>")]
    listed = re.findall(r'<li><span class="no">([^<]+)</span><a href="#([^"]+)">', toc)
    assert listed and [n for n, _ in listed if n.isdigit()] == [
        str(i) for i in range(1, 1 + sum(n.isdigit() for n, _ in listed))]
    for number, key in listed:
        section = text[text.index(f'id="{key}"'):]
        heading = re.search(r'<h2 id="[^"]+"><span class="no">([^<]+)</span>', section)
        assert heading is not None and heading.group(1) == number, key
    assert ("A", "scan-details") in listed and ("B", "provenance") in listed


def test_the_first_screen_answers_before_the_scope_and_the_details(tmp_path: Path) -> None:
    text, _ = render(tmp_path, every_status_document())
    order = [text.index(f'id="{key}"') for key in
             ("verdict-h", "controls-row", "answer-gaps", "answer-not-assessed", "scope",
              "toc-h", "controls", "scan-details")]
    assert order == sorted(order)
    answer = squash(re.sub(r"<[^>]+>", " ", text[text.index('id="answer"'):
                                                    text.index('id="scope"')]))
    assert "No analyzer with the organization as zone of trust in sa-east-1" in answer
    assert "me-south-1" in answer and "list-policies-for-target" in answer
    assert "Reading: organization-wide analysis; per-account evaluation not run" in answer


def test_matrix_sub_counts_wrap_between_numbers_never_inside_one(tmp_path: Path) -> None:
    """Issue 22: at 80,000 findings the sub-counts ran into each other ("3,104 / 5,628 /
    282,970"); each number is now a unit the line may break around, not inside."""
    document = every_status_document()
    for region in document["regions"]:
        for counts in region["findings"].values():
            if counts["active"]:
                counts.update(active=98765, public=12345, cross_account=86138, errors=282)
    text, _ = render(tmp_path, document)
    matrix = text[text.index('<table class="matrix'):]
    matrix = matrix[:matrix.index("</table>")]
    assert '<span class="n pub">12,345</span> / <span class="n">86,138</span> / ' \
           '<span class="n err">282</span>' in matrix
    assert re.search(r"\.px \.n \{ white-space: nowrap; \}", text)
