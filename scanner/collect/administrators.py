"""--admin-role-name: reach the accounts where organization analyzers can live (the management
account and the delegated administrator) through a role, from whichever the caller is.

A role that cannot be assumed is recorded, not raised: the regions that needed it are
judged not assessed, with why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from reports.document.rules import ScanningRole

from ..aws import ClientFactory, attempt
from ..model import CALLER, ApiError, ExaminedAccount, Identity, OrganizationFacts
from ..selection import scanning_role
from .organization import (
    OrganizationAnswers,
    accounts,
    delegated_administrators,
    describe_organization,
    organization_facts,
    trusted_services,
)

log = logging.getLogger("aa_scan")


@dataclass
class Administrators:
    """What reaching the administrator accounts gave: the organization as the management
    account answers it (when reached from a member), every account examined (the caller
    first, then each hop, reached or why not) and the clients of those reached."""

    organization: OrganizationFacts
    examined: list[ExaminedAccount] = field(default_factory=list)
    reached: dict[str, ClientFactory] = field(default_factory=dict)


def reach_administrators(factory: ClientFactory, identity: Identity,
                         organization: OrganizationFacts, role_name: str) -> Administrators:
    """Assume `role_name` into the management account and the delegated administrator,
    whichever the caller is not. From a member: into the management account, whose answers
    then stand for the organization's (a member may not list the delegated administrators),
    and from there into the delegated administrator (role chaining)."""
    role, _ = scanning_role(identity, organization)
    me = identity.account_id
    out = Administrators(organization, [ExaminedAccount(me, role.value, CALLER)])
    partition = factory.partition

    def hop(source: ClientFactory, account: str, as_role: ScanningRole
            ) -> ClientFactory | None:
        arn = f"arn:{partition}:iam::{account}:role/{role_name}"
        reached = attempt("sts:AssumeRole", partial(source.assume, arn))
        if isinstance(reached, ApiError):
            log.warning("cannot examine account %s (%s): %s", account, as_role.value,
                        reached)
            out.examined.append(ExaminedAccount(account, as_role.value, arn, reached))
            return None
        log.info("examining account %s (%s) through %s", account, as_role.value, arn)
        out.examined.append(ExaminedAccount(account, as_role.value, arn))
        out.reached[account] = reached
        return reached

    management = organization.management_account_id
    if management is None:
        return out  # no account known to hop to: the caller's view alone
    source: ClientFactory | None = factory
    if role != ScanningRole.MANAGEMENT:
        source = hop(factory, management, ScanningRole.MANAGEMENT)
        if source is not None and role != ScanningRole.DELEGATED_ADMINISTRATOR:
            out.organization = _organization_from(source)
        if role == ScanningRole.DELEGATED_ADMINISTRATOR:
            return out
    for admin in out.organization.delegated_administrators or ():
        if admin != me and source is not None:
            hop(source, admin, ScanningRole.DELEGATED_ADMINISTRATOR)
    return out


def _organization_from(management: ClientFactory) -> OrganizationFacts:
    """The four Organizations answers, asked again from the management account."""
    org = management.organizations()
    return organization_facts(OrganizationAnswers(
        describe_organization(org), trusted_services(org), delegated_administrators(org),
        accounts(org)))
