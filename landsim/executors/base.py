"""The executor seam: hand a list of units over, get their Results back as they finish.

Every executor runs exactly :func:`landsim.units.run_unit` on each unit, so the same units
give the same Results (bit for bit: metrics, series and verdicts) wherever they run. Only
the bookkeeping differs: where a unit ran (:attr:`Finished.node`, also stored as the
Result's ``node``) and how long it took.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from ..results import Result
from ..units import Unit, run_unit

__all__ = ["Executor", "Finished", "Cancelled", "UnitProgress", "unit_resources",
           "run_one", "error_text", "SerialExecutor", "MAX_ERROR_CHARS", "throttled"]

#: ``progress(index, fraction, message)``: unit ``index`` of the submitted list reached
#: ``fraction`` in [0, 1].
UnitProgress = Callable[[int, float, str], None] | None
MAX_ERROR_CHARS = 4000


class Cancelled(Exception):
    """The executor was cancelled: its units stopped before all of them finished."""


@dataclass(frozen=True)
class Finished:
    """One finished unit.

    Attributes
    ----------
    index : int
        Its position in the list given to :meth:`Executor.submit`.
    unit : Unit
    result : Result or None
        The unit's Result (``node`` filled in), or None if it raised.
    error : str
        "" on success, else the exception and the end of its traceback.
    node : str
        Where it ran: ``host:pid`` (local), the Ray node id (Ray), "" (this process).
    seconds : float
        Wall time from the start of the unit to its end, where it ran.
    """

    index: int
    unit: Unit
    result: Result | None
    error: str = ""
    node: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result is not None


def unit_resources(unit: Unit) -> dict:
    """What one unit asks of a node: ``{"num_cpus": 1, "num_gpus": 0 or 1}``.

    A real unit whose config runs on ``device="cuda"`` asks for one GPU; every other unit
    for one CPU and no GPU.
    """
    gpu = unit.kind == "real" and getattr(unit.config, "device", "cpu") == "cuda"
    return {"num_cpus": 1, "num_gpus": 1 if gpu else 0}


def error_text(exc: BaseException) -> str:
    """The exception and the last frames of its traceback, at most 4000 characters."""
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6)
    text = f"{type(exc).__name__}: {exc}\n" + "".join(frames)
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


def run_one(index: int, unit: Unit, node: str,
            progress: Callable[[float, str], None] | None = None) -> Finished:
    """Run ``unit`` here and wrap the outcome (a unit that raises is a Finished with an
    error, never an exception: one bad unit does not stop the others)."""
    t0 = time.perf_counter()
    try:
        result = run_unit(unit, progress=progress)
    except Exception as exc:
        return Finished(index, unit, None, error_text(exc), node, time.perf_counter() - t0)
    return Finished(index, unit, replace(result, node=node), "", node,
                    time.perf_counter() - t0)


def throttled(send: Callable[[float, str], None], interval_s: float
              ) -> Callable[[float, str], None]:
    """A ``progress(fraction, message)`` that passes a report on to ``send`` at most once
    per ``interval_s`` unless the fraction moved by >= 0.01 (the first and last, 0 and 1,
    always pass); messages are cut to 500 characters."""
    last = [-1.0, -1.0]  # time and fraction of the last report sent

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if 0.0 < fraction < 1.0 and now - last[0] < interval_s \
                and fraction - last[1] < 0.01:
            return
        last[0], last[1] = now, fraction
        send(float(fraction), str(message)[:500])

    return report


def this_node() -> str:
    """``host:pid`` of the calling process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def check_units(units: Sequence[Unit]) -> list[Unit]:
    """The units as a list, each checked to be a :class:`Unit`."""
    units = list(units)
    for i, u in enumerate(units):
        if not isinstance(u, Unit):
            raise ValueError(f"units[{i}] must be a landsim.units.Unit, got "
                             f"{type(u).__name__}")
    return units


class Executor(ABC):
    """Runs units and yields each one's :class:`Finished` as soon as it is done.

    Use it as a context manager; ``cancel()`` may be called from any thread (or a signal
    handler) while ``submit`` is being iterated: no new unit starts, the running ones are
    stopped, and the iterator raises :class:`Cancelled` after yielding what had finished.
    """

    #: Name used by ``--executor``.
    name = ""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    @abstractmethod
    def submit(self, units: Sequence[Unit], progress: UnitProgress = None
               ) -> Iterator[Finished]:
        """Run ``units``; yield one :class:`Finished` per unit, in the order they finish.

        Parameters
        ----------
        units : sequence of Unit
        progress : callable, optional
            ``progress(index, fraction, message)``, called in the caller's thread.
        """

    def cancel(self) -> None:
        """Stop: no new unit starts and running ones are ended."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def close(self) -> None:  # noqa: B027 - most executors hold nothing to release
        """Release what the executor holds (processes, a cluster it started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(Executor):
    """Every unit one after another in this process (the reference, and the baseline of
    the executor benchmark)."""

    name = "serial"

    def submit(self, units: Sequence[Unit], progress: UnitProgress = None
               ) -> Iterator[Finished]:
        units = check_units(units)
        for i, unit in enumerate(units):
            if self.cancelled:
                raise Cancelled(f"cancelled with {len(units) - i} unit(s) not run")

            def report(fraction: float, message: str, i: int = i) -> None:
                if self.cancelled:
                    raise Cancelled("cancelled while a unit ran")
                if progress is not None:
                    progress(i, fraction, message)

            done = run_one(i, unit, "", report)
            if self.cancelled:
                raise Cancelled(f"cancelled with {len(units) - i} unit(s) not finished")
            yield done
