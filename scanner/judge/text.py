"""The wording of every gap and advisory, as data: severity, title, why it matters, the
remediation command and where to run it (GAP_TEXT, keyed by gap code and variant), and
`make_gap`, which fills an entry in with the region, account and analyzer names.

The logic elsewhere in the judge only decides which entry applies.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from reports.document.rules import GapCode, Severity

from ..model import AnalyzerType
from .verdicts import Gap

DEFAULT_ANALYZER_NAME = "organization-external-access"


@dataclass(frozen=True)
class GapText:
    """The wording of one gap: its fields are format strings filled in by `make_gap`."""

    severity: Severity
    title: str
    detail: str
    remediation: str  # the exact command
    note: str = ""  # where or when to run it
    # True when the gap is about where the scan ran rather than about the organization:
    # it makes the result INCOMPLETE instead of NON_COMPLIANT.
    blocks_assessment: bool = False


_IN_ADMIN = "Run in account {admin}, the {admin_role}."
_KEEP_RULES = (" The first line saves the analyzer's archive rules and the last re-creates each "
               "on the new analyzer (create-archive-rule; it needs jq): deleting an analyzer "
               "deletes its rules, and without them findings it archived come back as active.")
_IN_MANAGEMENT = "Run in the management account {management}."
_CREATE = ("aws accessanalyzer create-analyzer --analyzer-name {name} --type {type} "
           "--region {region}")
# Delete-then-create drops the analyzer's archive rules: they are saved first, and each is
# re-created with create-archive-rule once the new analyzer exists (one command a line, so a
# change ticket carries them as they are; jq reads the saved rules).
_SAVE_RULES = ("aws accessanalyzer list-archive-rules --analyzer-name {name} --region {region} "
               "--query 'archiveRules[].{{ruleName: ruleName, filter: filter}}' --output json "
               "> {rules_file}")
_RESTORE_RULES = ("jq -c --arg analyzer {name} '.[] | .analyzerName = $analyzer' {rules_file} "
                  "| while read -r rule; do aws accessanalyzer create-archive-rule --region "
                  "{region} --cli-input-json \"$rule\"; done")
_RECREATE = "\n".join((
    _SAVE_RULES,
    "aws accessanalyzer delete-analyzer --analyzer-name {name} --region {region}",
    _CREATE,
    _RESTORE_RULES))
# Placeholders the reader fills in are quoted, so a fix copied as it is still parses as shell
# (bash reads an unquoted <audit-role> as a redirection) and fails loudly on the placeholder.
_SCAN_AS_ADMIN = "aa-scan --role-arn 'arn:aws:iam::{admin}:role/<audit-role>'"
_ENABLE_TRUSTED_ACCESS = ("aws organizations enable-aws-service-access --service-principal "
                          "access-analyzer.amazonaws.com")

_GET_ARCHIVE_RULE = ("aws accessanalyzer get-archive-rule --analyzer-name {analyzer_arg} "
                     "--rule-name {rule_arg} --region {region}")
_ARCHIVE_RULE_NOTE = ("Run in account {owner}, which owns the analyzer{others}. What it "
                      "archived: {archived_command}. To delete it: {delete}.")

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
        "aws iam put-role-policy --role-name '<audit-role>' --policy-name aa-scan "
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
        "aws iam put-role-policy --role-name '<audit-role>' --policy-name aa-scan "
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
        "aa-scan --admin-role-name '<role-name-in-the-management-account>'",
        "Run from account {account}; the role must exist in account {management} and trust "
        "it (config/iam-policy.json, statement AaScanOptionalAssumeRoles)."),
    GapCode.NO_ANALYZER: GapText(
        Severity.HIGH,
        "No analyzer with the organization as zone of trust in {region}",
        "Resources in {region} are not analyzed for external access across the "
        "organization: public or cross-account grants created there go unreported.",
        _CREATE, _IN_ADMIN),
    GapCode.ACCOUNT_SCOPE_ONLY: GapText(
        Severity.MEDIUM,
        "Only an account-scoped analyzer ({present}) in {region}",
        "An analyzer whose zone of trust is one account reports access from other accounts "
        "of the organization as external and does not see the other member accounts' "
        "resources at all. Its findings are shown, labelled as account-scoped.",
        _CREATE, _IN_ADMIN),
    # Outside an organization no organization analyzer can exist: the account's own analyzer
    # meets the per-account controls, and the organization scope needs an organization first.
    f"{GapCode.ACCOUNT_SCOPE_ONLY}:NOT_IN_ORGANIZATION": GapText(
        Severity.LOW,
        "Only an account-scoped analyzer ({present}) in {region}: account {account} is in no "
        "organization",
        "The account's own ACTIVE analyzer is what the per-account controls ask for (CIS, "
        "Security Hub IAM.28 and the AWS Config rule evaluate each account's analyzers), so "
        "they are not failed by this. An analyzer whose zone of trust is an organization, "
        "which aa-scan requires, cannot be created outside one: AWS refuses create-analyzer "
        "--type ORGANIZATION in an account that is not in an organization.",
        "aws organizations create-organization --feature-set ALL\n"
        + _ENABLE_TRUSTED_ACCESS + "\n" + _CREATE,
        "Only if account {account} is to head an organization: the first line makes it the "
        "management account, the second enables trusted access, the last creates the "
        "analyzer. If it is to join an existing organization instead, accept that "
        "organization's invitation and create the analyzer from its delegated administrator. "
        "If it stays standalone, nothing else is needed for the per-account controls: accept "
        "this gap with an exception (with a reason and an expiry) in the configuration."),
    GapCode.NOT_ACTIVE: GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}",
        "An analyzer that is not ACTIVE does not generate findings{reason_text}.{others}",
        _RECREATE, _IN_ADMIN + _KEEP_RULES),
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
        _ENABLE_TRUSTED_ACCESS + "\n" + _RECREATE,
        "Enable trusted access in the management account {management} (the first line), then "
        "re-create the analyzer in account {admin}, the {admin_role}." + _KEEP_RULES),
    # Trusted access is on again: an analyzer it disabled stays disabled until re-created.
    f"{GapCode.NOT_ACTIVE}:AWS_SERVICE_ACCESS_DISABLED:TRUSTED_ACCESS_ENABLED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: it was disabled while trusted "
        "access was off",
        "Trusted access for Access Analyzer is enabled in AWS Organizations now, but an "
        "analyzer disabled while it was off does not come back: it has to be re-created."
        "{others}",
        _RECREATE, _IN_ADMIN + _KEEP_RULES),
    f"{GapCode.NOT_ACTIVE}:DELEGATED_ADMINISTRATOR_DEREGISTERED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: its account is no longer the "
        "delegated administrator",
        "Analyzers of a deregistered delegated administrator stop working; the current "
        "administrator must create its own (a failed analyzer keeps its name until "
        "deleted).{others}",
        _RECREATE, _IN_ADMIN + _KEEP_RULES),
    f"{GapCode.NOT_ACTIVE}:SERVICE_LINKED_ROLE_CREATION_FAILED": GapText(
        Severity.HIGH,
        "The {type} analyzer {name} in {region} is {status}: the service-linked role could "
        "not be created in member accounts",
        "Access Analyzer could not create AWSServiceRoleForAccessAnalyzer in some member "
        "accounts (often an SCP denying iam:CreateServiceLinkedRole).{others}",
        _RECREATE,
        "Allow iam:CreateServiceLinkedRole in the member accounts first, then run in account "
        "{admin}, the {admin_role}." + _KEEP_RULES),
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
    GapCode.BROAD_ARCHIVE_RULE: GapText(
        Severity.MEDIUM,
        "Archive rule {name} of analyzer {analyzer} can archive public findings ({where})",
        "Its filter: {filter}. {why} A finding an archive rule matches is ARCHIVED the moment "
        "it is created: no report, gate or notification counts it, and the rule records no "
        "reason, owner or expiry. Archived in this analyzer: {archived}. Narrow the rule to "
        "the accounts, principals or resources you decided to trust, or delete it; a known "
        "public resource is better accepted as an aa-scan exception (an owner and an expiry, "
        "shown in every report).",
        _GET_ARCHIVE_RULE, _ARCHIVE_RULE_NOTE),
    f"{GapCode.BROAD_ARCHIVE_RULE}:PUBLIC_NAMED": GapText(
        Severity.LOW,
        "Archive rule {name} of analyzer {analyzer} archives the public findings of named "
        "resources ({where})",
        "Its filter: {filter}. {why} Archived in this analyzer: {archived}. If the exposure is "
        "intended, an aa-scan exception states it with a reason, an owner and an expiry, in "
        "every report; the archive rule hides it with none of them.",
        _GET_ARCHIVE_RULE, _ARCHIVE_RULE_NOTE),
    GapCode.EXCEPTION_EXPIRED: GapText(
        Severity.MEDIUM,
        "The exception for {what} expired on {expires}: it accepts nothing any more",
        "Accepted by {owner}{ticket} until {expires} ({reason}). Since that day, what it "
        "matches counts again in every report and gate, unless another exception now "
        "accepts it (named): {matched}.",
        "Edit {source}: renew the exception, with a new expires approved again, or remove it",
        "Or fix what it accepted: its gaps are listed with the commands that fix them, its "
        "findings with their resources."),
    GapCode.EXCEPTION_EXPIRING: GapText(
        Severity.LOW,
        "The exception for {what} expires on {expires}, in {days}",
        "Accepted by {owner}{ticket} ({reason}); it accepts {matched}. After {expires} that "
        "counts again in every report and gate (--fail-on included).",
        "Edit {source}: renew the exception, with a new expires approved again, or remove it",
        "Or fix what it accepts before then: its gaps are listed with the commands that fix "
        "them, its findings with their resources."),
    f"{GapCode.EXCEPTION_NOT_APPLIED}:PUBLIC": GapText(
        Severity.MEDIUM,
        "The exception for {what} does not accept public findings, and matches some",
        "Accepted by {owner}{ticket} ({reason}), without public: true. A public finding is "
        "accepted only by an exception that says so: what was approved for a cross-account "
        "share (a partner account) is not approved for everyone when the grant widens under "
        "the same finding id or resource. These count in every report and gate (--fail-on "
        "public and new-public included): {matched}.",
        "Edit {source}: if access by anyone was approved, add public: true to the exception, "
        "approved again; if not, fix the resource policy",
        "A finding that turned public since it was accepted is also in the changes block "
        "(findings_turned_public)."),
    f"{GapCode.EXCEPTION_NOT_APPLIED}:ANALYZER_TYPE": GapText(
        Severity.MEDIUM,
        "The exception for {what} names no analyzer type, and does not accept all it matches",
        "Accepted by {owner}{ticket} ({reason}). More than one analyzer type is required, "
        "so an exception for this code that names no analyzer_type accepts neither a gap of "
        "the primary type (the external-access analyzer the controls rest on) nor gaps of "
        "more than one other type: which one it was written for is not said. These count in "
        "every report and gate: {matched}.",
        "Edit {source}: add analyzer_type to the exception, naming the type it was approved "
        "for, one exception per type, approved again",
        "Or fix what it matches: the gaps are listed with the commands that fix them."),
    GapCode.NO_DELEGATED_ADMINISTRATOR: GapText(
        Severity.LOW,
        "No delegated administrator is registered for IAM Access Analyzer",
        "Organization analyzers then have to live in the management account; AWS recommends "
        "delegating security tooling to a dedicated account.",
        "aws organizations register-delegated-administrator --account-id "
        "'<security-account-id>' --service-principal access-analyzer.amazonaws.com",
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
class Context:
    """The accounts a gap's wording names (and whether trusted access is on, which picks the
    wording of an analyzer it disabled)."""

    account: str
    admin: str
    admin_role: str
    management: str
    trusted_access: bool | None = None
    # The name the organization gives its analyzers of each type (the name most of its
    # analyzers of that type already have), so a fix creates one that looks like the rest.
    names: Mapping[str, str] = field(default_factory=dict)
    # The analyzer names already used in each region: names are unique per account and
    # region whatever the type, so a fix must not create one under a name taken there.
    taken: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def analyzer_name(self, kind: str, region: str | None = None) -> str:
        """The name a new analyzer of type `kind` gets: the organization's, else ours; where
        that name is taken in `region` (an account analyzer of the same name), the name with
        the type after it, then numbered, so create-analyzer does not fail with
        ConflictException."""
        if kind in self.names:
            name = self.names[kind]
        elif kind == AnalyzerType.ORGANIZATION.value:
            name = DEFAULT_ANALYZER_NAME
        else:
            name = kind.lower().replace("_", "-")
        taken = self.taken.get(region or "", frozenset())
        if name not in taken:
            return name
        base = f"{name}-{kind.lower().replace('_', '-')}"
        candidates = [base, *(f"{base}-{n}" for n in range(2, len(taken) + 3))]
        return next(c for c in candidates if c not in taken)


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:60]


def make_gap(code: GapCode, scope: str, region: str | None, context: Context,
             key: str | None = None, **values: str) -> Gap:
    """The gap `code` (its variant `key`, when given) in GAP_TEXT's wording, filled in with
    the context's accounts and `values`; a placeholder left unnamed is empty."""
    text = GAP_TEXT[key or code]
    kind = values.get("type", AnalyzerType.ORGANIZATION.value)
    fill = {"region": region or "", "account": context.account, "admin": context.admin,
            "admin_role": context.admin_role, "management": context.management,
            "name": context.analyzer_name(kind, region), "type": kind,
            "present": "", "status": "", "reason_text": "", "role_detail": "", "others": "",
            "blocked": "", "why": "", "role_name": "<admin-role>", **values}
    # Names and regions come from AWS: in a command they are shell words, quoted when
    # they are anything but the plain names AWS allows.
    command = {**fill, "name": shlex.quote(fill["name"]), "region": shlex.quote(fill["region"]),
               "role_name": shlex.quote(fill["role_name"]),
               "rules_file": shlex.quote(
                   f"archive-rules-{_file_part(fill['name'])}-{_file_part(fill['region'])}.json")}
    return Gap(scope=scope, region=region, code=code, severity=text.severity,
               title=text.title.format(**fill), detail=text.detail.format(**fill),
               remediation=text.remediation.format(**command),
               remediation_note=text.note.format(**fill),
               blocks_assessment=text.blocks_assessment)


