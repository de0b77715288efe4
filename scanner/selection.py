"""Which account is scanning, and whose findings are read: rules the collector and the judge
both apply, so each lives once.

The collector asks `scanning_role` which account it runs in before it reaches the other
administrator accounts, and `findings_source` which analyzer's findings to read; the judge
asks the same questions of the collected result, and `findings_selection` says why.
No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.document.rules import ScanningRole

from .model import EXTERNAL_ACCESS_TYPES, Analyzer, AnalyzerType, Identity, OrganizationFacts

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def owns_active_organization_analyzer(analyzers: Iterable[Analyzer]) -> bool:
    """Only the management account or the current delegated administrator can hold one; a
    former administrator keeps its analyzers, FAILED, so only ACTIVE ones are evidence."""
    return any(a.type.startswith("ORGANIZATION") and a.status == "ACTIVE" for a in analyzers)


def scanning_role(identity: Identity, org: OrganizationFacts,
                  analyzers: Iterable[Analyzer] = ()) -> tuple[ScanningRole, str]:
    """Which account ran the scan, with the evidence for it."""
    if org.in_organization is False:
        return (ScanningRole.NOT_IN_ORGANIZATION,
                "Organizations: this account is not in an organization.")
    me = identity.account_id
    management = org.management_account_id
    admins = org.delegated_administrators
    if management is not None and management == me:
        return (ScanningRole.MANAGEMENT,
                "The scanning account is the organization's management account.")
    if admins is not None and me in admins:
        return (ScanningRole.DELEGATED_ADMINISTRATOR,
                "Organizations lists the scanning account as Access Analyzer's delegated "
                "administrator.")
    if management is not None and admins is not None:
        return ScanningRole.MEMBER, ("The scanning account is neither the management account "
                                     "nor Access Analyzer's delegated administrator.")
    owns = owns_active_organization_analyzer(analyzers)
    if management is None:
        error = next((e for e in org.errors if "DescribeOrganization" in e.operation), None)
        detail = f"DescribeOrganization failed: {error}." if error else (
            "DescribeOrganization did not answer.")
        if owns:
            detail += (" The account owns ACTIVE organization analyzers, so it is the "
                       "management account or the delegated administrator.")
        return ScanningRole.UNKNOWN, detail
    if owns:
        return (ScanningRole.DELEGATED_ADMINISTRATOR,
                "Inferred: the account is not the management account and owns ACTIVE "
                "organization analyzers, which only the delegated administrator can have.")
    error = next((e for e in org.errors if "ListDelegatedAdministrators" in e.operation), None)
    if error is not None and error.code in ACCESS_DENIED_CODES:
        return ScanningRole.MEMBER, (
            "Inferred: Organizations refused ListDelegatedAdministrators, which it answers for "
            "the management account and for delegated administrators. If this account is the "
            "delegated administrator, allow organizations:ListDelegatedAdministrators for the "
            "scanning role.")
    return ScanningRole.UNKNOWN, (f"ListDelegatedAdministrators failed: {error}" if error
                                  else "The delegated administrator could not be determined.")


def age_key(analyzer: Analyzer) -> tuple[float, str, str]:
    """Oldest first (an analyzer without a creation time last), then by name and ARN: one
    order whatever order ListAnalyzers returns them in."""
    created = analyzer.created_at.timestamp() if analyzer.created_at else float("inf")
    return created, analyzer.name, analyzer.arn


def findings_source(analyzers: Iterable[Analyzer], prefer: str | None = None
                    ) -> Analyzer | None:
    """Whose findings to read: an ACTIVE organization analyzer, else an account one.

    Exactly one is read, never several added up. With several ACTIVE analyzers of the same
    scope (their archive rules can differ, so their active findings can too), one owned by
    `prefer` (the delegated administrator, when both administrator accounts were examined)
    comes first, then the oldest, then by name: the same analyzer on every run, whatever
    order ListAnalyzers returns them in.
    """
    active = [a for a in analyzers if a.status == "ACTIVE" and a.type in EXTERNAL_ACCESS_TYPES]
    for kind in (AnalyzerType.ORGANIZATION, AnalyzerType.ACCOUNT):
        candidates = [a for a in active if a.type == kind]
        if candidates:
            return min(candidates, key=lambda a: (a.account_id != prefer, *age_key(a)))
    return None


def findings_selection(analyzers: Iterable[Analyzer], source: Analyzer | None,
                       prefer: str | None = None) -> str | None:
    """Why `source` was read, when it was one of several candidates (None when it was not)."""
    if source is None:
        return None
    peers = [a for a in analyzers if a.status == "ACTIVE" and a.type == source.type]
    if len(peers) < 2:
        return None
    created = f", created {source.created_at:%Y-%m-%d %H:%M} UTC" if source.created_at else ""
    owners = sorted({a.account_id or "?" for a in peers})
    if len(owners) > 1:
        why = ("the delegated administrator's" if prefer and source.account_id == prefer
               else "the oldest")
        others = ", ".join(f"{a.name} (account {a.account_id})"
                           for a in sorted(peers, key=age_key) if a is not source)
        return (f"Findings read from {source.name} in account {source.account_id}, {why} of "
                f"{len(peers)} ACTIVE {source.type} analyzers in accounts {', '.join(owners)}"
                f"{created}; not read: {others} (one analyzer's findings, never added up "
                "from two; archive rules can differ between analyzers).")
    others = ", ".join(a.name for a in sorted(peers, key=age_key) if a is not source)
    return (f"Findings read from {source.name}, the oldest of {len(peers)} ACTIVE {source.type} "
            f"analyzers{created}; not read: {others} (archive rules can differ between "
            "analyzers, so their active findings can too).")

