"""JobService over gRPC: a grpc.aio server with add_job_service on 127.0.0.1:0 (run in a
thread's event loop), called with the synchronous client."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import textwrap
import threading
import time
from types import SimpleNamespace

import grpc
import numpy as np
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from landsim_server.arrays import assemble
from landsim_server.job_service import add_job_service
from landsim_server.job_store import JobStore
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc

from landsim.units import Unit, experiment_module, run_unit

TINY_E1 = {"n_starts": 2, "dim": 200, "n_short": 20, "steps": 50, "line_points": 11}
S = jobs_pb2  # enum values: S.JOB_STATE_QUEUED, ...


class JobServer:
    """A grpc.aio server with only the job service, in a background event loop."""

    def __init__(self, data_dir, **options) -> None:
        opts = {"n_workers": 1, "torch_worker": False, "job_poll_s": 0.05, "job_lease_s": 10.0}
        opts.update(options)
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = self._run(self._start(SimpleNamespace(**opts)))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = jobs_pb2_grpc.JobServiceStub(self.channel)

    def _run(self, coro, timeout_s: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    async def _start(self, options) -> int:
        self.server = grpc.aio.server()
        self.runtime = add_job_service(self.server, data_dir=self.data_dir, options=options)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        await self.runtime.start()
        return port

    def close(self) -> None:
        self.channel.close()
        self._run(self.server.stop(1.0))
        self._run(self.runtime.stop(5.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = JobServer(tmp_path_factory.mktemp("jobs"))
    yield server
    server.close()


def create(stub, experiment="E1", config=None, quick=True, **kw) -> jobs_pb2.Job:
    return stub.CreateJob(jobs_pb2.CreateJobRequest(
        experiment_id=experiment, config_json=json.dumps(TINY_E1 if config is None else config),
        quick=quick, **kw), timeout=30)


def wait_job(stub, job_id: str, predicate, timeout_s: float = 60.0) -> jobs_pb2.Job:
    for _ in range(int(timeout_s / 0.05) + 1):  # bounded poll
        job = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job_id), timeout=10)
        if predicate(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {S.JobState.Name(job.state)} after {timeout_s} s")


def bad_field(err: grpc.RpcError) -> str:
    """The field of the BadRequest detail of an INVALID_ARGUMENT error."""
    status = rpc_status.from_call(err)
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    return detail.field_violations[0].field


def test_create_with_request_id_is_idempotent(served):
    stub = served.stub
    first = create(stub, seed=7, request_id="retry-me")
    again = create(stub, seed=7, request_id="retry-me")
    assert again.id == first.id and again.create_time == first.create_time
    # the same overrides as a Struct (numbers arrive as doubles) are the same request
    struct = struct_pb2.Struct()
    struct.update(TINY_E1)
    as_struct = stub.CreateJob(jobs_pb2.CreateJobRequest(
        experiment_id="E1", config_struct=struct, quick=True, seed=7, request_id="retry-me"))
    assert as_struct.id == first.id
    with pytest.raises(grpc.RpcError) as info:
        create(stub, seed=8, request_id="retry-me")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "retry-me" in info.value.details()
    assert create(stub, seed=7).id != first.id  # no request id: a new job
    # an explicit JOB_ARM_CLAIM is the default arm: the same request
    assert create(stub, seed=7, request_id="retry-me", arm=S.JOB_ARM_CLAIM).id == first.id
    for other in ({"replicate": 1}, {"arm": S.JOB_ARM_CONTROL}):  # part of the body
        with pytest.raises(grpc.RpcError) as info:
            create(stub, seed=7, request_id="retry-me", **other)
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (first.replicate, first.arm) == (0, S.JOB_ARM_CLAIM)  # stored, never unspecified
    config = json.loads(first.config_json)
    assert config["n_starts"] == 2 and config["eps0"] == 0.01  # complete, resolved
    assert first.kind == S.JOB_KIND_TOY and first.max_attempts == 3 and not first.quick


@pytest.mark.parametrize("request_kw, field, text", [
    ({"experiment_id": "E9"}, "experiment_id", "'E9'"),
    ({"config_json": '{"bogus": 1}'}, "config.bogus", "'bogus' is not a field"),
    ({"config_json": '{"n_starts": 0}'}, "config.n_starts", "n_starts must be an integer >= 1"),
    ({"config_json": '{"n_starts": 2.5}'}, "config.n_starts", "must be an integer, got 2.5"),
    ({"config_json": "[1, 2]"}, "config_json", "must be a JSON object"),
    ({"config_json": "{nope"}, "config_json", "not valid JSON"),
    ({"seed": -3}, "seed", "got -3"),
    ({"kind": S.JOB_KIND_REAL}, "kind", "kind real is not available"),
    ({"kind": 7}, "kind", "got 7"),
    ({"request_id": "x" * 129}, "request_id", "1 to 128 printable ASCII"),
    ({"max_attempts": 11}, "max_attempts", "got 11"),
    ({"replicate": -1}, "replicate", "replicate must be in [0, 9999], got -1"),
    ({"replicate": 10000}, "replicate", "replicate must be in [0, 9999], got 10000"),
    ({"arm": 7}, "arm", "JOB_ARM_CONTROL (2), got 7"),
    ({"arm": S.JOB_ARM_CONTROL, "config_json": '{"n_starts": 1}'}, "arm",
     "n_starts must be an integer >= 2 when line_start is 'other_optimum'"),
])
def test_bad_create_requests_are_invalid_argument_naming_the_field(served, request_kw, field,
                                                                   text):
    request = {"experiment_id": "E1", "quick": True, "config_json": "{}", **request_kw}
    with pytest.raises(grpc.RpcError) as info:
        served.stub.CreateJob(jobs_pb2.CreateJobRequest(**request), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert text in info.value.details()
    assert bad_field(info.value) == field


def test_struct_and_oversized_configs_are_checked(served):
    struct = struct_pb2.Struct()
    struct.update({"radius": float("nan")})
    with pytest.raises(grpc.RpcError) as info:
        served.stub.CreateJob(jobs_pb2.CreateJobRequest(experiment_id="E1",
                                                        config_struct=struct))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field(info.value) == "config_struct" and "NaN" in info.value.details()
    huge = json.dumps({"note": "x" * 70000})
    with pytest.raises(grpc.RpcError) as info:
        served.stub.CreateJob(jobs_pb2.CreateJobRequest(experiment_id="E1", config_json=huge))
    assert bad_field(info.value) == "config_json" and "at most 65536 bytes" in \
        info.value.details()


def test_unknown_job_id_is_not_found(served):
    stub, missing = served.stub, "0" * 32
    calls = [
        lambda: stub.GetJob(jobs_pb2.GetJobRequest(job_id=missing)),
        lambda: stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=missing)),
        lambda: stub.DeleteJob(jobs_pb2.DeleteJobRequest(job_id=missing)),
        lambda: list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=missing))),
        lambda: list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=missing))),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert missing in info.value.details()


def test_watch_follows_the_job_to_the_end_and_the_result_streams_exactly(served):
    stub = served.stub
    create(stub, "E5", {"n_sections": 6}, seed=1)  # keeps the worker busy for a while
    config = {**TINY_E1, "n_starts": 4, "line_points": 101}
    job = create(stub, config=config, seed=2)
    events = list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id, heartbeat_s=0.2),
                                timeout=120))  # ends by itself at the final state
    changes = [e.job for e in events if not e.heartbeat]
    states = [S.JobState.Name(j.state).removeprefix("JOB_STATE_") for j in changes]
    assert states[0] == "QUEUED" and states[-1] == "SUCCEEDED"
    first_running = states.index("RUNNING")
    assert set(states[:first_running]) == {"QUEUED"}
    assert set(states[first_running:-1]) == {"RUNNING"}
    progress = [j.progress for j in changes[first_running:]]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(set(progress)) >= 3
    assert any(e.heartbeat for e in events)  # it waited behind the E5 job
    assert all(e.job.id == job.id for e in events)

    parts = list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=job.id,
                                                                chunk_bytes=1024), timeout=30))
    summary = parts[0].summary
    assert parts[0].WhichOneof("part") == "summary"
    chunks = [p.chunk for p in parts[1:]]
    assert all(p.WhichOneof("part") == "chunk" for p in parts[1:])
    assert max(len(c.data) for c in chunks) <= 1024
    arrays = assemble(chunks)
    stored = JobStore(served.data_dir).result(job.id)  # what the worker wrote, read back
    assert [a.name for a in summary.arrays] == list(stored.series) == list(arrays)
    assert sum(c.name == "line_loss" for c in chunks) == 4  # 4 x 101 float64 in 1 KiB pieces
    for name, array in stored.series.items():
        assert arrays[name].dtype == array.dtype and np.array_equal(arrays[name], array)
    assert dict(summary.metrics).keys() == stored.metrics.keys()
    for key, value in stored.metrics.items():
        assert summary.metrics[key] == value or (math.isnan(value)
                                                 and math.isnan(summary.metrics[key]))
    assert (summary.verdict.holds, summary.verdict.rule, summary.verdict.evidence) == (
        stored.verdict.holds, stored.verdict.rule, stored.verdict.evidence)
    assert json.loads(summary.config_json) == stored.config == json.loads(job.config_json)
    assert summary.seed == 2 and summary.experiment_id == "E1" and "total" in summary.timings
    assert (summary.replicate, summary.arm) == (0, S.JOB_ARM_CLAIM)

    # a watch of a finished job is its final state alone
    again = list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id)))
    assert [e.job.state for e in again] == [S.JOB_STATE_SUCCEEDED]
    stub.DeleteJob(jobs_pb2.DeleteJobRequest(job_id=job.id))
    with pytest.raises(grpc.RpcError) as info:
        stub.GetJob(jobs_pb2.GetJobRequest(job_id=job.id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert not (served.data_dir / "results" / job.id).exists()


def test_cancel_a_running_job(served):
    stub = served.stub
    job = create(stub, "E5", {"n_sections": 400}, seed=3)  # tens of seconds uncancelled
    wait_job(stub, job.id, lambda j: j.state == S.JOB_STATE_RUNNING and j.progress > 0)
    cancelled = stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=job.id))
    assert cancelled.state == S.JOB_STATE_CANCELLED and cancelled.cancel_requested
    assert cancelled.HasField("finish_time") and not cancelled.HasField("lease_expire_time")
    assert stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=job.id)).state == \
        S.JOB_STATE_CANCELLED
    assert [e.job.state for e in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id))] == [
        S.JOB_STATE_CANCELLED]
    with pytest.raises(grpc.RpcError) as info:
        list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=job.id)))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # the one worker ended itself to drop the cancelled run, and the supervisor started a
    # fresh one without counting a crash: the next job finishes
    restarts = list(served.runtime._restarts)
    after = create(stub, seed=4)
    wait_job(stub, after.id, lambda j: j.state == S.JOB_STATE_SUCCEEDED, 60)
    assert served.runtime._restarts == restarts
    assert stub.GetJob(jobs_pb2.GetJobRequest(job_id=job.id)).state == S.JOB_STATE_CANCELLED
    with pytest.raises(grpc.RpcError) as info:
        stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=after.id))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_list_filters_by_state_and_pages(tmp_path):
    server = JobServer(tmp_path, n_workers=0)  # nothing runs: states stay put
    try:
        stub = server.stub
        ids = [create(stub, seed=i).id for i in range(5)]
        for i in (1, 3):
            stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=ids[i]))
        pages, token = [], ""
        for _ in range(5):  # bounded: 3 queued jobs in pages of 2
            page = stub.ListJobs(jobs_pb2.ListJobsRequest(
                states=[S.JOB_STATE_QUEUED], page_size=2, page_token=token))
            pages.append([j.id for j in page.jobs])
            token = page.next_page_token
            if not token:
                break
        assert pages == [[ids[0], ids[2]], [ids[4]]]
        cancelled = stub.ListJobs(jobs_pb2.ListJobsRequest(states=[S.JOB_STATE_CANCELLED]))
        assert [j.id for j in cancelled.jobs] == [ids[1], ids[3]]
        assert not cancelled.next_page_token
        assert [j.id for j in stub.ListJobs(jobs_pb2.ListJobsRequest()).jobs] == ids
        first = stub.ListJobs(jobs_pb2.ListJobsRequest(states=[S.JOB_STATE_QUEUED],
                                                       page_size=1))
        bad = [({"page_token": first.next_page_token}, "page_token"),
               ({"page_token": "garbage"}, "page_token"),
               ({"states": [S.JOB_STATE_UNSPECIFIED]}, "states"),
               ({"page_size": 501}, "page_size")]
        for kw, field in bad:
            with pytest.raises(grpc.RpcError) as info:
                stub.ListJobs(jobs_pb2.ListJobsRequest(**kw))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert bad_field(info.value) == field
    finally:
        server.close()


def test_restart_on_the_same_data_dir_keeps_jobs_and_results(tmp_path):
    first = JobServer(tmp_path, n_workers=0)
    try:
        job = create(first.stub, seed=11, request_id="survives")
        assert job.state == S.JOB_STATE_QUEUED
    finally:
        first.close()
    second = JobServer(tmp_path, n_workers=1)  # the queued job runs after the restart
    try:
        wait_job(second.stub, job.id, lambda j: j.state == S.JOB_STATE_SUCCEEDED)
        before = assemble(p.chunk for p in list(second.stub.GetJobResult(
            jobs_pb2.GetJobResultRequest(job_id=job.id)))[1:])
    finally:
        second.close()
    third = JobServer(tmp_path, n_workers=0)
    try:
        stub = third.stub
        kept = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job.id))
        assert kept.state == S.JOB_STATE_SUCCEEDED and kept.attempts == 1
        assert create(stub, seed=11, request_id="survives").id == job.id
        parts = list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=job.id)))
        after = assemble(p.chunk for p in parts[1:])
        assert after.keys() == before.keys()
        assert all(np.array_equal(after[k], before[k]) for k in before)
    finally:
        third.close()


def test_supervisor_replaces_a_killed_worker_and_stop_requeues_its_job(tmp_path):
    server = JobServer(tmp_path, n_workers=1)
    try:
        stub = server.stub
        job = create(stub, "E5", {"n_sections": 60}, seed=5)  # several seconds
        wait_job(stub, job.id, lambda j: j.state == S.JOB_STATE_RUNNING and j.progress > 0)
        victim = server.runtime.workers[0]
        victim.kill()
        # the supervisor sees the dead process, ends its lease at once (well before the 10 s
        # lease) and starts a new worker, which takes the job up again
        again = wait_job(stub, job.id, lambda j: j.attempts == 2 and j.progress > 0, 30)
        assert again.state == S.JOB_STATE_RUNNING
        assert server.runtime.workers[0] is not victim and server.runtime.workers[0].alive
    finally:
        server.close()  # the running job goes back to the queue, no attempt used
    store = JobStore(tmp_path)
    back = store.get(job.id)
    # attempts counts every start; the stop's start is released, so no attempt is used up
    assert back.state == "QUEUED" and back.attempts == 2 and back.lease_owner is None
    changes = [(e.state, e.attempts) for e in store.events(job.id)
               if e.state != "RUNNING" or e.message == "started"]
    assert changes == [("QUEUED", 0), ("RUNNING", 1), ("QUEUED", 1), ("RUNNING", 2),
                       ("QUEUED", 2)]
    store.close()


def test_server_process_never_imports_torch(tmp_path):
    """The full app with a torch worker runs a toy job; torch stays out of its process."""
    script = textwrap.dedent(f"""
        import asyncio, json, sys, time
        import grpc
        from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc
        from landsim_server.app import ServerOptions, start_server

        async def main():
            running = await start_server(ServerOptions(data_dir={str(tmp_path)!r},
                                                       n_workers=1, torch_worker=True))
            out = {{}}
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{{running.port}}") as ch:
                    stub = jobs_pb2_grpc.JobServiceStub(ch)
                    job = await stub.CreateJob(jobs_pb2.CreateJobRequest(
                        experiment_id="E1", quick=True, config_json={json.dumps(TINY_E1)!r}))
                    async for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.id)):
                        out["toy"] = jobs_pb2.JobState.Name(event.job.state)
                    try:
                        real = await stub.CreateJob(jobs_pb2.CreateJobRequest(
                            experiment_id="E1", kind=jobs_pb2.JOB_KIND_REAL, quick=True))
                        out["real"] = "created"
                        # the torch worker takes it (imports torch in its own process)
                        async for event in stub.WatchJob(
                                jobs_pb2.WatchJobRequest(job_id=real.id)):
                            if event.job.state != jobs_pb2.JOB_STATE_QUEUED:
                                break
                        try:  # it may end (e.g. fail) before the cancel arrives
                            await stub.CancelJob(jobs_pb2.CancelJobRequest(job_id=real.id))
                        except grpc.aio.AioRpcError as exc:
                            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                                raise
                    except grpc.aio.AioRpcError as exc:
                        out["real"] = exc.details()
                out["kinds"] = sorted(w.settings.kinds[0] for w in running.jobs.workers
                                      if w.alive)
            finally:
                await running.stop(2.0)
            out["torch"] = "torch" in sys.modules
            print(json.dumps(out))

        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["toy"] == "JOB_STATE_SUCCEEDED"
    assert out["kinds"] == ["real", "toy"]  # the torch worker was running too
    assert out["real"] == "created" or "kind real is not available" in out["real"]
    assert out["torch"] is False


