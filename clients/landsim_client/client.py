"""The landsim client: NumPy arrays in and out over the landsim.v1 gRPC API.

:class:`Client` wraps one channel and both services. Every call carries a deadline
(``timeout`` seconds, per attempt); idempotent calls (Get/List, CreateLandscape whose id
is content-derived, Evaluate, StreamEvaluate, Project, Intersect, Section, GetJobResult,
CancelJob, and CreateJob because it always carries a request_id) are retried with
exponential backoff and jitter on UNAVAILABLE and DEADLINE_EXCEEDED (and on a
RESOURCE_EXHAUSTED that carries a ``RetryInfo`` delay: the server was busy), a bounded number of
times (:class:`RetryPolicy`); DeleteLandscape, DeleteJob and Descend are not retried once
they may have run. Failures raise the typed exceptions of :mod:`landsim_client.errors`
with the server's details decoded.

The calls themselves live in :mod:`landsim_client.landscape_calls` and
:mod:`landsim_client.job_calls`; this module holds the connection and the retry loop, and
re-exports the records and constants it always offered.

Example
-------
>>> with Client("127.0.0.1:50051", token="s3cret") as c:            # doctest: +SKIP
...     lid = c.create_landscape(dim=100, n_wedges=4, n_short=10, eps1=0.05, seed=0)
...     ev = c.evaluate(lid, np.random.default_rng(0).normal(size=(8, 100)), gradient=True)
...     job = c.submit("E1", quick=True)
...     for event in c.watch(job.id):
...         print(event.state, event.progress)
...     result = c.result(job.id)                   # a landsim_client.JobResult
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import grpc
from landsim_wire.arrays import WireError
from landsim_wire.chunks import chunk_deserializer, serialize_or_pass
from landsim_wire.v1 import jobs_pb2_grpc, landscape_pb2_grpc
from landsim_wire.v1 import landscape_pb2 as pb

from . import rpc_protos
from .assemble import DescentRun
from .errors import LandsimError, Unavailable, from_rpc_error
from .job_calls import JobCalls
from .job_result import JobResult, Verdict
from .landscape_calls import LandscapeCalls
from .records import (
    FINAL_STATES,
    JOB_STATES,
    DescentRecord,
    Evaluation,
    Intersection,
    Job,
    JobEvent,
    Landscape,
)
from .requests import SECTION_KINDS, channel_options
from .retry import RetryPolicy
from .spec_record import SpecRecord, WedgeRecord

__all__ = [
    "Client", "RetryPolicy", "Landscape", "Evaluation", "Intersection", "DescentRecord",
    "DescentRun", "Job", "JobEvent", "JobResult", "Verdict", "SpecRecord", "WedgeRecord",
    "JOB_STATES", "FINAL_STATES", "SECTION_KINDS", "DEFAULT_TARGET", "DEFAULT_TIMEOUT_S",
]

#: Where a client connects when no target is given.
DEFAULT_TARGET = "127.0.0.1:50051"
#: Default deadline of one call attempt, in seconds.
DEFAULT_TIMEOUT_S = 30.0
_LANDSCAPE_SERVICE = pb.DESCRIPTOR.services_by_name["LandscapeService"].full_name


class Client(LandscapeCalls, JobCalls):
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
    tls_client_cert, tls_client_key : str or PathLike, optional
        PEM client certificate (chain) and its private key, both or neither, for a server
        that requires client certificates (mutual TLS, ``landsim serve --tls-client-ca``);
        they need ``tls``.
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

    Notes
    -----
    The client is a context manager; :meth:`close` closes the channel. It is safe to
    share between threads (gRPC channels are).
    """

    def __init__(self, target: str = DEFAULT_TARGET, token: str | None = None,
                 tls: bool | str | PathLike = False, timeout: float = DEFAULT_TIMEOUT_S,
                 retry: RetryPolicy | None = None, max_message_bytes: int = 64 << 20,
                 chunk_bytes: int = 1 << 20, options: Sequence = (),
                 tls_client_cert: str | PathLike | None = None,
                 tls_client_key: str | PathLike | None = None) -> None:
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a non-empty 'host:port' string, got {target!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError("token must be a non-empty string or None")
        if (tls_client_cert is None) != (tls_client_key is None):
            raise ValueError("give both tls_client_cert and tls_client_key, or neither")
        if tls_client_cert is not None and (tls is False or tls is None):
            raise ValueError("a client certificate (mutual TLS) needs tls: True or the "
                             "path of the server's root certificate(s)")
        if not 1024 <= chunk_bytes <= max_message_bytes // 2:
            raise ValueError(f"chunk_bytes must be in [1024, max_message_bytes / 2], got "
                             f"{chunk_bytes!r}")
        self.target = target
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        self.max_message_bytes = int(max_message_bytes)
        self.chunk_bytes = int(chunk_bytes)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        opts = channel_options(self.max_message_bytes, options)
        if tls is False or tls is None:
            self._channel = grpc.insecure_channel(target, options=opts)
        else:
            roots = None if tls is True else Path(tls).read_bytes()
            key = None if tls_client_key is None else Path(tls_client_key).read_bytes()
            chain = None if tls_client_cert is None else Path(tls_client_cert).read_bytes()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=roots, private_key=key, certificate_chain=chain)
            self._channel = grpc.secure_channel(target, credentials, options=opts)
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
        "SERVING" once its kernels are warm, "NOT_SERVING" while starting or stopping."""
        request_cls, response_cls = rpc_protos.health_messages()
        check = self._channel.unary_unary(
            rpc_protos.HEALTH_CHECK_METHOD, request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString)
        msg = self._unary("Check", check, request_cls(service=service), idempotent=True,
                          timeout=timeout)
        return rpc_protos.serving_status_name(msg.status)

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
            # a busy server's refusal says when to come back (RetryInfo)
            busy = error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and \
                error.retry_after_s is not None
            if attempt == attempts or not (busy or error.code in self.retry.codes):
                raise error
            time.sleep(max(self.retry.backoff(attempt),
                           min(error.retry_after_s or 0.0, self.retry.max_backoff_s)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _unary(self, method: str, stub_method, request, *, idempotent: bool,
               timeout: float | None = None):
        return self._call(method, lambda t: stub_method(request, timeout=t,
                                                        metadata=self._metadata),
                          idempotent=idempotent, timeout=timeout)
