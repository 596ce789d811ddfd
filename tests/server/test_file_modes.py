"""Owner-only storage: every directory the server makes under its data directory is 0700
and every file 0600 (database, its -wal and -shm, landscapes, job results), whatever the
umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from landsim_server import db
from landsim_server.job_config import JobSpec
from landsim_server.job_store import JobStore
from landsim_server.landscape_store import LandscapeStore
from landsim_server.workers import WorkerSettings, new_owner, run_job

from landsim.spec import random_landscape

TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes_under(root: Path) -> dict[str, int]:
    """The mode of root and of everything below it, by path relative to root's parent."""
    found = {root.name: mode(root)}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root.parent))] = mode(path)
    return found


@pytest.fixture
def loose_umask():
    """Run with umask 0, so that a mode left to the umask would be 0777 or 0666."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_a_fresh_data_dir_holds_only_owner_only_directories_and_files(tmp_path, loose_umask):
    data = tmp_path / "nested" / "data"  # its missing parents are created too
    landscapes = LandscapeStore(data)
    jobs = JobStore(data)
    try:
        record, created = landscapes.create(random_landscape(8, 2, 2, seed=0))
        assert created
        made, _ = jobs.create(JobSpec("E1", "toy", TINY_E1, True, 0))
        settings = WorkerSettings(str(data), new_owner("toy"), ("toy",))
        job = jobs.claim(settings.owner, ("toy",), settings.lease_s)
        assert run_job(jobs, job, settings) == "succeeded"
        assert jobs.result(made.id).verdict is not None
        # the stores are open: the database's WAL files exist now
        for suffix in ("", "-wal", "-shm"):
            assert (data / f"{db.DB_NAME}{suffix}").is_file(), suffix
        found = modes_under(data)
    finally:
        jobs.close()
        landscapes.close()
    assert mode(tmp_path / "nested") == db.DIR_MODE
    names = set(found)
    assert {"data/landscapes", f"data/landscapes/{record.id}.npz", f"data/results/{made.id}",
            "data/landsim.sqlite3-wal", "data/landsim.sqlite3-shm"} <= names
    assert any(name.endswith(".npz") and "/results/" in name for name in names)
    assert any(name.endswith(".json") and "/results/" in name for name in names)
    wrong = {name: f"{m:04o}" for name, m in found.items()
             if m != (db.DIR_MODE if (data.parent / name).is_dir() else db.FILE_MODE)}
    assert wrong == {}


def test_an_existing_database_keeps_working_and_new_files_follow_its_mode(tmp_path,
                                                                          loose_umask):
    data = db.private_dir(tmp_path / "data")
    db.connect(data).close()
    conn = db.connect(data)  # opened again: the file exists, nothing is recreated
    try:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert {p.name: mode(p) for p in data.iterdir()} == {
            db.DB_NAME: 0o600, f"{db.DB_NAME}-wal": 0o600, f"{db.DB_NAME}-shm": 0o600}
    finally:
        conn.close()


def test_start_tightens_a_data_dir_open_to_other_users(tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)  # as older servers left it
    with caplog.at_level("WARNING", logger="landsim_server.db"):
        db.secure_data_dir(data)
    assert mode(data) == 0o700
    assert "was mode 0755" in caplog.text
    caplog.clear()
    db.secure_data_dir(data)  # already private: left alone, quietly
    assert mode(data) == 0o700 and caplog.text == ""
    fresh = db.secure_data_dir(tmp_path / "a" / "b")
    assert mode(fresh) == 0o700 and mode(tmp_path / "a") == 0o700
