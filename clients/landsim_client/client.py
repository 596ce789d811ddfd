"""The landsim client: NumPy arrays in and out over the landsim.v1 gRPC API.

:class:`Client` wraps one channel and both services. Every call carries a deadline
(``timeout`` seconds, per attempt); idempotent calls (Get/List, CreateLandscape whose id
is content-derived, Evaluate, StreamEvaluate, Project, Intersect, Section, GetJobResult,
CancelJob, and CreateJob because it always carries a request_id) are retried with
exponential backoff and jitter on UNAVAILABLE and DEADLINE_EXCEEDED, a bounded number of
times (:class:`RetryPolicy`); DeleteLandscape, DeleteJob and Descend are not retried once
they may have run. Failures raise the typed exceptions of :mod:`landsim_client.errors`
with the server's details decoded.

Example
-------
>>> with Client("127.0.0.1:50051", token="s3cret") as c:            # doctest: +SKIP
...     lid = c.create_landscape(dim=100, n_wedges=4, n_short=10, eps1=0.05, seed=0)
...     ev = c.evaluate(lid, np.random.default_rng(0).normal(size=(8, 100)), gradient=True)
...     job = c.submit("E1", quick=True)
...     for event in c.watch(job.id):
...         print(event.state, event.progress)
...     result = c.result(job.id)                   # a landsim.results.Result
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import numpy as np

from landsim.v1 import jobs_pb2, jobs_pb2_grpc, landscape_pb2_grpc
from landsim.v1 import landscape_pb2 as pb
from landsim.wire import ChunkView, chunk_deserializer, serialize_or_pass

from .arrays import (
    ChunkAssembler,
    WireError,
    assemble,
    from_ndarray,
    iter_encoded_chunks,
    to_ndarray,
)
from .errors import (
    DeadlineExceeded,
    LandsimError,
    ResourceExhausted,
    Unavailable,
    from_rpc_error,
)

__all__ = [
    "Client", "RetryPolicy", "Landscape", "Evaluation", "Intersection", "DescentRecord",
    "DescentRun", "Job", "JobEvent", "JOB_STATES", "FINAL_STATES", "SECTION_KINDS",
    "DEFAULT_TARGET", "DEFAULT_TIMEOUT_S",
]

#: Where a client connects when no target is given.
DEFAULT_TARGET = "127.0.0.1:50051"
#: Default deadline of one call attempt, in seconds.
DEFAULT_TIMEOUT_S = 30.0
#: Job states, in the order of their enum values.
JOB_STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
#: States after which a job never changes.
FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
#: Section kinds and their parameters (required, optional).
SECTION_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "line": (("a", "b"), ("t", "num_t")),
    "chain": (("points",), ("t", "num_t")),
    "bezier": (("a", "control", "b"), ("t", "num_t")),
    "simplex": (("vertices", "resolution"), ()),
    "plane": (("origin", "d1", "d2"),
              ("extent", "resolution", "alpha", "beta", "raw_directions")),
    "radial": (("origin", "d1", "d2", "radii", "angles"), ()),
}

_UNIONS = {"hard": pb.UNION_HARD, "soft": pb.UNION_SOFT}
_UNION_NAMES = {pb.UNION_UNSPECIFIED: "hard", pb.UNION_HARD: "hard", pb.UNION_SOFT: "soft"}
_FRAMES = {"axis": pb.FRAME_KIND_AXIS, "rotated": pb.FRAME_KIND_ROTATED}
_FRAME_NAMES = {pb.FRAME_KIND_UNSPECIFIED: "axis", pb.FRAME_KIND_AXIS: "axis",
                pb.FRAME_KIND_ROTATED: "rotated"}
_OPTIMIZERS = {"gd": pb.OPTIMIZER_GD, "sgd": pb.OPTIMIZER_SGD,
               "momentum": pb.OPTIMIZER_MOMENTUM, "adam": pb.OPTIMIZER_ADAM}
_JOB_KINDS = {"toy": jobs_pb2.JOB_KIND_TOY, "real": jobs_pb2.JOB_KIND_REAL}
_JOB_KIND_NAMES = {jobs_pb2.JOB_KIND_UNSPECIFIED: "toy", jobs_pb2.JOB_KIND_TOY: "toy",
                   jobs_pb2.JOB_KIND_REAL: "real"}
_JOB_ARMS = {"claim": jobs_pb2.JOB_ARM_CLAIM, "control": jobs_pb2.JOB_ARM_CONTROL}
_JOB_ARM_NAMES = {jobs_pb2.JOB_ARM_UNSPECIFIED: "claim", jobs_pb2.JOB_ARM_CLAIM: "claim",
                  jobs_pb2.JOB_ARM_CONTROL: "control"}
_FLOATS = ("float64", "float32")
_MARGIN = 64 << 10  # room for the message frame and the other fields
_LANDSCAPE_SERVICE = pb.DESCRIPTOR.services_by_name["LandscapeService"].full_name
_POINTS_FIELD = pb.StreamEvaluateRequest.DESCRIPTOR.fields_by_name["points"].number


# ------------------------------------------------------------------------------- retries
@dataclass(frozen=True)
class RetryPolicy:
    """How idempotent calls are retried.

    Parameters
    ----------
    max_attempts : int
        Attempts in all (1: never retry), in [1, 100].
    initial_backoff_s : float
        Wait before the second attempt, > 0; multiplied by ``multiplier`` each time, up to
        ``max_backoff_s``; each wait is drawn uniformly from [wait / 2, wait] (jitter).
    max_backoff_s : float
        Longest wait, >= initial_backoff_s.
    multiplier : float
        Growth of the wait, >= 1.
    codes : tuple of grpc.StatusCode
        Codes that are retried.
    """

    max_attempts: int = 5  # 4 retries: about 1.5 s of waiting with the defaults
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    codes: tuple = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

    def __post_init__(self) -> None:
        if (isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int)
                or not 1 <= self.max_attempts <= 100):
            raise ValueError(f"max_attempts must be an integer in [1, 100], got "
                             f"{self.max_attempts!r}")
        if not (math.isfinite(self.initial_backoff_s) and self.initial_backoff_s > 0):
            raise ValueError(f"initial_backoff_s must be > 0, got {self.initial_backoff_s!r}")
        if not (math.isfinite(self.max_backoff_s)
                and self.max_backoff_s >= self.initial_backoff_s):
            raise ValueError(f"max_backoff_s must be >= initial_backoff_s, got "
                             f"{self.max_backoff_s!r}")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        object.__setattr__(self, "codes", tuple(self.codes))

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...), with jitter."""
        wait = min(self.max_backoff_s,
                   self.initial_backoff_s * self.multiplier ** max(0, retry - 1))
        return wait * random.uniform(0.5, 1.0)


