"""The Summary sheet: the verdict, the pack's integrity box, the scope statement, the
controls, then the organization, the scan, the configuration and the totals, one
(section, item, value) row each."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reports.document.derive import derived_of
from reports.document.exceptions import verdict_text
from reports.document.pack import Integrity
from reports.document.rules import VerdictValue
from reports.document.schema import ScanDocument
from reports.document.scope import REGION_COUNT_LABELS, region_counts, regions_sentence

from .. import tables
from ..console import changes_line
from . import writer
from .writer import LEFT, LOWER_BOUND, Column, Styled, Table, status_style

SUMMARY = Table("Summary", [Column("Section", 18), Column("Item", 40), Column("Value", 90)],
                cell_style=LEFT, fit_width=True)
_TAB_COLOURS: Mapping[VerdictValue, str] = {"COMPLIANT": "70AD47", "NON_COMPLIANT": "C00000",
                                            "INCOMPLETE": "FFC000"}
NOT_COLLECTED = "not collected (coverage only)"


RESTING_COLOUR = "2E8BA0"  # a verdict that rests on exceptions: neither plain green nor red


def _rests_on_exceptions(document: ScanDocument) -> bool:
    accepted = document["summary"].get("accepted")
    return document["summary"]["verdict"] == "COMPLIANT" and bool(
        accepted and accepted["exceptions"])


def summary_table(document: ScanDocument) -> Table:
    """The Summary sheet, its tab coloured by the verdict."""
    colour = (RESTING_COLOUR if _rests_on_exceptions(document)
              else _TAB_COLOURS.get(document["summary"]["verdict"]))
    return replace(SUMMARY, tab_color=colour)


def _readable(value: Any) -> Any:
    """A configuration value as one cell: scalars kept typed, containers as text."""
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return tables.format_mapping(value) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "—"
    return value


def _total(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def summary_rows(document: ScanDocument,
                 integrity: Integrity | None = None) -> Iterator[list[Any]]:
    """The Summary sheet, one (section, item, value) row at a time."""
    summary = document["summary"]
    org = document["organization"]
    identity = document["identity"]
    tool = document["tool"]
    regions = document["regions"]
    verdict = summary["verdict"]
    # Never a plain COMPLIANT when it rests on exceptions (and not in its green).
    shown = verdict_text(verdict, summary.get("accepted"))
    yield ["Verdict", "Verdict", Styled(shown, status_style(
        "MEDIUM" if _rests_on_exceptions(document) else verdict))]
    yield ["Verdict", "Headline", tables.headline(document)]
    accepted = summary.get("accepted")
    if accepted is not None:
        yield ["Verdict", "Accepted by exceptions (see the Exceptions sheet)",
               f"{accepted['exceptions']} exception(s) accept {accepted['gaps']} gap(s) and "
               f"{accepted['findings']} active finding(s), {accepted['public_findings']} of "
               "them public; no --fail-on gate counts them"]
        for state in ("expired", "expiring", "unused"):
            if accepted.get(state):
                yield ["Verdict", f"Exceptions {'expiring soon' if state == 'expiring' else state}",
                       accepted.get(state)]
    yield ["Verdict", "Scan complete", summary["complete"]]
    for reason in summary["incomplete_reasons"]:
        yield ["Verdict", "Incomplete because", reason]
    yield ["Verdict", "Interrupted", summary["interrupted"]]
    yield ["Verdict", "Coverage only (no findings)", summary["coverage_only"]]
    if integrity is not None:
        for item, value in integrity.rows():
            yield ["Integrity", item, value]
    yield from scope_rows(document)
    yield from control_rows(document)

    admins = org["delegated_administrators"]
    accounts = org["accounts"]
    trusted = org["trusted_access"]
    yield ["Organization", "Organization ID", org["id"] or "—"]
    yield ["Organization", "Management account",
           tables.account_text(document, org["management_account_id"]) or "—"]
    yield ["Organization", "Scanning account",
           tables.account_text(document, identity["account_id"])]
    yield ["Organization", "Scanning identity", identity["arn"]]
    yield ["Organization", "Scanning account role", org["scanning_account_role"]]
    if org["scanning_account_role_detail"]:
        yield ["Organization", "Role detail", org["scanning_account_role_detail"]]
    yield ["Organization", "Trusted access for Access Analyzer",
           "unknown" if trusted is None else trusted]
    yield ["Organization", "Delegated administrators",
           "unknown" if admins is None
           else ", ".join(tables.account_text(document, a) for a in admins) or "none"]
    yield ["Organization", "Accounts", "unknown" if accounts is None else len(accounts)]
    for text, _ in tables.examined_accounts(document):
        yield ["Organization", "Account examined", text]

    started = tables.parse_time(document["started_at"])
    finished = tables.parse_time(document["finished_at"])
    yield ["Scan", "Started (UTC)", started]
    yield ["Scan", "Finished (UTC)", finished]
    if started and finished:
        yield ["Scan", "Duration (seconds)", round((finished - started).total_seconds())]
    yield ["Scan", "Tool", f"{tool['name']} {tool['version']}".strip()]
    yield ["Scan", "Schema version", document["schema_version"]]
    yield ["Scan", "Region discovery", document["discovery"]["source"]]
    for key, value in document["configuration"].items():
        yield ["Configuration", str(key), _readable(value)]

    counts = region_counts(document)
    styles = {"covered": "COVERED", "gaps": "GAP", "not_assessed": "ERROR",
              "excluded": "EXCLUDED", "not_enabled": "NOT_ENABLED"}
    for key, number in (("assessed", counts["assessed"]), ("covered", counts["covered"]),
                        ("gaps", counts["gaps"]), ("not_assessed", counts["not_assessed"]),
                        ("enabled", counts["enabled"]), ("excluded", counts["excluded"]),
                        ("not_enabled", counts["not_enabled"]), ("listed", counts["listed"])):
        label = REGION_COUNT_LABELS[key] + (" (of the regions assessed)" if key == "covered"
                                            else "")
        style = styles.get(key)
        yield ["Regions", Styled(label, status_style(style)) if style else label, number]

    totals = tables.findings_totals(document)
    bound = LOWER_BOUND if tables.lower_bound(document) else None
    labels = ("Active findings", "Public", "Cross-account", "Could not be analyzed")
    for label, key in zip(labels, tables.COUNT_KEYS, strict=True):
        yield ["Findings", label, NOT_COLLECTED if totals is None
               else Styled(totals[key], bound)]
    if bound:
        yield ["Findings", "Counts marked +", "lower bounds: some region's findings are "
               "incomplete (see Regions), so more findings may exist"]
    yield ["Findings", "Archived (all regions)", _total(r["archived"] for r in regions)]
    yield ["Findings", "Resolved (all regions)", _total(r["resolved"] for r in regions)]
    yield ["Findings", "Findings listed", len(document["findings"])]
    sheets_needed = max(1, math.ceil(len(document["findings"]) / (max(2, writer.MAX_ROWS) - 1)))
    if sheets_needed > 1:
        yield ["Findings", "Findings sheets", ", ".join(
            ["Findings", *(f"Findings ({n})" for n in range(2, sheets_needed + 1))])]

    yield ["Changes", "Since the baseline", changes_line(document)
           or "not compared (run without the history)"]

    yield ["Gaps", "Gaps", sum(1 for g in document["gaps"] if "exception" not in g)]
    if "exceptions" in document:
        yield ["Gaps", "Accepted gaps (Exceptions sheet)",
               sum(1 for g in document["gaps"] if "exception" in g)]
    yield ["Gaps", "Advisories", len(document["advisories"])]
    yield ["Gaps", "Failed calls (Errors sheet)", len(tables.errors(document))]


def _regions_text(regions: Sequence[str]) -> str:
    return ", ".join(regions) or "none"


def scope_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """The scope statement, as report.html opens with it (its derived scope)."""
    derived = derived_of(document)
    found = derived["scope"]
    done = derived["completeness"]
    accounts = found["accounts"]
    yield ["Scope", "Population: accounts in the organization",
           "unknown (the account list could not be read)" if accounts is None else accounts]
    yield ["Scope", "Regions", regions_sentence(region_counts(document))]
    yield ["Scope", "Regions scanned, by name", _regions_text(found["regions_scanned"])]
    yield ["Scope", "Regions not enabled, by name", _regions_text(found["regions_not_enabled"])]
    excluded = found["regions_excluded"]
    yield ["Scope", "Regions excluded, with the reason",
           "; ".join(f"{r}: {why or 'no reason given'}" for r, why in excluded.items())
           or "none"]
    calls = done["api_calls"]
    if calls is None:
        yield ["Scope", "Query (API calls)", "not recorded: the scan document predates "
               "per-operation call counts"]
    else:
        yield ["Scope", "Query (API calls)", sum(calls.values())]
        for operation, number in calls.items():
            yield ["Scope", f"API calls: {operation}", number]
    yield ["Scope", "Parameters", "the effective configuration (Configuration rows below)"]
    yield ["Scope", "Configuration SHA-256", derived["configuration_sha256"]]
    yield ["Scope", "Completeness", "complete" if done["complete"] else
           "incomplete: " + "; ".join(done["reasons"])]


def control_rows(document: ScanDocument) -> Iterator[list[Any]]:
    """How the scan answers each control, coloured by the answer."""
    answers = derived_of(document)["control_answers"]
    if answers is None:
        yield ["Controls", "Controls", "not mapped: the scan document predates the mapping"]
        return
    tones = {"ok": "COVERED", "bad": "GAP", "warn": "ERROR"}
    for answer in answers:
        versions = f" v{answer['versions']}" if answer["versions"] else ""
        yield ["Controls", f"{answer['framework']}{versions} {answer['id']}",
               Styled(f"{answer['status']}: {answer['title']} (reading: "
                      f"{answer.get('reading', 'not recorded')})",
                      status_style(tones.get(answer["tone"])))]
