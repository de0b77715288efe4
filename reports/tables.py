"""Tabulations of the scan document shared by the HTML report and the workbook.

Pure functions over the typed document (no judging: the verdicts and gaps are already in
it), and the presentation every report shares: the order and labels of statuses, account
labels, how a configuration value or an archive-rule filter reads as one line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# How a filter reads: one home, the archive-rule rule beside it.
from reports.document.archive_rules import filter_text as filter_text
from reports.document.exceptions import AcceptedBy, ExceptionEntry, what_text
from reports.document.rules import (
    ANALYSIS_LABELS,
    CLASSIC_RESOURCE_TYPES,
    UNUSED_FINDING_TYPES,
    RegionStatusValue,
    SeverityValue,
    access_of,
    analysis_of,
)
from reports.document.schema import (
    AnalysisAnalyzer,
    AnalysisBlock,
    AnalyzerEntry,
    ErrorEntry,
    Finding,
    Region,
    ScanDocument,
    TypeCounts,
)
from reports.document.trail import Changes

STATUS_ORDER: tuple[RegionStatusValue, ...] = ("ERROR", "GAP", "COVERED", "EXCLUDED", "NOT_ENABLED")
SEVERITY_ORDER: tuple[SeverityValue, ...] = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
STATUS_LABELS: Mapping[str, str] = {
    "COVERED": "Covered",
    "GAP": "Gap",
    "NOT_ENABLED": "Not enabled",
    "EXCLUDED": "Excluded",
    "ERROR": "Not assessed",
}
CountKey = Literal["active", "public", "cross_account", "errors"]
COUNT_KEYS: tuple[CountKey, ...] = ("active", "public", "cross_account", "errors")


def resource_types(document: ScanDocument) -> list[str]:
    """The seven classic types always, then every other type present, alphabetically."""
    seen: set[str] = set()
    for region in document["regions"]:
        seen.update(region["findings"])
    for finding in document["findings"]:
        seen.add(finding["resource_type"])
    extra = sorted(t for t in seen if t and t not in CLASSIC_RESOURCE_TYPES)
    return [*CLASSIC_RESOURCE_TYPES, *extra]


def zero() -> TypeCounts:
    """Counts of nothing."""
    return {"active": 0, "public": 0, "cross_account": 0, "errors": 0}


def copy(counts: TypeCounts) -> TypeCounts:
    """A copy of counts."""
    return {"active": counts["active"], "public": counts["public"],
            "cross_account": counts["cross_account"], "errors": counts["errors"]}


def add(total: TypeCounts, counts: TypeCounts) -> None:
    """Add `other` into `total`."""
    total["active"] += counts["active"]
    total["public"] += counts["public"]
    total["cross_account"] += counts["cross_account"]
    total["errors"] += counts["errors"]


@dataclass
class MatrixRow:
    """One region of the region x resource type matrix."""

    region: Region
    cells: dict[str, TypeCounts]
    total: TypeCounts = field(default_factory=zero)

    @property
    def collected(self) -> bool:
        """Whether the region's findings were read."""
        return self.region["findings_collected"]

    @property
    def incomplete(self) -> bool:
        """Whether the region's findings were read only in part (its counts are lower bounds)."""
        return self.collected and not self.region["complete"]


def region_type_matrix(document: ScanDocument, types: list[str]) -> list[MatrixRow]:
    """One row per region, in document order: per resource type, the four counts."""
    rows = []
    for region in document["regions"]:
        counts = region["findings"]
        cells = {t: copy(counts[t]) if t in counts else zero() for t in types}
        row = MatrixRow(region, cells)
        for cell in row.cells.values():
            add(row.total, cell)
        rows.append(row)
    return rows


def matrix_totals(rows: list[MatrixRow], types: list[str]) -> tuple[dict[str, TypeCounts],
                                                                     TypeCounts]:
    """The totals of the matrix: per resource type, and overall."""
    cells = {t: zero() for t in types}
    total = zero()
    for row in rows:
        for t in types:
            add(cells[t], row.cells[t])
        add(total, row.total)
    return cells, total


