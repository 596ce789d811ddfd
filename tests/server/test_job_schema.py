"""The job tables' schema and migrations (landsim_server.job_schema) and the records read
from them (landsim_server.job_records)."""

from __future__ import annotations

import json

from landsim_server import db
from landsim_server.job_records import JobRecord, record_from_row
from landsim_server.job_schema import ADDED_COLUMNS, JOB_COLUMNS, migrate, open_tables


def test_open_tables_creates_everything_once(tmp_path):
    conn = db.connect(tmp_path)
    try:
        assert open_tables(conn) == []  # a new database has every column already
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE "
                                             "type = 'table'")}
        assert {"jobs", "job_events", "job_results"} <= tables
        columns = [r[1] for r in conn.execute("PRAGMA table_info(jobs)")]
        assert all(c.strip() in columns for c in JOB_COLUMNS.split(","))
        assert open_tables(conn) == [] and migrate(conn) == []
    finally:
        conn.close()


def test_migrate_adds_the_missing_columns_in_order(tmp_path):
    conn = db.connect(tmp_path)
    try:
        conn.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT)")
        assert migrate(conn) == [name for name, _ in ADDED_COLUMNS]
        assert migrate(conn) == []
    finally:
        conn.close()


def test_a_row_reads_back_as_a_record():
    row = (1, "j", None, "E1", "toy", json.dumps({"dim": 4}), 1, 7, "QUEUED", 0.0, "queued",
           0, 3, None, None, 0, "", 10.0, None, None, 2, "control", "")
    assert len(row) == len(JOB_COLUMNS.split(","))
    record = record_from_row(row)
    assert isinstance(record, JobRecord)
    assert record.config == {"dim": 4} and record.quick is True
    assert record.replicate == 2 and record.arm == "control" and not record.final
    assert record.spec.arm == "control" and record.spec.seed == 7
    assert record.sweep is None and record.spec.sweep is None


def test_a_sweep_row_reads_back_with_its_grid():
    sweep = {"axes": [["steps", ["40", "60"]]], "seeds": 2, "controls": False}
    row = (1, "j", None, "E1", "toy", "{}", 0, 7, "QUEUED", 0.0, "queued", 0, 3, None, None,
           0, "", 10.0, None, None, 0, "claim", json.dumps(sweep))
    record = record_from_row(row)
    assert record.sweep == sweep and record.spec.sweep == sweep
    assert '"sweep"' in record.spec.fingerprint()
