"""The checks a scan document answers, one row each, for the formats that list checks rather
than draw a report: OCSF (reports.ocsf), JUnit (reports.junit) and Security Hub.

- every region the scan listed: PASS (covered, or every gap it has bears on no control that
  fails it), FAIL (its gaps), NOT_ASSESSED (an error, with its reason), SKIPPED (not enabled,
  or excluded by the configuration, with the reason);
- every account x region of the member view (--member-accounts), when it ran: PASS, FAIL,
  NOT_ASSESSED (ERROR cells, with the reason); a cell of a region not enabled is no check;
- every organization check (ORGANIZATION_CHECKS, data): trusted access, the organization,
  the delegated administrator, where the scan ran, the organization-wide requirements.

Each row has a `uid` stable from run to run (the organization, the account, the region or
check; never the run id), so a consumer that keys on it sees one evaluation updated, not a
new one each week. The gaps and advisories are the document's own (their wording is the
judge's); this module only sorts them into rows.

Accepted exceptions (issue 23): `acceptance()` is the one place that reads whether a gap was
accepted, and every row keeps an accepted gap apart from the failing ones (`accepted`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from reports.document.controls import Control, mapping
from reports.document.rules import GapCode
from reports.document.schema import ControlRef, Gap, Region, ScanDocument

EvaluationStatus = Literal["PASS", "FAIL", "NOT_ASSESSED", "SKIPPED"]
EvaluationKind = Literal["region", "member", "organization"]

# The region statuses (rules.RegionStatus) and what each is as a check.
_REGION_STATUS: Mapping[str, EvaluationStatus] = {
    "COVERED": "PASS", "GAP": "FAIL", "ERROR": "NOT_ASSESSED", "NOT_ENABLED": "SKIPPED",
    "EXCLUDED": "SKIPPED"}
_MEMBER_CELL: Mapping[str, EvaluationStatus] = {
    "PASS": "PASS", "FAIL": "FAIL", "ERROR": "NOT_ASSESSED"}


@dataclass(frozen=True)
class OrganizationCheck:
    """A check about the organization as a whole, and the gap codes that fail it."""

    key: str
    title: str
    codes: frozenset[str]


ORGANIZATION_CHECKS: tuple[OrganizationCheck, ...] = (
    OrganizationCheck("in-organization", "The scanning account is in an AWS Organization",
                      frozenset({GapCode.NOT_IN_ORGANIZATION})),
    OrganizationCheck("trusted-access", "Trusted access for IAM Access Analyzer is enabled "
                      "in AWS Organizations", frozenset({GapCode.TRUSTED_ACCESS_DISABLED})),
    OrganizationCheck("delegated-administrator", "IAM Access Analyzer has a delegated "
                      "administrator", frozenset({GapCode.NO_DELEGATED_ADMINISTRATOR})),
    OrganizationCheck("vantage", "The scan ran from an account that sees every organization "
                      "analyzer", frozenset({
                          GapCode.SCANNED_FROM_MEMBER_ACCOUNT,
                          GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR,
                          GapCode.ANALYZER_VISIBILITY_UNKNOWN})),
    OrganizationCheck("organization-wide-requirements", "Every organization-wide analyzer "
                      "the configuration requires is ACTIVE",
                      frozenset({GapCode.MISSING_REQUIRED_TYPE})),
)


@dataclass(frozen=True)
class Evaluation:
    """One check of the document and its answer."""

    uid: str  # stable from run to run
    kind: EvaluationKind
    name: str  # the region, or the organization check's key
    title: str  # what is checked
    status: EvaluationStatus
    account_id: str  # whose analyzers (or organization) the check is about
    account_name: str | None
    region: str | None  # None: an organization check
    reason: str = ""  # why NOT_ASSESSED or SKIPPED; the region's detail otherwise
    gaps: tuple[Gap, ...] = ()  # the gaps that fail it
    accepted: tuple[tuple[Gap, str], ...] = ()  # accepted gaps, each with the acceptance
    advisories: tuple[Gap, ...] = ()
    seconds: float | None = None
    # The controls of the mapping the check bears on (a region and a member cell: every
    # control, each evaluated region by region; an organization check: those its codes cite).
    controls: tuple[Control, ...] = field(default=())

    def control_status(self, control: Control) -> EvaluationStatus:
        """The check's answer for one control: a gap fails it only if it cites the control
        (a missing unused-access analyzer fails no external-access control)."""
        if self.status != "FAIL":
            return self.status
        if self.kind == "member":
            return "FAIL"
        return "FAIL" if any(control.cited_by(g.get("controls", [])) for g in self.gaps) \
            else "PASS"


def acceptance(gap: Gap) -> str | None:
    """How a gap was accepted (issue 23: an exception with its reason, owner, expiry and
    ticket), as one line; None when it was not. The one place the other formats read it: the
    `exception` a gap carries once accepted exceptions land in scan.json; until then no gap
    has one and this returns None."""
    exception = cast(Mapping[str, Any], gap).get("exception")
    if not isinstance(exception, Mapping):
        return None
    parts = [f"{key}: {exception[key]}" for key in ("reason", "owner", "expires", "ticket")
             if exception.get(key)]
    return "accepted exception: " + ("; ".join(parts) or "no reason recorded")


def requirement(ref: ControlRef) -> str:
    """A control as a requirement is named where findings are read: "CIS AWS Foundations
    Benchmark v3.0.0/1.20" (Security Hub's own form), "AWS Security Hub/IAM.28"."""
    version = f" v{ref['version']}" if ref["version"] else ""
    return f"{ref['framework']}{version}/{ref['id']}"