def findings_totals(document: ScanDocument) -> TypeCounts | None:
    """Active findings of every region added up; None when none were collected."""
    if document["summary"]["active_findings"] is None:
        return None
    total = zero()
    for region in document["regions"]:
        for counts in region["findings"].values():
            add(total, counts)
    return total


def lower_bound(document: ScanDocument) -> bool:
    """Whether the finding counts are lower bounds: some region's findings are incomplete
    (a failed call, fewer read than announced) or the scan was interrupted. Every report
    marks such a count with a "+"."""
    return document["summary"]["interrupted"] or any(
        r["findings_collected"] and not r["complete"] for r in document["regions"])


def account_name(document: ScanDocument, account_id: str | None) -> str:
    """The account's name as the organization lists it; empty when unknown."""
    accounts = document["organization"]["accounts"] or {}
    return accounts.get(account_id, "") if account_id else ""


def account_text(document: ScanDocument, account_id: str | None) -> str:
    """An account as people read it: '123456789012 (name)', or the id alone."""
    if not account_id:
        return ""
    name = account_name(document, account_id)
    return f"{account_id} ({name})" if name else account_id


def examined_accounts(document: ScanDocument) -> list[tuple[str, bool]]:
    """(one line, examined) per account whose analyzers the scan listed or tried to, when the
    scan went beyond the caller's own account (--admin-role-name); else no lines."""
    entries = document["organization"].get("examined_accounts") or []
    if all(e["via"] == "caller" for e in entries):
        return []
    lines = []
    for entry in entries:
        who = f"{account_text(document, entry['account_id'])}, {entry['role']}"
        how = "the scanning account" if entry["via"] == "caller" else f"via {entry['via']}"
        error = entry["error"]
        state = (f"NOT EXAMINED: {error['code']}: {error['message']}" if error
                 else "examined")
        lines.append((f"{who}, {how}: {state}", error is None))
    return lines


@dataclass
class AccountTotals:
    """The active findings of one resource owner account."""

    account_id: str
    name: str
    counts: TypeCounts = field(default_factory=zero)
    regions: set[str] = field(default_factory=set)
    types: dict[str, int] = field(default_factory=dict)


def account_totals(document: ScanDocument) -> list[AccountTotals]:
    """Active findings per resource-owner account, busiest first."""
    totals: dict[str, AccountTotals] = {}
    for finding in document["findings"]:
        if finding["status"] != "ACTIVE":
            continue
        account = finding["resource_owner_account"] or "unknown"
        entry = totals.get(account)
        if entry is None:
            entry = totals[account] = AccountTotals(account, account_name(document, account))
        entry.counts["active"] += 1
        entry.counts[access_of(finding["is_public"], finding["error"])] += 1
        entry.regions.add(finding["region"])
        resource_type = finding["resource_type"]
        entry.types[resource_type] = entry.types.get(resource_type, 0) + 1
    return sorted(totals.values(), key=lambda r: (-r.counts["active"], r.account_id))


