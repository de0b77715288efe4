"""The sheets of the organization's coverage: Gaps, Regions, By resource type, By account,
Archive rules, Errors, and the Member accounts view (IAM.28 account by account)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from reports.document.derive import rule_assessments
from reports.document.rules import type_label
from reports.document.schema import AnalyzerEntry, ControlRef, ScanDocument

from .. import tables
from .writer import TOTAL, Column, Styled, Table, status_style

# Narrow enough to print one A4 landscape page wide at 8 pt or more: the long texts wrap.
GAPS = Table("Gaps", [Column("Kind", 9), Column("Scope", 10), Column("Region", 14),
                      Column("Severity", 9), Column("Code", 14), Column("Title", 22),
                      Column("Detail", 26), Column("Remediation", 34),
                      Column("Where and when to run it", 20), Column("Controls", 14),
                      Column("Accepted (exception)", 18)],
            fit_width=True)
REGIONS = Table("Regions", [
    Column("Region", 16), Column("Status", 14), Column("Reason", 22), Column("Detail", 40),
    Column("Opt-in status", 21), Column("Analyzers", 36), Column("Findings scope", 16),
    Column("Active", 8), Column("Public", 8), Column("Cross-account", 10),
    Column("Could not be analyzed", 10), Column("Archived", 9), Column("Resolved", 9),
    Column("Complete", 9),
    Column("Error code", 22), Column("Error message", 40)], fit_width=True)
ARCHIVE_RULES = Table("Archive rules", [
    Column("Region", 16), Column("Analyzer ARN", 50), Column("Rule name", 30),
    Column("Filter", 70), Column("Can archive public findings", 22), Column("Why", 60),
    Column("Archived findings (its analyzer, region)", 14),
    Column("Active findings (its analyzer, region)", 14),
    Column("Created (UTC)", 20), Column("Updated (UTC)", 20)],
    fit_width=True)
RULE_CELLS = {"broad": ("Yes: any new public grant", "GAP"),
              "public_named": ("Yes: of named resources", "MEDIUM"),
              "narrow": ("No", "COVERED")}
ERRORS = Table("Errors", [Column("Scope", 18), Column("Region", 16), Column("Operation", 28),
                          Column("Code", 28), Column("Message", 80)], fit_width=True)
SCOPE_LABELS = {"ORGANIZATION": "ORGANIZATION", "ACCOUNT": "ACCOUNT (account-scoped)"}
_COUNTS = tables.COUNT_KEYS
_COUNT_LABELS = {"active": "active", "public": "public", "cross_account": "cross-account",
                 "errors": "could not be analyzed"}


def scope_label(scope: str | None) -> str | None:
    """A findings scope as the sheets show it: ACCOUNT says it is account-scoped."""
    return SCOPE_LABELS.get(scope, scope) if scope else None


def gap_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Gaps sheet: every gap, then every advisory."""
    for kind, gaps in (("Gap", document["gaps"]), ("Advisory", document["advisories"])):
        for gap in gaps:
            severity = gap["severity"]
            accepted = gap.get("exception")
            label = "Accepted gap" if accepted else kind
            style = ("INFO" if kind != "Gap" else "MEDIUM" if accepted else "GAP")
            yield [Styled(label, status_style(style)),
                   gap["scope"], gap["region"], Styled(severity, status_style(severity)),
                   gap["code"], gap["title"], gap["detail"], gap["remediation"],
                   gap["remediation_note"] or None, _controls_text(gap.get("controls")),
                   tables.accepted_text(accepted) if accepted else None]


def _controls_text(controls: Sequence[ControlRef] | None) -> str | None:
    """"CIS AWS Foundations Benchmark 1.20 (1.4.0, 2.0.0); AWS Security Hub IAM.28"."""
    if not controls:
        return None
    versions: dict[str, list[str]] = {}
    for control in controls:
        cited = versions.setdefault(f"{control['framework']} {control['id']}", [])
        if control["version"]:
            cited.append(str(control["version"]))
    return "; ".join(f"{name} ({', '.join(v)})" if v else name for name, v in versions.items())


def _analyzer_text(analyzer: AnalyzerEntry) -> str:
    return tables.analyzer_text(analyzer)  # with managed_by, and an unknown type said so


