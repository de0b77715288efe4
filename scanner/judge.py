"""Pure judgement: a ScanResult in; the scanning role, region verdicts, gaps and verdict out.

No I/O and no AWS here. The wording of every gap (severity, title, explanation, remediation
command) is data, in GAP_TEXT; the logic only decides which entry applies and fills in the
region, account and analyzer names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reports.document.rules import (
    MEMBER_SUMMARY_KEYS,
    NOT_ENABLED_CODES,
    NOT_VISIBLE,
    ORGANIZATION_WIDE_TYPES,
    Analysis,
    GapCode,
    RegionStatus,
    ScanningRole,
    Severity,
    Verdict,
    analysis_of,
    member_outcome,
)

from .model import (
    CALLER,
    EXTERNAL_ACCESS_TYPES,
    Analyzer,
    AnalyzerType,
    ApiError,
    Identity,
    MemberScan,
    OrganizationFacts,
    RegionScan,
    ScanResult,
)
from .selection import (
    ACCESS_DENIED_CODES,
    age_key,
    findings_selection,
    owns_active_organization_analyzer,
    scanning_role,
)
from .selection import findings_source as findings_source  # the tests' way in

DEFAULT_ANALYZER_NAME = "organization-external-access"
TIMEOUT_CODES = frozenset({"ReadTimeoutError", "ConnectTimeoutError", "ConnectTimeout",
                           "EndpointConnectionError", "ConnectionClosedError"})


@dataclass(frozen=True)
class GapText:
    severity: Severity
    title: str
    detail: str
    remediation: str  # the exact command
    note: str = ""  # where or when to run it
    # True when the gap is about where the scan ran rather than about the organization:
    # it makes the result INCOMPLETE instead of NON_COMPLIANT.
    blocks_assessment: bool = False


_IN_ADMIN = "Run in account {admin}, the {admin_role}."
_IN_MANAGEMENT = "Run in the management account {management}."
_CREATE = ("aws accessanalyzer create-analyzer --analyzer-name {name} --type {type} "
           "--region {region}")
_RECREATE = ("aws accessanalyzer delete-analyzer --analyzer-name {name} --region {region} && "
             + _CREATE)
_SCAN_AS_ADMIN = "aa-scan --role-arn arn:aws:iam::{admin}:role/<audit-role>"
_ENABLE_TRUSTED_ACCESS = ("aws organizations enable-aws-service-access --service-principal "
                          "access-analyzer.amazonaws.com")

_ADMIN_ROLE_TITLE = ("Not every account that can hold organization analyzers was examined "
                     "through the role {role_name}")
_ADMIN_ROLE_DETAIL = ("This run was to examine the organization analyzers of both the "
                      "management account and the delegated administrator (--admin-role-name "
                      "{role_name}), but {why}.")
_ADMIN_ROLE_REMEDIATION = "aws iam get-role --role-name {role_name}"
_ADMIN_ROLE_NOTE = ("Run in each account named above: the role must exist and trust the account "
                    "that assumes it (the management account, for the hop from a member "
                    "account), with the external id given by --external-id if its trust policy "
                    "requires one.")

GAP_TEXT: dict[str, GapText] = {
    GapCode.TRUSTED_ACCESS_DISABLED: GapText(
        Severity.CRITICAL,
        "Trusted access for IAM Access Analyzer is not enabled in AWS Organizations",
        "Without trusted access, organization analyzers cannot be created and existing ones "
        "are disabled (status reason AWS_SERVICE_ACCESS_DISABLED): no region is analyzed "
        "across the organization.",
        _ENABLE_TRUSTED_ACCESS, _IN_MANAGEMENT),
    GapCode.NOT_IN_ORGANIZATION: GapText(
        Severity.CRITICAL,
        "The scanned account {account} is not a member of an AWS Organization",
        "An analyzer whose zone of trust is the organization needs an organization: only "
        "account-scoped analysis is possible here, and access from other accounts you own "
        "is reported as external.",
        "aws organizations describe-organization",
        "Check that the intended account was scanned; to scan an organization, re-run "
        "aa-scan with --role-arn into its delegated administrator."),
    GapCode.SCANNED_FROM_MEMBER_ACCOUNT: GapText(
        Severity.HIGH,
        "The scan ran in member account {account}, which cannot see organization analyzers",
        "Organization analyzers exist only in the management account or in the account "
        "registered as Access Analyzer's delegated administrator. From a member account "
        "their absence proves nothing, so regions were not assessed instead of being "
        "reported as gaps. {role_detail}",
        _SCAN_AS_ADMIN, "Scan from the {admin_role}.", blocks_assessment=True),
    f"{GapCode.SCANNED_FROM_MEMBER_ACCOUNT}:ADVISORY": GapText(
        Severity.INFO,
        "The scan ran in member account {account}, which cannot see organization analyzers",
        "Organization analyzers exist only in the management account or in the account "
        "registered as Access Analyzer's delegated administrator. No region was held back "
        "by this (none could be listed here for other reasons, shown per region), but a "
        "scan from a member account cannot prove coverage. {role_detail}",
        _SCAN_AS_ADMIN, "Scan from the {admin_role}."),
    GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR: GapText(
        Severity.MEDIUM,
        "The scan ran in the management account, but account {admin} is the delegated "
        "administrator",
        "Organization analyzers created by the delegated administrator are not visible from "
        "the management account, so what has no ACTIVE analyzer visible here was not "
        "assessed: {blocked}.",
        _SCAN_AS_ADMIN, "Scan from the delegated administrator.", blocks_assessment=True),
    f"{GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR}:ADVISORY": GapText(
        Severity.INFO,
        "The scan ran in the management account; account {admin} is the delegated "
        "administrator",
        "Every assessed region has an ACTIVE organization analyzer owned by the management "
        "account, which covers the region whichever of the two accounts owns it, so the "
        "verdict stands. The delegated administrator's own analyzers are not visible from "
        "here and were not examined (their findings and archive rules may differ).",
        _SCAN_AS_ADMIN, "To examine the delegated administrator's analyzers, scan from it."),
    GapCode.ANALYZER_VISIBILITY_UNKNOWN: GapText(
        Severity.HIGH,
        "Could not tell whether organization analyzers are visible from account {account}",
        "Organization analyzers live in the management account or the delegated "
        "administrator, and Organizations did not say which account this is. {role_detail} "
        "What has no visible ACTIVE analyzer was not assessed rather than reported as a gap: "
        "{blocked}.",
        "aws iam put-role-policy --role-name <audit-role> --policy-name aa-scan "
        "--policy-document file://config/iam-policy.json",
        "Grant the scanning role the read-only Organizations calls in config/iam-policy.json "
        "(in account {account}), or scan from the delegated administrator with --role-arn.",
        blocks_assessment=True),
    f"{GapCode.ANALYZER_VISIBILITY_UNKNOWN}:ADVISORY": GapText(
        Severity.INFO,
        "Could not tell whether organization analyzers are visible from account {account}",
        "Organization analyzers live in the management account or the delegated "
        "administrator, and Organizations did not say which account this is. {role_detail} "
        "No region was held back by this (none could be listed for other reasons, shown "
        "per region).",
        "aws iam put-role-policy --role-name <audit-role> --policy-name aa-scan "
        "--policy-document file://config/iam-policy.json",
        "Grant the scanning role the read-only Organizations calls in config/iam-policy.json "
        "(in account {account}), or scan from the delegated administrator with --role-arn."),
    f"{GapCode.ANALYZER_VISIBILITY_UNKNOWN}:MANAGEMENT_NOT_EXAMINED": GapText(
        Severity.INFO,
        "The gaps were judged on the delegated administrator's own analyzers",
        "An organization analyzer the management account ({management}) created before the "
        "delegation keeps analyzing its region, and it is not visible from account {account}: "
        "the management account was not examined. Where it holds one, a gap listed here "
        "({blocked}) is covered after all.",
        "aa-scan --admin-role-name <role-name-in-the-management-account>",
        "Run from account {account}; the role must exist in account {management} and trust "
        "it (config/iam-policy.json, statement AaScanOptionalAssumeRoles)."),
    GapCode.NO_ANALYZER: GapText(
        Severity.HIGH,
        "No analyzer with the organization as zone of trust in {region}",
        "Resources in {region} are not analyzed for external access across the "
        "organization: public or cross-account grants created there go unreported.",
        _CREATE, _IN_ADMIN),
    GapCode.ACCOUNT_SCOPE_ONLY: GapText(
        Severity.HIGH,
        "Only an account-scoped analyzer ({present}) in {region}",
        "An analyzer whose zone of trust is one account reports access from other accounts "
        "of the organization as external and does not see the other member accounts' "
        "resources at all. Its findings are shown, labelled as account-scoped.",
        _CREATE, _IN_ADMIN),
    GapCode.NOT_ACTIVE: GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}",
        "An analyzer that is not ACTIVE does not generate findings{reason_text}.{others}",
        _RECREATE, _IN_ADMIN),
    f"{GapCode.NOT_ACTIVE}:CREATING": GapText(
        Severity.MEDIUM,
        "The {type} analyzer {name} in {region} is still being created",
        "It becomes ACTIVE when the first analysis completes; until then it reports "
        "nothing.{others}",
        "aws accessanalyzer get-analyzer --analyzer-name {name} --region {region}",
        "Re-run aa-scan when the analyzer is ACTIVE."),
    f"{GapCode.NOT_ACTIVE}:AWS_SERVICE_ACCESS_DISABLED": GapText(
        Severity.CRITICAL,
        "The {type} analyzer {name} in {region} is {status}: trusted access was disabled",
        "Trusted access for Access Analyzer was removed in AWS Organizations, which disables "
        "every organization analyzer.{others}",
        _ENABLE_TRUSTED_ACCESS + " && " + _RECREATE,
        "Enable trusted access in the management account {management}, then re-create the "
        "analyzer in account {admin}, the {admin_role}."),
    # Trusted access is on again: an analyzer it disabled stays disabled until re-created.
    f"{GapCode.NOT_ACTIVE}:AWS_SERVICE_ACCESS_DISABLED:TRUSTED_ACCESS_ENABLED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: it was disabled while trusted "
        "access was off",
        "Trusted access for Access Analyzer is enabled in AWS Organizations now, but an "
        "analyzer disabled while it was off does not come back: it has to be re-created."
        "{others}",
        _RECREATE, _IN_ADMIN),
    f"{GapCode.NOT_ACTIVE}:DELEGATED_ADMINISTRATOR_DEREGISTERED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: its account is no longer the "
        "delegated administrator",
        "Analyzers of a deregistered delegated administrator stop working; the current "
        "administrator must create its own (a failed analyzer keeps its name until "
        "deleted).{others}",
        _RECREATE, _IN_ADMIN),
    f"{GapCode.NOT_ACTIVE}:SERVICE_LINKED_ROLE_CREATION_FAILED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: the service-linked role could "
        "not be created in member accounts",
        "Access Analyzer could not create AWSServiceRoleForAccessAnalyzer in some member "
        "accounts (often an SCP denying iam:CreateServiceLinkedRole).{others}",
        _RECREATE,
        "Allow iam:CreateServiceLinkedRole in the member accounts first, then run in account "
        "{admin}, the {admin_role}."),
    f"{GapCode.NOT_ACTIVE}:ORGANIZATION_DELETED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: its organization was deleted",
        "The zone of trust no longer exists.{others}",
        "aws accessanalyzer delete-analyzer --analyzer-name {name} --region {region}",
        _IN_ADMIN),
    GapCode.MISSING_REQUIRED_TYPE: GapText(
        Severity.MEDIUM,
        "No active {type} analyzer in {region}",
        "The configuration requires an analyzer of type {type} in every region.",
        _CREATE, _IN_ADMIN),
    f"{GapCode.MISSING_REQUIRED_TYPE}:ORGANIZATION_WIDE": GapText(
        Severity.MEDIUM,
        "No active {type} analyzer in any region",
        "The configuration requires an analyzer of type {type}. Its analysis covers every "
        "region from the one it is created in (IAM User Guide: an unused access analyzer is "
        "not needed in each Region), and none of the regions scanned has an ACTIVE one.",
        _CREATE, _IN_ADMIN + " Any one region will do."),
    GapCode.SERVICE_MANAGED_ANALYZER: GapText(
        Severity.INFO,
        "The {type} requirement in {region} rests on {present}",
        "A service-linked analyzer belongs to the service that created it, not to the "
        "organization: that service deletes it when it is turned off (or no longer needs "
        "it), and its configuration and archive rules are the service's. The requirement is "
        "met today; create the organization's own analyzer so it stays met.",
        _CREATE, _IN_ADMIN),
    f"{GapCode.SERVICE_MANAGED_ANALYZER}:ORGANIZATION_WIDE": GapText(
        Severity.INFO,
        "The {type} requirement rests on {present}",
        "A service-linked analyzer belongs to the service that created it, not to the "
        "organization: that service deletes it when it is turned off (or no longer needs "
        "it), and its configuration and archive rules are the service's. The requirement is "
        "met today; create the organization's own analyzer (in any one region) so it stays "
        "met.",
        _CREATE, _IN_ADMIN + " Any one region will do."),
    GapCode.UNKNOWN_ANALYZER_TYPE: GapText(
        Severity.INFO,
        "Analyzer type(s) this version of aa-scan does not know: {present}",
        "Listed as they are and not read: {others}. They meet no requirement of the "
        "configuration and their findings are in no report; a newer aa-scan may know them.",
        "aa-scan --version",
        "Compare with the latest release; upgrade aa-scan where it is installed."),
    GapCode.NO_DELEGATED_ADMINISTRATOR: GapText(
        Severity.LOW,
        "No delegated administrator is registered for IAM Access Analyzer",
        "Organization analyzers then have to live in the management account; AWS recommends "
        "delegating security tooling to a dedicated account.",
        "aws organizations register-delegated-administrator --account-id "
        "<security-account-id> --service-principal access-analyzer.amazonaws.com",
        _IN_MANAGEMENT),
}


# A role of --admin-role-name that could not be assumed (or an account not listed in some
# regions): the gap of where the scan ran, worded for what held the regions back.
for _code in (GapCode.SCANNED_FROM_MEMBER_ACCOUNT,
              GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR,
              GapCode.ANALYZER_VISIBILITY_UNKNOWN):
    GAP_TEXT[f"{_code}:ADMIN_ROLE"] = GapText(
        Severity.HIGH, _ADMIN_ROLE_TITLE,
        _ADMIN_ROLE_DETAIL + " What has no ACTIVE analyzer visible in the accounts examined "
        "was not assessed: {blocked}.", _ADMIN_ROLE_REMEDIATION, _ADMIN_ROLE_NOTE,
        blocks_assessment=True)
    GAP_TEXT[f"{_code}:ADMIN_ROLE:ADVISORY"] = GapText(
        Severity.INFO, _ADMIN_ROLE_TITLE,
        _ADMIN_ROLE_DETAIL + " No region was held back by this: each assessed region has an "
        "ACTIVE analyzer in the accounts examined, which covers it whichever account owns "
        "it; the other account's own analyzers (their findings and archive rules) were not "
        "examined.", _ADMIN_ROLE_REMEDIATION, _ADMIN_ROLE_NOTE)


@dataclass(frozen=True)
class Gap:
    scope: str  # "organization" or "region"
    region: str | None
    code: GapCode
    severity: Severity
    title: str
    detail: str
    remediation: str
    remediation_note: str = ""
    blocks_assessment: bool = False
    # The analyzer type a gap is about (None: not about one type): which controls it bears
    # on depends on it (evidence.controls).
    analyzer_type: str | None = None


@dataclass(frozen=True)
class RegionVerdict:
    region: str
    status: RegionStatus
    reason: str | None
    detail: str
    complete: bool
    error: ApiError | None
    findings_label: str | None  # "ORGANIZATION" or "ACCOUNT" (account-scoped analyzer's)
    gaps: tuple[Gap, ...] = ()
    # Why the findings analyzer was chosen, when the region had more than one candidate.
    findings_selection: str | None = None


@dataclass(frozen=True)
class Judgement:
    role: ScanningRole
    role_detail: str
    regions: tuple[RegionVerdict, ...]
    gaps: tuple[Gap, ...]
    advisories: tuple[Gap, ...]
    verdict: Verdict
    complete: bool
    incomplete_reasons: tuple[str, ...] = field(default=())
    members: MemberView | None = None  # the member view, beside the verdict (never in it)
    # Organization-wide requirements (coverage types) this run could not judge.
    not_judged: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberVerdict:
    """One account of the member view: a cell per region (PASS, FAIL, NOT_ENABLED, ERROR)."""

    account_id: str
    name: str
    status: str  # ASSESSED | SUSPENDED | ERROR
    error: ApiError | None
    regions: Mapping[str, str]
    region_errors: Mapping[str, ApiError]


@dataclass(frozen=True)
class MemberView:
    role_name: str
    accounts: tuple[MemberVerdict, ...]
    summary: Mapping[str, int]  # accounts, pass, fail, error
    error: ApiError | None  # the accounts could not be listed
    remediation_template: str | None  # for FAIL cells: a StackSet's template ...
    remediation_commands: tuple[str, ...]  # ... and the commands that deploy it
    remediation_note: str


@dataclass(frozen=True)
class _Context:
    account: str
    admin: str
    admin_role: str
    management: str
    trusted_access: bool | None = None


def _gap(code: GapCode, scope: str, region: str | None, context: _Context, key: str | None = None,
         **values: str) -> Gap:
    text = GAP_TEXT[key or code]
    fill = {"region": region or "", "account": context.account, "admin": context.admin,
            "admin_role": context.admin_role, "management": context.management,
            "name": DEFAULT_ANALYZER_NAME, "type": AnalyzerType.ORGANIZATION.value,
            "present": "", "status": "", "reason_text": "", "role_detail": "", "others": "",
            "blocked": "", "why": "", "role_name": "<admin-role>", **values}
    return Gap(scope=scope, region=region, code=code, severity=text.severity,
               title=text.title.format(**fill), detail=text.detail.format(**fill),
               remediation=text.remediation.format(**fill),
               remediation_note=text.note.format(**fill),
               blocks_assessment=text.blocks_assessment)


# -- the scanning account ----------------------------------------------------------------


def absence_is_conclusive(role: ScanningRole, org: OrganizationFacts,
                          analyzers: Iterable[Analyzer]) -> bool:
    """Whether a region without a visible organization analyzer really has none.

    Organization analyzers live in the management account or the delegated administrator;
    only a scan from where they live (or from outside any organization, where none can
    exist) can call their absence a gap.
    """
    if role in (ScanningRole.DELEGATED_ADMINISTRATOR, ScanningRole.NOT_IN_ORGANIZATION):
        return True
    if role == ScanningRole.MANAGEMENT:
        return org.delegated_administrators == ()
    if role == ScanningRole.UNKNOWN:
        return owns_active_organization_analyzer(analyzers)
    return False


def _context(identity: Identity, org: OrganizationFacts) -> _Context:
    admins = org.delegated_administrators or ()
    management = org.management_account_id or "<management-account-id>"
    if admins:
        return _Context(identity.account_id, admins[0], "delegated administrator", management)
    if org.management_account_id:
        return _Context(identity.account_id, management, "management account", management)
    return _Context(identity.account_id, "<delegated-administrator-account-id>",
                    "delegated administrator", management)


# -- regions -------------------------------------------------------------------------------


def explain_error(error: ApiError) -> str:
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


# Which of several analyzers of a type, none ACTIVE, the remediation is written for: the one
# that is cheapest to bring back (a CREATING one may only need time).
_NOT_ACTIVE_ORDER = {"CREATING": 0, "DISABLED": 1, "FAILED": 2}


def _state(analyzer: Analyzer) -> str:
    reason = f": {analyzer.status_reason}" if analyzer.status_reason else ""
    return f"{analyzer.name} ({analyzer.status}{reason})"


def _not_active_gap(kind: str, of_type: list[Analyzer], region: str, context: _Context) -> Gap:
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
                  + ", ".join(_state(a) for a in sorted(of_type, key=age_key)) + ".")
    gap = replace(_gap(GapCode.NOT_ACTIVE, "region", region, context,
                       key if key in GAP_TEXT else None, name=analyzer.name, type=kind,
                       status=analyzer.status, others=others,
                       reason_text=f" (status reason: {reason})" if reason else ""),
                  analyzer_type=kind)
    if len(of_type) > 1:
        gap = replace(gap, title=f"No {kind} analyzer in {region} is ACTIVE: "
                      + ", ".join(_state(a) for a in sorted(of_type, key=age_key)))
    return gap


def _additional(gap: Gap) -> Gap:
    """A gap about an analyzer type required in addition to the primary one is MEDIUM,
    whether the analyzer is missing or not ACTIVE: the severity says what the organization
    lacks (an extra analysis, not the external-access coverage the controls require), not
    why; the gap's text says why."""
    return replace(gap, severity=Severity.MEDIUM)


