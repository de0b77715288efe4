"""report.html: the self-contained gap report, for people and for compliance reviews.

One file with inline CSS and no scripts, fonts or links outside it, so it can be mailed,
archived and printed to PDF as it is. Python only prepares the data (mostly through
reports.tables, shared with the workbook); the markup lives in templates/ and is rendered
by jinja2 with autoescaping, so every value from AWS reaches the page escaped.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .files import write_atomic
from .tables import (
    SEVERITY_ORDER,
    STATUS_LABELS,
    STATUS_ORDER,
    account_name,
    account_totals,
    errors,
    finding_rows,
    headline,
    matrix_totals,
    parse_time,
    region_type_matrix,
    resource_types,
    type_label,
)

FILE_NAME = "report.html"
WORKBOOK_NAME = "report.xlsx"
TEMPLATE = "report.html"
MAX_ROWS_PER_TYPE = 200

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
    "TRUSTED_ACCESS_DISABLED": "trusted_access",
    "NO_DELEGATED_ADMINISTRATOR": "delegated_administrators",
    "NOT_IN_ORGANIZATION": "role",
    "SCANNED_FROM_MEMBER_ACCOUNT": "role",
    "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR": "role",
}
# Characters that are invisible or reorder text (bidi overrides, zero-width, C0/C1 controls
# other than tab and newlines), and lone surrogates (a JSON escape can carry one; UTF-8
# cannot): shown as [U+XXXX] so hostile names cannot hide or spoof.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e"
                        "\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
                        "\ud800-\udfff]")
_CSS_SAFE = re.compile(r"[^A-Za-z0-9 :.,_-]")


def visible(value: Any) -> Any:
    """Every expression's value on its way out: None is empty, invisible characters shown."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)
    return value


NOT_COLLECTED = "not collected"


def number(value: Any) -> str:
    return f"{int(value or 0):,}"


def count(value: Any) -> str:
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


def archive_filter_text(rule_filter: Any) -> str:
    """An archive rule's filter as one line: `key operator value; ...`."""
    if not isinstance(rule_filter, Mapping):
        return json.dumps(rule_filter, ensure_ascii=False, default=str)
    criteria: list[str] = []
    for key, tests in rule_filter.items():
        if isinstance(tests, Mapping):
            criteria.extend(f"{key} {op} {json.dumps(v, ensure_ascii=False, default=str)}"
                            for op, v in tests.items())
        else:
            criteria.append(f"{key} {json.dumps(tests, ensure_ascii=False, default=str)}")
    return "; ".join(criteria) or "no filter"


