"""Jobs run as Ray tasks (``landsim serve --executor ray``).

The server keeps its job slots (``--workers`` toy slots, one real slot with
``--torch-worker``), but each slot is a thread of the server process instead of a worker
process: it claims a job from SQLite exactly as a worker does, then runs the job's unit as
a Ray task (:class:`landsim.executors.ray_tasks.RayUnitTasks`) and stores the outcome.
Everything the JobService promises holds unchanged, because the bookkeeping is the same
:func:`landsim_server.workers.run_job`:

- SQLite stays the source of truth: the slot holds the lease, renews it, stores the task's
  progress and its Result.
- A cancel (or delete) is seen by the lease thread within ``cancel_poll_s`` (0.5 s); the
  slot then force-cancels the Ray task.
- A Ray worker killed mid-task: Ray runs the task again (``max_retries``) and the job
  finishes; the slot keeps its lease meanwhile.
- A sweep job runs its units as parallel Ray tasks (a RayExecutor watched for the job's
  cancel), storing each unit's result as it finishes, so a requeued sweep runs only the
  units it lacks.
- A server that stops gives its running jobs back to the queue (their tasks cancelled); a
  server killed outright leaves leases that expire, so the jobs are queued again and the
  next server resubmits them. Ray ends the tasks of a driver that died.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from dataclasses import dataclass, field

from .job_store import JobStore
from .workers import Stopping, WorkerSettings, run_job

__all__ = ["RayJobSlots"]

_log = logging.getLogger(__name__)


@dataclass
class _Slot:
    settings: WorkerSettings
    thread: threading.Thread | None = None
    abandon: threading.Event = field(default_factory=threading.Event)


class _WatchedExecutor:
    """A sweep job's RayExecutor (on the cluster this process joined), cancelled as soon as
    ``should_stop()`` says so (a cancelled job, a server that stops)."""

    def __init__(self, should_stop, poll_s: float = 0.1) -> None:
        from landsim.executors.ray_executor import RayExecutor

        self.executor = RayExecutor()
        self._done = threading.Event()

        def watch() -> None:
            while not self._done.wait(poll_s):
                if should_stop():
                    self.executor.cancel()
                    return

        self._watcher = threading.Thread(target=watch, daemon=True, name="sweep-watch")
        self._watcher.start()

    def submit(self, units, progress=None):
        return self.executor.submit(units, progress)

    def cancel(self) -> None:
        self.executor.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._watcher.join()
        self.executor.close()


class RayJobSlots:
    """Threads that claim jobs and run them on a Ray cluster.

    Parameters
    ----------
    data_dir : str
        The server's data directory.
    kinds : list of str
        One slot per entry ("toy" or "real").
    address : str
        The Ray cluster ("auto": ``RAY_ADDRESS``, else a local cluster started here).
    lease_s, poll_s : float
        As for worker processes (:class:`landsim_server.workers.WorkerSettings`).
    max_retries : int
        Ray's reruns of a task whose worker died.
    """

    def __init__(self, data_dir: str, kinds: list[str], address: str = "auto",
                 lease_s: float = 30.0, poll_s: float = 0.2, max_retries: int = 3) -> None:
        from landsim.executors.ray_tasks import RayUnitTasks

        self.tasks = RayUnitTasks(address, max_retries=max_retries)
        self.data_dir = data_dir
        self.stop_event = threading.Event()
        host = socket.gethostname()
        self.slots = [_Slot(WorkerSettings(
            data_dir=data_dir, owner=f"ray-{kind}-slot@{host}:{uuid.uuid4().hex[:8]}",
            kinds=(kind,), lease_s=lease_s, poll_s=poll_s)) for kind in kinds]

    @property
    def owners(self) -> list[str]:
        return [s.settings.owner for s in self.slots]

    def start(self) -> None:
        """Start every slot thread (and restart any that died)."""
        for slot in self.slots:
            if slot.thread is None or not slot.thread.is_alive():
                slot.thread = threading.Thread(target=self._loop, args=(slot,), daemon=True,
                                               name=slot.settings.owner)
                slot.thread.start()

    def _loop(self, slot: _Slot) -> None:
        store = JobStore(self.data_dir)
        settings = slot.settings
        try:
            while not self.stop_event.is_set():
                job = store.claim(settings.owner, settings.kinds, settings.lease_s)
                if job is None:
                    self.stop_event.wait(settings.poll_s)
                    continue
                slot.abandon.clear()
                outcome = run_job(store, job, settings, self.stop_event,
                                  on_lost=slot.abandon.set,
                                  compute=lambda unit, progress: self._compute(
                                      slot, unit, progress),
                                  sweep_executor=lambda: _WatchedExecutor(
                                      lambda: self.stop_event.is_set() or
                                      slot.abandon.is_set()))
                _log.info("job %s %s (on Ray)", job.id, outcome)
        except Exception:
            _log.exception("Ray job slot %s failed; the supervisor restarts it",
                           settings.owner)
        finally:
            store.close()

    def _compute(self, slot: _Slot, unit, progress):
        from landsim.executors.ray_tasks import TaskStopped

        try:
            return self.tasks.run(unit, progress, should_stop=lambda: (
                self.stop_event.is_set() or slot.abandon.is_set()))
        except TaskStopped:
            if slot.abandon.is_set():
                raise  # run_job sees its lease lost and reports "aborted"
            raise Stopping() from None  # the server stops: the job goes back to the queue

    def alive(self) -> bool:
        return all(s.thread is not None and s.thread.is_alive() for s in self.slots)

    def stop(self, grace_s: float) -> None:
        """Stop the slots (running tasks are cancelled, their jobs requeued) and close."""
        self.stop_event.set()
        for slot in self.slots:
            if slot.thread is not None:
                slot.thread.join(max(grace_s, 1.0))
        self.tasks.close()
