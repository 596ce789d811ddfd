"""Executors: where units of work run (this process, a process pool, a Ray cluster).

>>> from landsim.executors import make_executor
>>> from landsim.units import plan_units
>>> units = plan_units(["E1"], quick=True, replicates=2)
>>> with make_executor("local", workers=2) as ex:          # doctest: +SKIP
...     for done in ex.submit(units):
...         print(done.unit.label, done.result.verdict.holds, done.node)

``make_executor("ray", address="auto")`` runs the same units as Ray tasks (``pip install
"landsim[ray]"``). Every executor runs :func:`landsim.units.run_unit`, so the Results are
the same wherever the units ran.
"""

from __future__ import annotations

from .base import Cancelled, Executor, Finished, SerialExecutor, UnitProgress, unit_resources
from .local import LocalExecutor, default_workers

__all__ = ["Executor", "Finished", "Cancelled", "UnitProgress", "SerialExecutor",
           "LocalExecutor", "make_executor", "EXECUTORS", "default_workers",
           "unit_resources"]

#: Names accepted by ``--executor`` (and :func:`make_executor`).
EXECUTORS = ("local", "ray", "serial")


def make_executor(name: str, *, workers: int | None = None, address: str = "auto",
                  max_retries: int | None = None) -> Executor:
    """Build the executor called ``name``.

    Parameters
    ----------
    name : {"local", "ray", "serial"}
    workers : int, optional
        Processes of the local executor (default: this machine's CPUs); for "ray", the
        CPUs of a local cluster started for the run.
    address : str
        Ray only: "auto" (``RAY_ADDRESS``, else a local cluster), "local" or an address.
    max_retries : int, optional
        Reruns of a unit whose worker died (default: local 2, Ray 3).

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`EXECUTORS`.
    ImportError
        "ray" without Ray installed; the message says how to install it.
    """
    if name == "local":
        return LocalExecutor(workers, 2 if max_retries is None else max_retries)
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor
        return RayExecutor(address, 3 if max_retries is None else max_retries,
                           num_cpus=workers)
    raise ValueError(f"executor must be one of {EXECUTORS}, got {name!r}")