def _required_type_gap(kind: str, analyzers: tuple[Analyzer, ...], primary: bool, region: str,
                       context: _Context) -> Gap:
    """The gap for a required analyzer type that has no ACTIVE analyzer in the region."""
    of_type = [a for a in analyzers if a.type == kind]
    if of_type:
        gap = _not_active_gap(kind, of_type, region, context)
        return gap if primary else _additional(gap)
    if not primary:
        return replace(_gap(GapCode.MISSING_REQUIRED_TYPE, "region", region, context,
                            type=kind, name=f"{kind.lower().replace('_', '-')}"),
                       analyzer_type=kind)
    counterpart = AnalyzerType(kind).account_counterpart  # kind: validated by the config
    account_scoped = [a for a in analyzers if a.type == counterpart and a.status == "ACTIVE"]
    if account_scoped:
        present = ", ".join(f"{a.name} ({a.type})" for a in account_scoped)
        return replace(_gap(GapCode.ACCOUNT_SCOPE_ONLY, "region", region, context,
                            type=kind, present=present), analyzer_type=kind)
    return replace(_gap(GapCode.NO_ANALYZER, "region", region, context, type=kind),
                   analyzer_type=kind)


def _not_visible(unmet: list[str], analyzers: tuple[Analyzer, ...], role: ScanningRole,
                 context: _Context, covered_by: Analyzer | None,
                 unexamined: str | None = None) -> ApiError:
    """Required types without a visible ACTIVE analyzer, from an account that cannot see
    every organization analyzer: what is and is not visible here, type by type."""
    parts = []
    for kind in unmet:
        text = f"no ACTIVE {kind} analyzer is visible"
        present = [a for a in analyzers if a.type == kind]
        if present:
            text += " (here but not ACTIVE: " + ", ".join(_state(a) for a in present) + ")"
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
                 context: _Context, absence_conclusive: bool,
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
    gaps = tuple(_required_type_gap(kind, analyzers, kind == coverage_types[0], region, context)
                 for kind in unmet)
    return RegionVerdict(region, RegionStatus.GAP, gaps[0].code, gaps[0].title + "." + incomplete,
                         complete, findings_error, label, gaps, findings_selection=selection)


