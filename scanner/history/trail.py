"""A run's place in the audit trail: its baseline, what changed, the trend; then its record.

Three steps around a run, so the history can never cost a scan: `begin` notes, when the run
starts, what the history holds (only runs recorded by then can be its baseline); `prepare`
reads (the earlier runs) and adds `changes`, `trend` and `finding_age` to the document;
`record` stores the run once its reports are written. A history that cannot be read or
written is said in the document and on stderr (HistoryError), never a lost scan; a baseline
that cannot be compared is the user's error (BaselineError).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reports.document.schema import SCHEMA_VERSION, DocumentError, ScanDocument, load_document

from .baselines import plan
from .diff import Comparison, compare, first_run
from .runs import FindingView, RunView, earliest, run_id_of, run_view
from .store import HistoryError, HistoryStore, Mark, RecordAbandoned, RunRecord

log = logging.getLogger("aa_scan")


class BaselineError(ValueError):
    """A baseline file that cannot be this run's baseline (another organization, newer)."""


@dataclass(frozen=True)
class HistorySettings:
    """Where the history is, how many runs it keeps, and a baseline file if one is given."""

    path: Path | None  # None: no history for this run
    keep: int | None  # runs kept per series; None: all
    baseline: Path | None  # a scan.json to compare with, instead of the history's choice
    # The history's name in messages when `path` is a local copy of it (an S3 location).
    label: str | None = None
    # Why the history cannot be used at all (an S3 object deleted): read nor written.
    unavailable: str | None = None

    def named(self, message: str) -> str:
        """A message about the history, naming it as the user does (not a local copy)."""
        if self.label and self.path is not None:
            return message.replace(str(self.path), self.label)
        return message


@dataclass(frozen=True)
class Start:
    """What the history held when the run started (`begin`)."""

    mark: Mark | None  # None: it could not be read then
    error: str | None = None


def begin(settings: HistorySettings) -> Start:
    """Note the runs recorded before this one starts: a run that records while this one
    scans (two started in the same second) is never its baseline."""
    if settings.unavailable is not None:
        return Start(None, settings.unavailable)
    if settings.path is None or not settings.path.exists():
        return Start({})
    try:
        with HistoryStore(settings.path) as store:
            return Start(store.marks())
    except HistoryError as exc:
        return Start(None, settings.named(str(exc)))


def _record_of(document: ScanDocument) -> RunRecord:
    summary = document["summary"]
    # This run is the last point of its own trend, whatever else started in its second.
    return RunRecord(run_id_of(document), 1 << 62, document["started_at"],
                     document["finished_at"], summary["complete"], summary["interrupted"],
                     summary["coverage_only"], summary["verdict"], summary["regions_total"],
                     summary["covered"], summary["gaps"], summary["errors"],
                     summary["active_findings"], summary["public_findings"], "scan")


def _sha256(path: Path) -> str | None:
    """The SHA-256 of a file read just before (None: it cannot be read again)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _baseline_file(path: Path, document: ScanDocument) -> ScanDocument:
    try:
        baseline = load_document(path)
    except DocumentError as exc:
        raise BaselineError(f"--baseline {exc}") from None
    mine, theirs = document["organization"]["id"], baseline["organization"]["id"]
    if mine != theirs:
        raise BaselineError(f"--baseline {path} is a scan of organization {theirs or 'none'}"
                            f", not of {mine or 'none'}: runs of different organizations "
                            "cannot be compared")
    account, other = document["identity"]["account_id"], baseline["identity"]["account_id"]
    if mine is None and account != other:
        raise BaselineError(f"--baseline {path} is a scan of account {other}, not of {account}"
                            ": runs of different standalone accounts cannot be compared")
    if baseline["schema_version"] > SCHEMA_VERSION:  # load_document refuses this already
        raise BaselineError(f"--baseline {path}: a newer scan document")
    return baseline


@dataclass(frozen=True)
class Prepared:
    """A document with its place in the audit trail, ready to be written, then recorded."""

    document: ScanDocument
    view: RunView | None  # the run as the history records it (built once, used twice)
    settings: HistorySettings
    first_seen: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def record(self, source: str = "scan", scan_sha256: str | None = None,
               commit: Callable[[], bool] | None = None) -> None:
        """Store the run (see `record`)."""
        record(self.document, self.settings, source, self.view, self.first_seen, scan_sha256,
               commit)


def _candidates(store: HistoryStore, current: RunView, records: list[RunRecord]
                ) -> list[RunView]:
    """The earlier runs, newest first, each holding what `plan` compares it for: every run
    its regions' statuses and its organization gaps, and the gaps and findings of the
    regions it is the latest knowledge of."""
    usable = [r for r in reversed(records) if not r.interrupted]
    light = [store.load_regions(r.run_id) for r in usable]
    if not light:
        return []
    needed: dict[str, set[str]] = {}
    for region in set(current.regions) | set(light[0].regions):
        gaps, findings = plan(current, light, region)
        for pick in (*gaps.values(), findings):
            if pick.run is not None:
                needed.setdefault(pick.run.run_id, set()).add(region)
    return [store.load(view.run_id, needed[view.run_id]) if view.run_id in needed else view
            for view in light]


def _no_baseline(document: ScanDocument, start: Start, earlier: list[RunRecord]
                 ) -> str | None:
    """Why a run with no earlier run to compare with is not the first recorded run (None:
    it is)."""
    organization = document["organization"]
    if organization["id"] is None and organization["scanning_account_role"] not in (
            "NOT_IN_ORGANIZATION",):
        return ("the organization could not be identified (DescribeOrganization did not "
                "answer): this run is not compared with the runs of an organization")
    if earlier:
        return (f"each of the {len(earlier)} earlier run(s) of this organization and account "
                "was interrupted: none can be a baseline")
    key = (organization["id"] or "", document["identity"]["account_id"])
    if start.mark and start.mark.get(key):
        return ("the runs recorded before this one started were pruned while it ran "
                "(history.keep, by an overlapping run)")
    return None


def _age_unread(comparison: Comparison, current: RunView, store: HistoryStore) -> None:
    """The earliest createdAt of findings in regions whose findings were not compared (a run
    that read a re-created analyzer only in part), from the grants the latest recorded run
    saw: a finding's age does not restart because one run could not compare it."""
    unread = {u["region"] for u in comparison.block["unknown"] if not u["findings_compared"]}
    findings = [f for f in current.findings if f.region in unread]
    if not findings:
        return
    ages = store.series_ages(current.organization_id, current.account_id)
    for finding in findings:
        seen = ages.get(finding.fingerprint)
        first = earliest(seen, finding.first_seen, finding.created_at) if seen else None
        if first is not None and first != finding.created_at:
            comparison.first_seen[(finding.region, finding.id)] = first


