"""The typed form of scan.json, and loading one from a file.

The TypedDicts mirror `scan.schema.json` (the published JSON Schema): a key the schema
requires is a required key here, so a renderer given a validated document reads
`document["summary"]["verdict"]` without defaults. Keys added after version 1 was published
are `NotRequired`: documents written before them stay valid and readable. (No postponed
annotations here: TypedDict must see NotRequired as a type, not as a string.)
"""

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

from reports.document.archive_rules import ArchiveRuleClass
from reports.document.exceptions import AcceptedBy, AcceptedCounts, ExceptionsBlock
from reports.document.rules import (
    AnalysisValue,
    FindingsScope,
    GapScope,
    MemberCell,
    MemberStatus,
    RegionStatusValue,
    ScanningRoleValue,
    SeverityValue,
    VerdictValue,
)
from reports.document.trail import Changes, FindingAge, TrendPoint

SCHEMA_VERSION = 1
TOOL_NAME = "aa-scan"
FILE_NAME = "scan.json"


class DocumentError(ValueError):
    """A file that is not a readable scan document (missing, corrupt, invalid, too new)."""


class Tool(TypedDict):
    """The aa-scan that wrote the document."""

    name: str
    version: str


class Identity(TypedDict):
    """Who scanned: the caller's account and ARN."""

    account_id: str
    arn: str


class ErrorEntry(TypedDict):
    """A failed call: its error code, message and, when known, the operation."""

    code: str
    message: str
    operation: NotRequired[str]


class Organization(TypedDict):
    """The organization as the scan saw it, and the scanning account's role in it."""

    id: str | None
    management_account_id: str | None
    scanning_account_role: ScanningRoleValue
    scanning_account_role_detail: str
    trusted_access: bool | None
    delegated_administrators: list[str] | None
    accounts: dict[str, str] | None  # account id -> name; None: ListAccounts failed
    errors: list[ErrorEntry]
    # The accounts whose analyzers were listed (the caller first; with --admin-role-name the
    # administrator accounts reached through the role, or why not).
    examined_accounts: NotRequired[list["ExaminedAccount"]]


class ExaminedAccount(TypedDict):
    """An account whose analyzers were listed, and how it was reached."""

    account_id: str
    role: ScanningRoleValue
    via: str  # "caller", or the ARN of the role assumed
    error: ErrorEntry | None


class Timings(TypedDict):
    """How long discovery, the regions and the whole scan took, in seconds."""

    discovery_seconds: float
    regions_seconds: float
    scan_seconds: float


class Discovery(TypedDict):
    """How the regions were listed, and what failed."""

    source: str
    errors: list[ErrorEntry]


class TypeCounts(TypedDict):
    """Active findings of one resource type: active = public + cross_account + errors."""

    active: int
    public: int
    cross_account: int
    errors: int  # could not be analyzed: neither public nor cross-account


class AnalyzerEntry(TypedDict):
    """An analyzer listed in a region."""

    name: str
    arn: str
    type: str
    status: str
    status_reason: str | None
    created_at: str | None
    # Added after version 1: the service principal of a service-linked analyzer (None: the
    # customer's own), and what the type analyzes (a document.rules.Analysis value; unknown
    # for a type newer than the aa-scan that wrote the document).
    managed_by: NotRequired[str | None]
    analysis: NotRequired[AnalysisValue]
    account_id: NotRequired[str | None]  # the owner (from the ARN)


class FindingsAnalyzer(TypedDict):
    """The analyzer a region's findings were read from."""

    name: str
    arn: str
    type: str
    selection: NotRequired[str | None]  # why this one, when the region had several
    account_id: NotRequired[str | None]  # the owner, whose role read the findings


class ArchiveRuleEntry(TypedDict):
    """An archive rule of an analyzer."""

    analyzer_arn: str
    name: str
    filter: dict[str, Any]
    created_at: str | None
    updated_at: str | None


