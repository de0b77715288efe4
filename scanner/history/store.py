"""The history of runs, in SQLite (the standard library's sqlite3: WAL, a busy timeout).

A series is an organization seen from one scanning account; its runs are numbered in the
order they were recorded (seq). A finding is stored once per distinct state (a new row when
its status, resource or access changes) with `sightings`: spans of consecutive runs of its
series that saw it, the last one open (last_seq NULL) while the latest run still sees it. A
run whose findings did not change therefore writes nothing for them: it closes the spans of
findings it no longer sees and opens spans for new ones. Runs are recorded in one IMMEDIATE
transaction, so two scheduled runs that overlap are both recorded, one after the other.

Which earlier runs a run may be compared with is exact, whatever the clock says: `marks()`,
read when the run starts, is the last seq of every series then; a run recorded after that
(two runs started in the same second) is never the baseline of this one.

What this module does not do: decide anything (history.diff), or fail a scan (the caller
turns a HistoryError into a warning).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.document.rules import VERDICTS, one_of, utc_text
from reports.document.schema import ScanDocument
from reports.document.trail import TrendPoint

from .baselines import still_needed
from .runs import (
    ExceptionView,
    FindingView,
    GapView,
    RegionView,
    RunView,
    access_json,
    canonical,
    earliest,
    run_view,
)
from .tables import MIGRATE_1, SCHEMA, STORE_VERSION, statements

BUSY_TIMEOUT_MS = 60_000  # an overlapping run records first; this one waits its turn


class RecordAbandoned(Exception):
    """The run was left unrecorded: the one recording it was told not to commit (its
    reports were not all written)."""


class HistoryError(Exception):
    """The history could not be read or written (corrupt, locked, unwritable, too new)."""


@dataclass(frozen=True)
class RunRecord:
    """One recorded run, as the trend and the baseline choice see it: the scan document's
    trend point (reports.document.trail.TrendPoint: every key of it, typed alike, which
    `trend_point` checks) and what the store adds (seq, finished_at, interrupted,
    coverage_only, source). Attributes, not a dict: callers read `record.run_id`."""

    run_id: str
    seq: int
    started_at: str
    finished_at: str
    complete: bool
    interrupted: bool
    coverage_only: bool
    verdict: str
    regions_total: int
    covered: int
    gaps: int
    errors: int
    active_findings: int | None
    public_findings: int | None
    source: str

    def trend_point(self) -> TrendPoint:
        """The run as a point of the document's trend."""
        return TrendPoint(run_id=self.run_id, started_at=self.started_at,
                          verdict=one_of(self.verdict, VERDICTS),
                          complete=self.complete, regions_total=self.regions_total,
                          covered=self.covered, gaps=self.gaps, errors=self.errors,
                          active_findings=self.active_findings,
                          public_findings=self.public_findings)


def _digest(finding: FindingView) -> bytes:
    """What makes two sightings the same stored finding: the state the history keeps, what
    it grants included (a principal that changes under the same id and updatedAt is a new
    state too)."""
    return hashlib.blake2b(canonical(finding.state), digest_size=16).digest()


Mark = dict[tuple[str, str], int]  # (organization, account) -> the last seq recorded

# A column selected as "name [aa_scan_boolean]" reads back as a bool (NULL as None): how
# is_public is stored (0 or 1). A converter is given the stored value's text.
_BOOLEAN = "aa_scan_boolean"
sqlite3.register_converter(_BOOLEAN, {b"0": False, b"1": True}.__getitem__)


