"""Build and run the landsim gRPC server (``grpc.aio``).

One server carries:

- ``landsim.v1.LandscapeService`` (:mod:`landsim_server.landscape_service`) and
  ``landsim.v1.JobService`` (:mod:`landsim_server.job_service`, whose worker processes
  start and stop with the server);
- the standard health service ``grpc.health.v1.Health``: NOT_SERVING until the Numba
  kernels are loaded (a tiny evaluate of every kernel variant), SERVING after, and
  NOT_SERVING again as soon as a shutdown begins;
- server reflection, so generic tools (grpcurl, grpcui) can discover the API;
- optional bearer-token auth (every call but health and reflection needs
  ``authorization: Bearer <token>``, else UNAUTHENTICATED), optional TLS and optional
  mutual TLS (``tls_client_ca``: every connection needs a client certificate signed by
  that CA; with a token too, calls need both);
- admission control (:mod:`landsim_server.admission`): health and reflection are never
  limited; short calls have slots and a bounded wait queue, streams their own cap, and
  every call's declared bytes must fit a memory budget; a refused call gets
  RESOURCE_EXHAUSTED with QuotaFailure and a retry hint.

Use :func:`start_server` in tests (port 0 picks a free port; ``await running.ready``
waits for SERVING) and :func:`serve` for the command line (it prints
``landsim server listening on HOST:PORT`` once health is SERVING and stops gracefully on
SIGTERM or SIGINT).
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import hmac
import logging
import math
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from landsim_wire.v1 import jobs_pb2

from landsim import geometry
from landsim.spec import random_landscape
from landsim.threads import max_kernel_threads, set_kernel_threads

from . import db
from .admission import OPEN_METHOD_PREFIXES, Admission, AdmissionInterceptor, AdmissionLimits
from .job_runtime import JobRuntime
from .job_service import add_job_service
from .landscape_service import SERVICE_NAME, add_landscape_service
from .landscape_store import LandscapeStore
from .service_limits import ServiceLimits

__all__ = ["ServerOptions", "RunningServer", "BearerTokenInterceptor", "start_server",
           "serve", "warm_kernels", "TOKEN_ENV", "JOB_SERVICE_NAME"]

#: Environment variable read for the token when none is given.
TOKEN_ENV = "LANDSIM_TOKEN"
#: Full name of the job service.
JOB_SERVICE_NAME = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """Settings of one server, validated on construction.

    Parameters
    ----------
    host : str
        Interface to bind; loopback by default (use "0.0.0.0" or "[::]" to listen on all,
        with a token and TLS).
    port : int
        TCP port in [0, 65535]; 0 picks a free one (printed at start).
    data_dir : str
        Directory of the SQLite database, stored landscapes and job results.
    n_workers : int
        Simulator worker processes for jobs, >= 0.
    torch_worker : bool
        Also start a torch worker for real-network jobs.
    executor : {"local", "ray"}
        Where job slots run their jobs: worker processes of this server, or Ray tasks
        (one slot thread per worker; :mod:`landsim_server.ray_jobs`).
    ray_address : str
        With ``executor="ray"``: "auto" (``RAY_ADDRESS``, else a local cluster started by
        the server), "local", or a cluster address such as "10.0.0.5:6379".
    data_root : str or None
        An existing directory: real jobs may name data files by paths relative to it
        (anything resolving outside it is PERMISSION_DENIED). None: jobs name no files.
    token : str or None
        Bearer token every call but health and reflection must carry; None: no auth.
        :meth:`from_env` fills it from ``LANDSIM_TOKEN``.
    tls_cert, tls_key : str or None
        PEM certificate chain and private key files; both or neither (then plaintext).
    tls_client_ca : str or None
        PEM file of the CA certificate(s) that sign client certificates (mutual TLS, with
        ``tls_cert``): every connection must then present a client certificate signed by
        one of them, else the TLS handshake fails (health and reflection included). With a
        token too, calls need both.
    max_message_bytes : int
        Largest message received or sent, >= 64 KiB.
    max_points : int
        Most points in one call (see :class:`ServiceLimits`), >= 1.
    max_concurrent_calls : int
        Short (unary) calls in progress at once, >= 1; more wait in the queue.
    max_queued_calls : int
        Short calls that may wait for a slot, >= 0; past it, RESOURCE_EXHAUSTED at once
        (with QuotaFailure and a retry hint).
    queue_wait_s : float
        Longest a queued short call waits for a slot before RESOURCE_EXHAUSTED, in
        [0, 60].
    max_streams : int
        Streaming calls (WatchJob, Descend, Section, StreamEvaluate, GetJobResult) open at
        once, >= 1; a separate cap from the short calls. Health and reflection are never
        limited.
    max_memory : int
        Memory budget in bytes, >= 16 MiB: a call is admitted only when the bytes it
        declares (its request, the arrays it decodes and the results it will build) fit
        in what the calls in progress leave free.
    max_lag_s : float or None
        Shed new short calls (RESOURCE_EXHAUSTED) while the event loop runs this many
        seconds behind on average, in ]0, 10]; None: never.
    processes : int
        Server processes sharing the port (SO_REUSEPORT), the data directory and one job
        supervisor, in [1, 64]; see :mod:`landsim_server.processes`.
    job_supervisor : bool
        Whether this process runs the job workers and their supervisor. With several
        processes exactly one does; the others only serve calls.
    compute_threads : int
        Threads running library calls, >= 1; 0 means the number of CPUs.
    kernel_threads : int
        Numba threads each compute thread's parallel kernels use, in [1, the number of
        CPUs]. The default 1 runs calls side by side without oversubscribing the cores
        (OpenMP threads that wait on each other slow down badly when oversubscribed).
    grace_s : float
        Seconds in-flight calls get to finish at shutdown, >= 0.
    """

    host: str = "127.0.0.1"  # loopback only unless asked
    port: int = 0  # any free port
    data_dir: str = "./landsim-data"
    n_workers: int = 1  # one simulator worker process
    torch_worker: bool = False
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    max_message_bytes: int = 64 << 20  # 64 MiB; StreamEvaluate for larger batches
    max_points: int = 1 << 20
    max_concurrent_calls: int = 64
    max_queued_calls: int = 64
    queue_wait_s: float = 1.0
    max_streams: int = 64
    max_memory: int = 1 << 30  # 1 GiB
    max_lag_s: float | None = None  # no load shedding
    processes: int = 1
    job_supervisor: bool = True
    executor: str = "local"  # job slots run worker processes; "ray": Ray tasks
    ray_address: str = "auto"
    data_root: str | None = None  # where real jobs may name data files; None: nowhere
    compute_threads: int = 0  # one per CPU
    kernel_threads: int = 1  # parallelism across calls, not within one
    grace_s: float = 10.0

    def __post_init__(self) -> None:
        def integer(name: str, low: int, high: float = math.inf) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {v!r}")

        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host must be a non-empty string, got {self.host!r}")
        integer("port", 0, 65535)
        integer("n_workers", 0, 64)
        integer("max_message_bytes", 64 << 10, 2**31 - 1)
        integer("max_points", 1)
        integer("max_concurrent_calls", 1)
        integer("max_queued_calls", 0)
        integer("max_streams", 1)
        integer("max_memory", 16 << 20)
        integer("processes", 1, 64)
        if self.data_root is not None and not (isinstance(self.data_root, str)
                                               and os.path.isdir(self.data_root)):
            raise ValueError(f"data_root must be an existing directory, got "
                             f"{self.data_root!r}")
        if self.executor not in ("local", "ray"):
            raise ValueError(f"executor must be one of ('local', 'ray'), got "
                             f"{self.executor!r}")
        if not isinstance(self.ray_address, str) or not self.ray_address.strip():
            raise ValueError("ray_address must be 'auto', 'local' or a Ray address such as "
                             f"'127.0.0.1:6379', got {self.ray_address!r}")
        for flag in ("torch_worker", "job_supervisor"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a bool, got {getattr(self, flag)!r}")
        integer("compute_threads", 0, 1024)
        integer("kernel_threads", 1, max_kernel_threads())
        if self.token is not None and (not isinstance(self.token, str) or not self.token):
            raise ValueError("token must be a non-empty string or None")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither, got "
                             f"tls_cert={self.tls_cert!r}, tls_key={self.tls_key!r}")
        if self.tls_client_ca is not None and (
                not isinstance(self.tls_client_ca, str) or not self.tls_client_ca):
            raise ValueError("tls_client_ca must be a non-empty path string or None, got "
                             f"{self.tls_client_ca!r}")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca (client certificates, mutual TLS) needs TLS: "
                             "give tls_cert and tls_key too")
        for name, high in (("grace_s", math.inf), ("queue_wait_s", 60.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and 0 <= value <= high):
                raise ValueError(f"{name} must be a number in [0, {high:g}], got {value!r}")

    @classmethod
    def from_env(cls, **kwargs) -> ServerOptions:
        """Options with ``token`` taken from ``LANDSIM_TOKEN`` when not given."""
        if kwargs.get("token") is None and os.environ.get(TOKEN_ENV):
            kwargs["token"] = os.environ[TOKEN_ENV]
        return cls(**kwargs)

    def limits(self) -> ServiceLimits:
        """The per-call caps of the landscape service (no single array may exceed the
        memory budget)."""
        return ServiceLimits(max_points=self.max_points,
                             max_message_bytes=self.max_message_bytes,
                             max_array_bytes=min(ServiceLimits.max_array_bytes,
                                                 self.max_memory // 2),
                             chunk_bytes=min(1 << 20, self.max_message_bytes // 4))

    def admission_limits(self) -> AdmissionLimits:
        """The admission control's limits."""
        return AdmissionLimits(max_calls=self.max_concurrent_calls,
                               max_queued=self.max_queued_calls,
                               queue_wait_s=self.queue_wait_s,
                               max_streams=self.max_streams, max_memory=self.max_memory,
                               max_lag_s=self.max_lag_s)


