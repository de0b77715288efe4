"""report.html: the self-contained gap report, for people and for compliance reviews.

One file with inline CSS and no scripts, fonts or links outside it, so it can be mailed,
archived and printed to PDF as it is. Python only prepares the data (mostly through
reports.tables, shared with the workbook); the markup lives in templates/ and is rendered
by jinja2 with autoescaping, so every value from AWS reaches the page escaped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reports.document.controls import assess
from reports.document.pack import Integrity
from reports.document.rules import (
    ANALYSIS_LABELS,
    Analysis,
    GapCode,
    analysis_of,
    member_outcome,
    reveal,
    type_label,
)
from reports.document.schema import Finding, Gap, ScanDocument
from reports.document.scope import completeness, configuration_sha256, scope

from .files import write_atomic
from .tables import (
    COUNT_KEYS,
    SEVERITY_ORDER,
    STATUS_LABELS,
    STATUS_ORDER,
    UNUSED_TYPE_LABELS,
    FindingRow,
    account_name,
    account_text,
    account_totals,
    analysis_analyzers,
    analysis_block,
    errors,
    examined_accounts,
    filter_text,
    finding_row_maker,
    findings_totals,
    headline,
    internal_type_rows,
    lower_bound,
    matrix_totals,
    parse_time,
    region_type_matrix,
    resource_types,
    setting,
    untold_text,
    unused_rows,
    unused_types,
)

FILE_NAME = "report.html"
WORKBOOK_NAME = "report.xlsx"
TEMPLATE = "report.html"
MAX_ROWS_PER_TYPE = 200
NOT_COLLECTED = "not collected"

VERDICT_TONES: Mapping[str, str] = {"COMPLIANT": "ok", "NON_COMPLIANT": "bad",
                                    "INCOMPLETE": "warn"}
VERDICT_STATEMENTS: Mapping[str, str] = {
    "COMPLIANT": "Every assessed region is covered by the required IAM Access Analyzer "
                 "analyzers.",
    "NON_COMPLIANT": "IAM Access Analyzer coverage of the organization has gaps that need "
                     "remediation.",
    "INCOMPLETE": "The scan could not assess everything, so the result is not conclusive.",
}
STATUS_TONES: Mapping[str, str] = {"COVERED": "ok", "GAP": "bad", "ERROR": "warn",
                                   "NOT_ENABLED": "off", "EXCLUDED": "excl"}
ROLE_LABELS: Mapping[str, str] = {
    "MANAGEMENT": "Management account",
    "DELEGATED_ADMINISTRATOR": "Delegated administrator",
    "MEMBER": "Member account",
    "NOT_IN_ORGANIZATION": "Not in an organization",
    "UNKNOWN": "Unknown",
}
# Organization-scope gaps and advisories, by the row of the integration table they explain.
ORGANIZATION_GAP_ROWS: Mapping[str, str] = {
    GapCode.TRUSTED_ACCESS_DISABLED: "trusted_access",
    GapCode.NO_DELEGATED_ADMINISTRATOR: "delegated_administrators",
    GapCode.NOT_IN_ORGANIZATION: "role",
    GapCode.SCANNED_FROM_MEMBER_ACCOUNT: "role",
    GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR: "role",
}
_CSS_SAFE = re.compile(r"[^A-Za-z0-9 :.,_-]")


def visible(value: Any) -> Any:
    """Every expression's value on its way out: None is empty, unsafe characters shown."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return reveal(value)
    return value


def number(value: Any) -> str:
    return f"{int(value or 0):,}"


def count(value: int | None) -> str:
    """A count that may be unknown (None: not collected), never shown as 0."""
    return NOT_COLLECTED if value is None else number(value)


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, finalize=visible, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = number
    return env


# -- small formatters -----------------------------------------------------------------------


def when(value: Any) -> str:
    parsed = value if isinstance(value, dt.datetime) else parse_time(value)
    if parsed is None:
        return str(value) if value else ""
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d") if value else ""


