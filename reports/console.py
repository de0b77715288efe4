"""The terminal summary: one table row per region, then the verdict and the gaps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
COLUMNS = ("REGION", "STATUS", "REASON", "ACTIVE", "PUBLIC")


def clean(value: Any) -> str:
    """Text from AWS with control characters (terminal escape sequences) neutralised."""
    return _CONTROL.sub("?", "" if value is None else str(value))


def _counts(region: Mapping[str, Any]) -> tuple[str, str]:
    if not region.get("findings_collected"):
        return "-", "-"
    findings = region.get("findings") or {}
    active = sum(c.get("active", 0) for c in findings.values())
    public = sum(c.get("public", 0) for c in findings.values())
    mark = "" if region.get("complete", True) else "+"
    return f"{active}{mark}", f"{public}{mark}"


def render_console(document: Mapping[str, Any], width: int = 100) -> str:
    org = document.get("organization") or {}
    summary = document.get("summary") or {}
    identity = document.get("identity") or {}
    lines = [
        f"aa-scan {clean((document.get('tool') or {}).get('version'))}: organization "
        f"{clean(org.get('id') or 'unknown')}, scanned from {clean(identity.get('account_id'))} "
        f"({clean(org.get('scanning_account_role'))})",
        f"Trusted access: {_tristate(org.get('trusted_access'), 'enabled', 'DISABLED')}   "
        f"Delegated administrator: {_admins(org.get('delegated_administrators'))}",
        "",
    ]
    rows = []
    for region in document.get("regions") or []:
        active, public = _counts(region)
        reason = clean(region.get("reason") or "")
        rows.append((clean(region.get("region")), clean(region.get("status")), reason, active,
                     public))
    reason_width = max(10, width - 16 - 13 - 8 - 8 - 8)
    header = f"{COLUMNS[0]:<16}{COLUMNS[1]:<13}{COLUMNS[2]:<{reason_width}}" \
             f"{COLUMNS[3]:>8}{COLUMNS[4]:>8}"
    lines.append(header)
    for region_name, status, reason, active, public in rows:
        if len(reason) > reason_width - 1:
            reason = reason[: reason_width - 2] + "…"
        lines.append(f"{region_name:<16}{status:<13}{reason:<{reason_width}}{active:>8}"
                     f"{public:>8}")
    if any(r[3].endswith("+") for r in rows):
        lines.append("(+: incomplete, more findings may exist)")
    lines.append("")
    verdict = clean(summary.get("verdict"))
    if summary.get("active_findings") is None:
        findings = "Findings: not collected (coverage only)."
    else:
        findings = (f"Active findings: {summary.get('active_findings', 0)} "
                    f"({summary.get('public_findings', 0)} public, "
                    f"{summary.get('cross_account_findings', 0)} cross-account).")
    lines.append(
        f"Verdict: {verdict}. Regions: {summary.get('covered', 0)} covered, "
        f"{summary.get('gaps', 0)} with gaps, {summary.get('errors', 0)} not assessed, "
        f"{summary.get('not_enabled', 0)} not enabled, {summary.get('excluded', 0)} excluded. "
        + findings)
    for reason in summary.get("incomplete_reasons") or []:
        lines.append(f"Incomplete: {clean(reason)}")
    gaps = document.get("gaps") or []
    if gaps:
        lines.append("")
        lines.append(f"Gaps ({len(gaps)}):")
        for gap in gaps:
            lines.append(f"  [{clean(gap.get('severity'))}] {clean(gap.get('title'))}")
            lines.append(f"      fix: {clean(gap.get('remediation'))}")
            if gap.get("remediation_note"):
                lines.append(f"           {clean(gap.get('remediation_note'))}")
    for advisory in document.get("advisories") or []:
        lines.append(f"Advisory [{clean(advisory.get('severity'))}]: "
                     f"{clean(advisory.get('title'))}")
    return "\n".join(lines) + "\n"


def _tristate(value: Any, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def _admins(value: Any) -> str:
    if value is None:
        return "unknown"
    return ", ".join(clean(v) for v in value) if value else "none"
