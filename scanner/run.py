"""The scan driver: one bounded thread pool, one task per API page, regions concurrently.

The main thread owns all state. Workers only make one call each (a page of ListAnalyzers,
GetFindingsStatistics, a page of ListFindings ...) and hand the result back; the main thread
decides what to ask next. Findings of a region are read as several server-side-filtered
streams at once, and pages are scheduled by priority: region discovery and analyzers first
(coverage is the product), then the pages of the regions with the most work left, so the
largest region, which bounds the scan, never waits behind small ones.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from reports.document.rules import UNSELECTED, Analysis, ScanningRole, analysis_of

from .aws import ActingCredentials, ClientFactory, attempt, error_from, role_credentials
from .collect.analyses import (
    analysis_analyzers,
    analysis_statistics,
    read_v2_page,
    shortfall,
)
from .collect.analyzers import findings_statistics, list_analyzers, list_archive_rules
from .collect.findings import Stream, plan_streams, read_page
from .collect.organization import (
    OrganizationAnswers,
    account_states,
    accounts,
    collect_identity,
    delegated_administrators,
    describe_organization,
    organization_facts,
    trusted_services,
)
from .collect.regions import RegionPlan, discover_regions, plan_regions
from .config import Options, verify_regions
from .errors import ConfigError, Interrupted
from .model import (
    CALLER,
    AccountListing,
    AnalysisFinding,
    AnalysisScan,
    AnalysisStatistics,
    Analyzer,
    ApiError,
    ArchiveRule,
    ExaminedAccount,
    Finding,
    FindingsStatistics,
    Identity,
    MemberAccount,
    MemberScan,
    OrganizationFacts,
    RegionDiscovery,
    RegionScan,
    RegionSource,
    ScanResult,
)
from .selection import findings_source, scanning_role

log = logging.getLogger("aa_scan")
MAX_PAGES_PER_STREAM = 100_000  # a service that never stops paging must not hang the scan


class PriorityPool:
    """A fixed set of daemon worker threads serving tasks lowest priority value first."""

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[tuple[Any, ...], int, Any]] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._threads = [threading.Thread(target=self._work, name=f"aa-scan-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: tuple[Any, ...], fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((priority, next(self._sequence), (future, fn, args)))
        return future

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the main thread, which decides
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel what has not started; let the idle workers exit."""
        while True:
            try:
                _, _, item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(((float("inf"),), next(self._sequence), None))


@dataclass
class _Analysis:
    """An internal-access or unused-access analyzer being read (main thread only)."""

    analyzer: Analyzer
    read_findings: bool
    client: Any  # the owning account's (an examined account's analyzers are read with its own)
    statistics: AnalysisStatistics | None = None
    findings: list[AnalysisFinding] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    def to_scan(self, statuses: tuple[str, ...]) -> AnalysisScan:
        errors = tuple(self.errors)
        missing = shortfall(self.statistics, self.findings, statuses) if (
            self.read_findings and not errors) else None
        return AnalysisScan(self.analyzer, self.statistics, tuple(self.findings),
                            self.read_findings, (missing,) if missing else errors)


@dataclass
class _Region:
    """What the main thread accumulates for one region while its tasks run."""

    plan: RegionPlan
    client: Any  # the caller's
    # The other examined accounts' clients (None: the role could not be assumed, see
    # `listings`), their ListAnalyzers results, and whose client reads the findings.
    others: dict[str, Any] = field(default_factory=dict)
    listings: dict[str, AccountListing] = field(default_factory=dict)
    found: dict[str, tuple[Analyzer, ...]] = field(default_factory=dict)  # per account
    waiting: int = 0  # ListAnalyzers calls not answered yet
    source_client: Any = None
    started: float = 0.0
    finished: float | None = None
    analyzers: tuple[Analyzer, ...] | None = None
    analyzers_error: ApiError | None = None
    source: Analyzer | None = None
    statistics: FindingsStatistics | None = None
    rules: tuple[ArchiveRule, ...] = ()
    findings: list[Finding] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)
    calls: int = 0
    pending: int = 0
    expected_pages: float = 0.0
    pages: int = 0
    collecting: bool = False
    seen_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    analyses: list[_Analysis] = field(default_factory=list)
    statuses: tuple[str, ...] = ("ACTIVE",)  # the finding statuses read

    def to_scan(self) -> RegionScan:
        seconds = ((self.finished or time.monotonic()) - self.started) if self.started else 0.0
        return RegionScan(
            region=self.plan.region,
            availability=self.plan.availability,
            excluded_reason=self.plan.excluded_reason,
            analyzers=self.analyzers,
            analyzers_error=self.analyzers_error,
            listings=tuple(self.listings.values()),
            findings_analyzer=self.source,
            findings=tuple(self.findings),
            findings_collected=self.collecting,
            findings_errors=tuple(self.errors),
            statistics=self.statistics,
            archive_rules=self.rules,
            api_calls=self.calls,
            seconds=round(seconds, 3),
            analyses=tuple(a.to_scan(self.statuses) for a in self.analyses),
        )


