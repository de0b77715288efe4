"""The member view's collection (--member-accounts): every (or each asked-for) account's own
analyzers in every region scanned, as tasks on the scan's pool.

The organization scan (scanner/run.py) starts it once its regions are planned and hands it
`submit`, which runs its calls on the same pool after the organization's in priority; what
it collects is the MemberScan the judge reads (scanner/judge/members.py).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError

from ..aws import ActingCredentials, ClientFactory, error_from, role_credentials
from ..config import Options
from ..model import Analyzer, ApiError, MemberAccount, MemberScan
from .analyzers import list_analyzers
from .organization import account_states
from .tasks import Submit, continuation

if TYPE_CHECKING:
    from mypy_boto3_accessanalyzer import AccessAnalyzerClient
    from mypy_boto3_sts import STSClient

log = logging.getLogger("aa_scan")
# Without --workers, accounts open at once as with 32 workers: every region's lane has an
# account's call waiting while STS assumes the next ones.
WINDOW_WORKERS = 32


@dataclass
class _Member:
    """One account of the member view while its calls run (main thread only)."""

    account_id: str
    name: str
    credentials: Credentials | None = None  # its own, while it is open; dropped when done
    waiting: int = 0  # ListAnalyzers calls not answered yet
    found: dict[str, tuple[Analyzer, ...] | ApiError] = field(default_factory=dict)


def _list_as(acting: ActingCredentials, credentials: Credentials,
             client: AccessAnalyzerClient) -> tuple[tuple[Analyzer, ...], int]:
    """ListAnalyzers through the region's shared client, signed as the member account."""
    with acting.acting_as(credentials):
        return list_analyzers(client)


class MemberCollection:
    """--member-accounts: every (or each asked-for) account's own analyzers in every region
    scanned, as tasks on the scan's pool, after the organization scan's in priority.

    ListAccounts (from the management account when its role was reached), then per account
    an AssumeRole of the member role (paced by a limiter of its own that learns STS's rate;
    the caller's own account and those reached with --admin-role-name use the credentials
    at hand), then one ListAnalyzers per region, paced by the region's limiter. Every
    account is read through one client per region (ActingCredentials: each call is signed
    with its account's own refreshable credentials). At most `window` accounts are open at
    once, so what is held (credentials, queued tasks) stays bounded whatever the size of
    the organization, while enough calls wait in every region to keep its rate used.
    """

    def __init__(self, options: Options, factory: ClientFactory, submit: Submit,
                 regions: list[str], management: ClientFactory,
                 at_hand: dict[str, Credentials]) -> None:
        """`factory`: the caller's; `management`: the management account's (where the accounts
        are listed); `at_hand`: the credentials of the accounts already reached."""
        self.options = options
        self.factory = factory
        self.submit = submit
        self.regions = regions
        self.management = management
        self.at_hand = at_hand
        self.role_name = self.options.aws.member_role_name or ""
        self.window = max(8, 2 * (self.options.workers or WINDOW_WORKERS))
        self.acting = ActingCredentials()
        self.sts: STSClient | None = None
        self.clients: dict[str, AccessAnalyzerClient] = {}
        self.client_errors: dict[str, ApiError] = {}
        self.queue: deque[_Member] = deque()
        self.open = 0
        self.accounts: dict[str, MemberAccount | _Member] = {}
        self.error: ApiError | None = None

    def start(self) -> None:
        """Make the clients (on the main thread) and ask for the accounts."""
        factory = self.factory
        self.sts = factory.paced_sts()
        acting = factory.acting(self.acting)
        for region in self.regions:
            try:
                self.clients[region] = acting.accessanalyzer(region)
            except (BotoCoreError, ValueError) as exc:  # e.g. a name botocore rejects
                self.client_errors[region] = ApiError(*error_from(exc), "botocore:client")
        self.submit((3,), self._on_accounts, "organizations:ListAccounts",
                    partial(account_states, self.management.organizations()))

    def result(self) -> MemberScan:
        """What was collected, once every task has been answered."""
        if self.error is not None:
            return MemberScan(self.role_name, (), self.error)
        done = tuple(a for a in self.accounts.values() if isinstance(a, MemberAccount))
        log.info("member view: %d account(s) through %s", len(done), self.role_name)
        return MemberScan(self.role_name, done)

    def _on_accounts(self, listed: tuple[tuple[str, str, str], ...] | ApiError) -> None:
        if isinstance(listed, ApiError):
            log.warning("member view: cannot list the accounts: %s", listed)
            self.error = listed
            return
        wanted = self.options.aws.member_account_ids()
        known = {account_id: (name, status) for account_id, name, status in listed}
        for account_id in (list(known) if wanted is None else wanted):
            name, status = known.get(account_id, ("", ""))
            if account_id not in known:
                self.accounts[account_id] = MemberAccount(account_id, name, error=ApiError(
                    "AccountNotFound", "not an account of the organization (ListAccounts)",
                    "organizations:ListAccounts"))
            elif status == "SUSPENDED":
                self.accounts[account_id] = MemberAccount(account_id, name, suspended=True)
            else:
                member = _Member(account_id, name, self.at_hand.get(account_id))
                self.accounts[account_id] = member
                self.queue.append(member)
        log.info("member view: %d account(s) to examine through %s", len(self.queue),
                 self.role_name)
        self._open_more()

    def _open_more(self) -> None:
        while self.queue and self.open < self.window:
            member = self.queue.popleft()
            self.open += 1
            if member.credentials is not None:
                self._list(member)
                continue
            arn = f"arn:{self.factory.partition}:iam::{member.account_id}:role/" \
                  f"{self.role_name}"
            assert self.sts is not None  # made by start()
            self.submit((3,), continuation(self._on_assumed, member), "sts:AssumeRole",
                        partial(role_credentials, self.sts, arn, self.options), lane="sts")

    def _on_assumed(self, member: _Member, result: RefreshableCredentials | ApiError) -> None:
        if isinstance(result, ApiError):
            log.debug("member view: %s: %s", member.account_id, result)
            self._close(member, result)
            return
        member.credentials = result
        self._list(member)

    def _list(self, member: _Member) -> None:
        assert member.credentials is not None
        member.waiting = len(self.regions)
        for region in self.regions:
            client = self.clients.get(region)
            if client is None:
                self._on_analyzers(member, region, self.client_errors[region])
                continue
            self.submit(
                (3,), continuation(self._on_analyzers, member, region),
                "access-analyzer:ListAnalyzers",
                partial(_list_as, self.acting, member.credentials, client), lane=region)
        if not self.regions:
            self._close(member)

    def _on_analyzers(self, member: _Member, region: str,
                      result: tuple[tuple[Analyzer, ...], int] | ApiError) -> None:
        member.found[region] = result if isinstance(result, ApiError) else result[0]
        member.waiting -= 1
        if member.waiting == 0:
            self._close(member)

    def _close(self, member: _Member, error: ApiError | None = None) -> None:
        """The account is done: its result is kept, its credentials dropped."""
        self.accounts[member.account_id] = MemberAccount(
            member.account_id, member.name, error=error,
            regions={} if error else {r: member.found[r] for r in self.regions})
        member.credentials = None
        self.open -= 1
        self._open_more()
