"""What changed between a baseline run and this one: the `changes` block of scan.json (pure).

Rules, each stated once:
- a region is listed when its status changed (a region new to the list, or newly enabled,
  is a change too);
- a region not assessed in either run has no opened or closed gaps and no new or closed
  findings; one whose findings cannot be compared (incomplete, not collected, or read in only
  one of the runs) has no new or closed findings. Both are listed under `unknown`, with the
  reason. A region not enabled (or not listed) in one run and assessed in the other is
  compared: nothing could exist there before;
- gaps are matched on (scope, region, code);
- findings are matched on (region, finding id); where the analyzer whose findings were read
  changed between the runs (deleted and re-created: every id changes), on the fingerprint of
  what the finding grants (resource, owner account, principal, action, condition, public).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from document.rules import RegionStatus, access_of
from document.schema import ScanDocument

from .runs import FindingView, GapView, RegionView, RunView, fingerprint_of

ASSESSED = frozenset({RegionStatus.COVERED.value, RegionStatus.GAP.value})
NOT_SCANNED = frozenset({RegionStatus.NOT_ENABLED.value, RegionStatus.EXCLUDED.value})


def _gaps_state(view: RegionView | None) -> str | None:
    """Why a region's gaps are unknown in one run, or None when they are known."""
    if view is None or view.status in NOT_SCANNED or view.status in ASSESSED:
        return None
    return f"not assessed ({view.status}: {view.reason or 'no reason'})"


def _findings_state(view: RegionView | None, run: RunView) -> str:
    """absent (nothing could exist), none (assessed, no analyzer to read), known, or why
    the findings are unknown."""
    if view is None or view.status in NOT_SCANNED:
        return "absent"
    if view.status not in ASSESSED:
        return f"not assessed ({view.status}: {view.reason or 'no reason'})"
    if run.coverage_only:
        return "findings not collected (coverage only)"
    if not view.findings_collected:
        return "none"
    return "known" if view.complete else "findings incomplete"


_COMPARABLE = {("absent", "known"), ("known", "absent"), ("known", "known"),
               ("absent", "none"), ("none", "absent"), ("none", "none"), ("absent", "absent")}


def _gap_key(gap: GapView) -> tuple[str, str, str]:
    return gap.scope, gap.region or "", gap.code


def _gap(gap: GapView) -> dict[str, Any]:
    return {"scope": gap.scope, "region": gap.region, "code": gap.code,
            "severity": gap.severity, "title": gap.title}


def _by_region(run: RunView) -> dict[str, list[FindingView]]:
    grouped: dict[str, list[FindingView]] = {}
    for finding in run.findings:
        grouped.setdefault(finding.region, []).append(finding)
    return grouped


def _match(before: list[FindingView], after: list[FindingView], by_fingerprint: bool
           ) -> tuple[list[FindingView], list[FindingView]]:
    """(new, closed): active findings of `after` not in `before`, and the reverse."""
    def key(f: FindingView) -> object:
        return fingerprint_of(f) if by_fingerprint else f.id

    remaining = Counter(key(f) for f in before)
    new = []
    for finding in after:
        if remaining[key(finding)] > 0:
            remaining[key(finding)] -= 1
        else:
            new.append(finding)
    present = Counter(key(f) for f in after)
    closed = []
    for finding in before:
        if present[key(finding)] > 0:
            present[key(finding)] -= 1
        else:
            closed.append(finding)
    return new, closed