@dataclass
class _Paging:
    """One findings stream being paged: the tokens it has returned (a repeat is a loop)."""

    stream: Stream
    tokens: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class RegionDone:
    """Progress: a region finished (reported to the CLI as it happens)."""

    scan: RegionScan
    done: int
    total: int


Continuation = Callable[[Any], None]  # what the main thread does with a task's result


class Scan:
    """One run of the collection phase against one session."""

    def __init__(self, options: Options, factory: ClientFactory,
                 cancel: threading.Event | None = None,
                 progress: Callable[[RegionDone], None] | None = None) -> None:
        self.options = options
        self.factory = factory
        self.cancel = cancel or threading.Event()
        self.progress = progress or (lambda _: None)
        # Each task's region (None for the member view's) and what to do with its result.
        self._pending: dict[Future[Any], tuple[_Region | None, Continuation]] = {}
        self._finished: queue.Queue[Future[Any]] = queue.Queue()  # done, not yet handled
        self._pool: PriorityPool | None = None
        self._done = 0
        self._total = 0
        # The accounts examined besides the caller (--admin-role-name), and their clients.
        self._examined: list[ExaminedAccount] = []
        self._reached: dict[str, ClientFactory] = {}
        self._prefer: str | None = None  # whose organization analyzer's findings to read
        self._view: _MemberView | None = None

    # -- scheduling ----------------------------------------------------------------------
    def _submit(self, priority: tuple[Any, ...], region: _Region, then: Continuation,
                operation: str, call: Callable[[], Any]) -> None:
        """Run `call` (one AWS call of `operation`) on a worker; `then` gets its result, or
        the ApiError it failed with, on the main thread."""
        assert self._pool is not None
        future = self._pool.submit(priority, attempt, f"access-analyzer:{operation}", call)
        self._pending[future] = (region, then)
        future.add_done_callback(self._finished.put)
        region.pending += 1

    def _submit_other(self, priority: tuple[Any, ...], then: Continuation, operation: str,
                      call: Callable[[], Any]) -> None:
        """A task of no region (the member view's): `then` gets its result or ApiError."""
        assert self._pool is not None
        future = self._pool.submit(priority, attempt, operation, call)
        self._pending[future] = (None, then)
        future.add_done_callback(self._finished.put)

    def _wait(self) -> list[tuple[Future[Any], tuple[_Region | None, Continuation]]]:
        """The tasks finished since the last call (at least one), from the queue their
        futures report to: concurrent.futures.wait would visit every pending future on each
        call, and the member view keeps a thousand of them pending."""
        while True:
            if self.cancel.is_set():
                raise Interrupted
            try:
                done = [self._finished.get(timeout=0.25)]
            except queue.Empty:
                continue
            while True:
                try:
                    done.append(self._finished.get_nowait())
                except queue.Empty:
                    break
            return [(future, self._pending.pop(future)) for future in done]

    # -- the run -------------------------------------------------------------------------
    def run(self) -> ScanResult:
        started_at = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        discovered = clock
        self._pool = PriorityPool(self.options.workers)
        interrupted = False
        regions: list[_Region] = []
        members: MemberScan | None = None
        try:
            identity, organization, discovery = self._discover()
            if self.options.aws.admin_role_name and organization.in_organization:
                organization = self._reach_administrators(identity, organization)
            else:
                self._examined.append(ExaminedAccount(
                    identity.account_id, scanning_role(identity, organization)[0].value, CALLER))
            self._prefer = next(iter(organization.delegated_administrators or ()), None)
            discovered = time.monotonic()
            listed = (None if discovery.source is RegionSource.BOTOCORE
                      else frozenset(r.region for r in discovery.regions))
            verify_regions(self.options, listed)
            for name in self.options.unverified_regions:
                log.warning("%s is not a region the installed botocore knows; %s", name,
                            f"{discovery.source.value} lists it" if listed
                            else "used as given (the region list is botocore's own)")
            plans = plan_regions(discovery, self.options.regions, self.options.exclude)
            regions = [self._region(plan) for plan in plans]
            self._total = sum(1 for r in regions if r.plan.scan)
            excluded = [p.region for p in plans
                        if p.excluded_reason and p.excluded_reason != UNSELECTED]
            if self._total == 0 and excluded:
                raise ConfigError("the exclusions leave no enabled region to scan (excluded: "
                                  + ", ".join(excluded) + ")")
            log.info("scanning %d region(s) of %d listed (%s)", self._total, len(regions),
                     discovery.source.value)
            try:
                self._start_regions(regions)
                if self.options.aws.member_accounts is not None:
                    self._start_members(identity, organization,
                                        [r.plan.region for r in regions if r.plan.scan])
                self._drain()
                if self._view is not None:
                    members = self._view.result()
            except Interrupted:
                interrupted = True
                unfinished = [r for r in regions if r.plan.scan and r.finished is None]
                log.warning("interrupted: stopping the workers; %d region(s) unfinished",
                            len(unfinished))
                stopped = ApiError("Interrupted", "the scan was interrupted before this region "
                                   "finished", "")
                for region in unfinished:
                    if region.analyzers is None:
                        region.analyzers_error = stopped
                    else:
                        region.errors.append(stopped)
        finally:
            self._pool.shutdown()
        return ScanResult(
            started_at=started_at,
            finished_at=dt.datetime.now(dt.UTC),
            identity=identity,
            organization=organization,
            discovery=discovery,
            regions=tuple(r.to_scan() for r in regions),
            coverage_types=self.options.coverage_types,
            finding_statuses=self.options.finding_statuses,
            coverage_only=self.options.coverage_only,
            interrupted=interrupted,
            examined=tuple(self._examined),
            members=members,
            discovery_seconds=round(discovered - clock, 3),
            regions_seconds=round(time.monotonic() - discovered, 3),
        )

    def _region(self, plan: RegionPlan) -> _Region:
        """The region's state and its clients (built here, on the main thread)."""
        region = _Region(plan, None, statuses=self.options.finding_statuses)
        if plan.scan:
            try:
                region.client = self.factory.accessanalyzer(plan.region)
                region.others = {account: factory.accessanalyzer(plan.region)
                                 for account, factory in self._reached.items()}
            except (BotoCoreError, ValueError) as exc:  # e.g. a name botocore rejects
                region.analyzers_error = ApiError(*error_from(exc), "botocore:client")
            for examined in self._examined:
                if examined.error is not None:
                    region.listings[examined.account_id] = AccountListing(
                        examined.account_id, examined.error)
        return region

    def _reach_administrators(self, identity: Identity, organization: OrganizationFacts
                              ) -> OrganizationFacts:
        """--admin-role-name: assume the role into the management account and the delegated
        administrator, whichever the caller is not. From a member: into the management
        account, whose answers then stand for the organization's (a member may not list the
        delegated administrators), and from there into the delegated administrator (role
        chaining). A role that cannot be assumed is recorded, not raised: the regions that
        needed it are judged not assessed, with why."""
        name = self.options.aws.admin_role_name
        role, _ = scanning_role(identity, organization)
        me = identity.account_id
        self._examined.append(ExaminedAccount(me, role.value, CALLER))
        partition = self.factory.partition

        def hop(source: ClientFactory, account: str, as_role: ScanningRole
                ) -> ClientFactory | None:
            arn = f"arn:{partition}:iam::{account}:role/{name}"
            reached = attempt("sts:AssumeRole", partial(source.assume, arn))
            if isinstance(reached, ApiError):
                log.warning("cannot examine account %s (%s): %s", account, as_role.value,
                            reached)
                self._examined.append(ExaminedAccount(account, as_role.value, arn, reached))
                return None
            log.info("examining account %s (%s) through %s", account, as_role.value, arn)
            self._examined.append(ExaminedAccount(account, as_role.value, arn))
            self._reached[account] = reached
            return reached

        management = organization.management_account_id
        if management is None:
            return organization  # no account known to hop to: the caller's view alone
        source: ClientFactory | None = self.factory
        if role != ScanningRole.MANAGEMENT:
            source = hop(self.factory, management, ScanningRole.MANAGEMENT)
            if source is not None and role != ScanningRole.DELEGATED_ADMINISTRATOR:
                organization = self._organization_from(source.organizations())
            if role == ScanningRole.DELEGATED_ADMINISTRATOR:
                return organization
        for admin in organization.delegated_administrators or ():
            if admin != me and source is not None:
                hop(source, admin, ScanningRole.DELEGATED_ADMINISTRATOR)
        return organization

    def _start_members(self, identity: Identity, organization: OrganizationFacts,
                       regions: list[str]) -> None:
        """The member view, on the same pool as the organization scan and after it in
        priority (see _MemberView). Its clients are made here, on the main thread."""
        management = self._reached.get(organization.management_account_id or "", self.factory)
        own = {identity.account_id: self.factory, **self._reached}
        at_hand = {account: factory.session.get_credentials()
                   for account, factory in own.items()}
        self._view = _MemberView(self, regions, management,
                                 {a: c for a, c in at_hand.items() if c is not None})
        self._view.start()

    @staticmethod
    def _organization_from(org: Any) -> OrganizationFacts:
        """The four Organizations answers, asked again from the management account."""
        return organization_facts(OrganizationAnswers(
            describe_organization(org), trusted_services(org), delegated_administrators(org),
            accounts(org)))

    def _discover(self) -> tuple[Identity, OrganizationFacts, RegionDiscovery]:
        """Identity, organization and enabled regions, all at once."""
        assert self._pool is not None
        sts = self.factory.sts()
        org = self.factory.organizations()
        account = self.factory.account()
        session = self.factory.session
        known = session.get_available_regions("accessanalyzer",
                                              partition_name=self.factory.partition)
        submit = self._pool.submit
        identity_future = submit((0,), collect_identity, sts)
        org_futures = [submit((0,), call, org) for call in (
            describe_organization, trusted_services, delegated_administrators, accounts)]
        regions_future = submit((0,), discover_regions, account, self.factory.ec2, known)
        futures = [identity_future, regions_future, *org_futures]
        while not all(f.done() for f in futures):
            if self.cancel.is_set():
                raise Interrupted
            wait(futures, timeout=0.25)
        identity: Identity = identity_future.result()  # a CredentialsError ends the run here
        organization = organization_facts(OrganizationAnswers(
            *(f.result() for f in org_futures)))
        discovery: RegionDiscovery = regions_future.result()
        for error in (*organization.errors, *discovery.errors):
            log.warning("%s", error)
        return identity, organization, discovery

    def _start_regions(self, regions: list[_Region]) -> None:
        for each in regions:
            if not each.plan.scan:
                continue
            each.started = time.monotonic()
            if each.client is None:
                self._finish(each)
                continue
            accounts = [(CALLER, each.client), *each.others.items()]
            each.waiting = len(accounts)
            for account, client in accounts:
                self._submit((0,), each, partial(self._on_analyzers, each, account),
                             "ListAnalyzers", partial(list_analyzers, client))

    def _drain(self) -> None:
        """Hand each task's result to its continuation until no task is left (continuations
        submit the next ones)."""
        while self._pending:
            for future, (region, then) in self._wait():
                if region is not None:
                    region.pending -= 1
                try:
                    result = future.result()
                except Exception as exc:  # a defect in a collector: keep the rest of the scan
                    log.debug("%s: a task failed", region.plan.region if region else "member "
                              "view", exc_info=True)
                    result = ApiError("InternalError", f"{type(exc).__name__}: {exc}", "")
                then(result)
                if region is not None and region.pending == 0 and region.finished is None:
                    self._finish(region)

    def _finish(self, region: _Region) -> None:
        region.finished = time.monotonic()
        self._done += 1
        self.progress(RegionDone(region.to_scan(), self._done, self._total))

    # -- continuations (main thread) -----------------------------------------------------
    def _on_analyzers(self, region: _Region, account: str, result: Any) -> None:
        """One examined account's ListAnalyzers; when every account has answered, the
        region's analyzers are their union and one analyzer's findings are read."""
        region.waiting -= 1
        if isinstance(result, ApiError):
            region.calls += 1
            if account == CALLER:
                region.analyzers_error = result
            else:
                region.listings[account] = AccountListing(account, result)
        else:
            region.found[account], pages = result
            region.calls += pages
            if account != CALLER:
                region.listings[account] = AccountListing(account)
        if region.waiting:
            return
        if region.found:  # the caller's first, then the other accounts' in examined order
            region.analyzers = tuple(a for key in (CALLER, *region.others)
                                     for a in region.found.get(key, ()))
        analyzers = region.analyzers or ()
        log.debug("%s: ListAnalyzers: %s", region.plan.region, ", ".join(
            f"{a.name} {a.type} {a.status}" for a in analyzers) or "none")
        if self.options.coverage_only or region.analyzers is None:
            return
        for analyzer in analysis_analyzers(analyzers):
            self._start_analysis(region, analyzer)
        region.source = findings_source(analyzers, self._prefer)
        if region.source is None:
            return
        owner = region.source.account_id
        region.source_client = region.others.get(owner or "", region.client)
        region.collecting = True
        self._submit((1,), region, partial(self._on_statistics, region), "GetFindingsStatistics",
                     partial(findings_statistics, region.source_client, region.source))
        self._submit((1,), region, partial(self._on_rules, region), "ListArchiveRules",
                     partial(list_archive_rules, region.source_client, region.source))

    def _on_rules(self, region: _Region, result: Any) -> None:
        if isinstance(result, ApiError):
            region.errors.append(result)
            region.calls += 1
            return
        region.rules, pages = result
        region.calls += pages

    def _on_statistics(self, region: _Region, result: Any) -> None:
        region.calls += 1
        if isinstance(result, ApiError):
            region.errors.append(result)
            statistics = None
        else:
            region.statistics = statistics = result
        page_size = self.options.page_size
        streams = plan_streams(statistics, self.options.finding_statuses, page_size)
        log.debug("%s: %d findings stream(s): %s", region.plan.region, len(streams),
                  "; ".join(f"{s.label} (~{s.expected})" for s in streams))
        region.expected_pages = sum(max(1.0, s.expected / page_size) for s in streams)
        for stream in streams:
            self._submit_page(region, _Paging(stream), None)

    def _submit_page(self, region: _Region, paging: _Paging, token: str | None) -> None:
        remaining = region.expected_pages - region.pages
        assert region.source is not None
        self._submit((2, -remaining), region, partial(self._on_page, region, paging),
                     "ListFindings", partial(read_page, region.source_client, region.source,
                                             region.plan.region, paging.stream, token,
                                             self.options.page_size))

    def _on_page(self, region: _Region, paging: _Paging, result: Any) -> None:
        stream, tokens = paging.stream, paging.tokens
        region.calls += 1
        region.pages += 1
        if isinstance(result, ApiError):
            region.errors.append(result)
            log.warning("%s: findings stream %s stopped: %s", region.plan.region, stream.label,
                        result)
            return
        findings, token = result
        for finding in findings:  # streams partition the findings; a service that reads a
            if finding["id"] in region.seen_ids:  # filter differently must not double-count
                region.duplicates += 1
                continue
            region.seen_ids.add(finding["id"])
            region.findings.append(finding)
        log.debug("%s: ListFindings [%s] page %d: %d finding(s)%s", region.plan.region,
                  stream.label, region.pages, len(findings), ", more" if token else "")
        if not token:
            return
        if token in tokens or len(tokens) >= MAX_PAGES_PER_STREAM:
            region.errors.append(ApiError(
                "PaginationLoop", f"ListFindings returned a page token it had already given "
                f"(or more than {MAX_PAGES_PER_STREAM} pages) for [{stream.label}]; the stream "
                "was stopped", "access-analyzer:ListFindings"))
            return
        tokens.add(token)
        self._submit_page(region, paging, token)

    # -- internal access and unused access (beside external access, never counted with it) --
    def _start_analysis(self, region: _Region, analyzer: Analyzer) -> None:
        internal = analysis_of(analyzer.type) is Analysis.INTERNAL_ACCESS
        client = region.others.get(analyzer.account_id or "") or region.client
        state = _Analysis(analyzer, internal or self.options.unused_findings, client)
        region.analyses.append(state)
        self._submit((1,), region, partial(self._on_analysis_statistics, region, state),
                     "GetFindingsStatistics",
                     partial(analysis_statistics, state.client, analyzer))
        if state.read_findings:
            self._submit_v2_page(region, state, None)

    def _on_analysis_statistics(self, region: _Region, state: _Analysis, result: Any) -> None:
        region.calls += 1
        if isinstance(result, ApiError):
            state.errors.append(result)
        else:
            state.statistics = result

    def _submit_v2_page(self, region: _Region, state: _Analysis, token: str | None) -> None:
        self._submit((2, 0), region, partial(self._on_v2_page, region, state),
                     "ListFindingsV2",
                     partial(read_v2_page, state.client, state.analyzer, region.plan.region,
                             self.options.finding_statuses, token, self.options.page_size))

    def _on_v2_page(self, region: _Region, state: _Analysis, result: Any) -> None:
        region.calls += 1
        if isinstance(result, ApiError):
            state.errors.append(result)
            log.warning("%s: ListFindingsV2 of %s stopped: %s", region.plan.region,
                        state.analyzer.name, result)
            return
        findings, token = result
        state.findings.extend(findings)
        if not token:
            return
        if token in state.tokens or len(state.tokens) >= MAX_PAGES_PER_STREAM:
            state.errors.append(ApiError(
                "PaginationLoop", "ListFindingsV2 returned a page token it had already given "
                f"(or more than {MAX_PAGES_PER_STREAM} pages) for {state.analyzer.name}; "
                "reading was stopped", "access-analyzer:ListFindingsV2"))
            return
        state.tokens.add(token)
        self._submit_v2_page(region, state, token)


