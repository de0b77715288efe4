"""The history of runs, in SQLite (the standard library's sqlite3: WAL, a busy timeout).

A series is an organization seen from one scanning account; its runs are numbered in the
order they were recorded (seq). A finding is stored once per distinct state (a new row when
its status, resource or access changes) with `sightings`: spans of consecutive runs of its
series that saw it, the last one open (last_seq NULL) while the latest run still sees it. A
run whose findings did not change therefore writes nothing for them: it closes the spans of
findings it no longer sees and opens spans for new ones. Runs are recorded in one IMMEDIATE
transaction, so two scheduled runs that overlap are both recorded, one after the other.

What this module does not do: decide anything (history.diff), or fail a scan (the caller
turns a HistoryError into a warning).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from document.schema import ScanDocument

from .runs import (
    FindingView,
    GapView,
    RegionView,
    RunView,
    canonical,
    fingerprint_of,
    run_view,
)

STORE_VERSION = 1
BUSY_TIMEOUT_MS = 60_000  # an overlapping run records first; this one waits its turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    organization_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (organization_id, account_id));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    series INTEGER NOT NULL REFERENCES series (id),
    seq INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    role TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    interrupted INTEGER NOT NULL,
    coverage_only INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    incomplete_reasons TEXT NOT NULL,
    regions_total INTEGER NOT NULL,
    covered INTEGER NOT NULL,
    gaps INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    active_findings INTEGER,
    public_findings INTEGER,
    cross_account_findings INTEGER,
    source TEXT NOT NULL,
    recorded_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_series ON runs (series, started_at);
CREATE TABLE IF NOT EXISTS run_regions (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    complete INTEGER NOT NULL,
    findings_collected INTEGER NOT NULL,
    analyzer_arn TEXT,
    PRIMARY KEY (run, region)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_gaps (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    region TEXT NOT NULL,  -- '' for an organization gap
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (run, scope, region, code)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    series INTEGER NOT NULL REFERENCES series (id),
    digest BLOB NOT NULL,
    region TEXT NOT NULL,
    analyzer_arn TEXT NOT NULL,
    finding_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource TEXT,
    owner_account TEXT,
    is_public INTEGER,
    error TEXT,
    status TEXT NOT NULL,
    created_at TEXT,
    updated_at TEXT,
    fingerprint BLOB NOT NULL);
-- One row per (series, digest): kept so by the writer, which reads the series' digests
-- inside its IMMEDIATE transaction (a unique index on random digests cost a second a run).
CREATE INDEX IF NOT EXISTS findings_by_series ON findings (series);
CREATE TABLE IF NOT EXISTS sightings (
    finding INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER,  -- NULL: open, seen by every run of the series since first_seq
    PRIMARY KEY (finding, first_seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sightings_by_last ON sightings (last_seq, finding);
"""


class HistoryError(Exception):
    """The history could not be read or written (corrupt, locked, unwritable, too new)."""


@dataclass(frozen=True)
class RunRecord:
    """One recorded run, as the trend and the baseline choice see it."""

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


