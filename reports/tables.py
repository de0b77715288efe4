"""Tabulations of the scan document shared by the HTML report and the workbook.

Pure functions over the document (no judging: the verdicts and gaps are already in it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

CLASSIC_RESOURCE_TYPES: tuple[str, ...] = (
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
)
TYPE_LABELS: Mapping[str, str] = {
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::IAM::Role": "IAM role",
    "AWS::KMS::Key": "KMS key",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::Lambda::LayerVersion": "Lambda layer",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::SecretsManager::Secret": "Secrets Manager secret",
    "AWS::EFS::FileSystem": "EFS file system",
    "AWS::EC2::Snapshot": "EBS snapshot",
    "AWS::ECR::Repository": "ECR repository",
    "AWS::RDS::DBSnapshot": "RDS snapshot",
    "AWS::RDS::DBClusterSnapshot": "RDS cluster snapshot",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::S3Express::DirectoryBucket": "S3 directory bucket",
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::Stream": "DynamoDB stream",
    "AWS::IAM::User": "IAM user",
}
STATUS_ORDER = ("ERROR", "GAP", "COVERED", "EXCLUDED", "NOT_ENABLED")
SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO")
STATUS_LABELS: Mapping[str, str] = {
    "COVERED": "Covered",
    "GAP": "Gap",
    "NOT_ENABLED": "Not enabled",
    "EXCLUDED": "Excluded",
    "ERROR": "Not assessed",
}


def type_label(resource_type: str) -> str:
    return TYPE_LABELS.get(resource_type, resource_type)


def resource_types(document: Mapping[str, Any]) -> list[str]:
    """The seven classic types always, then every other type present, alphabetically."""
    seen: set[str] = set()
    for region in document.get("regions") or []:
        seen.update((region.get("findings") or {}).keys())
    for finding in document.get("findings") or []:
        seen.add(finding.get("resource_type") or "")
    extra = sorted(t for t in seen if t and t not in CLASSIC_RESOURCE_TYPES)
    return [*CLASSIC_RESOURCE_TYPES, *extra]


def _zero() -> dict[str, int]:
    # errors: active findings Access Analyzer could not analyze (neither public nor
    # cross-account), so active = public + cross_account + errors.
    return {"active": 0, "public": 0, "cross_account": 0, "errors": 0}


def region_type_matrix(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per region: status and, per resource type, active / public / cross-account /
    errors."""
    types = resource_types(document)
    rows = []
    for region in document.get("regions") or []:
        counts = region.get("findings") or {}
        cells = {t: {k: int((counts.get(t) or {}).get(k, 0)) for k in _zero()} for t in types}
        total = {k: sum(c[k] for c in cells.values()) for k in _zero()}
        rows.append({"region": region.get("region"), "status": region.get("status"),
                     "collected": bool(region.get("findings_collected")),
                     "complete": bool(region.get("complete")),
                     "scope": region.get("findings_scope"), "cells": cells, "total": total})
    return rows


def matrix_totals(rows: list[dict[str, Any]], types: list[str]) -> dict[str, Any]:
    cells = {t: {k: sum(r["cells"][t][k] for r in rows) for k in _zero()} for t in types}
    total = {k: sum(r["total"][k] for r in rows) for k in _zero()}
    return {"cells": cells, "total": total}


def account_name(document: Mapping[str, Any], account_id: str | None) -> str:
    accounts = (document.get("organization") or {}).get("accounts") or {}
    return str(accounts.get(account_id or "", "")) if account_id else ""


def account_totals(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Active findings per resource-owner account, busiest first."""
    totals: dict[str, dict[str, Any]] = {}
    for finding in document.get("findings") or []:
        if finding.get("status") != "ACTIVE":
            continue
        account = finding.get("resource_owner_account") or "unknown"
        entry = totals.setdefault(account, {"account_id": account,
                                            "name": account_name(document, account),
                                            "active": 0, "public": 0, "cross_account": 0,
                                            "regions": set(), "types": {}})
        entry["active"] += 1
        if finding.get("is_public") and not finding.get("error"):
            entry["public"] += 1
        elif not finding.get("error"):
            entry["cross_account"] += 1
        entry["regions"].add(finding.get("region"))
        resource_type = finding.get("resource_type") or ""
        entry["types"][resource_type] = entry["types"].get(resource_type, 0) + 1
    rows = []
    for entry in totals.values():
        entry["regions"] = len(entry["regions"])
        rows.append(entry)
    return sorted(rows, key=lambda r: (-r["active"], r["account_id"]))


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_mapping(mapping: Mapping[str, Any] | None) -> str:
    if not mapping:
        return ""
    return "; ".join(f"{k}: {v}" for k, v in mapping.items())


def scope_of(document: Mapping[str, Any]) -> dict[str, str | None]:
    """Analyzer ARN -> the scope of its findings (ORGANIZATION, or ACCOUNT when labelled)."""
    scopes: dict[str, str | None] = {}
    for region in document.get("regions") or []:
        source = region.get("findings_analyzer") or {}
        if source.get("arn"):
            scopes[source["arn"]] = region.get("findings_scope")
    return scopes


def finding_rows(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every finding as a flat row with typed values (datetimes, booleans)."""
    scopes = scope_of(document)
    for f in document.get("findings") or []:
        owner = f.get("resource_owner_account")
        yield {
            "region": f.get("region"),
            "resource_type": f.get("resource_type"),
            "resource": f.get("resource"),
            "owner_account": owner,
            "owner_name": account_name(document, owner),
            "principal": format_mapping(f.get("principal")),
            "action": ", ".join(f.get("action") or []),
            "actions": list(f.get("action") or []),
            "condition": format_mapping(f.get("condition")),
            "is_public": f.get("is_public"),
            "status": f.get("status"),
            "scope": scopes.get(f.get("analyzer_arn") or ""),
            "created_at": parse_time(f.get("created_at")),
            "updated_at": parse_time(f.get("updated_at")),
            "analyzed_at": parse_time(f.get("analyzed_at")),
            "error": f.get("error"),
            "id": f.get("id"),
            "analyzer_arn": f.get("analyzer_arn"),
        }


def headline(document: Mapping[str, Any]) -> str:
    """The verdict at a glance: Compliant / N gaps / Incomplete."""
    summary = document.get("summary") or {}
    verdict = summary.get("verdict")
    gaps = len(document.get("gaps") or [])
    if verdict == "COMPLIANT":
        return "Compliant"
    if verdict == "NON_COMPLIANT":
        suffix = " (scan incomplete)" if not summary.get("complete", True) else ""
        return f"{gaps} gap{'s' if gaps != 1 else ''}{suffix}"
    return "Incomplete"


def errors(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every call that failed: organization, discovery and region errors, one row each."""
    rows: list[dict[str, Any]] = []
    for error in (document.get("organization") or {}).get("errors") or []:
        rows.append({"scope": "organization", "region": None, **error})
    for error in (document.get("discovery") or {}).get("errors") or []:
        rows.append({"scope": "region discovery", "region": None, **error})
    for region in document.get("regions") or []:
        reported = list(region.get("errors") or [])
        main = region.get("error")
        if main and main not in reported:
            reported.insert(0, main)
        for error in reported:
            rows.append({"scope": "region", "region": region.get("region"), **error})
    return rows
