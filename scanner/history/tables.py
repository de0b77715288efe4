"""The history's SQLite tables: the schema of this version, and the migration from older ones.

A version number in the `meta` table says which schema a file holds; HistoryStore (store)
creates the tables of a new file or migrates an older one, in the transaction that opens
it. A newer version than STORE_VERSION is refused there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

STORE_VERSION = 2  # 2: gap subjects, requirements, zones of trust, access, first seen

SCHEMA = """
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
    recorded_at TEXT NOT NULL,
    requirement TEXT,  -- coverage_types as JSON; NULL: recorded before version 2
    trusted_access INTEGER,  -- NULL: unknown (or recorded before version 2)
    not_judged TEXT,  -- organization-wide requirements not judged (JSON); NULL: not recorded
    facts TEXT);  -- what else bounds what it knew (JSON: listed, statuses, vantage)
CREATE INDEX IF NOT EXISTS runs_by_series ON runs (series, started_at);
CREATE TABLE IF NOT EXISTS run_regions (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    complete INTEGER NOT NULL,
    findings_collected INTEGER NOT NULL,
    analyzer_arn TEXT,
    findings_scope TEXT,
    active_types TEXT,  -- types with an ACTIVE analyzer (JSON); NULL: not recorded
    PRIMARY KEY (run, region)) WITHOUT ROWID;
-- Every gap of a run, one row each: no key of (scope, region, code) can fold two gaps into
-- one (a region can hold a NOT_ACTIVE gap per required analyzer type).
CREATE TABLE IF NOT EXISTS run_gaps (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    region TEXT NOT NULL,  -- '' for an organization gap
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    subject TEXT);  -- the analyzer type ('' none); NULL: recorded before version 2
CREATE INDEX IF NOT EXISTS run_gaps_by_run ON run_gaps (run, region);
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
    fingerprint BLOB NOT NULL,
    access TEXT,  -- principal, action, condition (JSON); NULL: recorded before version 2
    first_seen TEXT);  -- the grant's earliest createdAt, when older than its own
-- One row per (series, digest): kept so by the writer, which reads the series' digests
-- inside its IMMEDIATE transaction (a unique index on random digests cost a second a run).
CREATE INDEX IF NOT EXISTS findings_by_series ON findings (series);
CREATE TABLE IF NOT EXISTS sightings (
    finding INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER,  -- NULL: open, seen by every run of the series since first_seq
    PRIMARY KEY (finding, first_seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sightings_by_last ON sightings (last_seq, finding);
-- Issue 23: each run's exceptions (accepted risk) and what each accepted, so a gap or a
-- public finding accepted in a baseline and not now (its exception expired or removed) is a
-- regression. A table of its own, created by this idempotent schema in any history: an
-- older aa-scan ignores it, and a run recorded before it simply had no exceptions.
CREATE TABLE IF NOT EXISTS run_exceptions (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,  -- its place in the run's register
    state TEXT NOT NULL,
    expires TEXT NOT NULL,
    owner TEXT NOT NULL,
    reason TEXT NOT NULL,
    ticket TEXT,
    -- JSON {"gaps": [[scope, region, code, subject]], "findings": [[region, id]]}
    accepted TEXT NOT NULL,
    PRIMARY KEY (run, key)) WITHOUT ROWID;
"""

# Version 1 to 2, in the transaction that opens the file: new columns are NULL ("not
# recorded"), and run_gaps loses the primary key that folded two gaps into one.
MIGRATE_1 = """
ALTER TABLE runs ADD COLUMN requirement TEXT;
ALTER TABLE runs ADD COLUMN trusted_access INTEGER;
ALTER TABLE runs ADD COLUMN not_judged TEXT;
ALTER TABLE runs ADD COLUMN facts TEXT;
ALTER TABLE run_regions ADD COLUMN findings_scope TEXT;
ALTER TABLE run_regions ADD COLUMN active_types TEXT;
ALTER TABLE findings ADD COLUMN access TEXT;
ALTER TABLE findings ADD COLUMN first_seen TEXT;
CREATE TABLE run_gaps_2 (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    scope TEXT NOT NULL, region TEXT NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
    title TEXT NOT NULL, subject TEXT);
INSERT INTO run_gaps_2 SELECT run, scope, region, code, severity, title, NULL FROM run_gaps;
DROP TABLE run_gaps;
ALTER TABLE run_gaps_2 RENAME TO run_gaps;
CREATE INDEX run_gaps_by_run ON run_gaps (run, region);
"""


def statements(script: str) -> Iterator[str]:
    """The statements of a script, one at a time (to run them inside one transaction,
    which executescript would commit first)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""
    if buffer.strip():
        yield buffer
