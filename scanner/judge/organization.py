"""The whole result: the organization-wide requirements (one analyzer in any region meets
them), the advisories, and `judge`, which puts every region's verdict and the organization's
gaps together into the overall verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from reports.document.exceptions import ExceptionSpec
from reports.document.rules import (
    NOT_ENABLED_CODES,
    NOT_VISIBLE,
    ORGANIZATION_WIDE_TYPES,
    Analysis,
    GapCode,
    RegionStatus,
    ScanningRole,
    Verdict,
    analysis_of,
)

from ..model import Analyzer, RegionScan, ScanResult
from ..selection import age_key, scanning_role
from .archive import archive_rule_advisories
from .exceptions import accept, exception_advisories
from .members import judge_members
from .region import analyzer_state, as_additional, judge_region, not_active_gap, with_fix
from .role import (
    VISIBILITY_GAPS,
    absence_is_conclusive,
    admin_role_name,
    context_of,
    unlisted_accounts,
    unreached_accounts,
    visibility_gap,
)
from .text import Context, make_gap
from .verdicts import Gap, Judgement, RegionVerdict


def _unread_regions(result: ScanResult, verdicts: Iterable[RegionVerdict]) -> list[str]:
    """Regions that may be enabled but whose analyzers were not listed: failed, excluded,
    or left out by the configuration's region list (an analyzer there is unseen)."""
    # A region called not enabled only from an error code (no listing said so) may be
    # enabled: its analyzers are unseen too.
    known_off = {v.region for v in verdicts if v.status == RegionStatus.NOT_ENABLED
                 and v.reason not in NOT_ENABLED_CODES}
    listed = {s.region for s in result.regions if s.analyzers is not None}
    candidates = {s.region for s in result.regions} | {
        r.region for r in result.discovery.regions if r.enabled is not False}
    return sorted(r for r in candidates if r not in listed and r not in known_off)


def _met_anywhere(kind: str, scans: Iterable[RegionScan]) -> bool:
    return any(a.type == kind and a.status == "ACTIVE" for s in scans for a in s.analyzers or ())


def _organization_wide(kind: str, scans: tuple[RegionScan, ...], conclusive: bool,
                       role: ScanningRole, context: Context, unread: Sequence[str] = ()
                       ) -> tuple[Gap | None, str | None]:
    """(gap, not assessed because) for a required type one analyzer in any region meets."""
    if _met_anywhere(kind, scans):
        return None, None
    listed = [(s.region, a) for s in scans for a in (s.analyzers or ())]
    assessed = [s.region for s in scans if s.analyzers is not None]
    if not assessed:
        return None, None  # no region could be listed: already why the scan is incomplete
    present = [(region, a) for region, a in listed if a.type == kind]
    if not conclusive:
        seen = (" (here but not ACTIVE: " + ", ".join(
            f"{analyzer_state(a)} in {region}" for region, a in present) + ")") if present else ""
        return None, (f"no ACTIVE {kind} analyzer is visible in any region from account "
                      f"{context.account} ({role.value}){seen}; account {context.admin}, the "
                      f"{context.admin_role}, may own one")
    if unread:  # one ACTIVE analyzer in a region not read would meet the requirement
        return None, None
    if present:
        region = present[0][0]
        gap = not_active_gap(kind, [a for r, a in present if r == region], region, context)
        return replace(as_additional(gap), scope="organization", region=None), None
    # The command needs a region: the first one scanned (any region will do).
    gap = make_gap(GapCode.MISSING_REQUIRED_TYPE, "organization", assessed[0], context,
                   key=f"{GapCode.MISSING_REQUIRED_TYPE}:ORGANIZATION_WIDE", type=kind)
    return replace(gap, region=None, analyzer_type=kind), None


def _managed_elsewhere(active: list[Analyzer]) -> bool:
    return bool(active) and all(a.managed_by for a in active)


def _service_managed(kind: str, active: list[Analyzer], region: str, wide: bool,
                     context: Context) -> Gap:
    """The advisory for a requirement met only by analyzers another service manages (for a
    type one analyzer anywhere meets, `region` is where the command creates the own one)."""
    present = ", ".join(f"{a.name}, managed by {a.managed_by}"
                        for a in sorted(active, key=age_key))
    key = f"{GapCode.SERVICE_MANAGED_ANALYZER}:ORGANIZATION_WIDE" if wide else None
    gap = make_gap(GapCode.SERVICE_MANAGED_ANALYZER, "organization" if wide else "region",
                   region, context, key=key, type=kind, present=present)
    return replace(gap, region=None if wide else region, analyzer_type=kind)