# -- the whole result ----------------------------------------------------------------------


def _needed_accounts(org: OrganizationFacts) -> tuple[list[tuple[str, ScanningRole]], list[str]]:
    """The accounts organization analyzers can live in, and what is unknown about them."""
    needed: list[tuple[str, ScanningRole]] = []
    unknown: list[str] = []
    if org.management_account_id is None:
        unknown.append("the management account is unknown (DescribeOrganization failed)")
    else:
        needed.append((org.management_account_id, ScanningRole.MANAGEMENT))
    if org.delegated_administrators is None:
        unknown.append("the delegated administrator is unknown (ListDelegatedAdministrators "
                       "failed or was not reached)")
    else:
        needed += [(a, ScanningRole.DELEGATED_ADMINISTRATOR)
                   for a in org.delegated_administrators]
    return needed, unknown


def _unreached_accounts(result: ScanResult) -> str | None:
    """With --admin-role-name: why an account where organization analyzers can live was not
    examined at all (None: every one was)."""
    needed, reasons = _needed_accounts(result.organization)
    examined = {e.account_id: e for e in result.examined}
    for account, role in needed:
        entry = examined.get(account)
        if entry is None:
            reasons.append(f"account {account} ({role.value}) was not examined")
        elif entry.error is not None:
            reasons.append(f"account {account} ({role.value}) could not be examined: "
                           f"{entry.error}")
    return "; ".join(reasons) or None


