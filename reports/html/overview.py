"""The first part of report.html: the verdict, the headline figures, the scope statement,
who scanned when, the gaps by severity and the organization's integration checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reports.document.derive import derived_of
from reports.document.rules import GapCode, ScanningRoleValue, VerdictValue
from reports.document.schema import Gap, ScanDocument
from reports.document.scope import REGION_COUNT_LABELS, region_counts, regions_sentence

from ..tables import (
    SEVERITY_ORDER,
    account_text,
    errors,
    examined_accounts,
    findings_totals,
    headline,
    lower_bound,
    member_qualifier,
    setting,
)
from .display import account_label, count, duration, number, when

VERDICT_TONES: Mapping[VerdictValue, str] = {"COMPLIANT": "ok", "NON_COMPLIANT": "bad",
                                    "INCOMPLETE": "warn"}
VERDICT_STATEMENTS: Mapping[VerdictValue, str] = {
    "COMPLIANT": "Every assessed region is covered by the required IAM Access Analyzer "
                 "analyzers.",
    "NON_COMPLIANT": "IAM Access Analyzer coverage of the organization has gaps that need "
                     "remediation.",
    "INCOMPLETE": "The scan could not assess everything, so the result is not conclusive.",
}
ROLE_LABELS: Mapping[ScanningRoleValue, str] = {
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


RESTING_STATEMENT = ("Every assessed region is covered by the required IAM Access Analyzer "
                     "analyzers, except what the accepted exceptions name: known gaps and "
                     "findings, each with an owner and an expiry (see Accepted risk).")


def verdict(document: ScanDocument) -> dict[str, Any]:
    """The verdict banner: code, headline, tone, statement and why incomplete. A verdict
    that rests on exceptions says so, in its own tone."""
    summary = document["summary"]
    verdict = summary["verdict"]
    accepted = summary.get("accepted")
    resting = verdict == "COMPLIANT" and bool(accepted and accepted["exceptions"])
    statement = RESTING_STATEMENT if resting else VERDICT_STATEMENTS.get(verdict, "")
    tone = "accepted" if resting else VERDICT_TONES.get(verdict, "warn")
    if verdict == "COMPLIANT" and member_qualifier(document):
        # The verdict is about the organization-wide analysis; the per-account controls
        # (the member view) say otherwise or could not be read: not an all-clear box.
        tone = "warn"
        view = document.get("member_view")
        statement += (" The per-account controls (CIS, IAM.28, the AWS Config rule) were not "
                      "determined: the member view could not list the accounts."
                      if view is not None and view.get("error") else
                      " Account by account, the per-account controls (CIS, IAM.28, the AWS "
                      "Config rule) are not met: some accounts own no analyzer (see the member "
                      "view below and Member accounts).")
    return {"code": verdict, "headline": headline(document), "tone": tone,
            "statement": statement,
            "complete": summary["complete"], "reasons": summary["incomplete_reasons"]}


def figures(document: ScanDocument) -> list[dict[str, Any]]:
    """The headline figures under the verdict: regions by status and findings by access."""
    summary = document["summary"]
    totals = findings_totals(document)
    plus = "+" if lower_bound(document) else ""

    def found(value: int | None) -> str:
        return count(value) + (plus if value is not None else "")

    regions = region_counts(document)
    labels = REGION_COUNT_LABELS
    accepted = summary.get("accepted")
    resting = ([{"label": f"Accepted by exceptions: {number(accepted['gaps'])} gap"
                          f"{'s' if accepted['gaps'] != 1 else ''}, "
                          f"{number(accepted['findings'])} finding"
                          f"{'s' if accepted['findings'] != 1 else ''}",
                 "value": number(accepted["gaps"] + accepted["findings"]),
                 "of": "", "tone": "warn" if accepted["exceptions"] else "plain"}]
               if accepted is not None else [])
    return [
        {"label": f"{labels['covered']}, of those assessed", "value": number(regions["covered"]),
         "of": number(regions["assessed"]), "tone": "ok"},
        {"label": labels["gaps"], "value": number(regions["gaps"]), "of": "",
         "tone": "bad" if regions["gaps"] else "plain"},
        {"label": labels["not_assessed"], "value": number(regions["not_assessed"]), "of": "",
         "tone": "warn" if regions["not_assessed"] else "plain"},
        {"label": labels["enabled"], "value": number(regions["enabled"]), "of": "",
         "tone": "plain"},
        {"label": labels["excluded"], "value": number(regions["excluded"]), "of": "",
         "tone": "plain"},
        {"label": labels["not_enabled"], "value": number(regions["not_enabled"]), "of": "",
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
        *resting,
    ]


# The settings the scope statement names; every one is under Configuration.
SCOPE_PARAMETERS = ("regions", "coverage_types", "finding_statuses", "coverage_only", "fail_on",
                    "role_arn", "home_region")


def scope_statement(document: ScanDocument) -> dict[str, Any]:
    """The first page's scope statement: population, query, parameters, completeness."""
    derived = derived_of(document)
    found = derived["scope"]
    done = derived["completeness"]
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
        "regions_sentence": "regions " + regions_sentence(region_counts(document)),
        "calls": None if calls is None else [{"operation": op, "count": n}
                                             for op, n in calls.items()],
        "calls_total": sum(calls.values()) if calls else 0,
        "parameters": [{"key": key, "value": setting(configuration[key])}
                       for key in SCOPE_PARAMETERS if key in configuration],
        "settings": len(configuration),
        "configuration_sha256": derived["configuration_sha256"],
        "complete": done["complete"],
        "reasons": done["reasons"],
    }


