"""JobService requests and records <-> landsim.v1 messages.

:func:`spec_from_request` checks a CreateJobRequest and builds its
:class:`~landsim_server.job_config.JobSpec`; :func:`job_to_proto` and
:func:`result_parts` write Job and JobResultPart messages (the enum maps and the result
layout are :mod:`landsim_wire`'s); :func:`states_filter` reads a ListJobs filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from google.protobuf import json_format
from landsim_wire import messages
from landsim_wire.arrays import DEFAULT_CHUNK_BYTES
from landsim_wire.enums import (
    JOB_ARM_NAMES,
    JOB_ARMS,
    JOB_KIND_NAMES,
    JOB_KINDS,
    JOB_STATES,
    job_state_names,
)
from landsim_wire.messages import set_timestamp
from landsim_wire.v1 import jobs_pb2

from landsim.experiments import EXPERIMENT_IDS
from landsim.results import Result
from landsim.seeding import check_seed

from . import job_config, sweep_jobs
from .errors import InvalidArgument, wire_errors
from .job_config import JobSpec
from .job_records import JobEvent, JobRecord

__all__ = ["MAX_REQUEST_ID_CHARS", "spec_from_request", "job_to_proto", "result_parts",
           "states_filter"]

MAX_REQUEST_ID_CHARS = 128


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
    if request.kind not in JOB_KIND_NAMES:
        raise InvalidArgument("kind", f"kind must be JOB_KIND_TOY or JOB_KIND_REAL, got "
                                      f"{request.kind}")
    kind = JOB_KIND_NAMES[request.kind]
    try:
        check_seed(request.seed)  # the library's one seed rule
    except ValueError as exc:
        raise InvalidArgument("seed", str(exc)) from None
    if not 0 <= request.replicate <= job_config.REPLICATE_MAX:
        raise InvalidArgument("replicate", f"replicate must be in [0, "
                                           f"{job_config.REPLICATE_MAX}], got "
                                           f"{request.replicate}")
    if request.arm not in JOB_ARM_NAMES:
        raise InvalidArgument("arm", f"arm must be JOB_ARM_UNSPECIFIED (0, the claim), "
                                     f"JOB_ARM_CLAIM (1) or JOB_ARM_CONTROL (2), got "
                                     f"{request.arm}")
    arm = JOB_ARM_NAMES[request.arm]
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
    sweep = sweep_jobs.sweep_from_proto(request.sweep)
    if sweep is not None and (request.replicate != 0 or arm != "claim"):
        raise InvalidArgument("sweep", "a sweep job runs replicates 0 .. seeds-1 (and both "
                                       "arms with sweep.controls): leave replicate 0 and arm "
                                       f"unspecified, got replicate={request.replicate}, "
                                       f"arm={arm!r}")
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
        if sweep is not None:
            sweep_jobs.check_sweep(experiment, sweep, int(request.seed), config)
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
                       replicate=int(request.replicate), arm=arm, sweep=sweep)
    except ValueError as exc:  # e.g. a NaN inside a Struct, or too large
        raise InvalidArgument(which or "config_json", str(exc)) from exc


# -- records -> protos ---------------------------------------------------------------------

def job_to_proto(job: JobRecord, event: JobEvent | None = None) -> jobs_pb2.Job:
    """A JobRecord as a Job message; with ``event``, its mutable fields as of the event."""
    state, progress, message, attempts, error = (
        (event.state, event.progress, event.message, event.attempts, event.error)
        if event is not None else
        (job.state, job.progress, job.message, job.attempts, job.error))
    out = jobs_pb2.Job(
        id=job.id, request_id=job.request_id or "", experiment_id=job.experiment,
        kind=JOB_KINDS[job.kind], config_json=json.dumps(job.config, sort_keys=True),
        quick=job.quick, seed=job.seed, state=JOB_STATES[state],
        progress=progress, message=message, attempts=attempts, max_attempts=job.max_attempts,
        error=error, cancel_requested=job.cancel_requested, replicate=job.replicate,
        arm=JOB_ARMS[job.arm])
    sweep_jobs.sweep_to_proto(job.sweep, out.sweep)
    set_timestamp(out.create_time, job.created)
    set_timestamp(out.start_time, job.started)
    set_timestamp(out.finish_time, job.finished)
    set_timestamp(out.lease_expire_time, job.lease_expires if job.state == "RUNNING" else None)
    return out


def result_parts(result: Result, chunk_bytes: int = DEFAULT_CHUNK_BYTES
                 ) -> Iterator[jobs_pb2.JobResultPart]:
    """A Result as GetJobResult messages: the summary, then each series as chunks
    (:func:`landsim_wire.messages.result_parts`)."""
    values = {name: getattr(result, name) for name in (
        "experiment", "kind", "config", "seed", "version", "machine", "timings", "metrics",
        "verdict", "replicate", "arm")}
    return messages.result_parts(values, result.series, chunk_bytes)


def states_filter(states) -> list[str]:
    """The state names of a ListJobs filter (InvalidArgument for UNSPECIFIED or unknown)."""
    with wire_errors():
        return job_state_names(states, "states")