def _unlisted(scan: RegionScan, result: ScanResult) -> str | None:
    """With --admin-role-name: why an account where organization analyzers can live has no
    listing in this region (None: every one was listed here)."""
    needed, reasons = _needed_accounts(result.organization)
    examined = {e.account_id: e for e in result.examined}
    listings = {listing.account_id: listing for listing in scan.listings}
    for account, role in needed:
        if account == result.identity.account_id:
            error = scan.analyzers_error
        elif account in listings:
            error = listings[account].error
        else:
            entry = examined.get(account)
            error = entry.error if entry is not None else ApiError(
                "NotExamined", "the account was not examined")
        if error is not None:
            reasons.append(f"account {account} ({role.value}) could not be examined: {error}")
    return "; ".join(reasons) or None


def _admin_role_name(result: ScanResult) -> str:
    via = next((e.via for e in result.examined if e.via != CALLER), "")
    return via.rsplit("/", 1)[-1] or "<admin-role>"



_VISIBILITY_GAPS = {
    ScanningRole.MEMBER: GapCode.SCANNED_FROM_MEMBER_ACCOUNT,
    ScanningRole.MANAGEMENT: GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR}




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
                       role: ScanningRole, context: _Context, unread: Sequence[str] = ()
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
            f"{_state(a)} in {region}" for region, a in present) + ")") if present else ""
        return None, (f"no ACTIVE {kind} analyzer is visible in any region from account "
                      f"{context.account} ({role.value}){seen}; account {context.admin}, the "
                      f"{context.admin_role}, may own one")
    if unread:  # one ACTIVE analyzer in a region not read would meet the requirement
        return None, None
    if present:
        region = present[0][0]
        gap = _not_active_gap(kind, [a for r, a in present if r == region], region, context)
        return replace(_additional(gap), scope="organization", region=None), None
    # The command needs a region: the first one scanned (any region will do).
    gap = _gap(GapCode.MISSING_REQUIRED_TYPE, "organization", assessed[0], context,
               key=f"{GapCode.MISSING_REQUIRED_TYPE}:ORGANIZATION_WIDE", type=kind,
               name=kind.lower().replace("_", "-"))
    return replace(gap, region=None, analyzer_type=kind), None


