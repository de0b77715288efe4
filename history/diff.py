"""What changed since the earlier runs: the `changes` block of scan.json (pure).

Rules, each stated once:
- The baseline is the latest earlier run (recorded before this one started, and not
  interrupted). Region statuses and the organization's gaps are compared with it.
- A region's gaps are compared with the latest earlier run that knew them under the same
  requirement (coverage_types): one that assessed the region with that requirement, or where
  it was not enabled or not listed (nothing could exist there). Runs where the region was
  excluded, not assessed, or judged against another requirement are passed over.
- A region's findings are compared with the latest earlier run that knew them: read in full
  from an analyzer with the same zone of trust, read from no analyzer when this run reads
  none either, or a run where the region was not enabled or not listed. Runs where they were
  not collected, incomplete, excluded, not assessed, or read through another zone of trust
  (a narrowed or widened analyzer sees other findings, it does not close or open them) are
  passed over.
- Where no earlier run knew them, or this run does not, nothing is opened or closed in the
  region: it is listed under `unknown` with the reason, and the gates count what is there as
  new (`not_compared`).
- Gaps are matched on (scope, region, code, analyzer type); a gap from a document written
  before gaps named their analyzer type matches on (scope, region, code).
- Findings are matched on (region, id), then what is left on the fingerprint of what they
  grant (an analyzer re-created, under the same name or another, gives every finding a new
  id and createdAt; the grant keeps its earliest createdAt, `first_seen`). A finding matched
  on its id whose public flag, principal, action, condition, resource or error changed, or
  whose updatedAt is newer, is `changed`; one that turned public is new public exposure.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from document.rules import RegionStatus, access_of
from document.schema import ScanDocument

from .runs import FindingView, GapView, RegionView, RunView, access_json

ASSESSED = frozenset({RegionStatus.COVERED.value, RegionStatus.GAP.value})
COUNT_KEYS = ("regions_changed", "gaps_opened", "gaps_closed", "findings_new",
              "findings_new_public", "findings_closed", "findings_changed",
              "findings_turned_public")
SCOPE_CHANGED = "not compared (scope changed)"


# -- what a run knew of a region ---------------------------------------------------------------

@dataclass(frozen=True)
class _State:
    """What one run knew of one region's gaps or findings: `kind` absent (nothing could
    exist: not enabled, not listed), none (assessed, no analyzer to read findings from),
    known, or skip (unknown there: `why`)."""

    kind: str
    why: str = ""
    scope: str | None = None  # the zone of trust findings were read through


def _not_assessed(view: RegionView) -> _State | None:
    if view.status == RegionStatus.EXCLUDED:
        return _State("skip", f"{SCOPE_CHANGED}: excluded ({view.reason or 'no reason'})")
    if view.status not in ASSESSED:
        return _State("skip", f"not assessed ({view.status}: {view.reason or 'no reason'})")
    return None


def _requirement_text(requirement: tuple[str, ...] | None) -> str:
    return ", ".join(requirement) if requirement else "not recorded"


def _gaps_state(run: RunView, region: str, requirement: tuple[str, ...] | None) -> _State:
    view = run.regions.get(region)
    if view is None or view.status == RegionStatus.NOT_ENABLED:
        return _State("absent")
    unknown = _not_assessed(view)
    if unknown is not None:
        return unknown
    if run.requirement is None or run.requirement != requirement:
        return _State("skip", f"{SCOPE_CHANGED}: judged against another requirement "
                              f"({_requirement_text(run.requirement)})")
    return _State("known")


def _findings_state(run: RunView, region: str) -> _State:
    view = run.regions.get(region)
    if view is None or view.status == RegionStatus.NOT_ENABLED:
        return _State("absent")
    unknown = _not_assessed(view)
    if unknown is not None:
        return unknown
    if run.coverage_only:
        return _State("skip", "findings not collected (coverage only)")
    if not view.findings_collected:
        return _State("none", "no analyzer to read findings from")
    if not view.complete:
        return _State("skip", "findings incomplete")
    return _State("known", scope=view.findings_scope)


def _scope_change(before: str | None, after: str | None) -> str:
    narrowed = before == "ORGANIZATION" and after == "ACCOUNT"
    return (f"not compared (analyzer scope {'narrowed' if narrowed else 'changed'}: "
            f"{before or 'unknown'} -> {after or 'unknown'})")


def _findings_match(now: _State, then: _State) -> str | None:
    """None when findings in these two states can be compared, else why not."""
    if now.kind == "absent" or then.kind == "absent":
        return None
    if now.kind == "none" or then.kind == "none":
        return None if now.kind == then.kind else then.why or now.why
    if now.scope and then.scope and now.scope != then.scope:
        return _scope_change(then.scope, now.scope)
    return None


@dataclass(frozen=True)
class Pick:
    """The earlier run one region's gaps or findings are compared with (None: none), or
    why they are not compared."""

    run: RunView | None
    why: str | None


def _walk(candidates: Sequence[RunView], state_of: Any, match: Any, stop_early: bool
          ) -> Pick:
    """The latest candidate whose state of the region matches; else why the baseline's
    did not. `stop_early`: the first candidate that is not a skip decides."""
    first_why: str | None = None
    for run in candidates:
        then = state_of(run)
        if then.kind == "skip":
            why: str | None = then.why
        else:
            why = match(then)
            if why is None:
                return Pick(run, None)
        first_why = first_why or why
        if stop_early and then.kind != "skip":
            break
    return Pick(None, first_why)


def _suffix(why: str, label: str) -> str:
    return f"{why} {label}"


def plan(current: RunView, candidates: Sequence[RunView], region: str) -> tuple[Pick, Pick]:
    """(gaps, findings): what the region is compared with. `candidates`: the earlier runs
    that may be compared with, newest first (the baseline first)."""
    requirement = current.requirement
    now = _gaps_state(current, region, requirement)
    if now.kind == "skip":
        then = _gaps_state(candidates[0], region, requirement) if candidates else None
        same = then is not None and then.kind == "skip" and then.why == now.why
        if same and current.regions[region].status == RegionStatus.EXCLUDED:
            return Pick(None, None), Pick(None, None)  # left out of both: nothing to say
        gaps = Pick(None, _suffix(now.why, "in both runs" if same else "in this run"))
    else:
        found = _walk(candidates, lambda run: _gaps_state(run, region, requirement),
                      lambda then: None, stop_early=False)
        gaps = found if found.run else Pick(
            None, _suffix(found.why or "no earlier run", "in the baseline"))
    now_f = _findings_state(current, region)
    if now_f.kind == "skip" and now.kind == "skip":
        findings = Pick(None, gaps.why)  # not assessed here: one reason for both
    elif now_f.kind == "skip":
        findings = Pick(None, _suffix(now_f.why, "in this run"))
    else:
        found = _walk(candidates, lambda run: _findings_state(run, region),
                      lambda then: _findings_match(now_f, then),
                      stop_early=now_f.kind != "known")
        if found.run is not None:
            findings = found
        elif found.why == now_f.why and now_f.kind == "none":
            findings = Pick(None, _suffix(now_f.why, "in this run"))
        elif found.why and found.why.startswith("not compared (analyzer scope"):
            findings = Pick(None, found.why)
        else:
            findings = Pick(None, _suffix(found.why or "no earlier run", "in the baseline"))
    return gaps, findings


# -- gaps -------------------------------------------------------------------------------------

def _gap(gap: GapView) -> dict[str, Any]:
    return {"scope": gap.scope, "region": gap.region, "code": gap.code,
            "severity": gap.severity, "title": gap.title, "analyzer_type": gap.subject or None}


def _match_gaps(before: list[GapView], after: list[GapView]
                ) -> tuple[list[GapView], list[GapView]]:
    """(opened, closed): on (scope, region, code, subject), then, for a gap whose subject is
    not recorded, on (scope, region, code)."""
    remaining = list(before)
    opened = []
    unmatched = []
    for gap in after:
        twin = next((g for g in remaining if (g.scope, g.region, g.code, g.subject)
                     == (gap.scope, gap.region, gap.code, gap.subject)), None)
        if twin is None:
            unmatched.append(gap)
        else:
            remaining.remove(twin)
    for gap in unmatched:
        twin = next((g for g in remaining if (g.scope, g.region, g.code)
                     == (gap.scope, gap.region, gap.code)
                     and (g.subject is None or gap.subject is None)), None)
        if twin is None:
            opened.append(gap)
        else:
            remaining.remove(twin)
    return opened, remaining


# -- findings ---------------------------------------------------------------------------------

def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _earliest(*texts: str | None) -> str | None:
    known = [(t, text) for text in texts if text and (t := _time(text)) is not None]
    return min(known)[1] if known else None


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
        was_time, now_time = _time(before.updated_at), _time(after.updated_at)
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
    earliest = _earliest(was.first_seen, was.created_at, now.first_seen, now.created_at)
    if earliest is not None and earliest != now.created_at:
        first_seen[(now.region, now.id)] = earliest


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
            "gaps_closed": [], "findings_new": [], "findings_closed": [],
            "findings_changed": [], "compared_with": [], "requirement": None,
            "not_compared": {"gaps": 0, "public_findings": 0},
            "history_error": history_error, "counts": dict.fromkeys(COUNT_KEYS, 0)}


def changes(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> dict[str, Any]:
    """The `changes` block (see compare)."""
    return compare(current, candidates, source, history_error).block


def compare(current: RunView, candidates: Sequence[RunView], source: str,
            history_error: str | None = None) -> Comparison:
    """Everything that changed since the earlier runs. `candidates`: newest first, the
    baseline first; an older one need only hold the regions `plan` picks it for."""
    if not candidates:
        return Comparison(first_run(history_error), {})
    baseline = candidates[0]
    names = sorted(set(current.regions) | set(baseline.regions))
    regions, unknown, compared_with = [], [], []
    found = _Findings([], [], [], {})
    opened: list[GapView] = []
    closed: list[GapView] = []
    not_compared_gaps = 0
    uncompared_public: set[str] = set()
    now_gaps = _gaps_by_region(current.gaps)
    now_findings = _by_region(current.findings)
    for name in names:
        before, after = baseline.regions.get(name), current.regions.get(name)
        if (before.status if before else None) != (after.status if after else None):
            regions.append({"region": name, "before": before.status if before else None,
                            "after": after.status if after else None,
                            "before_reason": before.reason if before else None,
                            "after_reason": after.reason if after else None})
        gaps_pick, findings_pick = plan(current, candidates, name)
        if gaps_pick.run is not None:
            o, c = _match_gaps(_gaps_by_region(gaps_pick.run.gaps).get(name, []),
                               now_gaps.get(name, []))
            opened += o
            closed += c
        else:
            not_compared_gaps += len(now_gaps.get(name, []))
        if findings_pick.run is not None:
            _compare_findings(_by_region(findings_pick.run.findings).get(name, []),
                              now_findings.get(name, []), found)
        else:
            uncompared_public.add(name)
        for what, pick in (("gaps", gaps_pick), ("findings", findings_pick)):
            if pick.run is not None and pick.run is not baseline:
                compared_with.append({"region": name, "what": what,
                                      "run_id": pick.run.run_id,
                                      "started_at": pick.run.started_at})
        whys = list(dict.fromkeys(w for w in (gaps_pick.why, findings_pick.why) if w))
        if whys:
            unknown.append({"region": name, "reason": "; ".join(whys),
                            "gaps_compared": gaps_pick.run is not None,
                            "findings_compared": findings_pick.run is not None})

    requirement = None
    if baseline.requirement != current.requirement:
        requirement = {"before": list(baseline.requirement or []) or None,
                       "after": list(current.requirement or []) or None}
    org_opened, org_closed, org_unknown = _organization_gaps(current, baseline)
    opened = org_opened + opened
    closed = org_closed + closed
    not_compared_gaps += org_unknown
    public_unknown = sum(1 for f in current.findings if f.region in uncompared_public
                         and f.status == "ACTIVE" and _public(f))
    new_public = sum(1 for f in found.new if f["is_public"])
    turned = sum(1 for f in found.changed if f["is_public"] and not f["was_public"])
    block = {
        "baseline": {"run_id": baseline.run_id, "started_at": baseline.started_at,
                     "source": source},
        "regions": regions,
        "unknown": unknown,
        "gaps_opened": [_gap(g) for g in opened],
        "gaps_closed": [_gap(g) for g in closed],
        "findings_new": found.new,
        "findings_closed": found.closed,
        "findings_changed": found.changed,
        "compared_with": compared_with,
        "requirement": requirement,
        "not_compared": {"gaps": not_compared_gaps,
                         "public_findings": None if current.coverage_only else public_unknown},
        "history_error": history_error,
        "counts": {"regions_changed": len(regions), "gaps_opened": len(opened),
                   "gaps_closed": len(closed), "findings_new": len(found.new),
                   # new public exposure: new public findings and findings turned public
                   "findings_new_public": new_public + turned,
                   "findings_closed": len(found.closed),
                   "findings_changed": len(found.changed),
                   "findings_turned_public": turned},
    }
    return Comparison(block, found.first_seen)


def _gaps_by_region(gaps: Iterable[GapView]) -> dict[str, list[GapView]]:
    grouped: dict[str, list[GapView]] = {}
    for gap in gaps:
        if gap.scope != "organization" and gap.region:
            grouped.setdefault(gap.region, []).append(gap)
    return grouped


def _organization_gaps(current: RunView, baseline: RunView
                       ) -> tuple[list[GapView], list[GapView], int]:
    """(opened, closed, not compared): the organization's gaps against the baseline's. A gap
    about an analyzer type that either run did not require is not compared."""
    required_now = set(current.requirement or ())
    required_then = set(baseline.requirement or ())

    def comparable(gap: GapView) -> bool:
        return not gap.subject or (gap.subject in required_now and gap.subject in required_then)

    now = [g for g in current.gaps if g.scope == "organization" or not g.region]
    then = [g for g in baseline.gaps if g.scope == "organization" or not g.region]
    opened, closed = _match_gaps([g for g in then if comparable(g)],
                                 [g for g in now if comparable(g)])
    return opened, closed, sum(1 for g in now if not comparable(g))


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
    gaps = counts["gaps_opened"] + untold["gaps"]
    if public_now is None:
        return gaps, None
    return gaps, counts["findings_new_public"] + (untold["public_findings"] or 0)