def _create_private(path: Path) -> None:
    """A new history file readable by its owner only (SQLite gives its -wal and -shm files
    the database's permissions): it holds every finding of the organization."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _now() -> str:
    return utc_text(dt.datetime.now(dt.UTC))


class HistoryStore:
    """An open history database. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False,
                                       detect_types=sqlite3.PARSE_COLNAMES)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._wal()
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # A run inserts its new findings' digests into a unique index at random places:
            # a larger page cache keeps that index in memory (64 MiB at most).
            self._db.execute("PRAGMA cache_size = -65536")
            with self._write():
                self._migrate()
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise HistoryError(f"{path}: {exc}") from None

    def _wal(self) -> None:
        """Switch to WAL, waiting like every other write: SQLite does not call the busy
        handler for this switch, so two processes opening a new history at once would fail
        with "database is locked" instead of taking turns."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.005
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _migrate(self) -> None:
        """Create the tables of a new history, or bring an older one up to this version
        (inside the opening transaction: a second process waits, then finds it done)."""
        tables = {name for (name,) in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if "meta" in tables:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            version = int(row[0]) if row else None
        if version is not None and version > STORE_VERSION:
            raise HistoryError(f"{self.path}: history version {version} is newer than this "
                               f"aa-scan understands ({STORE_VERSION})")
        if version == 1:
            for statement in statements(MIGRATE_1):
                self._db.execute(statement)
        for statement in statements(SCHEMA):  # idempotent
            self._db.execute(statement)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)",
                         (str(STORE_VERSION),))

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (a close that fails is not an error: nothing is pending)."""
        with suppress(sqlite3.Error):
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction: writers queue (busy timeout) instead of failing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def check_writable(self) -> None:
        """HistoryError unless a run could be recorded now (a read-only file or file system
        reads fine and fails only when the run is recorded, after its reports)."""
        try:
            with self._write():
                self._db.execute("UPDATE meta SET value = value WHERE key = 'version'")
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot be written: {exc}") from None

    # -- recording ---------------------------------------------------------------------------
    def record(self, document: ScanDocument, source: str = "scan",
               view: RunView | None = None,
               first_seen: Mapping[tuple[str, str], str] | None = None,
               commit: Callable[[], bool] | None = None) -> RunRecord:
        """Record a run (a no-op for a run id already recorded); returns its record.
        `view`: the document's run_view, when the caller has it already; `first_seen`: the
        earliest createdAt of findings matched to older ones (the comparison's); `commit`:
        asked, once the run is written and before it is committed, whether to commit it
        (False: RecordAbandoned, nothing recorded)."""
        view = view or run_view(document)
        try:
            with self._write():
                existing = self._record_of(view.run_id)
                if existing is not None:
                    return existing
                series = self._series(view.organization_id or "", view.account_id)
                seq = self._db.execute("UPDATE series SET last_seq = last_seq + 1 WHERE id = ? "
                                       "RETURNING last_seq", (series,)).fetchone()[0]
                run = self._insert_run(document, view, series, seq, source)
                self._insert_regions(run, view)
                self._insert_gaps(run, view)
                self._insert_exceptions(run, view)
                self._insert_findings(series, seq, view.findings, first_seen or {})
                if commit is not None and not commit():
                    raise RecordAbandoned
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        record = self._record_of(view.run_id)
        assert record is not None
        return record

    def _series(self, organization: str, account: str) -> int:
        self._db.execute("INSERT OR IGNORE INTO series (organization_id, account_id) "
                         "VALUES (?, ?)", (organization, account))
        row = self._db.execute("SELECT id FROM series WHERE organization_id = ? AND "
                               "account_id = ?", (organization, account)).fetchone()
        return int(row[0])

    def _insert_run(self, document: ScanDocument, view: RunView, series: int, seq: int,
                    source: str) -> int:
        summary = document["summary"]
        cursor = self._db.execute(
            "INSERT INTO runs (run_id, series, seq, started_at, finished_at, role, tool_version,"
            " schema_version, complete, interrupted, coverage_only, verdict, incomplete_reasons,"
            " regions_total, covered, gaps, errors, active_findings, public_findings,"
            " cross_account_findings, source, recorded_at, requirement, trusted_access,"
            " not_judged, facts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?)",
            (view.run_id, series, seq, document["started_at"], document["finished_at"],
             document["organization"]["scanning_account_role"], document["tool"]["version"],
             document["schema_version"], summary["complete"], summary["interrupted"],
             summary["coverage_only"], summary["verdict"],
             json.dumps(summary["incomplete_reasons"], ensure_ascii=False),
             summary["regions_total"], summary["covered"], summary["gaps"], summary["errors"],
             summary["active_findings"], summary["public_findings"],
             summary["cross_account_findings"], source, _now(),
             None if view.requirement is None else json.dumps(list(view.requirement)),
             view.trusted_access,
             None if view.not_judged is None else json.dumps(list(view.not_judged)),
             json.dumps({"listed": view.listed, "vantage": list(view.vantage),
                         "scan_sha256": view.scan_sha256,
                         "statuses": None if view.statuses is None else list(view.statuses)})))
        return int(cursor.lastrowid or 0)

    def _insert_regions(self, run: int, view: RunView) -> None:
        self._db.executemany(
            "INSERT INTO run_regions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run, r.region, r.status, r.reason, r.complete, r.findings_collected,
              r.analyzer_arn, r.findings_scope,
              None if r.active_types is None else json.dumps(list(r.active_types)))
             for r in view.regions.values()])

    def _insert_gaps(self, run: int, view: RunView) -> None:
        self._db.executemany(
            "INSERT INTO run_gaps VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run, g.scope, g.region or "", g.code, g.severity, g.title, g.subject)
             for g in view.gaps])

    def _insert_exceptions(self, run: int, view: RunView) -> None:
        """The run's exceptions, each with what it accepted (its gaps by identity, its
        findings by region and id)."""
        if not view.exceptions:
            return
        gaps: dict[str, list[tuple[str, str, str, str | None]]] = {}
        for gap in view.gaps:
            if gap.exception is not None:
                gaps.setdefault(gap.exception, []).append(gap.identity)
        findings: dict[str, list[tuple[str, str]]] = {}
        for finding in view.findings:
            key = finding.source.get("exception") if finding.source is not None else None
            if key is not None:
                findings.setdefault(key["key"], []).append((finding.region, finding.id))
        self._db.executemany(
            "INSERT INTO run_exceptions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run, e.key, position, e.state, e.expires, e.owner, e.reason, e.ticket,
              json.dumps({"gaps": gaps.get(e.key, []), "findings": findings.get(e.key, []),
                          "public": e.public}, ensure_ascii=False))
             for position, e in enumerate(view.exceptions)])

    def _exceptions(self, run: int) -> tuple[tuple[ExceptionView, ...],
                                             dict[tuple[str, str, str, str | None], str],
                                             dict[tuple[str, str], str]]:
        """A recorded run's exceptions, the gaps they accepted (by identity) and the
        findings (by region and id)."""
        views = []
        gaps: dict[tuple[str, str, str, str | None], str] = {}
        findings: dict[tuple[str, str], str] = {}
        for key, state, expires, owner, reason, ticket, accepted in self._db.execute(
                "SELECT key, state, expires, owner, reason, ticket, accepted FROM "
                "run_exceptions WHERE run = ? ORDER BY position", (run,)):
            what = json.loads(accepted)
            public = what.get("public")  # absent: recorded before it was kept
            views.append(ExceptionView(key, state, expires, owner, reason, ticket,
                                       public if isinstance(public, bool) else None))
            for scope, region, code, subject in what.get("gaps", []):
                gaps[(scope, region, code, subject)] = key
            findings.update({(region, finding): key
                             for region, finding in what.get("findings", [])})
        return tuple(views), gaps, findings

    def _insert_findings(self, series: int, seq: int, findings: tuple[FindingView, ...],
                         first_seen: Mapping[tuple[str, str], str]) -> None:
        known = dict(self._db.execute("SELECT digest, id FROM findings WHERE series = ?",
                                      (series,)))
        had_rows = bool(known)
        digests = [_digest(f) for f in findings]
        next_id = self._db.execute("SELECT coalesce(max(id), 0) + 1 FROM findings").fetchone()[0]
        new = []
        older = []  # stored rows that learned an earlier first_seen (the comparison's)
        for digest, finding in zip(digests, findings, strict=True):
            carried = first_seen.get((finding.region, finding.id), finding.first_seen)
            if digest not in known:
                known[digest] = next_id
                new.append((next_id, series, digest, *finding.state, access_json(finding),
                            carried))
                next_id += 1
            elif carried is not None:
                older.append((carried, known[digest], carried))
        if new and had_rows:
            new = self._first_seen(series, new)
        self._db.executemany("UPDATE findings SET first_seen = ? WHERE id = ? AND "
                             "(first_seen IS NULL OR first_seen > ?)", older)
        if new:
            self._db.executemany(
                "INSERT INTO findings (id, series, digest, region, analyzer_arn, finding_id, "
                "resource_type, resource, owner_account, is_public, error, status, created_at, "
                "updated_at, fingerprint, access, first_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new)
        seen = {known[d] for d in digests}
        # Open spans (last_seq NULL) were seen by the previous run of the series: a finding
        # seen again needs no write at all; one gone closes its span; one new opens one.
        open_now = {finding for (finding,) in self._db.execute(
            "SELECT s.finding FROM sightings s JOIN findings f ON f.id = s.finding "
            "WHERE f.series = ? AND s.last_seq IS NULL", (series,))}
        self._db.executemany("UPDATE sightings SET last_seq = ? WHERE finding = ? AND "
                             "last_seq IS NULL", ((seq - 1, f) for f in open_now - seen))
        self._db.executemany("INSERT INTO sightings (finding, first_seq, last_seq) "
                             "VALUES (?, ?, NULL)", ((f, seq) for f in seen - open_now))

    _FINGERPRINT, _CREATED, _FIRST_SEEN = 14, 12, -1  # in a new findings row

    def grant_ages(self, series: int) -> dict[bytes, str]:
        """The earliest createdAt of each grant the latest recorded run of the series saw
        (rows with an open span): a grant seen without a break keeps its age; one that was
        gone and came back starts again."""
        return dict(self._db.execute(
            "SELECT f.fingerprint, min(coalesce(f.first_seen, f.created_at)) FROM findings f"
            " JOIN sightings s ON s.finding = f.id WHERE f.series = ? AND s.last_seq IS NULL"
            " GROUP BY f.fingerprint", (series,)))

    def series_ages(self, organization_id: str | None, account_id: str) -> dict[bytes, str]:
        """grant_ages of a series by its organization and account ({}: no such series)."""
        try:
            row = self._db.execute("SELECT id FROM series WHERE organization_id = ? AND "
                                   "account_id = ?", (organization_id or "", account_id)
                                   ).fetchone()
            return self.grant_ages(row[0]) if row else {}
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None

    def _first_seen(self, series: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """New rows with the earliest createdAt of their grant when the previous run saw it
        under another id (an analyzer re-created; a run imported later), whatever run
        compared what (grant_ages)."""
        grants = self.grant_ages(series)
        out = []
        for row in rows:
            seen = grants.get(row[self._FINGERPRINT])
            if seen is not None:
                first = earliest(seen, row[self._FIRST_SEEN], row[self._CREATED])
                if first is not None and first != row[self._CREATED]:
                    row = (*row[:self._FIRST_SEEN], first)
            out.append(row)
        return out

    # -- reading -----------------------------------------------------------------------------
    _RECORD_COLUMNS = ("run_id, seq, started_at, finished_at, complete, interrupted, "
                       "coverage_only, verdict, regions_total, covered, gaps, errors, "
                       "active_findings, public_findings, source")

    def _record_of(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(f"SELECT {self._RECORD_COLUMNS} FROM runs WHERE run_id = ?",
                               (run_id,)).fetchone()
        return self._record(row) if row else None

    @staticmethod
    def _record(row: Any) -> RunRecord:
        (run_id, seq, started, finished, complete, interrupted, coverage_only, verdict, total,
         covered, gaps, errors, active, public, source) = row
        return RunRecord(run_id, seq, started, finished, bool(complete), bool(interrupted),
                         bool(coverage_only), verdict, total, covered, gaps, errors, active,
                         public, source)

    def marks(self) -> Mark:
        """The last seq of every series: what had been recorded when a run started."""
        try:
            return {(org, account): seq for org, account, seq in self._db.execute(
                "SELECT organization_id, account_id, last_seq FROM series")}
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None

    def runs(self, organization_id: str | None, account_id: str) -> list[RunRecord]:
        """Every recorded run of a series, oldest first (by start time)."""
        try:
            rows = self._db.execute(
                f"SELECT {self._RECORD_COLUMNS} FROM runs WHERE series = (SELECT id FROM series"
                " WHERE organization_id = ? AND account_id = ?) ORDER BY started_at, seq",
                (organization_id or "", account_id)).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        return [self._record(row) for row in rows]

    def earlier(self, organization_id: str | None, account_id: str, started_at: str,
                mark: Mark | None, exclude_run: str | None = None) -> list[RunRecord]:
        """The runs of a series a run that started at `started_at` may look back on, oldest
        first: recorded before it started (by `mark`, when it was read; else finished by
        then, to the second) and not started after it."""
        last = None if mark is None else mark.get((organization_id or "", account_id), 0)
        return [r for r in self.runs(organization_id, account_id)
                if r.run_id != exclude_run and r.started_at <= started_at
                and (r.seq <= last if last is not None else r.finished_at <= started_at)]

    def baseline(self, organization_id: str | None, account_id: str, before: str,
                 exclude_run: str | None = None, mark: Mark | None = None
                 ) -> RunRecord | None:
        """The latest run that may be this run's baseline (see `earlier`) and was not
        interrupted."""
        candidates = [r for r in self.earlier(organization_id, account_id, before, mark,
                                              exclude_run) if not r.interrupted]
        return candidates[-1] if candidates else None

    def load(self, run_id: str, regions: Collection[str] | None = None,
             organization_gaps: bool = True) -> RunView:
        """A recorded run as the diff sees it: every region's status; the gaps and findings
        of `regions` only when given (and the organization's gaps unless told not to)."""
        try:
            row = self._db.execute(
                "SELECT r.id, r.seq, r.series, r.started_at, s.organization_id, s.account_id,"
                " r.interrupted, r.coverage_only, r.schema_version, r.requirement,"
                " r.finished_at, r.trusted_access, r.not_judged, r.facts"
                " FROM runs r JOIN series s ON s.id = r.series"
                " WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise HistoryError(f"{self.path}: no recorded run {run_id}")
            (run, seq, series, started, organization, account, interrupted, coverage, version,
             requirement, finished, trusted, not_judged, facts) = row
            known = json.loads(facts) if facts else {}
            views = {r[0]: RegionView(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5], r[6],
                                      None if r[7] is None else tuple(json.loads(r[7])))
                     for r in self._db.execute(
                         "SELECT region, status, reason, complete, findings_collected, "
                         "analyzer_arn, findings_scope, active_types FROM run_regions "
                         "WHERE run = ?", (run,))}
            wanted = None if regions is None else set(regions)
            exceptions, accepted_gaps, accepted_findings = self._exceptions(run)
            gaps = tuple(
                GapView(g[0], g[1] or None, g[2], g[3], g[4], g[5],
                        accepted_gaps.get((g[0], g[1], g[2], g[5])))
                for g in self._db.execute(
                    "SELECT scope, region, code, severity, title, subject FROM run_gaps"
                    " WHERE run = ? ORDER BY rowid", (run,))
                if wanted is None or (g[1] in wanted if g[1] else organization_gaps))
            findings = self._findings(series, seq, wanted)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        return RunView(run_id, started, organization or None, account, bool(interrupted),
                       bool(coverage), views, gaps, findings, version,
                       None if requirement is None else tuple(json.loads(requirement)),
                       finished, None if trusted is None else bool(trusted),
                       None if not_judged is None else tuple(json.loads(not_judged)),
                       listed=known.get("listed", True),
                       statuses=None if known.get("statuses") is None
                       else tuple(known["statuses"]),
                       vantage=tuple(known.get("vantage") or (account,)),
                       scan_sha256=known.get("scan_sha256"), exceptions=exceptions,
                       accepted_findings=accepted_findings)

    def _findings(self, series: int, seq: int, regions: set[str] | None
                  ) -> tuple[FindingView, ...]:
        # Rows as FindingViews at once: is_public read back as a bool by sqlite3 itself
        # (_BOOLEAN), the view's `source` none. 80,000 rows in a third of the time of a
        # view made from each row's values.
        query = ("SELECT f.region, f.analyzer_arn, f.finding_id, f.resource_type, f.resource,"
                 f' f.owner_account, f.is_public AS "is_public [{_BOOLEAN}]", f.error,'
                 " f.status, f.created_at, f.updated_at, f.fingerprint, f.access,"
                 " f.first_seen, NULL FROM sightings s"
                 " JOIN findings f ON f.id = s.finding"
                 " WHERE f.series = ? AND s.first_seq <= ?"
                 " AND (s.last_seq IS NULL OR s.last_seq >= ?)")
        parameters: list[object] = [series, seq, seq]
        if regions is not None:
            if not regions:
                return ()
            query += f" AND f.region IN ({', '.join('?' * len(regions))})"
            parameters += sorted(regions)
        return tuple(map(FindingView._make, self._db.execute(query, parameters)))

    def load_regions(self, run_id: str) -> RunView:
        """A run's statuses, requirement and organization gaps, without its regions' gaps
        and findings (cheap: what the choice of a region's baseline reads)."""
        return self.load(run_id, regions=())

    # -- pruning -----------------------------------------------------------------------------
    def prune(self, keep: int) -> int:
        """Keep the `keep` most recent runs of each series (by start time), and never the
        runs a next run is compared with: the latest one not interrupted, and for each region
        the latest one that knew its gaps and the latest that knew its findings. Returns how
        many runs were removed; findings no remaining run saw go with them."""
        removed = 0
        try:
            with self._write():
                for (series,) in self._db.execute("SELECT id FROM series").fetchall():
                    protected = self._protected(series)
                    old = [r for r in self._db.execute(
                        "SELECT id, seq FROM runs WHERE series = ? ORDER BY started_at DESC, "
                        "seq DESC LIMIT -1 OFFSET ?", (series, keep)).fetchall()
                        if r[0] not in protected]
                    if not old:
                        continue
                    self._db.executemany("DELETE FROM runs WHERE id = ?", [(r[0],) for r in old])
                    removed += len(old)
                    kept = [s for (s,) in self._db.execute(
                        "SELECT seq FROM runs WHERE series = ? ORDER BY seq", (series,))]
                    self._trim(series, kept)
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        return removed

    def _protected(self, series: int) -> set[int]:
        """The runs of a series a next run may be compared with (see prune)."""
        runs = self._db.execute(
            "SELECT id, run_id FROM runs WHERE series = ? AND NOT interrupted"
            " ORDER BY started_at DESC, seq DESC", (series,)).fetchall()
        ids = {run_id: run for run, run_id in runs}
        views = [self.load_regions(run_id) for _, run_id in runs]
        return {ids[run_id] for run_id in still_needed(views)}

    def _trim(self, series: int, kept: list[int]) -> None:
        """Drop sightings no kept run falls in, and findings left without a sighting."""
        if not kept:
            self._db.execute("DELETE FROM sightings WHERE finding IN "
                             "(SELECT id FROM findings WHERE series = ?)", (series,))
        else:
            spans = self._db.execute(
                "SELECT s.finding, s.first_seq, s.last_seq FROM sightings s JOIN findings f"
                " ON f.id = s.finding WHERE f.series = ?", (series,)).fetchall()
            def seen_by_a_kept_run(first: int, last: int | None) -> bool:
                at = bisect.bisect_left(kept, first)
                return at < len(kept) and (last is None or kept[at] <= last)

            gone = [(finding, first) for finding, first, last in spans
                    if not seen_by_a_kept_run(first, last)]
            self._db.executemany("DELETE FROM sightings WHERE finding = ? AND first_seq = ?",
                                 gone)
        self._db.execute("DELETE FROM findings WHERE series = ? AND id NOT IN "
                         "(SELECT finding FROM sightings)", (series,))
