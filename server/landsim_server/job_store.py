"""Jobs, their events and their results in the server's SQLite database.

Tables (in the shared database of :func:`landsim_server.db.connect`):

- ``jobs``: one row per job: spec (replicate and arm included), state, progress, attempts
  and the lease of the worker running it;
- ``job_events``: every state change and progress report of a job, in order, for WatchJob;
- ``job_results``: metrics and verdict of a SUCCEEDED job and the paths and SHA-256 of its
  result files, written with :func:`landsim.results.save_result` under
  ``<data_dir>/results/<job id>/attempt-<n>/`` (directories 0700, files 0600, like
  everything the server stores: :mod:`landsim_server.db`).

Workers claim a job atomically (``BEGIN IMMEDIATE``), hold it with a lease they renew as
they report progress, and finish it only while the lease is still theirs. A job whose
lease expired (or whose worker died) goes back to QUEUED, or to FAILED once it has used up
``max_attempts`` starts. ``attempts`` counts every start, across server restarts; a start
given back by a stopped worker (:meth:`JobStore.release`) is also counted as released and
does not use up an attempt. Cancelling a job makes it CANCELLED at once; its worker sees
that at its next renewal and stops. Everything is in the database and the result files,
so a restarted server loses nothing.

Opening a store brings an older database up to date in place
(:func:`landsim_server.job_schema.migrate`). Records, events, page tokens and errors are
:mod:`landsim_server.job_records`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from landsim.results import Result, load_result, save_result

from . import db
from .job_config import JobSpec
from .job_records import (
    FINAL_STATES,
    STATES,
    JobEvent,
    JobNotFound,
    JobRecord,
    JobStateError,
    RequestConflict,
    ResultCorrupt,
    decode_page_token,
    encode_page_token,
    record_from_row,
)
from .job_schema import JOB_COLUMNS, migrate, open_tables

__all__ = ["STATES", "FINAL_STATES", "JobRecord", "JobEvent", "JobStore", "JobNotFound",
           "RequestConflict", "JobStateError", "ResultCorrupt", "encode_page_token",
           "decode_page_token", "migrate"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class JobStore:
    """The job tables of one data directory.

    One instance holds one connection and serialises its own use of it, so it may be
    shared by the threads of one process; each process opens its own.

    Parameters
    ----------
    data_dir : str or Path
        Holds ``landsim.sqlite3`` and ``results/``.
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.results_dir = self.data_dir / "results"
        self._conn = db.connect(self.data_dir)
        self._lock = threading.Lock()
        with self._lock:
            open_tables(self._conn)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error), holding the lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _get(self, c: sqlite3.Connection, job_id: str) -> JobRecord:
        row = c.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return record_from_row(row)

    @staticmethod
    def _event(c: sqlite3.Connection, job_id: str, now: float) -> None:
        """Append the job's current mutable fields to its events."""
        c.execute("INSERT INTO job_events (job_id, state, progress, message, attempts, error, "
                  "time) SELECT id, state, progress, message, attempts, error, ? FROM jobs "
                  "WHERE id = ?", (now, job_id))

    # -- clients ---------------------------------------------------------------------------

    def create(self, spec: JobSpec, request_id: str | None = None) -> tuple[JobRecord, bool]:
        """Queue a job; returns it and whether it is new.

        With a ``request_id`` already used for the same spec, the existing job comes back
        (``False``); with a different spec, :class:`RequestConflict`.
        """
        fingerprint = spec.fingerprint()
        now = time.time()
        with self._transaction() as c:
            if request_id:
                row = c.execute(f"SELECT {JOB_COLUMNS}, fingerprint FROM jobs WHERE "
                                "request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    if row[-1] != fingerprint:
                        raise RequestConflict(
                            f"request_id {request_id!r} was already used for job {row[1]} "
                            "with a different request body")
                    return record_from_row(row[:-1]), False
            job_id = uuid.uuid4().hex
            c.execute("INSERT INTO jobs (id, request_id, fingerprint, experiment, kind, config, "
                      "quick, seed, replicate, arm, sweep, state, message, max_attempts, "
                      "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'QUEUED', 'queued', "
                      "?, ?)",
                      (job_id, request_id or None, fingerprint, spec.experiment, spec.kind,
                       json.dumps(spec.config, sort_keys=True), int(spec.quick), spec.seed,
                       spec.replicate, spec.arm,
                       json.dumps(spec.sweep, sort_keys=True) if spec.sweep else "",
                       spec.max_attempts, now))
            self._event(c, job_id, now)
            return self._get(c, job_id), True

    def get(self, job_id: str) -> JobRecord:
        """The job with this id (:class:`JobNotFound` if none)."""
        with self._lock:
            return self._get(self._conn, job_id)

    def list(self, states: Sequence[str] = (), page_size: int = 50,
             after_seq: int = 0) -> tuple[list[JobRecord], int | None]:
        """Up to ``page_size`` jobs after ``after_seq`` in creation order, optionally only in
        ``states``; returns them and the seq to continue after (None on the last page)."""
        for s in states:
            if s not in STATES:
                raise ValueError(f"state must be one of {STATES}, got {s!r}")
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE seq > ?"
        args: list = [after_seq]
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            args += list(states)
        sql += " ORDER BY seq LIMIT ?"
        args.append(page_size + 1)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        jobs = [record_from_row(r) for r in rows[:page_size]]
        more = len(rows) > page_size
        return jobs, (jobs[-1].seq if more and jobs else None)

    def events(self, job_id: str, after_seq: int = 0, limit: int = 1000) -> list[JobEvent]:
        """The job's events after ``after_seq``, oldest first (at most ``limit``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, job_id, state, progress, message, attempts, error, time FROM "
                "job_events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (job_id, after_seq, limit)).fetchall()
        return [JobEvent(*r) for r in rows]

    def snapshot(self, job_id: str) -> tuple[JobRecord, int]:
        """The job and the seq of its last event, read together."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                job = self._get(self._conn, job_id)
                last = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE "
                                          "job_id = ?", (job_id,)).fetchone()[0]
            finally:
                self._conn.execute("COMMIT")
        return job, last

    def cancel(self, job_id: str) -> JobRecord:
        """Make a QUEUED or RUNNING job CANCELLED (its worker stops at its next renewal).

        A CANCELLED job comes back unchanged; SUCCEEDED or FAILED is :class:`JobStateError`.
        """
        now = time.time()
        with self._transaction() as c:
            job = self._get(c, job_id)
            if job.state == "CANCELLED":
                return job
            if job.final:
                raise JobStateError(f"job {job_id} is already {job.state}; only QUEUED or "
                                    "RUNNING jobs can be cancelled")
            c.execute("UPDATE jobs SET state = 'CANCELLED', cancel_requested = 1, "
                      "message = 'cancelled by a client', lease_owner = NULL, "
                      "lease_expires = NULL, finished = ? WHERE id = ?", (now, job_id))
            self._event(c, job_id, now)
            return self._get(c, job_id)

    def delete(self, job_id: str) -> None:
        """Forget a job that is not RUNNING, with its events and result files."""
        with self._transaction() as c:
            job = self._get(c, job_id)
            if job.state == "RUNNING":
                raise JobStateError(f"job {job_id} is RUNNING; cancel it before deleting it")
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.results_dir / job_id, ignore_errors=True)

    # -- workers ---------------------------------------------------------------------------

    def reap_expired(self, now: float | None = None) -> list[str]:
        """Requeue RUNNING jobs whose lease ran out, or fail those out of attempts.

        Returns the ids of the jobs changed.
        """
        now = time.time() if now is None else now
        with self._transaction() as c:
            return self._reap(c, now)

    def _reap(self, c: sqlite3.Connection, now: float, cause: str | None = None
              ) -> list[str]:
        """Requeue (or fail) the RUNNING jobs whose lease ended; ``cause`` says why in
        their message (default: the lease of their worker expired)."""
        rows = c.execute("SELECT id, attempts - released, max_attempts, lease_owner FROM jobs "
                         "WHERE state = 'RUNNING' AND lease_expires < ?", (now,)).fetchall()
        for job_id, used, max_attempts, owner in rows:
            why = cause or f"the lease of worker {owner} expired"
            if used >= max_attempts:
                c.execute("UPDATE jobs SET state = 'FAILED', lease_owner = NULL, "
                          "lease_expires = NULL, finished = ?, message = 'worker lost', "
                          "error = ? WHERE id = ?",
                          (now, f"worker lost: {why} on attempt {used} of {max_attempts}",
                           job_id))
            else:
                c.execute("UPDATE jobs SET state = 'QUEUED', lease_owner = NULL, "
                          "lease_expires = NULL, message = ? WHERE id = ?",
                          (f"requeued: {why} on attempt {used} of {max_attempts}", job_id))
            self._event(c, job_id, now)
        return [r[0] for r in rows]

    def claim(self, owner: str, kinds: Sequence[str], lease_s: float) -> JobRecord | None:
        """Atomically take the oldest QUEUED job of one of ``kinds`` (after reaping expired
        leases) and make it RUNNING under ``owner``'s lease; None when there is none."""
        now = time.time()
        with self._transaction() as c:
            self._reap(c, now)
            row = c.execute(f"SELECT id FROM jobs WHERE state = 'QUEUED' AND kind IN "
                            f"({', '.join('?' * len(kinds))}) ORDER BY seq LIMIT 1",
                            list(kinds)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET state = 'RUNNING', attempts = attempts + 1, "
                      "lease_owner = ?, lease_expires = ?, started = ?, progress = 0, "
                      "message = 'started', error = '' WHERE id = ?",
                      (owner, now + lease_s, now, row[0]))
            self._event(c, row[0], now)
            return self._get(c, row[0])

    def renew(self, job_id: str, owner: str, lease_s: float, progress: float | None = None,
              message: str | None = None) -> bool:
        """Extend ``owner``'s lease and optionally record progress (an event).

        Returns False when the lease is no longer ``owner``'s (the job was cancelled,
        deleted, or requeued after expiry): the worker must stop.
        """
        now = time.time()
        with self._transaction() as c:
            sets, args = ["lease_expires = ?"], [now + lease_s]
            if progress is not None:
                sets += ["progress = ?", "message = ?"]
                args += [float(progress), message or ""]
            cur = c.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state = "
                            "'RUNNING' AND lease_owner = ? AND lease_expires >= ?",
                            args + [job_id, owner, now])
            if cur.rowcount != 1:
                return False
            if progress is not None:
                self._event(c, job_id, now)
            return True

    def holds(self, job_id: str, owner: str) -> bool:
        """Whether ``owner`` still holds the RUNNING job's lease (a read only: cheap enough
        for a worker to poll for cancellation between lease renewals)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND state = 'RUNNING' AND lease_owner = ? "
                "AND lease_expires >= ?", (job_id, owner, time.time())).fetchone()
        return row is not None

    def release(self, job_id: str, owner: str, reason: str) -> bool:
        """Give a RUNNING job back to the queue without using up an attempt (clean stop).

        The start still counts in ``attempts`` (every start of the job, across server
        restarts); it is counted as released, so it does not count towards
        ``max_attempts``.
        """
        now = time.time()
        with self._transaction() as c:
            cur = c.execute("UPDATE jobs SET state = 'QUEUED', released = released + 1, "
                            "lease_owner = NULL, lease_expires = NULL, message = ? WHERE "
                            "id = ? AND state = 'RUNNING' AND lease_owner = ?",
                            (reason, job_id, owner))
            if cur.rowcount == 1:
                self._event(c, job_id, now)
            return cur.rowcount == 1

    def release_owner(self, owner: str, reason: str) -> list[str]:
        """Give every RUNNING job of ``owner`` back to the queue without using up an attempt
        (its worker was stopped by the server); returns their ids."""
        with self._lock:
            rows = self._conn.execute("SELECT id FROM jobs WHERE state = 'RUNNING' AND "
                                      "lease_owner = ?", (owner,)).fetchall()
        return [r[0] for r in rows if self.release(r[0], owner, reason)]

    def expire_owner(self, owner: str, cause: str | None = None) -> list[str]:
        """End the leases of a worker known to be dead and reap its jobs now.

        ``cause`` (e.g. "worker process ... was killed by signal SIGKILL") goes into the
        requeued job's message or the failed job's error; by default it says that the
        worker's lease ended.
        """
        with self._transaction() as c:
            c.execute("UPDATE jobs SET lease_expires = 0 WHERE state = 'RUNNING' AND "
                      "lease_owner = ?", (owner,))
            return self._reap(c, time.time(), cause or f"the lease of worker {owner} ended")

    def fail(self, job_id: str, owner: str, error: str) -> bool:
        """Make ``owner``'s RUNNING job FAILED with ``error``; False if it is no longer his."""
        now = time.time()
        with self._transaction() as c:
            cur = c.execute("UPDATE jobs SET state = 'FAILED', error = ?, message = 'failed', "
                            "lease_owner = NULL, lease_expires = NULL, finished = ? WHERE "
                            "id = ? AND state = 'RUNNING' AND lease_owner = ?",
                            (error, now, job_id, owner))
            if cur.rowcount == 1:
                self._event(c, job_id, now)
            return cur.rowcount == 1

    def succeed(self, job_id: str, owner: str, attempt: int, result: Result) -> bool:
        """Store ``result`` and make ``owner``'s RUNNING job SUCCEEDED.

        The files go to ``results/<job id>/attempt-<n>/`` first; the job row and the result
        row then change in one transaction, only while the lease is still ``owner``'s.
        Returns False (and removes the files) when it no longer is.
        """
        directory = self.results_dir / job_id / f"attempt-{attempt}"
        shutil.rmtree(directory, ignore_errors=True)
        db.private_dir(directory)  # 0700 before any file exists in it
        json_path = save_result(result, directory)
        npz_path = json_path.with_suffix(".npz")
        for written in directory.iterdir():
            db.private_file(written)  # 0600 whatever the umask
        verdict = {"holds": result.verdict.holds, "rule": result.verdict.rule,
                   "evidence": result.verdict.evidence}
        metrics = result.to_json_dict()["metrics"]
        now = time.time()
        with self._transaction() as c:
            cur = c.execute("UPDATE jobs SET state = 'SUCCEEDED', progress = 1, message = "
                            "'succeeded', lease_owner = NULL, lease_expires = NULL, "
                            "finished = ? WHERE id = ? AND state = 'RUNNING' AND "
                            "lease_owner = ?", (now, job_id, owner))
            won = cur.rowcount == 1
            if won:
                c.execute("INSERT OR REPLACE INTO job_results (job_id, metrics, verdict, "
                          "json_path, json_sha256, npz_path, npz_sha256, created) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?, ?)",
                          (job_id, json.dumps(metrics), json.dumps(verdict),
                           str(json_path.relative_to(self.data_dir)), _sha256(json_path),
                           str(npz_path.relative_to(self.data_dir)), _sha256(npz_path), now))
                self._event(c, job_id, now)
        if not won:
            shutil.rmtree(directory, ignore_errors=True)
        return won

    # -- results ---------------------------------------------------------------------------

    def result(self, job_id: str) -> Result:
        """The stored Result of a SUCCEEDED job, its files checked against their SHA-256.

        Raises
        ------
        JobNotFound
            Unknown id.
        JobStateError
            The job has not succeeded.
        ResultCorrupt
            A file is missing or its checksum differs from the one stored.
        """
        with self._lock:
            job = self._get(self._conn, job_id)
            row = self._conn.execute("SELECT json_path, json_sha256, npz_path, npz_sha256 "
                                     "FROM job_results WHERE job_id = ?",
                                     (job_id,)).fetchone()
        if job.state != "SUCCEEDED" or row is None:
            raise JobStateError(f"job {job_id} is {job.state}; only a SUCCEEDED job has a "
                                "result")
        for rel, digest in ((row[0], row[1]), (row[2], row[3])):
            path = self.data_dir / rel
            try:
                actual = _sha256(path)
            except OSError as exc:
                raise ResultCorrupt(f"result file {path} of job {job_id} cannot be read: "
                                    f"{exc}") from exc
            if actual != digest:
                raise ResultCorrupt(f"result file {path} of job {job_id} has SHA-256 {actual}, "
                                    f"stored {digest}")
        return load_result(self.data_dir / row[0])
