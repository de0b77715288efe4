"""One region's verdict: covered, a gap (and which), not enabled, excluded, or not assessed
with why; and the plain-words explanation of an API error.
"""

from __future__ import annotations

from dataclasses import replace

from reports.document.rules import (
    NOT_ENABLED_CODES,
    NOT_VISIBLE,
    GapCode,
    RegionStatus,
    ScanningRole,
    Severity,
)

from ..model import Analyzer, AnalyzerType, ApiError, RegionScan
from ..selection import ACCESS_DENIED_CODES, age_key, findings_selection
from .text import GAP_TEXT, Context, make_gap, not_assessed_fix
from .verdicts import Gap, RegionVerdict

TIMEOUT_CODES = frozenset({"ReadTimeoutError", "ConnectTimeoutError", "ConnectTimeout",
                           "EndpointConnectionError", "ConnectionClosedError"})


def explain_error(error: ApiError) -> str:
    """An API error in plain words: what its code usually means here."""
    if error.code in ACCESS_DENIED_CODES:
        return (f"{error.code}: {error.message} — the region refused the call; a service "
                "control policy (for example a region-deny SCP) or the scanning role's IAM "
                "policy may be the cause.")
    if error.code in NOT_ENABLED_CODES:
        return (f"{error.code}: {error.message} — the region rejected the credentials, which "
                "is what AWS answers in a region that is not enabled for the account.")
    if error.code in TIMEOUT_CODES:
        return f"{error.code}: {error.message} — the region did not answer in time."
    if error.code in ("ThrottlingException", "TooManyRequestsException"):
        return f"{error.code}: {error.message} — still throttled after every retry."
    return f"{error.code}: {error.message}"


def not_assessed_kind(error: ApiError, unexamined: str | None = None) -> str:
    """Which fix (a key of text.NOT_ASSESSED_TEXT) a region not assessed for `error` needs."""
    if error.code in ACCESS_DENIED_CODES:
        return "ACCESS_DENIED"
    if error.code == NOT_VISIBLE:
        return "ADMIN_ROLE" if unexamined else "NOT_VISIBLE"
    if error.code in TIMEOUT_CODES:
        return "TIMEOUT"
    if error.code in ("ThrottlingException", "TooManyRequestsException"):
        return "THROTTLED"
    return "OTHER"


def with_fix(verdict: RegionVerdict, context: Context, unexamined: str | None = None,
             role_name: str = "<admin-role>") -> RegionVerdict:
    """A region not assessed, with what makes the next run assess it (or exclude it with a
    reason); any other verdict as it is."""
    if verdict.status != RegionStatus.ERROR or verdict.error is None:
        return verdict
    command, note = not_assessed_fix(not_assessed_kind(verdict.error, unexamined),
                                     verdict.region, context, role_name)
    return replace(verdict, remediation=command, remediation_note=note)


# Which of several analyzers of a type, none ACTIVE, the remediation is written for: the one
# that is cheapest to bring back (a CREATING one may only need time).
_NOT_ACTIVE_ORDER = {"CREATING": 0, "DISABLED": 1, "FAILED": 2}


def analyzer_state(analyzer: Analyzer) -> str:
    """An analyzer's name with its status (and status reason), as gaps name it."""
    reason = f": {analyzer.status_reason}" if analyzer.status_reason else ""
    return f"{analyzer.name} ({analyzer.status}{reason})"


def not_active_gap(kind: str, of_type: list[Analyzer], region: str, context: Context) -> Gap:
    """No analyzer of the type is ACTIVE: the gap names each with its status and reason."""
    analyzer = min(of_type, key=lambda a: (_NOT_ACTIVE_ORDER.get(a.status, 3), age_key(a)))
    reason = analyzer.status_reason
    key = f"{GapCode.NOT_ACTIVE}:{reason or analyzer.status}"
    if reason == "AWS_SERVICE_ACCESS_DISABLED" and context.trusted_access is True:
        key += ":TRUSTED_ACCESS_ENABLED"
    if key not in GAP_TEXT:
        key = f"{GapCode.NOT_ACTIVE}:{analyzer.status}"
    others = ""
    if len(of_type) > 1:
        others = (f" None of the {len(of_type)} {kind} analyzers here is ACTIVE: "
                  + ", ".join(analyzer_state(a) for a in sorted(of_type, key=age_key)) + ".")
    gap = replace(make_gap(GapCode.NOT_ACTIVE, "region", region, context,
                           key if key in GAP_TEXT else None, name=analyzer.name, type=kind,
                           status=analyzer.status, others=others,
                           reason_text=f" (status reason: {reason})" if reason else ""),
                  analyzer_type=kind)
    if len(of_type) > 1:
        gap = replace(gap, title=f"No {kind} analyzer in {region} is ACTIVE: "
                      + ", ".join(analyzer_state(a) for a in sorted(of_type, key=age_key)))
    return gap


