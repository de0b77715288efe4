"""The terminal summary: a table row per region called or excluded by name (those not enabled
or left out by a region list folded into a line each), then the verdict and the gaps."""

from __future__ import annotations

import textwrap

from reports.document.exceptions import verdict_text
from reports.document.rules import UNSELECTED, one_line
from reports.document.schema import AnalysisStatistics, Region, ScanDocument
from reports.document.scope import region_counts, regions_sentence

from .tables import (
    STATE_LABELS,
    STATE_ORDER,
    UNUSED_TYPE_LABELS,
    AnalysisKey,
    accepted_text,
    analysis_analyzers,
    examined_accounts,
    findings_totals,
    lower_bound,
    register_rows,
    untold_text,
)

COLUMNS = ("REGION", "STATUS", "REASON", "ACTIVE", "PUBLIC")


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def changes_line(document: ScanDocument) -> str | None:
    """One line for a scheduled user: what changed since the baseline.

    Since 2026-11-25: +1 gap, -2 gaps, +14 findings (3 public), 1 changed (1 turned public),
    20 closed
    """
    found = document.get("changes")
    if found is None:
        return None
    baseline = found["baseline"]
    problem = found.get("history_error")
    if baseline is None:
        if problem:
            return (f"Not compared: {clean(problem)}. Nothing is called new or closed; the new-* "
                    "gates count every gap and public finding as new.")
        return "First recorded run: nothing to compare with yet."
    counts = found["counts"]
    parts = [f"+{_plural(counts['gaps_opened'], 'gap')}",
             f"-{_plural(counts['gaps_closed'], 'gap')}"]
    if counts.get("gaps_escalated"):
        parts.append(f"{_plural(counts['gaps_escalated'], 'gap')} more severe")
    if counts["regions_changed"]:
        parts.append(f"{_plural(counts['regions_changed'], 'region')} changed status")
    if document["summary"]["active_findings"] is not None:
        turned = counts.get("findings_turned_public", 0)
        parts.append(f"+{_plural(counts['findings_new'], 'finding')} "
                     f"({counts['findings_new_public'] - turned} public)")
        if counts.get("findings_changed"):
            parts.append(f"{counts['findings_changed']} changed"
                         + (f" ({turned} turned public)" if turned else ""))
        parts.append(f"{counts['findings_closed']} closed")
    lapsed = counts.get("gaps_no_longer_accepted", 0) + counts.get(
        "public_no_longer_accepted", 0)
    if counts.get("gaps_opened_accepted"):
        parts[0] += f" ({counts['gaps_opened_accepted']} accepted)"
    if lapsed:
        parts.append(f"{lapsed} no longer accepted (an exception expired or was removed)")
    register = found.get("exceptions")
    if register is not None:
        moved = [f"{len(register[k])} {k}" for k in ("added", "removed", "expired", "changed")
                 if register[k]]
        if moved:
            parts.append("exceptions: " + ", ".join(moved))
    line = f"Since {baseline['started_at'][:10]}: " + ", ".join(parts)
    requirement = found.get("requirement")
    if requirement:
        line += (f"; requirement changed ({_types(requirement['before'])} -> "
                 f"{_types(requirement['after'])})")
    if found["unknown"]:
        line += (f"; not compared in {_plural(len(found['unknown']), 'region')} ("
                 + ", ".join(clean(u["region"]) for u in found["unknown"][:5])
                 + (", ..." if len(found["unknown"]) > 5 else "") + ")")
    untold = untold_text(found)
    if untold:
        line += f"; {untold} not compared (the new-* gates count them as new)"
    if problem:
        line += f"; {clean(problem)}"
    return line


def _types(types: list[str] | None) -> str:
    return "+".join(types) if types else "not recorded"


def clean(value: object) -> str:
    """Text from AWS for one terminal line: escape sequences and line breaks shown, not sent."""
    return one_line("" if value is None else str(value))


def _counts(region: Region) -> tuple[str, str]:
    if not region["findings_collected"]:
        return "-", "-"
    findings = region["findings"].values()
    active = sum(c["active"] for c in findings)
    public = sum(c["public"] for c in findings)
    mark = "" if region["complete"] else "+"
    return f"{active}{mark}", f"{public}{mark}"