def service_managed_advisories(result: ScanResult, verdicts: Iterable[RegionVerdict],
                               context: Context) -> list[Gap]:
    """Requirements that are met, but only by service-linked analyzers (managedBy): in each
    region judged (covered or with a gap) for a regional type, once for a type one analyzer
    anywhere meets."""
    out: list[Gap] = []
    # A gap or not: the advisory is about the analyzers that meet one requirement, whatever
    # else the region lacks.
    judged = {v.region for v in verdicts if v.status in (RegionStatus.COVERED,
                                                          RegionStatus.GAP)}
    for kind in result.coverage_types:
        found = [(s.region, a) for s in result.regions for a in (s.analyzers or ())
                 if a.type == kind and a.status == "ACTIVE"]
        if kind in ORGANIZATION_WIDE_TYPES:
            active = [a for _, a in found]
            if _managed_elsewhere(active):
                out.append(_service_managed(kind, active, found[0][0], True, context))
            continue
        for scan in result.regions:
            active = [a for region, a in found if region == scan.region]
            if scan.region in judged and _managed_elsewhere(active):
                out.append(_service_managed(kind, active, scan.region, False, context))
    return out


def unknown_type_advisory(result: ScanResult, context: Context) -> Gap | None:
    """Analyzers of a type newer than this version: listed, never read, never a crash."""
    unknown = [(s.region, a) for s in result.regions for a in (s.analyzers or ())
               if analysis_of(a.type) is Analysis.UNKNOWN]
    if not unknown:
        return None
    types = ", ".join(sorted({a.type for _, a in unknown}))
    listed = ", ".join(f"{a.name} ({a.type}) in {region}" for region, a in unknown)
    return make_gap(GapCode.UNKNOWN_ANALYZER_TYPE, "organization", None, context,
                    present=types, others=listed)


def analyzer_names(scans: Iterable[RegionScan]) -> dict[str, str]:
    """Per analyzer type, the name the organization gives its own analyzers of that type:
    the most common among the ACTIVE ones listed (not service-linked), then among all, the
    oldest's on a tie."""
    names: dict[str, dict[str, list[Analyzer]]] = {}
    for scan in scans:
        for a in scan.analyzers or ():
            if a.managed_by is None:
                names.setdefault(a.type, {}).setdefault(a.name, []).append(a)
    return {kind: min(by_name.items(),
                      key=lambda item: (-sum(a.status == "ACTIVE" for a in item[1]),
                                        -len(item[1]), min(age_key(a) for a in item[1])))[0]
            for kind, by_name in names.items()}


