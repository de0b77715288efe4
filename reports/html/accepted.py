"""The accepted risk in report.html: the register of exceptions (who accepted what, until
when, in which state on the scan's day), the gaps and the findings they accept."""

from __future__ import annotations

from typing import Any

from reports.document.rules import type_label
from reports.document.schema import Gap, ScanDocument

from ..tables import SEVERITY_ORDER, accepted_text, parse_time, register_rows
from .display import day
from .overview import gap_entry

MAX_FINDINGS = 200  # rows of accepted findings (all are counted; the workbook has them all)
STATE_TONES = {"active": "ok", "expiring": "warn", "expired": "bad", "unused": "off"}


def _accepted_gaps(document: ScanDocument) -> list[dict[str, Any]]:
    """The accepted gaps, most severe first, each with its exception in words."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    accepted: list[Gap] = [g for g in document["gaps"] if "exception" in g]
    ordered = sorted(enumerate(accepted), key=lambda p: (rank.get(p[1]["severity"], 9), p[0]))
    out = []
    for _, gap in ordered:
        card = gap_entry(gap)
        card["accepted"] = accepted_text(gap["exception"])
        out.append(card)
    return out


def accepted_risk(document: ScanDocument) -> dict[str, Any]:
    """The Accepted risk section: whether the scan had exceptions, the register, and the
    gaps and findings accepted."""
    block = document.get("exceptions")
    if block is None:
        return {"configured": False, "register": [], "gaps": [], "findings": [],
                "findings_total": 0, "findings_rows": 0}
    register = []
    for row in register_rows(document):
        entry = row.entry
        register.append({
            "state": row.state, "tone": STATE_TONES.get(entry["state"], "warn"),
            "what": row.what, "reason": entry["reason"], "owner": entry["owner"],
            "expires": entry["expires"], "days": row.days, "ticket": entry["ticket"] or "",
            "source": entry["source"], "matched": row.matched, "accepted": entry["accepted"],
            "note": entry["note"] or "",
            "refused": bool(entry.get("refused"))})
    findings = [f for f in document["findings"] if "exception" in f]
    # One row per resource and exception (a bucket public in 13 regions is one row), public
    # first.
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        public = bool(f["is_public"]) and not f["error"]
        group = groups.setdefault((f["resource"] or f["id"], f["exception"]["key"]), {
            "resource": f["resource"] or f["id"], "type": type_label(f["resource_type"]),
            "regions": [], "public": 0, "accepted": accepted_text(f["exception"])})
        group["regions"].append(f["region"])
        group["public"] += public
    grouped = sorted(groups.values(), key=lambda g: (not g["public"], g["resource"]))
    for group in grouped:
        group["count"] = len(group["regions"])
        group["regions"] = sorted(set(group["regions"]))
    states = [r.entry["state"] for r in register_rows(document)]
    return {
        "configured": True, "as_of": day(parse_time(block["as_of"])),
        "expiring_days": block["expiring_days"], "register": register,
        "gaps": _accepted_gaps(document),
        "findings": grouped[:MAX_FINDINGS], "findings_total": len(findings),
        "findings_rows": len(grouped),
        "counts": {state: states.count(state)
                   for state in ("expired", "expiring", "unused", "active")},
    }