def region_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Regions sheet: one row per region with its status, analyzers and counts."""
    matrix = tables.region_type_matrix(document, tables.resource_types(document))
    for row in matrix:
        region = row.region
        status = region["status"]
        error = region["error"]
        yield [
            region["region"],
            Styled(tables.STATUS_LABELS.get(status, status), status_style(status)),
            region["reason"], region["detail"], region["opt_in_status"],
            "\n".join(_analyzer_text(a) for a in region["analyzers"]) or None,
            scope_label(region["findings_scope"]),
            *(row.total[k] if row.collected else None for k in _COUNTS),
            region["archived"], region["resolved"], region["complete"],
            error["code"] if error else None, error["message"] if error else None,
        ]


def type_table(types: Sequence[str]) -> Table:
    """The By resource type sheet, with a column per count of each type."""
    columns = [Column("Region", 16), Column("Status", 14), Column("Findings scope", 26),
               Column("Complete", 9)]
    columns += [Column(f"Total {_COUNT_LABELS[k]}", 10) for k in _COUNTS]
    columns += [Column(f"{type_label(t)} {_COUNT_LABELS[k]}", 13)
                for t in types for k in _COUNTS]
    return Table("By resource type", columns, cell_style=None)


def type_rows(document: ScanDocument, types: Sequence[str]) -> Iterator[list[Any]]:
    """One row per region of counts by resource type, then the totals."""
    rows = tables.region_type_matrix(document, list(types))
    for row in rows:
        status = row.region["status"]
        collected = row.collected
        yield [row.region["region"],
               Styled(tables.STATUS_LABELS.get(status, status), status_style(status)),
               scope_label(row.region["findings_scope"]), row.region["complete"],
               *(row.total[k] if collected else None for k in _COUNTS),
               *(row.cells[t][k] if collected else None
                 for t in types for k in _COUNTS)]
    cells, total = tables.matrix_totals(rows, list(types))
    yield [Styled(v, TOTAL) for v in [
        "Total", None, None, None, *(total[k] for k in _COUNTS),
        *(cells[t][k] for t in types for k in _COUNTS)]]


def account_table(types: Sequence[str]) -> Table:
    """The By account sheet, with a column per resource type."""
    columns = [Column("Account ID", 15), Column("Account name", 30), Column("Active", 9),
               Column("Public", 9), Column("Cross-account", 10),
               Column("Could not be analyzed", 10), Column("Regions", 9)]
    columns += [Column(f"{type_label(t)} active", 12) for t in types]
    return Table("By account", columns, cell_style=None)


def account_rows(document: ScanDocument, types: Sequence[str]) -> Iterator[list[Any]]:
    """One row per account with active findings, then the totals."""
    total = tables.zero()
    by_type: dict[str, int] = {}
    for row in tables.account_totals(document):
        tables.add(total, row.counts)
        for resource_type, n in row.types.items():
            by_type[resource_type] = by_type.get(resource_type, 0) + n
        yield [row.account_id, row.name or None, row.counts["active"], row.counts["public"],
               row.counts["cross_account"], row.counts["errors"], len(row.regions),
               *(row.types.get(t, 0) for t in types)]
    if total["active"]:
        yield [Styled(v, TOTAL) for v in [
            "Total", None, *(total[k] for k in tables.COUNT_KEYS), None,
            *(by_type.get(t, 0) for t in types)]]


def archive_rule_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Archive rules sheet: every rule of every region, classified (can it archive
    public findings?), beside the findings its analyzer holds there."""
    assessed = {(a["region"], a["analyzer_arn"], a["name"]): a
                for a in rule_assessments(document)}
    for region in document["regions"]:
        for rule in region["archive_rules"]:
            found = assessed.get((region["region"], rule["analyzer_arn"], rule["name"]))
            label, style = RULE_CELLS[found["classification"] if found else "narrow"]
            yield [region["region"], rule["analyzer_arn"], rule["name"],
                   tables.filter_text(rule["filter"]), Styled(label, status_style(style)),
                   found["why"] if found else None, found["archived"] if found else None,
                   found["active"] if found else None,
                   tables.parse_time(rule["created_at"]), tables.parse_time(rule["updated_at"])]


def error_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Errors sheet: every call that failed."""
    for error in tables.errors(document):
        yield [error.scope, error.region or None, error.operation or None, error.code,
               error.message]


def _member_regions(document: ScanDocument) -> list[str]:
    """The regions of the member matrix: those enabled in some account examined (a region
    no account has enabled would be a column of NOT_ENABLED only: scan.json keeps it)."""
    view = document.get("member_view")
    accounts = view["accounts"] if view else []
    return sorted({r for a in accounts for r, cell in a["regions"].items()
                   if cell != "NOT_ENABLED"})


def member_table(document: ScanDocument) -> Table:
    """The member view (IAM.28 per account): accounts down, regions across, then why an
    account could not be examined (last, so a long reason never covers a region's cell)."""
    regions = _member_regions(document)
    return Table("Member accounts", [Column("Account ID", 15), Column("Account name", 30),
                                     Column("Status", 12), *(Column(r, 13) for r in regions),
                                     Column("Error", 60)], cell_style=None)


_MEMBER_STYLES = {"PASS": "COVERED", "FAIL": "GAP", "ERROR": "ERROR",
                  "NOT_ENABLED": "NOT_ENABLED", "SUSPENDED": "NOT_ENABLED"}


def _member_cell(value: str | None) -> Any:
    style = status_style(_MEMBER_STYLES.get(value or ""))
    return Styled(value, style) if style and value else value


def member_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Member accounts sheet: one row per account, a cell per region."""
    view = document.get("member_view")
    if view is None:
        return
    regions = _member_regions(document)
    for account in view["accounts"]:
        error = account["error"]
        reasons = account.get("region_errors") or {}
        why = [f"{error['code']}: {error['message']}"] if error else []
        why += [f"{r}: {e['code']}: {e['message']}" for r, e in sorted(reasons.items())]
        yield [account["account_id"], account["name"] or None,
               _member_cell(account["status"]),
               *(_member_cell(account["regions"].get(r)) for r in regions),
               "\n".join(why) or None]