# -- regions not assessed: what makes the next run complete --------------------------------

@dataclass(frozen=True)
class RegionFix:
    """How to make a region that was not assessed assessable: a command and where to run it
    (or what to change), as format strings filled in by `not_assessed_fix`."""

    command: str
    note: str


_EXCLUDE = ("# or, if the region is blocked on purpose, in config/regions.yaml:\nexclude:\n"
            "  {region}: \"<why this region is blocked on purpose, and the ticket>\"")
NOT_ASSESSED_TEXT: dict[str, RegionFix] = {
    # An explicit deny, most often a region-deny SCP: allow the audit role through it, or say
    # in the configuration that the region is out of scope on purpose.
    "ACCESS_DENIED": RegionFix(
        "aws organizations list-policies-for-target --target-id {account} "
        "--filter SERVICE_CONTROL_POLICY\n" + _EXCLUDE,
        "Either change the SCP (or the scanning role's policy) that denies the read-only "
        "calls of config/iam-policy.json in {region}: find it with the first command (run in "
        "the management account {management}; the SCPs of the account's OUs and root apply "
        "too) and exempt the audit role, e.g. with a condition on aws:PrincipalArn. Or, if the "
        "region is blocked on purpose, exclude it in config/regions.yaml with a reason (the "
        "exclude: lines, an excerpt of that file, not a command): it is then listed as "
        "excluded, with the reason, and the next run is complete."),
    "NOT_VISIBLE": RegionFix(
        _SCAN_AS_ADMIN,
        "The accounts examined cannot see every organization analyzer here (see the "
        "organization gap about where the scan ran): scan from account {admin}, the "
        "{admin_role}, or add --admin-role-name to examine both administrator accounts."),
    "ADMIN_ROLE": RegionFix(
        "aws iam get-role --role-name {role_name}",
        "The role {role_name} could not be assumed in the account named in the reason: it "
        "must exist there and trust the account that assumes it; the next run with it "
        "assesses {region}."),
    "TIMEOUT": RegionFix(
        "aa-scan --workers 8",
        "The region did not answer in time: re-run aa-scan (fewer concurrent calls help on a "
        "slow link); if {region} keeps timing out, check the network path to its endpoint."),
    "THROTTLED": RegionFix(
        "aa-scan --workers 8",
        "Still throttled after every retry: re-run aa-scan when other tools are not calling "
        "Access Analyzer in {region}, with fewer concurrent calls."),
    "OTHER": RegionFix(
        "aa-scan --regions {region} --debug",
        "Re-run aa-scan for the region with --debug to see the whole error; if it persists, "
        "exclude the region with a reason (exclude: in config/regions.yaml) so the run is "
        "complete and says why."),
}


def not_assessed_fix(kind: str, region: str, context: Context,
                     role_name: str = "<admin-role>") -> tuple[str, str]:
    """(command, note) that make a region not assessed for reason `kind` (a key of
    NOT_ASSESSED_TEXT) assessed, or excluded with a reason, on the next run."""
    text = NOT_ASSESSED_TEXT.get(kind, NOT_ASSESSED_TEXT["OTHER"])
    fill = {"region": region, "account": context.account, "admin": context.admin,
            "admin_role": context.admin_role, "management": context.management,
            "role_name": role_name}
    command = {**fill, "region": shlex.quote(region), "role_name": shlex.quote(role_name)}
    return text.command.format(**command), text.note.format(**fill)
