"""Worker processes: run, fail, honour cancellation, stop cleanly, and lose no job when
killed (the lease expires and the job is requeued, or FAILED after max_attempts)."""

from __future__ import annotations

import time

import pytest
from landsim_server.job_config import JobSpec
from landsim_server.job_store import JobStore
from landsim_server.workers import (
    EXIT_JOB_LOST,
    WorkerSettings,
    error_summary,
    new_owner,
    run_job,
    start_worker,
)

TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}


def e5_spec(sections: int, max_attempts: int = 3) -> JobSpec:
    """E5 quick with ``sections`` sections: about 0.1 s and one progress report each."""
    return JobSpec("E5", "toy", {"n_sections": sections}, True, 0, max_attempts=max_attempts)


def wait_for(predicate, timeout_s: float, what: str, step_s: float = 0.02):
    """Poll ``predicate`` until it returns something truthy (bounded by ``timeout_s``)."""
    for _ in range(int(timeout_s / step_s) + 1):
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def workers(tmp_path):
    """Start workers on tmp_path; every one started is stopped (or killed) at the end."""
    started = []

    def start(lease_s: float = 30.0):
        settings = WorkerSettings(str(tmp_path), new_owner("toy"), ("toy",), lease_s=lease_s,
                                  poll_s=0.05)
        handle = start_worker(settings)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop.set()
    for handle in started:
        handle.process.join(10)
        if handle.process.is_alive():
            handle.process.kill()
            handle.process.join(5)


def test_worker_runs_jobs_records_failures_and_stops_cleanly(tmp_path, workers):
    store = JobStore(tmp_path)
    good, _ = store.create(JobSpec("E1", "toy", TINY_E1, True, 0))
    # a config the server would reject: the worker fails the job, naming the field
    bad, _ = store.create(JobSpec("E1", "toy", {"n_starts": 0}, True, 0))
    handle = workers()
    wait_for(lambda: store.get(bad.id).final, 60, "both jobs to finish")
    assert store.get(good.id).state == "SUCCEEDED"
    assert store.result(good.id).experiment == "E1"
    failed = store.get(bad.id)
    assert failed.state == "FAILED" and failed.attempts == 1
    assert failed.error.startswith("ValueError: n_starts must be an integer >= 1, got 0")
    assert "Traceback" in failed.error
    handle.stop.set()
    handle.process.join(10)
    assert handle.process.exitcode == 0
    store.close()


def test_cancelled_job_is_abandoned_by_its_worker(tmp_path, workers):
    store = JobStore(tmp_path)
    long_job, _ = store.create(e5_spec(400))  # ~40 s if it were not cancelled
    after, _ = store.create(JobSpec("E1", "toy", TINY_E1, True, 1))
    handle = workers()
    wait_for(lambda: store.get(long_job.id).progress > 0, 60, "the long job to report progress")
    assert store.cancel(long_job.id).state == "CANCELLED"
    # the worker process ends itself within its poll interval (0.5 s) ...
    handle.process.join(5)
    assert handle.process.exitcode == EXIT_JOB_LOST
    job = store.get(long_job.id)
    assert job.state == "CANCELLED" and job.lease_owner is None and job.progress < 0.5
    assert not (tmp_path / "results" / long_job.id).exists()
    # ... and a fresh one (as the server's supervisor starts) takes the next job
    workers()
    wait_for(lambda: store.get(after.id).state == "SUCCEEDED", 60, "the next job")
    store.close()


def test_cancel_stops_a_run_that_reports_no_progress(tmp_path, workers):
    # E2 at its full size computes for many seconds between two progress reports; a
    # cancel must not wait for the next one
    store = JobStore(tmp_path)
    job, _ = store.create(JobSpec("E2", "toy", {}, False, 0))
    handle = workers()
    wait_for(lambda: store.get(job.id).state == "RUNNING", 60, "the job to start")
    time.sleep(0.3)
    t0 = time.monotonic()
    store.cancel(job.id)
    handle.process.join(5)
    assert handle.process.exitcode == EXIT_JOB_LOST
    assert time.monotonic() - t0 < 2.0
    assert store.get(job.id).state == "CANCELLED"
    store.close()