# ------------------------------------------------------------------------------- records
def _time(ts) -> _dt.datetime | None:
    """A protobuf Timestamp as an aware UTC datetime (None when unset)."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos * 1e-9, tz=_dt.UTC)


def _spec_from_proto(msg: pb.LandscapeSpec):
    from landsim.spec import LandscapeSpec, WedgeSpec  # no Numba behind landsim.spec

    wedges = []
    for w in msg.wedges:
        which = w.WhichOneof("short_directions")
        wedges.append(WedgeSpec(
            dim=int(msg.dim), eps0=w.eps0, eps1=w.eps1,
            short_axes=from_ndarray(w.short_axes, "short_axes") if which == "short_axes"
            else None,
            short_frame=from_ndarray(w.short_frame, "short_frame") if which == "short_frame"
            else None,
            anchor=from_ndarray(w.anchor, "anchor") if w.HasField("anchor") else None))
    return LandscapeSpec(wedges=tuple(wedges), union=_UNION_NAMES[msg.union],
                         tau=msg.tau if msg.HasField("tau") else 1.0)


def _spec_to_proto(spec) -> pb.LandscapeSpec:
    """A LandscapeSpec (or its ``to_dict()`` form, or the message itself) as a message."""
    if isinstance(spec, pb.LandscapeSpec):
        return spec
    if isinstance(spec, dict):
        from landsim.spec import LandscapeSpec

        spec = LandscapeSpec.from_dict(spec)
    if not hasattr(spec, "wedges") or not hasattr(spec, "union"):
        raise TypeError(f"spec must be a landsim.spec.LandscapeSpec, its to_dict() form or a "
                        f"landsim.v1.LandscapeSpec, got {type(spec).__name__}")
    out = pb.LandscapeSpec(dim=spec.dim, union=_UNIONS[spec.union], tau=spec.tau)
    for w in spec.wedges:
        wm = out.wedges.add(eps0=w.eps0, eps1=w.eps1)
        if w.short_axes is not None:
            wm.short_axes.CopyFrom(to_ndarray(np.asarray(w.short_axes, np.int64)))
        else:
            wm.short_frame.CopyFrom(to_ndarray(np.asarray(w.short_frame, np.float64)))
        if w.anchor is not None:
            wm.anchor.CopyFrom(to_ndarray(np.asarray(w.anchor, np.float64)))
    return out


def _random_dict(msg: pb.RandomLandscapeParams) -> dict:
    """Generator parameters as the keyword arguments of :meth:`Client.create_landscape`."""
    return {"dim": int(msg.dim), "n_wedges": int(msg.n_wedges),
            "n_short": [int(s) for s in msg.n_short],
            "kind": _FRAME_NAMES.get(msg.kind, str(msg.kind)), "eps0": list(msg.eps0),
            "eps1": list(msg.eps1), "anchor_scale": msg.anchor_scale,
            "union": _UNION_NAMES.get(msg.union, str(msg.union)),
            "tau": msg.tau if msg.HasField("tau") else None, "seed": int(msg.seed)}


@dataclass(frozen=True)
class Landscape:
    """A stored landscape (``spec`` only from ``get_landscape(..., include_spec=True)``).

    Attributes
    ----------
    id : str
        Content-derived id (32 hex digits).
    created : datetime
        When it was first stored (UTC).
    dim, n_wedges : int
        D and K.
    kind : {"axis", "rotated"}
    union : {"hard", "soft"}
    tau : float
    n_short : tuple of int
        Short directions of each wedge.
    random : dict or None
        The generator parameters, when it was created from them.
    spec : landsim.spec.LandscapeSpec or None
    """

    id: str
    created: _dt.datetime | None
    dim: int
    n_wedges: int
    kind: str
    union: str
    tau: float
    n_short: tuple[int, ...]
    random: dict | None = None
    spec: Any = field(default=None, repr=False)

    @classmethod
    def from_proto(cls, msg: pb.Landscape) -> Landscape:
        return cls(id=msg.id, created=_time(msg.created), dim=int(msg.dim),
                   n_wedges=int(msg.n_wedges), kind=_FRAME_NAMES.get(msg.kind, str(msg.kind)),
                   union=_UNION_NAMES.get(msg.union, str(msg.union)), tau=msg.tau,
                   n_short=tuple(int(s) for s in msg.n_short),
                   random=_random_dict(msg.random) if msg.HasField("random") else None,
                   spec=_spec_from_proto(msg.spec) if msg.HasField("spec") else None)


class Evaluation(NamedTuple):
    """Results of :meth:`Client.evaluate`, named as ``landsim.geometry.Evaluation``.

    ``wedge_losses`` and ``grad`` are None unless asked for.
    """

    loss: np.ndarray  #: (B,) float64 landscape loss
    argmin: np.ndarray  #: (B,) int64 arg-min wedge, lowest index on ties
    wedge_losses: np.ndarray | None  #: (B, K) float64 per-wedge losses
    grad: np.ndarray | None  #: (B, D) gradient in the points' dtype


@dataclass(frozen=True)
class Intersection:
    """The intersection of a set of wedges (:meth:`Client.intersect`)."""

    short_count: int  #: dimension of the span of all short directions
    long_dim: int  #: D - short_count
    expected_short_count: float  #: what random wedges like these would give
    point: np.ndarray | None = field(repr=False)  #: (D,) a point of it, None if long_dim = 0
    short_axes: np.ndarray | None = field(repr=False)  #: union of short axes (axis wedges)


class DescentRecord(NamedTuple):
    """One trajectory record of all B runs."""

    step: int  #: global step index
    loss: np.ndarray  #: (B,) landscape loss without the L2 term
    radius: np.ndarray  #: (B,) |x|
    distance: np.ndarray  #: (B,) |x - x_start|
    argmin: np.ndarray  #: (B,) int64 arg-min wedge


class DescentRun:
    """The stream of a Descend call: iterate for the :class:`DescentRecord` s; once the
    iteration is over, :attr:`final` holds ``final_x`` (B, D), ``final_loss`` (B,),
    ``steps_taken`` (B,), ``reached`` (B,) bool and ``reached_step`` (B,)."""

    def __init__(self, responses: Iterator) -> None:
        self._responses = responses
        self._started = False
        self.final: dict[str, np.ndarray] = {}
        self.records: list[DescentRecord] = []

    def __iter__(self) -> Iterator[DescentRecord]:
        if self._started:  # the stream can be read once; later loops replay the records
            yield from list(self.records)
            return
        self._started = True
        finals: list = []
        for response in self._responses:
            if response.WhichOneof("item") == "record":
                r = response.record
                record = DescentRecord(int(r.step), from_ndarray(r.loss, "loss"),
                                       from_ndarray(r.radius, "radius"),
                                       from_ndarray(r.distance, "distance"),
                                       from_ndarray(r.argmin, "argmin"))
                self.records.append(record)
                yield record
            else:
                finals.append(response.final)
        self.final = assemble(finals)

    def collect(self) -> tuple[list[DescentRecord], dict[str, np.ndarray]]:
        """Run to the end; returns (records, final arrays)."""
        for _ in self:
            pass
        return self.records, self.final


@dataclass(frozen=True)
class Job:
    """One job as the server stores it.

    Attributes
    ----------
    id, request_id, experiment : str
    kind : {"toy", "real"}
    config : dict
        The config of the claim arm (complete for toy jobs; the overrides for real ones).
    quick : bool
    seed : int
        Root seed.
    replicate : int
        Replicate index: the run draws from ``SeedSequence(seed, spawn_key=(replicate,))``.
    arm : {"claim", "control"}
        The claim's config itself, or its negative control.
    state : {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}
    progress : float
        Fraction done, in [0, 1].
    message, error : str
    attempts, max_attempts : int
    cancel_requested : bool
    created, started, finished, lease_expires : datetime or None (UTC)
    """

    id: str
    request_id: str
    experiment: str
    kind: str
    config: dict = field(repr=False)
    quick: bool
    seed: int
    replicate: int
    arm: str
    state: str
    progress: float
    message: str
    attempts: int
    max_attempts: int
    error: str = field(repr=False)
    cancel_requested: bool
    created: _dt.datetime | None = field(repr=False)
    started: _dt.datetime | None = field(repr=False)
    finished: _dt.datetime | None = field(repr=False)
    lease_expires: _dt.datetime | None = field(repr=False)

    @property
    def final(self) -> bool:
        """Whether the job reached SUCCEEDED, FAILED or CANCELLED."""
        return self.state in FINAL_STATES

    @classmethod
    def from_proto(cls, msg: jobs_pb2.Job) -> Job:
        name = jobs_pb2.JobState.Name(msg.state) if msg.state in jobs_pb2.JobState.values() \
            else str(msg.state)
        try:
            config = json.loads(msg.config_json) if msg.config_json else {}
        except ValueError:
            config = {"_unparsed": msg.config_json}
        return cls(id=msg.id, request_id=msg.request_id, experiment=msg.experiment_id,
                   kind=_JOB_KIND_NAMES.get(msg.kind, str(msg.kind)), config=config,
                   quick=msg.quick, seed=int(msg.seed), replicate=int(msg.replicate),
                   arm=_JOB_ARM_NAMES.get(msg.arm, str(msg.arm)),
                   state=name.removeprefix("JOB_STATE_"), progress=msg.progress,
                   message=msg.message, attempts=int(msg.attempts),
                   max_attempts=int(msg.max_attempts), error=msg.error,
                   cancel_requested=msg.cancel_requested, created=_time(msg.create_time),
                   started=_time(msg.start_time), finished=_time(msg.finish_time),
                   lease_expires=_time(msg.lease_expire_time))


@dataclass(frozen=True)
class JobEvent:
    """One update of :meth:`Client.watch`: the job as of the change (or a heartbeat)."""

    job: Job
    heartbeat: bool = False

    @property
    def state(self) -> str:
        return self.job.state

    @property
    def progress(self) -> float:
        return self.job.progress

    @property
    def message(self) -> str:
        return self.job.message


# ------------------------------------------------------------------------------- helpers
def _f64(value, name: str):
    """A float64 NdArray of ``value`` (ValueError naming ``name`` if it is not numeric)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    return to_ndarray(a)