def _managed_elsewhere(active: list[Analyzer]) -> bool:
    return bool(active) and all(a.managed_by for a in active)


def _service_managed(kind: str, active: list[Analyzer], region: str, wide: bool,
                     context: _Context) -> Gap:
    """The advisory for a requirement met only by analyzers another service manages (for a
    type one analyzer anywhere meets, `region` is where the command creates the own one)."""
    present = ", ".join(f"{a.name}, managed by {a.managed_by}"
                        for a in sorted(active, key=age_key))
    key = f"{GapCode.SERVICE_MANAGED_ANALYZER}:ORGANIZATION_WIDE" if wide else None
    gap = _gap(GapCode.SERVICE_MANAGED_ANALYZER, "organization" if wide else "region", region,
               context, key=key, type=kind, name=kind.lower().replace("_", "-"),
               present=present)
    return replace(gap, region=None if wide else region, analyzer_type=kind)


def service_managed_advisories(result: ScanResult, verdicts: Iterable[RegionVerdict],
                               context: _Context) -> list[Gap]:
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


def unknown_type_advisory(result: ScanResult, context: _Context) -> Gap | None:
    """Analyzers of a type newer than this version: listed, never read, never a crash."""
    unknown = [(s.region, a) for s in result.regions for a in (s.analyzers or ())
               if analysis_of(a.type) is Analysis.UNKNOWN]
    if not unknown:
        return None
    types = ", ".join(sorted({a.type for _, a in unknown}))
    listed = ", ".join(f"{a.name} ({a.type}) in {region}" for region, a in unknown)
    return _gap(GapCode.UNKNOWN_ANALYZER_TYPE, "organization", None, context, present=types,
                others=listed)


