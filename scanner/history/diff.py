"""What changed since the earlier runs: the `changes` block of scan.json (pure).

Each piece of the run (a region's gaps per analyzer type, its findings, each organization
check) is compared with the earlier run history.baselines picks for it; region statuses
with the baseline. Where no earlier run knew a piece, or this run does not, nothing is
opened or closed there: it is listed under `unknown` with the reason, and the gates count
what this run holds there as new (`not_compared`).

Gaps are matched on (scope, region, code, analyzer type); one matched whose severity rose
is `escalated` (a regression for the gate). Findings are matched on (region, id), then what
is left on the fingerprint of what they grant (an analyzer re-created gives every finding a
new id and createdAt; the grant keeps its earliest createdAt, `first_seen`, while runs keep
seeing it). A finding matched on its id whose public flag, principal, action, condition,
resource or error changed, or whose updatedAt is newer, is `changed`; one that turned public
is new public exposure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.document import trail
from reports.document.rules import (
    BASELINE_SOURCES,
    CLOSED_STATUSES,
    GAP_SCOPES,
    ORGANIZATION_WIDE_TYPES,
    SEVERITIES,
    ComparedWhat,
    GapCode,
    RegionStatus,
    access_of,
    one_of,
)
from reports.document.schema import ScanDocument

from .baselines import ORGANIZATION, Pick, organization_pick, plan, regional_types
from .runs import (
    ExceptionView,
    FindingView,
    GapView,
    RunView,
    access_json,
    earliest,
    parse_time,
)

COUNT_KEYS = ("regions_changed", "gaps_opened", "gaps_closed", "gaps_changed",
              "gaps_escalated", "findings_new",
              "findings_new_public", "findings_closed", "findings_changed",
              "findings_turned_public")


# -- gaps -------------------------------------------------------------------------------------

def _gap(gap: GapView, exception: str | None = None) -> trail.GapChange:
    """A gap as the changes block lists it, with the exception that accepts it (or, for a
    gap no longer accepted, accepted it in the baseline)."""
    entry: trail.GapChange = {
        "scope": one_of(gap.scope, GAP_SCOPES), "region": gap.region, "code": gap.code,
        "severity": one_of(gap.severity, SEVERITIES), "title": gap.title,
        "analyzer_type": gap.subject or None}
    exception = exception or gap.exception
    if exception is not None:
        entry["exception"] = exception
    return entry


def _match_gaps(before: list[GapView], after: list[GapView]
                ) -> tuple[list[GapView], list[GapView], list[tuple[GapView, GapView]]]:
    """(opened, closed, same gap before and after): on (scope, region, code, subject), then,
    for a gap whose subject is not recorded, on (scope, region, code)."""
    remaining = list(before)
    opened = []
    unmatched = []
    kept = []
    for gap in after:
        twin = next((g for g in remaining if (g.scope, g.region, g.code, g.subject)
                     == (gap.scope, gap.region, gap.code, gap.subject)), None)
        if twin is None:
            unmatched.append(gap)
        else:
            remaining.remove(twin)
            kept.append((twin, gap))
    for gap in unmatched:
        twin = next((g for g in remaining if (g.scope, g.region, g.code)
                     == (gap.scope, gap.region, gap.code)
                     and (g.subject is None or gap.subject is None)), None)
        if twin is None:
            opened.append(gap)
        else:
            remaining.remove(twin)
            kept.append((twin, gap))
    return opened, remaining, kept


_RANK = {severity: rank for rank, severity in enumerate(("INFO", "LOW", "MEDIUM", "HIGH",
                                                          "CRITICAL"))}


def _changed_gap(before: GapView, after: GapView) -> trail.ChangedGap | None:
    """A gap that stayed open but changed (its analyzer FAILED where it was CREATING): its
    title and severity before and after; `escalated` when its severity rose."""
    if (before.severity, before.title) == (after.severity, after.title):
        return None
    now = _gap(after)
    return {"scope": now["scope"], "region": now["region"], "code": now["code"],
            "severity": now["severity"], "title": now["title"],
            "analyzer_type": now["analyzer_type"], "severity_before": before.severity,
            "title_before": before.title,
            "escalated": _RANK.get(after.severity, 0) > _RANK.get(before.severity, 0)}


def _region_gaps(run: RunView, region: str, kind: str, primary: str) -> list[GapView]:
    """The run's gaps in the region about `kind` (a gap whose type is not recorded is about
    the primary requirement)."""
    return [g for g in run.gaps if g.scope != ORGANIZATION and g.region == region
            and (g.subject or primary) == kind]


def _organization_piece(gap: GapView) -> str:
    if gap.code == GapCode.TRUSTED_ACCESS_DISABLED:
        return "trusted_access"
    if gap.subject in ORGANIZATION_WIDE_TYPES:
        return gap.subject
    return "where"


def _organization_gaps(run: RunView, piece: str) -> list[GapView]:
    return [g for g in run.gaps if (g.scope == ORGANIZATION or not g.region)
            and _organization_piece(g) == piece]


# -- findings ---------------------------------------------------------------------------------

def _public(finding: FindingView) -> bool:
    return access_of(finding.is_public, finding.error) == "public"


_ACCESS_PARTS = ("principal", "action", "condition")


def _access_parts(finding: FindingView) -> dict[str, Any] | None:
    text = access_json(finding)
    if text is None:
        return None
    values = json.loads(text)
    return dict(zip(_ACCESS_PARTS, values, strict=True))


def _what_changed(before: FindingView, after: FindingView
                  ) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """The fields that changed under one id, with their values before and after."""
    fields: list[str] = []
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}

    def note(name: str, was: Any, now: Any) -> None:
        fields.append(name)
        old[name], new[name] = was, now

    for name, was, now in (("is_public", before.is_public, after.is_public),
                           ("resource", before.resource, after.resource),
                           ("owner_account", before.owner_account, after.owner_account),
                           ("error", before.error, after.error)):
        if was != now:
            note(name, was, now)
    if before.fingerprint != after.fingerprint:
        was_parts, now_parts = _access_parts(before), _access_parts(after)
        if was_parts is not None and now_parts is not None:
            for name in _ACCESS_PARTS:
                if was_parts[name] != now_parts[name]:
                    note(name, was_parts[name], now_parts[name])
        elif not fields:
            fields.append("access")  # principal, action or condition (not recorded then)
    if before.updated_at != after.updated_at:
        was_time, now_time = parse_time(before.updated_at), parse_time(after.updated_at)
        if was_time and now_time and now_time > was_time:
            note("updated_at", before.updated_at, after.updated_at)
    return fields, old, new


@dataclass
class _Findings:
    new: list[trail.NewFinding]
    closed: list[trail.ClosedFinding]
    changed: list[trail.ChangedFinding]
    first_seen: dict[tuple[str, str], str]
    # Which exception accepted each finding, in the run compared with and in this one.
    accepted_before: Mapping[tuple[str, str], str] = field(default_factory=dict)
    accepted_now: Mapping[tuple[str, str], str] = field(default_factory=dict)
    no_longer: list[trail.NewFinding] = field(default_factory=list)

    def lapsed(self, was: FindingView, now: FindingView) -> None:
        """A finding accepted in the run compared with and no longer now."""
        key = self.accepted_before.get((was.region, was.id))
        if key is not None and (now.region, now.id) not in self.accepted_now:
            self.no_longer.append({"region": now.region, "id": now.id,
                                   "resource_type": now.resource_type,
                                   "resource": now.resource, "is_public": _public(now),
                                   "exception": key})


def _compare_findings(before_all: Sequence[FindingView], after_all: Sequence[FindingView],
                      out: _Findings) -> None:
    """One region: on id, then on what the leftovers grant."""
    before = {f.id: f for f in before_all if f.status == "ACTIVE"}
    by_grant: dict[bytes, list[FindingView]] = {}
    unmatched: list[FindingView] = []
    for finding in after_all:
        if finding.status != "ACTIVE":
            continue
        was = before.pop(finding.id, None)
        if was is None:
            unmatched.append(finding)
            continue
        _carry(was, finding, out.first_seen)
        out.lapsed(was, finding)
        fields, old, new = _what_changed(was, finding)
        if fields:
            change: trail.ChangedFinding = {
                "region": finding.region, "id": finding.id,
                "resource_type": finding.resource_type, "resource": finding.resource,
                "is_public": _public(finding), "was_public": _public(was),
                "fields": fields, "before": old, "after": new}
            if was.fingerprint != finding.fingerprint:
                change["grant_before"] = was.fingerprint.hex()
            out.changed.append(change)
    for was in before.values():
        by_grant.setdefault(was.fingerprint, []).append(was)
    for finding in unmatched:
        twins = by_grant.get(finding.fingerprint)
        if twins:
            twin = twins.pop()
            _carry(twin, finding, out.first_seen)
            out.lapsed(twin, finding)
        else:
            entry: trail.NewFinding = {"region": finding.region, "id": finding.id,
                                       "resource_type": finding.resource_type,
                                       "resource": finding.resource,
                                       "is_public": _public(finding)}
            key = out.accepted_now.get((finding.region, finding.id))
            if key is not None:
                entry["exception"] = key
            out.new.append(entry)
    ended = {f.id: f.status for f in after_all if f.status != "ACTIVE"}
    ended_grants = {f.fingerprint: f.status for f in after_all if f.status != "ACTIVE"}
    for twins in by_grant.values():
        for was in twins:
            now = ended.get(was.id) or ended_grants.get(was.fingerprint)
            out.closed.append({"region": was.region, "id": was.id,
                               "resource_type": was.resource_type, "resource": was.resource,
                               "status_now": one_of(now, CLOSED_STATUSES)
                               if now is not None and now in CLOSED_STATUSES else None,
                               "grant": was.fingerprint.hex()})


def _carry(was: FindingView, now: FindingView, first_seen: dict[tuple[str, str], str]) -> None:
    """A finding seen before keeps the earliest createdAt of its grant."""
    if was.first_seen is None and now.first_seen is None and was.created_at == now.created_at:
        return  # the same finding, its own createdAt (most of them: no time parsed)
    first = earliest(was.first_seen, was.created_at, now.first_seen, now.created_at)
    if first is not None and first != now.created_at:
        first_seen[(now.region, now.id)] = first


def _by_region(findings: Iterable[FindingView]) -> dict[str, list[FindingView]]:
    grouped: dict[str, list[FindingView]] = {}
    for finding in findings:
        grouped.setdefault(finding.region, []).append(finding)
    return grouped


# -- the block --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """The `changes` block, and the earliest createdAt of each finding matched to an earlier
    one whose grant is older than its own createdAt (for the age tables and the history)."""

    block: trail.Changes
    first_seen: dict[tuple[str, str], str]


def first_run(history_error: str | None = None) -> trail.Changes:
    """The block of a run with nothing to compare with."""
    return {"baseline": None, "regions": [], "unknown": [], "gaps_opened": [],
            "gaps_closed": [], "gaps_changed": [], "findings_new": [], "findings_closed": [],
            "findings_changed": [], "compared_with": [], "requirement": None,
            "not_compared": {"gaps": 0, "public_findings": 0},
            "history_error": history_error, "counts": dict.fromkeys(COUNT_KEYS, 0)}


def changes(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> trail.Changes:
    """The `changes` block (see compare)."""
    return compare(current, candidates, source, history_error).block


def _requirement_key(requirement: tuple[str, ...] | None) -> object:
    """The primary type and the set of the others: their order judges nothing."""
    return None if requirement is None else (requirement[:1], frozenset(requirement[1:]))


@dataclass
class _Unknown:
    """Why a region's (or the organization's) gaps or findings were not compared."""

    region: str
    reasons: list[str] = field(default_factory=list)
    gaps_compared: bool = True
    findings_compared: bool = True


class _Tally:
    """What the comparison found, piece by piece."""

    def __init__(self, baseline: RunView) -> None:
        self.baseline = baseline
        self.opened: list[GapView] = []
        self.closed: list[GapView] = []
        self.changed: list[trail.ChangedGap] = []
        self.escalated_accepted = 0  # escalated, and accepted now: not a regression
        self.no_longer: list[tuple[GapView, GapView]] = []  # accepted then, not now
        self.not_compared_gaps = 0
        self.unknown: dict[str, _Unknown] = {}
        self.compared_with: list[trail.ComparedWith] = []

    def gaps(self, where: str, what: str, pick: Pick, before: list[GapView],
             now: list[GapView]) -> None:
        """One piece's gaps: `before`, those of the run picked (if any). An accepted gap is
        never counted as new, not compared, or escalated; one accepted in the run compared
        with and not now (its exception expired or removed) is a regression."""
        if pick.run is None:
            self.not_compared_gaps += sum(1 for g in now if g.exception is None)
            self.note(where, pick.why, gaps=False)
            return
        opened, closed, kept = _match_gaps(before, now)
        self.opened += opened
        self.closed += closed
        for was, gap in kept:
            change = _changed_gap(was, gap)
            if change is not None:
                self.changed.append(change)
                if change["escalated"] and gap.exception is not None:
                    self.escalated_accepted += 1
            if was.exception is not None and gap.exception is None:
                self.no_longer.append((was, gap))
        self.older(where, "gaps", pick, what)

    def older(self, where: str, what: ComparedWhat, pick: Pick, kind: str | None = None
              ) -> None:
        if pick.run is not None and pick.run is not self.baseline:
            entry: trail.ComparedWith = {"region": where, "what": what,
                                          "run_id": pick.run.run_id,
                                          "started_at": pick.run.started_at}
            if kind:
                entry["analyzer_type"] = kind
            self.compared_with.append(entry)

    def note(self, where: str, why: str | None, gaps: bool = True, findings: bool = True
             ) -> None:
        entry = self.unknown.setdefault(where, _Unknown(where))
        if why and why not in entry.reasons:
            entry.reasons.append(why)
        entry.gaps_compared &= gaps
        entry.findings_compared &= findings


def compare(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> Comparison:
    """Everything that changed since the earlier runs. `candidates`: newest first, the
    baseline first; an older one need only hold the regions `plan` picks it for (and its
    organization gaps)."""
    if not candidates:
        return Comparison(first_run(history_error), {})
    baseline = candidates[0]
    tally = _Tally(baseline)
    found = _Findings([], [], [], {}, accepted_now=current.accepted_findings)
    uncompared_public: set[str] = set()
    regions: list[trail.RegionChange] = []
    primary = regional_types(current)[0]
    now_findings = _by_region(current.findings)
    then_findings: dict[str, dict[str, list[FindingView]]] = {}
    for name in sorted(set(current.regions) | set(baseline.regions)):
        before, after = baseline.regions.get(name), current.regions.get(name)
        if (before.status if before else None) != (after.status if after else None):
            regions.append({"region": name, "before": before.status if before else None,
                            "after": after.status if after else None,
                            "before_reason": before.reason if before else None,
                            "after_reason": after.reason if after else None})
        if (after is not None and after.status == RegionStatus.EXCLUDED and before is not None
                and before.status == RegionStatus.EXCLUDED):
            continue  # left out of both runs: nothing to compare, nothing to say
        gap_picks, findings_pick = plan(current, candidates, name)
        for kind, pick in gap_picks.items():
            tally.gaps(name, kind, pick,
                       _region_gaps(pick.run, name, kind, primary) if pick.run else [],
                       _region_gaps(current, name, kind, primary))
        if findings_pick.run is not None:
            run = findings_pick.run
            if run.run_id not in then_findings:
                then_findings[run.run_id] = _by_region(run.findings)
            found.accepted_before = run.accepted_findings
            _compare_findings(then_findings[run.run_id].get(name, []),
                              now_findings.get(name, []), found)
            tally.older(name, "findings", findings_pick)
        else:
            uncompared_public.add(name)
            tally.note(name, findings_pick.why, findings=False)

    pieces = ["where", *(t for t in current.requirement or () if t in ORGANIZATION_WIDE_TYPES)]
    if current.organization_id is not None:
        pieces.append("trusted_access")
    for piece in pieces:
        pick = organization_pick(current, candidates, piece)
        if (pick.run is None and piece == "where" and not _organization_gaps(current, piece)
                and not _organization_gaps(baseline, piece)):
            continue  # scanned from elsewhere, and no gap about it either side: nothing to say
        tally.gaps(ORGANIZATION, piece, pick,
                   _organization_gaps(pick.run, piece) if pick.run else [],
                   _organization_gaps(current, piece))

    requirement: trail.Requirement | None = None
    if _requirement_key(baseline.requirement) != _requirement_key(current.requirement):
        requirement = {"before": list(baseline.requirement or []) or None,
                       "after": list(current.requirement or []) or None}
    accepted_now = current.accepted_findings
    public_unknown = sum(1 for f in current.findings if f.region in uncompared_public
                         and f.status == "ACTIVE" and _public(f)
                         and (f.region, f.id) not in accepted_now)
    new_public = sum(1 for f in found.new if f["is_public"])
    turned = sum(1 for f in found.changed if f["is_public"] and not f["was_public"])
    # New public exposure an exception accepts: listed, not counted by the new-* gates.
    public_accepted = sum(1 for f in found.new if f["is_public"] and "exception" in f) + sum(
        1 for f in found.changed if f["is_public"] and not f["was_public"]
        and (f["region"], f["id"]) in accepted_now)
    unknown: list[trail.UnknownRegion] = [
        {"region": e.region, "reason": "; ".join(e.reasons), "gaps_compared": e.gaps_compared,
         "findings_compared": e.findings_compared}
        for e in tally.unknown.values() if e.reasons]
    block: trail.Changes = {
        "baseline": {"run_id": baseline.run_id, "started_at": baseline.started_at,
                     "source": one_of(source, BASELINE_SOURCES),
                     "scan_json_sha256": baseline.scan_sha256},
        "regions": regions,
        "unknown": unknown,
        "gaps_opened": [_gap(g) for g in _organization_first(tally.opened)],
        "gaps_closed": [_gap(g) for g in _organization_first(tally.closed)],
        "gaps_changed": tally.changed,
        "findings_new": found.new,
        "findings_closed": found.closed,
        "findings_changed": found.changed,
        "compared_with": tally.compared_with,
        "requirement": requirement,
        "not_compared": {"gaps": tally.not_compared_gaps,
                         "public_findings": None if current.coverage_only else public_unknown},
        "history_error": history_error,
        "counts": {"regions_changed": len(regions), "gaps_opened": len(tally.opened),
                   "gaps_closed": len(tally.closed),
                   "gaps_changed": len(tally.changed),
                   "gaps_escalated": sum(1 for g in tally.changed if g["escalated"]),
                   "findings_new": len(found.new),
                   # new public exposure: new public findings and findings turned public
                   "findings_new_public": new_public + turned,
                   "findings_closed": len(found.closed),
                   "findings_changed": len(found.changed),
                   "findings_turned_public": turned},
    }
    register = _register(baseline, current, tally, found)
    if register is not None:  # either run had exceptions
        block["exceptions"] = register
        block["counts"].update({
            # What exceptions accept among the above (not counted by the new-* gates), and
            # what they no longer accept (counted).
            "gaps_opened_accepted": sum(1 for g in tally.opened if g.exception),
            "gaps_escalated_accepted": tally.escalated_accepted,
            "findings_new_public_accepted": public_accepted,
            "gaps_no_longer_accepted": len(tally.no_longer),
            "findings_no_longer_accepted": len(found.no_longer),
            "public_no_longer_accepted": sum(1 for f in found.no_longer if f["is_public"]),
            "exceptions_added": len(register["added"]),
                                "exceptions_removed": len(register["removed"]),
                                "exceptions_expired": len(register["expired"]),
                                "exceptions_changed": len(register["changed"])})
    return Comparison(block, found.first_seen)


def _exception_change(view: ExceptionView, before: ExceptionView | None = None
                      ) -> trail.ExceptionChange:
    entry: trail.ExceptionChange = {"key": view.key, "owner": view.owner,
                                    "expires": view.expires, "ticket": view.ticket}
    if before is not None and before.expires != view.expires:
        entry["expires_before"] = before.expires
    if before is not None and before.owner != view.owner:
        entry["owner_before"] = before.owner
    if before is not None and _widened(before, view) is not None:
        entry["public_before"] = bool(before.public)
    return entry


def _widened(before: ExceptionView, now: ExceptionView) -> bool | None:
    """Whether `public: true` came or went (None: the baseline did not record it)."""
    if before.public is None or now.public is None or before.public == now.public:
        return None
    return bool(now.public)


def _register(baseline: RunView, current: RunView, tally: _Tally, found: _Findings
              ) -> trail.ExceptionChanges | None:
    """The exceptions added, removed, expired and changed since the baseline, and what they
    no longer accept (None: neither run had any)."""
    if not baseline.exceptions and not current.exceptions and not tally.no_longer:
        return None
    then = {e.key: e for e in baseline.exceptions}
    now = {e.key: e for e in current.exceptions}
    expired = [k for k in now if k in then and now[k].state == "expired"
               and then[k].state != "expired"]
    changed = [k for k in now if k in then and k not in expired
               and ((now[k].expires, now[k].owner, now[k].reason)
                    != (then[k].expires, then[k].owner, then[k].reason)
                    or _widened(then[k], now[k]) is not None)]
    return {
        "added": [_exception_change(now[k]) for k in now if k not in then],
        "removed": [_exception_change(then[k]) for k in then if k not in now],
        "expired": [_exception_change(now[k]) for k in expired],
        "changed": [_exception_change(now[k], then[k]) for k in changed],
        "gaps_no_longer_accepted": [_gap(gap, was.exception) for was, gap in tally.no_longer],
        "findings_no_longer_accepted": found.no_longer,
    }


def _organization_first(gaps: list[GapView]) -> list[GapView]:
    return sorted(gaps, key=lambda g: (g.scope != ORGANIZATION, g.region or ""))


def regressions(document: ScanDocument) -> tuple[int, int | None]:
    """(new gaps, new public exposure) since the baseline, for --fail-on new-gaps and
    new-public. What was not compared (no baseline, a history that could not be read, a
    region or requirement not compared) counts as new: a gate may fail on what it cannot
    prove old, never pass on it. New public exposure is None when findings were not
    collected."""
    summary = document["summary"]
    found = document.get("changes")
    accepted = summary.get("accepted")
    public_now = summary["public_findings"]
    if public_now is not None and accepted is not None:
        public_now -= accepted["public_findings"]  # what an exception accepts is no exposure
    if found is None or found["baseline"] is None:
        return sum(1 for g in document["gaps"] if "exception" not in g), public_now
    counts = found["counts"]
    untold = found.get("not_compared")
    if untold is None:  # a scan.json written before `not_compared`: its regions' rule
        unknown = {u["region"] for u in found["unknown"]}
        gaps = counts["gaps_opened"] + sum(1 for g in document["gaps"]
                                           if g["region"] in unknown)
        public = None if public_now is None else counts["findings_new_public"] + sum(
            1 for f in document["findings"] if f["region"] in unknown
            and f["status"] == "ACTIVE" and access_of(f["is_public"], f["error"]) == "public")
        return gaps, public
    # A gap that stayed open but rose in severity is a regression too; so is one an
    # exception accepted in the baseline and none accepts now. What one accepts is not.
    gaps = (counts["gaps_opened"] - counts.get("gaps_opened_accepted", 0)
            + counts.get("gaps_escalated", 0) - counts.get("gaps_escalated_accepted", 0)
            + counts.get("gaps_no_longer_accepted", 0) + untold["gaps"])
    if public_now is None:
        return gaps, None
    return gaps, (counts["findings_new_public"] - counts.get("findings_new_public_accepted", 0)
                  + counts.get("public_no_longer_accepted", 0)
                  + (untold["public_findings"] or 0))