# ---------------------------------------------------------------------- allocator
#: glibc mallopt parameters (malloc.h) and the values the server sets.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_ALLOCATOR = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 64 << 20),
              (_M_TOP_PAD, 16 << 20))


def _tune_allocator() -> bool:
    """Keep freed message-sized blocks in the process (glibc only; a no-op elsewhere).

    A bulk stream allocates and frees a megabyte-sized buffer per message (received
    bytes, encoded responses, gRPC slices). With glibc's defaults many of these are
    mmap'd and unmapped, or trimmed from the heap top, each time, so every message pays
    page faults and page zeroing (about a third of the server's CPU in a StreamEvaluate
    with gradients, benchmarks/bench_grpc.py). Blocks up to 32 MiB are therefore served
    from the heap, and a heap keeps up to 64 MiB free at its top before giving memory
    back to the system. Process-wide; returns whether the settings were applied.
    """
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(param, value) == 1 for param, value in _ALLOCATOR])


# ---------------------------------------------------------------------- auth
class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Reject calls without ``authorization: Bearer <token>`` (UNAUTHENTICATED).

    The scheme is case-insensitive, as RFC 6750 and RFC 9110 say (``bearer`` and
    ``BEARER`` are accepted too) and may be followed by several spaces; the token must
    match exactly (compared in constant time). Methods under
    :data:`OPEN_METHOD_PREFIXES` (health, reflection) stay open. A rejected call's request
    is never deserialised.
    """

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def _authorized(self, metadata) -> bool:
        for key, value in metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                scheme, _, credentials = given.partition(b" ")
                # compare the token whatever the scheme, so the time says nothing of it
                match = hmac.compare_digest(credentials.lstrip(b" "), self._expected)
                return scheme.lower() == b"bearer" and match
        return False

    async def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(OPEN_METHOD_PREFIXES) or self._authorized(
                handler_call_details.invocation_metadata):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None

        async def deny(request_or_iterator, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "missing or invalid bearer token (metadata 'authorization: "
                                "Bearer <token>')")

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


# ---------------------------------------------------------------------- warm-up
def warm_kernels() -> int:
    """Load (or compile) every kernel variant the service calls: a tiny evaluate for each
    frame kind, union, anchoring, dtype and with/without gradient. Returns the number of
    calls made."""
    calls = 0
    for kind in ("axis", "rotated"):
        for union in ("hard", "soft"):
            for anchor_scale in (0.0, 0.5):
                spec = random_landscape(6, 2, 2, kind=kind, union=union, eps1=0.1,
                                        anchor_scale=anchor_scale, seed=0)
                for dtype in (np.float64, np.float32):
                    X = np.linspace(-1.0, 1.0, 12, dtype=dtype).reshape(2, 6)
                    for grad in (True, False):
                        geometry.evaluate(spec, X, grad=grad)
                        calls += 1
    return calls


# ---------------------------------------------------------------------- server
@dataclass
class RunningServer:
    """A started server and what it owns; stop it with :meth:`stop`."""

    server: grpc.aio.Server
    port: int
    options: ServerOptions
    health: health.aio.HealthServicer
    store: LandscapeStore
    executor: ThreadPoolExecutor
    jobs: JobRuntime
    ready: asyncio.Task = dataclasses.field(repr=False)
    admission: Admission | None = None
    lag_monitor: asyncio.Task | None = dataclasses.field(default=None, repr=False)
    _stopped: bool = False

    @property
    def address(self) -> str:
        """``host:port`` to connect to."""
        return f"{self.options.host}:{self.port}"

    async def stop(self, grace_s: float | None = None) -> None:
        """Health to NOT_SERVING, let in-flight calls finish for ``grace_s`` (default:
        options.grace_s), stop the job workers, release the threads and the database."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.options.grace_s if grace_s is None else grace_s
        self.ready.cancel()
        if self.lag_monitor is not None:
            self.lag_monitor.cancel()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.jobs.stop(grace)
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.store.close()


