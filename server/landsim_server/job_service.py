"""The JobService servicer, the conversions it needs, and the runtime of the worker processes.

:func:`add_job_service` is what the server's ``app`` calls: it opens the job store of the
data directory, registers a :class:`JobServicer` on the ``grpc.aio`` server and returns
the :class:`JobRuntime`, whose ``start()`` launches the worker processes (simulator
workers for toy jobs, optionally one torch worker for real jobs) and a supervisor that
requeues jobs of lost workers and restarts workers that died, and whose ``stop(grace_s)``
stops them, giving unfinished jobs back to the queue.

The servicer is thin: request checks and proto conversions are plain functions below,
storage is :class:`~landsim_server.job_store.JobStore` (called from threads, never on the
event loop) and the work happens in :mod:`landsim_server.workers`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2

from landsim.experiments import EXPERIMENT_IDS
from landsim.results import Result
from landsim.v1 import jobs_pb2, jobs_pb2_grpc

from . import job_config
from .arrays import DEFAULT_CHUNK_BYTES, iter_chunks
from .errors import DataLoss, InvalidArgument, NotFound, ServiceError, grpc_errors
from .job_config import JobSpec
from .job_store import (
    FINAL_STATES,
    JobEvent,
    JobNotFound,
    JobRecord,
    JobStateError,
    JobStore,
    RequestConflict,
    ResultCorrupt,
    decode_page_token,
    encode_page_token,
)
from .workers import EXIT_JOB_LOST, WorkerHandle, WorkerSettings, new_owner, start_worker

__all__ = ["add_job_service", "JobRuntime", "JobServicer", "RuntimeSettings", "AlreadyExists",
           "FailedPrecondition", "spec_from_request", "job_to_proto", "result_parts"]

_log = logging.getLogger(__name__)
JOB_RESOURCE = "landsim.v1.Job"
MAX_REQUEST_ID_CHARS = 128
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
DEFAULT_HEARTBEAT_S = 5.0
MAX_CHUNK_BYTES = 4 << 20  # largest result chunk a client may ask for
MIN_CHUNK_BYTES = 1024

_KIND_NAMES = {jobs_pb2.JOB_KIND_UNSPECIFIED: "toy", jobs_pb2.JOB_KIND_TOY: "toy",
               jobs_pb2.JOB_KIND_REAL: "real"}
_KIND_ENUMS = {"toy": jobs_pb2.JOB_KIND_TOY, "real": jobs_pb2.JOB_KIND_REAL}
_ARM_NAMES = {jobs_pb2.JOB_ARM_UNSPECIFIED: "claim", jobs_pb2.JOB_ARM_CLAIM: "claim",
              jobs_pb2.JOB_ARM_CONTROL: "control"}
_ARM_ENUMS = {"claim": jobs_pb2.JOB_ARM_CLAIM, "control": jobs_pb2.JOB_ARM_CONTROL}


class AlreadyExists(ServiceError):
    """A request_id already names a job made from a different request."""

    code = grpc.StatusCode.ALREADY_EXISTS

    def __init__(self, request_id: str, message: str) -> None:
        super().__init__(message)
        self.request_id = request_id

    def details(self) -> list:
        return [error_details_pb2.ResourceInfo(resource_type=JOB_RESOURCE,
                                               resource_name=self.request_id,
                                               description=self.message)]


class FailedPrecondition(ServiceError):
    """The job is not in a state that allows the call."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, job_id: str, message: str) -> None:
        super().__init__(message)
        self.job_id = job_id

    def details(self) -> list:
        return [error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(
                type="JOB_STATE", subject=f"{JOB_RESOURCE}/{self.job_id}",
                description=self.message)])]


# -- requests -> specs ---------------------------------------------------------------------

def _config_field(overrides: dict, message: str) -> str:
    """The request field path of a config error: ``config.<name>`` when an override is named."""
    for name in sorted(overrides, key=len, reverse=True):
        if message.startswith(str(name)) or f"{name!r}" in message:
            return f"config.{name}"
    return "config"