def _visibility_gap(role: ScanningRole, admins: tuple[str, ...], absence_conclusive: bool
                    ) -> GapCode | None:
    """The organization gap that explains why analyzers may be invisible from here."""
    if role == ScanningRole.MEMBER:
        return _VISIBILITY_GAPS[role]
    if role == ScanningRole.MANAGEMENT and admins:
        return _VISIBILITY_GAPS[role]
    if role not in (ScanningRole.NOT_IN_ORGANIZATION,) and not absence_conclusive:
        return GapCode.ANALYZER_VISIBILITY_UNKNOWN
    return None


def judge(result: ScanResult) -> Judgement:
    org = result.organization
    me = result.identity.account_id
    both = result.admin_roles_used
    # Evidence of the caller's role: its own analyzers (with --admin-role-name, the other
    # accounts' are listed too).
    all_analyzers = [a for r in result.regions for a in (r.analyzers or ())
                     if not both or a.account_id in (me, None)]
    role, role_detail = scanning_role(result.identity, org, all_analyzers)
    context = replace(_context(result.identity, org), trusted_access=org.trusted_access)
    admins = org.delegated_administrators or ()
    absence_conclusive = absence_is_conclusive(role, org, all_analyzers)
    unreached = _unreached_accounts(result) if both else None
    if both:
        absence_conclusive = unreached is None

    regional = tuple(t for t in result.coverage_types if t not in ORGANIZATION_WIDE_TYPES)
    prefer = admins[0] if admins else None
    unlisted = {scan.region: _unlisted(scan, result) if both else None
                for scan in result.regions}
    verdicts = tuple(judge_region(scan, regional, role, context,
                                  unlisted[scan.region] is None if both else absence_conclusive,
                                  result.finding_statuses, unexamined=unlisted[scan.region],
                                  prefer=prefer)
                     for scan in result.regions)
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
        org_gaps.append(_gap(GapCode.NOT_IN_ORGANIZATION, "organization", None, context))
    visibility = None if both else _visibility_gap(role, admins, absence_conclusive)
    if both and (blocked or unreached):
        # Both administrator accounts were to be examined and one could not be (everywhere,
        # or in some regions): the gap says which and why, where it held a region back.
        code = _VISIBILITY_GAPS.get(role, GapCode.ANALYZER_VISIBILITY_UNKNOWN)
        why = unreached or "; ".join(dict.fromkeys(
            u for v in verdicts if v.region in blocked and (u := unlisted[v.region])))
        key = f"{code}:ADMIN_ROLE" + ("" if blocked else ":ADVISORY")
        (org_gaps if blocked else advisories).append(_gap(
            code, "organization", None, context, key=key, blocked=", ".join(blocked),
            why=why, role_name=_admin_role_name(result)))
    if visibility is not None:
        # A gap only where it held some region back; otherwise the same fact, as advice.
        if blocked:
            org_gaps.append(_gap(visibility, "organization", None, context,
                                 role_detail=role_detail, blocked=", ".join(blocked)))
        else:
            advisories.append(_gap(visibility, "organization", None, context,
                                   key=f"{visibility}:ADVISORY", role_detail=role_detail))
    if org.in_organization and org.trusted_access is False:
        org_gaps.insert(0, _gap(GapCode.TRUSTED_ACCESS_DISABLED, "organization", None, context))
    if org.in_organization and org.delegated_administrators == ():
        advisories.append(_gap(GapCode.NO_DELEGATED_ADMINISTRATOR, "organization", None, context))
    if role == ScanningRole.DELEGATED_ADMINISTRATOR and not both and org.management_account_id:
        # Analyzers created in the management account before the delegation still count
        # (issue 11) and are invisible from here: say so beside the gaps they may answer.
        held = sorted({g.region for v in verdicts for g in v.gaps if g.region})
        if held:
            advisories.append(_gap(
                GapCode.ANALYZER_VISIBILITY_UNKNOWN, "organization", None, context,
                key=f"{GapCode.ANALYZER_VISIBILITY_UNKNOWN}:MANAGEMENT_NOT_EXAMINED",
                blocked=", ".join(held)))
    advisories += service_managed_advisories(result, verdicts, context)
    unknown = unknown_type_advisory(result, context)
    if unknown is not None:
        advisories.append(unknown)

    region_gaps = [gap for v in verdicts for gap in v.gaps]
    gaps = tuple(org_gaps + wide_gaps + region_gaps)

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
    if any(not g.blocks_assessment for g in gaps):
        verdict = Verdict.NON_COMPLIANT
    elif not complete:
        verdict = Verdict.INCOMPLETE
    else:
        verdict = Verdict.COMPLIANT
    members = judge_members(result.members, result.regions, org.management_account_id) \
        if result.members is not None else None
    return Judgement(role, role_detail, verdicts, gaps, tuple(advisories), verdict, complete,
                     tuple(reasons), members, tuple(not_judged))


