"""The sheets of findings: every external-access finding (Findings, continued past Excel's row
limit), and the internal-access and unused-access analyzers and their findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

from reports.document.schema import Finding, ScanDocument

from .. import tables
from .cells import SHORT, SLOW_START
from .coverage import scope_label
from .writer import CellKit, Cells, Column, FastRows, Table

FINDINGS = Table("Findings", [
    Column("Region", 16), Column("Resource type", 28), Column("Resource", 60),
    Column("Owner account", 15), Column("Owner name", 24), Column("Principal", 50),
    Column("Actions", 40), Column("Conditions", 40), Column("Public", 8), Column("Status", 10),
    Column("Scope", 26), Column("Created (UTC)", 20), Column("Age (days)", 10),
    Column("Updated (UTC)", 20),
    Column("Analyzed (UTC)", 20), Column("Error", 40), Column("Finding ID", 38),
    Column("Analyzer ARN", 60), Column("Accepted (exception)", 50)], cell_style=None)


def finding_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Findings sheet: every finding, one row each."""
    return map(_finding_row, tables.finding_rows(document))


def _finding_row(row: tables.FindingRow) -> list[Any]:
    return [row.region, row.resource_type, row.resource, row.owner_account,
            row.owner_name or None, row.principal, ", ".join(row.actions),
            row.condition or None, row.is_public, row.status, scope_label(row.scope),
            row.created_at, row.age_days, row.updated_at, row.analyzed_at, row.error,
            row.id, row.analyzer_arn,
            tables.accepted_text(row.exception) if row.exception else None]


def findings_sheet(document: ScanDocument) -> FastRows:
    """The Findings sheet's rows (finding_rows), and each finding's cells made at once for
    the bulk writer (finding_cells)."""
    return FastRows(partial(finding_rows, document), document["findings"],
                    partial(finding_cells, document))


def finding_cells(document: ScanDocument, kit: CellKit) -> Callable[[Finding], Cells]:
    """What the sheet writer makes of finding_rows' row for a finding (its _convert), made
    from the finding in one pass: 80,000 findings in less than half the time. The same cells,
    value for value (tests/reports/test_excel_bulk.py holds them equal on hostile findings):
    text by the writer's rule, times as naive UTC datetimes, booleans apart."""
    scopes = {arn: scope_label(scope) for arn, scope in tables.scope_of(document).items()}
    accounts = document["organization"]["accounts"] or {}
    as_of = _naive(document["started_at"])
    text, bool_format = kit.text, kit.bool_format
    short, slow = SHORT, SLOW_START
    make = tables.finding_row_maker(document)

    def generic(f: Finding) -> Cells:  # anything not of the schema's types
        return kit.convert(_finding_row(make(f)))

    def cells(f: Finding) -> Cells:
        apart: list[tuple[int, Any, Any]] = []
        owner = f["resource_owner_account"]
        created = _naive(f["created_at"])
        public = f["is_public"]
        if public.__class__ is bool:
            apart.append((8, public, bool_format))
        elif public is not None:
            return generic(f)
        exception = f.get("exception")
        values: list[Any] = [
            f["region"], f["resource_type"], f["resource"], owner,
            (accounts.get(owner, "") if owner else "") or None,
            tables.format_mapping(f["principal"]), ", ".join(f["action"]),
            tables.format_mapping(f["condition"]) or None, None, f["status"],
            scopes.get(f["analyzer_arn"]), created, _age(as_of, f, created),
            _naive(f["updated_at"]), _naive(f["analyzed_at"]), f["error"], f["id"],
            f["analyzer_arn"], tables.accepted_text(exception) if exception else None]
        for column in _TEXT_COLUMNS:
            value = values[column]
            if value.__class__ is str:
                if len(value) > short or value[:1] in slow or not value.isprintable():
                    values[column] = text(column, value, apart)
            elif value is not None:
                return generic(f)
        if len(apart) > 1:
            apart.sort(key=_column)
        return values, apart

    return cells


AGE_COLUMN = FINDINGS.headers.index("Age (days)")


def age_days(started_at: str, finding: Finding) -> float | None:
    """The Findings sheet's age of a finding, as of a scan started at `started_at`."""
    return _age(_naive(started_at), finding, _naive(finding["created_at"]))


def _age(as_of: dt.datetime | None, finding: Finding, created: dt.datetime | None
         ) -> float | None:
    """Days from the finding's createdAt (or the earliest one carried over for its grant,
    `first_seen_at`) to `as_of`, to a tenth (tables.FindingRow.age_days, in naive UTC)."""
    first = finding.get("first_seen_at")
    since = (_naive(first) if first else None) or created
    return round((as_of - since).total_seconds() / 86400, 1) if since and as_of else None


# The columns of finding_rows that hold text (or None), and how each cell is ordered apart.
_TEXT_COLUMNS = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 15, 16, 17, 18)


