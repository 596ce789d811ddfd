"""The job store: idempotent creation, paging, atomic claims, leases, results on disk."""

from __future__ import annotations

import sqlite3
import threading
import time

import numpy as np
import pytest
from landsim_server import db
from landsim_server.job_config import (
    JobSpec,
    build_config,
    canonical_json,
    config_dict,
    real_available,
    resolve,
)
from landsim_server.job_store import (
    JobStateError,
    JobStore,
    RequestConflict,
    ResultCorrupt,
    decode_page_token,
    encode_page_token,
)
from landsim_server.workers import WorkerSettings, run_job

from landsim.units import Unit, run_unit

TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}


def tiny_spec(seed: int = 0, **kw) -> JobSpec:
    return JobSpec(experiment="E1", kind="toy", config=dict(TINY_E1), quick=True, seed=seed,
                   **kw)


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path)
    yield s
    s.close()


def test_create_with_request_id_is_idempotent(store):
    first, new1 = store.create(tiny_spec(), "req-1")
    again, new2 = store.create(tiny_spec(), "req-1")
    assert (new1, new2) == (True, False)
    assert again.id == first.id and again.state == "QUEUED"
    with pytest.raises(RequestConflict, match="req-1"):
        store.create(tiny_spec(seed=1), "req-1")
    other, _ = store.create(tiny_spec())
    plain, _ = store.create(tiny_spec())
    assert len({first.id, other.id, plain.id}) == 3  # no request id: always a new job
    assert [j.id for j in store.list()[0]] == [first.id, other.id, plain.id]


def test_list_filters_by_state_and_pages_in_creation_order(store):
    ids = [store.create(tiny_spec(seed=i))[0].id for i in range(7)]
    store.cancel(ids[1])
    store.cancel(ids[4])
    running = store.claim("w", ("toy",), 60.0)
    assert running.id == ids[0]  # oldest queued first
    seen, after = [], 0
    for _ in range(10):  # bounded: 4 queued jobs, pages of 2
        page, after = store.list(("QUEUED",), 2, after)
        assert len(page) <= 2
        seen += [j.id for j in page]
        if after is None:
            break
    assert seen == [ids[2], ids[3], ids[5], ids[6]]
    assert [j.id for j in store.list(("CANCELLED",))[0]] == [ids[1], ids[4]]
    assert [j.id for j in store.list(("RUNNING", "CANCELLED"))[0]] == [ids[0], ids[1], ids[4]]
    everything, after = store.list((), 7, 0)
    assert [j.id for j in everything] == ids and after is None
    token = encode_page_token(5, ["QUEUED"])
    assert decode_page_token(token, ["QUEUED"]) == 5
    with pytest.raises(ValueError, match="different states filter"):
        decode_page_token(token, ["FAILED"])
    with pytest.raises(ValueError, match="page_token"):
        decode_page_token("not-a-token", [])
    with pytest.raises(ValueError, match="state must be one of"):
        store.list(("DONE",))


def test_concurrent_claims_take_each_job_exactly_once(tmp_path):
    setup = JobStore(tmp_path)
    ids = {setup.create(tiny_spec(seed=i))[0].id for i in range(24)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        own = JobStore(tmp_path)  # a connection of its own, like a worker process
        for _ in range(100):  # bounded; stops when the queue is empty
            job = own.claim(name, ("toy",), 60.0)
            if job is None:
                break
            with lock:
                claimed.append(job.id)
        own.close()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(claimed) == sorted(ids)  # each once, none lost
    assert all(j.state == "RUNNING" and j.attempts == 1 for j in setup.list((), 100)[0])
    setup.close()


def test_expired_lease_requeues_then_fails_after_max_attempts(store):
    job, _ = store.create(tiny_spec(max_attempts=2))
    first = store.claim("w1", ("toy",), 0.2)
    assert first.attempts == 1 and first.lease_owner == "w1"
    assert store.reap_expired() == []  # lease still valid
    time.sleep(0.3)
    assert store.reap_expired() == [job.id]
    requeued = store.get(job.id)
    assert requeued.state == "QUEUED" and requeued.attempts == 1
    assert "lease of worker w1 expired on attempt 1 of 2" in requeued.message
    assert not store.renew(job.id, "w1", 10.0, 0.5, "late")  # the lost worker must stop
    second = store.claim("w2", ("toy",), 0.2)
    assert second.id == job.id and second.attempts == 2
    time.sleep(0.3)
    store.reap_expired()
    failed = store.get(job.id)
    assert failed.state == "FAILED" and failed.finished is not None
    assert "worker lost" in failed.error and "attempt 2 of 2" in failed.error
    states = [e.state for e in store.events(job.id)]
    assert states == ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "FAILED"]