# -- the member view (IAM.28, per account) ------------------------------------------------

STACK_SET = "aa-scan-account-analyzer"
MEMBER_ANALYZER = "account-external-access"
# A CloudFormation template: one external access analyzer whose zone of trust is the account.
ACCOUNT_ANALYZER_TEMPLATE = f"""AWSTemplateFormatVersion: "2010-09-09"
Description: An IAM Access Analyzer external access analyzer for the account (AWS Security
  Hub control IAM.28), deployed by a service-managed StackSet.
Resources:
  AccountExternalAccessAnalyzer:
    Type: AWS::AccessAnalyzer::Analyzer
    Properties:
      AnalyzerName: {MEMBER_ANALYZER}
      Type: ACCOUNT
"""
MEMBER_NOTE = (
    "Run in the management account (or a delegated administrator for CloudFormation "
    "StackSets, adding --call-as DELEGATED_ADMIN), with trusted access for StackSets enabled; "
    f"save the template as {STACK_SET}.yaml and replace <root-or-ou-id> with the organization "
    "root or an OU holding the accounts. A service-managed StackSet never deploys to the "
    "management account itself: its commands, if any, are create-analyzer calls to run in it.")


def _member_cell(found: tuple[Analyzer, ...] | ApiError | None) -> tuple[str, ApiError | None]:
    if found is None:
        return "ERROR", ApiError("NotListed", "no answer", "access-analyzer:ListAnalyzers")
    if isinstance(found, ApiError):
        return ("NOT_ENABLED", None) if found.code in NOT_ENABLED_CODES else ("ERROR", found)
    owns = any(a.status == "ACTIVE" and a.type in EXTERNAL_ACCESS_TYPES for a in found)
    return ("PASS" if owns else "FAIL"), None


