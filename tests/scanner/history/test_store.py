"""The SQLite history: what a run records, what it costs, and how it fails."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from scanner.history.runs import run_view
from scanner.history.store import HistoryError, HistoryStore
from tests.builders import DENIED, changed, covered, finding, make_document, region_scan

ORG, ACCOUNT = "o-abcdef1234", "222222222222"


def document(run_id: str, started: str, findings=(), interrupted=False, **kwargs):
    doc = make_document([covered("us-east-1", list(findings)),
                         region_scan("eu-west-1", []),
                         region_scan("ap-east-1", error=DENIED)],
                        interrupted=interrupted, **kwargs)
    doc["run_id"] = run_id
    doc["started_at"] = started
    return doc


def stable(n: int, **kwargs):
    return [finding(id=f"00000000-0000-4000-8000-{i:012d}", resource=f"arn:aws:s3:::b{i}",
                    **kwargs) for i in range(n)]


def test_a_recorded_run_reads_back_as_it_was_written(tmp_path):
    doc = document("run-1", "2026-11-01T00:00:00Z", [*stable(3), finding(is_public=True)])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        record = store.record(doc)
        assert store.record(doc) == record  # the same run twice is one run
        loaded = store.load("run-1")
    original = run_view(doc)
    assert sorted(f.state for f in loaded.findings) == sorted(
        f.state for f in original.findings)
    assert loaded.regions == original.regions and set(loaded.gaps) == set(original.gaps)
    assert (record.seq, record.active_findings, record.public_findings) == (1, 4, 1)


def test_is_public_reads_back_as_it_was_true_false_or_unknown(tmp_path):
    """Stored as 1, 0 or NULL, read back as True, False or None: what the changes block
    writes into scan.json, and the text a state's digest is made of."""
    unknown = changed(finding(resource="arn:aws:s3:::unknown"), is_public=None)
    doc = document("run-1", "2026-11-01T00:00:00Z",
                   [finding(resource="arn:aws:s3:::public", is_public=True),
                    finding(resource="arn:aws:s3:::private"), unknown])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(doc)
        loaded = store.load("run-1")
    assert {f.resource: f.is_public for f in loaded.findings} == {
        "arn:aws:s3:::public": True, "arn:aws:s3:::private": False,
        "arn:aws:s3:::unknown": None}
    assert {type(f.is_public) for f in loaded.findings} == {bool, type(None)}
    assert sorted(repr(f.state) for f in loaded.findings) == sorted(
        repr(f.state) for f in run_view(doc).findings)