def test_claim_takes_only_its_kinds_and_renew_records_progress(store):
    real = store.create(JobSpec("E1", "real", {}, True, 0))[0]
    toy = store.create(tiny_spec())[0]
    assert store.claim("w", ("toy",), 30.0).id == toy.id
    assert store.claim("w2", ("toy",), 30.0) is None
    assert store.renew(toy.id, "w", 30.0, 0.25, "quarter")
    assert not store.renew(toy.id, "someone-else", 30.0)
    got = store.get(toy.id)
    assert (got.progress, got.message) == (0.25, "quarter")
    assert store.claim("t", ("real",), 30.0).id == real.id


def test_cancel_stops_the_lease_and_blocks_the_result(store, tmp_path):
    queued, _ = store.create(tiny_spec())
    assert store.cancel(queued.id).state == "CANCELLED"
    assert store.cancel(queued.id).state == "CANCELLED"  # idempotent
    running, _ = store.create(tiny_spec(seed=3))
    job = store.claim("w", ("toy",), 30.0)
    assert job.id == running.id
    cancelled = store.cancel(job.id)
    assert cancelled.state == "CANCELLED" and cancelled.cancel_requested
    assert not store.renew(job.id, "w", 30.0, 0.5, "still going")
    outcome = run_job(store, job, WorkerSettings(str(tmp_path), "w"))
    assert outcome == "aborted"
    assert store.get(job.id).state == "CANCELLED"
    assert not (tmp_path / "results" / job.id).exists() or not any(
        (tmp_path / "results" / job.id).iterdir())
    with pytest.raises(JobStateError, match="CANCELLED"):
        store.result(job.id)