@dataclass
class _Member:
    """One account of the member view while its calls run (main thread only)."""

    account_id: str
    name: str
    credentials: Credentials | None = None  # its own, while it is open; dropped when done
    waiting: int = 0  # ListAnalyzers calls not answered yet
    found: dict[str, tuple[Analyzer, ...] | ApiError] = field(default_factory=dict)


def _list_as(acting: ActingCredentials, credentials: Credentials, client: Any
             ) -> tuple[tuple[Analyzer, ...], int]:
    with acting.acting_as(credentials):
        return list_analyzers(client)


class _MemberView:
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

    def __init__(self, scan: Scan, regions: list[str], management: ClientFactory,
                 at_hand: dict[str, Credentials]) -> None:
        self.scan = scan
        self.options = scan.options
        self.regions = regions
        self.management = management
        self.at_hand = at_hand
        self.role_name = self.options.aws.member_role_name or ""
        self.window = max(8, 2 * self.options.workers)
        self.acting = ActingCredentials()
        self.sts: Any = None
        self.clients: dict[str, Any] = {}
        self.client_errors: dict[str, ApiError] = {}
        self.queue: deque[_Member] = deque()
        self.open = 0
        self.accounts: dict[str, MemberAccount | _Member] = {}
        self.error: ApiError | None = None

    def start(self) -> None:
        factory = self.scan.factory
        self.sts = factory.paced_sts()
        acting = factory.acting(self.acting)
        for region in self.regions:
            try:
                self.clients[region] = acting.accessanalyzer(region)
            except (BotoCoreError, ValueError) as exc:  # e.g. a name botocore rejects
                self.client_errors[region] = ApiError(*error_from(exc), "botocore:client")
        self.scan._submit_other((3,), self._on_accounts, "organizations:ListAccounts",
                                partial(account_states, self.management.organizations()))

    def result(self) -> MemberScan:
        if self.error is not None:
            return MemberScan(self.role_name, (), self.error)
        done = tuple(a for a in self.accounts.values() if isinstance(a, MemberAccount))
        log.info("member view: %d account(s) through %s", len(done), self.role_name)
        return MemberScan(self.role_name, done)

    def _on_accounts(self, listed: Any) -> None:
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
            arn = f"arn:{self.scan.factory.partition}:iam::{member.account_id}:role/" \
                  f"{self.role_name}"
            self.scan._submit_other((3,), partial(self._on_assumed, member), "sts:AssumeRole",
                                    partial(role_credentials, self.sts, arn, self.options))

    def _on_assumed(self, member: _Member, result: Any) -> None:
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
            self.scan._submit_other(
                (3,), partial(self._on_analyzers, member, region),
                "access-analyzer:ListAnalyzers",
                partial(_list_as, self.acting, member.credentials, client))
        if not self.regions:
            self._close(member)

    def _on_analyzers(self, member: _Member, region: str, result: Any) -> None:
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


def run_scan(options: Options, factory: ClientFactory, cancel: threading.Event | None = None,
             progress: Callable[[RegionDone], None] | None = None) -> ScanResult:
    """Collect everything the configuration asks for (the collect stage)."""
    return Scan(options, factory, cancel, progress).run()
