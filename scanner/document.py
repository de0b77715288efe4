"""Assemble the scan document (scan.json) from a judged result.

The document is the contract other tools read (its typed form and JSON Schema are in the
`document` package). Renderers take this document, never the scanner's classes, so a live
scan and `--from-json` take the same path.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from reports.document import schema
from reports.document.controls import controls_for_gap, verdict_controls
from reports.document.exceptions import EXPIRING_DAYS, Acceptance, counts_of
from reports.document.rules import (
    CLASSIC_RESOURCE_TYPES,
    FINDINGS_SCOPES,
    GAP_SCOPES,
    MEMBER_CELLS,
    MEMBER_STATUSES,
    Analysis,
    RegionStatus,
    ScanningRole,
    access_of,
    analysis_of,
    one_of,
    utc_text,
)

from . import __version__
from .judge import Gap, Judgement, MemberView, RegionVerdict
from .model import (
    CALLER,
    AnalysisScan,
    AnalysisStatistics,
    ApiError,
    Finding,
    RegionScan,
    ScanResult,
)


def iso(value: dt.datetime | None) -> str | None:
    """A time as the document writes it (rules.utc_text); None stays None."""
    return None if value is None else utc_text(value)


def _error(error: ApiError) -> schema.ErrorEntry:
    return {"code": error.code, "message": error.message, "operation": error.operation}


def _gap(gap: Gap, acceptance: Acceptance | None = None) -> schema.Gap:
    entry: schema.Gap = {
        "scope": one_of(gap.scope, GAP_SCOPES), "region": gap.region, "code": gap.code.value,
        "severity": gap.severity.value, "title": gap.title, "detail": gap.detail,
        "remediation": gap.remediation, "remediation_note": gap.remediation_note,
        "controls": (controls_for_gap(gap.code.value, gap.analyzer_type)
                     if gap.bears_on_controls else []),
        "analyzer_type": gap.analyzer_type}
    if gap.accepted_by is not None and acceptance is not None:
        entry["exception"] = acceptance.accepted_by(gap.accepted_by)
    return entry


def _accepted_findings(findings: list[Finding], acceptance: Acceptance) -> list[Finding]:
    """The findings, each one an exception accepts carrying it (a copy: the collector's
    records stay as they were)."""
    if not acceptance.findings:
        return findings
    carried = {key: acceptance.accepted_by(key) for key in set(acceptance.findings.values())}
    return [{**f, "exception": carried[key]}
            if (key := acceptance.findings.get((f["region"], f["id"]))) else f
            for f in findings]


def _zero() -> schema.TypeCounts:
    return {"active": 0, "public": 0, "cross_account": 0, "errors": 0}


def finding_counts(findings: Iterable[Finding]) -> dict[str, schema.TypeCounts]:
    """Active findings per resource type: total, public, cross-account, errors."""
    counts: dict[str, schema.TypeCounts] = {}
    for finding in findings:
        if finding["status"] != "ACTIVE":
            continue
        entry = counts.get(finding["resource_type"])
        if entry is None:
            entry = counts[finding["resource_type"]] = _zero()
        entry["active"] += 1
        entry[access_of(finding["is_public"], finding["error"])] += 1
    return counts


def _region(scan: RegionScan, verdict: RegionVerdict) -> schema.Region:
    counts: dict[str, schema.TypeCounts] = {}
    if scan.findings_collected:
        counts = {t: _zero() for t in CLASSIC_RESOURCE_TYPES}
        counts.update(finding_counts(scan.findings))
    statistics = scan.statistics
    source = scan.findings_analyzer
    return {
        "region": scan.region,
        "status": verdict.status.value,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "opt_in_status": scan.availability.opt_in_status if scan.availability else None,
        "analyzers": [
            {"name": a.name, "arn": a.arn, "type": a.type, "status": a.status,
             "status_reason": a.status_reason, "created_at": iso(a.created_at),
             "managed_by": a.managed_by, "analysis": analysis_of(a.type).value,
             "account_id": a.account_id}
            for a in scan.analyzers or ()
        ],
        "findings_analyzer": ({"name": source.name, "arn": source.arn, "type": source.type,
                               "selection": verdict.findings_selection,
                               "account_id": source.account_id}
                              if source else None),
        "findings_scope": (one_of(verdict.findings_label, FINDINGS_SCOPES)
                           if verdict.findings_label is not None else None),
        "findings_collected": scan.findings_collected,
        "findings": counts,
        "archived": statistics.archived if statistics else None,
        "resolved": statistics.resolved if statistics else None,
        "archive_rules": [
            {"analyzer_arn": r.analyzer_arn, "name": r.name, "filter": dict(r.filter),
             "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}
            for r in scan.archive_rules
        ],
        "complete": verdict.complete,
        "error": _error(verdict.error) if verdict.error else None,
        "errors": [_error(e) for e in ((scan.analyzers_error,) if scan.analyzers_error else ())
                   + scan.findings_errors],
        "api_calls": scan.api_calls,
        "seconds": scan.seconds,
        "remediation": verdict.remediation,
        "remediation_note": verdict.remediation_note,
    }


def _statistics(statistics: AnalysisStatistics | None) -> schema.AnalysisStatistics | None:
    if statistics is None:
        return None
    out: schema.AnalysisStatistics = {"active": statistics.active,
                                      "archived": statistics.archived,
                                      "resolved": statistics.resolved}
    if statistics.by_resource_type:
        out["by_resource_type"] = {
            t: {"active": c.active, "archived": c.archived, "resolved": c.resolved}
            for t, c in statistics.by_resource_type.items()}
    if statistics.by_finding_type:
        out["by_finding_type"] = dict(statistics.by_finding_type)
    if statistics.by_account:
        out["by_account"] = [{"account": a.account, "active": a.active,
                              "by_finding_type": dict(a.by_finding_type)}
                             for a in statistics.by_account]
    return out


def analysis_block(regions: Iterable[RegionScan], analysis: Analysis) -> schema.AnalysisBlock:
    """`internal_access` or `unused_access`: each ACTIVE analyzer of the analysis, region by
    region, with its statistics and the findings read from it."""
    scans: list[tuple[str, AnalysisScan]] = [
        (scan.region, each) for scan in regions for each in scan.analyses
        if analysis_of(each.analyzer.type) is analysis]
    return {
        "analyzers": [
            {"region": region, "name": each.analyzer.name, "arn": each.analyzer.arn,
             "type": each.analyzer.type, "managed_by": each.analyzer.managed_by,
             "statistics": _statistics(each.statistics),
             "findings_collected": each.findings_collected,
             "findings_read": len(each.findings),
             "errors": [_error(e) for e in each.errors]}
            for region, each in scans],
        "findings": [f for _, each in scans for f in each.findings],
    }


def new_run_id(started: dt.datetime) -> str:
    """Sortable by start time, unique across concurrent runs."""
    return f"{started.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def build_document(result: ScanResult, judgement: Judgement,
                   configuration: Mapping[str, Any], run_id: str | None = None
                   ) -> schema.ScanDocument:
    """The scan.json document for a judged result."""
    run_id = run_id or new_run_id(result.started_at)
    org = result.organization
    regions = [_region(scan, verdict) for scan, verdict in zip(result.regions, judgement.regions,
                                                               strict=True)]
    # The collector built each finding as the record scan.json writes: no conversion.
    findings = [f for scan in result.regions for f in scan.findings]
    acceptance = judgement.acceptance
    if acceptance is not None:
        findings = _accepted_findings(findings, acceptance)
    gaps = [_gap(g, acceptance) for g in judgement.gaps]
    statuses = [v.status for v in judgement.regions]
    totals = _zero()
    for region in regions:
        for entry in region["findings"].values():
            totals["active"] += entry["active"]
            totals["public"] += entry["public"]
            totals["cross_account"] += entry["cross_account"]
            totals["errors"] += entry["errors"]
    coverage_only = result.coverage_only
    document: schema.ScanDocument = {
        "schema_version": schema.SCHEMA_VERSION,
        "run_id": run_id,
        "tool": {"name": schema.TOOL_NAME, "version": __version__},
        "started_at": iso(result.started_at) or "",
        "finished_at": iso(result.finished_at) or "",
        "identity": {"account_id": result.identity.account_id, "arn": result.identity.arn},
        "organization": {
            "id": org.organization_id,
            "management_account_id": org.management_account_id,
            "scanning_account_role": judgement.role.value,
            "scanning_account_role_detail": judgement.role_detail,
            "trusted_access": org.trusted_access,
            "delegated_administrators": (list(org.delegated_administrators)
                                         if org.delegated_administrators is not None else None),
            "accounts": dict(org.accounts) if org.accounts is not None else None,
            "errors": [_error(e) for e in org.errors],
            "examined_accounts": [
                {"account_id": e.account_id, "via": e.via,
                 # the caller's role as judged (with the evidence of its own analyzers)
                 "role": (judgement.role if e.via == CALLER else ScanningRole(e.role)).value,
                 "error": _error(e.error) if e.error else None}
                for e in result.examined],
        },
        "configuration": dict(configuration),
        "timings": {"discovery_seconds": result.discovery_seconds,
                    "regions_seconds": result.regions_seconds,
                    "scan_seconds": round(result.discovery_seconds + result.regions_seconds,
                                          3)},
        "discovery": {"source": result.discovery.source.value,
                      "errors": [_error(e) for e in result.discovery.errors]},
        "regions": regions,
        "findings": findings,
        "gaps": gaps,
        "advisories": [_gap(g) for g in judgement.advisories],
        "summary": {
            "regions_total": len(regions),
            "covered": statuses.count(RegionStatus.COVERED),
            "gaps": statuses.count(RegionStatus.GAP),
            "errors": statuses.count(RegionStatus.ERROR),
            "not_enabled": statuses.count(RegionStatus.NOT_ENABLED),
            "excluded": statuses.count(RegionStatus.EXCLUDED),
            # null, not 0, when no finding was read (--coverage-only): unknown is not none.
            "active_findings": None if coverage_only else totals["active"],
            "public_findings": None if coverage_only else totals["public"],
            "cross_account_findings": None if coverage_only else totals["cross_account"],
            "error_findings": None if coverage_only else totals["errors"],
            "verdict": judgement.verdict.value,
            "complete": judgement.complete,
            "incomplete_reasons": list(judgement.incomplete_reasons),
            "requirements_not_judged": list(judgement.not_judged),
            "coverage_only": result.coverage_only,
            "interrupted": result.interrupted,
            "controls": verdict_controls(),
        },
        "api_calls": dict(result.api_calls),
    }
    if not coverage_only:  # absent: not collected
        document["internal_access"] = analysis_block(result.regions, Analysis.INTERNAL_ACCESS)
        document["unused_access"] = analysis_block(result.regions, Analysis.UNUSED_ACCESS)
    if judgement.members is not None:
        document["member_view"] = _member_view(judgement.members)
    if acceptance is not None:
        document["exceptions"] = {"as_of": document["started_at"],
                                  "expiring_days": EXPIRING_DAYS,
                                  "entries": acceptance.entries}
        document["summary"]["accepted"] = counts_of(acceptance, findings)
    return document


def _member_view(view: MemberView) -> schema.MemberView:
    return {
        "role_name": view.role_name,
        "error": _error(view.error) if view.error else None,
        "accounts": [
            {"account_id": a.account_id, "name": a.name,
             "status": one_of(a.status, MEMBER_STATUSES),
             "error": _error(a.error) if a.error else None,
             "regions": {r: one_of(cell, MEMBER_CELLS) for r, cell in a.regions.items()},
             "region_errors": {r: _error(e) for r, e in a.region_errors.items()}}
            for a in view.accounts],
        "summary": dict(view.summary),
        "remediation": ({"template": view.remediation_template,
                         "commands": list(view.remediation_commands),
                         "note": view.remediation_note}
                        if view.remediation_template else None),
    }
