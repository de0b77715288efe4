"""Where the scan ran and what it can see from there: whether a missing organization
analyzer is a gap or only invisible from the scanning account, which administrator accounts
were examined (--admin-role-name), and the gap that says why regions were held back.

Which account is scanning is decided in scanner/selection.py (the collector needs it too).
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.document.rules import GapCode, ScanningRole

from ..model import CALLER, Analyzer, ApiError, Identity, OrganizationFacts, RegionScan, ScanResult
from ..selection import owns_active_organization_analyzer
from .text import Context


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


def context_of(identity: Identity, org: OrganizationFacts) -> Context:
    """The accounts the gaps' wording names, from what Organizations said (placeholders for
    what it did not)."""
    admins = org.delegated_administrators or ()
    management = org.management_account_id or "<management-account-id>"
    if admins:
        return Context(identity.account_id, admins[0], "delegated administrator", management)
    if org.management_account_id:
        return Context(identity.account_id, management, "management account", management)
    return Context(identity.account_id, "<delegated-administrator-account-id>",
                   "delegated administrator", management)


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


def unreached_accounts(result: ScanResult) -> str | None:
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


def unlisted_accounts(scan: RegionScan, result: ScanResult) -> str | None:
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


def admin_role_name(result: ScanResult) -> str:
    """The role name of --admin-role-name, as the examined accounts were reached through it."""
    via = next((e.via for e in result.examined if e.via != CALLER), "")
    return via.rsplit("/", 1)[-1] or "<admin-role>"


# The gap of where the scan ran, for a scanning account that cannot see every organization
# analyzer (an account whose role is unknown: ANALYZER_VISIBILITY_UNKNOWN).
VISIBILITY_GAPS = {
    ScanningRole.MEMBER: GapCode.SCANNED_FROM_MEMBER_ACCOUNT,
    ScanningRole.MANAGEMENT: GapCode.SCANNED_FROM_MANAGEMENT_WITH_DELEGATED_ADMINISTRATOR}


def visibility_gap(role: ScanningRole, admins: tuple[str, ...], absence_conclusive: bool
                   ) -> GapCode | None:
    """The organization gap that explains why analyzers may be invisible from here."""
    if role == ScanningRole.MEMBER:
        return VISIBILITY_GAPS[role]
    if role == ScanningRole.MANAGEMENT and admins:
        return VISIBILITY_GAPS[role]
    if role not in (ScanningRole.NOT_IN_ORGANIZATION,) and not absence_conclusive:
        return GapCode.ANALYZER_VISIBILITY_UNKNOWN
    return None