def as_additional(gap: Gap) -> Gap:
    """A gap about an analyzer type required in addition to the primary one is MEDIUM,
    whether the analyzer is missing or not ACTIVE: the severity says what the organization
    lacks (an extra analysis, not the external-access coverage the controls require), not
    why; the gap's text says why."""
    return replace(gap, severity=Severity.MEDIUM)


def _required_type_gap(kind: str, analyzers: tuple[Analyzer, ...], primary: bool, region: str,
                       context: Context, standalone: bool = False) -> Gap:
    """The gap for a required analyzer type that has no ACTIVE analyzer in the region."""
    of_type = [a for a in analyzers if a.type == kind]
    if of_type:
        gap = not_active_gap(kind, of_type, region, context)
        return gap if primary else as_additional(gap)
    if not primary:
        return replace(make_gap(GapCode.MISSING_REQUIRED_TYPE, "region", region, context,
                                type=kind),
                       analyzer_type=kind)
    counterpart = AnalyzerType(kind).account_counterpart  # kind: validated by the config
    account_scoped = [a for a in analyzers if a.type == counterpart and a.status == "ACTIVE"]
    if account_scoped:
        present = ", ".join(f"{a.name} ({a.type})" for a in account_scoped)
        if standalone:
            # Outside an organization: the per-account controls are met by the account's
            # own analyzer, and the fix starts with an organization.
            return replace(make_gap(GapCode.ACCOUNT_SCOPE_ONLY, "region", region, context,
                                    f"{GapCode.ACCOUNT_SCOPE_ONLY}:NOT_IN_ORGANIZATION",
                                    type=kind, present=present),
                           analyzer_type=kind, bears_on_controls=False)
        return replace(make_gap(GapCode.ACCOUNT_SCOPE_ONLY, "region", region, context,
                                type=kind, present=present), analyzer_type=kind)
    return replace(make_gap(GapCode.NO_ANALYZER, "region", region, context, type=kind),
                   analyzer_type=kind)


def _not_visible(unmet: list[str], analyzers: tuple[Analyzer, ...], role: ScanningRole,
                 context: Context, covered_by: Analyzer | None,
                 unexamined: str | None = None) -> ApiError:
    """Required types without a visible ACTIVE analyzer, from an account that cannot see
    every organization analyzer: what is and is not visible here, type by type."""
    parts = []
    for kind in unmet:
        text = f"no ACTIVE {kind} analyzer is visible"
        present = [a for a in analyzers if a.type == kind]
        if present:
            text += " (here but not ACTIVE: " + ", ".join(analyzer_state(a) for a in present) + ")"
        counterpart = AnalyzerType(kind).account_counterpart
        scoped = [a for a in analyzers if a.type == counterpart and a.status == "ACTIVE"]
        if scoped:
            text += " (ACTIVE here, account-scoped only: " + ", ".join(
                a.name for a in scoped) + ")"
        parts.append(text)
    where = (f" from account {context.account} ({role.value}); organization analyzers can also "
             f"live in account {context.admin}, the {context.admin_role}")
    if unexamined is not None:
        where = f" in the accounts examined; {unexamined}"
    message = "; ".join(parts) + where
    if covered_by is not None:
        message = (f"external access is covered by {covered_by.name} ({covered_by.type}), "
                   f"whose findings were read, but {message}")
    return ApiError(NOT_VISIBLE, message, "ListAnalyzers")