def spec_from_request(request: jobs_pb2.CreateJobRequest, *, default_max_attempts: int = 3,
                      torch_worker: bool = False) -> JobSpec:
    """Check a CreateJobRequest and build its JobSpec (toy configs resolved completely).

    For a toy job of the control arm, the control of the resolved config is built too, so
    a config whose control the experiment rejects fails here rather than in the worker.

    Raises
    ------
    InvalidArgument
        Naming the field: experiment_id, kind, config_json / config.<name>, seed,
        replicate, arm, request_id or max_attempts.
    """
    if request.kind not in _KIND_NAMES:
        raise InvalidArgument("kind", f"kind must be JOB_KIND_TOY or JOB_KIND_REAL, got "
                                      f"{request.kind}")
    kind = _KIND_NAMES[request.kind]
    if request.seed < 0:
        raise InvalidArgument("seed", f"seed must be in [0, {job_config.SEED_MAX}], got "
                                      f"{request.seed}")
    if not 0 <= request.replicate <= job_config.REPLICATE_MAX:
        raise InvalidArgument("replicate", f"replicate must be in [0, "
                                           f"{job_config.REPLICATE_MAX}], got "
                                           f"{request.replicate}")
    if request.arm not in _ARM_NAMES:
        raise InvalidArgument("arm", f"arm must be JOB_ARM_UNSPECIFIED (0, the claim), "
                                     f"JOB_ARM_CLAIM (1) or JOB_ARM_CONTROL (2), got "
                                     f"{request.arm}")
    arm = _ARM_NAMES[request.arm]
    rid = request.request_id
    if len(rid) > MAX_REQUEST_ID_CHARS or not all(32 <= ord(ch) < 127 for ch in rid):
        raise InvalidArgument("request_id", f"request_id must be 1 to {MAX_REQUEST_ID_CHARS} "
                                            f"printable ASCII characters, got {rid[:40]!r}"
                                            f"{'...' if len(rid) > 40 else ''}")
    max_attempts = request.max_attempts or default_max_attempts
    if not 1 <= max_attempts <= 10:
        raise InvalidArgument("max_attempts", f"max_attempts must be in [0, 10] (0: the "
                                              f"default), got {request.max_attempts}")
    which = request.WhichOneof("config")
    if which == "config_struct":
        try:
            overrides = json_format.MessageToDict(request.config_struct)
        except ValueError as exc:  # NaN or inf: JSON has no such number
            raise InvalidArgument("config_struct", f"config_struct must hold JSON values: "
                                                   f"{exc}") from exc
    else:
        try:
            overrides = job_config.parse_overrides(request.config_json)
        except ValueError as exc:
            raise InvalidArgument("config_json", str(exc)) from exc
    experiment = request.experiment_id
    if kind == "toy":
        try:
            module = job_config.resolve("toy", experiment)
        except ValueError as exc:
            raise InvalidArgument("experiment_id", str(exc)) from exc
        try:
            config = job_config.build_config(module, overrides, request.quick)
        except ValueError as exc:
            raise InvalidArgument(_config_field(overrides, str(exc)), str(exc)) from exc
        if arm == "control":
            try:
                module.control_config(config)
            except ValueError as exc:
                raise InvalidArgument("arm", f"the control of this config is not valid: "
                                             f"{exc}") from exc
        overrides, quick = job_config.config_dict(config), False
    else:
        reason = job_config.real_available()
        if reason is None and not torch_worker:
            reason = "this server runs no torch worker (torch_worker is off)"
        if reason is not None:
            raise InvalidArgument("kind", f"kind real is not available: {reason}")
        if experiment not in EXPERIMENT_IDS:
            raise InvalidArgument("experiment_id", f"experiment must be one of "
                                                   f"{EXPERIMENT_IDS}, got {experiment!r}")
        quick = request.quick
    try:
        return JobSpec(experiment=experiment, kind=kind, config=overrides, quick=quick,
                       seed=int(request.seed), max_attempts=max_attempts,
                       replicate=int(request.replicate), arm=arm)
    except ValueError as exc:  # e.g. a NaN inside a Struct, or too large
        raise InvalidArgument(which or "config_json", str(exc)) from exc


