"""What changed since the earlier runs: the `changes` block of scan.json (pure).

A run is compared piece by piece, each piece with the latest earlier run that knew it (the
candidates: runs recorded before this one started and not interrupted, newest first; the
first of them is the baseline):
- a region's gaps about one analyzer type: with the latest run that assessed the region
  from the same accounts (the caller and, with --admin-role-name, the administrator
  accounts) while requiring that type or seeing it ACTIVE; or where a region listing said
  the region was not enabled, or did not list it: nothing could exist there;
- a region's findings: with the latest run that read them in full through an analyzer with
  the same zone of trust; runs that read none (no analyzer, not enabled) are passed over,
  and a run where nothing could exist is used only when no older run read them (a region
  newly enabled); a run that read them through another zone of trust ends the walk;
- an organization check: trusted access with the latest run that knew it; an
  organization-wide requirement with the latest run that required and judged it; the gaps
  about where the scan ran with the latest run from the same accounts and region scope;
- region statuses with the baseline.
A run passed over is one where the piece was unknown: the region excluded (a change of
scope), not assessed, called not enabled only from an error code, missing from a region
list that was botocore's, its active findings not collected or incomplete, the type not
required, the requirement not judged, the run's facts not recorded (an older aa-scan).
Where no earlier run knew a piece, or this run does not, nothing is opened or closed
there: it is listed under `unknown` with the reason, and the gates count what this run
holds there as new (`not_compared`).

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from reports.document.rules import (
    NOT_ENABLED_CODES,
    ORGANIZATION_WIDE_TYPES,
    GapCode,
    RegionStatus,
    access_of,
)
from reports.document.schema import ScanDocument

from .runs import FindingView, GapView, RunView, access_json, earliest, parse_time

ASSESSED = frozenset({RegionStatus.COVERED.value, RegionStatus.GAP.value})
COUNT_KEYS = ("regions_changed", "gaps_opened", "gaps_closed", "gaps_changed",
              "gaps_escalated", "findings_new",
              "findings_new_public", "findings_closed", "findings_changed",
              "findings_turned_public")
SCOPE_CHANGED = "not compared (scope changed)"
ORGANIZATION = "organization"  # the `region` of an organization check in `unknown`
PRIMARY = "ORGANIZATION"  # the primary requirement of a run that did not record its own


# -- what a run knew of a piece ---------------------------------------------------------------

@dataclass(frozen=True)
class _State:
    """What one run knew of one piece: `kind` absent (nothing could exist: not enabled, not
    listed), none (assessed, no analyzer to read findings from), known, or skip (unknown
    there: `why`)."""

    kind: str
    why: str = ""
    scope: str | None = None  # the zone of trust findings were read through


ABSENT, KNOWN = _State("absent"), _State("known")


def _region_state(run: RunView, region: str) -> _State | None:
    """The state of a region not assessed in `run` (None: assessed)."""
    view = run.regions.get(region)
    if view is None:
        return ABSENT if run.listed else _State(
            "skip", "not listed (its region list was botocore's, not a region listing)")
    if view.status == RegionStatus.NOT_ENABLED:
        if view.reason in NOT_ENABLED_CODES:
            return _State("skip", f"called not enabled only from the error {view.reason}, "
                                  "not from a region listing")
        return ABSENT
    if view.status == RegionStatus.EXCLUDED:
        return _State("skip", f"{SCOPE_CHANGED}: excluded ({view.reason or 'no reason'})")
    if view.status not in ASSESSED:
        return _State("skip", f"not assessed ({view.status}: {view.reason or 'no reason'})")
    return None


def _gaps_state(run: RunView, region: str, kind: str, vantage: tuple[str, ...]) -> _State:
    """What `run` knew of the region's gaps about analyzer type `kind`, for a run judged
    from the accounts `vantage`."""
    state = _region_state(run, region)
    if state is not None:
        return state
    if run.vantage != vantage:
        return _State("skip", f"{SCOPE_CHANGED}: judged from the analyzers of accounts "
                              f"{', '.join(run.vantage)}, not {', '.join(vantage)}")
    if any(g.subject is None for g in run.gaps if g.region == region):
        return _State("skip", "its gaps did not record their analyzer type (an older aa-scan)")
    if run.requirement is None:
        return _State("skip", "its requirement was not recorded (an older aa-scan)")
    if kind in run.requirement:
        return KNOWN
    view = run.regions[region]
    if view.active_types is not None and kind in view.active_types:
        return KNOWN  # not required, but ACTIVE: no gap about it could exist
    return _State("skip", f"{SCOPE_CHANGED}: {kind} was not required")


def _findings_state(run: RunView, region: str) -> _State:
    state = _region_state(run, region)
    if state is not None:
        return state
    view = run.regions[region]
    if run.coverage_only:
        return _State("skip", "findings not collected (coverage only)")
    if run.statuses is not None and "ACTIVE" not in run.statuses:
        return _State("skip", "active findings not collected (finding_statuses: "
                              f"{', '.join(run.statuses)})")
    if not view.findings_collected:
        return _State("none", "no analyzer to read findings from")
    if not view.complete:
        return _State("skip", "findings incomplete")
    return _State("known", scope=view.findings_scope)


def _excluded(run: RunView) -> frozenset[str]:
    return frozenset(r.region for r in run.regions.values()
                     if r.status == RegionStatus.EXCLUDED)


def _organization_state(run: RunView, piece: str, current: RunView) -> _State:
    """What `run` knew of an organization check: trusted_access, a type's organization-wide
    requirement, or `where` (the gaps about where the scan ran: they depend on the accounts
    examined and the regions left out)."""
    if piece == "trusted_access":
        return KNOWN if run.trusted_access is not None else _State(
            "skip", "trusted access unknown (ListAWSServiceAccessForOrganization failed)")
    if piece in ORGANIZATION_WIDE_TYPES:
        if run.requirement is None:
            return _State("skip", "its requirement was not recorded (an older aa-scan)")
        if piece not in run.requirement:
            return _State("skip", f"{SCOPE_CHANGED}: {piece} was not required")
        if run.not_judged is None:
            return _State("skip", f"whether the {piece} requirement was judged was not "
                                  "recorded (an older aa-scan)")
        if piece in run.not_judged:
            return _State("skip", f"the {piece} requirement was not judged")
        if any(g.subject is None for g in run.gaps if g.scope == ORGANIZATION):
            return _State("skip", "its gaps did not record their analyzer type")
        return KNOWN
    if run.vantage != current.vantage or _excluded(run) != _excluded(current):
        return _State("skip", f"{SCOPE_CHANGED}: scanned from other accounts or regions")
    return KNOWN


@dataclass(frozen=True)
class Pick:
    """The earlier run a piece is compared with (None: none), or why it is not compared."""

    run: RunView | None
    why: str | None


def _walk(candidates: Sequence[RunView], state_of: Callable[[RunView], _State],
          accept: Callable[[_State], bool], stop: bool = False,
          refusal: Callable[[_State], str] = lambda then: then.why) -> Pick:
    """The latest candidate whose state is accepted; runs whose state is a skip, or is not
    accepted, are passed over (with `stop`, the first that is not a skip ends the walk).
    Not found: why the first one passed over was."""
    first_why: str | None = None
    for run in candidates:
        then = state_of(run)
        if then.kind != "skip" and accept(then):
            return Pick(run, None)
        first_why = first_why or (then.why if then.kind == "skip" else refusal(then))
        if stop and then.kind != "skip":
            break
    return Pick(None, first_why)


def _not_found(pick: Pick, fallback: str = "no earlier run knew it") -> Pick:
    if pick.run is not None:
        return pick
    why = pick.why or fallback
    return Pick(None, why if why.startswith("not compared") else f"{why} in the baseline")


def _gaps_pick(current: RunView, candidates: Sequence[RunView], region: str, kind: str
               ) -> Pick:
    state = partial(_gaps_state, region=region, kind=kind, vantage=current.vantage)
    now = state(current)
    if now.kind == "skip":
        then = state(candidates[0]) if candidates else None
        both = then is not None and then.kind == "skip" and then.why == now.why
        return Pick(None, f"{now.why} {'in both runs' if both else 'in this run'}")
    return _not_found(_walk(candidates, state, lambda then: True))


def read_walk(candidates: Sequence[RunView], region: str, scope: str | None) -> Pick:
    """The run findings read now through `scope` are compared with: the latest that read the
    region's findings in full through the same zone of trust. Runs that read none (no
    analyzer, not enabled, not listed) are passed over; the latest of them where nothing
    could exist is used only when no older run read them (a region newly enabled: all new).
    A run that read them through another zone of trust ends the walk: it saw fewer findings,
    or more, so what it did not see may have come and gone since."""
    fallback: RunView | None = None
    first_why: str | None = None
    for run in candidates:
        then = _findings_state(run, region)
        if then.kind == "known":
            if not scope or not then.scope or then.scope == scope:
                return Pick(run, None)
            return Pick(None, _scope_change(then.scope, scope))
        if then.kind == "absent":
            fallback = fallback or run
        else:
            first_why = first_why or then.why
    return Pick(fallback, None if fallback else first_why)


def _findings_pick(current: RunView, candidates: Sequence[RunView], region: str) -> Pick:
    now = _findings_state(current, region)
    if now.kind == "skip":
        return Pick(None, f"{now.why} in this run")
    if now.kind == "known":
        return _not_found(read_walk(candidates, region, now.scope))
    # Nothing read here now (no analyzer, or not enabled): compared only with a run that
    # read nothing either; a run that read findings says they were not read now, not closed.
    why_now = (now.why if now.kind == "none" else
               "not enabled or not listed: its findings were not read, not closed")
    found = _walk(candidates, partial(_findings_state, region=region),
                  lambda then: then.kind in ("absent", "none"), stop=True,
                  refusal=lambda then: why_now)
    if found.run is None and found.why == why_now:
        return Pick(None, f"{why_now} in this run")
    return Pick(found.run, None)  # found, or nothing read on either side: nothing to say


def _scope_change(before: str | None, after: str | None) -> str:
    narrowed = before == "ORGANIZATION" and after == "ACCOUNT"
    return (f"not compared (analyzer scope {'narrowed' if narrowed else 'changed'}: "
            f"{before or 'unknown'} -> {after or 'unknown'})")


def regional_types(run: RunView) -> tuple[str, ...]:
    """The analyzer types required in each region (not the organization-wide ones)."""
    return tuple(t for t in run.requirement or (PRIMARY,) if t not in ORGANIZATION_WIDE_TYPES)


def plan(current: RunView, candidates: Sequence[RunView], region: str
         ) -> tuple[dict[str, Pick], Pick]:
    """What the region is compared with: per required analyzer type for its gaps, and for
    its findings. `candidates`: the earlier runs, newest first (the baseline first)."""
    gaps = {kind: _gaps_pick(current, candidates, region, kind)
            for kind in regional_types(current)}
    now_gaps = _region_state(current, region)
    now_findings = _findings_state(current, region)
    if now_gaps is not None and now_gaps.kind == "skip" and now_findings.why == now_gaps.why:
        findings = next(iter(gaps.values()))  # not assessed here: one reason for both
    else:
        findings = _findings_pick(current, candidates, region)
    return gaps, findings


def still_needed(candidates: Sequence[RunView]) -> set[str]:
    """The runs (newest first) a next run may be compared with, whatever it requires and
    whatever it reads: the baseline, and for each piece the run each walk above would pick.
    What pruning must keep."""
    if not candidates:
        return set()
    needed = {candidates[0].run_id}
    types = {PRIMARY} | {t for run in candidates for t in run.requirement or ()}
    regions = {region for run in candidates for region in run.regions}

    def keep(pick: Pick) -> None:
        if pick.run is not None:
            needed.add(pick.run.run_id)

    # Where a next run may scan from: every vantage and region scope a candidate had.
    scopes = {(run.vantage, _excluded(run)): run for run in reversed(candidates)}
    for region in regions:
        for kind in types - ORGANIZATION_WIDE_TYPES:
            for vantage in {run.vantage for run in candidates}:
                keep(_walk(candidates, partial(_gaps_state, region=region, kind=kind,
                                               vantage=vantage), lambda then: True))
        keep(_walk(candidates, partial(_findings_state, region=region), lambda then: True,
                   stop=True))  # reads nothing now
        for scope in ("ORGANIZATION", "ACCOUNT"):
            keep(read_walk(candidates, region, scope))
    for piece in ("trusted_access", *(types & ORGANIZATION_WIDE_TYPES)):
        keep(_walk(candidates, partial(_organization_state, piece=piece,
                                       current=candidates[0]), lambda then: True))
    needed |= {run.run_id for run in scopes.values()}  # the latest of each: `where` gaps
    return needed


# -- gaps -------------------------------------------------------------------------------------

def _gap(gap: GapView) -> dict[str, Any]:
    return {"scope": gap.scope, "region": gap.region, "code": gap.code,
            "severity": gap.severity, "title": gap.title, "analyzer_type": gap.subject or None}


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


def _changed_gap(before: GapView, after: GapView) -> dict[str, Any] | None:
    """A gap that stayed open but changed (its analyzer FAILED where it was CREATING): its
    title and severity before and after; `escalated` when its severity rose."""
    if (before.severity, before.title) == (after.severity, after.title):
        return None
    return {**_gap(after), "severity_before": before.severity, "title_before": before.title,
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
    new: list[dict[str, Any]]
    closed: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    first_seen: dict[tuple[str, str], str]


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
        fields, old, new = _what_changed(was, finding)
        if fields:
            out.changed.append({
                "region": finding.region, "id": finding.id,
                "resource_type": finding.resource_type, "resource": finding.resource,
                "is_public": _public(finding), "was_public": _public(was),
                "fields": fields, "before": old, "after": new})
    for was in before.values():
        by_grant.setdefault(was.fingerprint, []).append(was)
    for finding in unmatched:
        twins = by_grant.get(finding.fingerprint)
        if twins:
            _carry(twins.pop(), finding, out.first_seen)
        else:
            out.new.append({"region": finding.region, "id": finding.id,
                            "resource_type": finding.resource_type,
                            "resource": finding.resource, "is_public": _public(finding)})
    ended = {f.id: f.status for f in after_all if f.status != "ACTIVE"}
    ended_grants = {f.fingerprint: f.status for f in after_all if f.status != "ACTIVE"}
    for twins in by_grant.values():
        for was in twins:
            out.closed.append({"region": was.region, "id": was.id,
                               "resource_type": was.resource_type, "resource": was.resource,
                               "status_now": ended.get(was.id)
                               or ended_grants.get(was.fingerprint)})


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

    block: dict[str, Any]
    first_seen: dict[tuple[str, str], str]


def first_run(history_error: str | None = None) -> dict[str, Any]:
    """The block of a run with nothing to compare with."""
    return {"baseline": None, "regions": [], "unknown": [], "gaps_opened": [],
            "gaps_closed": [], "gaps_changed": [], "findings_new": [], "findings_closed": [],
            "findings_changed": [], "compared_with": [], "requirement": None,
            "not_compared": {"gaps": 0, "public_findings": 0},
            "history_error": history_error, "counts": dict.fromkeys(COUNT_KEYS, 0)}


def changes(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> dict[str, Any]:
    """The `changes` block (see compare)."""
    return compare(current, candidates, source, history_error).block


def _requirement_key(requirement: tuple[str, ...] | None) -> object:
    """The primary type and the set of the others: their order judges nothing."""
    return None if requirement is None else (requirement[:1], frozenset(requirement[1:]))


class _Tally:
    """What the comparison found, piece by piece."""

    def __init__(self, baseline: RunView) -> None:
        self.baseline = baseline
        self.opened: list[GapView] = []
        self.closed: list[GapView] = []
        self.changed: list[dict[str, Any]] = []
        self.not_compared_gaps = 0
        self.unknown: dict[str, dict[str, Any]] = {}
        self.compared_with: list[dict[str, Any]] = []

    def gaps(self, where: str, what: str, pick: Pick, before: list[GapView],
             now: list[GapView]) -> None:
        """One piece's gaps: `before`, those of the run picked (if any)."""
        if pick.run is None:
            self.not_compared_gaps += len(now)
            self.note(where, pick.why, gaps=False)
            return
        opened, closed, kept = _match_gaps(before, now)
        self.opened += opened
        self.closed += closed
        self.changed += [c for was, gap in kept if (c := _changed_gap(was, gap))]
        self.older(where, "gaps", pick, what)

    def older(self, where: str, what: str, pick: Pick, kind: str | None = None) -> None:
        if pick.run is not None and pick.run is not self.baseline:
            entry = {"region": where, "what": what, "run_id": pick.run.run_id,
                     "started_at": pick.run.started_at}
            if kind:
                entry["analyzer_type"] = kind
            self.compared_with.append(entry)

    def note(self, where: str, why: str | None, gaps: bool = True, findings: bool = True
             ) -> None:
        entry = self.unknown.setdefault(where, {"region": where, "reasons": [],
                                                "gaps_compared": True,
                                                "findings_compared": True})
        if why and why not in entry["reasons"]:
            entry["reasons"].append(why)
        entry["gaps_compared"] &= gaps
        entry["findings_compared"] &= findings


