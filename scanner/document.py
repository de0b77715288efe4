"""The scan document (scan.json): the judged result as the stable contract other tools read.

Renderers take this document, never the scanner's classes, so a live scan and
`--from-json` take the same path. The JSON Schema ships in scanner/schema/.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from reports.tables import CLASSIC_RESOURCE_TYPES

from . import __version__
from .errors import InputError
from .judge import Gap, Judgement, RegionVerdict
from .model import ApiError, Finding, RegionScan, RegionStatus, ScanResult

SCHEMA_VERSION = 1
TOOL_NAME = "aa-scan"


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(error: ApiError | None) -> dict[str, str] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "operation": error.operation}


def _gap(gap: Gap) -> dict[str, Any]:
    return {"scope": gap.scope, "region": gap.region, "code": str(gap.code),
            "severity": gap.severity.value, "title": gap.title, "detail": gap.detail,
            "remediation": gap.remediation, "remediation_note": gap.remediation_note}


def finding_counts(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    """Active findings per resource type: total, public, cross-account, errors."""
    counts: dict[str, dict[str, int]] = {}
    for finding in findings:
        if finding.status != "ACTIVE":
            continue
        entry = counts.setdefault(finding.resource_type,
                                  {"active": 0, "public": 0, "cross_account": 0, "errors": 0})
        entry["active"] += 1
        if finding.error:
            entry["errors"] += 1
        elif finding.is_public:
            entry["public"] += 1
        else:
            entry["cross_account"] += 1
    return counts


def _region(scan: RegionScan, verdict: RegionVerdict) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    if scan.findings_collected:
        counts = {t: {"active": 0, "public": 0, "cross_account": 0, "errors": 0}
                  for t in CLASSIC_RESOURCE_TYPES}
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
             "status_reason": a.status_reason, "created_at": iso(a.created_at)}
            for a in scan.analyzers or ()
        ],
        "findings_analyzer": ({"name": source.name, "arn": source.arn, "type": source.type,
                               "selection": verdict.findings_selection}
                              if source else None),
        "findings_scope": verdict.findings_label,
        "findings_collected": scan.findings_collected,
        "findings": counts,
        "archived": statistics.archived if statistics else None,
        "resolved": statistics.resolved if statistics else None,
        "archive_rules": [
            {"analyzer_arn": r.analyzer_arn, "name": r.name, "filter": r.filter,
             "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}
            for r in scan.archive_rules
        ],
        "complete": verdict.complete,
        "error": _error(verdict.error),
        "errors": [_error(e) for e in ((scan.analyzers_error,) if scan.analyzers_error else ())
                   + scan.findings_errors],
        "api_calls": scan.api_calls,
        "seconds": scan.seconds,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "region": finding.region,
        "analyzer_arn": finding.analyzer_arn,
        "id": finding.id,
        "resource_type": finding.resource_type,
        "resource": finding.resource,
        "resource_owner_account": finding.resource_owner_account,
        "principal": dict(finding.principal),
        "action": list(finding.action),
        "condition": dict(finding.condition),
        "is_public": finding.is_public,
        "status": finding.status,
        "created_at": iso(finding.created_at),
        "updated_at": iso(finding.updated_at),
        "analyzed_at": iso(finding.analyzed_at),
        "error": finding.error,
    }


def build_document(result: ScanResult, judgement: Judgement,
                   configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The scan.json document for a judged result."""
    org = result.organization
    regions = [_region(scan, verdict) for scan, verdict in zip(result.regions, judgement.regions,
                                                               strict=True)]
    findings = [_finding(f) for scan in result.regions for f in scan.findings]
    statuses = [v.status for v in judgement.regions]
    active = [f for scan in result.regions for f in scan.findings if f.status == "ACTIVE"]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "started_at": iso(result.started_at),
        "finished_at": iso(result.finished_at),
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
        "gaps": [_gap(g) for g in judgement.gaps],
        "advisories": [_gap(g) for g in judgement.advisories],
        "summary": {
            "regions_total": len(regions),
            "covered": statuses.count(RegionStatus.COVERED),
            "gaps": statuses.count(RegionStatus.GAP),
            "errors": statuses.count(RegionStatus.ERROR),
            "not_enabled": statuses.count(RegionStatus.NOT_ENABLED),
            "excluded": statuses.count(RegionStatus.EXCLUDED),
            # null, not 0, when no finding was read (--coverage-only): unknown is not none.
            "active_findings": None if result.coverage_only else len(active),
            "public_findings": None if result.coverage_only else sum(
                1 for f in active if f.is_public and not f.error),
            "cross_account_findings": None if result.coverage_only else sum(
                1 for f in active if not f.is_public and not f.error),
            "verdict": judgement.verdict.value,
            "complete": judgement.complete,
            "incomplete_reasons": list(judgement.incomplete_reasons),
            "coverage_only": result.coverage_only,
            "interrupted": result.interrupted,
        },
    }


@cache
def schema() -> dict[str, Any]:
    text = (resources.files("scanner") / "schema" / "scan.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(document: Any) -> None:
    """Raise InputError naming the first place the document breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise InputError(f"not a valid scan document at {where}: {error.message[:300]}")


def load_document(path: Path) -> dict[str, Any]:
    """Read a scan.json for re-rendering: missing, corrupt or newer files are clear errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                         ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): "
                         f"{exc.msg}") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: not a scan document (expected a JSON object)")
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise InputError(f"{path}: schema_version {version} is newer than this aa-scan "
                         f"understands ({SCHEMA_VERSION}); upgrade aa-scan to render it")
    try:
        validate(document)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return document
