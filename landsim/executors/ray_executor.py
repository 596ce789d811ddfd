"""The Ray executor: each unit is a Ray task, on whatever cluster Ray is given.

How the seam maps onto Ray (docs/cluster.md says more):

- **Resources.** A unit asks for what :func:`landsim.executors.base.unit_resources` says:
  one CPU, plus one GPU for a real unit on ``device="cuda"``. Its Numba kernels run on
  one thread, as its CPU share says.
- **Retries.** A task whose worker process or node dies is run again by Ray, up to
  ``max_retries`` times; a unit that *raises* is not retried (it is a Finished with its
  error, as in every executor).
- **Shared inputs.** Each distinct config is put into Ray's object store once
  (``ray.put``) and every task of it gets a reference, not its own pickled copy; the
  landscape a unit works on is drawn inside the task from that config and the unit's
  seed, so no array travels per task.
- **Progress.** Tasks report to one small actor; the caller polls it while it waits and
  hands the latest report of each unit to its callback.
- **Cancellation.** ``cancel()`` force-cancels every task still running or queued.
- **Node.** Each Result records the Ray node id it ran on (``Result.node``).

Ray is imported only when this executor is built: ``import landsim`` never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence

from .._checks import int_at_least
from ..units import Unit
from .base import (
    Cancelled,
    Executor,
    Finished,
    UnitProgress,
    check_units,
    run_one,
    throttled,
    unit_resources,
)

__all__ = ["RayExecutor", "require_ray", "RAY_MISSING", "resolve_address", "ensure_ray",
           "submit_unit"]

#: Shown when the Ray executor is asked for without Ray installed.
RAY_MISSING = ('the Ray executor needs Ray: pip install "landsim[ray]" '
               '(or pip install "ray>=2.40")')
PROGRESS_INTERVAL_S = 0.2  # least seconds between two reports of one task
POLL_S = 0.05  # how long the caller waits for a task before it looks at progress again


def require_ray():
    """Import and return the ``ray`` module, or raise ImportError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"{RAY_MISSING} ({exc})") from exc
    return ray


def resolve_address(address: str | None) -> str | None:
    """The address to give ``ray.init``: ``"auto"`` means ``RAY_ADDRESS`` if it is set,
    else None (a local cluster started for the run); ``"local"`` always means None."""
    if address is None or address == "local":
        return None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"address must be 'auto', 'local' or a Ray address such as "
                         f"'127.0.0.1:6379', got {address!r}")
    if address == "auto":
        return os.environ.get("RAY_ADDRESS") or None
    return address


def ensure_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` (:func:`resolve_address`), or start a local one with
    ``num_cpus`` CPUs, unless Ray is already initialised in this process. Returns whether
    this call initialised it (then the caller shuts it down when done)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    target = resolve_address(address)
    kwargs = {"include_dashboard": False, "configure_logging": False, "log_to_driver": False}
    if target is None:
        kwargs["num_cpus"] = num_cpus
    ray.init(address=target, **kwargs)
    return True


def submit_unit(remote, key: int, unit: Unit, config, board, max_retries: int,
                task: Callable | None = None):
    """Submit ``unit`` as a task of ``remote`` (``ray.remote(_task_body)``) with the
    resources it asks for; ``config`` is its config or an object-store reference to it.
    Returns the task's ObjectRef."""
    return remote.options(max_retries=max_retries, retry_exceptions=False,
                          **unit_resources(unit)).remote(
        key, unit.claim, unit.kind, config, unit.seed, unit.replicate, unit.arm, board, task)


def _task_body(index: int, claim: str, kind: str, config, seed: int, replicate: int,
               arm: str, board, task: Callable | None) -> Finished:
    """What one Ray task runs (``config`` arrives resolved from the object store)."""
    import ray

    from ..threads import set_kernel_threads
    set_kernel_threads(1)
    unit = Unit(claim, kind, config, seed=seed, replicate=replicate, arm=arm)
    node = ray.get_runtime_context().get_node_id()
    report = throttled(lambda f, m: board.report.remote(index, f, m), PROGRESS_INTERVAL_S)
    return (task or run_one)(index, unit, node, report)


class _Board:
    """The latest progress report of each unit (a Ray actor of the caller's run)."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple[float, str]] = {}

    def report(self, index: int, fraction: float, message: str) -> None:
        self.latest[index] = (fraction, message)

    def take(self) -> dict[int, tuple[float, str]]:
        latest, self.latest = self.latest, {}
        return latest


class RayExecutor(Executor):
    """Units as Ray tasks.

    Parameters
    ----------
    address : str
        "auto" (``RAY_ADDRESS``, or a local cluster started for this executor), "local"
        (always a new local cluster) or a cluster address ("HOST:PORT", "ray://...").
        Ignored when Ray is already initialised in this process.
    max_retries : int
        Times Ray reruns a unit whose worker or node died, >= 0.
    num_cpus : int, optional
        CPUs of a local cluster started here (default: all).
    task : callable, optional
        ``task(index, unit, node, progress) -> Finished`` run for each unit; default
        :func:`landsim.executors.base.run_one`. The dispatch benchmark passes an empty one.
    """

    name = "ray"

    def __init__(self, address: str = "auto", max_retries: int = 3,
                 num_cpus: int | None = None, task: Callable | None = None) -> None:
        super().__init__()
        ray = require_ray()
        self.max_retries = int_at_least("max_retries", max_retries, 0)
        self._ray = ray
        self._task = task
        self._owns_ray = ensure_ray(address, num_cpus)
        self._remote = ray.remote(_task_body)
        self._board_cls = ray.remote(num_cpus=0)(_Board)
        self._refs: list = []

    def nodes(self) -> list[dict]:
        """The cluster's live nodes: ``[{"node_id", "address", "resources"}]``."""
        return [{"node_id": n["NodeID"], "address": n["NodeManagerAddress"],
                 "resources": n["Resources"]}
                for n in self._ray.nodes() if n.get("Alive")]

    def submit(self, units: Sequence[Unit], progress: UnitProgress = None
               ) -> Iterator[Finished]:
        ray = self._ray
        units = check_units(units)
        if not units:
            return
        board = self._board_cls.remote()
        config_refs: dict = {}
        index_of = {}
        try:
            for i, u in enumerate(units):
                key = (u.claim, u.kind, repr(u.config))
                if key not in config_refs:
                    config_refs[key] = ray.put(u.config)
                ref = submit_unit(self._remote, i, u, config_refs[key], board,
                                  self.max_retries, self._task)
                index_of[ref] = i
            self._refs = pending = list(index_of)
            while pending:
                if self.cancelled:
                    raise Cancelled(f"cancelled with {len(pending)} unit(s) not finished")
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S,
                                         fetch_local=True)
                self._refs = pending
                if progress is not None:
                    for i, (fraction, message) in ray.get(board.take.remote()).items():
                        progress(i, fraction, message)
                for ref in done:
                    i = index_of[ref]
                    try:
                        yield ray.get(ref)
                    except ray.exceptions.RayError as exc:  # retries used up, node lost
                        yield Finished(i, units[i], None,
                                       f"{type(exc).__name__}: {exc}"[:4000], "", 0.0)
        finally:
            self._cancel_refs()
            ray.kill(board)

    def _cancel_refs(self) -> None:
        refs, self._refs = self._refs, []
        for ref in refs:
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or gone
                pass

    def close(self) -> None:
        self._cancel_refs()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns_ray = False