def render_console(document: ScanDocument, width: int = 100) -> str:
    org = document["organization"]
    summary = document["summary"]
    lines = [
        f"aa-scan {clean(document['tool']['version'])}: organization "
        f"{clean(org['id'] or 'unknown')}, scanned from "
        f"{clean(document['identity']['account_id'])} ({clean(org['scanning_account_role'])})",
        f"Trusted access: {_tristate(org['trusted_access'], 'enabled', 'DISABLED')}   "
        f"Delegated administrator: {_admins(org['delegated_administrators'])}",
        "",
    ]
    view = document.get("member_view")
    if view is not None:
        counts = view["summary"]
        lines.insert(2, f"Member view ({clean(view['role_name'])}): {counts['accounts']} "
                        f"account(s), {counts['pass']} pass, {counts['fail']} fail, "
                        f"{counts['error']} error" + (
                            f"; the accounts could not be listed: "
                            f"{clean(error['code'])}: {clean(error['message'])}"
                            if (error := view.get("error")) else ""))
    examined = examined_accounts(document)
    if examined:
        lines.insert(2, "Accounts examined: " + "; ".join(clean(text) for text, _ in examined))
    rows = []
    # Regions nobody called for a plain reason are one line each, not a row each: a quick
    # check of two regions stays a two-row table.
    unselected = [r["region"] for r in document["regions"]
                  if r["status"] == "EXCLUDED" and r["reason"] == UNSELECTED]
    off = [r for r in document["regions"] if r["status"] == "NOT_ENABLED"]
    not_enabled = [r["region"] + (f" ({r['reason']})" if r["reason"] not in (None, "DISABLED")
                                  else "") for r in off]
    folded = {*unselected, *(r["region"] for r in off)}
    for region in document["regions"]:
        if region["region"] in folded:
            continue
        active, public = _counts(region)
        rows.append((clean(region["region"]), clean(region["status"]),
                     clean(region["reason"] or ""), active, public))
    reason_width = max(10, width - 16 - 13 - 8 - 8 - 8)
    header = f"{COLUMNS[0]:<16}{COLUMNS[1]:<13}{COLUMNS[2]:<{reason_width}}" \
             f"{COLUMNS[3]:>8}{COLUMNS[4]:>8}"
    lines.append(header)
    for region_name, status, reason, active, public in rows:
        if len(reason) > reason_width - 1:
            reason = reason[: reason_width - 2] + "…"
        lines.append(f"{region_name:<16}{status:<13}{reason:<{reason_width}}{active:>8}"
                     f"{public:>8}")
    if not_enabled:
        lines += textwrap.wrap("(not enabled: " + ", ".join(clean(r) for r in not_enabled)
                               + ")", width, subsequent_indent=" ", break_on_hyphens=False)
    if unselected:
        lines += textwrap.wrap(f"(excluded, {UNSELECTED}: "
                               + ", ".join(clean(r) for r in unselected) + ")", width,
                               subsequent_indent=" ", break_on_hyphens=False)
    if any(r[3].endswith("+") for r in rows):
        lines.append("(+: incomplete, more findings may exist)")
    lines.append("")
    totals = findings_totals(document)
    if totals is None:
        findings = "Findings: not collected (coverage only)."
    else:
        plus = "+" if lower_bound(document) else ""
        findings = (f"Active findings: {totals['active']}{plus} ({totals['public']}{plus} "
                    f"public, {totals['cross_account']}{plus} cross-account, "
                    f"{totals['errors']}{plus} could not be analyzed).")
    lines.append(
        f"Verdict: {clean(verdict_text(summary['verdict'], summary.get('accepted')))}. "
        f"Regions {regions_sentence(region_counts(document))}. " + findings)
    lines += analysis_lines(document)
    for reason in summary["incomplete_reasons"]:
        lines.append(f"Incomplete: {clean(reason)}")
    since = changes_line(document)
    if since:
        lines.append(since)
    gaps = [g for g in document["gaps"] if "exception" not in g]
    if gaps:
        lines.append("")
        lines.append(f"Gaps ({len(gaps)}):")
        for gap in gaps:
            lines.append(f"  [{clean(gap['severity'])}] {clean(gap['title'])}")
            lines += fix_lines(gap["remediation"], gap["remediation_note"])
    held = [r for r in document["regions"] if r["status"] == "ERROR"]
    if held:
        lines.append("")
        lines.append(f"Not assessed ({len(held)}): what makes the next run complete")
        for region in held:
            lines.append(f"  {clean(region['region'])}: {clean(region['reason'] or '')}")
            lines += fix_lines(region.get("remediation", ""),
                               region.get("remediation_note", ""))
    lines += accepted_lines(document)
    for advisory in document["advisories"]:
        lines.append(f"Advisory [{clean(advisory['severity'])}]: {clean(advisory['title'])}")
    return "\n".join(lines) + "\n"