def archive_rules(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Archive rules, each once with the regions it is in (they are usually the same)."""
    rules: dict[tuple[str, str], dict[str, Any]] = {}
    for region in document.get("regions") or []:
        for rule in region.get("archive_rules") or []:
            name = str(rule.get("name") or "")
            text = archive_filter_text(rule.get("filter"))
            entry = rules.setdefault((name, text), {"name": name, "filter": text,
                                                    "regions": []})
            entry["regions"].append(str(region.get("region") or ""))
    return sorted(rules.values(), key=lambda r: (r["name"], r["filter"]))


def anchor(prefix: str, index: int, text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40]
    return f"{prefix}-{index}-{slug}" if slug else f"{prefix}-{index}"


def account_label(document: Mapping[str, Any], account_id: str | None) -> dict[str, str]:
    return {"id": account_id or "", "name": account_name(document, account_id)}


# -- sections -------------------------------------------------------------------------------


def _verdict(document: Mapping[str, Any]) -> dict[str, Any]:
    summary = document.get("summary") or {}
    verdict = str(summary.get("verdict") or "INCOMPLETE")
    return {"code": verdict, "headline": headline(document),
            "tone": VERDICT_TONES.get(verdict, "warn"),
            "statement": VERDICT_STATEMENTS.get(verdict, ""),
            "complete": bool(summary.get("complete", True)),
            "reasons": [str(r) for r in summary.get("incomplete_reasons") or []]}


def _figures(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    summary = document.get("summary") or {}
    total = summary.get("regions_total", len(document.get("regions") or []))
    return [
        {"label": "Regions covered", "value": number(summary.get("covered")),
         "of": number(total), "tone": "ok"},
        {"label": "Regions with gaps", "value": number(summary.get("gaps")), "of": "",
         "tone": "bad" if summary.get("gaps") else "plain"},
        {"label": "Regions not assessed", "value": number(summary.get("errors")), "of": "",
         "tone": "warn" if summary.get("errors") else "plain"},
        {"label": "Regions not enabled", "value": number(summary.get("not_enabled")), "of": "",
         "tone": "plain"},
        {"label": "Regions excluded", "value": number(summary.get("excluded")), "of": "",
         "tone": "plain"},
        {"label": "Active findings", "value": count(summary.get("active_findings")), "of": "",
         "tone": "plain"},
        {"label": "Public", "value": count(summary.get("public_findings")), "of": "",
         "tone": "bad" if summary.get("public_findings") else "plain"},
        {"label": "Cross-account", "value": count(summary.get("cross_account_findings")),
         "of": "", "tone": "plain"},
    ]


def _scan(document: Mapping[str, Any]) -> dict[str, Any]:
    org = document.get("organization") or {}
    identity = document.get("identity") or {}
    tool = document.get("tool") or {}
    role = str(org.get("scanning_account_role") or "UNKNOWN")
    return {
        "organization_id": org.get("id") or "unknown",
        "management": account_label(document, org.get("management_account_id")),
        "account": account_label(document, identity.get("account_id")),
        "arn": identity.get("arn") or "",
        "role": ROLE_LABELS.get(role, role),
        "role_detail": org.get("scanning_account_role_detail") or "",
        "started": when(document.get("started_at")),
        "finished": when(document.get("finished_at")),
        "duration": duration(document.get("started_at"), document.get("finished_at")),
        "tool": f"{tool.get('name') or 'aa-scan'} {tool.get('version') or ''}".strip(),
        "schema_version": document.get("schema_version"),
        "discovery": (document.get("discovery") or {}).get("source") or "",
    }


def _gap(gap: Mapping[str, Any]) -> dict[str, Any]:
    command = str(gap.get("remediation") or "").strip()
    note = str(gap.get("remediation_note") or "").strip()
    severity = str(gap.get("severity") or "INFO")
    region = gap.get("region")
    return {"severity": severity, "severity_class": severity.lower()
            if severity in SEVERITY_ORDER else "info",
            "title": gap.get("title") or "", "detail": gap.get("detail") or "",
            "code": gap.get("code") or "",
            "where": f"Region {region}" if region else "Organization",
            "command": command, "note": note}


def _by_severity(gaps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    ordered = sorted(enumerate(gaps),
                     key=lambda p: (rank.get(str(p[1].get("severity")), len(rank)), p[0]))
    return [_gap(g) for _, g in ordered]


def _organization_row(key: str, label: str, state: str, tone: str, facts: list[str],
                      detail: str, gaps: list[dict[str, Any]]) -> dict[str, Any]:
    if any(g["severity"] in ("CRITICAL", "HIGH") for g in gaps):
        tone = "bad"
    return {"key": key, "label": label, "state": state, "tone": tone, "facts": facts,
            "detail": detail, "gaps": gaps}


def _organization(document: Mapping[str, Any]) -> dict[str, Any]:
    """The integration checks, each with the gaps (and their remediation) that explain it."""
    org = document.get("organization") or {}
    identity = document.get("identity") or {}
    attached: dict[str, list[dict[str, Any]]] = {}
    for gap in [*(document.get("gaps") or []), *(document.get("advisories") or [])]:
        row = ORGANIZATION_GAP_ROWS.get(str(gap.get("code")))
        if gap.get("scope") == "organization" and row:
            attached.setdefault(row, []).append(_gap(gap))
    role = str(org.get("scanning_account_role") or "UNKNOWN")

    if org.get("id"):
        membership = ("Member of an organization", "ok")
    elif role == "NOT_IN_ORGANIZATION":
        membership = ("Not in an organization", "bad")
    else:
        membership = ("Unknown", "warn")
    management = org.get("management_account_id")

    trusted = org.get("trusted_access")
    if trusted is None:
        access = ("Unknown", "warn",
                  "ListAWSServiceAccessForOrganization did not answer (see Errors).")
    elif trusted:
        access = ("Enabled", "ok",
                  "access-analyzer.amazonaws.com is a trusted service of the organization.")
    else:
        access = ("Disabled", "bad", "")

    admins = org.get("delegated_administrators")
    if admins is None:
        delegated = ("Unknown", "warn", "ListDelegatedAdministrators did not answer (see Errors).")
    elif admins:
        delegated = ("Registered", "ok", "")
    else:
        delegated = ("None registered", "advice", "")

    if attached.get("role") or role == "UNKNOWN":
        role_tone = "warn"
    elif role in ("MANAGEMENT", "DELEGATED_ADMINISTRATOR"):
        role_tone = "ok"
    else:
        role_tone = "bad"

    rows = [
        _organization_row("organization", "Organization", *membership,
                          [org.get("id") or "unknown"],
                          f"Management account {_account_text(document, management)}"
                          if management else "", []),
        _organization_row("trusted_access", "Trusted access for IAM Access Analyzer",
                          access[0], access[1], [], access[2],
                          attached.get("trusted_access", [])),
        _organization_row("delegated_administrators", "Delegated administrator",
                          delegated[0], delegated[1],
                          [_account_text(document, a) for a in admins or []], delegated[2],
                          attached.get("delegated_administrators", [])),
        _organization_row("role", "Scanning account role", ROLE_LABELS.get(role, role),
                          role_tone, [_account_text(document, identity.get("account_id"))],
                          str(org.get("scanning_account_role_detail") or ""),
                          attached.get("role", [])),
    ]
    others = _by_severity(g for g in document.get("gaps") or []
                          if g.get("scope") == "organization"
                          and str(g.get("code")) not in ORGANIZATION_GAP_ROWS)
    advisories = _by_severity(document.get("advisories") or [])
    for advisory in advisories:
        placed = ORGANIZATION_GAP_ROWS.get(advisory["code"])
        advisory["check"] = next((r for r in rows if r["key"] == placed), None)
    return {"rows": rows, "other_gaps": others,
            "errors": [_error(e) for e in errors(document) if e["scope"] == "organization"],
            "advisories": advisories}


def _account_text(document: Mapping[str, Any], account_id: str | None) -> str:
    name = account_name(document, account_id)
    return f"{account_id} ({name})" if name else str(account_id or "unknown")


def _error(error: Mapping[str, Any]) -> dict[str, Any]:
    return {"scope": error.get("scope") or "", "region": error.get("region") or "",
            "operation": error.get("operation") or "", "code": error.get("code") or "",
            "message": error.get("message") or ""}


def _regions(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    gaps_by_region: dict[str, list[str]] = {}
    for gap in document.get("gaps") or []:
        if gap.get("region"):
            gaps_by_region.setdefault(str(gap["region"]), []).append(str(gap.get("title")))
    rows = []
    for region in document.get("regions") or []:
        status = str(region.get("status") or "ERROR")
        counts = region.get("findings") or {}
        collected = bool(region.get("findings_collected"))
        source = region.get("findings_analyzer") or {}
        titles = gaps_by_region.get(str(region.get("region")), [])
        rows.append({
            "region": region.get("region") or "",
            "status": status,
            "label": STATUS_LABELS.get(status, status),
            "tone": STATUS_TONES.get(status, "warn"),
            "opt_in": str(region.get("opt_in_status") or "").replace("_", " ").lower(),
            "reason": region.get("reason") or "",
            "detail": region.get("detail") or "",
            "gaps": titles if len(titles) > 1 else [],
            "analyzers": [{"name": a.get("name") or "", "type": a.get("type") or "",
                           "status": a.get("status") or "",
                           "status_reason": a.get("status_reason") or "",
                           "active": a.get("status") == "ACTIVE"}
                          for a in region.get("analyzers") or []],
            "archive_rules": len(region.get("archive_rules") or []),
            "collected": collected,
            "complete": bool(region.get("complete")),
            "incomplete": collected and not region.get("complete"),
            "account_scope": region.get("findings_scope") == "ACCOUNT",
            "source": source.get("name") or "",
            "active": sum(int(c.get("active", 0)) for c in counts.values()),
            "public": sum(int(c.get("public", 0)) for c in counts.values()),
            "archived": region.get("archived"),
            "resolved": region.get("resolved"),
        })
    rows.sort(key=lambda r: (order.get(r["status"], len(order)), r["region"]))
    return rows


def _status_counts(regions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = {s: 0 for s in STATUS_ORDER}
    for row in regions:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return [{"status": s, "label": STATUS_LABELS.get(s, s), "tone": STATUS_TONES.get(s, "warn"),
             "count": n} for s, n in counts.items()]


def _matrix(document: Mapping[str, Any], region_order: list[str]) -> dict[str, Any]:
    types = resource_types(document)
    rows = region_type_matrix(document)
    totals = matrix_totals(rows, types)
    position = {name: i for i, name in enumerate(region_order)}
    rows.sort(key=lambda r: (position.get(r["region"], len(position)), str(r["region"])))
    for row in rows:
        row["label"] = STATUS_LABELS.get(str(row["status"]), str(row["status"]))
        row["tone"] = STATUS_TONES.get(str(row["status"]), "warn")
        row["account_scope"] = row["scope"] == "ACCOUNT"
        row["incomplete"] = row["collected"] and not row["complete"]
        row["ordered"] = [row["cells"][t] for t in types]
    return {"types": [{"type": t, "label": type_label(t)} for t in types], "rows": rows,
            "totals": [totals["cells"][t] for t in types], "total": totals["total"],
            "account_scope": any(r["account_scope"] for r in rows),
            "incomplete": any(r["incomplete"] for r in rows),
            "collected": any(r["collected"] for r in rows)}


def _accounts(document: Mapping[str, Any]) -> dict[str, Any]:
    org = document.get("organization") or {}
    roles = {org.get("management_account_id"): "management account"}
    for admin in org.get("delegated_administrators") or []:
        roles[admin] = "delegated administrator"
    rows = []
    for entry in account_totals(document):
        types = sorted(entry["types"].items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append({**entry, "role": roles.get(entry["account_id"], ""),
                     "types": [{"label": type_label(t), "count": n} for t, n in types]})
    listed = org.get("accounts")
    return {"rows": rows, "names_listed": bool(listed),
            "total": {k: sum(r[k] for r in rows) for k in ("active", "public", "cross_account")}}


def _access(row: Mapping[str, Any]) -> tuple[str, str]:
    if row["error"]:
        return "Error", "warn"
    if row["is_public"] is None:
        return "Unknown", "off"
    return ("Public", "bad") if row["is_public"] else ("Cross-account", "plain")


def _findings(document: Mapping[str, Any], max_rows: int) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in finding_rows(document):
        groups.setdefault(str(row["resource_type"] or ""), []).append(row)
    order = [t for t in resource_types(document) if t in groups]
    order += sorted(t for t in groups if t not in order)
    sections = []
    for index, resource_type in enumerate(order, start=1):
        rows = groups[resource_type]
        rows.sort(key=lambda r: (r["is_public"] is not True, str(r["region"] or ""),
                                 str(r["owner_account"] or ""), str(r["resource"] or "")))
        active = [r for r in rows if r["status"] == "ACTIVE"]
        shown = rows[:max(0, max_rows)]
        sections.append({
            "id": anchor("type", index, resource_type),
            "type": resource_type, "label": type_label(resource_type),
            "total": len(rows), "active": len(active),
            "public": sum(1 for r in active if r["is_public"] and not r["error"]),
            "cross_account": sum(1 for r in active if not r["is_public"] and not r["error"]),
            "shown": len(shown), "capped": len(shown) < len(rows),
            "rows": [_finding(r) for r in shown],
        })
    return {"sections": sections, "cap": max_rows, "workbook": WORKBOOK_NAME,
            "total": sum(s["total"] for s in sections),
            "shown": sum(s["shown"] for s in sections),
            "capped": any(s["capped"] for s in sections)}


def _finding(row: Mapping[str, Any]) -> dict[str, Any]:
    access, tone = _access(row)
    return {"resource": row["resource"] or "", "region": row["region"] or "",
            "owner": row["owner_account"] or "", "owner_name": row["owner_name"] or "",
            "principal": row["principal"],
            "actions": row["actions"],
            "condition": row["condition"], "access": access, "tone": tone,
            "error": row["error"] or "", "status": row["status"] or "",
            "account_scope": row["scope"] == "ACCOUNT",
            "created": day(row["created_at"]), "updated": day(row["updated_at"])}


def context(document: Mapping[str, Any], max_rows_per_type: int = MAX_ROWS_PER_TYPE
            ) -> dict[str, Any]:
    """Everything the template shows, as plain values (no markup)."""
    scan = _scan(document)
    regions = _regions(document)
    summary = document.get("summary") or {}
    started = parse_time(document.get("started_at"))
    footer = f"{scan['organization_id']} · {when(document.get('started_at'))}"
    return {
        "verdict": _verdict(document),
        "figures": _figures(document),
        "scan": scan,
        "configuration": [{"key": str(k), "value": setting(v)}
                          for k, v in (document.get("configuration") or {}).items()],
        "organization": _organization(document),
        "gaps": _by_severity(document.get("gaps") or []),
        "regions": regions,
        "status_counts": _status_counts(regions),
        "archive_rules": archive_rules(document),
        "matrix": _matrix(document, [r["region"] for r in regions]),
        "accounts": _accounts(document),
        "findings": _findings(document, max_rows_per_type),
        "errors": [_error(e) for e in errors(document)],
        "coverage_only": bool(summary.get("coverage_only")),
        "title": f"IAM Access Analyzer coverage — {scan['organization_id']}"
                 + (f" — {started:%Y-%m-%d}" if started else ""),
        # Goes into a CSS string (the printed page footer): letters, digits, a few marks.
        "footer": _CSS_SAFE.sub("", footer.replace("·", "-"))[:80],
    }


def render(document: Mapping[str, Any], max_rows_per_type: int = MAX_ROWS_PER_TYPE
           ) -> Iterable[str]:
    """The page, in chunks."""
    template = environment().get_template(TEMPLATE)
    return template.generate(context(document, max_rows_per_type))


def write_html(document: Mapping[str, Any], directory: Path, *,
               max_rows_per_type: int = MAX_ROWS_PER_TYPE) -> Path:
    """Write directory/report.html atomically: complete, or not there at all."""

    def write(stream: IO[bytes]) -> None:
        buffer: list[str] = []
        size = 0
        for chunk in render(document, max_rows_per_type):
            buffer.append(chunk)
            size += len(chunk)
            if size > 1 << 16:
                stream.write("".join(buffer).encode("utf-8"))
                buffer, size = [], 0
        stream.write("".join(buffer).encode("utf-8"))

    return write_atomic(directory / FILE_NAME, write)