def compare(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> Comparison:
    """Everything that changed since the earlier runs. `candidates`: newest first, the
    baseline first; an older one need only hold the regions `plan` picks it for (and its
    organization gaps)."""
    if not candidates:
        return Comparison(first_run(history_error), {})
    baseline = candidates[0]
    tally = _Tally(baseline)
    found = _Findings([], [], [], {})
    uncompared_public: set[str] = set()
    regions = []
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
        state = partial(_organization_state, piece=piece, current=current)
        now = state(current)
        if now.kind == "skip":
            pick = Pick(None, f"{now.why} in this run")
        else:
            pick = _not_found(_walk(candidates, state, lambda then: True))
        if (pick.run is None and piece == "where" and not _organization_gaps(current, piece)
                and not _organization_gaps(baseline, piece)):
            continue  # scanned from elsewhere, and no gap about it either side: nothing to say
        tally.gaps(ORGANIZATION, piece, pick,
                   _organization_gaps(pick.run, piece) if pick.run else [],
                   _organization_gaps(current, piece))

    requirement = None
    if _requirement_key(baseline.requirement) != _requirement_key(current.requirement):
        requirement = {"before": list(baseline.requirement or []) or None,
                       "after": list(current.requirement or []) or None}
    public_unknown = sum(1 for f in current.findings if f.region in uncompared_public
                         and f.status == "ACTIVE" and _public(f))
    new_public = sum(1 for f in found.new if f["is_public"])
    turned = sum(1 for f in found.changed if f["is_public"] and not f["was_public"])
    unknown = [{"region": e["region"], "reason": "; ".join(e["reasons"]),
                "gaps_compared": e["gaps_compared"],
                "findings_compared": e["findings_compared"]}
               for e in tally.unknown.values() if e["reasons"]]
    block = {
        "baseline": {"run_id": baseline.run_id, "started_at": baseline.started_at,
                     "source": source},
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
    return Comparison(block, found.first_seen)


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
    public_now = summary["public_findings"]
    if found is None or found["baseline"] is None:
        return len(document["gaps"]), public_now
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
    # A gap that stayed open but rose in severity is a regression too.
    gaps = counts["gaps_opened"] + counts.get("gaps_escalated", 0) + untold["gaps"]
    if public_now is None:
        return gaps, None
    return gaps, counts["findings_new_public"] + (untold["public_findings"] or 0)
