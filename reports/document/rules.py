"""The rules every side of the scan document applies the same way, each defined once.

- the values scan.json uses for region statuses, verdicts, severities, roles and gap codes:
  each a Literal type (what a document holds, checked by mypy wherever it is compared) and,
  for the scanner, a StrEnum whose `.value` is of that Literal type;
- how an active finding counts: public, cross-account, or could not be analyzed;
- the resource types every report lists (the classic seven) and their labels;
- which analysis an analyzer type runs (external, internal or unused access, or unknown);
- which characters from AWS are never shown as they are, and how they are shown instead;
- how a time is written (utc_text).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Literal, TypeVar, get_args

# The values of scan.json's closed sets, as its JSON Schema enumerates them. A validated
# document holds plain strings, so the contract (document.schema) types them as Literal; the
# StrEnums below are the same sets for code that builds documents, their `_value_` declared
# so that `.value` is of the Literal type (tests/reports/document/test_contract.py holds each
# enum, Literal and schema enum to one another).
RegionStatusValue = Literal["COVERED", "GAP", "NOT_ENABLED", "EXCLUDED", "ERROR"]
VerdictValue = Literal["COMPLIANT", "NON_COMPLIANT", "INCOMPLETE"]
SeverityValue = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
ScanningRoleValue = Literal["MANAGEMENT", "DELEGATED_ADMINISTRATOR", "MEMBER",
                            "NOT_IN_ORGANIZATION", "UNKNOWN"]
AnalysisValue = Literal["external_access", "internal_access", "unused_access", "unknown"]
GapScope = Literal["organization", "region"]
FindingsScope = Literal["ORGANIZATION", "ACCOUNT"]  # ACCOUNT: an account-scoped analyzer's
MemberStatus = Literal["ASSESSED", "SUSPENDED", "ERROR"]
MemberCell = Literal["PASS", "FAIL", "NOT_ENABLED", "ERROR"]
BaselineSource = Literal["history", "file"]
ClosedStatus = Literal["RESOLVED", "ARCHIVED"]
ComparedWhat = Literal["gaps", "findings"]

GAP_SCOPES: tuple[GapScope, ...] = get_args(GapScope)
FINDINGS_SCOPES: tuple[FindingsScope, ...] = get_args(FindingsScope)
MEMBER_STATUSES: tuple[MemberStatus, ...] = get_args(MemberStatus)
MEMBER_CELLS: tuple[MemberCell, ...] = get_args(MemberCell)
VERDICTS: tuple[VerdictValue, ...] = get_args(VerdictValue)
SEVERITIES: tuple[SeverityValue, ...] = get_args(SeverityValue)
BASELINE_SOURCES: tuple[BaselineSource, ...] = get_args(BaselineSource)
CLOSED_STATUSES: tuple[ClosedStatus, ...] = get_args(ClosedStatus)

_Value = TypeVar("_Value", bound=str)


def one_of(value: str, allowed: tuple[_Value, ...]) -> _Value:
    """`value` as one of `allowed` (a Literal type's values), or ValueError: how a plain string
    from the scanner's model becomes a value of the contract."""
    for candidate in allowed:
        if value == candidate:
            return candidate
    raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")


class RegionStatus(StrEnum):
    """What a region is: covered, a gap, not enabled, excluded, or not assessed (ERROR)."""

    _value_: RegionStatusValue
    COVERED = "COVERED"
    GAP = "GAP"
    NOT_ENABLED = "NOT_ENABLED"
    EXCLUDED = "EXCLUDED"
    ERROR = "ERROR"  # not assessed, with the reason


class Verdict(StrEnum):
    """The organization's verdict."""

    _value_: VerdictValue
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    INCOMPLETE = "INCOMPLETE"


class Severity(StrEnum):
    """The severity of a gap or advisory."""

    _value_: SeverityValue
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"


class ScanningRole(StrEnum):
    """What the scanning account is in the organization."""

    _value_: ScanningRoleValue
    MANAGEMENT = "MANAGEMENT"
    DELEGATED_ADMINISTRATOR = "DELEGATED_ADMINISTRATOR"
    MEMBER = "MEMBER"
    NOT_IN_ORGANIZATION = "NOT_IN_ORGANIZATION"
    UNKNOWN = "UNKNOWN"


class GapCode(StrEnum):
    """The `code` of every gap and advisory in scan.json."""

    # about the organization
    TRUSTED_ACCESS_DISABLED = "TRUSTED_ACCESS_DISABLED"
    NOT_IN_ORGANIZATION = "NOT_IN_ORGANIZATION"
    NO_DELEGATED_ADMINISTRATOR = "NO_DELEGATED_ADMINISTRATOR"
    # about where the scan ran (they hold regions back from being assessed)
    SCANNED_FROM_MEMBER_ACCOUNT = "SCANNED_FROM_MEMBER_ACCOUNT"
    SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR = (
        "SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR")
    ANALYZER_VISIBILITY_UNKNOWN = "ANALYZER_VISIBILITY_UNKNOWN"
    # about a region
    NO_ANALYZER = "NO_ANALYZER"
    ACCOUNT_SCOPE_ONLY = "ACCOUNT_SCOPE_ONLY"
    NOT_ACTIVE = "NOT_ACTIVE"
    MISSING_REQUIRED_TYPE = "MISSING_REQUIRED_TYPE"
    # advisories: what the coverage rests on
    SERVICE_MANAGED_ANALYZER = "SERVICE_MANAGED_ANALYZER"
    UNKNOWN_ANALYZER_TYPE = "UNKNOWN_ANALYZER_TYPE"
    # advisories: an archive rule that can archive public findings unseen
    BROAD_ARCHIVE_RULE = "BROAD_ARCHIVE_RULE"
    # advisories: accepted risk (exceptions) that no longer accepts, or soon will not
    EXCEPTION_EXPIRED = "EXCEPTION_EXPIRED"
    EXCEPTION_EXPIRING = "EXCEPTION_EXPIRING"
    # ... or that matches what it does not accept (a public finding, another analyzer type)
    EXCEPTION_NOT_APPLIED = "EXCEPTION_NOT_APPLIED"


# The reason of a region that was not assessed because the analyzers that would decide it
# are not visible from the scanning account.
NOT_VISIBLE = "OrganizationAnalyzersNotVisible"

# What AWS answers in a region that is not enabled for the account. An enabled opt-in region
# answers the same to a token it does not accept, so a region called NOT_ENABLED for one of
# these (its `reason`), when no region listing said so, is a guess, not a fact.
NOT_ENABLED_CODES = frozenset({"UnrecognizedClientException", "InvalidClientTokenId",
                               "AuthFailure", "OptInRequired"})


def not_enabled_is_known(reason: str | None) -> bool:
    """Whether a region called NOT_ENABLED with this `reason` is known not to be enabled (a
    region listing said so), rather than guessed from an error code: only the former was
    looked at again by the run, so only it can close what an earlier run found there."""
    return reason not in NOT_ENABLED_CODES

# Analyses of identities rather than of resources: one ACTIVE analyzer, in any region,
# covers the whole organization (the IAM User Guide, creating an unused access analyzer).
ORGANIZATION_WIDE_TYPES = frozenset({"ORGANIZATION_UNUSED_ACCESS"})

# -- counting --------------------------------------------------------------------------------

Access = Literal["public", "cross_account", "errors"]


def access_of(is_public: bool | None, error: str | None) -> Access:
    """What one active finding counts as. A finding Access Analyzer could not analyze
    (error set) is neither public nor cross-account, whatever its isPublic says."""
    if error:
        return "errors"
    return "public" if is_public else "cross_account"


# -- analyses ---------------------------------------------------------------------------------


class Analysis(StrEnum):
    """What an analyzer type analyzes (the `analysis` of an analyzer in scan.json)."""

    _value_: AnalysisValue
    EXTERNAL_ACCESS = "external_access"
    INTERNAL_ACCESS = "internal_access"
    UNUSED_ACCESS = "unused_access"
    UNKNOWN = "unknown"  # a type newer than this version: listed, never read


_ANALYSES: Mapping[str, Analysis] = {
    "ACCOUNT": Analysis.EXTERNAL_ACCESS, "ORGANIZATION": Analysis.EXTERNAL_ACCESS,
    "ACCOUNT_INTERNAL_ACCESS": Analysis.INTERNAL_ACCESS,
    "ORGANIZATION_INTERNAL_ACCESS": Analysis.INTERNAL_ACCESS,
    "ACCOUNT_UNUSED_ACCESS": Analysis.UNUSED_ACCESS,
    "ORGANIZATION_UNUSED_ACCESS": Analysis.UNUSED_ACCESS,
}
ANALYSIS_LABELS: Mapping[Analysis, str] = {
    Analysis.EXTERNAL_ACCESS: "external access", Analysis.INTERNAL_ACCESS: "internal access",
    Analysis.UNUSED_ACCESS: "unused access",
    Analysis.UNKNOWN: "unknown type (newer than this aa-scan)",
}
# The finding types of an unused-access analyzer, in the order the reports list them.
UNUSED_FINDING_TYPES: tuple[str, ...] = (
    "UnusedIAMRole", "UnusedIAMUserAccessKey", "UnusedIAMUserPassword", "UnusedPermission")


def analysis_of(analyzer_type: str) -> Analysis:
    """What an analyzer type analyzes (UNKNOWN for a type newer than this aa-scan)."""
    return _ANALYSES.get(analyzer_type, Analysis.UNKNOWN)


# -- resource types --------------------------------------------------------------------------

# Listed in every report, with zeros where there is nothing: the types Access Analyzer has
# analyzed from the start. Newer types appear wherever findings of them exist.
CLASSIC_RESOURCE_TYPES: tuple[str, ...] = (
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
)
TYPE_LABELS: Mapping[str, str] = {
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::IAM::Role": "IAM role",
    "AWS::KMS::Key": "KMS key",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::Lambda::LayerVersion": "Lambda layer",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::SecretsManager::Secret": "Secrets Manager secret",
    "AWS::EFS::FileSystem": "EFS file system",
    "AWS::EC2::Snapshot": "EBS snapshot",
    "AWS::ECR::Repository": "ECR repository",
    "AWS::RDS::DBSnapshot": "RDS snapshot",
    "AWS::RDS::DBClusterSnapshot": "RDS cluster snapshot",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::S3Express::DirectoryBucket": "S3 directory bucket",
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::Stream": "DynamoDB stream",
    "AWS::IAM::User": "IAM user",
}


def type_label(resource_type: str) -> str:
    """A resource type as people read it ("S3 bucket"); an unlabelled type as it is."""
    return TYPE_LABELS.get(resource_type, resource_type)


# -- hostile text ----------------------------------------------------------------------------

# Characters that control a terminal, end a log line, are invisible, or reorder the text
# around them (bidi overrides and isolates, zero-width marks, soft hyphen, line and paragraph
# separators), lone surrogates (a JSON escape can carry one, UTF-8 cannot) and the
# non-characters: shown as [U+XXXX] wherever a person reads text from AWS, so a hostile name
# can neither hide, spoof nor inject. Tab, line feed and carriage return stay in text that
# may span lines (a page, a wrapped cell); one-line text shows them too.
_UNSAFE = ("\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
           "\u2060-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff")
UNSAFE = re.compile(f"[{_UNSAFE}]")
UNSAFE_ONE_LINE = re.compile(f"[\t\n\r{_UNSAFE}]")


def _marker(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def reveal(text: str) -> str:
    """Text as a person may see it: every unsafe character shown as [U+XXXX]."""
    return UNSAFE.sub(_marker, text)


def one_line(text: str) -> str:
    """reveal(), and tab, line feed and carriage return too: text for a log line, a terminal
    table cell or a one-line message, which a value from AWS must not break into two."""
    return UNSAFE_ONE_LINE.sub(_marker, text)


# The exclusion reason of a region discovery lists that the configured region list leaves
# out (listed, never dropped; the terminal folds them into one line).
UNSELECTED = "not in the configured region list (regions: / --regions)"


def member_outcome(status: str, cells: Iterable[str]) -> str:
    """An account's one answer in the member view (scan.json member_view.accounts[]): its
    status when it was not examined (SUSPENDED, ERROR); else FAIL if a region failed, ERROR
    if one could not be read, PASS if one passed, and NO REGION when no enabled region was
    examined (then it met nothing)."""
    if status != "ASSESSED":
        return status
    values = set(cells)
    return ("FAIL" if "FAIL" in values else "ERROR" if "ERROR" in values else
            "PASS" if "PASS" in values else "NO REGION")


# The member view's summary key of each outcome; the others are counted in none.
MEMBER_SUMMARY_KEYS = {"PASS": "pass", "FAIL": "fail", "ERROR": "error"}


def utc_text(moment: dt.datetime) -> str:
    """A moment as the scan document (and everything written beside it) writes time:
    'YYYY-MM-DDTHH:MM:SSZ', in UTC, to the second; a naive datetime is taken as UTC."""
    if moment.tzinfo is not dt.UTC:
        moment = (moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None
                  else moment.astimezone(dt.UTC))
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 (an f-string: 2.4x slower)
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def grant_fingerprint(resource: str | None, owner: str | None, principal: object, action: object,
                condition: object, is_public: bool | None) -> bytes:
    """A stable 16-byte digest of what a finding grants, independent of its id: what the
    history matches findings on, and (hex) the OCSF detection uid. (repr() of plain values:
    deterministic, C-speed. Stored in histories: never change it.)"""
    text = repr((resource, owner, _items(principal),
                 sorted(action) if isinstance(action, list) else action,
                 _items(condition), is_public))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _items(mapping: object) -> object:
    return sorted(mapping.items()) if isinstance(mapping, dict) else mapping
