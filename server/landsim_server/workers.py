"""Worker processes that run queued jobs.

Each worker is a process of the ``spawn`` multiprocessing context running
:func:`worker_main`: it warms up (Numba kernels for toy jobs, the torch registry for real
ones), then loops until asked to stop: claim the oldest queued job of its kinds, run it as a
:class:`landsim.units.Unit` (claim, kind, config, seed, replicate, arm) with
:func:`landsim.units.run_unit`, exactly as ``landsim reproduce`` runs it, and store the
result (which records its arm and replicate). While the experiment runs, a heartbeat
thread renews the job's lease every third of the lease and checks every ``cancel_poll_s``
that the job is still this worker's; the experiment's ``progress(fraction, message)``
records progress (renewing the lease too) and raises to stop the run when the worker is
asked to stop (the job then goes back to the queue without using up an attempt). A job cancelled (or
deleted, or requeued) while it runs ends its worker process at once, with status
:data:`EXIT_JOB_LOST`, whatever the experiment is computing; the server replaces the
worker (without counting a crash). When a worker is killed outright, the server's
supervisor sees the dead process and queues its job again at once, saying how the process
ended (:func:`landsim_server.job_runtime.death_cause`); without a supervisor the job's
lease expires and it is queued again then. After ``max_attempts`` such starts it is
FAILED.

Simulator workers take only toy jobs; the torch worker takes only real jobs, so torch is
imported in that process alone and never in the server process.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from landsim.units import Unit, run_unit

from .job_config import KINDS, build_config, resolve
from .job_store import JobRecord, JobStore
from .sweep_jobs import SweepInterrupted

__all__ = ["WorkerSettings", "WorkerHandle", "worker_main", "run_job", "start_worker",
           "new_owner", "warm_up", "error_summary", "EXIT_JOB_LOST", "Stopping"]

_log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 4000  # longest error text stored for a FAILED job
MAX_MESSAGE_CHARS = 500  # longest progress message stored
#: Exit status of a worker process that dropped a running job no longer its own.
EXIT_JOB_LOST = 75


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process runs.

    Attributes
    ----------
    data_dir : str
        The server's data directory (database and result files).
    owner : str
        Unique name of this worker, written as the lease owner of its job.
    kinds : tuple of str
        Job kinds it takes: ("toy",) for simulator workers, ("real",) for the torch worker.
    lease_s : float
        Seconds a lease lasts without renewal, in [0.2, 3600].
    poll_s : float
        Seconds between claims while the queue is empty, in ]0, 60].
    progress_interval_s : float
        Least seconds between two stored progress reports, in [0, 60]; a report is stored
        anyway when its fraction grew by >= 0.01 since the last one stored, or is 1.
    cancel_poll_s : float
        Seconds between two checks, while a job runs, that it is still this worker's
        (not cancelled, deleted or requeued), in ]0, 60].
    data_root : str or None
        The server's ``--data-root``: files named by jobs resolve inside it
        (``landsim.real.data_root``); None: as given (but the server refuses such jobs).
    """

    data_dir: str
    owner: str
    kinds: tuple = ("toy",)
    lease_s: float = 30.0
    poll_s: float = 0.2
    progress_interval_s: float = 0.05
    cancel_poll_s: float = 0.5
    data_root: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data_dir, str) or not self.data_dir:
            raise ValueError(f"data_dir must be a non-empty path string, got {self.data_dir!r}")
        if not isinstance(self.owner, str) or not self.owner:
            raise ValueError(f"owner must be a non-empty string, got {self.owner!r}")
        kinds = tuple(self.kinds)
        if not kinds or any(k not in KINDS for k in kinds):
            raise ValueError(f"kinds must be a non-empty tuple of {KINDS}, got {self.kinds!r}")
        object.__setattr__(self, "kinds", kinds)
        for name, low, high, low_open in (("lease_s", 0.2, 3600.0, False),
                                          ("poll_s", 0.0, 60.0, True),
                                          ("progress_interval_s", 0.0, 60.0, False),
                                          ("cancel_poll_s", 0.0, 60.0, True)):
            v = getattr(self, name)
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and (v > low if low_open else v >= low) and v <= high)
            if not ok:
                raise ValueError(f"{name} must be a number in {']' if low_open else '['}"
                                 f"{low:g}, {high:g}], got {v!r}")


