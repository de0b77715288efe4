"""The regions part of report.html: every region with its status and analyzers, the counts
by status, the region x resource type matrix, the accounts with findings, the archive rules,
and the member view (IAM.28 account by account)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.document.derive import rule_assessments
from reports.document.rules import Analysis, analysis_of, member_outcome, type_label
from reports.document.schema import MemberAccount, ScanDocument

from ..tables import (
    COUNT_KEYS,
    STATUS_LABELS,
    STATUS_ORDER,
    accepted_text,
    account_totals,
    filter_text,
    lower_bound,
    matrix_totals,
    region_type_matrix,
    resource_types,
)
from .display import STATUS_TONES

RULE_LABELS = {"broad": "Can archive public findings",
               "public_named": "Archives public findings of named resources",
               "narrow": "Narrow"}
RULE_TONES = {"broad": "bad", "public_named": "warn", "narrow": "ok"}


def archive_rules(document: ScanDocument) -> list[dict[str, Any]]:
    """Archive rules, each once with the regions it is in (they are usually the same), its
    class (can it archive public findings?) and, per region, the findings its analyzer holds
    archived and active there (0 active beside many archived is worth a look)."""
    rules: dict[tuple[str, str], dict[str, Any]] = {}
    assessed = {(a["region"], a["analyzer_arn"], a["name"]): a
                for a in rule_assessments(document)}
    for region in document["regions"]:
        for rule in region["archive_rules"]:
            text = filter_text(rule["filter"])
            found = assessed.get((region["region"], rule["analyzer_arn"], rule["name"]))
            kind = found["classification"] if found else "narrow"
            entry = rules.setdefault((rule["name"], text), {
                "name": rule["name"], "filter": text, "regions": [],
                "classification": kind, "label": RULE_LABELS[kind], "tone": RULE_TONES[kind],
                "why": found["why"] if found else ""})
            archived, active = (found["archived"], found["active"]) if found else (None, None)
            entry["regions"].append({
                "region": region["region"], "archived": archived, "active": active,
                "suspicious": bool(archived) and active == 0})
    order = {"broad": 0, "public_named": 1, "narrow": 2}
    return sorted(rules.values(), key=lambda r: (order[r["classification"]], r["name"],
                                                 r["filter"]))


def region_rows(document: ScanDocument) -> list[dict[str, Any]]:
    """Every region with its status, analyzers and counts, ordered by status then name."""
    order: Mapping[str, int] = {s: i for i, s in enumerate(STATUS_ORDER)}
    gaps_by_region: dict[str, list[str]] = {}
    accepted_by_region: dict[str, list[str]] = {}
    for gap in document["gaps"]:
        if gap["region"]:
            gaps_by_region.setdefault(gap["region"], []).append(gap["title"])
            if "exception" in gap:
                accepted_by_region.setdefault(gap["region"], []).append(
                    f"{gap['code']} {accepted_text(gap['exception'])}")
    rows = []
    for region in document["regions"]:
        status = region["status"]
        counts = region["findings"].values()
        collected = region["findings_collected"]
        source = region["findings_analyzer"]
        titles = gaps_by_region.get(region["region"], [])
        rows.append({
            "region": region["region"],
            "status": status,
            "label": STATUS_LABELS.get(status, status),
            "tone": STATUS_TONES.get(status, "warn"),
            "opt_in": (region["opt_in_status"] or "").replace("_", " ").lower(),
            "reason": region["reason"] or "",
            "detail": region["detail"],
            "gaps": titles if len(titles) > 1 else [],
            "accepted": accepted_by_region.get(region["region"], []),
            "analyzers": [{"name": a["name"], "type": a["type"], "status": a["status"],
                           "status_reason": a["status_reason"] or "",
                           "active": a["status"] == "ACTIVE",
                           "managed_by": a.get("managed_by") or "",
                           "unknown": analysis_of(a["type"]) is Analysis.UNKNOWN}
                          for a in region["analyzers"]],
            "archive_rules": len(region["archive_rules"]),
            "collected": collected,
            "complete": region["complete"],
            "incomplete": collected and not region["complete"],
            "account_scope": region["findings_scope"] == "ACCOUNT",
            "source": source["name"] if source else "",
            "active": sum(c["active"] for c in counts),
            "public": sum(c["public"] for c in counts),
            "archived": region["archived"],
            "resolved": region["resolved"],
        })
    rows.sort(key=lambda r: (order.get(str(r["status"]), len(order)), str(r["region"])))
    return rows


def status_counts(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many regions have each status, in the order of STATUS_ORDER."""
    counts = {s: 0 for s in STATUS_ORDER}
    for row in regions:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return [{"status": s, "label": STATUS_LABELS.get(s, s), "tone": STATUS_TONES.get(s, "warn"),
             "count": n} for s, n in counts.items()]