def judge(result: ScanResult, exceptions: Sequence[ExceptionSpec] = ()) -> Judgement:
    """The whole judgement of a scan: the scanning role, every region's verdict, the
    organization's gaps and advisories, and the overall verdict with why it is incomplete.
    `exceptions`: the configuration's accepted risk, judged as of the scan's start: a gap
    one accepts is still a gap (shown as accepted) that does not make the organization
    non-compliant."""
    org = result.organization
    me = result.identity.account_id
    both = result.admin_roles_used
    # Evidence of the caller's role: its own analyzers (with --admin-role-name, the other
    # accounts' are listed too).
    all_analyzers = [a for r in result.regions for a in (r.analyzers or ())
                     if not both or a.account_id in (me, None)]
    role, role_detail = scanning_role(result.identity, org, all_analyzers)
    context = replace(context_of(result.identity, org), trusted_access=org.trusted_access,
                      names=analyzer_names(result.regions),
                      taken={scan.region: frozenset(a.name for a in scan.analyzers or ())
                             for scan in result.regions})
    admins = org.delegated_administrators or ()
    absence_conclusive = absence_is_conclusive(role, org, all_analyzers)
    unreached = unreached_accounts(result) if both else None
    if both:
        absence_conclusive = unreached is None

    regional = tuple(t for t in result.coverage_types if t not in ORGANIZATION_WIDE_TYPES)
    prefer = admins[0] if admins else None
    unlisted = {scan.region: unlisted_accounts(scan, result) if both else None
                for scan in result.regions}
    verdicts = tuple(judge_region(scan, regional, role, context,
                                  unlisted[scan.region] is None if both else absence_conclusive,
                                  result.finding_statuses, unexamined=unlisted[scan.region],
                                  prefer=prefer)
                     for scan in result.regions)
    verdicts = tuple(with_fix(v, context, unlisted[v.region],
                              admin_role_name(result) if both else "<admin-role>")
                     for v in verdicts)
    blocked = [v.region for v in verdicts if v.error is not None and v.error.code == NOT_VISIBLE]
    wide_gaps: list[Gap] = []
    wide_unknown: list[str] = []
    wide_open: list[str] = []
    not_judged: list[str] = []
    unread = _unread_regions(result, verdicts)
    for kind in result.coverage_types:
        if kind in ORGANIZATION_WIDE_TYPES:
            gap, why = _organization_wide(kind, result.regions, absence_conclusive, role,
                                          context, unread)
            if gap is not None:
                wide_gaps.append(gap)
            if why is not None:
                wide_unknown.append(why)
                blocked.append(f"the {kind} requirement")
                not_judged.append(kind)
            elif gap is None and unread and not _met_anywhere(kind, result.regions):
                not_judged.append(kind)
                # Not about where the scan ran: the analyzer may be in a region not read.
                wide_open.append(
                    f"{kind} requirement not judged: no ACTIVE {kind} analyzer in the regions "
                    f"read, and one in a region whose analyzers were not listed would meet "
                    f"it: {', '.join(unread)}")

    org_gaps: list[Gap] = []
    advisories: list[Gap] = []
    if role == ScanningRole.NOT_IN_ORGANIZATION:
        org_gaps.append(make_gap(GapCode.NOT_IN_ORGANIZATION, "organization", None, context))
    visibility = None if both else visibility_gap(role, admins, absence_conclusive)
    if both and (blocked or unreached):
        # Both administrator accounts were to be examined and one could not be (everywhere,
        # or in some regions): the gap says which and why, where it held a region back.
        code = VISIBILITY_GAPS.get(role, GapCode.ANALYZER_VISIBILITY_UNKNOWN)
        why = unreached or "; ".join(dict.fromkeys(
            u for v in verdicts if v.region in blocked and (u := unlisted[v.region])))
        key = f"{code}:ADMIN_ROLE" + ("" if blocked else ":ADVISORY")
        (org_gaps if blocked else advisories).append(make_gap(
            code, "organization", None, context, key=key, blocked=", ".join(blocked),
            why=why, role_name=admin_role_name(result)))
    if visibility is not None:
        # A gap only where it held some region back; otherwise the same fact, as advice.
        if blocked:
            org_gaps.append(make_gap(visibility, "organization", None, context,
                                     role_detail=role_detail, blocked=", ".join(blocked)))
        else:
            advisories.append(make_gap(visibility, "organization", None, context,
                                       key=f"{visibility}:ADVISORY", role_detail=role_detail))
    if org.in_organization and org.trusted_access is False:
        org_gaps.insert(0, make_gap(GapCode.TRUSTED_ACCESS_DISABLED, "organization", None,
                                    context))
    if org.in_organization and org.delegated_administrators == ():
        advisories.append(make_gap(GapCode.NO_DELEGATED_ADMINISTRATOR, "organization", None,
                                   context))
    if role == ScanningRole.DELEGATED_ADMINISTRATOR and not both and org.management_account_id:
        # Analyzers created in the management account before the delegation still count
        # (issue 11) and are invisible from here: say so beside the gaps they may answer.
        held = sorted({g.region for v in verdicts for g in v.gaps if g.region})
        if held:
            advisories.append(make_gap(
                GapCode.ANALYZER_VISIBILITY_UNKNOWN, "organization", None, context,
                key=f"{GapCode.ANALYZER_VISIBILITY_UNKNOWN}:MANAGEMENT_NOT_EXAMINED",
                blocked=", ".join(held)))
    advisories += service_managed_advisories(result, verdicts, context)
    unknown = unknown_type_advisory(result, context)
    if unknown is not None:
        advisories.append(unknown)
    advisories += archive_rule_advisories(result.regions, context)

    region_gaps = [gap for v in verdicts for gap in v.gaps]
    gaps = tuple(org_gaps + wide_gaps + region_gaps)
    acceptance = None
    if exceptions:
        gaps, acceptance = accept(result, verdicts, gaps, exceptions)
        advisories += exception_advisories(acceptance, context)

    reasons: list[str] = []
    errors = [v for v in verdicts if v.status == RegionStatus.ERROR]
    if errors:
        reasons.append(f"{len(errors)} region(s) could not be assessed: "
                       + ", ".join(v.region for v in errors))
    partial = [v for v in verdicts if v.status != RegionStatus.ERROR and not v.complete]
    if partial:
        reasons.append("findings incomplete in " + ", ".join(v.region for v in partial))
    if org.in_organization is not False:
        if role == ScanningRole.UNKNOWN:
            reasons.append(f"scanning role unknown: {role_detail}")
        if org.in_organization and org.trusted_access is None:
            reasons.append("trusted access unknown: ListAWSServiceAccessForOrganization failed")
        if org.in_organization and org.delegated_administrators is None:
            reasons.append("delegated administrator unknown: ListDelegatedAdministrators failed")
    reasons += [f"not assessed: {why}" for why in wide_unknown]
    reasons += wide_open
    if result.interrupted:
        reasons.append("the scan was interrupted")
    if not any(v.status in (RegionStatus.COVERED, RegionStatus.GAP) for v in verdicts):
        reasons.append("no region was assessed")
    complete = not reasons
    # A gap about the organization is non-compliance; a gap about where the scan ran only
    # ever stands beside a region it kept from being assessed, so it never outlives
    # `complete`: INCOMPLETE always comes with the reasons it is incomplete.
    if any(not g.blocks_assessment and g.accepted_by is None for g in gaps):
        verdict = Verdict.NON_COMPLIANT
    elif not complete:
        verdict = Verdict.INCOMPLETE
    else:
        verdict = Verdict.COMPLIANT
    members = judge_members(result.members, result.regions, org.management_account_id) \
        if result.members is not None else None
    return Judgement(role, role_detail, verdicts, gaps, tuple(advisories), verdict, complete,
                     tuple(reasons), members, tuple(not_judged), acceptance)