def test_run_job_in_process_polls_its_lease_and_records_the_result(tmp_path):
    # in-process (no on_lost): polling the lease every 10 ms neither stops nor slows a run
    # that is still this worker's
    store = JobStore(tmp_path)
    created, _ = store.create(JobSpec("E1", "toy", TINY_E1, True, 0))
    settings = WorkerSettings(str(tmp_path), new_owner("toy"), ("toy",), cancel_poll_s=0.01)
    job = store.claim(settings.owner, ("toy",), settings.lease_s)
    assert run_job(store, job, settings) == "succeeded"
    assert store.get(created.id).state == "SUCCEEDED"
    store.close()


def test_stop_gives_the_running_job_back_without_using_an_attempt(tmp_path, workers):
    store = JobStore(tmp_path)
    job, _ = store.create(e5_spec(400))
    handle = workers()
    wait_for(lambda: store.get(job.id).progress > 0, 60, "the job to report progress")
    handle.stop.set()
    handle.process.join(15)
    assert handle.process.exitcode == 0
    back = store.get(job.id)
    # the start is counted (attempts counts every start) but released: no attempt used up
    assert back.state == "QUEUED" and back.attempts == 1 and back.lease_owner is None
    assert "worker was stopped" in back.message
    store.close()


def test_killed_worker_job_is_requeued_when_its_lease_expires_and_finished(tmp_path, workers):
    store = JobStore(tmp_path)
    job, _ = store.create(e5_spec(6, max_attempts=2))
    first = workers(lease_s=2.0)
    wait_for(lambda: store.get(job.id).progress > 0, 60, "the job to report progress")
    first.kill()
    first.process.join(5)
    assert store.get(job.id).state == "RUNNING"  # nobody knows yet
    assert store.reap_expired() == []  # the lease (renewed <= 0.7 s ago) still holds
    wait_for(lambda: store.reap_expired(), 5, "the lease to expire")
    requeued = store.get(job.id)
    assert requeued.state == "QUEUED" and requeued.attempts == 1
    assert first.settings.owner in requeued.message
    workers(lease_s=2.0)
    wait_for(lambda: store.get(job.id).final, 60, "the second attempt to finish")
    done = store.get(job.id)
    assert done.state == "SUCCEEDED" and done.attempts == 2
    assert store.result(job.id).series["widths"].shape[0] == 6
    states = [e.state for e in store.events(job.id)]
    assert states[0] == "QUEUED" and states[-1] == "SUCCEEDED"
    assert states.count("QUEUED") == 2 and "FAILED" not in states
    store.close()


def test_killed_worker_job_fails_after_max_attempts(tmp_path, workers):
    store = JobStore(tmp_path)
    job, _ = store.create(e5_spec(400, max_attempts=1))
    handle = workers(lease_s=1.0)
    wait_for(lambda: store.get(job.id).progress > 0, 60, "the job to report progress")
    handle.kill()
    handle.process.join(5)
    wait_for(lambda: store.reap_expired(), 5, "the lease to expire")
    failed = store.get(job.id)
    assert failed.state == "FAILED" and failed.attempts == 1
    assert "worker lost" in failed.error and "attempt 1 of 1" in failed.error
    store.close()


def test_worker_settings_and_error_summary_checks():
    with pytest.raises(ValueError, match=r"lease_s must be a number in \[0.2, 3600\], got 0.1"):
        WorkerSettings("/tmp/x", "w", lease_s=0.1)
    with pytest.raises(ValueError, match=r"cancel_poll_s must be a number in \]0, 60\], got 0"):
        WorkerSettings("/tmp/x", "w", cancel_poll_s=0)
    with pytest.raises(ValueError, match="kinds must be a non-empty tuple"):
        WorkerSettings("/tmp/x", "w", kinds=("gpu",))
    try:
        raise RuntimeError("x" * 10000)
    except RuntimeError as exc:
        text = error_summary(exc)
    assert text.startswith("RuntimeError: xxx") and len(text) == 4000