def test_result_round_trip_checksum_and_restart(tmp_path):
    store = JobStore(tmp_path)
    job, _ = store.create(tiny_spec(seed=5))
    claimed = store.claim("w", ("toy",), 30.0)
    assert run_job(store, claimed, WorkerSettings(str(tmp_path), "w")) == "succeeded"
    done = store.get(job.id)
    assert done.state == "SUCCEEDED" and done.progress == 1.0 and done.finished is not None
    progress = [e.progress for e in store.events(job.id) if e.state == "RUNNING"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    with pytest.raises(JobStateError, match="SUCCEEDED"):
        store.cancel(job.id)
    store.close()

    # a new store on the same directory (a restarted server) finds job and result
    reopened = JobStore(tmp_path)
    assert reopened.get(job.id).state == "SUCCEEDED"
    result = reopened.result(job.id)
    module = resolve("toy", "E1")
    expected = run_unit(Unit("E1", "toy", build_config(module, TINY_E1, True), seed=5))
    assert result.config == config_dict(build_config(module, TINY_E1, True))
    assert (result.arm, result.replicate, result.stem) == ("claim", 0, "E1-toy-claim-seed5-r0")
    assert result.metrics == expected.metrics and result.verdict == expected.verdict
    assert set(result.series) == set(expected.series)
    for name, array in expected.series.items():
        assert np.array_equal(result.series[name], array)
        assert result.series[name].dtype == array.dtype

    npz = next((tmp_path / "results" / job.id).glob("*/*.npz"))
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(ResultCorrupt, match="SHA-256"):
        reopened.result(job.id)
    reopened.delete(job.id)
    assert not (tmp_path / "results" / job.id).exists()
    assert reopened.list()[0] == [] and reopened.events(job.id) == []
    reopened.close()


def test_delete_refuses_a_running_job(store):
    store.create(tiny_spec())
    job = store.claim("w", ("toy",), 30.0)
    with pytest.raises(JobStateError, match="RUNNING"):
        store.delete(job.id)


def test_build_config_coerces_whole_doubles_and_names_bad_fields():
    module = resolve("toy", "E1")
    cfg = build_config(module, {"n_starts": 3.0, "radius": 5}, quick=True)
    assert cfg.n_starts == 3 and isinstance(cfg.n_starts, int)
    assert cfg.dim == module.quick_config().dim
    with pytest.raises(ValueError, match="'bogus' is not a field"):
        build_config(module, {"bogus": 1}, quick=False)
    with pytest.raises(ValueError, match="n_starts must be an integer"):
        build_config(module, {"n_starts": 2.5}, quick=False)
    with pytest.raises(ValueError, match="n_starts must be an integer >= 1, got 0"):
        build_config(module, {"n_starts": 0}, quick=False)
    e7 = resolve("toy", "E7")
    assert build_config(e7, {"lr_values": [0.1, 0.2, 0.3]}, True).lr_values == (0.1, 0.2, 0.3)
    with pytest.raises(ValueError, match="experiment_id: experiment must be one of"):
        resolve("toy", "E9")
    with pytest.raises(ValueError, match="kind must be one of"):
        resolve("quantum", "E1")
    reason = real_available()
    assert reason is None or "not installed" in reason


def test_job_spec_rejects_bad_values():
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, "):
        JobSpec("E1", "toy", {}, False, -1)
    with pytest.raises(ValueError, match=r"max_attempts must be an integer in \[1, 10\]"):
        JobSpec("E1", "toy", {}, False, 0, max_attempts=11)
    with pytest.raises(ValueError, match="kind must be one of"):
        JobSpec("E1", "gpu", {}, False, 0)
    for bad in (-1, 10000, True, 1.0):
        with pytest.raises(ValueError, match=r"replicate must be an integer in \[0, 9999\]"):
            JobSpec("E1", "toy", {}, False, 0, replicate=bad)
    with pytest.raises(ValueError, match=r"arm must be one of \('claim', 'control'\), got 'x'"):
        JobSpec("E1", "toy", {}, False, 0, arm="x")


def test_replicate_and_arm_are_stored_and_part_of_the_request_body(store):
    job, _ = store.create(tiny_spec(seed=2, replicate=3, arm="control"), "unit-1")
    assert (job.replicate, job.arm) == (3, "control")
    assert (job.spec.replicate, job.spec.arm) == (3, "control")
    assert store.create(tiny_spec(seed=2, replicate=3, arm="control"), "unit-1")[0].id == job.id
    for other in (tiny_spec(seed=2, replicate=4, arm="control"),
                  tiny_spec(seed=2, replicate=3)):
        with pytest.raises(RequestConflict, match="unit-1"):
            store.create(other, "unit-1")
    claimed = store.claim("w", ("toy",), 30.0)
    assert (claimed.id, claimed.replicate, claimed.arm) == (job.id, 3, "control")
    # the defaults keep the fingerprint of a spec without these fields
    old = canonical_json({"experiment": "E1", "kind": "toy", "config": TINY_E1, "quick": True,
                          "seed": 2, "max_attempts": 3})
    assert tiny_spec(seed=2).fingerprint() == old != tiny_spec(seed=2, replicate=1).fingerprint()


#: The jobs table as the first job store wrote it (no replicate, no arm).
OLD_JOBS_TABLE = """
CREATE TABLE jobs (
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
    finished REAL
);
"""


def test_a_store_written_before_replicates_and_arms_is_migrated_in_place(tmp_path):
    conn = db.connect(tmp_path)
    conn.executescript(OLD_JOBS_TABLE)
    fingerprint = canonical_json({"experiment": "E1", "kind": "toy", "config": TINY_E1,
                                  "quick": True, "seed": 9, "max_attempts": 3})
    rows = [("a" * 32, "old-req", fingerprint, "QUEUED", None),
            ("b" * 32, None, fingerprint, "FAILED", 2.0)]
    for id_, rid, fp, state, finished in rows:
        conn.execute("INSERT INTO jobs (id, request_id, fingerprint, experiment, kind, config, "
                     "quick, seed, state, message, max_attempts, error, created, finished) "
                     "VALUES (?, ?, ?, 'E1', 'toy', ?, 1, 9, ?, 'old', 3, 'boom', 1.0, ?)",
                     (id_, rid, fp, canonical_json(TINY_E1), state, finished))
    conn.close()

    store = JobStore(tmp_path)  # migrates
    try:
        old = store.get("a" * 32)
        assert (old.replicate, old.arm, old.seed, old.state, old.message) == (
            0, "claim", 9, "QUEUED", "old")
        assert old.config == TINY_E1 and old.quick
        failed = store.get("b" * 32)
        assert (failed.state, failed.error, failed.finished) == ("FAILED", "boom", 2.0)
        assert [j.id for j in store.list()[0]] == ["a" * 32, "b" * 32]
        # a retry of the old request (replicate 0, claim) is still the same request
        spec = tiny_spec(seed=9)
        assert store.create(spec, "old-req") == (old, False)
        with pytest.raises(RequestConflict):
            store.create(tiny_spec(seed=9, arm="control"), "old-req")
        new, _ = store.create(tiny_spec(seed=9, replicate=1, arm="control"))
        assert (store.get(new.id).replicate, store.get(new.id).arm) == (1, "control")
        assert store.claim("w", ("toy",), 30.0).id == old.id  # old rows still run
    finally:
        store.close()

    again = JobStore(tmp_path)  # a second open finds nothing left to migrate
    try:
        assert again.get("a" * 32).state == "RUNNING"
        assert len(again.list()[0]) == 3
    finally:
        again.close()
    conn = sqlite3.connect(tmp_path / db.DB_NAME)
    columns = {row[1]: row for row in conn.execute("PRAGMA table_info(jobs)")}
    conn.close()
    assert columns["replicate"][3:5] == (1, "0") and columns["arm"][3:5] == (1, "'claim'")