def test_an_unchanged_run_adds_no_finding_rows(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        for week in range(5):
            store.record(document(f"run-{week}", f"2026-11-{week + 1:02d}T00:00:00Z",
                                  stable(50)))
        edited = stable(50)
        edited[0] = changed(edited[0], status="ARCHIVED")
        store.record(document("run-5", "2026-11-06T00:00:00Z", edited,
                              finding_statuses=("ACTIVE", "ARCHIVED")))
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == 51  # 50 + 1 changed
    spans = db.execute("SELECT first_seq, coalesce(last_seq, -1), count(*) FROM sightings "
                       "GROUP BY first_seq, last_seq ORDER BY 1, 2").fetchall()
    # 49 findings seen by all six runs: one open span each, written once; the one that
    # changed: its old state closed at run 5, its new state open from run 6.
    assert sorted(spans) == [(1, -1, 49), (1, 5, 1), (6, -1, 1)]  # -1: open
    with HistoryStore(path) as store:
        assert len(store.load("run-2").findings) == 50
        assert {f.status for f in store.load("run-5").findings} == {"ACTIVE", "ARCHIVED"}


def test_a_finding_that_returns_is_seen_again_not_in_between(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(document("a", "2026-11-01T00:00:00Z", stable(2)))
        store.record(document("b", "2026-11-02T00:00:00Z", stable(1)))
        store.record(document("c", "2026-11-03T00:00:00Z", stable(2)))
        assert [len(store.load(r).findings) for r in "abc"] == [2, 1, 2]


def test_the_baseline_is_the_latest_earlier_run_never_an_interrupted_one(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(document("a", "2026-11-01T00:00:00Z"))
        store.record(document("b", "2026-11-08T00:00:00Z"))
        store.record(document("c", "2026-11-15T00:00:00Z", interrupted=True))
        store.record(document("z", "2026-11-20T00:00:00Z", account="333333333333"))
        assert store.baseline(ORG, ACCOUNT, "2026-11-22T00:00:00Z").run_id == "b"
        assert store.baseline(ORG, ACCOUNT, "2026-11-07T23:59:59Z").run_id == "a"
        assert store.baseline(ORG, ACCOUNT, "2026-10-31T23:59:59Z") is None
        # A recorded run that started in the same second is the earlier one.
        assert store.baseline(ORG, ACCOUNT, "2026-11-08T00:00:00Z").run_id == "b"
        assert store.baseline(ORG, ACCOUNT, "2026-11-08T00:00:00Z", "b").run_id == "a"
        assert store.baseline(ORG, "333333333333", "2026-12-01T00:00:00Z").run_id == "z"
        assert store.baseline("o-other00000", ACCOUNT, "2026-12-01T00:00:00Z") is None


def test_prune_keeps_the_latest_runs_and_the_findings_they_saw(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record(document("a", "2026-11-01T00:00:00Z", stable(3)))
        store.record(document("b", "2026-11-02T00:00:00Z",
                              [finding(id="gone-later", resource="x")]))
        store.record(document("c", "2026-11-03T00:00:00Z", stable(2)))
        store.record(document("d", "2026-11-04T00:00:00Z", stable(2)))
        assert store.prune(keep=2) == 2
        assert [r.run_id for r in store.runs(ORG, ACCOUNT)] == ["c", "d"]
        assert [len(store.load(r).findings) for r in "cd"] == [2, 2]
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM run_regions").fetchone()[0] == 6


def _record(path: str, run: str, started: str, seen) -> None:
    with HistoryStore(__import__("pathlib").Path(path)) as store:
        store.record(document(run, started, stable(200)))
    seen.put(run)


def test_two_overlapping_runs_are_both_recorded_intact(tmp_path):
    path = str(tmp_path / "h.sqlite")
    queue: multiprocessing.Queue[str] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_record, args=(path, f"run-{i}",
                                                             f"2026-11-0{i + 1}T00:00:00Z",
                                                             queue)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with HistoryStore(tmp_path / "h.sqlite") as store:
        runs = store.runs(ORG, ACCOUNT)
        assert sorted(r.run_id for r in runs) == ["run-0", "run-1"]
        assert sorted(r.seq for r in runs) == [1, 2]
        assert [len(store.load(r.run_id).findings) for r in runs] == [200, 200]


def test_a_corrupt_or_newer_history_is_a_clear_error(tmp_path):
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match=r"corrupt\.sqlite"):
        HistoryStore(corrupt)
    newer = tmp_path / "newer.sqlite"
    HistoryStore(newer).close()
    db = sqlite3.connect(newer)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer"):
        HistoryStore(newer)
    with pytest.raises(HistoryError):
        HistoryStore(tmp_path / "file" / "h.sqlite") if (tmp_path / "file").write_text("x") \
            else None


def _open(path: str, barrier, errors) -> None:
    barrier.wait()
    try:
        HistoryStore(__import__("pathlib").Path(path)).close()
    except HistoryError as exc:
        errors.put(str(exc))


def test_many_processes_opening_a_new_history_at_once_take_turns(tmp_path):
    """Switching a new file to WAL does not wait on SQLite's busy handler: before opening
    retried it, 6 of 40 rounds of three processes failed with "database is locked" (so 30
    rounds pass by chance less than once in a hundred)."""
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for attempt in range(30):
        barrier = context.Barrier(3)
        path = str(tmp_path / f"h{attempt}.sqlite")
        workers = [context.Process(target=_open, args=(path, barrier, errors))
                   for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * 3
        assert errors.empty(), errors.get()


def test_a_new_history_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "h.sqlite"
    with HistoryStore(path) as store:
        store.record(document("a", "2026-11-01T00:00:00Z", stable(2)))
        assert (path.stat().st_mode & 0o777) == 0o600
        assert (tmp_path / "h.sqlite-wal").stat().st_mode & 0o077 == 0


def test_prune_never_removes_what_the_next_run_is_compared_with(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(document("complete", "2026-11-01T00:00:00Z"))
        store.record(document("stopped", "2026-11-08T00:00:00Z", interrupted=True))
        assert store.prune(keep=1) == 0
        assert store.baseline(ORG, ACCOUNT, "2026-11-09T00:00:00Z").run_id == "complete"
    with HistoryStore(tmp_path / "regions.sqlite") as store:
        # eu-west-1 assessed in run a only; b and c exclude it: a is its latest knowledge.
        store.record(document("a", "2026-11-01T00:00:00Z"))
        for run, day in (("b", 2), ("c", 3)):
            excluded = make_document([covered("us-east-1", []),
                                      region_scan("eu-west-1", excluded="left out"),
                                      region_scan("ap-east-1", error=DENIED)])
            excluded.update(run_id=run, started_at=f"2026-11-0{day}T00:00:00Z")
            store.record(excluded)
        assert store.prune(keep=1) == 1
        assert [r.run_id for r in store.runs(ORG, ACCOUNT)] == ["a", "c"]


# The tables a history of version 1 (aa-scan until this change) holds.
V1_SCHEMA = """
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


def test_a_version_1_history_is_upgraded_in_place_and_compared(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('version', '1')")
    db.execute("INSERT INTO series (id, organization_id, account_id, last_seq) "
               "VALUES (1, ?, ?, 1)", (ORG, ACCOUNT))
    db.execute("INSERT INTO runs VALUES (1, 'old', 1, 1, '2026-10-01T00:00:00Z', "
               "'2026-10-01T00:01:00Z', 'DELEGATED_ADMINISTRATOR', '0.9', 1, 1, 0, 0, "
               "'NON_COMPLIANT', '[]', 3, 1, 1, 1, 0, 0, 0, 'scan', '2026-10-01T00:01:00Z')")
    db.execute("INSERT INTO run_regions VALUES (1, 'us-east-1', 'COVERED', NULL, 1, 1, NULL)")
    db.execute("INSERT INTO run_regions VALUES (1, 'eu-west-1', 'GAP', 'NO_ANALYZER', 1, 0, "
               "NULL)")
    db.execute("INSERT INTO run_gaps VALUES (1, 'region', 'eu-west-1', 'NO_ANALYZER', 'HIGH', "
               "'No analyzer')")
    db.close()
    with HistoryStore(path) as store:
        old = store.load("old")
        assert old.requirement is None
        assert [(g.code, g.subject) for g in old.gaps] == [("NO_ANALYZER", None)]
        store.record(document("new", "2026-11-01T00:00:00Z"))
        assert store.load("new").requirement == ("ORGANIZATION",)
    assert sqlite3.connect(path).execute(
        "SELECT value FROM meta WHERE key = 'version'").fetchone() == ("2",)