def scope_key(document: ScanDocument) -> str:
    """What every uid of a document starts from: its organization (an account outside any
    organization: the account)."""
    organization = document["organization"]["id"]
    return organization or f"account-{document['identity']['account_id']}"


def _split(gaps: list[Gap]) -> tuple[tuple[Gap, ...], tuple[tuple[Gap, str], ...]]:
    failing: list[Gap] = []
    accepted: list[tuple[Gap, str]] = []
    for gap in gaps:
        how = acceptance(gap)
        if how is None:
            failing.append(gap)
        else:
            accepted.append((gap, how))
    return tuple(failing), tuple(accepted)


def _region(document: ScanDocument, region: Region, controls: tuple[Control, ...]
            ) -> Evaluation:
    name = region["region"]
    account = document["identity"]["account_id"]
    names = document["organization"]["accounts"] or {}
    here = [g for g in document["gaps"] if g["scope"] == "region" and g["region"] == name]
    failing, accepted = _split(here)
    status = _REGION_STATUS[region["status"]]
    if status == "FAIL" and not failing:
        status = "PASS"  # every gap of the region is accepted
    reason = region["detail"] if status in ("NOT_ASSESSED", "SKIPPED") else ""
    if status == "SKIPPED" and region["status"] == "EXCLUDED":
        reason = f"excluded: {region['reason'] or 'no reason given'}"
    elif status == "SKIPPED":
        reason = region["detail"] or "not enabled"
    return Evaluation(
        uid=f"aa-scan/{scope_key(document)}/region/{account}/{name}", kind="region",
        name=name, title=f"IAM Access Analyzer covers {name} for the organization",
        status=status, account_id=account, account_name=names.get(account), region=name,
        reason=reason, gaps=failing, accepted=accepted,
        advisories=tuple(a for a in document["advisories"] if a["region"] == name),
        seconds=region["seconds"], controls=controls)


def _members(document: ScanDocument, controls: tuple[Control, ...]) -> Iterator[Evaluation]:
    view = document.get("member_view")
    if view is None:
        return
    scope = scope_key(document)
    for account in view["accounts"]:
        errors = account.get("region_errors") or {}
        for region, cell in sorted(account["regions"].items()):
            status = _MEMBER_CELL.get(cell)
            if status is None:  # NOT_ENABLED: no check
                continue
            error = errors.get(region) or account["error"]
            reason = (f"{error['code']}: {error['message']}" if error else
                      "could not be read") if status == "NOT_ASSESSED" else ""
            yield Evaluation(
                uid=f"aa-scan/{scope}/member/{account['account_id']}/{region}", kind="member",
                name=region, title=f"Account {account['account_id']} owns an ACTIVE external "
                f"access analyzer in {region}", status=status,
                account_id=account["account_id"], account_name=account["name"], region=region,
                reason=reason, controls=controls)


def _organization(document: ScanDocument) -> Iterator[Evaluation]:
    scope = scope_key(document)
    account = document["identity"]["account_id"]
    names = document["organization"]["accounts"] or {}
    organization = document["organization"]
    in_organization = organization["scanning_account_role"] != "NOT_IN_ORGANIZATION"
    not_judged = document["summary"].get("requirements_not_judged") or []
    found = mapping()
    for check in ORGANIZATION_CHECKS:
        gaps = [g for g in document["gaps"] if g["scope"] == "organization"
                and g["code"] in check.codes]
        failing, accepted = _split(gaps)
        status: EvaluationStatus = "FAIL" if failing else "PASS"
        reason = ""
        if not failing and check.key == "trusted-access" and in_organization \
                and organization["trusted_access"] is None:
            status, reason = "NOT_ASSESSED", ("ListAWSServiceAccessForOrganization did not "
                                              "answer: trusted access unknown")
        elif not failing and check.key == "delegated-administrator" and in_organization \
                and organization["delegated_administrators"] is None:
            status, reason = "NOT_ASSESSED", ("ListDelegatedAdministrators did not answer: "
                                              "the delegated administrator is unknown")
        elif not failing and check.key == "organization-wide-requirements" and not_judged:
            status, reason = "NOT_ASSESSED", ("not judged: " + ", ".join(not_judged))
        elif not in_organization and check.key not in ("in-organization", "vantage"):
            status, reason = "SKIPPED", "the scanning account is in no organization"
        cited = tuple(c for c in found.controls if c.gap_codes & check.codes)
        yield Evaluation(
            uid=f"aa-scan/{scope}/organization/{check.key}", kind="organization",
            name=check.key, title=check.title, status=status, account_id=account,
            account_name=names.get(account), region=None, reason=reason, gaps=failing,
            accepted=accepted,
            advisories=tuple(a for a in document["advisories"]
                             if a["scope"] == "organization" and a["code"] in check.codes),
            controls=cited)


def evaluations(document: ScanDocument) -> list[Evaluation]:
    """Every check of the document: the organization checks, the regions (in the
    document's order), then the member view's cells (account by account)."""
    controls = mapping().controls
    return [*_organization(document),
            *(_region(document, r, controls) for r in document["regions"]),
            *_members(document, controls)]