def fix_lines(command: str, note: str) -> list[str]:
    """A remediation as the terminal shows it: each line of the command on a line of its
    own (a command of several lines is several commands), then where to run it."""
    lines = [f"      {'fix:' if i == 0 else '    '} {clean(line)}"
             for i, line in enumerate(command.strip().splitlines())]
    if note:
        lines.append(f"           {clean(note)}")
    return lines


def accepted_lines(document: ScanDocument) -> list[str]:
    """The accepted gaps and findings, then the register: one line per exception that
    expired, expires soon or matched nothing, the active ones counted."""
    rows = register_rows(document)
    if not rows:
        return []
    lines = [""]
    accepted = [g for g in document["gaps"] if "exception" in g]
    if accepted:
        lines.append(f"Accepted ({len(accepted)}, not counted by --fail-on):")
        for gap in accepted:
            lines.append(f"  [{clean(gap['severity'])}] {clean(gap['title'])}")
            lines.append(f"      {clean(accepted_text(gap['exception']))}")
    counts = document["summary"].get("accepted")
    if counts and counts["findings"]:
        lines.append(f"Accepted findings: {counts['findings']} ({counts['public_findings']} "
                     "public), not counted by --fail-on (see the reports)")
    states: list[str] = [r.entry["state"] for r in rows]
    by_state = ", ".join(f"{states.count(state)} {STATE_LABELS[state].lower()}"
                         for state in sorted(STATE_LABELS, key=lambda k: STATE_ORDER[k])
                         if states.count(state))
    lines.append(f"Exceptions ({len(rows)}): {by_state}; judged as of "
                 f"{document['started_at'][:10]} (UTC)")
    for row in rows:
        entry = row.entry
        if entry["state"] == "active":
            continue
        ticket = f", {entry['ticket']}" if entry["ticket"] else ""
        line = (f"  {entry['state'].upper():<9}{clean(entry['expires'])} {clean(row.what)} "
                f"({clean(entry['owner'])}{clean(ticket)}; {row.days})")
        if entry["note"]:
            line += f": {clean(entry['note'])}"
        lines.append(line)
    return lines


def _active(statistics: AnalysisStatistics | None) -> str:
    return "statistics failed" if statistics is None or statistics["active"] is None else (
        f"{statistics['active']} active")


def analysis_lines(document: ScanDocument) -> list[str]:
    """Internal and unused access, one line per analyzer (apart from the counts above)."""
    lines = []
    keys: tuple[tuple[AnalysisKey, str], ...] = (("internal_access", "Internal access"),
                                                 ("unused_access", "Unused access"))
    for key, label in keys:
        for each in analysis_analyzers(document, key):
            stats = each["statistics"]
            text = (f"{label}: {clean(each['name'])} ({clean(each['region'])}"
                    + (f", managed by {clean(each['managed_by'])}" if each["managed_by"]
                       else "") + f"): {_active(stats)}")
            kinds = stats.get("by_finding_type", {}) if stats else {}
            if kinds:
                text += " (" + ", ".join(
                    f"{UNUSED_TYPE_LABELS.get(k, clean(k)).lower()} {n}"
                    for k, n in kinds.items()) + ")"
            if each["findings_collected"]:
                text += f"; {each['findings_read']} finding(s) read"
            if each["errors"]:
                text += f"; {len(each['errors'])} error(s)"
            lines.append(text + ".")
    return lines


def _tristate(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else (yes if value else no)


def _admins(value: list[str] | None) -> str:
    if value is None:
        return "unknown"
    return ", ".join(clean(v) for v in value) if value else "none"