def _points(X, name: str = "points") -> tuple[np.ndarray, bool]:
    """(B, D) float32/float64 C-contiguous points and whether X was a single (D,) point."""
    a = np.asarray(X)
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    if a.dtype.name not in _FLOATS:
        raise ValueError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    single = a.ndim == 1
    if single:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (B, D) or (D,), got {np.shape(X)}")
    return np.ascontiguousarray(a), single


def _sampling(msg: pb.PathSampling, t, num_t) -> None:
    if t is not None and num_t is not None:
        raise ValueError("give t or num_t, not both")
    if t is not None:
        msg.t.CopyFrom(_f64(t, "t"))
    else:
        msg.num_t = 51 if num_t is None else int(num_t)


def _target_options(max_message_bytes: int, options: Sequence) -> list:
    # receive at least what a default server may send (64 MiB messages, 1 MiB chunks)
    receive = max(max_message_bytes, (64 << 20) + _MARGIN)
    # reconnect quickly after a server restart (gRPC's default backoff grows to 120 s,
    # during which every call fails at once with UNAVAILABLE)
    return [("grpc.max_receive_message_length", receive),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000), *options]


# ------------------------------------------------------------------------------- client
class Client:
    """A connection to a landsim server.

    Parameters
    ----------
    target : str
        ``host:port`` of the server (default ``127.0.0.1:50051``).
    token : str, optional
        Bearer token, sent as metadata ``authorization: Bearer <token>`` on every call.
    tls : bool or str or PathLike
        False: plaintext; True: TLS with the system's root certificates; a path: TLS with
        the PEM root certificate(s) in that file (e.g. a self-signed server certificate).
    timeout : float
        Default deadline of one call attempt in seconds (each method takes ``timeout=``
        too), > 0.
    retry : RetryPolicy, optional
        Retries of idempotent calls (default: 5 attempts, 0.1 s to 2 s backoff).
    max_message_bytes : int
        Largest message sent (match the server's limit, 64 MiB by default); larger
        Evaluate batches go through :meth:`stream_evaluate`. Messages up to
        ``max(max_message_bytes, 64 MiB)`` are received.
    chunk_bytes : int
        Data per NdArrayChunk sent by :meth:`stream_evaluate`.
    options : sequence of (str, value)
        Extra gRPC channel options.

    The client is a context manager; :meth:`close` closes the channel. It is safe to
    share between threads (gRPC channels are).
    """

    def __init__(self, target: str = DEFAULT_TARGET, token: str | None = None,
                 tls: bool | str | PathLike = False, timeout: float = DEFAULT_TIMEOUT_S,
                 retry: RetryPolicy | None = None, max_message_bytes: int = 64 << 20,
                 chunk_bytes: int = 1 << 20, options: Sequence = ()) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a non-empty 'host:port' string, got {target!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty string or None")
        if not 1024 <= chunk_bytes <= max_message_bytes // 2:
            raise ValueError(f"chunk_bytes must be in [1024, max_message_bytes / 2], got "
                             f"{chunk_bytes!r}")
        self.target = target
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        self.max_message_bytes = int(max_message_bytes)
        self.chunk_bytes = int(chunk_bytes)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        opts = _target_options(self.max_message_bytes, options)
        if tls is False or tls is None:
            self._channel = grpc.insecure_channel(target, options=opts)
        else:
            roots = None if tls is True else Path(tls).read_bytes()
            self._channel = grpc.secure_channel(
                target, grpc.ssl_channel_credentials(root_certificates=roots), options=opts)
        self._landscapes = landscape_pb2_grpc.LandscapeServiceStub(self._channel)
        # the bulk stream, without protobuf's copies: requests go out as bytes encoded
        # from the points' memory, responses come back as views of the received bytes
        self._stream_evaluate = self._channel.stream_stream(
            f"/{_LANDSCAPE_SERVICE}/StreamEvaluate", request_serializer=serialize_or_pass,
            response_deserializer=chunk_deserializer(pb.StreamEvaluateResponse, "chunk"))
        self._jobs = jobs_pb2_grpc.JobServiceStub(self._channel)
        self._closed = False

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Close the channel (idempotent); calls after this fail."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.target!r})"

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the channel connects (Unavailable after ``timeout`` seconds)."""
        wait = self.timeout if timeout is None else timeout
        try:
            grpc.channel_ready_future(self._channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            raise Unavailable(f"cannot connect to {self.target} within {wait:g} s") from None

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The server's standard health status of ``service`` ("" is the whole server):
        "SERVING" once its kernels are warm, "NOT_SERVING" while starting or stopping.
        Needs the grpcio-health-checking package."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self._channel)
        msg = self._unary("Check", stub.Check, health_pb2.HealthCheckRequest(service=service),
                          idempotent=True, timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(msg.status)

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, fn: Callable[[float], Any], *, idempotent: bool,
              timeout: float | None = None) -> Any:
        """Run ``fn(deadline_s)`` (one whole call, streams included), retrying idempotent
        calls on the retry policy's codes; gRPC errors become typed exceptions."""
        deadline = self.timeout if timeout is None else float(timeout)
        attempts = self.retry.max_attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return fn(deadline)
            except grpc.RpcError as exc:
                error = from_rpc_error(exc, method)
            except WireError as exc:
                raise LandsimError(f"malformed answer from the server: {exc}", method=method,
                                   code=grpc.StatusCode.INTERNAL) from None
            if attempt == attempts or error.code not in self.retry.codes:
                raise error
            time.sleep(self.retry.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _unary(self, method: str, stub_method, request, *, idempotent: bool,
               timeout: float | None = None):
        return self._call(method, lambda t: stub_method(request, timeout=t,
                                                        metadata=self._metadata),
                          idempotent=idempotent, timeout=timeout)

    # ------------------------------------------------------------------ landscapes
    def create_landscape(self, spec=None, *, dim: int | None = None,
                         n_wedges: int | None = None, n_short: int | Sequence[int] = (),
                         kind: str = "axis", eps0: float | Sequence[float] = (),
                         eps1: float | Sequence[float] = (), anchor_scale: float = 0.0,
                         union: str = "hard", tau: float | None = None, seed: int = 0,
                         timeout: float | None = None) -> str:
        """Store a landscape; returns its (content-derived) id.

        Give either ``spec`` (a ``landsim.spec.LandscapeSpec``, its ``to_dict()`` form or
        a ``landsim.v1.LandscapeSpec``) or the random-generator parameters ``dim``,
        ``n_wedges``, ``n_short`` (one value or K), ``kind``, ``eps0``, ``eps1`` (one
        value or K each; server defaults 0.0 and 0.05 when omitted), ``anchor_scale``,
        ``union``, ``tau`` and ``seed`` (as ``landsim.spec.random_landscape``).
        """
        if spec is not None:
            if dim is not None or n_wedges is not None:
                raise ValueError("give spec or random parameters (dim, n_wedges, ...), not "
                                 "both")
            request = pb.CreateLandscapeRequest(spec=_spec_to_proto(spec))
        else:
            if dim is None or n_wedges is None:
                raise ValueError("give spec, or dim and n_wedges (and n_short) to draw a "
                                 "random landscape")
            if kind not in _FRAMES:
                raise ValueError(f"kind must be one of {sorted(_FRAMES)}, got {kind!r}")
            if union not in _UNIONS:
                raise ValueError(f"union must be one of {sorted(_UNIONS)}, got {union!r}")
            random_msg = pb.RandomLandscapeParams(
                dim=int(dim), n_wedges=int(n_wedges),
                n_short=[int(s) for s in np.atleast_1d(n_short)], kind=_FRAMES[kind],
                eps0=[float(e) for e in np.atleast_1d(eps0)],
                eps1=[float(e) for e in np.atleast_1d(eps1)],
                anchor_scale=float(anchor_scale), union=_UNIONS[union], seed=int(seed))
            if tau is not None:
                random_msg.tau = float(tau)
            request = pb.CreateLandscapeRequest(random=random_msg)
        out = self._unary("CreateLandscape", self._landscapes.CreateLandscape, request,
                          idempotent=True, timeout=timeout)
        return out.id

    def get_landscape(self, landscape_id: str, include_spec: bool = False, *,
                      timeout: float | None = None) -> Landscape:
        """One stored landscape (with its full ``spec`` when ``include_spec``)."""
        msg = self._unary("GetLandscape", self._landscapes.GetLandscape,
                          pb.GetLandscapeRequest(id=landscape_id, include_spec=include_spec),
                          idempotent=True, timeout=timeout)
        return Landscape.from_proto(msg)

    def list_landscapes(self, page_size: int = 0, *, timeout: float | None = None
                        ) -> Iterator[Landscape]:
        """Every stored landscape, oldest first (fetched a page at a time)."""
        token = ""
        while True:
            page = self._unary("ListLandscapes", self._landscapes.ListLandscapes,
                               pb.ListLandscapesRequest(page_size=page_size, page_token=token),
                               idempotent=True, timeout=timeout)
            for msg in page.landscapes:
                yield Landscape.from_proto(msg)
            token = page.next_page_token
            if not token:
                return

    def delete_landscape(self, landscape_id: str, *, timeout: float | None = None) -> None:
        """Remove a stored landscape (NotFound if there is none)."""
        self._unary("DeleteLandscape", self._landscapes.DeleteLandscape,
                    pb.DeleteLandscapeRequest(id=landscape_id), idempotent=False,
                    timeout=timeout)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, landscape_id: str, X, gradient: bool = False,
                 wedge_losses: bool = False, *, timeout: float | None = None) -> Evaluation:
        """Loss, arg-min wedge and optionally gradients and per-wedge losses.

        Parameters
        ----------
        X : array, shape (B, D) or (D,), float64 or float32 (integers become float64)
        gradient, wedge_losses : bool
            Also return ``grad`` (B, D) / ``wedge_losses`` (B, K).

        Returns
        -------
        Evaluation
            Equal to ``landsim.geometry.evaluate`` on the same points; a (D,) input gives
            unbatched results. Batches too large for one message go through
            :meth:`stream_evaluate` automatically.
        """
        Xb, single = _points(X)
        out_bytes = Xb.shape[0] * 16 + (Xb.nbytes if gradient else 0)
        if Xb.nbytes + _MARGIN > self.max_message_bytes // 2 or \
                out_bytes + _MARGIN > self.max_message_bytes // 2:
            return self.stream_evaluate(landscape_id, X, gradient, wedge_losses,
                                        timeout=timeout)
        request = pb.EvaluateRequest(landscape_id=landscape_id, points=to_ndarray(Xb),
                                     want_gradient=gradient, want_wedge_losses=wedge_losses)
        try:
            msg = self._unary("Evaluate", self._landscapes.Evaluate, request, idempotent=True,
                              timeout=timeout)
        except ResourceExhausted as exc:  # the server's message cap is below ours
            if "StreamEvaluate" not in exc.message and "larger than max" not in exc.message:
                raise
            return self.stream_evaluate(landscape_id, X, gradient, wedge_losses,
                                        timeout=timeout)
        ev = Evaluation(
            from_ndarray(msg.losses, "losses"), from_ndarray(msg.argmin, "argmin"),
            from_ndarray(msg.wedge_losses, "wedge_losses") if wedge_losses else None,
            from_ndarray(msg.gradients, "gradients") if gradient else None)
        return _unbatch(ev) if single else ev

    def stream_evaluate(self, landscape_id: str, X, gradient: bool = False,
                        wedge_losses: bool = False, *, chunk_bytes: int | None = None,
                        timeout: float | None = None) -> Evaluation:
        """:meth:`evaluate` for batches of any size: the points go up in chunks of
        ``chunk_bytes`` (default: the client's) while results stream back.

        The server evaluates in fixed row blocks; each point's result has the same bits
        as one library call on the whole batch would give it.
        """
        Xb, single = _points(X)
        size = self.chunk_bytes if chunk_bytes is None else int(chunk_bytes)
        row = Xb[0].nbytes
        if row <= size:  # whole rows: the server then evaluates them where they arrived
            size -= size % row
        header = pb.StreamEvaluateHeader(landscape_id=landscape_id, want_gradient=gradient,
                                         want_wedge_losses=wedge_losses)

        def requests():
            yield pb.StreamEvaluateRequest(header=header)
            yield from iter_encoded_chunks(_POINTS_FIELD, "points", Xb, size)

        def run(t: float) -> dict[str, np.ndarray]:
            call = self._stream_evaluate(requests(), timeout=t, metadata=self._metadata)
            try:
                return assemble(r if isinstance(r, ChunkView) else r.chunk for r in call)
            finally:
                call.cancel()

        arrays = self._call("StreamEvaluate", run, idempotent=True, timeout=timeout)
        ev = Evaluation(arrays["losses"], arrays["argmin"], arrays.get("wedge_losses"),
                        arrays.get("gradients"))
        return _unbatch(ev) if single else ev

    # ------------------------------------------------------------------ geometry
    def project(self, landscape_id: str, X, *, wedge: int | None = None,
                intersection: Sequence[int] | None = None,
                timeout: float | None = None) -> np.ndarray:
        """Project points (B, D) onto wedge ``wedge`` or onto the intersection of the
        wedges ``intersection``; returns (B, D) float64."""
        if (wedge is None) == (intersection is None):
            raise ValueError("give exactly one of wedge and intersection")
        Xb, single = _points(X)
        request = pb.ProjectRequest(landscape_id=landscape_id, points=to_ndarray(Xb))
        if wedge is not None:
            request.wedge = int(wedge)
        else:
            request.intersection.wedges.extend(int(k) for k in intersection)
        msg = self._unary("Project", self._landscapes.Project, request, idempotent=True,
                          timeout=timeout)
        Y = from_ndarray(msg.points, "points")
        return Y[0] if single else Y

    def intersect(self, landscape_id: str, wedges: Sequence[int], *,
                  radius: float | None = None, seed: int = 0,
                  timeout: float | None = None) -> Intersection:
        """Short/long dimension of the intersection of ``wedges`` and a point inside it at
        ``radius`` (default 1.0) from their shared anchor."""
        request = pb.IntersectRequest(landscape_id=landscape_id,
                                      wedges=[int(k) for k in wedges], seed=int(seed))
        if radius is not None:
            request.radius = float(radius)
        msg = self._unary("Intersect", self._landscapes.Intersect, request, idempotent=True,
                          timeout=timeout)
        return Intersection(
            short_count=int(msg.short_count), long_dim=int(msg.long_dim),
            expected_short_count=msg.expected_short_count,
            point=from_ndarray(msg.point, "point") if msg.HasField("point") else None,
            short_axes=from_ndarray(msg.short_axes, "short_axes")
            if msg.HasField("short_axes") else None)

    def section(self, landscape_id: str, kind: str, *, timeout: float | None = None,
                **params) -> dict[str, np.ndarray]:
        """The loss on a path or grid; returns the named result arrays.

        Kinds and their parameters (vectors have shape (D,)):

        - ``"line"``: ``a``, ``b``, and ``t`` (values in [0, 1]) or ``num_t`` (default 51)
          -> ``t``, ``loss``, ``excess``, ``barrier`` (scalar), ``argmax`` (scalar);
        - ``"chain"``: ``points`` (P, D), ``t`` or ``num_t`` -> as line;
        - ``"bezier"``: ``a``, ``control``, ``b``, ``t`` or ``num_t`` -> as line;
        - ``"simplex"``: ``vertices`` (m, D), ``resolution`` -> ``weights``, ``loss``;
        - ``"plane"``: ``origin``, ``d1``, ``d2``, and ``extent`` (1.0) with
          ``resolution`` (51), or explicit ``alpha`` and ``beta``; ``raw_directions``
          -> ``alpha``, ``beta``, ``e1``, ``e2``, ``loss`` (A, B);
        - ``"radial"``: ``origin``, ``d1``, ``d2``, ``radii``, ``angles`` (radians)
          -> ``radii``, ``angles``, ``e1``, ``e2``, ``loss`` (R, A).
        """
        request = _section_request(landscape_id, kind, params)

        def run(t: float) -> dict[str, np.ndarray]:
            call = self._landscapes.Section(request, timeout=t, metadata=self._metadata)
            try:
                return assemble(response.chunk for response in call)
            finally:
                call.cancel()

        return self._call("Section", run, idempotent=True, timeout=timeout)

    def descend(self, landscape_id: str, x0=None, *, radius: float | None = None,
                n: int | None = None, init_seed: int = 0, optimizer: str = "gd",
                seed: int = 0, timeout: float | None = None, **options) -> DescentRun:
        """Run an optimiser on a batch of independent runs.

        Give the starting points ``x0`` (B, D), or ``radius`` and ``n`` for n points
        uniform on a sphere (seeded by ``init_seed``). ``options`` are the optional fields
        of ``DescentOptions``: ``lr``, ``steps``, ``noise_std``, ``momentum``, ``beta1``,
        ``beta2``, ``eps``, ``l2``, ``target_loss``, ``record_every`` (absent: the
        library's defaults). ``seed`` seeds the gradient noise.

        Returns
        -------
        DescentRun
            Iterate it for the trajectory records as they stream in; its ``final`` dict
            holds the final arrays afterwards. The call is not retried.
        """
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got "
                             f"{optimizer!r}")
        opts = pb.DescentOptions(optimizer=_OPTIMIZERS[optimizer])
        for name, value in options.items():
            if name not in pb.DescentOptions.DESCRIPTOR.fields_by_name or name == "optimizer":
                raise TypeError(f"unknown descent option {name!r}")
            if value is not None:
                setattr(opts, name, int(value) if name in ("steps", "record_every")
                        else float(value))
        request = pb.DescendRequest(landscape_id=landscape_id, options=opts, seed=int(seed))
        if x0 is not None:
            if radius is not None or n is not None:
                raise ValueError("give x0 or (radius, n), not both")
            request.x0.CopyFrom(to_ndarray(_points(x0, "x0")[0]))
        elif radius is not None and n is not None:
            request.init.CopyFrom(pb.InitAtRadius(radius=float(radius), n=int(n),
                                                  seed=int(init_seed)))
        else:
            raise ValueError("give x0, or radius and n")
        call = self._landscapes.Descend(
            request, timeout=self.timeout if timeout is None else timeout,
            metadata=self._metadata)
        return DescentRun(_translate_stream(call, "Descend"))

    # ------------------------------------------------------------------ jobs
    def submit(self, experiment: str, kind: str = "toy", config: dict | str | None = None,
               quick: bool = False, seed: int = 0, request_id: str | None = None, *,
               replicate: int = 0, arm: str = "claim", max_attempts: int = 0,
               timeout: float | None = None) -> Job:
        """Queue one run of claim ``experiment`` ("E1" .. "E7"): one replicate of one arm,
        the unit of work of :mod:`landsim.units`.

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
        """
        if kind not in _JOB_KINDS:
            raise ValueError(f"kind must be one of {sorted(_JOB_KINDS)}, got {kind!r}")
        if arm not in _JOB_ARMS:
            raise ValueError(f"arm must be one of {sorted(_JOB_ARMS)}, got {arm!r}")
        request = jobs_pb2.CreateJobRequest(
            experiment_id=experiment, kind=_JOB_KINDS[kind], quick=bool(quick), seed=int(seed),
            request_id=request_id or uuid.uuid4().hex, max_attempts=int(max_attempts),
            replicate=int(replicate), arm=_JOB_ARMS[arm])
        if config is not None:
            request.config_json = config if isinstance(config, str) else json.dumps(config)
        msg = self._unary("CreateJob", self._jobs.CreateJob, request, idempotent=True,
                          timeout=timeout)
        return Job.from_proto(msg)

    def get_job(self, job_id: str, *, timeout: float | None = None) -> Job:
        """One job by id."""
        return Job.from_proto(self._unary("GetJob", self._jobs.GetJob,
                                          jobs_pb2.GetJobRequest(job_id=job_id),
                                          idempotent=True, timeout=timeout))

    def jobs(self, state: str | Sequence[str] | None = None, page_size: int = 0, *,
             timeout: float | None = None) -> Iterator[Job]:
        """Every job, oldest first, optionally only those in ``state`` (a name such as
        "RUNNING" or a list of names); fetched a page at a time."""
        states = [] if state is None else [state] if isinstance(state, str) else list(state)
        values = []
        for s in states:
            name = s.upper().removeprefix("JOB_STATE_")
            if name not in JOB_STATES:
                raise ValueError(f"state must be one of {JOB_STATES}, got {s!r}")
            values.append(jobs_pb2.JobState.Value(f"JOB_STATE_{name}"))
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
        reconnect_codes = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                           grpc.StatusCode.ABORTED)
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
                if error.code not in reconnect_codes or \
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

    def result(self, job_id: str, *, chunk_bytes: int = 0, timeout: float | None = None):
        """The result of a SUCCEEDED job as a ``landsim.results.Result``, its series
        reassembled from the streamed chunks (FailedPrecondition while it has not
        succeeded)."""
        request = jobs_pb2.GetJobResultRequest(job_id=job_id, chunk_bytes=int(chunk_bytes))

        def run(t: float):
            call = self._jobs.GetJobResult(request, timeout=t, metadata=self._metadata)
            try:
                return _result_from_parts(call)
            finally:
                call.cancel()

        return self._call("GetJobResult", run, idempotent=True, timeout=timeout)

    def delete_job(self, job_id: str, *, timeout: float | None = None) -> None:
        """Forget a finished or queued job and its result files (a running one:
        FailedPrecondition, cancel it first)."""
        self._unary("DeleteJob", self._jobs.DeleteJob, jobs_pb2.DeleteJobRequest(job_id=job_id),
                    idempotent=False, timeout=timeout)