def new_owner(kind: str) -> str:
    """A unique lease-owner name: ``<kind>-worker@<host>:<8 hex>``."""
    return f"{kind}-worker@{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def error_summary(exc: BaseException) -> str:
    """The exception and the last frames of its traceback, at most 4000 characters."""
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6)
    text = f"{type(exc).__name__}: {exc}\n" + "".join(frames)
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


class Stopping(Exception):
    """The worker was asked to stop: give the job back to the queue."""



class _Aborted(Exception):
    """The job is no longer this worker's (cancelled, deleted or lease lost)."""


def run_job(store: JobStore, job: JobRecord, settings: WorkerSettings,
            stop: threading.Event | None = None,
            on_lost: Callable[[], None] | None = None,
            compute: Callable[..., object] = run_unit,
            sweep_executor: Callable[[], object] | None = None) -> str:
    """Run one claimed job to its end and record the outcome.

    Parameters
    ----------
    store : JobStore
    job : JobRecord
        As returned by :meth:`JobStore.claim` for ``settings.owner``.
    settings : WorkerSettings
    stop : Event, optional
        When set, the run stops at its next progress report and the job is requeued.
    on_lost : callable, optional
        Called as soon as the job is found to be no longer this worker's while the
        experiment still runs (by the lease thread, or by a progress report): a worker
        process exits there (:data:`EXIT_JOB_LOST`) instead of computing on until its next
        progress report. Without it the run stops at that report.
    compute : callable
        ``compute(unit, progress) -> Result``: :func:`landsim.units.run_unit` here, or a
        call that runs the unit elsewhere (a Ray task) and relays its progress.
    sweep_executor : callable, optional
        For a sweep job: makes the executor its units run on (default: one after another
        in this process, :class:`landsim.executors.SerialExecutor`).

    Returns
    -------
    str
        "succeeded", "failed", "aborted" (cancelled or lease lost) or "released".
    """
    owner, lease_s = settings.owner, settings.lease_s
    lost = threading.Event()
    done = threading.Event()
    finishing = threading.Event()  # the experiment returned or raised: no more on_lost

    def heartbeat() -> None:
        renew_at = time.monotonic() + lease_s / 3
        while not done.wait(min(settings.cancel_poll_s, lease_s / 3)):  # until the run ends
            if time.monotonic() >= renew_at:
                held = store.renew(job.id, owner, lease_s)
                renew_at = time.monotonic() + lease_s / 3
            else:
                held = store.holds(job.id, owner)
            if not held:
                lost.set()
                if on_lost is not None and not finishing.is_set():
                    on_lost()
                return

    last = [-math.inf, -math.inf]  # time and fraction of the last stored report

    def progress(fraction: float, message: str) -> None:
        if stop is not None and stop.is_set():
            raise Stopping()
        if lost.is_set():
            abort()
        now = time.monotonic()
        fraction = min(max(float(fraction), 0.0), 1.0)
        # store at most one report per interval unless the fraction moved by >= 1%
        if (fraction < 1.0 and now - last[0] < settings.progress_interval_s
                and fraction - last[1] < 0.01):
            return
        last[0], last[1] = now, fraction
        if not store.renew(job.id, owner, lease_s, fraction, str(message)[:MAX_MESSAGE_CHARS]):
            lost.set()
            abort()

    def abort() -> None:
        """The job is no longer ours: end the process (on_lost) or unwind the run."""
        if on_lost is not None:
            on_lost()
        raise _Aborted()

    beat = threading.Thread(target=heartbeat, name=f"lease-{job.id[:8]}", daemon=True)
    beat.start()
    try:
        module = resolve(job.kind, job.experiment)
        config = build_config(module, job.config, job.quick)
        try:
            if job.sweep:
                result = _run_sweep(job, config, settings, progress, sweep_executor)
            else:
                unit = Unit(job.experiment, job.kind, config, seed=job.seed,
                            replicate=job.replicate, arm=job.arm)
                result = compute(unit, progress=progress)
        finally:
            finishing.set()
        if lost.is_set():
            raise _Aborted()
        if store.succeed(job.id, owner, job.attempts, result):
            return "succeeded"
        return "aborted"
    except Stopping:
        store.release(job.id, owner, "requeued: its worker was stopped")
        return "released"
    except _Aborted:
        return "aborted"
    except Exception as exc:  # the experiment failed: the job records why
        if lost.is_set():  # ... or it was stopped because the job is no longer ours
            return "aborted"
        if isinstance(exc, SweepInterrupted) and stop is not None and stop.is_set():
            store.release(job.id, owner, "requeued: its worker was stopped")
            return "released"
        store.fail(job.id, owner, error_summary(exc))
        return "failed"
    finally:
        done.set()
        beat.join()