def scan_facts(document: ScanDocument) -> dict[str, Any]:
    """Who scanned what and when: organization, accounts, identity, role, times, tool."""
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


def gap_entry(gap: Gap) -> dict[str, Any]:
    """One gap or advisory as the page lists it, with its remediation and controls."""
    severity = gap["severity"]
    region = gap["region"]
    controls = gap.get("controls", [])
    cited = list(dict.fromkeys(f"{c['framework']} {c['id']}" for c in controls))
    return {"severity": severity, "controls": cited,
            "severity_class": severity.lower() if severity in SEVERITY_ORDER else "info",
            "title": gap["title"], "detail": gap["detail"], "code": gap["code"],
            "where": f"Region {region}" if region else "Organization",
            "command": gap["remediation"].strip(), "note": gap["remediation_note"].strip()}


def by_severity(gaps: Iterable[Gap]) -> list[dict[str, Any]]:
    """Gaps ordered most severe first (then as listed)."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    ordered = sorted(enumerate(gaps), key=lambda p: (rank.get(p[1]["severity"], len(rank)),
                                                     p[0]))
    return [gap_entry(g) for _, g in ordered]


def _organization_row(key: str, label: str, state: str, tone: str, facts: list[str],
                      detail: str, gaps: list[dict[str, Any]]) -> dict[str, Any]:
    if any(g["severity"] in ("CRITICAL", "HIGH") for g in gaps):
        tone = "bad"
    return {"key": key, "label": label, "state": state, "tone": tone, "facts": facts,
            "detail": detail, "gaps": gaps}


def organization(document: ScanDocument) -> dict[str, Any]:
    """The integration checks, each with the gaps (and their remediation) that explain it."""
    org = document["organization"]
    attached: dict[str, list[dict[str, Any]]] = {}
    for gap in [*document["gaps"], *document["advisories"]]:
        row = ORGANIZATION_GAP_ROWS.get(gap["code"])
        if gap["scope"] == "organization" and row:
            attached.setdefault(row, []).append(gap_entry(gap))
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
    others = by_severity(g for g in document["gaps"] if g["scope"] == "organization"
                          and g["code"] not in ORGANIZATION_GAP_ROWS)
    advisories = by_severity(document["advisories"])
    for advisory in advisories:
        placed = ORGANIZATION_GAP_ROWS.get(advisory["code"])
        advisory["check"] = next((r for r in rows if r["key"] == placed), None)
    return {"rows": rows, "other_gaps": others,
            "errors": [e for e in errors(document) if e.scope == "organization"],
            "advisories": advisories}
