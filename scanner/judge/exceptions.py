"""Accepted risk, judged: the configuration's exceptions applied to the gaps and findings of a
scan as of its start (never the clock: the exceptions are input data, like the scan), and the
advisories about exceptions that expired or expire soon. Which exception matches what, and
its state, are the rules of reports.document.exceptions, which a re-render applies again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

from reports.document.exceptions import (
    Acceptance,
    ExceptionEntry,
    ExceptionSpec,
    FindingRef,
    MatchedGap,
    judge_exceptions,
    what_text,
)
from reports.document.rules import GapCode, utc_text

from ..model import ScanResult
from .text import Context, make_gap
from .verdicts import Gap, RegionVerdict

LISTED = 5  # items an advisory names; the rest are counted


def gap_ref(gap: Gap) -> MatchedGap:
    """A gap's identity, as an exception matches it."""
    return {"scope": gap.scope, "region": gap.region, "code": gap.code.value,
            "analyzer_type": gap.analyzer_type}


def _findings(result: ScanResult) -> Iterable[FindingRef]:
    for scan in result.regions:
        yield from scan.findings


def accept(result: ScanResult, verdicts: Sequence[RegionVerdict], gaps: Sequence[Gap],
           exceptions: Sequence[ExceptionSpec]) -> tuple[tuple[Gap, ...], Acceptance]:
    """The gaps, each marked with the exception that accepts it, and the whole acceptance."""
    acceptance = judge_exceptions(
        exceptions, [gap_ref(g) for g in gaps], _findings(result), utc_text(result.started_at),
        {v.region: v.status.value for v in verdicts}, findings_read=not result.coverage_only,
        coverage_types=result.coverage_types)
    marked = tuple(replace(g, accepted_by=key) for g, key in zip(gaps, acceptance.gaps,
                                                                   strict=True))
    return marked, acceptance


def _elsewhere(acceptance: Acceptance, expired: ExceptionEntry
               ) -> tuple[dict[tuple[object, ...], str], dict[tuple[str, str], str]]:
    """What another unexpired exception matches and does not refuse (so accepts, now that
    `expired` accepts nothing): gap identities and findings (region, id), to its key."""
    gaps: dict[tuple[object, ...], str] = {}
    findings: dict[tuple[str, str], str] = {}
    for other in acceptance.entries:
        if other["key"] == expired["key"] or other["state"] == "expired":
            continue
        refused = other.get("refused") or {"gaps": [], "findings": []}
        declined = {tuple(g.values()) for g in refused["gaps"]}
        for g in other["matched"]["gaps"]:
            if tuple(g.values()) not in declined:
                gaps.setdefault(tuple(g.values()), other["key"])
        turned = {(f["region"], f["id"]) for f in refused["findings"]}
        for f in other["matched"]["findings"]:
            if (f["region"], f["id"]) not in turned:
                findings.setdefault((f["region"], f["id"]), other["key"])
    return gaps, findings


def _matched_text(entry: ExceptionEntry, part: Literal["matched", "refused"] = "matched",
                  acceptance: Acceptance | None = None) -> str:
    found = entry.get(part) or {"gaps": [], "findings": []}
    # What it refuses is named with why: the analyzer type of a gap, a finding public.
    why = part == "refused"
    # For an expired one: what another exception accepts now is said, not "counts again".
    other_gaps, other_findings = _elsewhere(acceptance, entry) if acceptance else ({}, {})

    def now(key: str | None) -> str:
        return f" (now accepted by {key})" if key else ""

    items = [f"{g['code']}{f' ({t})' if why and (t := g['analyzer_type']) else ''} in "
             f"{g['region'] or 'the organization'}{now(other_gaps.get(tuple(g.values())))}"
             for g in found["gaps"]]
    items += [f"finding {f['id']} ({f['resource'] or 'no resource'}, {f['region']}"
              f"{', public' if why and f['is_public'] else ''})"
              f"{now(other_findings.get((f['region'], f['id'])))}" for f in found["findings"]]
    if not items:
        return "nothing in this scan"
    more = len(items) - LISTED
    return ", ".join(items[:LISTED]) + (f" and {more} more" if more > 0 else "")


def _days(left: int) -> str:
    return "today (its last day)" if left == 0 else f"{left} day{'s' if left != 1 else ''}"


def exception_advisories(acceptance: Acceptance, context: Context) -> list[Gap]:
    """An advisory per exception that expired (it accepts nothing, what it matches counts
    again) and per one that expires within reports.document.exceptions.EXPIRING_DAYS."""
    out = []
    for entry in acceptance.entries:
        if entry["state"] not in ("expired", "expiring"):
            continue
        code = (GapCode.EXCEPTION_EXPIRED if entry["state"] == "expired"
                else GapCode.EXCEPTION_EXPIRING)
        gap = make_gap(code, "organization", None, context, what=what_text(entry),
                       expires=entry["expires"], owner=entry["owner"],
                       ticket=f", {entry['ticket']}" if entry["ticket"] else "",
                       reason=entry["reason"],
                       matched=_matched_text(entry, acceptance=acceptance
                                             if entry["state"] == "expired" else None),
                       days=_days(entry["days_left"]), source=entry["source"])
        out.append(gap)
    return out + _refusal_advisories(acceptance, context)


def _refusal_advisories(acceptance: Acceptance, context: Context) -> list[Gap]:
    """An advisory per unexpired exception that matches what it does not accept: a public
    finding without `public: true`, a gap of an analyzer type it does not name. What it
    refuses counts in every report and gate; the advisory says why and how to approve it."""
    out = []
    for entry in acceptance.entries:
        refused = entry.get("refused")
        if not refused:
            continue
        fill = {"what": what_text(entry), "owner": entry["owner"],
                "ticket": f", {entry['ticket']}" if entry["ticket"] else "",
                "reason": entry["reason"], "source": entry["source"]}
        if refused["findings"]:
            out.append(make_gap(
                GapCode.EXCEPTION_NOT_APPLIED, "organization", None, context,
                key=f"{GapCode.EXCEPTION_NOT_APPLIED}:PUBLIC",
                matched=_matched_text({**entry, "refused": {**refused, "gaps": []}},
                                      "refused"), **fill))
        if refused["gaps"]:
            out.append(make_gap(
                GapCode.EXCEPTION_NOT_APPLIED, "organization", None, context,
                key=f"{GapCode.EXCEPTION_NOT_APPLIED}:ANALYZER_TYPE",
                matched=_matched_text({**entry, "refused": {**refused, "findings": []}},
                                      "refused"), **fill))
    return out
