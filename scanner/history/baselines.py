"""Which earlier run each piece of a run is compared with (pure).

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
there: the pick says why, and the comparison (history.diff) lists it under `unknown`.

`still_needed` is the same walks seen from the other side: the runs pruning must keep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from reports.document.rules import (
    ORGANIZATION_WIDE_TYPES,
    RegionStatus,
    not_enabled_is_known,
)

from .runs import RunView

ASSESSED = frozenset({RegionStatus.COVERED.value, RegionStatus.GAP.value})
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
        if not not_enabled_is_known(view.reason):
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


def organization_pick(current: RunView, candidates: Sequence[RunView], piece: str) -> Pick:
    """What an organization check (`piece`: trusted_access, an organization-wide type, or
    `where`) is compared with."""
    state = partial(_organization_state, piece=piece, current=current)
    now = state(current)
    if now.kind == "skip":
        return Pick(None, f"{now.why} in this run")
    return _not_found(_walk(candidates, state, lambda then: True))


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