# ------------------------------------------------------------------------------- internals
def _unbatch(ev: Evaluation) -> Evaluation:
    return Evaluation(*(None if a is None else a[0] for a in ev))


def _translate_stream(call, method: str) -> Iterator:
    """Iterate a response stream, turning gRPC errors into typed exceptions."""
    try:
        yield from call
    except grpc.RpcError as exc:
        raise from_rpc_error(exc, method) from None
    except WireError as exc:
        raise LandsimError(f"malformed answer from the server: {exc}", method=method,
                           code=grpc.StatusCode.INTERNAL) from None
    finally:
        call.cancel()


def _section_request(landscape_id: str, kind: str, params: dict) -> pb.SectionRequest:
    if kind not in SECTION_KINDS:
        raise ValueError(f"kind must be one of {list(SECTION_KINDS)}, got {kind!r}")
    required, optional = SECTION_KINDS[kind]
    missing = [k for k in required if params.get(k) is None]
    unknown = sorted(set(params) - set(required) - set(optional))
    if missing or unknown:
        raise TypeError(f"section {kind!r} needs {list(required)} and takes "
                        f"{list(optional)}; missing {missing}, unknown {unknown}")
    request = pb.SectionRequest(landscape_id=landscape_id)
    msg = getattr(request, kind)
    p = params
    if kind in ("line", "chain", "bezier"):
        for name in required:
            getattr(msg, name).CopyFrom(_f64(p[name], name))
        _sampling(msg.sampling, p.get("t"), p.get("num_t"))
    elif kind == "simplex":
        msg.vertices.CopyFrom(_f64(p["vertices"], "vertices"))
        msg.resolution = int(p["resolution"])
    elif kind == "plane":
        for name in ("origin", "d1", "d2"):
            getattr(msg, name).CopyFrom(_f64(p[name], name))
        if p.get("extent") is not None:
            msg.extent = float(p["extent"])
        msg.resolution = int(p.get("resolution") or 0)
        if (p.get("alpha") is None) != (p.get("beta") is None):
            raise ValueError("give both alpha and beta, or neither")
        if p.get("alpha") is not None:
            msg.alpha.CopyFrom(_f64(p["alpha"], "alpha"))
            msg.beta.CopyFrom(_f64(p["beta"], "beta"))
        msg.raw_directions = bool(p.get("raw_directions", False))
    else:  # radial
        for name in required:
            getattr(msg, name).CopyFrom(_f64(p[name], name))
    return request