def parse_time(value: str | None) -> dt.datetime | None:
    """A scan.json timestamp as an aware datetime; None when absent or not a time."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_mapping(mapping: Mapping[str, Any] | None) -> str:
    """A mapping as "key: value; ..." text, values as JSON."""
    if not mapping:
        return ""
    return "; ".join(f"{k}: {v}" for k, v in mapping.items())


def setting(value: Any) -> str:
    """A configuration value as one line of text."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return "; ".join(f"{k}: {setting(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(setting(v) for v in value) if value else "none"
    return str(value)


def scope_of(document: ScanDocument) -> dict[str, str | None]:
    """Analyzer ARN -> the scope of its findings (ORGANIZATION, or ACCOUNT when labelled)."""
    scopes: dict[str, str | None] = {}
    for region in document["regions"]:
        source = region["findings_analyzer"]
        if source is not None:
            scopes[source["arn"]] = region["findings_scope"]
    return scopes


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One finding, flattened, with typed values (datetimes, booleans)."""

    region: str
    resource_type: str
    resource: str | None
    owner_account: str | None
    owner_name: str
    principal: str
    actions: list[str]
    condition: str
    is_public: bool | None
    status: str
    scope: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    analyzed_at: dt.datetime | None
    error: str | None
    id: str
    analyzer_arn: str
    age_days: float | None  # since created_at (or first_seen_at), as of the scan's start
    exception: AcceptedBy | None = None  # the exception that accepts it


def finding_row_maker(document: ScanDocument) -> Callable[[Finding], FindingRow]:
    """The function that flattens one finding of `document` (for a reader that flattens only
    some of them)."""
    scopes = scope_of(document)
    accounts = document["organization"]["accounts"] or {}
    as_of = parse_time(document["started_at"])

    def make(f: Finding) -> FindingRow:
        owner = f["resource_owner_account"]
        created = parse_time(f["created_at"])
        since = parse_time(f.get("first_seen_at")) or created  # a re-created analyzer's
        return FindingRow(
            region=f["region"], resource_type=f["resource_type"], resource=f["resource"],
            owner_account=owner, owner_name=accounts.get(owner, "") if owner else "",
            principal=format_mapping(f["principal"]), actions=f["action"],
            condition=format_mapping(f["condition"]), is_public=f["is_public"],
            status=f["status"], scope=scopes.get(f["analyzer_arn"]),
            created_at=created, updated_at=parse_time(f["updated_at"]),
            analyzed_at=parse_time(f["analyzed_at"]), error=f["error"], id=f["id"],
            analyzer_arn=f["analyzer_arn"],
            age_days=round((as_of - since).total_seconds() / 86400, 1)
            if since and as_of else None, exception=f.get("exception"))

    return make


def finding_rows(document: ScanDocument) -> Iterator[FindingRow]:
    """Every finding as a flat row."""
    return map(finding_row_maker(document), document["findings"])


def member_qualifier(document: ScanDocument) -> str:
    """What the verdict (about the organization-wide analysis) leaves out when the member view
    ran and some accounts fail the per-account controls (CIS, IAM.28 and the AWS Config rule
    evaluate each account's own analyzers): "; 2 of 5 accounts fail the per-account
    controls", or nothing."""
    view = document.get("member_view")
    if view is None:
        return ""
    counts = view["summary"]
    if view.get("error"):
        return " organization-wide; the per-account controls are not determined"
    if counts["fail"]:
        return (f" organization-wide; {counts['fail']} of {counts['accounts']} account"
                f"{'s' if counts['accounts'] != 1 else ''} fail the per-account controls")
    return ""


def headline(document: ScanDocument) -> str:
    """The verdict at a glance: Compliant / Compliant with N accepted exceptions / N gaps /
    Incomplete. Never a plain Compliant when it rests on exceptions."""
    summary = document["summary"]
    verdict = summary["verdict"]
    accepted = summary.get("accepted")
    gaps = sum(1 for g in document["gaps"] if "exception" not in g)
    resting = accepted["exceptions"] if accepted else 0
    if verdict == "COMPLIANT":
        if resting:
            text = f"Compliant with {resting} accepted exception{'s' if resting != 1 else ''}"
        else:
            text = "Compliant"
        return text + member_qualifier(document)
    if verdict == "NON_COMPLIANT":
        suffix = "" if summary["complete"] else " (scan incomplete)"
        more = accepted["gaps"] if accepted else 0
        also = f" + {more} accepted" if more else ""
        return f"{gaps} gap{'s' if gaps != 1 else ''}{also}{suffix}"
    return "Incomplete"


# -- accepted risk ------------------------------------------------------------------------------

STATE_LABELS: Mapping[str, str] = {"active": "Active", "expiring": "Expiring soon",
                                   "expired": "Expired", "unused": "Unused"}
STATE_ORDER: Mapping[str, int] = {"expired": 0, "expiring": 1, "unused": 2, "active": 3}


def accepted_text(exception: AcceptedBy) -> str:
    """An accepted item's exception on one line: until when, by whom, the ticket, why."""
    ticket = f", {exception['ticket']}" if exception["ticket"] else ""
    soon = " (expiring soon)" if exception["state"] == "expiring" else ""
    return (f"accepted until {exception['expires']}{soon} by {exception['owner']}{ticket}: "
            f"{exception['reason']}")


@dataclass(frozen=True)
class RegisterRow:
    """One exception of the register, as the reports list it."""

    entry: ExceptionEntry
    state: str  # the state's label
    what: str
    matched: list[str]  # what it matched, one phrase each
    days: str  # "in 12 days", "today", "expired 3 days ago"


def _days_text(left: int) -> str:
    if left < -(10**5):
        return "not a date"
    if left < 0:
        return f"expired {-left} day{'s' if left != -1 else ''} ago"
    if left == 0:
        return "last day"
    return f"{left} day{'s' if left != 1 else ''} left"


def register_rows(document: ScanDocument) -> list[RegisterRow]:
    """The exceptions of the document, expired first, then expiring, unused and active."""
    block = document.get("exceptions")
    if block is None:
        return []
    rows = []
    for entry in block["entries"]:
        matched = [f"{g['code']} in {g['region'] or 'the organization'}"
                   for g in entry["matched"]["gaps"]]
        # A resource's findings once, with the regions they were found in.
        by_resource: dict[str, list[tuple[str, bool]]] = {}
        for f in entry["matched"]["findings"]:
            by_resource.setdefault(f["resource"] or f["id"], []).append(
                (f["region"], bool(f["is_public"])))
        for resource, places in by_resource.items():
            public = sum(1 for _, is_public in places if is_public)
            kind = ("public" if public == len(places) else
                    f"{public} public" if public else "cross-account")
            regions = sorted({r for r, _ in places})
            count = f"{len(places)} finding{'s' if len(places) != 1 else ''}, {kind}"
            matched.append(f"{resource} ({count}) in " + (
                regions[0] if len(regions) == 1 else
                f"{len(regions)} regions: {', '.join(regions)}"))
        rows.append(RegisterRow(entry, STATE_LABELS.get(entry["state"], entry["state"]),
                                what_text(entry), matched, _days_text(entry["days_left"])))
    return sorted(rows, key=lambda r: STATE_ORDER.get(r.entry["state"], 9))


@dataclass(frozen=True)
class ErrorRow:
    """A failed call, as the Errors tables list it."""

    scope: str
    region: str
    operation: str
    code: str
    message: str


def _error_row(scope: str, region: str, error: ErrorEntry) -> ErrorRow:
    return ErrorRow(scope, region, error.get("operation", ""), error["code"], error["message"])


def errors(document: ScanDocument) -> list[ErrorRow]:
    """Every call that failed: organization, discovery and region errors, one row each."""
    rows = [_error_row("organization", "", e) for e in document["organization"]["errors"]]
    rows += [_error_row("region discovery", "", e) for e in document["discovery"]["errors"]]
    for region in document["regions"]:
        reported = list(region["errors"])
        main = region["error"]
        if main and main not in reported:
            reported.insert(0, main)
        rows += [_error_row("region", region["region"], e) for e in reported]
    keys: tuple[tuple[AnalysisKey, str], ...] = (("internal_access", "internal access"),
                                                 ("unused_access", "unused access"))
    for key, label in keys:
        for each in analysis_analyzers(document, key):
            rows += [_error_row(label, each["region"], e) for e in each["errors"]]
    return rows


# -- internal access and unused access ------------------------------------------------------

AnalysisKey = Literal["internal_access", "unused_access"]
UNUSED_TYPE_LABELS: Mapping[str, str] = {
    "UnusedIAMRole": "Unused roles", "UnusedIAMUserAccessKey": "Unused access keys",
    "UnusedIAMUserPassword": "Unused passwords", "UnusedPermission": "Unused permissions"}


def analyzer_text(analyzer: AnalyzerEntry) -> str:
    """An analyzer on one line: name (type, status[: reason][; managed by X][; unknown])."""
    state = f"{analyzer['type']}, {analyzer['status']}"
    if analyzer["status_reason"]:
        state += f": {analyzer['status_reason']}"
    if analyzer.get("managed_by"):
        state += f"; managed by {analyzer.get('managed_by')}"
    if analysis_of(analyzer["type"]).value == "unknown":
        state += f"; {ANALYSIS_LABELS[analysis_of(analyzer['type'])]}"
    return f"{analyzer['name']} ({state})"


def analysis_block(document: ScanDocument, key: AnalysisKey) -> AnalysisBlock | None:
    """The block; None when the document has none (coverage only, or older than it)."""
    return document.get(key)


def analysis_analyzers(document: ScanDocument, key: AnalysisKey) -> list[AnalysisAnalyzer]:
    """The analyzers of internal or unused access the document lists."""
    block = analysis_block(document, key)
    return sorted(block["analyzers"], key=lambda a: (a["region"], a["name"])) if block else []


def unused_types(document: ScanDocument) -> list[str]:
    """The unused-access finding types to list: the four known ones, then any newer."""
    seen = {t for a in analysis_analyzers(document, "unused_access") if a["statistics"]
            for t in a["statistics"].get("by_finding_type", {})}
    return [*UNUSED_FINDING_TYPES, *sorted(seen - set(UNUSED_FINDING_TYPES))]


@dataclass(frozen=True)
class InternalTypeRow:
    """The findings of one internal-access analyzer for one resource type."""

    region: str
    analyzer: str
    managed_by: str | None
    resource_type: str
    active: int
    archived: int
    resolved: int


def internal_type_rows(document: ScanDocument) -> list[InternalTypeRow]:
    """Internal-access statistics: per analyzer (so per region), per resource type."""
    rows = []
    for each in analysis_analyzers(document, "internal_access"):
        stats = each["statistics"]
        by_type = stats.get("by_resource_type", {}) if stats else {}
        for resource_type in sorted(by_type):
            counts = by_type[resource_type]
            rows.append(InternalTypeRow(each["region"], each["name"], each["managed_by"],
                                        resource_type, counts["active"], counts["archived"],
                                        counts["resolved"]))
    return rows


@dataclass(frozen=True)
class UnusedRow:
    """An unused-access analyzer's totals (account None), or one of its top accounts."""

    region: str
    analyzer: str
    managed_by: str | None
    account: str | None
    account_name: str
    active: int | None
    by_type: Mapping[str, int]
    archived: int | None
    resolved: int | None

    @property
    def breakdown_given(self) -> bool:
        """Whether AWS broke the active findings down by finding type: an account of the top
        ten can come with a total and no breakdown, which is not zero of every type."""
        return bool(self.by_type) or not self.active


NO_BREAKDOWN = "no breakdown given"


def unused_rows(document: ScanDocument) -> list[UnusedRow]:
    """The unused-access counts: one row per analyzer, or per account of an organization
    analyzer."""
    rows = []
    for each in analysis_analyzers(document, "unused_access"):
        stats = each["statistics"]
        if stats is None:
            rows.append(UnusedRow(each["region"], each["name"], each["managed_by"], None, "",
                                  None, {}, None, None))
            continue
        rows.append(UnusedRow(each["region"], each["name"], each["managed_by"], None, "",
                              stats["active"], stats.get("by_finding_type", {}),
                              stats["archived"], stats["resolved"]))
        rows += [UnusedRow(each["region"], each["name"], each["managed_by"], a["account"],
                           account_name(document, a["account"]), a["active"],
                           a["by_finding_type"], None, None)
                 for a in stats.get("by_account", [])]
    return rows


def untold_text(found: Changes) -> str | None:
    """What the new-* gates count as new because it could not be compared, in words (None:
    nothing)."""
    untold = found.get("not_compared")
    if not untold or not (untold["gaps"] or untold["public_findings"]):
        return None
    parts = []
    if untold["gaps"]:
        parts.append(f"{untold['gaps']:,} gap{'s' if untold['gaps'] != 1 else ''}")
    if untold["public_findings"]:
        count = untold["public_findings"]
        parts.append(f"{count:,} public finding{'s' if count != 1 else ''}")
    return " and ".join(parts)