def _column(cell: tuple[int, Any, Any]) -> int:
    return cell[0]


def _naive(value: str | None) -> dt.datetime | None:
    """A scan.json time as the sheet writer stores it: tables.parse_time's datetime, in UTC,
    without its zone (quickly for the usual "...Z")."""
    if not value:
        return None
    if value[-1] == "Z" and "Z" not in value[:-1]:
        try:
            parsed = dt.datetime.fromisoformat(value[:-1])
        except ValueError:
            parsed = None  # parse_time's answer, whatever it is
        if parsed is not None and parsed.tzinfo is None:
            return parsed
    aware = tables.parse_time(value)
    if aware is None:
        return None
    return aware.replace(tzinfo=None) if aware.tzinfo is dt.UTC else \
        aware.astimezone(dt.UTC).replace(tzinfo=None)


# --- internal access and unused access (issue 12): their own sheets, present when the scan
# found an analyzer of the analysis ---------------------------------------------------------

INTERNAL = Table("Internal access", [
    Column("Region", 16), Column("Analyzer", 30), Column("Managed by", 26),
    Column("Resource type", 30), Column("Active", 9), Column("Archived", 9),
    Column("Resolved", 9)], fit_width=True)
_ANALYSIS_FINDING_COLUMNS = [
    Column("Region", 16), Column("Resource type", 28), Column("Resource", 60),
    Column("Owner account", 15), Column("Owner name", 24), Column("Status", 10),
    Column("Created (UTC)", 20), Column("Updated (UTC)", 20), Column("Analyzed (UTC)", 20),
    Column("Error", 30), Column("Finding ID", 38), Column("Analyzer ARN", 60)]
INTERNAL_FINDINGS = Table("Internal findings", _ANALYSIS_FINDING_COLUMNS, cell_style=None)
UNUSED_FINDINGS = Table("Unused findings", [Column("Finding type", 24),
                                            *_ANALYSIS_FINDING_COLUMNS], cell_style=None)


def unused_table(kinds: Sequence[str]) -> Table:
    """The Unused access sheet, with a column per finding type."""
    return Table("Unused access", [
        Column("Region", 16), Column("Analyzer", 30), Column("Managed by", 26),
        Column("Account", 15), Column("Account name", 24), Column("Active", 9),
        *(Column(tables.UNUSED_TYPE_LABELS.get(k, k), 12) for k in kinds),
        Column("Archived", 9), Column("Resolved", 9)], fit_width=True)


def internal_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The Internal access sheet: counts per analyzer and resource type."""
    for row in tables.internal_type_rows(document):
        yield [row.region, row.analyzer, row.managed_by, row.resource_type, row.active,
               row.archived, row.resolved]


def unused_rows(document: ScanDocument, kinds: Sequence[str]) -> Iterator[list[Any]]:
    """The Unused access sheet: counts per analyzer and account."""
    for row in tables.unused_rows(document):
        yield [row.region, row.analyzer, row.managed_by, row.account or "All accounts",
               row.account_name or None, row.active,
               *((row.by_type.get(k, 0) for k in kinds) if row.breakdown_given else
                 [tables.NO_BREAKDOWN, *([None] * (len(kinds) - 1))]
                 if row.active is not None else (None for _ in kinds)),
               row.archived, row.resolved]


def analysis_finding_rows(document: ScanDocument, key: tables.AnalysisKey,
                          with_type: bool) -> Iterator[list[Any]]:
    """The findings of internal or unused access, one row each."""
    block = tables.analysis_block(document, key)
    for f in block["findings"] if block else ():
        owner = f["resource_owner_account"]
        yield [*((f["finding_type"],) if with_type else ()), f["region"], f["resource_type"],
               f["resource"], owner, tables.account_name(document, owner) or None, f["status"],
               tables.parse_time(f["created_at"]), tables.parse_time(f["updated_at"]),
               tables.parse_time(f["analyzed_at"]), f["error"], f["id"], f["analyzer_arn"]]


def analysis_sheets(document: ScanDocument) -> list[tuple[Table, Iterable[Sequence[Any]]]]:
    """The sheets of internal and unused access that this document has analyzers for."""
    out: list[tuple[Table, Iterable[Sequence[Any]]]] = []
    if tables.analysis_analyzers(document, "internal_access"):
        out += [(INTERNAL, internal_rows(document)),
                (INTERNAL_FINDINGS, analysis_finding_rows(document, "internal_access", False))]
    if tables.analysis_analyzers(document, "unused_access"):
        kinds = tables.unused_types(document)
        out.append((unused_table(kinds), unused_rows(document, kinds)))
        block = tables.analysis_block(document, "unused_access")
        if block and any(a["findings_collected"] for a in block["analyzers"]):
            out.append((UNUSED_FINDINGS, analysis_finding_rows(document, "unused_access",
                                                               True)))
    return out
