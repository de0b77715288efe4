"""The findings part of report.html: each resource type's findings, public first and capped
(the workbook has every one), and the internal-access and unused-access analyses."""

from __future__ import annotations

from typing import Any

from reports.document.rules import type_label
from reports.document.schema import Finding, ScanDocument

from ..tables import (
    UNUSED_TYPE_LABELS,
    AnalysisKey,
    FindingRow,
    accepted_text,
    account_name,
    analysis_analyzers,
    analysis_block,
    finding_row_maker,
    internal_type_rows,
    resource_types,
    unused_rows,
    unused_types,
)
from .display import anchor, day, when

WORKBOOK_NAME = "report.xlsx"
ERRORS_SHOWN = 20  # findings that could not be analyzed kept in a capped detail, at least


def _access(row: FindingRow) -> tuple[str, str]:
    if row.error:
        return "Error", "warn"
    if row.is_public is None:
        return "Unknown", "off"
    return ("Public", "bad") if row.is_public else ("Cross-account", "plain")


def detail(document: ScanDocument, max_rows: int) -> dict[str, Any]:
    """The findings by resource type, each type's rows capped at `max_rows` (counted in full)."""
    # Counted and ordered on the document's own fields; only the rows shown are flattened
    # (a capped detail of a 100,000-finding scan shows a few thousand).
    groups: dict[str, list[Finding]] = {}
    for finding in document["findings"]:
        groups.setdefault(finding["resource_type"], []).append(finding)
    order = [t for t in resource_types(document) if t in groups]
    order += sorted(t for t in groups if t not in order)
    flatten = finding_row_maker(document)
    sections = []
    for index, resource_type in enumerate(order, start=1):
        found = groups[resource_type]
        found.sort(key=_detail_key)
        active = [f for f in found if f["status"] == "ACTIVE"]
        shown = _shown(found, max(0, max_rows))
        sections.append({
            "id": anchor("type", index, resource_type),
            "type": resource_type, "label": type_label(resource_type),
            "total": len(found), "active": len(active),
            "public": sum(1 for f in active if f["is_public"] and not f["error"]),
            "cross_account": sum(1 for f in active if not f["is_public"] and not f["error"]),
            "errors": sum(1 for f in active if f["error"]),
            "shown": len(shown), "capped": len(shown) < len(found),
            "rows": [_finding(flatten(f)) for f in shown],
        })
    return {"sections": sections, "cap": max_rows, "workbook": WORKBOOK_NAME,
            "total": sum(s["total"] for s in sections),
            "shown": sum(s["shown"] for s in sections),
            "capped": any(s["capped"] for s in sections)}


def _detail_key(finding: Finding) -> tuple[int, str, str, str]:
    """Public first, then those that could not be analyzed, then the rest; then by region,
    owner and resource."""
    rank = 0 if finding["is_public"] and not finding["error"] else 1 if finding["error"] else 2
    return (rank, finding["region"], finding["resource_owner_account"] or "",
            finding["resource"] or "")


def _shown(found: list[Finding], cap: int) -> list[Finding]:
    """The first `cap` findings, keeping room for some that could not be analyzed: they are
    counted in every table, so the detail shows what they look like."""
    if len(found) <= cap:
        return found
    errors = [f for f in found if f["error"]][:min(ERRORS_SHOWN, cap)]
    others = [f for f in found if not f["error"]][:cap - len(errors)]
    return sorted([*others, *errors], key=_detail_key)


def _finding(row: FindingRow) -> dict[str, Any]:
    access, tone = _access(row)
    return {"resource": row.resource or "", "region": row.region,
            "owner": row.owner_account or "", "owner_name": row.owner_name,
            "principal": row.principal, "actions": row.actions,
            "condition": row.condition, "access": access, "tone": tone,
            "error": row.error or "", "status": row.status,
            "account_scope": row.scope == "ACCOUNT",
            "created": day(row.created_at), "updated": day(row.updated_at),
            "accepted": accepted_text(row.exception) if row.exception else "",
            "accepted_until": row.exception["expires"] if row.exception else ""}


def _analysis_rows(document: ScanDocument, key: AnalysisKey, cap: int) -> list[dict[str, Any]]:
    """Findings of internal or unused access as the page lists them (at most `cap`)."""
    block = analysis_block(document, key)
    found = block["findings"] if block else []
    return [{"region": f["region"], "resource": f["resource"] or "",
             "type": type_label(f["resource_type"]), "resource_type": f["resource_type"],
             "finding_type": UNUSED_TYPE_LABELS.get(f["finding_type"], f["finding_type"]),
             "owner": f["resource_owner_account"] or "",
             "owner_name": account_name(document, f["resource_owner_account"]),
             "status": f["status"], "created": when(f["created_at"])}
            for f in found[:cap]]


def _analyzer_summary(document: ScanDocument, key: AnalysisKey) -> list[dict[str, Any]]:
    return [{"region": a["region"], "name": a["name"], "type": a["type"],
             "managed_by": a["managed_by"] or "",
             "active": a["statistics"]["active"] if a["statistics"] else None,
             "archived": a["statistics"]["archived"] if a["statistics"] else None,
             "resolved": a["statistics"]["resolved"] if a["statistics"] else None,
             "collected": a["findings_collected"], "read": a["findings_read"],
             "errors": len(a["errors"])}
            for a in analysis_analyzers(document, key)]


def internal(document: ScanDocument, cap: int) -> dict[str, Any] | None:
    """The internal-access part: analyzers, counts by resource type and findings; None
    when the document has none."""
    block = analysis_block(document, "internal_access")
    if block is None:
        return None
    return {"analyzers": _analyzer_summary(document, "internal_access"),
            "types": [{"region": r.region, "analyzer": r.analyzer,
                       "label": type_label(r.resource_type), "type": r.resource_type,
                       "active": r.active, "archived": r.archived, "resolved": r.resolved}
                      for r in internal_type_rows(document)],
            "rows": _analysis_rows(document, "internal_access", cap),
            "total": len(block["findings"]), "cap": cap}


def unused(document: ScanDocument, cap: int) -> dict[str, Any] | None:
    """The unused-access part: analyzers, counts by finding type and findings; None when
    the document has none."""
    block = analysis_block(document, "unused_access")
    if block is None:
        return None
    kinds = unused_types(document)
    return {"analyzers": _analyzer_summary(document, "unused_access"),
            "kinds": [{"type": k, "label": UNUSED_TYPE_LABELS.get(k, k)} for k in kinds],
            "rows": [{"region": r.region, "analyzer": r.analyzer, "managed_by": r.managed_by
                      or "", "account": r.account or "", "account_name": r.account_name,
                      "active": r.active,
                      "counts": [r.by_type.get(k, 0) for k in kinds] if r.breakdown_given
                      else None}
                     for r in unused_rows(document)],
            "collected": any(a["findings_collected"] for a in block["analyzers"]),
            "findings": _analysis_rows(document, "unused_access", cap),
            "total": len(block["findings"]), "cap": cap}