class Region(TypedDict):
    """One region: its status and why, its analyzers, and its active findings counted."""

    region: str
    status: RegionStatusValue
    reason: str | None
    detail: str
    opt_in_status: str | None
    analyzers: list[AnalyzerEntry]
    findings_analyzer: FindingsAnalyzer | None
    findings_scope: FindingsScope | None
    findings_collected: bool
    findings: dict[str, TypeCounts]  # resource type -> counts; {} when not collected
    archived: int | None
    resolved: int | None
    archive_rules: list[ArchiveRuleEntry]
    complete: bool
    error: ErrorEntry | None
    errors: list[ErrorEntry]
    api_calls: int
    seconds: float
    # Added after version 1: for a region not assessed (ERROR), the command and the note
    # that make the next run assess it, or exclude it with a reason; "" otherwise.
    remediation: NotRequired[str]
    remediation_note: NotRequired[str]


class Finding(TypedDict):
    """An external-access finding (ListFindings), as collected."""

    region: str
    analyzer_arn: str
    id: str
    resource_type: str
    resource: str | None
    resource_owner_account: str | None
    principal: dict[str, str]
    action: list[str]
    condition: dict[str, str]
    is_public: bool | None
    status: str
    created_at: str | None
    updated_at: str | None
    analyzed_at: str | None
    error: str | None
    # Added after version 1: the earliest createdAt the history knows for what the finding
    # grants, when older than its own (an analyzer re-created since gave it a new id).
    first_seen_at: NotRequired[str]
    # Added with issue 23: the exception that accepts this (active) finding; absent: none.
    exception: NotRequired[AcceptedBy]


class AnalysisFinding(TypedDict):
    """A finding of an internal-access or unused-access analyzer (ListFindingsV2's summary:
    no principal or action; finding_type says what kind, e.g. UnusedIAMRole)."""

    region: str
    analyzer_arn: str
    id: str
    finding_type: str
    resource_type: str
    resource: str | None
    resource_owner_account: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    analyzed_at: str | None
    error: str | None


class StatusCounts(TypedDict):
    """Findings by status."""

    active: int
    archived: int
    resolved: int


class AccountUnusedAccess(TypedDict):
    """The unused-access findings of one account (GetFindingsStatistics)."""

    account: str
    active: int
    by_finding_type: dict[str, int]


class AnalysisStatistics(TypedDict):
    """GetFindingsStatistics of one analyzer: by_resource_type for internal access;
    by_finding_type and by_account (the accounts with the most) for unused access."""

    active: int | None
    archived: int | None
    resolved: int | None
    by_resource_type: NotRequired[dict[str, StatusCounts]]
    by_finding_type: NotRequired[dict[str, int]]
    by_account: NotRequired[list[AccountUnusedAccess]]


class AnalysisAnalyzer(TypedDict):
    """One ACTIVE internal-access or unused-access analyzer and what was read from it."""

    region: str
    name: str
    arn: str
    type: str
    managed_by: str | None
    statistics: AnalysisStatistics | None  # None: GetFindingsStatistics failed
    findings_collected: bool
    findings_read: int
    errors: list[ErrorEntry]


class AnalysisBlock(TypedDict):
    """`internal_access` or `unused_access`: never part of the external-access counts."""

    analyzers: list[AnalysisAnalyzer]
    findings: list[AnalysisFinding]


class ControlRef(TypedDict):
    """A control of a published framework that a gap or the verdict is evidence for (the
    mapping and its sources: evidence/controls.json)."""

    framework: str
    version: str | None  # None: the framework does not version its controls
    id: str
    title: str


class Gap(TypedDict):
    """A gap or advisory: what is wrong, where, how severe, and the command that fixes it."""

    scope: GapScope
    region: str | None
    code: str  # a document.rules.GapCode value (the schema leaves codes open)
    severity: SeverityValue
    title: str
    detail: str
    remediation: str
    remediation_note: str
    # Added after version 1: the controls this gap bears on: evidence against them, or, for a
    # gap about where the scan ran, what kept them from being assessed ([]: none of them
    # requires what it is about, e.g. an unused-access analyzer the configuration asks for).
    controls: NotRequired[list[ControlRef]]
    # Added after version 1: the analyzer type the gap is about (None: none). With scope,
    # region and code, a gap's identity from run to run.
    analyzer_type: NotRequired[str | None]
    # Added with issue 23: the exception that accepts this gap (absent: none). An accepted
    # gap is still a gap; no --fail-on gate counts it, and the verdict says it rests on it.
    exception: NotRequired[AcceptedBy]