def _result_from_parts(parts: Iterator[jobs_pb2.JobResultPart]):
    from landsim.results import Result, Verdict

    summary = None
    arrays: dict[str, ChunkAssembler] = {}
    for part in parts:
        if part.WhichOneof("part") == "summary":
            if summary is not None:
                raise WireError("a second result summary")
            summary = part.summary
            arrays = {info.name: ChunkAssembler(info.name) for info in summary.arrays}
            continue
        if summary is None:
            raise WireError("an array chunk before the result summary")
        chunk = part.chunk
        if chunk.name not in arrays:
            raise WireError(f"chunk of an unlisted array {chunk.name!r}")
        arrays[chunk.name].add(chunk)
    if summary is None:
        raise WireError("the result stream ended before its summary")
    series = {}
    for info in summary.arrays:
        a = arrays[info.name].array()
        if a.dtype.name != info.dtype or list(a.shape) != list(info.shape):
            raise WireError(f"array {info.name!r} is {a.dtype} {list(a.shape)}, the summary "
                            f"says {info.dtype} {list(info.shape)}")
        series[info.name] = a
    if summary.arm not in _JOB_ARM_NAMES:  # a Result has no place for an unknown arm
        raise WireError(f"result of an unknown arm {summary.arm}")
    v = summary.verdict
    return Result(experiment=summary.experiment_id,
                  kind=_JOB_KIND_NAMES.get(summary.kind, "toy"),
                  config=json.loads(summary.config_json or "{}"), seed=int(summary.seed),
                  version=summary.version, timings=dict(summary.timings),
                  metrics=dict(summary.metrics), series=series,
                  verdict=Verdict(v.holds, v.rule, v.evidence), machine=summary.machine,
                  arm=_JOB_ARM_NAMES[summary.arm],
                  replicate=int(summary.replicate))
