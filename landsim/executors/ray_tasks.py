"""Single units as Ray tasks, for a caller that runs its own loop (the job service).

:class:`~landsim.executors.ray_executor.RayExecutor` takes a whole list of units and
yields them as they finish. The job service instead runs one job per thread, with its own
lease, cancellation and progress bookkeeping in SQLite; :class:`RayUnitTasks` gives it the
one call it needs, :meth:`RayUnitTasks.run`: run this unit on the cluster, relay its
progress, stop it when told to. Tasks, retries, resources and node ids are those of the
executor (the same task body).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from .._checks import int_at_least
from ..results import Result
from ..units import Unit
from .ray_executor import _Board, _task_body, ensure_ray, require_ray, submit_unit

__all__ = ["RayUnitTasks", "TaskStopped"]


class TaskStopped(Exception):
    """The task was cancelled because the caller's ``should_stop`` said so."""


class RayUnitTasks:
    """Run units one by one as Ray tasks, from any number of threads.

    Parameters
    ----------
    address : str
        "auto" (``RAY_ADDRESS``, else a local cluster started here), "local" or an address.
    max_retries : int
        Times Ray reruns a task whose worker or node died, >= 0.
    poll_s : float
        Seconds between two looks at a running task (its end, its progress, should_stop).
    """

    def __init__(self, address: str = "auto", max_retries: int = 3,
                 poll_s: float = 0.1) -> None:
        ray = require_ray()
        self._ray = ray
        self.max_retries = int_at_least("max_retries", max_retries, 0)
        self.poll_s = float(poll_s)
        self._owns_ray = ensure_ray(address)
        self._remote = ray.remote(_task_body)
        self._board = ray.remote(num_cpus=0)(_Board).remote()
        self._keys = itertools.count()
        self._lock = threading.Lock()
        self._latest: dict[int, tuple[float, str]] = {}
        self._taken_at = 0.0

    def _progress_of(self, key: int) -> tuple[float, str] | None:
        """The latest report of task ``key`` since the last call (one actor call per
        poll interval, shared by every thread)."""
        with self._lock:
            if time.monotonic() - self._taken_at >= self.poll_s:
                self._latest.update(self._ray.get(self._board.take.remote()))
                self._taken_at = time.monotonic()
            return self._latest.pop(key, None)

    def run(self, unit: Unit, progress: Callable[[float, str], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Result:
        """Run ``unit`` as a Ray task and return its Result (``node`` = the Ray node id).

        Parameters
        ----------
        unit : Unit
        progress : callable, optional
            ``progress(fraction, message)`` with the task's reports, in this thread; if
            it raises, the task is cancelled and the exception propagates.
        should_stop : callable, optional
            Polled every ``poll_s``; when true the task is cancelled and
            :class:`TaskStopped` is raised.

        Raises
        ------
        RuntimeError
            The unit raised (its error text is the message), or Ray gave up on the task
            (retries used up).
        """
        ray = self._ray
        key = next(self._keys)
        ref = submit_unit(self._remote, key, unit, unit.config, self._board,
                          self.max_retries)
        finished = False
        try:
            while True:
                done, _ = ray.wait([ref], timeout=self.poll_s)
                report = self._progress_of(key)
                if report is not None and progress is not None and not done:
                    progress(*report)
                if done:
                    break
                if should_stop is not None and should_stop():
                    raise TaskStopped(f"{unit.label}: stopped")
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise RuntimeError(f"Ray could not run {unit.label}: "
                                   f"{type(exc).__name__}: {exc}") from None
            finished = True
        finally:
            if not finished:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already ended
                    pass
            with self._lock:
                self._latest.pop(key, None)
        if outcome.result is None:
            raise RuntimeError(outcome.error)
        return outcome.result

    def close(self) -> None:
        """Kill the progress actor; shut Ray down if this object started it."""
        try:
            self._ray.kill(self._board)
        except Exception:
            pass
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_ray = False
