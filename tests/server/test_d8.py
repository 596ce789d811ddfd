"""Small defects of the service (D8): the "listening" line comes once health is SERVING,
the attempt count survives restarts, a dead worker's job says how the worker died, and
the bearer scheme is case-insensitive."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from landsim_server.app import BearerTokenInterceptor
from landsim_server.job_config import JobSpec
from landsim_server.job_runtime import death_cause
from landsim_server.job_service import add_job_service
from landsim_server.job_store import JobStore
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc
from test_job_service import JobServer, create, wait_job

PREFIX = "landsim server listening on "
S = jobs_pb2


# ---------------------------------------------------------------------- listening line
def test_the_listening_line_comes_once_health_is_serving(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LANDSIM_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "landsim_server", "--port", "0",
                             "--data-dir", str(tmp_path / "data"), "--workers", "0",
                             "--grace", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()  # blocks until the server says it listens
        assert line.startswith(PREFIX), (line, proc.stderr.read() if proc.poll() is not None
                                         else "")
        address = line[len(PREFIX):].strip()
        with grpc.insecure_channel(address) as channel:  # one look, no waiting
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "landsim.v1.LandscapeService", "landsim.v1.JobService"):
                status = health.Check(health_pb2.HealthCheckRequest(service=service),
                                      timeout=10).status
                assert status == health_pb2.HealthCheckResponse.SERVING, service
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert proc.stdout.read() == "landsim server shutting down\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------- attempts
def e5(sections: int, max_attempts: int = 3) -> JobSpec:
    return JobSpec("E5", "toy", {"n_sections": sections}, True, 0, max_attempts=max_attempts)


def test_attempts_count_every_start_and_released_starts_use_no_attempt(tmp_path):
    store = JobStore(tmp_path)
    try:
        job, _ = store.create(e5(4, max_attempts=2))
        assert store.claim("w1", ("toy",), 30.0).attempts == 1
        assert store.release_owner("w1", "requeued: the server stopped") == [job.id]
        assert store.get(job.id).attempts == 1  # the start stays counted
        assert store.claim("w2", ("toy",), 30.0).attempts == 2
        assert store.expire_owner("w2", "worker process w2 was killed by signal SIGKILL") == [
            job.id]
        requeued = store.get(job.id)  # used: 1 of 2 (the released start is free)
        assert requeued.state == "QUEUED" and requeued.attempts == 2
        assert requeued.message == ("requeued: worker process w2 was killed by signal SIGKILL "
                                    "on attempt 1 of 2")
        assert store.claim("w3", ("toy",), 30.0).attempts == 3
        store.expire_owner("w3")
        failed = store.get(job.id)
        assert failed.state == "FAILED" and failed.attempts == 3
        assert failed.error == "worker lost: the lease of worker w3 ended on attempt 2 of 2"
        assert [e.attempts for e in store.events(job.id)] == [0, 1, 1, 2, 2, 3, 3]
    finally:
        store.close()


def test_death_cause_names_the_signal_or_the_status():
    assert death_cause("w", 12, -9) == "worker process w (pid 12) was killed by signal SIGKILL"
    assert death_cause("w", 12, 1) == "worker process w (pid 12) exited with status 1"
    assert death_cause("w", None, None) == "worker process w died"
    assert death_cause("w", 3, -200).endswith("killed by signal 200")


def test_a_killed_worker_is_named_and_the_attempts_survive_a_restart(tmp_path):
    first = JobServer(tmp_path, n_workers=1)
    try:
        stub = first.stub
        job = create(stub, "E5", {"n_sections": 30}, seed=3)  # a few seconds
        wait_job(stub, job.id, lambda j: j.state == S.JOB_STATE_RUNNING and j.progress > 0)
        victim = first.runtime.workers[0]
        victim.kill()
        wait_job(stub, job.id, lambda j: j.attempts == 2 and j.state == S.JOB_STATE_RUNNING,
                 30)
    finally:
        first.close()  # the running job goes back to the queue
    store = JobStore(tmp_path)
    try:
        back = store.get(job.id)
        assert back.state == "QUEUED" and back.attempts == 2  # not reset by the stop
        requeue = [e.message for e in store.events(job.id)
                   if e.state == "QUEUED" and e.attempts == 1]
        assert requeue == [f"requeued: worker process {victim.settings.owner} (pid "
                           f"{victim.process.pid}) was killed by signal SIGKILL on attempt 1 "
                           "of 3"]
        assert "lease" not in requeue[0]
    finally:
        store.close()
    second = JobServer(tmp_path, n_workers=1)
    try:
        done = wait_job(second.stub, job.id, lambda j: j.state == S.JOB_STATE_SUCCEEDED, 60)
        assert done.attempts == 3  # three starts, across the restart
        assert (tmp_path / "results" / job.id / "attempt-3").is_dir()
    finally:
        second.close()


# ---------------------------------------------------------------------- bearer scheme
def authorized(interceptor: BearerTokenInterceptor, value) -> bool:
    return interceptor._authorized((("authorization", value),))


@pytest.mark.parametrize("value", ["Bearer s3cret", "bearer s3cret", "BEARER s3cret",
                                   "bEaReR s3cret", "Bearer   s3cret", b"bearer s3cret"])
def test_the_bearer_scheme_is_case_insensitive(value):
    assert authorized(BearerTokenInterceptor("s3cret"), value)


@pytest.mark.parametrize("value", ["Bearer S3CRET", "Bearer s3cret ", "Bearer s3cre",
                                   "Bearers3cret", "Basic s3cret", "s3cret", "Bearer",
                                   "Bearer ", "", "Token s3cret", "Bearer\ts3cret"])
def test_the_token_itself_must_match_exactly(value):
    assert not authorized(BearerTokenInterceptor("s3cret"), value)


def test_a_lowercase_scheme_is_accepted_over_grpc(tmp_path):
    """A server with a token: calls with "bearer"/"BEARER" pass, a wrong token does not."""

    async def scenario() -> list:
        server = grpc.aio.server(interceptors=[BearerTokenInterceptor("s3cret")])
        runtime = add_job_service(server, data_dir=tmp_path,
                                  options=SimpleNamespace(n_workers=0, torch_worker=False))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        codes = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = jobs_pb2_grpc.JobServiceStub(channel)
                for value in ("Bearer s3cret", "bearer s3cret", "BEARER s3cret",
                              "bearer S3CRET", "Basic s3cret"):
                    try:
                        await stub.ListJobs(jobs_pb2.ListJobsRequest(), timeout=10,
                                            metadata=[("authorization", value)])
                        codes.append(grpc.StatusCode.OK)
                    except grpc.aio.AioRpcError as exc:
                        codes.append(exc.code())
        finally:
            await server.stop(0)
            await runtime.stop(1.0)
        return codes

    ok, denied = grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED
    assert asyncio.run(scenario()) == [ok, ok, ok, denied, denied]