def duration(started: Any, finished: Any) -> str:
    start, end = parse_time(started), parse_time(finished)
    if start is None or end is None or end < start:
        return ""
    seconds = int((end - start).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def archive_rules(document: ScanDocument) -> list[dict[str, Any]]:
    """Archive rules, each once with the regions it is in (they are usually the same)."""
    rules: dict[tuple[str, str], dict[str, Any]] = {}
    for region in document["regions"]:
        for rule in region["archive_rules"]:
            text = filter_text(rule["filter"])
            entry = rules.setdefault((rule["name"], text), {"name": rule["name"], "filter": text,
                                                            "regions": []})
            entry["regions"].append(region["region"])
    return sorted(rules.values(), key=lambda r: (r["name"], r["filter"]))


def anchor(prefix: str, index: int, text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40]
    return f"{prefix}-{index}-{slug}" if slug else f"{prefix}-{index}"


def account_label(document: ScanDocument, account_id: str | None) -> dict[str, str]:
    return {"id": account_id or "", "name": account_name(document, account_id)}


# -- sections -------------------------------------------------------------------------------


def _verdict(document: ScanDocument) -> dict[str, Any]:
    summary = document["summary"]
    verdict = summary["verdict"]
    return {"code": verdict, "headline": headline(document),
            "tone": VERDICT_TONES.get(verdict, "warn"),
            "statement": VERDICT_STATEMENTS.get(verdict, ""),
            "complete": summary["complete"], "reasons": summary["incomplete_reasons"]}


def _figures(document: ScanDocument) -> list[dict[str, Any]]:
    summary = document["summary"]
    totals = findings_totals(document)
    plus = "+" if lower_bound(document) else ""

    def found(value: int | None) -> str:
        return count(value) + (plus if value is not None else "")

    return [
        {"label": "Regions covered", "value": number(summary["covered"]),
         "of": number(summary["regions_total"]), "tone": "ok"},
        {"label": "Regions with gaps", "value": number(summary["gaps"]), "of": "",
         "tone": "bad" if summary["gaps"] else "plain"},
        {"label": "Regions not assessed", "value": number(summary["errors"]), "of": "",
         "tone": "warn" if summary["errors"] else "plain"},
        {"label": "Regions not enabled", "value": number(summary["not_enabled"]), "of": "",
         "tone": "plain"},
        {"label": "Regions excluded", "value": number(summary["excluded"]), "of": "",
         "tone": "plain"},
        {"label": "Active findings", "value": found(summary["active_findings"]), "of": "",
         "tone": "plain"},
        {"label": "Public", "value": found(summary["public_findings"]), "of": "",
         "tone": "bad" if summary["public_findings"] else "plain"},
        {"label": "Cross-account", "value": found(summary["cross_account_findings"]),
         "of": "", "tone": "plain"},
        {"label": "Could not be analyzed",
         "value": found(None if totals is None else totals["errors"]), "of": "",
         "tone": "warn" if totals and totals["errors"] else "plain"},
    ]


# The settings the scope statement names; every one is under Configuration.
SCOPE_PARAMETERS = ("regions", "coverage_types", "finding_statuses", "coverage_only", "fail_on",
                    "role_arn", "home_region")


def _scope(document: ScanDocument) -> dict[str, Any]:
    """The first page's scope statement: population, query, parameters, completeness."""
    found = scope(document)
    done = completeness(document)
    calls = done["api_calls"]
    configuration = document["configuration"]
    return {
        "organization": document["organization"]["id"] or "unknown",
        "accounts": found["accounts"],
        "enabled": found["regions_enabled"],
        "scanned": found["regions_scanned"],
        "not_enabled": found["regions_not_enabled"],
        "excluded": [{"region": r, "reason": why} for r, why in
                     found["regions_excluded"].items()],
        "calls": None if calls is None else [{"operation": op, "count": n}
                                             for op, n in calls.items()],
        "calls_total": sum(calls.values()) if calls else 0,
        "parameters": [{"key": key, "value": setting(configuration[key])}
                       for key in SCOPE_PARAMETERS if key in configuration],
        "settings": len(configuration),
        "configuration_sha256": configuration_sha256(configuration),
        "complete": done["complete"],
        "reasons": done["reasons"],
    }


def _scan(document: ScanDocument) -> dict[str, Any]:
    org = document["organization"]
    identity = document["identity"]
    tool = document["tool"]
    role = org["scanning_account_role"]
    return {
        "organization_id": org["id"] or "unknown",
        "management": account_label(document, org["management_account_id"]),
        "account": account_label(document, identity["account_id"]),
        "arn": identity["arn"],
        "role": ROLE_LABELS.get(role, role),
        "role_detail": org["scanning_account_role_detail"],
        "started": when(document["started_at"]),
        "finished": when(document["finished_at"]),
        "duration": duration(document["started_at"], document["finished_at"]),
        "tool": f"{tool['name']} {tool['version']}".strip(),
        "schema_version": document["schema_version"],
        "discovery": document["discovery"]["source"],
    }


def _gap(gap: Gap) -> dict[str, Any]:
    severity = gap["severity"]
    region = gap["region"]
    controls = gap.get("controls", [])
    cited = list(dict.fromkeys(f"{c['framework']} {c['id']}" for c in controls))
    return {"severity": severity, "controls": cited,
            "severity_class": severity.lower() if severity in SEVERITY_ORDER else "info",
            "title": gap["title"], "detail": gap["detail"], "code": gap["code"],
            "where": f"Region {region}" if region else "Organization",
            "command": gap["remediation"].strip(), "note": gap["remediation_note"].strip()}


def _by_severity(gaps: Iterable[Gap]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    ordered = sorted(enumerate(gaps), key=lambda p: (rank.get(p[1]["severity"], len(rank)),
                                                     p[0]))
    return [_gap(g) for _, g in ordered]


def _organization_row(key: str, label: str, state: str, tone: str, facts: list[str],
                      detail: str, gaps: list[dict[str, Any]]) -> dict[str, Any]:
    if any(g["severity"] in ("CRITICAL", "HIGH") for g in gaps):
        tone = "bad"
    return {"key": key, "label": label, "state": state, "tone": tone, "facts": facts,
            "detail": detail, "gaps": gaps}


def _organization(document: ScanDocument) -> dict[str, Any]:
    """The integration checks, each with the gaps (and their remediation) that explain it."""
    org = document["organization"]
    attached: dict[str, list[dict[str, Any]]] = {}
    for gap in [*document["gaps"], *document["advisories"]]:
        row = ORGANIZATION_GAP_ROWS.get(gap["code"])
        if gap["scope"] == "organization" and row:
            attached.setdefault(row, []).append(_gap(gap))
    role_gaps = [g for g in document["gaps"] if ORGANIZATION_GAP_ROWS.get(g["code"]) == "role"]
    role = org["scanning_account_role"]

    if org["id"]:
        membership = ("Member of an organization", "ok")
    elif role == "NOT_IN_ORGANIZATION":
        membership = ("Not in an organization", "bad")
    else:
        membership = ("Unknown", "warn")
    management = org["management_account_id"]

    trusted = org["trusted_access"]
    if trusted is None:
        access = ("Unknown", "warn",
                  "ListAWSServiceAccessForOrganization did not answer (see Errors).")
    elif trusted:
        access = ("Enabled", "ok",
                  "access-analyzer.amazonaws.com is a trusted service of the organization.")
    else:
        access = ("Disabled", "bad", "")

    admins = org["delegated_administrators"]
    if admins is None:
        delegated = ("Unknown", "warn", "ListDelegatedAdministrators did not answer (see Errors).")
    elif admins:
        delegated = ("Registered", "ok", "")
    else:
        delegated = ("None registered", "advice", "")

    if role_gaps or role == "UNKNOWN":
        role_tone = "warn"
    elif role in ("MANAGEMENT", "DELEGATED_ADMINISTRATOR"):
        role_tone = "ok"
    else:
        role_tone = "bad"

    rows = [
        _organization_row("organization", "Organization", *membership,
                          [org["id"] or "unknown"],
                          f"Management account {account_text(document, management)}"
                          if management else "", []),
        _organization_row("trusted_access", "Trusted access for IAM Access Analyzer",
                          access[0], access[1], [], access[2],
                          attached.get("trusted_access", [])),
        _organization_row("delegated_administrators", "Delegated administrator",
                          delegated[0], delegated[1],
                          [account_text(document, a) for a in admins or []], delegated[2],
                          attached.get("delegated_administrators", [])),
        _organization_row("role", "Scanning account role", ROLE_LABELS.get(role, role),
                          role_tone, [account_text(document, document["identity"]["account_id"])],
                          org["scanning_account_role_detail"], attached.get("role", [])),
    ]
    examined = examined_accounts(document)
    if examined:
        failed = sum(1 for _, ok in examined if not ok)
        rows.append(_organization_row(
            "examined", "Accounts examined (--admin-role-name)",
            f"{failed} of {len(examined)} not examined" if failed else
            f"All {len(examined)} examined", "bad" if failed else "ok",
            [text for text, _ in examined],
            "Organization analyzers can live in the management account and in the delegated "
            "administrator; each region is judged on the analyzers of every account examined, "
            "and its findings are read from one organization analyzer.", []))
    others = _by_severity(g for g in document["gaps"] if g["scope"] == "organization"
                          and g["code"] not in ORGANIZATION_GAP_ROWS)
    advisories = _by_severity(document["advisories"])
    for advisory in advisories:
        placed = ORGANIZATION_GAP_ROWS.get(advisory["code"])
        advisory["check"] = next((r for r in rows if r["key"] == placed), None)
    return {"rows": rows, "other_gaps": others,
            "errors": [e for e in errors(document) if e.scope == "organization"],
            "advisories": advisories}


def _regions(document: ScanDocument) -> list[dict[str, Any]]:
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    gaps_by_region: dict[str, list[str]] = {}
    for gap in document["gaps"]:
        if gap["region"]:
            gaps_by_region.setdefault(gap["region"], []).append(gap["title"])
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


def _status_counts(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = {s: 0 for s in STATUS_ORDER}
    for row in regions:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return [{"status": s, "label": STATUS_LABELS.get(s, s), "tone": STATUS_TONES.get(s, "warn"),
             "count": n} for s, n in counts.items()]


def _matrix(document: ScanDocument, region_order: list[str]) -> dict[str, Any]:
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


def _accounts(document: ScanDocument) -> dict[str, Any]:
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


def _access(row: FindingRow) -> tuple[str, str]:
    if row.error:
        return "Error", "warn"
    if row.is_public is None:
        return "Unknown", "off"
    return ("Public", "bad") if row.is_public else ("Cross-account", "plain")


def _findings(document: ScanDocument, max_rows: int) -> dict[str, Any]:
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


ERRORS_SHOWN = 20  # findings that could not be analyzed kept in a capped detail, at least


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
            "created": day(row.created_at), "updated": day(row.updated_at)}


MAX_NEW_PUBLIC = 20  # new public findings listed in the "Since" panel (all are counted)
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 520, 170, 34


def _analysis_rows(document: ScanDocument, key: Any, cap: int) -> list[dict[str, Any]]:
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


def _analyzer_summary(document: ScanDocument, key: Any) -> list[dict[str, Any]]:
    return [{"region": a["region"], "name": a["name"], "type": a["type"],
             "managed_by": a["managed_by"] or "",
             "active": a["statistics"]["active"] if a["statistics"] else None,
             "archived": a["statistics"]["archived"] if a["statistics"] else None,
             "resolved": a["statistics"]["resolved"] if a["statistics"] else None,
             "collected": a["findings_collected"], "read": a["findings_read"],
             "errors": len(a["errors"])}
            for a in analysis_analyzers(document, key)]


def _internal(document: ScanDocument, cap: int) -> dict[str, Any] | None:
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


def _unused(document: ScanDocument, cap: int) -> dict[str, Any] | None:
    block = analysis_block(document, "unused_access")
    if block is None:
        return None
    kinds = unused_types(document)
    return {"analyzers": _analyzer_summary(document, "unused_access"),
            "kinds": [{"type": k, "label": UNUSED_TYPE_LABELS.get(k, k)} for k in kinds],
            "rows": [{"region": r.region, "analyzer": r.analyzer, "managed_by": r.managed_by
                      or "", "account": r.account or "", "account_name": r.account_name,
                      "active": r.active, "counts": [r.by_type.get(k, 0) for k in kinds]}
                     for r in unused_rows(document)],
            "collected": any(a["findings_collected"] for a in block["analyzers"]),
            "findings": _analysis_rows(document, "unused_access", cap),
            "total": len(block["findings"]), "cap": cap}


def _changes(document: ScanDocument) -> dict[str, Any] | None:
    """The "Since <baseline>" panel: what changed, from the document's changes block."""
    found = document.get("changes")
    if found is None:
        return None
    baseline = found["baseline"]
    if baseline is None:
        return {"first": True, "history_error": found.get("history_error")}
    new_public = [f for f in found["findings_new"] if f["is_public"]]
    changed = sorted(found.get("findings_changed", []),
                     key=lambda f: (not (f["is_public"] and not f["was_public"]), f["region"],
                                    f["resource"] or ""))
    counts = found["counts"]
    turned = counts.get("findings_turned_public", 0)
    requirement = found.get("requirement")
    severity = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return {
        "first": False,
        "since": day(parse_time(baseline["started_at"])),
        "baseline": baseline,
        "counts": found["counts"],
        "opened": sorted(found["gaps_opened"], key=lambda g: severity.get(g["severity"], 9)),
        "closed": found["gaps_closed"],
        "regions": [{**r, "before_label": STATUS_LABELS.get(r["before"] or "", "not listed"),
                     "after_label": STATUS_LABELS.get(r["after"] or "", "not listed"),
                     "before_tone": STATUS_TONES.get(r["before"] or "", "off"),
                     "after_tone": STATUS_TONES.get(r["after"] or "", "off")}
                    for r in found["regions"]],
        "new_public": new_public[:MAX_NEW_PUBLIC],
        "new_public_more": max(0, len(new_public) - MAX_NEW_PUBLIC),
        "unknown": found["unknown"],
        "collected": document["summary"]["active_findings"] is not None,
        "new_public_count": counts["findings_new_public"] - turned,
        "changed_count": counts.get("findings_changed", 0),
        "turned_count": turned,
        "changed": [{"region": f["region"], "resource": f["resource"],
                     "turned": f["is_public"] and not f["was_public"],
                     "fields": ", ".join(f["fields"])} for f in changed[:MAX_NEW_PUBLIC]],
        "changed_more": max(0, len(changed) - MAX_NEW_PUBLIC),
        "requirement": requirement and {
            "before": " + ".join(requirement["before"] or ["not recorded"]),
            "after": " + ".join(requirement["after"] or ["not recorded"])},
        "compared_with": [{**c, "since": day(parse_time(c["started_at"]))}
                          for c in found.get("compared_with", [])],
        "history_error": found.get("history_error"),
        "escalated": [g for g in found.get("gaps_changed", []) if g["escalated"]],
        "untold": untold_text(found),
    }



def _series(points: list[tuple[float, float]], top: float) -> dict[str, Any]:
    """Chart coordinates of one line: x already in 0..1, y scaled to 0..top."""
    width, height, pad = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD, CHART_PAD
    scaled = [(round(pad + x * width, 1), round(pad + height - (y / top if top else 0) * height,
                                                  1)) for x, y in points]
    return {"points": " ".join(f"{x},{y}" for x, y in scaled),
            "dots": [{"x": x, "y": y} for x, y in scaled]}


def _trend(document: ScanDocument) -> dict[str, Any] | None:
    """Two small line charts over the recorded runs (inline SVG, drawn by the template)."""
    runs = document.get("trend")
    if not runs or len(runs) < 2:
        return None  # a trend needs two recorded runs (the first says so in its panel)
    times = [t.timestamp() for t in (parse_time(r["started_at"]) for r in runs) if t]
    if len(times) != len(runs):
        return None
    first, last = min(times), max(times)
    xs = [(t - first) / (last - first) if last > first else 0.5 for t in times]
    total = max(r["regions_total"] for r in runs) or 1
    active = [r["active_findings"] for r in runs]
    top = max([a for a in active if a is not None] or [0]) or 1
    with_findings = [(x, r) for x, r in zip(xs, runs, strict=True)
                     if r["active_findings"] is not None]
    axis = {"left": CHART_PAD, "right": CHART_WIDTH - CHART_PAD, "top": CHART_PAD,
            "bottom": CHART_HEIGHT - CHART_PAD, "width": CHART_WIDTH, "height": CHART_HEIGHT}
    return {
        "runs": len(runs), "first": day(parse_time(runs[0]["started_at"])),
        "last": day(parse_time(runs[-1]["started_at"])), "axis": axis,
        "coverage": {"top": total, "line": _series([(x, r["covered"]) for x, r in
                                                     zip(xs, runs, strict=True)], total),
                     "latest": runs[-1]["covered"]},
        "findings": {"top": top,
                     "active": _series([(x, r["active_findings"] or 0)
                                        for x, r in with_findings], top),
                     "public": _series([(x, r["public_findings"] or 0)
                                        for x, r in with_findings], top),
                     "latest": runs[-1]["active_findings"],
                     "latest_public": runs[-1]["public_findings"]},
    }


def _ages(document: ScanDocument) -> dict[str, Any] | None:
    age = document.get("finding_age")
    if age is None:
        return None
    rows = [{"type": t, "label": type_label(t), "counts": [counts.get(b, 0)
                                                            for b in age["buckets"]]}
            for t, counts in sorted(age["by_type"].items(),
                                    key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    resolve = age["time_to_resolve"]
    return {"buckets": age["buckets"], "rows": rows,
            "total": [age["total"].get(b, 0) for b in age["buckets"]],
            "unknown": age["unknown_age"], "oldest": age["oldest_public"],
            "oldest_label": type_label(age["oldest_public"]["resource_type"])
            if age["oldest_public"] else "",
            "resolve": resolve}


MEMBER_TONES = {"PASS": "ok", "FAIL": "bad", "NOT_ENABLED": "off", "ERROR": "warn",
                "SUSPENDED": "off", "ASSESSED": "ok", "NO REGION": "off"}


MEMBER_ORDER = {"FAIL": 0, "ERROR": 1, "PASS": 2, "NO REGION": 3, "SUSPENDED": 4}
MEMBER_CELLS = {"PASS": "pass", "FAIL": "FAIL", "ERROR": "error", "NOT_ENABLED": "off"}
MAX_MEMBER_ROWS = 500  # the workbook's Member accounts sheet has every account


def _member_outcome(account: Mapping[str, Any]) -> str:
    return member_outcome(account["status"], account["regions"].values())


def _members(document: ScanDocument) -> dict[str, Any] | None:
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


def _integrity(integrity: Integrity | None) -> list[dict[str, Any]] | None:
    """The integrity box: identifiers and commands in a fixed-width font, sentences not."""
    if integrity is None:
        return None
    return [{"item": item, "value": value, "mono": " " not in value or value.startswith("aa-scan ")}
            for item, value in integrity.rows()]


def context(document: ScanDocument, max_rows_per_type: int = MAX_ROWS_PER_TYPE,
            integrity: Integrity | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain values (no markup). `integrity`: the pack
    this page is written into (None: a page on its own, beside its scan.json)."""
    has_scan_json = integrity is None or integrity.has_scan_json
    scan = _scan(document)
    regions = _regions(document)
    started = parse_time(document["started_at"])
    footer = f"{scan['organization_id']} · {when(document['started_at'])}"
    return {
        "verdict": _verdict(document),
        "figures": _figures(document),
        "scope": _scope(document),
        "controls": assess(document),
        "changes": _changes(document),
        "trend": _trend(document),
        "ages": _ages(document),
        "scan": scan,
        "configuration": [{"key": str(k), "value": setting(v)}
                          for k, v in document["configuration"].items()],
        "organization": _organization(document),
        "gaps": _by_severity(document["gaps"]),
        "regions": regions,
        "status_counts": _status_counts(regions),
        "archive_rules": archive_rules(document),
        "matrix": _matrix(document, [r["region"] for r in regions]),
        "accounts": _accounts(document),
        "members": _members(document),
        "findings": _findings(document, max_rows_per_type),
        "internal": _internal(document, max_rows_per_type),
        "unused": _unused(document, max_rows_per_type),
        "unknown_label": ANALYSIS_LABELS[Analysis.UNKNOWN],
        "errors": errors(document),
        "coverage_only": document["summary"]["coverage_only"],
        "integrity": _integrity(integrity),
        "has_scan_json": has_scan_json,
        "record": "scan.json" if has_scan_json else "the workbook",
        "title": f"IAM Access Analyzer coverage — {scan['organization_id']}"
                 + (f" — {started:%Y-%m-%d}" if started else ""),
        # Goes into a CSS string (the printed page footer): letters, digits, a few marks.
        "footer": _CSS_SAFE.sub("", footer.replace("·", "-"))[:80],
    }


def render(document: ScanDocument, max_rows_per_type: int = MAX_ROWS_PER_TYPE,
           integrity: Integrity | None = None) -> Iterable[str]:
    """The page, in chunks."""
    template = environment().get_template(TEMPLATE)
    return template.generate(context(document, max_rows_per_type, integrity))


def write_html(document: ScanDocument, directory: Path, *,
               max_rows_per_type: int = MAX_ROWS_PER_TYPE,
               integrity: Integrity | None = None) -> Path:
    """Write directory/report.html atomically: complete, or not there at all."""

    def write(stream: IO[bytes]) -> None:
        buffer: list[str] = []
        size = 0
        for chunk in render(document, max_rows_per_type, integrity):
            buffer.append(chunk)
            size += len(chunk)
            if size > 1 << 16:
                stream.write("".join(buffer).encode("utf-8"))
                buffer, size = [], 0
        stream.write("".join(buffer).encode("utf-8"))

    return write_atomic(directory / FILE_NAME, write)
