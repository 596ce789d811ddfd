"""The worker processes of a server and their supervisor (the JobService's runtime).

:class:`JobRuntime` launches the worker processes (simulator workers for toy jobs,
optionally one torch worker for real jobs) and a supervisor that requeues jobs of lost
workers and restarts workers that died; ``stop(grace_s)`` stops them, giving unfinished
jobs back to the queue. :class:`RuntimeSettings` says how many and how they lease jobs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import signal
import threading
import time
from pathlib import Path

from .job_store import JobStore
from .workers import EXIT_JOB_LOST, WorkerHandle, WorkerSettings, new_owner, start_worker

__all__ = ["RuntimeSettings", "JobRuntime", "MAX_CHUNK_BYTES", "MIN_CHUNK_BYTES",
           "death_cause", "EXECUTORS"]

_log = logging.getLogger(__name__)
MAX_CHUNK_BYTES = 4 << 20  # largest result chunk a client may ask for
MIN_CHUNK_BYTES = 1024
#: Where a server's jobs run (``landsim serve --executor``).
EXECUTORS = ("local", "ray")


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
    executor : {"local", "ray"}
        Where jobs run: "local" worker processes, or Ray tasks
        (:mod:`landsim_server.ray_jobs`), one slot thread per worker.
    ray_address : str
        The Ray cluster with ``executor="ray"``: "auto" (``RAY_ADDRESS``, else a local
        cluster started by the server) or an address such as "10.0.0.5:6379".
    data_root : str or None
        The server's ``--data-root``, given to the torch worker (files named by real jobs
        resolve inside it).
    supervise : bool
        Whether this runtime starts workers and a supervisor at all. False in all but one
        of several server processes sharing a data directory: those only store and serve
        jobs, and the one supervising process runs them.
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
    supervise: bool = True
    executor: str = "local"
    ray_address: str = "auto"
    data_root: str | None = None

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
        if not isinstance(self.supervise, bool):
            raise ValueError(f"supervise must be a bool, got {self.supervise!r}")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.executor!r}")
        if not isinstance(self.ray_address, str) or not self.ray_address.strip():
            raise ValueError("ray_address must be 'auto', 'local' or a Ray address such as "
                             f"'127.0.0.1:6379', got {self.ray_address!r}")

    @classmethod
    def from_options(cls, options) -> RuntimeSettings:
        """Read the app's ServerOptions (any object; missing attributes keep defaults)."""
        names = {"n_workers": "n_workers", "torch_worker": "torch_worker",
                 "job_lease_s": "lease_s", "job_max_attempts": "max_attempts",
                 "job_poll_s": "poll_s", "max_chunk_bytes": "max_chunk_bytes",
                 "job_supervisor": "supervise", "executor": "executor",
                 "ray_address": "ray_address", "data_root": "data_root"}
        values = {field: getattr(options, opt) for opt, field in names.items()
                  if getattr(options, opt, None) is not None}
        message_cap = getattr(options, "max_message_bytes", None)
        if isinstance(message_cap, int) and message_cap > 0:  # room for the message frame
            values["max_chunk_bytes"] = max(MIN_CHUNK_BYTES, min(
                values.get("max_chunk_bytes", MAX_CHUNK_BYTES), message_cap - 4096))
        return cls(**values)


def death_cause(owner: str, pid: int | None, exitcode: int | None) -> str:
    """How a worker process ended, for the message of the job it ran: "worker process
    <owner> (pid <pid>) was killed by signal SIGKILL", "... exited with status 1", or
    "... died" when its exit status is unknown."""
    who = f"worker process {owner}" + (f" (pid {pid})" if pid is not None else "")
    if exitcode is None:
        return f"{who} died"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        return f"{who} was killed by signal {name}"
    return f"{who} exited with status {exitcode}"


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
        self.ray_slots = None  # with executor "ray": the slot threads (RayJobSlots)

    def _worker_settings(self, kind: str) -> WorkerSettings:
        return WorkerSettings(data_dir=str(self.data_dir), owner=new_owner(kind), kinds=(kind,),
                              lease_s=self.settings.lease_s, poll_s=self.settings.poll_s,
                              data_root=self.settings.data_root)

    def _slot_kinds(self) -> list[str]:
        return ["toy"] * self.settings.n_workers + (["real"] if self.settings.torch_worker
                                                    else [])

    async def start(self) -> None:
        """Launch the worker processes and the supervisor (idempotent; not after stop)."""
        if self._closed:
            raise RuntimeError("this JobRuntime was stopped; make a new one")
        if self._supervisor is not None or not self.settings.supervise:
            return
        self._stopping = False
        if self.settings.executor == "ray":
            from .ray_jobs import RayJobSlots

            self.ray_slots = await asyncio.to_thread(
                RayJobSlots, str(self.data_dir), self._slot_kinds(), self.settings.ray_address,
                self.settings.lease_s, self.settings.poll_s)
            self.ray_slots.start()
        for kind in self._slot_kinds() if self.ray_slots is None else []:
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
        """One supervisor turn (blocking): requeue the jobs of dead workers (saying how the
        worker died) and replace those workers, then reap expired leases."""
        with self._check_lock:
            if not self._stopping:
                self._check_workers()

    def _check_workers(self) -> None:
        # dead workers first: their jobs then say that the worker died, not that a lease
        # expired (which it may have done meanwhile)
        for i, handle in enumerate(self.workers):
            if handle.alive:
                continue
            code = handle.process.exitcode
            lost = self.store.expire_owner(handle.settings.owner,
                                           death_cause(handle.settings.owner,
                                                       handle.process.pid, code))
            if code == EXIT_JOB_LOST:  # dropped a cancelled job: no crash
                _log.info("worker %s left its cancelled job; starting a fresh one",
                          handle.settings.owner)
            else:
                _log.warning("worker %s exited with %s; its jobs %s were reaped",
                             handle.settings.owner, code, lost)
                if self._restarts[i] >= self.settings.max_restarts:
                    continue
                self._restarts[i] += 1
            self.workers[i] = start_worker(self._worker_settings(handle.settings.kinds[0]))
        if self.ray_slots is not None and not self.ray_slots.alive():
            for slot in self.ray_slots.slots:
                if slot.thread is not None and not slot.thread.is_alive():
                    self.store.expire_owner(slot.settings.owner,
                                            f"Ray job slot {slot.settings.owner} failed")
            self.ray_slots.start()
        self.store.reap_expired()

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
        if self.ray_slots is not None:
            await asyncio.to_thread(self.ray_slots.stop, grace_s)
            for owner in self.ray_slots.owners:
                await asyncio.to_thread(self.store.release_owner, owner,
                                        "requeued: the server stopped")
            self.ray_slots = None
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
