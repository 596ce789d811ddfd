"""The JobService servicer.

:func:`add_job_service` is what the server's ``app`` calls: it opens the job store of the
data directory, registers a :class:`JobServicer` on the ``grpc.aio`` server and returns
the :class:`~landsim_server.job_runtime.JobRuntime`, whose ``start()`` launches the worker
processes and whose ``stop(grace_s)`` stops them.

The servicer is thin: request checks and message conversions are
:mod:`landsim_server.job_convert`, storage is :class:`~landsim_server.job_store.JobStore`
(called from threads, never on the event loop), the worker processes are
:mod:`landsim_server.job_runtime` and the work happens in :mod:`landsim_server.workers`.
"""

from __future__ import annotations

import asyncio
import math
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from landsim_wire.arrays import DEFAULT_CHUNK_BYTES
from landsim_wire.v1 import jobs_pb2, jobs_pb2_grpc

from . import job_convert, job_runtime
from .decoding import add_checked_service
from .errors import DataLoss, InvalidArgument, NotFound, ServiceError, grpc_errors
from .job_records import (
    FINAL_STATES,
    JobNotFound,
    JobStateError,
    RequestConflict,
    ResultCorrupt,
    decode_page_token,
    encode_page_token,
)
from .job_store import JobStore
from .plugin_catalog import PluginCatalog
from .request_checks import check_id

__all__ = ["add_job_service", "JobServicer", "AlreadyExists", "FailedPrecondition",
           "JOB_RESOURCE"]

JOB_RESOURCE = "landsim.v1.Job"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
DEFAULT_HEARTBEAT_S = 5.0

#: Public names that moved out of this module: name -> the module that has them now.
_MOVED = {"JobRuntime": job_runtime, "RuntimeSettings": job_runtime,
          "MAX_CHUNK_BYTES": job_runtime, "MIN_CHUNK_BYTES": job_runtime,
          "spec_from_request": job_convert, "job_to_proto": job_convert,
          "result_parts": job_convert, "MAX_REQUEST_ID_CHARS": job_convert}


def __getattr__(name: str):
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(f"landsim_server.job_service.{name} moved to {module.__name__}.{name}; "
                      "import it from there (the old name goes away in the next release)",
                      DeprecationWarning, stacklevel=2)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


# -- servicer ------------------------------------------------------------------------------

class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """landsim.v1.JobService over a JobStore; the work is done by the runtime's workers."""

    def __init__(self, store: JobStore, settings: job_runtime.RuntimeSettings) -> None:
        self.store = store
        self.settings = settings
        self.plugins = PluginCatalog(enabled=settings.torch_worker,
                                     data_root=settings.data_root)

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
            job_convert.spec_from_request, request, default_max_attempts=self.settings.max_attempts,
            torch_worker=self.settings.torch_worker)
        if spec.kind == "real":
            await asyncio.to_thread(self.plugins.check_real_config, spec.config)
        try:
            job, _ = await asyncio.to_thread(self.store.create, spec, request.request_id or None)
        except RequestConflict as exc:
            raise AlreadyExists(request.request_id, str(exc)) from exc
        return job_convert.job_to_proto(job)

    @grpc_errors
    async def GetJob(self, request, context):
        """One job by id."""
        job_id = check_id(request.job_id, "job_id")
        return job_convert.job_to_proto(await self._call(self.store.get, job_id))

    @grpc_errors
    async def ListJobs(self, request, context):
        """A page of jobs in creation order, optionally filtered by state."""
        states = job_convert.states_filter(request.states)
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
            jobs=[job_convert.job_to_proto(j) for j in jobs],
            next_page_token="" if next_seq is None else encode_page_token(next_seq, states))

    @grpc_errors
    async def WatchJob(self, request, context) -> AsyncIterator[jobs_pb2.JobEvent]:
        """The job now, then each stored event (polled), heartbeats, until a final state."""
        job_id = check_id(request.job_id, "job_id")
        heartbeat = request.heartbeat_s or DEFAULT_HEARTBEAT_S
        if not (math.isfinite(heartbeat) and 0.1 <= heartbeat <= 60.0):
            raise InvalidArgument("heartbeat_s", f"heartbeat_s must be 0 or in [0.1, 60] "
                                                 f"seconds, got {request.heartbeat_s}")
        job, last = await self._call(self.store.snapshot, job_id)
        yield jobs_pb2.JobEvent(job=job_convert.job_to_proto(job))
        if job.final:
            return
        poll = self.settings.watch_poll_s
        sent = time.monotonic()
        for _ in range(int(self.settings.watch_max_s / poll) + 1):
            await asyncio.sleep(poll)
            events = await self._call(self.store.events, job_id, last)
            if events:
                job = await self._call(self.store.get, job_id)
                for event in events:
                    yield jobs_pb2.JobEvent(job=job_convert.job_to_proto(job, event))
                    last = event.seq
                    if event.state in FINAL_STATES:
                        return
                sent = time.monotonic()
            elif time.monotonic() - sent >= heartbeat:
                job = await self._call(self.store.get, job_id)
                yield jobs_pb2.JobEvent(job=job_convert.job_to_proto(job), heartbeat=True)
                sent = time.monotonic()
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                            f"watch of job {job_id} lasted the server's limit of "
                            f"{self.settings.watch_max_s:g} s; watch again")

    @grpc_errors
    async def CancelJob(self, request, context):
        """Make a queued or running job CANCELLED."""
        job_id = check_id(request.job_id, "job_id")
        return job_convert.job_to_proto(await self._call(self.store.cancel, job_id))

    @grpc_errors
    async def GetJobResult(self, request, context):
        """The checked result of a SUCCEEDED job: summary, then array chunks."""
        job_id = check_id(request.job_id, "job_id")
        size = request.chunk_bytes or min(DEFAULT_CHUNK_BYTES, self.settings.max_chunk_bytes)
        if not 0 < size <= self.settings.max_chunk_bytes:
            raise InvalidArgument("chunk_bytes", f"chunk_bytes must be in [0, "
                                                 f"{self.settings.max_chunk_bytes}], got "
                                                 f"{request.chunk_bytes}")
        result = await self._call(self.store.result, job_id)
        for part in job_convert.result_parts(result, max(size, job_runtime.MIN_CHUNK_BYTES)):
            yield part

    @grpc_errors
    async def DeleteJob(self, request, context):
        """Forget a job that is not running, with its result files."""
        job_id = check_id(request.job_id, "job_id")
        await self._call(self.store.delete, job_id)
        return jobs_pb2.DeleteJobResponse()


    @grpc_errors
    async def ListPlugins(self, request, context):
        """The plug-ins real jobs can name (read once from a child process)."""
        return await asyncio.to_thread(self.plugins.to_proto)


def add_job_service(server: grpc.aio.Server, *, data_dir: str | Path, options
                    ) -> job_runtime.JobRuntime:
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
    settings = job_runtime.RuntimeSettings.from_options(options)
    runtime = job_runtime.JobRuntime(data_dir, settings)
    add_checked_service(server, jobs_pb2_grpc.add_JobServiceServicer_to_server,
                        JobServicer(runtime.store, settings),
                        jobs_pb2.DESCRIPTOR.services_by_name["JobService"])
    return runtime