# -- records -> protos ---------------------------------------------------------------------

def _set_time(field, seconds: float | None) -> None:
    if seconds is not None:
        field.FromNanoseconds(int(round(seconds * 1e9)))


def job_to_proto(job: JobRecord, event: JobEvent | None = None) -> jobs_pb2.Job:
    """A JobRecord as a Job message; with ``event``, its mutable fields as of the event."""
    state, progress, message, attempts, error = (
        (event.state, event.progress, event.message, event.attempts, event.error)
        if event is not None else
        (job.state, job.progress, job.message, job.attempts, job.error))
    out = jobs_pb2.Job(
        id=job.id, request_id=job.request_id or "", experiment_id=job.experiment,
        kind=_KIND_ENUMS[job.kind], config_json=json.dumps(job.config, sort_keys=True),
        quick=job.quick, seed=job.seed, state=jobs_pb2.JobState.Value(f"JOB_STATE_{state}"),
        progress=progress, message=message, attempts=attempts, max_attempts=job.max_attempts,
        error=error, cancel_requested=job.cancel_requested, replicate=job.replicate,
        arm=_ARM_ENUMS[job.arm])
    _set_time(out.create_time, job.created)
    _set_time(out.start_time, job.started)
    _set_time(out.finish_time, job.finished)
    _set_time(out.lease_expire_time, job.lease_expires if job.state == "RUNNING" else None)
    return out


def result_parts(result: Result, chunk_bytes: int = DEFAULT_CHUNK_BYTES
                 ) -> Iterator[jobs_pb2.JobResultPart]:
    """A Result as GetJobResult messages: the summary, then each series as chunks."""
    data = result.to_json_dict()
    summary = jobs_pb2.JobResultSummary(
        experiment_id=result.experiment, kind=_KIND_ENUMS[result.kind],
        config_json=json.dumps(result.config, sort_keys=True), seed=result.seed,
        version=result.version, machine=result.machine, timings=result.timings,
        metrics=result.metrics,
        verdict=jobs_pb2.Verdict(holds=result.verdict.holds, rule=result.verdict.rule,
                                 evidence=result.verdict.evidence),
        arrays=[jobs_pb2.ArrayInfo(name=name, dtype=info["dtype"], shape=info["shape"])
                for name, info in data["series"].items()],
        replicate=result.replicate, arm=_ARM_ENUMS[result.arm])
    yield jobs_pb2.JobResultPart(summary=summary)
    for name, array in result.series.items():
        for chunk in iter_chunks(name, array, chunk_bytes):
            yield jobs_pb2.JobResultPart(chunk=chunk)


def _states_filter(states) -> list[str]:
    out = []
    for value in states:
        name = jobs_pb2.JobState.Name(value) if value in jobs_pb2.JobState.values() else None
        if name is None or name == "JOB_STATE_UNSPECIFIED":
            raise InvalidArgument("states", f"states must hold JOB_STATE_QUEUED .. "
                                            f"JOB_STATE_CANCELLED, got {value}")
        out.append(name.removeprefix("JOB_STATE_"))
    return sorted(set(out))