def prepare(document: ScanDocument, settings: HistorySettings,
            start: Start | None = None, known: Mapping[int, FindingView] | None = None
            ) -> Prepared:
    """The document with `changes`, `trend` and `finding_age` (what can be known). `known`:
    views of its findings made while the scan ran (see run_view)."""
    from .analysis import finding_age, trend  # pandas: only where these tables are made

    start = start or Start({} if settings.path is None else None)
    enriched = document.copy()
    enriched["run_id"] = run_id_of(document)
    compared = settings.path is not None or settings.baseline is not None
    current = run_view(document, known) if compared else None
    earlier: list[RunRecord] = []
    candidates: list[RunView] = []
    source, problem = "history", None
    if settings.baseline is not None:
        given = run_view(_baseline_file(settings.baseline, document))
        candidates, source = [replace(given, scan_sha256=_sha256(settings.baseline))], "file"
    comparison = None
    if settings.unavailable is not None and current is not None:
        problem = settings.unavailable
        log.warning("history: %s", problem)
    elif settings.path is not None and current is not None:
        try:
            with HistoryStore(settings.path) as store:
                earlier = store.earlier(current.organization_id, current.account_id,
                                        current.started_at, start.mark, current.run_id)
                if settings.baseline is None:
                    candidates = _candidates(store, current, earlier)
                    if not candidates:
                        problem = _no_baseline(document, start, earlier)
                if problem is None:
                    comparison = compare(current, candidates, source)
                    _age_unread(comparison, current, store)
                store.check_writable()
        except HistoryError as exc:
            problem = settings.named(str(exc))
        if problem is not None:
            log.warning("history: %s", problem)
        if start.mark is None and problem is None and start.error:
            log.warning("history: could not be read when the run started (%s); runs "
                        "recorded since are compared by their finishing time", start.error)
    first_seen: dict[tuple[str, str], str] = {}
    if current is not None:
        # Without a history and without a baseline file, nothing was compared: no block
        # (a null baseline would claim this is the first recorded run).
        if problem is not None and settings.baseline is None:
            enriched["changes"] = first_run(f"the history could not be used: {problem}")
        else:
            if comparison is None or problem is not None:
                comparison = compare(current, candidates, source, problem and
                                     f"the history could not be used: {problem}")
            enriched["changes"] = comparison.block
            first_seen = comparison.first_seen
    if first_seen:
        enriched["findings"] = [
            {**f, "first_seen_at": seen} if (seen := first_seen.get((f["region"], f["id"])))
            else f for f in document["findings"]]
    if settings.path is not None:
        enriched["trend"] = trend([*earlier, _record_of(document)])
    age = finding_age(enriched)
    if age is not None:
        enriched["finding_age"] = age
    return Prepared(enriched, current, settings, first_seen)


def record(document: ScanDocument, settings: HistorySettings, source: str = "scan",
           view: RunView | None = None,
           first_seen: Mapping[tuple[str, str], str] | None = None,
           scan_sha256: str | None = None, commit: Callable[[], bool] | None = None) -> None:
    """Store the run (and prune); a history that cannot be written is a warning.
    `scan_sha256`: the SHA-256 of the scan.json the run wrote (or, for an import, of the file
    imported), which anchors it to its pack when a later run is compared with it. `commit`:
    asked, once the run is written and before it is committed, whether to keep it (the
    pipeline writes the record while the workbook is written, and commits it once every
    report and the manifest are: False leaves the history as it was)."""
    if settings.path is None or settings.unavailable is not None:
        return
    view = replace(view or run_view(document), scan_sha256=scan_sha256)
    try:
        with HistoryStore(settings.path) as store:
            store.record(document, source, view, first_seen, commit)
            if settings.keep is not None:
                store.prune(settings.keep)
    except RecordAbandoned:
        return
    except HistoryError as exc:
        log.warning("the run was not recorded in the history: %s", settings.named(str(exc)))
