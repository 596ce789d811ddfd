"""The schema of the job tables and the migrations that bring an older database up to date.

Tables (in the shared database of :func:`landsim_server.db.connect`):

- ``jobs``: one row per job: spec (replicate and arm included), state, progress, attempts
  (every start of the job), ``released`` (the starts given back by a stopped worker, which
  do not use up one of ``max_attempts``) and the lease of the worker running it;
- ``job_events``: every state change and progress report of a job, in order, for WatchJob;
- ``job_results``: metrics and verdict of a SUCCEEDED job and the paths and SHA-256 of its
  result files.

Migrations. Opening a store brings an older database up to date in place, in one
``BEGIN IMMEDIATE`` transaction, by adding the columns it lacks (:data:`ADDED_COLUMNS`)
with defaults that give stored rows their old meaning: jobs stored before replicates and
arms existed read as replicate 0 of the claim arm, and their released starts as 0 (older
servers took such a start off ``attempts`` instead). Nothing stored is rewritten or lost.
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA", "ADDED_COLUMNS", "JOB_COLUMNS", "migrate", "open_tables"]

#: The tables and indexes, created when missing.
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    request_id TEXT UNIQUE,
    fingerprint TEXT NOT NULL,
    experiment TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    quick INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    replicate INTEGER NOT NULL DEFAULT 0,
    arm TEXT NOT NULL DEFAULT 'claim',
    released INTEGER NOT NULL DEFAULT 0,
    sweep TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS job_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    progress REAL NOT NULL,
    message TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events (job_id, seq);
CREATE TABLE IF NOT EXISTS job_results (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    metrics TEXT NOT NULL,
    verdict TEXT NOT NULL,
    json_path TEXT NOT NULL,
    json_sha256 TEXT NOT NULL,
    npz_path TEXT NOT NULL,
    npz_sha256 TEXT NOT NULL,
    created REAL NOT NULL
);
"""

#: Columns of ``jobs`` added after its first version, as (name, definition), in order; a
#: database that lacks one gets it, with its default, when a store opens it.
ADDED_COLUMNS = (
    ("replicate", "INTEGER NOT NULL DEFAULT 0"),
    ("arm", "TEXT NOT NULL DEFAULT 'claim'"),
    ("released", "INTEGER NOT NULL DEFAULT 0"),
    ("sweep", "TEXT NOT NULL DEFAULT ''"),  # a sweep job's grid as JSON; '' for one unit
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Add the columns of :data:`ADDED_COLUMNS` that ``jobs`` lacks; returns their names.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so processes opening the same database at
    once (the server and its workers) add each column exactly once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
        added = [name for name, _ in ADDED_COLUMNS if name not in have]
        for name, definition in ADDED_COLUMNS:
            if name in added:
                conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return added


#: The columns of ``jobs`` read into a :class:`~landsim_server.job_records.JobRecord`, in
#: the order :func:`~landsim_server.job_records.record_from_row` expects.
JOB_COLUMNS = ("seq, id, request_id, experiment, kind, config, quick, seed, state, progress, "
               "message, attempts, max_attempts, lease_owner, lease_expires, "
               "cancel_requested, error, created, started, finished, replicate, arm, sweep")


def open_tables(conn: sqlite3.Connection) -> list[str]:
    """Create the job tables that are missing, then :func:`migrate`; returns the columns
    added."""
    conn.executescript(SCHEMA)
    return migrate(conn)