def matrix(document: ScanDocument, region_order: list[str]) -> dict[str, Any]:
    """The region x resource type matrix of active findings, regions in `region_order`."""
    types = resource_types(document)
    matrix = region_type_matrix(document, types)
    cells, total = matrix_totals(matrix, types)
    position = {name: i for i, name in enumerate(region_order)}
    matrix.sort(key=lambda r: (position.get(r.region["region"], len(position)),
                               r.region["region"]))
    rows = []
    for row in matrix:
        status = row.region["status"]
        rows.append({"region": row.region["region"], "label": STATUS_LABELS.get(status, status),
                     "tone": STATUS_TONES.get(status, "warn"),
                     "account_scope": row.region["findings_scope"] == "ACCOUNT",
                     "collected": row.collected, "incomplete": row.incomplete,
                     "ordered": [row.cells[t] for t in types], "total": row.total})
    return {"types": [{"type": t, "label": type_label(t)} for t in types], "rows": rows,
            "totals": [cells[t] for t in types], "total": total,
            "account_scope": any(r["account_scope"] for r in rows),
            "incomplete": any(r["incomplete"] for r in rows),
            "collected": any(r["collected"] for r in rows)}


def accounts(document: ScanDocument) -> dict[str, Any]:
    """The accounts that own resources with active findings, with their counts and role."""
    org = document["organization"]
    roles = {org["management_account_id"]: "management account"}
    for admin in org["delegated_administrators"] or []:
        roles[admin] = "delegated administrator"
    rows = []
    for entry in account_totals(document):
        types = sorted(entry.types.items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append({"account_id": entry.account_id, "name": entry.name, **entry.counts,
                     "regions": len(entry.regions), "role": roles.get(entry.account_id, ""),
                     "types": [{"label": type_label(t), "count": n} for t, n in types]})
    return {"rows": rows, "names_listed": bool(org["accounts"]),
            "total": {k: sum(r[k] for r in rows) for k in COUNT_KEYS},
            "lower_bound": lower_bound(document)}


MEMBER_TONES = {"PASS": "ok", "FAIL": "bad", "NOT_ENABLED": "off", "ERROR": "warn",
                "SUSPENDED": "off", "ASSESSED": "ok", "NO REGION": "off"}


MEMBER_ORDER = {"FAIL": 0, "ERROR": 1, "PASS": 2, "NO REGION": 3, "SUSPENDED": 4}
MEMBER_CELLS = {"PASS": "pass", "FAIL": "FAIL", "ERROR": "error", "NOT_ENABLED": "off"}
MAX_MEMBER_ROWS = 500  # the workbook's Member accounts sheet has every account


def _member_outcome(account: MemberAccount) -> str:
    return member_outcome(account["status"], account["regions"].values())


def members(document: ScanDocument) -> dict[str, Any] | None:
    """The member view as a matrix: accounts down (failing first), regions across (those
    enabled somewhere), a short badge per cell; why an account or a cell could not be read
    is listed under it, not squeezed into the matrix."""
    view = document.get("member_view")
    if view is None:
        return None
    accounts = sorted(view["accounts"], key=lambda a: (
        MEMBER_ORDER.get(_member_outcome(a), 9), a["account_id"]))
    every = sorted({r for a in accounts for r in a["regions"]})
    regions = [r for r in every
               if any(a["regions"].get(r) not in (None, "NOT_ENABLED") for a in accounts)]
    rows, problems = [], []
    for account in accounts:
        outcome = _member_outcome(account)
        rows.append({
            "account_id": account["account_id"], "name": account["name"], "status": outcome,
            "tone": MEMBER_TONES.get(outcome, "warn"),
            "cells": [{"label": MEMBER_CELLS.get(account["regions"].get(r, ""), "—"),
                       "title": account["regions"].get(r, "not examined"),
                       "tone": MEMBER_TONES.get(account["regions"].get(r, ""), "off")}
                      for r in regions]})
        error = account["error"]
        if error:
            problems.append({"account_id": account["account_id"], "name": account["name"],
                             "region": "every region",
                             "reason": f"{error['code']}: {error['message']}"})
        for region, why in sorted((account.get("region_errors") or {}).items()):
            problems.append({"account_id": account["account_id"], "name": account["name"],
                             "region": region, "reason": f"{why['code']}: {why['message']}"})
    error = view.get("error")
    return {"role_name": view["role_name"], "regions": regions,
            "not_enabled": [r for r in every if r not in regions],
            "rows": rows[:MAX_MEMBER_ROWS], "total": len(rows),
            "problems": problems[:MAX_MEMBER_ROWS], "problems_total": len(problems),
            "summary": view["summary"],
            "error": f"{error['code']}: {error['message']}" if error else "",
            "remediation": view.get("remediation")}
