"""The scan driver: one bounded thread pool, one task per API page, regions concurrently.

The main thread owns all state. Workers only make one call each (a page of ListAnalyzers,
GetFindingsStatistics, a page of ListFindings ...) and hand the result back; the main thread
decides what to ask next. Findings of a region are read as several server-side-filtered
streams at once, and pages are scheduled by priority: region discovery and analyzers first
(coverage is the product), then the pages of the regions with the most work left, so the
largest region, which bounds the scan, never waits behind small ones.

How many calls run at once adapts to the work: each region (and STS, for the member view)
is a lane that takes as many calls at once as its rate and round trip use (the limiter's
`concurrency`: 10 requests per second at 250 ms is 5 calls in flight, at 40 ms 2), the rest
wait in the lane, on the main thread, holding no worker; a region's findings are split into
as many streams as its lane takes; the pool starts the threads the admitted calls need, up to
`--workers` (default: AUTO_WORKERS).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError

from reports.document.rules import UNSELECTED, Analysis, analysis_of

from .aws import ClientFactory, attempt, error_from
from .collect.administrators import reach_administrators
from .collect.analyses import analysis_analyzers, analysis_statistics, read_v2_page, shortfall
from .collect.analyzers import findings_statistics, list_analyzers, list_archive_rules
from .collect.findings import Stream, plan_streams, read_page
from .collect.members import MemberCollection
from .collect.organization import (
    OrganizationAnswers,
    accounts,
    collect_identity,
    delegated_administrators,
    describe_organization,
    organization_facts,
    trusted_services,
)
from .collect.regions import RegionPlan, discover_regions, plan_regions
from .collect.tasks import Continuation, continuation
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
    MemberScan,
    OrganizationFacts,
    RegionDiscovery,
    RegionScan,
    RegionSource,
    ScanResult,
)
from .pool import PriorityPool
from .ratelimit import MAX_CONCURRENCY, RateLimiter
from .selection import findings_source, scanning_role

log = logging.getLogger("aa_scan")
MAX_PAGES_PER_STREAM = 100_000  # a service that never stops paging must not hang the scan
# Threads at most when --workers is not given: a ListFindings page in flight holds about
# 0.4 MB, so 128 of them about 50 MB. The lanes keep a scan well below it (30 regions at 10
# requests per second and 40-250 ms: about 90).
AUTO_WORKERS = 128
T = TypeVar("T")
_Task = tuple["_Region | None", Continuation[Any], Callable[[], Any]]


@dataclass
class _Lane:
    """The calls of one region (or of STS) in flight and waiting to be: it takes as many at
    once as its limiter says its rate and round trip use; the others wait here, in priority
    order, on the main thread (see the module docstring)."""

    limiter: RateLimiter | None  # None (rate_limit off): only the ceiling holds it
    ceiling: int
    running: int = 0
    waiting: list[tuple[tuple[float, ...], int, _Task]] = field(default_factory=list)

    def limit(self) -> int:
        """Calls it takes at once now."""
        return self.limiter.concurrency(self.ceiling) if self.limiter else self.ceiling


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


class Scan:
    """One run of the collection phase against one session."""

    def __init__(self, options: Options, factory: ClientFactory,
                 cancel: threading.Event | None = None,
                 progress: Callable[[RegionDone], None] | None = None) -> None:
        self.options = options
        self.factory = factory
        self.cancel = cancel or threading.Event()
        self.progress = progress or (lambda _: None)
        # Each task's region (None for the member view's), what to do with its result (each
        # continuation was checked against its call when submitted: see _submit), its lane.
        self._pending: dict[Future[Any], tuple[_Region | None, Continuation[Any],
                                               _Lane | None]] = {}
        self._lanes: dict[str, _Lane] = {}
        self._sequence = itertools.count()
        self._finished: queue.Queue[Future[Any]] = queue.Queue()  # done, not yet handled
        self._pool: PriorityPool | None = None
        self._done = 0
        self._total = 0
        # The accounts examined besides the caller (--admin-role-name), and their clients.
        self._examined: list[ExaminedAccount] = []
        self._reached: dict[str, ClientFactory] = {}
        self._prefer: str | None = None  # whose organization analyzer's findings to read
        self._view: MemberCollection | None = None

    # -- scheduling ----------------------------------------------------------------------
    def _submit(self, priority: tuple[float, ...], region: _Region, then: Continuation[T],
                operation: str, call: Callable[[], T]) -> None:
        """Run `call` (one AWS call of `operation`) on a worker, in the region's lane; `then`
        gets its result, or the ApiError it failed with, on the main thread."""
        region.pending += 1
        self._enqueue(self._lane(region.plan.region), priority,
                      (region, then, partial(attempt, f"access-analyzer:{operation}", call)))

    def _submit_other(self, priority: tuple[float, ...], then: Continuation[T], operation: str,
                      call: Callable[[], T], lane: str | None = None) -> None:
        """A task of no region (the member view's), in `lane` if given (a region's name, or
        "sts"): `then` gets its result or ApiError."""
        self._enqueue(self._lane(lane) if lane else None, priority,
                      (None, then, partial(attempt, operation, call)))

    def _lane(self, name: str) -> _Lane:
        lane = self._lanes.get(name)
        if lane is None:
            workers = self.options.workers
            lane = self._lanes[name] = _Lane(
                self.factory.limiters.get(name),
                min(workers, MAX_CONCURRENCY) if workers is not None else MAX_CONCURRENCY)
        return lane

    def _enqueue(self, lane: _Lane | None, priority: tuple[float, ...], task: _Task) -> None:
        if lane is None:
            self._start(None, priority, task)
            return
        heapq.heappush(lane.waiting, (priority, next(self._sequence), task))
        self._admit(lane)

    def _admit(self, lane: _Lane) -> None:
        """Start the lane's most urgent waiting calls while it has room."""
        while lane.waiting and lane.running < lane.limit():
            priority, _, task = heapq.heappop(lane.waiting)
            self._start(lane, priority, task)

    def _start(self, lane: _Lane | None, priority: tuple[float, ...], task: _Task) -> None:
        assert self._pool is not None
        region, then, call = task
        future = self._pool.submit(priority, call)
        self._pending[future] = (region, then, lane)
        if lane is not None:
            lane.running += 1
        future.add_done_callback(self._finished.put)

    def _wait(self) -> list[tuple[Future[Any], tuple[_Region | None, Continuation[Any],
                                                     _Lane | None]]]:
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
        """Discover, plan and collect every region (and the member view, when asked), then
        stop the workers; an interrupted run returns what it had, marked so."""
        started_at = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        discovered = clock
        self._pool = PriorityPool(self.options.workers or AUTO_WORKERS)
        interrupted = finished = False
        regions: list[_Region] = []
        members: MemberScan | None = None
        try:
            identity, organization, discovery = self._discover()
            if self.options.aws.admin_role_name and organization.in_organization:
                reached = reach_administrators(self.factory, identity, organization,
                                               self.options.aws.admin_role_name)
                organization = reached.organization
                self._examined += reached.examined
                self._reached.update(reached.reached)
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
                finished = True
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
            # A finished scan's workers are idle: they are gone before the reports are
            # written (a child process may write one: scanner.background).
            self._pool.shutdown(wait=2.0 if finished else 0.0)
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

    def _start_members(self, identity: Identity, organization: OrganizationFacts,
                       regions: list[str]) -> None:
        """The member view, on the same pool as the organization scan and after it in
        priority (see MemberCollection). Its clients are made here, on the main thread."""
        management = self._reached.get(organization.management_account_id or "", self.factory)
        own = {identity.account_id: self.factory, **self._reached}
        at_hand = {account: factory.session.get_credentials()
                   for account, factory in own.items()}
        self._view = MemberCollection(self.options, self.factory, self._submit_other, regions,
                                      management,
                                      {a: c for a, c in at_hand.items() if c is not None})
        self._view.start()

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
        identity_future = submit((0,), partial(collect_identity, sts))
        described = submit((0,), partial(describe_organization, org))
        services = submit((0,), partial(trusted_services, org))
        admins = submit((0,), partial(delegated_administrators, org))
        listed = submit((0,), partial(accounts, org))
        regions_future = submit((0,), partial(discover_regions, account, self.factory.ec2,
                                              known))
        futures: list[Future[Any]] = [identity_future, regions_future, described, services,
                                      admins, listed]
        while not all(f.done() for f in futures):
            if self.cancel.is_set():
                raise Interrupted
            wait(futures, timeout=0.25)
        identity = identity_future.result()  # a CredentialsError ends the run here
        organization = organization_facts(OrganizationAnswers(
            described.result(), services.result(), admins.result(), listed.result()))
        discovery = regions_future.result()
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
                self._submit((0,), each, continuation(self._on_analyzers, each, account),
                             "ListAnalyzers", partial(list_analyzers, client))

    def _drain(self) -> None:
        """Hand each task's result to its continuation until no task is left (continuations
        submit the next ones)."""
        while self._pending:
            for future, (region, then, lane) in self._wait():
                if lane is not None:
                    lane.running -= 1
                if region is not None:
                    region.pending -= 1
                try:
                    result = future.result()
                except Exception as exc:  # a defect in a collector: keep the rest of the scan
                    log.debug("%s: a task failed", region.plan.region if region else "member "
                              "view", exc_info=True)
                    result = ApiError("InternalError", f"{type(exc).__name__}: {exc}", "")
                then(result)
                if lane is not None:
                    self._admit(lane)
                if region is not None and region.pending == 0 and region.finished is None:
                    self._finish(region)

    def _finish(self, region: _Region) -> None:
        region.finished = time.monotonic()
        self._done += 1
        lane = self._lanes.get(region.plan.region)
        if lane is not None and lane.limiter is not None and log.isEnabledFor(logging.DEBUG):
            latency = lane.limiter.latency
            log.debug("%s: paced at %.1f/s, round trip %s, %d call(s) at once, %d throttled",
                      region.plan.region, lane.limiter.rate,
                      f"{latency:.3f}s" if latency is not None else "unknown", lane.limit(),
                      lane.limiter.throttles)
        self.progress(RegionDone(region.to_scan(), self._done, self._total))

    # -- continuations (main thread) -----------------------------------------------------
    def _on_analyzers(self, region: _Region, account: str,
                      result: tuple[tuple[Analyzer, ...], int] | ApiError) -> None:
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
        self._submit((1,), region, continuation(self._on_statistics, region),
                     "GetFindingsStatistics",
                     partial(findings_statistics, region.source_client, region.source))
        self._submit((1,), region, continuation(self._on_rules, region), "ListArchiveRules",
                     partial(list_archive_rules, region.source_client, region.source))

    def _on_rules(self, region: _Region,
                 result: tuple[tuple[ArchiveRule, ...], int] | ApiError) -> None:
        if isinstance(result, ApiError):
            region.errors.append(result)
            region.calls += 1
            return
        region.rules, pages = result
        region.calls += pages

    def _on_statistics(self, region: _Region, result: FindingsStatistics | ApiError) -> None:
        region.calls += 1
        if isinstance(result, ApiError):
            region.errors.append(result)
            statistics = None
        else:
            region.statistics = statistics = result
        page_size = self.options.page_size
        lane = self._lane(region.plan.region)
        # As many streams as the region takes calls at once (its pages overlap up to its
        # rate), when its rate is paced; else as many as its pages are worth.
        streams = plan_streams(statistics, self.options.finding_statuses, page_size,
                               wanted=lane.limit() if lane.limiter else None)
        log.debug("%s: %d findings stream(s): %s", region.plan.region, len(streams),
                  "; ".join(f"{s.label} (~{s.expected})" for s in streams))
        region.expected_pages = sum(max(1.0, s.expected / page_size) for s in streams)
        for stream in streams:
            self._submit_page(region, _Paging(stream), None)

    def _submit_page(self, region: _Region, paging: _Paging, token: str | None) -> None:
        remaining = region.expected_pages - region.pages
        assert region.source is not None
        self._submit((2, -remaining), region, continuation(self._on_page, region, paging),
                     "ListFindings", partial(read_page, region.source_client, region.source,
                                             region.plan.region, paging.stream, token,
                                             self.options.page_size))

    def _on_page(self, region: _Region, paging: _Paging,
                 result: tuple[list[Finding], str | None] | ApiError) -> None:
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
        self._submit((1,), region, continuation(self._on_analysis_statistics, region, state),
                     "GetFindingsStatistics",
                     partial(analysis_statistics, state.client, analyzer))
        if state.read_findings:
            self._submit_v2_page(region, state, None)

    def _on_analysis_statistics(self, region: _Region, state: _Analysis,
                                result: AnalysisStatistics | ApiError | None) -> None:
        region.calls += 1
        if isinstance(result, ApiError):
            state.errors.append(result)
        else:
            state.statistics = result

    def _submit_v2_page(self, region: _Region, state: _Analysis, token: str | None) -> None:
        self._submit((2, 0), region, continuation(self._on_v2_page, region, state),
                     "ListFindingsV2",
                     partial(read_v2_page, state.client, state.analyzer, region.plan.region,
                             self.options.finding_statuses, token, self.options.page_size))

    def _on_v2_page(self, region: _Region, state: _Analysis,
                    result: tuple[list[AnalysisFinding], str | None] | ApiError) -> None:
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


def run_scan(options: Options, factory: ClientFactory, cancel: threading.Event | None = None,
             progress: Callable[[RegionDone], None] | None = None) -> ScanResult:
    """Collect everything the configuration asks for (the collect stage)."""
    return Scan(options, factory, cancel, progress).run()
