"""The local executor: a pool of processes over this machine's cores (the default).

Each worker is a ``spawn`` process that runs one unit at a time with
:func:`landsim.units.run_unit`; its Numba kernels and its BLAS use ``cores // workers``
threads, so the pool does not oversubscribe the machine. Progress comes back through a
queue and is handed to the caller's callback in the caller's thread. A worker that dies
(killed, out of memory) breaks the pool: the executor starts a fresh one and runs the
unfinished units again, each at most ``max_retries`` more times.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from .._checks import int_at_least
from ..units import Unit
from .base import (
    Cancelled,
    Executor,
    Finished,
    UnitProgress,
    check_units,
    run_one,
    this_node,
    throttled,
)

__all__ = ["LocalExecutor", "default_workers"]

_progress_queue = None  # in a worker: where its progress reports go
PROGRESS_INTERVAL_S = 0.1  # least seconds between two reports of one unit (but 0 and 1)


def default_workers() -> int:
    """Worker processes by default: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: Thread-count variables of the BLAS and OpenMP libraries NumPy and SciPy may load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextmanager
def _thread_caps(n: int) -> Iterator[None]:
    """While workers are spawned, cap their BLAS/OpenMP threads at ``n`` (each library
    reads its variable once, when the worker imports NumPy): without it every worker's
    BLAS starts one thread per core, and two workers on two cores run 2-3x slower than
    one. Variables the user set are left alone."""
    added = {k: str(n) for k in THREAD_VARIABLES if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _init_worker(progress_queue, kernel_threads: int) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when units stop
    from ..threads import max_kernel_threads, set_kernel_threads
    set_kernel_threads(min(kernel_threads, max_kernel_threads()))
    progress_queue.put(("pid", os.getpid(), 0.0, ""))


def _run_in_worker(index: int, unit: Unit) -> Finished:
    report = throttled(lambda f, m: _progress_queue.put(("progress", index, f, m)),
                       PROGRESS_INTERVAL_S)
    return run_one(index, unit, this_node(), report)


class LocalExecutor(Executor):
    """Units in a pool of ``workers`` processes on this machine.

    Parameters
    ----------
    workers : int, optional
        Worker processes, >= 1; default the CPUs this process may use.
    max_retries : int
        Times a unit whose worker died is run again, >= 0 (a unit that *raises* is not
        retried: it is a Finished with an error).
    """

    name = "local"

    def __init__(self, workers: int | None = None, max_retries: int = 2) -> None:
        super().__init__()
        self.workers = default_workers() if workers is None else \
            int_at_least("workers", workers, 1)
        self.max_retries = int_at_least("max_retries", max_retries, 0)
        self._ctx = multiprocessing.get_context("spawn")
        self._queue = self._ctx.Queue()
        self._pids: set[int] = set()
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self, n: int) -> cf.ProcessPoolExecutor:
        threads = max(1, default_workers() // self.workers)
        return cf.ProcessPoolExecutor(max_workers=n, mp_context=self._ctx,
                                      initializer=_init_worker,
                                      initargs=(self._queue, threads))

    def _drain(self, progress: UnitProgress) -> None:
        while True:
            try:
                what, a, fraction, message = self._queue.get_nowait()
            except queue.Empty:
                return
            if what == "pid":
                self._pids.add(a)
            elif progress is not None:
                progress(a, fraction, message)

    def _kill_workers(self) -> None:
        for pid in self._pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._pids.clear()

    def _shutdown(self, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        if kill:
            self._kill_workers()
        pool.shutdown(wait=True)
        self._pids.clear()

    def submit(self, units: Sequence[Unit], progress: UnitProgress = None
               ) -> Iterator[Finished]:
        units = check_units(units)
        todo = dict(enumerate(units))  # not finished yet
        retries = dict.fromkeys(todo, 0)
        while todo:
            if self.cancelled:
                raise Cancelled(f"cancelled with {len(todo)} unit(s) not finished")
            self._pool = self._new_pool(min(self.workers, len(todo)))
            with _thread_caps(max(1, default_workers() // self.workers)):  # spawned here
                futures = {self._pool.submit(_run_in_worker, i, u): i
                           for i, u in todo.items()}
            broken = False
            try:
                pending = set(futures)
                while pending:
                    done, pending = cf.wait(pending, timeout=0.05,
                                            return_when=cf.FIRST_COMPLETED)
                    self._drain(progress)
                    if self.cancelled:
                        self._shutdown(kill=True)
                        raise Cancelled(f"cancelled with {len(todo)} unit(s) not finished")
                    for f in done:
                        i = futures[f]
                        try:
                            finished = f.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        del todo[i]
                        yield finished
                    if broken:
                        break
            finally:
                self._shutdown(kill=broken or self.cancelled or bool(todo))
            if broken:
                for i in list(todo):
                    retries[i] += 1
                    if retries[i] > self.max_retries:
                        unit = todo.pop(i)
                        yield Finished(i, unit, None,
                                       f"its worker process died {retries[i]} time(s) "
                                       f"(max_retries {self.max_retries})", "", 0.0)
        self._drain(progress)

    def close(self) -> None:
        self._shutdown(kill=True)
        self._queue.close()
