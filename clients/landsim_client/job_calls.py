"""The JobService calls of :class:`landsim_client.Client` (a mixin: the plumbing,
``_call`` / ``_unary`` and the stubs, is the client's own)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

import grpc
from landsim_wire.v1 import jobs_pb2

from .assemble import result_from_parts
from .errors import DeadlineExceeded, from_rpc_error
from .job_result import JobResult
from .records import Job, JobEvent
from .requests import create_job_request, job_state_values

__all__ = ["JobCalls"]

_RECONNECT_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.ABORTED)


class JobCalls:
    """Jobs: submit, get, list, watch, wait, cancel, result, delete."""

    def submit(self, experiment: str, kind: str = "toy", config: dict | str | None = None,
               quick: bool = False, seed: int = 0, request_id: str | None = None, *,
               replicate: int = 0, arm: str = "claim", max_attempts: int = 0,
               grid: dict | None = None, seeds: int = 0, controls: bool = False,
               timeout: float | None = None) -> Job:
        """Queue one run of claim ``experiment`` ("E1" .. "E7"): one replicate of one arm,
        the unit of work of ``landsim.units``.

        Parameters
        ----------
        kind : {"toy", "real"}
        config : dict or str, optional
            Overrides of the experiment's Config fields (a dict or a JSON object text), for
            the claim arm; the control arm runs the experiment's control of that config.
        quick : bool
            Start from the experiment's quick_config().
        seed : int
            Root seed.
        replicate : int
            Replicate index, in [0, 9999]: the run draws from
            ``SeedSequence(seed, spawn_key=(replicate,))``.
        arm : {"claim", "control"}
            Run the claim's config, or its negative control.
        request_id : str, optional
            Makes the call idempotent: the same id and body give the same job. A fresh
            uuid4 is used when omitted, so the client's own retries never queue twice.
        max_attempts : int
            Starts allowed before a lost worker fails the job; 0: the server default.
        grid, seeds, controls : optional
            Make the job a sweep (``landsim sweep`` as one job): ``grid`` maps Config
            fields to their values (tuples as tuples or ``"a/b/c"``), ``seeds`` is the
            replicates per grid point (default 1 when a grid is given), ``controls`` adds
            the control arm. ``config`` is then the base of every point; the job's result
            lists every unit's result in ``config["units"]``.
        """
        request = create_job_request(experiment, kind, config, quick, seed, request_id,
                                     replicate, arm, max_attempts, grid, seeds, controls)
        msg = self._unary("CreateJob", self._jobs.CreateJob, request, idempotent=True,
                          timeout=timeout)
        return Job.from_proto(msg)

    def plugins(self, *, timeout: float | None = None) -> list[dict]:
        """The model, dataset and loss plug-ins real jobs can name on this server.

        Returns
        -------
        list of dict
            ``{"group", "name", "summary", "fields": [{"field", "type", "default",
            "doc"}]}`` per plug-in (``default`` decoded from JSON); empty when the server
            runs no torch worker.
        """
        msg = self._unary("ListPlugins", self._jobs.ListPlugins,
                          jobs_pb2.ListPluginsRequest(), idempotent=True, timeout=timeout)
        return [{"group": p.group, "name": p.name, "summary": p.summary,
                 "fields": [{"field": f.field, "type": f.type,
                             "default": json.loads(f.default_json) if f.default_json
                             else None, "doc": f.doc} for f in p.fields]}
                for p in msg.plugins]

    def get_job(self, job_id: str, *, timeout: float | None = None) -> Job:
        """One job by id."""
        return Job.from_proto(self._unary("GetJob", self._jobs.GetJob,
                                          jobs_pb2.GetJobRequest(job_id=job_id),
                                          idempotent=True, timeout=timeout))

    def jobs(self, state: str | Sequence[str] | None = None, page_size: int = 0, *,
             timeout: float | None = None) -> Iterator[Job]:
        """Every job, oldest first, optionally only those in ``state`` (a name such as
        "RUNNING" or a list of names); fetched a page at a time."""
        values = job_state_values(state)
        token = ""
        while True:
            page = self._unary("ListJobs", self._jobs.ListJobs,
                               jobs_pb2.ListJobsRequest(states=values, page_size=page_size,
                                                        page_token=token),
                               idempotent=True, timeout=timeout)
            for msg in page.jobs:
                yield Job.from_proto(msg)
            token = page.next_page_token
            if not token:
                return

    def watch(self, job_id: str, *, heartbeats: bool = False, heartbeat_s: float = 0.0,
              reconnect_s: float = 30.0, stream_s: float = 3600.0,
              timeout: float | None = None) -> Iterator[JobEvent]:
        """Follow a job: its current state first, then every change and progress report,
        ending after the final state (SUCCEEDED, FAILED or CANCELLED).

        If the stream breaks (server restart, network), the watch reconnects with backoff
        for up to ``reconnect_s`` seconds without news, then raises Unavailable; an
        update repeated by a reconnect is not yielded twice.

        Parameters
        ----------
        heartbeats : bool
            Also yield the server's heartbeats (``JobEvent.heartbeat`` True).
        heartbeat_s : float
            Seconds without news before the server sends a heartbeat; 0: its default (5).
        reconnect_s : float
            Longest stretch of failed reconnects.
        stream_s : float
            Deadline of one stream; the watch reconnects when it passes.
        timeout : float, optional
            Overall limit in seconds (DeadlineExceeded after it); None: no limit.
        """
        request = jobs_pb2.WatchJobRequest(job_id=job_id, heartbeat_s=float(heartbeat_s))
        end = None if timeout is None else time.monotonic() + float(timeout)
        last_key = None
        failures = 0
        news = time.monotonic()  # last time a message arrived (or the watch began)
        while True:
            budget = stream_s if end is None else min(stream_s, end - time.monotonic())
            if budget <= 0:
                raise DeadlineExceeded(f"watch of job {job_id} lasted its limit of "
                                       f"{timeout:g} s", method="WatchJob")
            call = self._jobs.WatchJob(request, timeout=budget, metadata=self._metadata)
            try:
                for msg in call:
                    failures, news = 0, time.monotonic()
                    job = Job.from_proto(msg.job)
                    if msg.heartbeat:
                        if heartbeats:
                            yield JobEvent(job, True)
                        continue
                    key = (job.state, job.progress, job.message, job.attempts, job.error)
                    if key == last_key:
                        continue
                    last_key = key
                    yield JobEvent(job, False)
                    if job.final:
                        return
                error = None  # the stream ended without a final state: reconnect
            except grpc.RpcError as exc:
                error = from_rpc_error(exc, "WatchJob")
            finally:
                call.cancel()
            if error is not None:
                stream_over = (error.code == grpc.StatusCode.DEADLINE_EXCEEDED
                               and (end is None or time.monotonic() < end))
                if stream_over:
                    continue
                if error.code not in _RECONNECT_CODES or \
                        time.monotonic() - news > reconnect_s:
                    raise error
            failures += 1
            time.sleep(self.retry.backoff(failures))

    def wait(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Block until the job is final (through :meth:`watch`); returns it."""
        job = None
        for event in self.watch(job_id, timeout=timeout):
            job = event.job
        return job if job is not None else self.get_job(job_id)

    def cancel(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Cancel a queued or running job (a CANCELLED one is returned unchanged;
        FailedPrecondition for a finished one)."""
        return Job.from_proto(self._unary("CancelJob", self._jobs.CancelJob,
                                          jobs_pb2.CancelJobRequest(job_id=job_id),
                                          idempotent=True, timeout=timeout))

    def result(self, job_id: str, *, chunk_bytes: int = 0,
               timeout: float | None = None) -> JobResult:
        """The result of a SUCCEEDED job as a :class:`~landsim_client.JobResult`, its
        series reassembled from the streamed chunks (FailedPrecondition while it has not
        succeeded). ``landsim.client_records.result_from_record`` makes a
        ``landsim.results.Result`` of it."""
        request = jobs_pb2.GetJobResultRequest(job_id=job_id, chunk_bytes=int(chunk_bytes))

        def run(t: float) -> JobResult:
            call = self._jobs.GetJobResult(request, timeout=t, metadata=self._metadata)
            try:
                return result_from_parts(call)
            finally:
                call.cancel()

        return self._call("GetJobResult", run, idempotent=True, timeout=timeout)

    def delete_job(self, job_id: str, *, timeout: float | None = None) -> None:
        """Forget a finished or queued job and its result files (a running one:
        FailedPrecondition, cancel it first)."""
        self._unary("DeleteJob", self._jobs.DeleteJob, jobs_pb2.DeleteJobRequest(job_id=job_id),
                    idempotent=False, timeout=timeout)
