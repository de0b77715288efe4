"""A recorded run as the diff and the trend see it: from a scan document or from the store.

`RunView` is the common shape of the two sources, so a baseline read from the history and
one given as a scan.json (`--baseline FILE`) are compared by the same code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from reports.document.evaluations import vantage
from reports.document.rules import ORGANIZATION_WIDE_TYPES
from reports.document.rules import grant_fingerprint as fingerprint
from reports.document.schema import Finding, Gap, ScanDocument


class FindingView(NamedTuple):
    """What the history keeps of a finding (the fields the issue's audit trail needs). A
    named tuple, not a dataclass: a run has 100,000 of them, built in a tenth of the time."""

    region: str
    analyzer_arn: str
    id: str
    resource_type: str
    resource: str | None
    owner_account: str | None
    is_public: bool | None
    error: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    # What the finding is about, whatever analyzer reported it: resource, owner account,
    # principal, action, condition and public flag. Re-creating an analyzer changes every
    # finding id but not this.
    fingerprint: bytes
    # Principal, action and condition as canonical JSON (None: a history written before
    # they were kept, or a view of a document: see access_json), so a finding that changed
    # under the same id can say how.
    access: str | None = None
    # The earliest createdAt known for this grant, when an analyzer re-created since gave
    # the finding a new id and a new createdAt (None: its own createdAt).
    first_seen: str | None = None
    # The document's finding this view is of (None: read from the history).
    source: Finding | None = None

    @property
    def state(self) -> tuple[object, ...]:
        """What makes two sightings of a finding the same stored row."""
        return self[:12]


@dataclass(frozen=True, slots=True)
class RegionView:
    """What the history keeps of a region: its status and how its findings were read."""

    region: str
    status: str
    reason: str | None
    complete: bool
    findings_collected: bool
    analyzer_arn: str | None  # whose findings were read
    # ORGANIZATION or ACCOUNT: the zone of trust of the analyzer whose findings were read
    # (None: none read, or a history written before it was kept).
    findings_scope: str | None = None
    # The analyzer types with an ACTIVE analyzer here, required or not (None: not recorded).
    active_types: tuple[str, ...] | None = None


# Codes only ever about the primary requirement (a scan.json written before gaps named
# their analyzer type is read with it).
_PRIMARY_CODES = frozenset({"NO_ANALYZER", "ACCOUNT_SCOPE_ONLY"})


def gap_subject(gap: Gap, requirement: tuple[str, ...] | None) -> str | None:
    """What a gap is about beyond its code: the analyzer type ('' when about no type), so two
    gaps of one code in one region (an ORGANIZATION analyzer and an internal-access one, both
    FAILED) never share an identity. A gap of an older scan.json did not say: its type is
    inferred where only one is possible, else None (not recorded)."""
    if "analyzer_type" in gap:
        return gap["analyzer_type"] or ""
    if gap["code"] not in ("NO_ANALYZER", "ACCOUNT_SCOPE_ONLY", "NOT_ACTIVE",
                           "MISSING_REQUIRED_TYPE"):
        return ""
    if requirement and gap["code"] in _PRIMARY_CODES:
        return requirement[0]
    wide = gap["scope"] == "organization"
    possible = [t for t in requirement or () if (t in ORGANIZATION_WIDE_TYPES) == wide]
    return possible[0] if len(possible) == 1 else None


@dataclass(frozen=True, slots=True)
class GapView:
    """What the history keeps of a gap: its identity (scope, region, code, subject), its
    severity and title."""

    scope: str
    region: str | None
    code: str
    severity: str
    title: str
    # The analyzer type it is about ('' when about none; None: a history or scan.json
    # written before gaps said so, matched on scope, region and code alone).
    subject: str | None = ""
    # The key of the exception that accepted it in this run (None: none did).
    exception: str | None = None

    @property
    def identity(self) -> tuple[str, str, str, str | None]:
        """What the history stores an accepted gap by: scope, region ('' for none), code,
        subject."""
        return (self.scope, self.region or "", self.code, self.subject)


@dataclass(frozen=True, slots=True)
class ExceptionView:
    """What the history keeps of an exception of a run: its key, its state on the run's
    day, and who accepted it until when."""

    key: str
    state: str
    expires: str
    owner: str
    reason: str
    ticket: str | None
    # Whether it accepts public findings too (`public: true`; None: recorded before the
    # history kept it): widening an approval to everyone is a change of the register.
    public: bool | None = None


@dataclass(frozen=True)
class RunView:
    """A run as the comparison sees it, whichever it came from (a document or the store)."""

    run_id: str
    started_at: str
    organization_id: str | None
    account_id: str
    interrupted: bool
    coverage_only: bool
    regions: dict[str, RegionView]
    gaps: tuple[GapView, ...]
    findings: tuple[FindingView, ...] = field(repr=False)
    schema_version: int = 1
    # The configured requirement (coverage_types), in order; None: not recorded.
    requirement: tuple[str, ...] | None = None
    finished_at: str = ""
    # Whether trusted access was enabled (None: unknown, or not in an organization).
    trusted_access: bool | None = None
    # Organization-wide requirements the run could not judge (None: not recorded).
    not_judged: tuple[str, ...] | None = ()
    # Whether its regions came from a region listing (account:ListRegions or
    # ec2:DescribeRegions), so a region it does not list was not there to list.
    listed: bool = True
    # The finding statuses it collected (None: not recorded).
    statuses: tuple[str, ...] | None = ("ACTIVE",)
    # The accounts whose analyzers it listed (the caller first examined; with
    # --admin-role-name, the administrator accounts): where its verdicts were judged from.
    vantage: tuple[str, ...] = ()
    # The SHA-256 of the scan.json this view is of, when known (the one a run wrote, the
    # file imported or given as --baseline): what anchors a baseline to its evidence pack.
    scan_sha256: str | None = None
    # Its exceptions (accepted risk) and the active findings they accepted, by region and id
    # (the gaps they accepted say so themselves). Empty: it had none, or was recorded before
    # exceptions existed.
    exceptions: tuple[ExceptionView, ...] = ()
    accepted_findings: Mapping[tuple[str, str], str] = field(default_factory=dict)


def canonical(values: object) -> bytes:
    """Plain values as deterministic bytes, for digests."""
    return repr(values).encode("utf-8", "surrogatepass")


def access_text(finding: Finding) -> str:
    """Principal, action and condition of a finding as canonical JSON."""
    return json.dumps([finding["principal"], sorted(finding["action"]), finding["condition"]],
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def access_json(finding: FindingView) -> str | None:
    """Principal, action and condition as canonical JSON: made when first needed (a new
    finding, a changed one), since most runs never need most of them."""
    if finding.access is not None or finding.source is None:
        return finding.access
    return access_text(finding.source)


def finding_view(finding: Finding) -> FindingView:
    """The view of a document's finding (its access JSON made only when needed)."""
    return FindingView(
        finding["region"], finding["analyzer_arn"], finding["id"], finding["resource_type"],
        finding["resource"], finding["resource_owner_account"], finding["is_public"],
        finding["error"], finding["status"], finding["created_at"], finding["updated_at"],
        fingerprint(finding["resource"], finding["resource_owner_account"],
                    finding["principal"], finding["action"], finding["condition"],
                    finding["is_public"]),
        None, finding.get("first_seen_at"), finding)


class FindingViews:
    """Views of a run's findings made as its regions finish, by a thread of their own: the
    fingerprint of every finding is most of the CPU of comparing a run with its baseline
    (80,000 findings: about a second), and the scan mostly waits on the network meanwhile.
    `add` the findings of a finished region; `views` waits for the thread and returns the
    views by id() of their finding (for run_view's `known`)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Sequence[Finding] | None] = queue.SimpleQueue()
        self._views: dict[int, FindingView] = {}
        self._thread = threading.Thread(target=self._work, name="aa-scan-views", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        views = self._views
        while (findings := self._queue.get()) is not None:
            for finding in findings:
                views[id(finding)] = finding_view(finding)

    def add(self, findings: Sequence[Finding]) -> None:
        """The findings of a region whose scan is finished (they are not changed after)."""
        self._queue.put(findings)

    def views(self) -> dict[int, FindingView]:
        """Every view made (the thread is done once this returns)."""
        self._queue.put(None)
        self._thread.join()
        return self._views


def parse_time(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time from a document or the history (None: none, or unreadable)."""
    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def earliest(*texts: str | None) -> str | None:
    """The earliest of some ISO 8601 times, as written (None: none could be read)."""
    known = [(t, text) for text in texts if text and (t := parse_time(text)) is not None]
    return min(known)[1] if known else None


def run_id_of(document: ScanDocument) -> str:
    """The document's run id; for a scan.json written before run ids existed, one derived
    from what identifies the run, so importing the same file twice is one run."""
    given = document.get("run_id")
    if isinstance(given, str) and given:
        return given
    seed = "|".join([document["started_at"], document["finished_at"],
                     document["identity"]["account_id"], document["organization"]["id"] or ""])
    return "imported-" + hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def requirement_of(document: ScanDocument) -> tuple[str, ...] | None:
    """The analyzer types the run required in every region (None: not recorded)."""
    types = document["configuration"].get("coverage_types")
    if isinstance(types, list) and all(isinstance(t, str) for t in types):
        return tuple(types)
    return None


def run_view(document: ScanDocument, known: Mapping[int, FindingView] | None = None
             ) -> RunView:
    """The view of a scan document. `known`: views of its findings made already (while the
    scan ran, see FindingViews), by id() of the finding each is the view of; one is used
    only for that very finding (its `source`), so a stale or foreign entry is never used."""
    regions = {}
    for region in document["regions"]:
        source = region["findings_analyzer"]
        regions[region["region"]] = RegionView(
            region["region"], region["status"], region["reason"], region["complete"],
            region["findings_collected"], source["arn"] if source else None,
            region["findings_scope"] if source else None,
            tuple(sorted({a["type"] for a in region["analyzers"] if a["status"] == "ACTIVE"})))
    requirement = requirement_of(document)
    gaps = tuple(GapView(g["scope"], g["region"], g["code"], g["severity"], g["title"],
                         gap_subject(g, requirement),
                         g["exception"]["key"] if "exception" in g else None)
                 for g in document["gaps"])
    block = document.get("exceptions")
    exceptions = tuple(ExceptionView(e["key"], e["state"], e["expires"], e["owner"],
                                     e["reason"], e["ticket"], bool(e.get("public", False)))
                       for e in (block["entries"] if block else ()))
    accepted = {(f["region"], f["id"]): f["exception"]["key"] for f in document["findings"]
                if "exception" in f} if block else {}
    summary = document["summary"]
    organization = document["organization"]
    statuses = document["configuration"].get("finding_statuses")
    not_judged = summary.get("requirements_not_judged")
    return RunView(
        run_id=run_id_of(document), started_at=document["started_at"],
        organization_id=document["organization"]["id"],
        account_id=document["identity"]["account_id"],
        interrupted=summary["interrupted"], coverage_only=summary["coverage_only"],
        regions=regions, gaps=gaps,
        findings=tuple(finding_view(f) for f in document["findings"]) if not known else
        tuple(v if (v := known.get(id(f))) is not None and v.source is f else finding_view(f)
              for f in document["findings"]),
        schema_version=document["schema_version"], requirement=requirement,
        finished_at=document["finished_at"],
        trusted_access=organization["trusted_access"],
        not_judged=None if not_judged is None else tuple(not_judged),
        listed=document["discovery"]["source"] != "botocore (enablement unknown)",
        statuses=tuple(statuses) if isinstance(statuses, list) else None,
        vantage=vantage(document), exceptions=exceptions,
        accepted_findings=accepted)