def _run_sweep(job: JobRecord, config, settings: WorkerSettings, progress,
               sweep_executor: Callable[[], object] | None):
    """Run a sweep job's units (those not stored yet) and return the sweep's Result."""
    from landsim.executors import SerialExecutor

    from .sweep_jobs import run_sweep_job, sweep_dir, sweep_spec

    spec = sweep_spec(job.experiment, job.kind, job.sweep, job.seed, config)
    with (sweep_executor or SerialExecutor)() as executor:
        return run_sweep_job(spec, sweep_dir(settings.data_dir, job.id), executor, progress)


def warm_up(kinds: tuple) -> None:
    """Compile (or load from cache) the Numba kernels, or import the torch registry."""
    if "toy" in kinds:
        import numpy as np

        from landsim import geometry
        from landsim.spec import random_landscape
        spec = random_landscape(6, 2, 2, eps0=0.01, eps1=0.05, seed=0)
        geometry.loss_and_grad(spec, np.ones((2, 6)))
    if "real" in kinds:
        try:
            import landsim.real.experiments  # noqa: F401
        except Exception as exc:  # jobs will fail with the reason when they are claimed
            _log.warning("kind real is not available in the torch worker: %s", exc)


def _exit_job_lost() -> None:
    """End this worker process at once: its job was cancelled (or deleted, or requeued)
    while the experiment runs; the server starts a fresh worker in its place."""
    _log.info("the running job is no longer this worker's: exiting with %d", EXIT_JOB_LOST)
    logging.shutdown()
    os._exit(EXIT_JOB_LOST)


def worker_main(settings: WorkerSettings, stop: threading.Event) -> None:
    """Entry point of a worker process: warm up, then claim and run jobs until ``stop``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when workers stop
    from landsim.real.data_root import DATA_ROOT_ENV
    os.environ[DATA_ROOT_ENV] = settings.data_root or ""  # "": the job may name no file
    warm_up(settings.kinds)
    store = JobStore(settings.data_dir)
    try:
        while not stop.is_set():
            job = store.claim(settings.owner, settings.kinds, settings.lease_s)
            if job is None:
                stop.wait(settings.poll_s)
                continue
            outcome = run_job(store, job, settings, stop, on_lost=_exit_job_lost)
            _log.info("job %s %s", job.id, outcome)
    finally:
        store.close()


@dataclass
class WorkerHandle:
    """A started worker process, its settings and its stop event."""

    process: multiprocessing.process.BaseProcess
    settings: WorkerSettings
    stop: object  # multiprocessing Event

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL the process (for tests of lost workers)."""
        if self.process.pid is not None:
            os.kill(self.process.pid, signal.SIGKILL)


def start_worker(settings: WorkerSettings, stop=None) -> WorkerHandle:
    """Start :func:`worker_main` in a new ``spawn`` process (``stop``: a shared Event)."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event() if stop is None else stop
    process = ctx.Process(target=worker_main, args=(settings, stop),
                          name=settings.owner, daemon=True)
    process.start()
    return WorkerHandle(process=process, settings=settings, stop=stop)
