"""The data model every stage shares: what was collected (frozen dataclasses) and the enums.

The enums whose values appear in scan.json (region status, verdict, severity, scanning role,
gap codes) belong to the contract and live in document.rules.

Collectors turn AWS pages into these objects and nothing past a collector sees a boto3
response. A failed call is data too (`ApiError`), so the judge can say what could not be
assessed and why.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reports.document import schema

ACCESS_ANALYZER_PRINCIPAL = "access-analyzer.amazonaws.com"
# What a region name looks like (us-east-1, ap-southeast-5, eusc-de-east-1 ...).
REGION_NAME = re.compile(r"^[a-z]{2,}(-[a-z]+)+-\d{1,2}$")


class AnalyzerType(StrEnum):
    ACCOUNT = "ACCOUNT"
    ORGANIZATION = "ORGANIZATION"
    ACCOUNT_UNUSED_ACCESS = "ACCOUNT_UNUSED_ACCESS"
    ORGANIZATION_UNUSED_ACCESS = "ORGANIZATION_UNUSED_ACCESS"
    ACCOUNT_INTERNAL_ACCESS = "ACCOUNT_INTERNAL_ACCESS"
    ORGANIZATION_INTERNAL_ACCESS = "ORGANIZATION_INTERNAL_ACCESS"

    @property
    def account_counterpart(self) -> AnalyzerType | None:
        """The account-scoped type with the same kind of analysis, for an organization type."""
        if self.value.startswith("ORGANIZATION"):
            return AnalyzerType(self.value.replace("ORGANIZATION", "ACCOUNT", 1))
        return None


# Types whose findings are external access (ListFindings, public / cross-account).
EXTERNAL_ACCESS_TYPES = frozenset({AnalyzerType.ORGANIZATION, AnalyzerType.ACCOUNT})


class RegionSource(StrEnum):
    """Where the list of enabled regions came from."""

    ACCOUNT_LIST_REGIONS = "account:ListRegions"
    EC2_DESCRIBE_REGIONS = "ec2:DescribeRegions"
    BOTOCORE = "botocore (enablement unknown)"


@dataclass(frozen=True, slots=True)
class ApiError:
    """A call that failed: the AWS error code and message, and which call it was."""

    code: str
    message: str
    operation: str = ""

    def __str__(self) -> str:
        where = f" ({self.operation})" if self.operation else ""
        return f"{self.code}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class Identity:
    account_id: str
    arn: str


@dataclass(frozen=True)
class OrganizationFacts:
    """What Organizations told us; None where the call failed (the error says why)."""

    in_organization: bool | None
    organization_id: str | None = None
    management_account_id: str | None = None
    trusted_services: frozenset[str] | None = None
    delegated_administrators: tuple[str, ...] | None = None
    accounts: Mapping[str, str] | None = None  # account id -> name
    errors: tuple[ApiError, ...] = ()

    @property
    def trusted_access(self) -> bool | None:
        if self.trusted_services is None:
            return None
        return ACCESS_ANALYZER_PRINCIPAL in self.trusted_services


@dataclass(frozen=True, slots=True)
class RegionAvailability:
    region: str
    enabled: bool | None  # None: could not be determined
    opt_in_status: str | None  # as the source reported it


@dataclass(frozen=True)
class RegionDiscovery:
    source: RegionSource
    regions: tuple[RegionAvailability, ...]
    errors: tuple[ApiError, ...] = ()


@dataclass(frozen=True, slots=True)
class Analyzer:
    name: str
    arn: str
    type: str  # an AnalyzerType value, or a newer type this version does not know
    status: str
    status_reason: str | None = None
    created_at: dt.datetime | None = None
    # A service-linked analyzer's manager (a service principal, managedBy); None: the
    # customer's own.
    managed_by: str | None = None

    @property
    def account_id(self) -> str | None:
        """The owning account, from the ARN (arn:aws:access-analyzer:REGION:ACCOUNT:...)."""
        parts = self.arn.split(":", 5)
        return parts[4] if len(parts) > 5 and parts[4] else None


# A finding is the record scan.json writes (document.schema.Finding: its keys, times as UTC
# text), built once by the collector and never converted again: the model's one exception
# to frozen dataclasses, for the hundred thousand of them. Treat it as read-only.
Finding = schema.Finding


@dataclass(frozen=True, slots=True)
class ArchiveRule:
    analyzer_arn: str
    name: str
    filter: Mapping[str, Mapping[str, object]]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TypeStatistics:
    active_public: int
    active_cross_account: int
    active_errors: int


@dataclass(frozen=True)
class FindingsStatistics:
    active: int | None
    archived: int | None
    resolved: int | None
    by_type: Mapping[str, TypeStatistics] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusCounts:
    active: int
    archived: int
    resolved: int


@dataclass(frozen=True, slots=True)
class AccountUnusedAccess:
    """One of the accounts with the most active unused-access findings (topAccounts)."""

    account: str
    active: int
    by_finding_type: Mapping[str, int]


@dataclass(frozen=True)
class AnalysisStatistics:
    """GetFindingsStatistics of an internal-access or unused-access analyzer: totals, and
    per resource type (internal) or per finding type and top account (unused)."""

    active: int | None
    archived: int | None
    resolved: int | None
    by_resource_type: Mapping[str, StatusCounts] = field(default_factory=dict)
    by_finding_type: Mapping[str, int] = field(default_factory=dict)
    by_account: tuple[AccountUnusedAccess, ...] = ()


# A finding of an internal-access or unused-access analyzer, as scan.json writes it.
AnalysisFinding = schema.AnalysisFinding


@dataclass(frozen=True)
class AnalysisScan:
    """What was read from one ACTIVE internal-access or unused-access analyzer."""

    analyzer: Analyzer
    statistics: AnalysisStatistics | None = None
    findings: tuple[AnalysisFinding, ...] = ()
    findings_collected: bool = False
    errors: tuple[ApiError, ...] = ()
# `ExaminedAccount.via` of the account whose credentials the scan runs with.
CALLER = "caller"


@dataclass(frozen=True, slots=True)
class ExaminedAccount:
    """An account whose analyzers the scan lists: the caller's own, or one reached through
    --admin-role-name (`via` is then the role ARN; `error` why it could not be assumed)."""

    account_id: str
    role: str  # a document.rules.ScanningRole value: what this account is in the organization
    via: str  # CALLER, or the ARN of the role assumed to reach it
    error: ApiError | None = None


@dataclass(frozen=True, slots=True)
class AccountListing:
    """ListAnalyzers in one region of an examined account other than the caller."""

    account_id: str
    error: ApiError | None = None  # None: listed (its analyzers are in RegionScan.analyzers)


@dataclass(frozen=True)
class MemberAccount:
    """One account of the member view: its own analyzers per region, or why not."""

    account_id: str
    name: str
    suspended: bool = False  # listed as SUSPENDED: not examined
    error: ApiError | None = None  # the role could not be assumed
    # Scanned region -> the account's own analyzers there, or the error ListAnalyzers gave.
    regions: Mapping[str, tuple[Analyzer, ...] | ApiError] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberScan:
    """The member view (--member-accounts): each account's own analyzers, region by region."""

    role_name: str
    accounts: tuple[MemberAccount, ...] = ()
    error: ApiError | None = None  # ListAccounts failed: no account could be listed