# -- runtime -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """How many workers run and how jobs are leased and served.

    Attributes
    ----------
    n_workers : int
        Simulator worker processes (toy jobs), in [0, 64]; 0 only queues jobs.
    torch_worker : bool
        Start one torch worker process for real jobs.
    lease_s : float
        Seconds a worker's lease on its job lasts without renewal, in [0.2, 3600].
    poll_s : float
        Seconds between claims of an idle worker, in ]0, 60].
    supervise_s : float
        Seconds between two checks of the supervisor (expired leases, dead workers).
    max_attempts : int
        Default starts allowed per job, in [1, 10].
    max_chunk_bytes : int
        Largest GetJobResult chunk, in [1024, 4 MiB].
    watch_poll_s : float
        Seconds between two looks for news of a watched job.
    watch_max_s : float
        Longest a WatchJob stream lasts before it ends with DEADLINE_EXCEEDED.
    max_restarts : int
        Restarts of a crashed worker slot before the supervisor gives up on it (a worker
        that ended itself to drop a cancelled job is replaced without counting).
    """

    n_workers: int = 1
    torch_worker: bool = False
    lease_s: float = 30.0
    poll_s: float = 0.2
    supervise_s: float = 1.0
    max_attempts: int = 3
    max_chunk_bytes: int = MAX_CHUNK_BYTES
    watch_poll_s: float = 0.05
    watch_max_s: float = 24 * 3600.0
    max_restarts: int = 100

    def __post_init__(self) -> None:
        def integer(name: str, low: int, high: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {v!r}")

        def real(name: str, low: float, high: float) -> None:
            v = getattr(self, name)
            if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                    or not low <= v <= high):
                raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")

        integer("n_workers", 0, 64)
        if not isinstance(self.torch_worker, bool):
            raise ValueError(f"torch_worker must be a bool, got {self.torch_worker!r}")
        real("lease_s", 0.2, 3600.0)
        real("poll_s", 1e-3, 60.0)
        real("supervise_s", 1e-2, 600.0)
        integer("max_attempts", 1, 10)
        integer("max_chunk_bytes", MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
        real("watch_poll_s", 1e-3, 10.0)
        real("watch_max_s", 1.0, 7 * 24 * 3600.0)
        integer("max_restarts", 0, 10**6)

    @classmethod
    def from_options(cls, options) -> RuntimeSettings:
        """Read the app's ServerOptions (any object; missing attributes keep defaults)."""
        names = {"n_workers": "n_workers", "torch_worker": "torch_worker",
                 "job_lease_s": "lease_s", "job_max_attempts": "max_attempts",
                 "job_poll_s": "poll_s", "max_chunk_bytes": "max_chunk_bytes"}
        values = {field: getattr(options, opt) for opt, field in names.items()
                  if getattr(options, opt, None) is not None}
        message_cap = getattr(options, "max_message_bytes", None)
        if isinstance(message_cap, int) and message_cap > 0:  # room for the message frame
            values["max_chunk_bytes"] = max(MIN_CHUNK_BYTES, min(
                values.get("max_chunk_bytes", MAX_CHUNK_BYTES), message_cap - 4096))
        return cls(**values)