def _shortfall(scan: RegionScan, statuses: tuple[str, ...]) -> ApiError | None:
    """Fewer active findings read than the analyzer's own statistics announce."""
    statistics = scan.statistics
    if (not scan.findings_collected or "ACTIVE" not in statuses or statistics is None
            or statistics.active is None):
        return None
    read = sum(1 for f in scan.findings if f["status"] == "ACTIVE")
    if read >= statistics.active:
        return None
    return ApiError("FindingsShortfall", f"GetFindingsStatistics reports {statistics.active} "
                    f"active findings but {read} were read", "access-analyzer:ListFindings")


def judge_region(scan: RegionScan, coverage_types: tuple[str, ...], role: ScanningRole,
                 context: Context, absence_conclusive: bool,
                 statuses: tuple[str, ...] = ("ACTIVE",), *, unexamined: str | None = None,
                 prefer: str | None = None) -> RegionVerdict:
    """One region's verdict. `unexamined`: why an account where organization analyzers can
    live was not listed here (with --admin-role-name), said when that holds the region back;
    `prefer`: the account whose organization analyzer's findings are read first."""
    region = scan.region
    if scan.excluded_reason is not None:
        return RegionVerdict(region, RegionStatus.EXCLUDED, scan.excluded_reason,
                             f"Excluded by the configuration: {scan.excluded_reason}", True,
                             None, None)
    availability = scan.availability
    if not scan.scanned:
        status = availability.opt_in_status if availability else None
        return RegionVerdict(region, RegionStatus.NOT_ENABLED, status or "NOT_ENABLED",
                             f"Not enabled for the account (opt-in status: {status or 'unknown'})"
                             "; nothing in it can be analyzed until it is enabled.", True, None,
                             None)
    analyzers = scan.analyzers
    if analyzers is None:
        error = scan.analyzers_error or ApiError("Unknown", "no answer", "ListAnalyzers")
        unknown_enablement = availability is None or availability.enabled is None
        if error.code in NOT_ENABLED_CODES and unknown_enablement:
            return RegionVerdict(region, RegionStatus.NOT_ENABLED, error.code,
                                 explain_error(error), True, None, None)
        return RegionVerdict(region, RegionStatus.ERROR, error.code, explain_error(error),
                             False, error, None)
    source = scan.findings_analyzer
    label = None
    if source is not None:
        label = "ORGANIZATION" if source.type == AnalyzerType.ORGANIZATION else "ACCOUNT"
    selection = findings_selection(analyzers, source, prefer)
    findings_error = scan.findings_errors[0] if scan.findings_errors else None
    if findings_error is None:
        findings_error = _shortfall(scan, statuses)
    complete = findings_error is None
    incomplete = (f" Findings incomplete: {explain_error(findings_error)}" if findings_error
                  else "")
    unmet = [kind for kind in coverage_types
             if not any(a.type == kind and a.status == "ACTIVE" for a in analyzers)]
    if not unmet:
        detail = "Covered by " + ", ".join(
            f"{a.name} ({a.type})" for a in analyzers
            if a.type in coverage_types and a.status == "ACTIVE") + "."
        if selection:
            detail += f" {selection}"
        return RegionVerdict(region, RegionStatus.COVERED, None, detail + incomplete, complete,
                             findings_error, label, findings_selection=selection)
    if not absence_conclusive:
        # From an account where organization analyzers do not (all) live, a required type
        # without a visible ACTIVE analyzer says nothing about the organization: another
        # account may own one. The same rule holds for every required type.
        primary = coverage_types[0]
        covered_by = None if primary in unmet else next(
            (a for a in analyzers if a.type == primary and a.status == "ACTIVE"), None)
        error = _not_visible(unmet, analyzers, role, context, covered_by, unexamined)
        return RegionVerdict(region, RegionStatus.ERROR, error.code,
                             f"Not assessed: {error.message}.{incomplete}", False, error, label,
                             findings_selection=selection)
    standalone = role == ScanningRole.NOT_IN_ORGANIZATION
    gaps = tuple(_required_type_gap(kind, analyzers, kind == coverage_types[0], region, context,
                                    standalone)
                 for kind in unmet)
    return RegionVerdict(region, RegionStatus.GAP, gaps[0].code, gaps[0].title + "." + incomplete,
                         complete, findings_error, label, gaps, findings_selection=selection)