class Summary(TypedDict):
    """The counts, the verdict and whether the scan is complete."""

    regions_total: int
    covered: int
    gaps: int  # regions with a gap (organization gaps are in the document's gaps)
    errors: int  # regions not assessed
    not_enabled: int
    excluded: int
    active_findings: int | None  # None: not collected (coverage only)
    public_findings: int | None
    cross_account_findings: int | None
    verdict: VerdictValue
    complete: bool
    incomplete_reasons: list[str]
    coverage_only: bool
    interrupted: bool
    # Added after version 1: active findings Access Analyzer could not analyze (neither
    # public nor cross-account); None when not collected.
    error_findings: NotRequired[int | None]
    # Added after version 1: the controls the verdict is evidence for.
    controls: NotRequired[list[ControlRef]]
    # Added after version 1: organization-wide requirements this run could not judge.
    requirements_not_judged: NotRequired[list[str]]
    # Added with issue 23: what exceptions accepted (absent: the configuration had none).
    accepted: NotRequired[AcceptedCounts]


class MemberAccount(TypedDict):
    """One account of the member view: its status and each region's cell."""

    account_id: str
    name: str
    status: MemberStatus
    error: ErrorEntry | None  # the role could not be assumed
    regions: dict[str, MemberCell]
    region_errors: NotRequired[dict[str, ErrorEntry]]  # why each ERROR cell


class MemberRemediation(TypedDict):
    """How to give the failing accounts an analyzer of their own."""

    template: str  # CloudFormation: an ACCOUNT analyzer, for a service-managed StackSet
    commands: list[str]
    note: str


class MemberView(TypedDict):
    """The member view (--member-accounts): each account's own analyzers per region."""

    role_name: str
    accounts: list[MemberAccount]
    # accounts (every one, suspended included), pass, fail, error: an assessed account fails
    # if a region FAILs, else errs if one is ERROR, else passes; an account whose role could
    # not be assumed errs. (A dict: "pass" is a Python keyword.)
    summary: dict[str, int]
    error: NotRequired[ErrorEntry | None]  # ListAccounts failed
    remediation: NotRequired[MemberRemediation | None]  # for FAIL cells


# -- derived: what reports.document.derive computes from the rest of the document ----------


class RegionCounts(TypedDict):
    """The regions counted one way for every report (reports.document.scope.region_counts):
    covered "of" the regions assessed, and how many are enabled. Each key's label is
    scope.REGION_COUNT_LABELS[key]."""

    listed: int  # every region the scan listed, whatever its status
    enabled: int  # enabled for the account (excluded ones included when enabled)
    scanned: int  # called: assessed or not assessed
    assessed: int  # covered or with a gap: the denominator of "covered"
    covered: int
    gaps: int  # regions with a gap
    not_assessed: int  # called, but neither coverage nor a gap could be proved
    excluded: int
    not_enabled: int


class Scope(TypedDict):
    """What the scan covers, as the manifest, report.html and report.xlsx state it."""

    accounts: int | None  # accounts in the organization; None: ListAccounts did not answer
    regions_enabled: list[str]
    regions_scanned: list[str]
    regions_not_enabled: list[str]
    regions_excluded: dict[str, str]  # region -> the reason the configuration gives
    coverage_types: list[str]
    finding_statuses: list[str]
    # Added with issue 22: the region counts every report states, with the same labels.
    region_counts: NotRequired[RegionCounts]


class Completeness(TypedDict):
    """Whether the result is complete, why not, and the API calls that made it."""

    complete: bool
    reasons: list[str]
    api_calls: dict[str, int] | None  # None: the document predates per-operation counts


class SourceText(TypedDict):
    """A page a control's mapping was checked against, and what it says."""

    url: str
    publisher: str
    says: str


ControlStatus = Literal["Met", "Not met", "Not determined"]
Tone = Literal["ok", "bad", "warn"]  # as the reports colour verdicts


class ControlAnswer(TypedDict):
    """One control as the reports show it: what it requires and what this scan shows."""

    key: str
    framework: str
    id: str
    title: str
    versions: str  # "1.4.0, 1.5.0" or "" for an unversioned control
    requires: str
    evaluated: str
    status: ControlStatus
    tone: Tone
    answer: list[str]
    per_account: list[str]
    sources: list[SourceText]
    unconfirmed: str
    # Added with issue 22: which reading the status rests on (the member view's per-account
    # result, or the organization-wide analysis alone).
    reading: NotRequired[str]