def same_number(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_a_control_replicate_job_runs_exactly_the_unit(served):
    """Arm control, replicate 2 of E1's quick config: the result is run_unit's on the same
    unit, bit for bit."""
    stub = served.stub
    job = create(stub, config={}, seed=6, replicate=2, arm=S.JOB_ARM_CONTROL)
    assert (job.replicate, job.arm) == (2, S.JOB_ARM_CONTROL)
    assert json.loads(job.config_json)["line_start"] == "init"  # the claim arm's config
    done = wait_job(stub, job.id, lambda j: j.state in (S.JOB_STATE_SUCCEEDED,
                                                        S.JOB_STATE_FAILED))
    assert done.state == S.JOB_STATE_SUCCEEDED, done.error
    assert (done.replicate, done.arm) == (2, S.JOB_ARM_CONTROL)

    parts = list(stub.GetJobResult(jobs_pb2.GetJobResultRequest(job_id=job.id), timeout=30))
    summary = parts[0].summary
    assert (summary.replicate, summary.arm, summary.seed) == (2, S.JOB_ARM_CONTROL, 6)
    store = JobStore(served.data_dir)
    try:
        stored = store.result(job.id)
    finally:
        store.close()
    assert (stored.arm, stored.replicate, stored.seed) == ("control", 2, 6)
    assert [p.name for p in (served.data_dir / "results" / job.id).glob("*/*.json")] == [
        "E1-toy-control-seed6-r2.json"]

    module = experiment_module("E1")
    want = run_unit(Unit("E1", "toy", module.quick_config(), seed=6, replicate=2,
                         arm="control"))
    assert json.loads(summary.config_json) == want.config == stored.config
    assert want.config["line_start"] == "other_optimum"  # what ran is the control
    assert dict(summary.metrics).keys() == want.metrics.keys() == stored.metrics.keys()
    for key, value in want.metrics.items():  # bit-identical (NaN where NaN)
        assert same_number(summary.metrics[key], value), key
        assert same_number(stored.metrics[key], value), key
    assert stored.verdict == want.verdict
    assert summary.verdict.holds == want.verdict.holds
    arrays = assemble([p.chunk for p in parts[1:]])
    assert list(arrays) == list(want.series)
    for name, array in want.series.items():
        assert arrays[name].dtype == array.dtype
        assert np.array_equal(arrays[name], array, equal_nan=True), name
    # the claim arm of replicate 0 of the same root seed is another run
    claim = run_unit(Unit("E1", "toy", module.quick_config(), seed=6))
    assert not all(same_number(claim.metrics[k], v) for k, v in want.metrics.items())