def _digest(finding: FindingView) -> bytes:
    """What makes two sightings the same stored finding: the state the history keeps (a
    finding whose grant changes gets a new updatedAt from Access Analyzer)."""
    return hashlib.blake2b(canonical(finding.state), digest_size=16).digest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class HistoryStore:
    """An open history database. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # A run inserts its new findings' digests into a unique index at random places:
            # a larger page cache keeps that index in memory (64 MiB at most).
            self._db.execute("PRAGMA cache_size = -65536")
            self._db.executescript(_SCHEMA)  # idempotent; each statement its own transaction
            with self._write():
                row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('version', ?)",
                                     (str(STORE_VERSION),))
                elif int(row[0]) > STORE_VERSION:
                    raise HistoryError(f"{path}: history version {row[0]} is newer than this "
                                       f"aa-scan understands ({STORE_VERSION})")
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise HistoryError(f"{path}: {exc}") from None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
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

    # -- recording ---------------------------------------------------------------------------
    def record(self, document: ScanDocument, source: str = "scan",
               view: RunView | None = None) -> RunRecord:
        """Record a run (a no-op for a run id already recorded); returns its record.
        `view`: the document's run_view, when the caller has it already."""
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
                self._insert_findings(series, seq, view.findings)
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
            " cross_account_findings, source, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (view.run_id, series, seq, document["started_at"], document["finished_at"],
             document["organization"]["scanning_account_role"], document["tool"]["version"],
             document["schema_version"], summary["complete"], summary["interrupted"],
             summary["coverage_only"], summary["verdict"],
             json.dumps(summary["incomplete_reasons"], ensure_ascii=False),
             summary["regions_total"], summary["covered"], summary["gaps"], summary["errors"],
             summary["active_findings"], summary["public_findings"],
             summary["cross_account_findings"], source, _now()))
        return int(cursor.lastrowid or 0)

    def _insert_regions(self, run: int, view: RunView) -> None:
        self._db.executemany(
            "INSERT INTO run_regions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run, r.region, r.status, r.reason, r.complete, r.findings_collected,
              r.analyzer_arn) for r in view.regions.values()])

    def _insert_gaps(self, run: int, view: RunView) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO run_gaps VALUES (?, ?, ?, ?, ?, ?)",
            [(run, g.scope, g.region or "", g.code, g.severity, g.title) for g in view.gaps])

    def _insert_findings(self, series: int, seq: int, findings: tuple[FindingView, ...]
                         ) -> None:
        known = dict(self._db.execute("SELECT digest, id FROM findings WHERE series = ?",
                                      (series,)))
        digests = [_digest(f) for f in findings]
        next_id = self._db.execute("SELECT coalesce(max(id), 0) + 1 FROM findings").fetchone()[0]
        new = []
        for digest, finding in zip(digests, findings, strict=True):
            if digest not in known:
                known[digest] = next_id
                new.append((next_id, series, digest, *finding.state, fingerprint_of(finding)))
                next_id += 1
        if new:
            self._db.executemany(
                "INSERT INTO findings (id, series, digest, region, analyzer_arn, finding_id, "
                "resource_type, resource, owner_account, is_public, error, status, created_at, "
                "updated_at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new)
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

    def baseline(self, organization_id: str | None, account_id: str, before: str,
                 exclude_run: str | None = None) -> RunRecord | None:
        """The latest run of the series that started before `before` (or in the same second:
        times have one-second resolution, and a recorded run finished first) and was not
        interrupted: what a scheduled run is compared with."""
        candidates = [r for r in self.runs(organization_id, account_id)
                      if r.started_at <= before and not r.interrupted
                      and r.run_id != exclude_run]
        return candidates[-1] if candidates else None

    def load(self, run_id: str) -> RunView:
        """A recorded run as the diff sees it."""
        try:
            row = self._db.execute(
                "SELECT r.id, r.seq, r.series, r.started_at, s.organization_id, s.account_id,"
                " r.interrupted, r.coverage_only, r.schema_version FROM runs r"
                " JOIN series s ON s.id = r.series WHERE r.run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise HistoryError(f"{self.path}: no recorded run {run_id}")
            run, seq, series, started, organization, account, interrupted, coverage, version = row
            regions = {r[0]: RegionView(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5])
                       for r in self._db.execute(
                           "SELECT region, status, reason, complete, findings_collected, "
                           "analyzer_arn FROM run_regions WHERE run = ?", (run,))}
            gaps = tuple(GapView(g[0], g[1] or None, g[2], g[3], g[4]) for g in self._db.execute(
                "SELECT scope, region, code, severity, title FROM run_gaps WHERE run = ?",
                (run,)))
            findings = tuple(
                FindingView(f[0], f[1], f[2], f[3], f[4], f[5],
                            None if f[6] is None else bool(f[6]), f[7], f[8], f[9], f[10], f[11])
                for f in self._db.execute(
                    "SELECT f.region, f.analyzer_arn, f.finding_id, f.resource_type, f.resource,"
                    " f.owner_account, f.is_public, f.error, f.status, f.created_at,"
                    " f.updated_at, f.fingerprint FROM sightings s"
                    " JOIN findings f ON f.id = s.finding"
                    " WHERE f.series = ? AND s.first_seq <= ?"
                    " AND (s.last_seq IS NULL OR s.last_seq >= ?)", (series, seq, seq)))
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: {exc}") from None
        return RunView(run_id, started, organization or None, account, bool(interrupted),
                       bool(coverage), regions, gaps, findings, version)

    # -- pruning -----------------------------------------------------------------------------
    def prune(self, keep: int) -> int:
        """Keep the `keep` most recent runs of each series (by start time); returns how many
        runs were removed. Findings no remaining run saw go with them."""
        removed = 0
        try:
            with self._write():
                for (series,) in self._db.execute("SELECT id FROM series").fetchall():
                    old = self._db.execute(
                        "SELECT id, seq FROM runs WHERE series = ? ORDER BY started_at DESC, "
                        "seq DESC LIMIT -1 OFFSET ?", (series, keep)).fetchall()
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