class ArchiveRuleAssessment(TypedDict):
    """An archive rule classified from its filter (reports.document.archive_rules), with the
    findings its analyzer holds in the region: ARCHIVED and ACTIVE (None: unknown)."""

    region: str
    analyzer_arn: str
    name: str
    classification: ArchiveRuleClass
    why: str
    archived: int | None
    active: int | None


class Derived(TypedDict):
    """Computed from the rest of the document by reports.document.derive, once per run, for
    the reports and the manifest, which only read it. Recomputed whenever a document is
    rendered (a scan.json read back included): never trusted from a file."""

    scope: Scope
    completeness: Completeness
    configuration_sha256: str  # of the document's configuration (scope.canonical_json)
    # The controls the verdict is evidence for: summary.controls, or for a document written
    # before the mapping, every control of it.
    controls: list[ControlRef]
    # How the document answers each control; None for a document written before the mapping
    # (its gaps carry no controls to answer with).
    control_answers: list[ControlAnswer] | None
    # Added after issue 23: every archive rule, classified (absent from a document derived
    # before it).
    archive_rules: NotRequired[list[ArchiveRuleAssessment]]


class ScanDocument(TypedDict):
    """The whole scan document (scan.json)."""

    schema_version: int
    tool: Tool
    started_at: str
    finished_at: str
    identity: Identity
    organization: Organization
    configuration: dict[str, Any]
    timings: Timings
    discovery: Discovery
    regions: list[Region]
    findings: list[Finding]
    gaps: list[Gap]
    advisories: list[Gap]
    summary: Summary
    # Added after version 1 was published: absent from older documents.
    run_id: NotRequired[str]
    changes: NotRequired[Changes]
    trend: NotRequired[list[TrendPoint]]
    finding_age: NotRequired[FindingAge]
    # Added after version 1: logical API calls per operation name ("ListFindings": 12), the
    # query the evidence answers; botocore's retries of a call are not counted again.
    api_calls: NotRequired[dict[str, int]]
    # Added after version 1: the other two analyses of Access Analyzer.
    internal_access: NotRequired[AnalysisBlock]
    unused_access: NotRequired[AnalysisBlock]
    # With --member-accounts: each account's own view (IAM.28), beside the verdict.
    member_view: NotRequired[MemberView]
    # Added with issue 23: the register of exceptions (accepted risk), judged as of the
    # scan's start (absent: the configuration had none).
    exceptions: NotRequired[ExceptionsBlock]
    # Added after version 1: what derive computes for the reports and the manifest (absent
    # from a document that has not been through it: every document the reports render has).
    derived: NotRequired[Derived]


@cache
def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the document."""
    text = (resources.files("reports.document") / "scan.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Any:
    """The schema compiled to Python by fastjsonschema: a 100,000-finding document validates
    in about a second, where jsonschema's interpreter took ten (measured on 20,000 findings
    in one run: 0.46 s against 7.3 s)."""
    import fastjsonschema

    return fastjsonschema.compile(json_schema())


def validate(document: Any) -> ScanDocument:
    """The document, typed, or DocumentError naming the first place it breaks the schema."""
    import fastjsonschema

    try:
        _validator()(document)
    except fastjsonschema.JsonSchemaValueException as error:
        where = "/".join(str(p) for p in error.path[1:]) or "top level"
        message = error.message.removeprefix(error.name or "").strip()
        raise DocumentError(f"not a valid scan document at {where}: {message[:300]}") from None
    return cast(ScanDocument, document)


def load_document(path: Path) -> ScanDocument:
    """Read a scan.json: missing, corrupt, invalid or newer files are one-line errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
                            ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): "
                            f"{exc.msg}") from None
    if not isinstance(document, dict):
        raise DocumentError(f"{path}: not a scan document (expected a JSON object)")
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise DocumentError(f"{path}: schema_version {version} is newer than this aa-scan "
                            f"understands ({SCHEMA_VERSION}); upgrade aa-scan to read it")
    try:
        return validate(document)
    except DocumentError as exc:
        raise DocumentError(f"{path}: {exc}") from None