@dataclass(frozen=True)
class RegionScan:
    """Everything collected in one region (or why it was not collected)."""

    region: str
    availability: RegionAvailability | None
    excluded_reason: str | None = None
    # Every examined account's analyzers in the region (each knows its account_id); None:
    # none could be listed (see analyzers_error, the caller's own listing's error).
    analyzers: tuple[Analyzer, ...] | None = None
    analyzers_error: ApiError | None = None
    listings: tuple[AccountListing, ...] = ()  # the other examined accounts' ListAnalyzers
    findings_analyzer: Analyzer | None = None
    findings: tuple[Finding, ...] = ()
    findings_collected: bool = False
    findings_errors: tuple[ApiError, ...] = ()
    statistics: FindingsStatistics | None = None
    archive_rules: tuple[ArchiveRule, ...] = ()
    api_calls: int = 0
    seconds: float = 0.0
    # Internal-access and unused-access analyzers (never part of the external counts).
    analyses: tuple[AnalysisScan, ...] = ()

    @property
    def scanned(self) -> bool:
        return self.analyzers is not None or self.analyzers_error is not None


@dataclass(frozen=True)
class ScanResult:
    """The whole collection: the input of the judge."""

    started_at: dt.datetime
    finished_at: dt.datetime
    identity: Identity
    organization: OrganizationFacts
    discovery: RegionDiscovery
    regions: tuple[RegionScan, ...]
    coverage_types: tuple[str, ...]
    finding_statuses: tuple[str, ...]
    coverage_only: bool
    interrupted: bool = False
    # The accounts examined (the caller first); more than the caller only with
    # --admin-role-name. Empty: a result built before there was a choice.
    examined: tuple[ExaminedAccount, ...] = ()
    members: MemberScan | None = None  # with --member-accounts
    discovery_seconds: float = 0.0  # identity, organization and region discovery
    regions_seconds: float = 0.0  # every region, analyzers and findings
    # Logical API calls per operation name (aws.CallCounter); empty when not counted.
    api_calls: Mapping[str, int] = field(default_factory=dict)

    @property
    def admin_roles_used(self) -> bool:
        """Whether another account was examined (or tried) through --admin-role-name."""
        return any(e.via != CALLER for e in self.examined)
