"""The typed blocks the audit trail (scanner.history) adds to a scan document: `changes` (what
changed since the baseline run), `trend` (the recorded runs) and `finding_age`. Part of the
contract in document.schema, which declares them in ScanDocument; all were added after
version 1 was published, so older documents have none of them. (No postponed annotations
here, as in document.schema.)
"""

from typing import Any, NotRequired, TypedDict

from reports.document.rules import (
    BaselineSource,
    ClosedStatus,
    ComparedWhat,
    GapScope,
    SeverityValue,
    VerdictValue,
)


class Baseline(TypedDict):
    """The run this one is compared with, and where it came from."""

    run_id: str
    started_at: str
    source: BaselineSource
    # Added after version 1: the SHA-256 of the baseline's scan.json, when known (the one it
    # wrote, or the file imported or given): what anchors it to its evidence pack.
    scan_json_sha256: NotRequired[str | None]


class RegionChange(TypedDict):
    """A region whose status changed since the baseline."""

    region: str
    before: str | None  # a region status; None: not in that run's list
    after: str | None
    before_reason: str | None
    after_reason: str | None


class UnknownRegion(TypedDict):
    """A region whose gaps or findings were not compared, and why."""

    region: str
    reason: str
    # Added after version 1: which of the two were compared (absent: neither).
    gaps_compared: NotRequired[bool]
    findings_compared: NotRequired[bool]


class GapChange(TypedDict):
    """A gap opened or closed since the baseline."""

    scope: GapScope
    region: str | None
    code: str
    severity: SeverityValue
    title: str
    analyzer_type: NotRequired[str | None]
    # Added with issue 23: the exception that accepts it now (an opened gap; the new-gaps
    # gate does not count it), or that accepted it in the baseline (no longer accepted).
    exception: NotRequired[str]


class NewFinding(TypedDict):
    """An active finding the baseline did not have."""

    region: str
    id: str
    resource_type: str
    resource: str | None
    is_public: bool | None
    # Added with issue 23: the exception that accepts it (now), or that accepted it in the
    # baseline (findings no longer accepted).
    exception: NotRequired[str]


class ExceptionChange(TypedDict):
    """An exception added, removed, expired or changed since the baseline (its key, and its
    owner and expiry now, or in the baseline for one removed)."""

    key: str
    owner: str
    expires: str
    ticket: str | None
    expires_before: NotRequired[str]  # changed: its expiry in the baseline
    owner_before: NotRequired[str]
    # changed: whether it accepted public findings in the baseline (`public: true` came
    # or went; present only then)
    public_before: NotRequired[bool]


class ExceptionChanges(TypedDict):
    """What changed in the register since the baseline, and what it no longer accepts: a
    gap or public finding accepted in the baseline and not now (its exception expired or
    was removed) is a regression for the new-* gates, though it is not new."""

    added: list[ExceptionChange]
    removed: list[ExceptionChange]
    expired: list[ExceptionChange]  # not expired in the baseline, expired now
    changed: list[ExceptionChange]  # renewed, another owner or reason, public: true or not
    gaps_no_longer_accepted: list[GapChange]
    findings_no_longer_accepted: list[NewFinding]


class ClosedFinding(TypedDict):
    """An active finding of the baseline no longer active."""

    region: str
    id: str
    resource_type: str
    resource: str | None
    status_now: ClosedStatus | None  # when collected; None: no longer listed
    # The history's fingerprint of what it granted (rules.grant_fingerprint, hex): the OCSF
    # uid a SIEM holds it under, so it can be closed there too.
    grant: NotRequired[str]


class ChangedFinding(TypedDict):
    """An active finding whose state changed under the same id."""

    region: str
    id: str
    resource_type: str
    resource: str | None
    is_public: bool
    was_public: bool
    fields: list[str]  # is_public, principal, action, condition, resource, ..., updated_at
    before: dict[str, Any]  # the values of `fields` before, and after
    after: dict[str, Any]
    # When what it grants changed: the fingerprint before (hex), an OCSF uid now superseded.
    grant_before: NotRequired[str]


class ChangedGap(TypedDict):
    """A gap open in both runs whose title or severity changed."""

    scope: GapScope
    region: str | None
    code: str
    severity: SeverityValue
    title: str
    analyzer_type: str | None
    severity_before: str
    title_before: str
    escalated: bool  # the severity rose: the new-gaps gate counts it


class ComparedWith(TypedDict):
    """A region compared with a run older than the baseline: the latest that knew it."""

    region: str  # or "organization", for an organization check
    what: ComparedWhat
    run_id: str
    started_at: str
    analyzer_type: NotRequired[str]  # for gaps: the type (or organization check) compared


class Requirement(TypedDict):
    """The configured coverage types before and after, when they changed."""

    before: list[str] | None
    after: list[str] | None


class NotCompared(TypedDict):
    """What this run holds that could not be compared (the new-* gates count it as new)."""

    gaps: int
    public_findings: int | None


class Changes(TypedDict):
    """What changed since the baseline run (the history's changes block)."""

    baseline: Baseline | None  # None: the first recorded run (or see history_error)
    regions: list[RegionChange]  # only regions whose status changed
    unknown: list[UnknownRegion]  # regions whose gaps or findings were not compared
    gaps_opened: list[GapChange]
    gaps_closed: list[GapChange]
    findings_new: list[NewFinding]
    findings_closed: list[ClosedFinding]
    counts: dict[str, int]
    # Added after version 1 (absent from older documents).
    gaps_changed: NotRequired[list["ChangedGap"]]  # open in both runs, retitled or re-rated
    findings_changed: NotRequired[list[ChangedFinding]]
    compared_with: NotRequired[list[ComparedWith]]  # regions compared with an older run
    requirement: NotRequired[Requirement | None]  # None: unchanged
    not_compared: NotRequired[NotCompared]  # what the new-* gates count as new
    history_error: NotRequired[str | None]  # the history could not be read or written
    # Added with issue 23: the register of exceptions since the baseline (absent: neither
    # run had exceptions).
    exceptions: NotRequired[ExceptionChanges]


class TrendPoint(TypedDict):
    """One recorded run in the trend."""

    run_id: str
    started_at: str
    verdict: VerdictValue
    complete: bool
    regions_total: int
    covered: int
    gaps: int
    errors: int
    active_findings: int | None
    public_findings: int | None


class OldestPublic(TypedDict):
    """The oldest active public finding."""

    region: str
    id: str
    resource_type: str
    resource: str | None
    created_at: str | None
    age_days: float
    first_seen_at: NotRequired[str | None]  # the grant's earliest createdAt, when older


class TimeToResolve(TypedDict):
    """How long resolved findings took to resolve, in days."""

    resolved: int
    median_days: float
    p90_days: float
    by_type: dict[str, dict[str, float]]


class FindingAge(TypedDict):
    """The active findings by age, and the time to resolve."""

    as_of: str
    buckets: list[str]
    by_type: dict[str, dict[str, int]]  # resource type -> bucket -> active findings
    total: dict[str, int]
    unknown_age: int
    oldest_public: OldestPublic | None
    time_to_resolve: TimeToResolve | None
    # Added with issue 22: the active public findings among them, by age bucket.
    public: NotRequired[dict[str, int]]