def changes(current: RunView, baseline: RunView | None, source: str) -> dict[str, Any]:
    """The `changes` block: everything that changed since `baseline` (None: the first
    recorded run, so nothing is said to have changed)."""
    if baseline is None:
        return {"baseline": None, "regions": [], "unknown": [], "gaps_opened": [],
                "gaps_closed": [], "findings_new": [], "findings_closed": [],
                "counts": dict.fromkeys(("regions_changed", "gaps_opened", "gaps_closed",
                                         "findings_new", "findings_new_public",
                                         "findings_closed"), 0)}
    names = sorted(set(current.regions) | set(baseline.regions))
    regions, unknown, gap_regions, finding_regions = [], [], set(), set()
    for name in names:
        before, after = baseline.regions.get(name), current.regions.get(name)
        if (before.status if before else None) != (after.status if after else None):
            regions.append({"region": name, "before": before.status if before else None,
                            "after": after.status if after else None,
                            "before_reason": before.reason if before else None,
                            "after_reason": after.reason if after else None})
        reasons = []
        whys = (_gaps_state(before), _gaps_state(after))
        if whys[0] and whys[0] == whys[1]:
            reasons.append(f"{whys[0]} in both runs")
        else:
            reasons += [f"{why} {label}" for why, label in zip(
                whys, ("in the baseline", "in this run"), strict=True) if why]
        if not reasons:
            gap_regions.add(name)
        states = (_findings_state(before, baseline), _findings_state(after, current))
        if states in _COMPARABLE:
            finding_regions.add(name)
        elif not reasons:
            for label, state in zip(("in the baseline", "in this run"), states, strict=True):
                if state not in ("absent", "none", "known"):
                    reasons.append(f"{state} {label}")
                elif state == "none":
                    reasons.append(f"no analyzer to read findings from {label}")
        if reasons:
            unknown.append({"region": name, "reason": "; ".join(reasons)})

    def gaps_of(run: RunView) -> dict[tuple[str, str, str], GapView]:
        return {_gap_key(g): g for g in run.gaps
                if g.scope == "organization" or g.region in gap_regions}

    before_gaps, after_gaps = gaps_of(baseline), gaps_of(current)
    opened = [_gap(g) for k, g in after_gaps.items() if k not in before_gaps]
    closed_gaps = [_gap(g) for k, g in before_gaps.items() if k not in after_gaps]

    findings_new: list[dict[str, Any]] = []
    findings_closed: list[dict[str, Any]] = []
    before_by_region, after_by_region = _by_region(baseline), _by_region(current)
    for name in sorted(finding_regions):
        before_view, after_view = baseline.regions.get(name), current.regions.get(name)
        before_all = before_by_region.get(name, [])
        after_all = after_by_region.get(name, [])
        by_fingerprint = bool(before_view and after_view and before_view.analyzer_arn
                              and after_view.analyzer_arn
                              and before_view.analyzer_arn != after_view.analyzer_arn)
        new, gone = _match([f for f in before_all if f.status == "ACTIVE"],
                           [f for f in after_all if f.status == "ACTIVE"], by_fingerprint)
        now = {(fingerprint_of(f) if by_fingerprint else f.id): f.status
               for f in after_all if f.status != "ACTIVE"}
        findings_new += [{"region": f.region, "id": f.id, "resource_type": f.resource_type,
                          "resource": f.resource, "is_public": f.is_public and not f.error}
                         for f in new]
        findings_closed += [{"region": f.region, "id": f.id, "resource_type": f.resource_type,
                             "resource": f.resource,
                             "status_now": now.get(fingerprint_of(f) if by_fingerprint
                                                   else f.id)}
                            for f in gone]
    return {
        "baseline": {"run_id": baseline.run_id, "started_at": baseline.started_at,
                     "source": source},
        "regions": regions,
        "unknown": unknown,
        "gaps_opened": opened,
        "gaps_closed": closed_gaps,
        "findings_new": findings_new,
        "findings_closed": findings_closed,
        "counts": {"regions_changed": len(regions), "gaps_opened": len(opened),
                   "gaps_closed": len(closed_gaps), "findings_new": len(findings_new),
                   "findings_new_public": sum(1 for f in findings_new if f["is_public"]),
                   "findings_closed": len(findings_closed)},
    }


def regressions(document: ScanDocument) -> tuple[int, int | None]:
    """(new gaps, new public findings) since the baseline, for --fail-on new-gaps and
    new-public. Where nothing can be compared (no baseline, or regions whose changes are
    unknown) every gap and public finding there counts as new: a gate may fail on what it
    cannot prove old, never pass on it. New public findings are None when findings were not
    collected."""
    summary = document["summary"]
    found = document.get("changes")
    public_now = summary["public_findings"]
    if found is None or found["baseline"] is None:
        return len(document["gaps"]), public_now
    unknown = {u["region"] for u in found["unknown"]}
    gaps = found["counts"]["gaps_opened"] + sum(1 for g in document["gaps"]
                                                  if g["region"] in unknown)
    if public_now is None:
        return gaps, None
    public = found["counts"]["findings_new_public"] + sum(
        1 for f in document["findings"] if f["region"] in unknown and f["status"] == "ACTIVE"
        and access_of(f["is_public"], f["error"]) == "public")
    return gaps, public