class JobRuntime:
    """The worker processes of one server and their supervisor.

    Parameters
    ----------
    data_dir : str or Path
        The server's data directory.
    settings : RuntimeSettings
    """

    def __init__(self, data_dir: str | Path, settings: RuntimeSettings) -> None:
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.store = JobStore(self.data_dir)
        self.workers: list[WorkerHandle] = []
        self._restarts: list[int] = []
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        self._closed = False
        self._check_lock = threading.Lock()  # one supervisor turn at a time, none after stop

    def _worker_settings(self, kind: str) -> WorkerSettings:
        return WorkerSettings(data_dir=str(self.data_dir), owner=new_owner(kind), kinds=(kind,),
                              lease_s=self.settings.lease_s, poll_s=self.settings.poll_s)

    def _slot_kinds(self) -> list[str]:
        return ["toy"] * self.settings.n_workers + (["real"] if self.settings.torch_worker
                                                    else [])

    async def start(self) -> None:
        """Launch the worker processes and the supervisor (idempotent; not after stop)."""
        if self._closed:
            raise RuntimeError("this JobRuntime was stopped; make a new one")
        if self._supervisor is not None:
            return
        self._stopping = False
        for kind in self._slot_kinds():
            handle = await asyncio.to_thread(start_worker, self._worker_settings(kind))
            self.workers.append(handle)
            self._restarts.append(0)
        self._supervisor = asyncio.create_task(self._supervise(), name="job-supervisor")

    async def _supervise(self) -> None:
        """Every supervise_s: requeue expired leases, restart workers that died."""
        while not self._stopping:
            try:
                await asyncio.to_thread(self.check_workers)
            except Exception:  # keep supervising; the log says what went wrong
                _log.exception("job supervisor check failed")
            await asyncio.sleep(self.settings.supervise_s)

    def check_workers(self) -> None:
        """One supervisor turn (blocking): reap expired leases, replace dead workers."""
        with self._check_lock:
            if not self._stopping:
                self._check_workers()

    def _check_workers(self) -> None:
        self.store.reap_expired()
        for i, handle in enumerate(self.workers):
            if handle.alive:
                continue
            lost = self.store.expire_owner(handle.settings.owner)
            if handle.process.exitcode == EXIT_JOB_LOST:  # dropped a cancelled job: no crash
                _log.info("worker %s left its cancelled job; starting a fresh one",
                          handle.settings.owner)
            else:
                _log.warning("worker %s exited with %s; its jobs %s were reaped",
                             handle.settings.owner, handle.process.exitcode, lost)
                if self._restarts[i] >= self.settings.max_restarts:
                    continue
                self._restarts[i] += 1
            self.workers[i] = start_worker(self._worker_settings(handle.settings.kinds[0]))

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop the workers: they give their running jobs back to the queue at their next
        progress report; after ``grace_s`` seconds the rest are terminated, and their jobs
        are requeued without using up an attempt. Then the store is closed: call this after
        the gRPC server stopped."""
        if self._closed:
            return
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
            self._supervisor = None
        await asyncio.to_thread(self._check_lock.acquire)  # wait for a turn in progress
        self._check_lock.release()
        for handle in self.workers:
            handle.stop.set()
        deadline = time.monotonic() + max(0.0, grace_s)
        for handle in self.workers:
            await asyncio.to_thread(handle.process.join, max(0.0, deadline - time.monotonic()))
        for handle in self.workers:
            if handle.process.is_alive():
                handle.process.terminate()
                await asyncio.to_thread(handle.process.join, 2.0)
            if handle.process.is_alive():
                handle.process.kill()
                await asyncio.to_thread(handle.process.join, 2.0)
            await asyncio.to_thread(self.store.release_owner, handle.settings.owner,
                                    "requeued: the server stopped")
        self.workers.clear()
        self._restarts.clear()
        self._closed = True
        self.store.close()


# -- servicer ------------------------------------------------------------------------------

class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """landsim.v1.JobService over a JobStore; the work is done by the runtime's workers."""

    def __init__(self, store: JobStore, settings: RuntimeSettings) -> None:
        self.store = store
        self.settings = settings

    async def _call(self, fn, *args):
        """Run a blocking store call in a thread, turning store errors into statuses."""
        try:
            return await asyncio.to_thread(fn, *args)
        except JobNotFound as exc:
            raise NotFound(JOB_RESOURCE, str(args[0])) from exc
        except JobStateError as exc:
            raise FailedPrecondition(str(args[0]), str(exc)) from exc
        except ResultCorrupt as exc:
            raise DataLoss("landsim.v1.JobResult", str(args[0]), str(exc)) from exc

    @grpc_errors
    async def CreateJob(self, request, context):
        """Check the request, resolve a toy config, queue the job (idempotent)."""
        spec = await asyncio.to_thread(
            spec_from_request, request, default_max_attempts=self.settings.max_attempts,
            torch_worker=self.settings.torch_worker)
        try:
            job, _ = await asyncio.to_thread(self.store.create, spec, request.request_id or None)
        except RequestConflict as exc:
            raise AlreadyExists(request.request_id, str(exc)) from exc
        return job_to_proto(job)

    @grpc_errors
    async def GetJob(self, request, context):
        """One job by id."""
        return job_to_proto(await self._call(self.store.get, request.job_id))

    @grpc_errors
    async def ListJobs(self, request, context):
        """A page of jobs in creation order, optionally filtered by state."""
        states = _states_filter(request.states)
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument("page_size", f"page_size must be in [0, {MAX_PAGE_SIZE}] "
                                               f"(0: {DEFAULT_PAGE_SIZE}), got "
                                               f"{request.page_size}")
        try:
            after = decode_page_token(request.page_token, states)
        except ValueError as exc:
            raise InvalidArgument("page_token", str(exc)) from exc
        jobs, next_seq = await asyncio.to_thread(
            self.store.list, states, request.page_size or DEFAULT_PAGE_SIZE, after)
        return jobs_pb2.ListJobsResponse(
            jobs=[job_to_proto(j) for j in jobs],
            next_page_token="" if next_seq is None else encode_page_token(next_seq, states))

    @grpc_errors
    async def WatchJob(self, request, context) -> AsyncIterator[jobs_pb2.JobEvent]:
        """The job now, then each stored event (polled), heartbeats, until a final state."""
        heartbeat = request.heartbeat_s or DEFAULT_HEARTBEAT_S
        if not (math.isfinite(heartbeat) and 0.1 <= heartbeat <= 60.0):
            raise InvalidArgument("heartbeat_s", f"heartbeat_s must be 0 or in [0.1, 60] "
                                                 f"seconds, got {request.heartbeat_s}")
        job, last = await self._call(self.store.snapshot, request.job_id)
        yield jobs_pb2.JobEvent(job=job_to_proto(job))
        if job.final:
            return
        poll = self.settings.watch_poll_s
        sent = time.monotonic()
        for _ in range(int(self.settings.watch_max_s / poll) + 1):
            await asyncio.sleep(poll)
            events = await self._call(self.store.events, request.job_id, last)
            if events:
                job = await self._call(self.store.get, request.job_id)
                for event in events:
                    yield jobs_pb2.JobEvent(job=job_to_proto(job, event))
                    last = event.seq
                    if event.state in FINAL_STATES:
                        return
                sent = time.monotonic()
            elif time.monotonic() - sent >= heartbeat:
                job = await self._call(self.store.get, request.job_id)
                yield jobs_pb2.JobEvent(job=job_to_proto(job), heartbeat=True)
                sent = time.monotonic()
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                            f"watch of job {request.job_id} lasted the server's limit of "
                            f"{self.settings.watch_max_s:g} s; watch again")

    @grpc_errors
    async def CancelJob(self, request, context):
        """Make a queued or running job CANCELLED."""
        return job_to_proto(await self._call(self.store.cancel, request.job_id))

    @grpc_errors
    async def GetJobResult(self, request, context):
        """The checked result of a SUCCEEDED job: summary, then array chunks."""
        size = request.chunk_bytes or min(DEFAULT_CHUNK_BYTES, self.settings.max_chunk_bytes)
        if not 0 < size <= self.settings.max_chunk_bytes:
            raise InvalidArgument("chunk_bytes", f"chunk_bytes must be in [0, "
                                                 f"{self.settings.max_chunk_bytes}], got "
                                                 f"{request.chunk_bytes}")
        result = await self._call(self.store.result, request.job_id)
        for part in result_parts(result, max(size, MIN_CHUNK_BYTES)):
            yield part

    @grpc_errors
    async def DeleteJob(self, request, context):
        """Forget a job that is not running, with its result files."""
        await self._call(self.store.delete, request.job_id)
        return jobs_pb2.DeleteJobResponse()


def add_job_service(server: grpc.aio.Server, *, data_dir: str | Path, options) -> JobRuntime:
    """Register JobService on ``server`` and return the (not yet started) JobRuntime.

    Parameters
    ----------
    server : grpc.aio.Server
    data_dir : str or Path
        Database and result files of the server.
    options : object
        The app's ServerOptions; read with defaults: ``n_workers`` (1), ``torch_worker``
        (False), ``job_lease_s`` (30), ``job_max_attempts`` (3), ``job_poll_s`` (0.2),
        ``max_chunk_bytes`` (4 MiB) and ``max_message_bytes`` (caps the chunk size).

    Returns
    -------
    JobRuntime
        ``await runtime.start()`` after the server starts; ``await runtime.stop(grace_s)``
        when it stops.
    """
    settings = RuntimeSettings.from_options(options)
    runtime = JobRuntime(data_dir, settings)
    jobs_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(runtime.store, settings), server)
    return runtime