def _add_job_service(server: grpc.aio.Server, options: ServerOptions) -> JobRuntime:
    """Register the job service (its workers start with :func:`start_server`)."""
    return add_job_service(server, data_dir=options.data_dir, options=options)


def _server_credentials(options: ServerOptions) -> grpc.ServerCredentials:
    """TLS credentials of the server; with ``tls_client_ca``, mutual TLS: a client must
    present a certificate signed by that CA, or its handshake fails."""
    pair = (Path(options.tls_key).read_bytes(), Path(options.tls_cert).read_bytes())
    if options.tls_client_ca is None:
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials([pair],
                                       root_certificates=Path(options.tls_client_ca).read_bytes(),
                                       require_client_auth=True)


async def _warm_then_serve(health_servicer, executor) -> None:
    loop = asyncio.get_running_loop()
    n = await loop.run_in_executor(executor, warm_kernels)
    _log.info("kernels warm (%d calls); health SERVING", n)
    for name in ("", SERVICE_NAME, JOB_SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def start_server(options: ServerOptions) -> RunningServer:
    """Build, bind and start a server; warm the kernels in the background.

    Returns at once with health NOT_SERVING; ``await running.ready`` waits until the
    kernels are warm and health is SERVING. Raises ``RuntimeError`` if the address cannot
    be bound. Tunes the process's allocator for message-sized buffers first
    (:func:`_tune_allocator`).
    """
    _tune_allocator()
    db.secure_data_dir(options.data_dir)  # 0700: jobs and results are the owner's only
    cap = options.max_message_bytes
    admission = Admission(options.admission_limits())
    # the token first: a call without one never takes a slot
    interceptors = ([BearerTokenInterceptor(options.token)] if options.token else []) + [
        AdmissionInterceptor(admission)]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", cap),
                 ("grpc.max_send_message_length", cap)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME, JOB_SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, JOB_SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name[
            "Health"].full_name, reflection.SERVICE_NAME), server)
    store = LandscapeStore(options.data_dir, revalidate=options.processes > 1)
    executor = ThreadPoolExecutor(options.compute_threads or os.cpu_count() or 1,
                                  thread_name_prefix="landsim-compute",
                                  initializer=set_kernel_threads,
                                  initargs=(options.kernel_threads,))
    add_landscape_service(server, store, executor, options.limits())
    jobs = _add_job_service(server, options)
    address = f"{options.host}:{options.port}"
    try:
        if options.tls_cert is not None:
            port = server.add_secure_port(address, _server_credentials(options))
        else:
            port = server.add_insecure_port(address)
    except (RuntimeError, OSError) as exc:
        executor.shutdown()
        store.close()
        await jobs.stop(0.0)
        what = "cannot bind" if isinstance(exc, RuntimeError) else "cannot read TLS files for"
        raise RuntimeError(f"{what} {address}: {exc}") from exc
    await server.start()
    await jobs.start()
    ready = asyncio.create_task(_warm_then_serve(health_servicer, executor))
    lag_monitor = None if options.max_lag_s is None else asyncio.create_task(
        admission.monitor_lag(), name="loop-lag")
    return RunningServer(server, port, options, health_servicer, store, executor, jobs, ready,
                         admission, lag_monitor)


async def serve(options: ServerOptions, out=None) -> int:
    """Run a server until SIGTERM or SIGINT, then shut down gracefully; returns 0.

    Prints ``landsim server listening on HOST:PORT`` (flushed) once health is SERVING
    (the kernels are warm), so a client that waits for the line finds the server ready.
    A signal during the warm-up stops the server without printing it.
    """
    out = sys.stdout if out is None else out
    running = await start_server(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running.ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.ready.done() and not running.ready.cancelled():
            running.ready.result()  # a warm-up that failed ends the server with its error
            out.write(f"landsim server listening on {running.address}\n")
            out.flush()
        await stopping
    finally:
        stopping.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        out.write("landsim server shutting down\n")
        out.flush()
        await running.stop()
    return 0