def judge_members(members: MemberScan, scans: tuple[RegionScan, ...],
                  management: str | None) -> MemberView:
    """Each account's own view, as IAM.28 and the AWS Config rule evaluate it: PASS where it
    owns an ACTIVE external access analyzer (ACCOUNT or ORGANIZATION), FAIL where it owns
    none, NOT_ENABLED where the region is not enabled, ERROR with why. A second view: it
    never changes the organization verdict."""
    verdicts: list[MemberVerdict] = []
    counts = {"accounts": len(members.accounts), "pass": 0, "fail": 0, "error": 0}
    failing: dict[str, list[str]] = {}
    for account in members.accounts:
        if account.suspended:
            verdicts.append(MemberVerdict(account.account_id, account.name, "SUSPENDED",
                                          None, {}, {}))
            continue
        if account.error is not None:  # not examined: each region it should have been is ERROR
            verdicts.append(MemberVerdict(
                account.account_id, account.name, "ERROR", account.error,
                {scan.region: "ERROR" if scan.scanned else "NOT_ENABLED" for scan in scans
                 if scan.excluded_reason is None}, {}))
            continue
        cells: dict[str, str] = {}
        errors: dict[str, ApiError] = {}
        for scan in scans:
            if scan.excluded_reason is not None:
                continue
            if not scan.scanned:
                cells[scan.region] = "NOT_ENABLED"
                continue
            cells[scan.region], error = _member_cell(account.regions.get(scan.region))
            if error is not None:
                errors[scan.region] = error
        failed = [r for r, cell in cells.items() if cell == "FAIL"]
        if failed:
            failing[account.account_id] = failed
        verdicts.append(MemberVerdict(account.account_id, account.name, "ASSESSED", None,
                                      cells, errors))
    for verdict in verdicts:
        key = MEMBER_SUMMARY_KEYS.get(member_outcome(verdict.status, verdict.regions.values()))
        if key is not None:
            counts[key] += 1
    commands = _member_remediation(failing, management)
    return MemberView(members.role_name, tuple(verdicts), counts, members.error,
                      ACCOUNT_ANALYZER_TEMPLATE if commands else None, commands,
                      MEMBER_NOTE if commands else "")


def _member_remediation(failing: Mapping[str, list[str]], management: str | None
                        ) -> tuple[str, ...]:
    """The StackSet, then one create-stack-instances per set of regions its accounts fail
    in (the management account: create-analyzer, which a StackSet cannot reach)."""
    if not failing:
        return ()
    groups: dict[tuple[str, ...], list[str]] = {}
    direct: list[str] = []
    for account_id, regions in failing.items():
        if account_id == management:
            direct += [f"aws accessanalyzer create-analyzer --analyzer-name {MEMBER_ANALYZER} "
                       f"--type ACCOUNT --region {region}" for region in regions]
        else:
            groups.setdefault(tuple(regions), []).append(account_id)
    commands = []
    if groups:
        commands.append(
            f"aws cloudformation create-stack-set --stack-set-name {STACK_SET} --template-body "
            f"file://{STACK_SET}.yaml --permission-model SERVICE_MANAGED --auto-deployment "
            "Enabled=false")
        commands += [
            f"aws cloudformation create-stack-instances --stack-set-name {STACK_SET} "
            "--deployment-targets '" + json.dumps(
                {"OrganizationalUnitIds": ["<root-or-ou-id>"], "Accounts": accounts,
                 "AccountFilterType": "INTERSECTION"}, separators=(",", ":"))
            + f"' --regions {' '.join(regions)}"
            for regions, accounts in groups.items()]
    return (*commands, *direct)
