"""What the judge decides, as frozen dataclasses: a gap, a region's verdict, the member view
and the whole judgement (scanner/document.py turns them into the scan document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reports.document.exceptions import Acceptance
from reports.document.rules import GapCode, RegionStatus, ScanningRole, Severity, Verdict

from ..model import ApiError


@dataclass(frozen=True)
class Gap:
    """A gap or an advisory, worded: about the organization or one region."""

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
    # on depends on it (reports.document.controls).
    analyzer_type: str | None = None
    # False for a gap the controls do not ask about: an account-scoped analyzer in an account
    # outside any organization is what the per-account controls (CIS, IAM.28, the AWS Config
    # rule) ask for; the organization-scope requirement it misses is aa-scan's, not theirs.
    bears_on_controls: bool = True
    # The key of the exception that accepts the gap (None: not accepted): an accepted gap is
    # still a gap, shown as accepted, and no gate counts it.
    accepted_by: str | None = None


@dataclass(frozen=True)
class RegionVerdict:
    """One region's verdict, with why, and its gaps."""

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
    # A region not assessed (ERROR): the command and the note that make the next run assess
    # it, or exclude it with a reason (judge.text.NOT_ASSESSED_TEXT); empty otherwise.
    remediation: str = ""
    remediation_note: str = ""


@dataclass(frozen=True)
class Judgement:
    """Everything the judge decided about one scan."""

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
    # What the configuration's exceptions accept, judged as of the scan's start (None: the
    # configuration has none).
    acceptance: Acceptance | None = None


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
    """The member view: each account's own verdicts, the counts, and how to fix the FAIL
    cells (a StackSet's template and commands)."""

    role_name: str
    accounts: tuple[MemberVerdict, ...]
    summary: Mapping[str, int]  # accounts, pass, fail, error
    error: ApiError | None  # the accounts could not be listed
    remediation_template: str | None  # for FAIL cells: a StackSet's template ...
    remediation_commands: tuple[str, ...]  # ... and the commands that deploy it
    remediation_note: str
