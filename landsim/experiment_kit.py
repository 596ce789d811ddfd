"""Run scaffolding shared by every experiment module, toy and real.

- :data:`Progress`: the type of the optional ``progress(fraction, message)`` callback;
- :func:`report`: call it (clamping the fraction to [0, 1]) when one was given;
- :class:`Timer`: named phase durations, stored in a result's ``timings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

__all__ = ["Progress", "Timer", "report"]

#: ``progress(fraction, message)``, or None for no reporting.
Progress = Callable[[float, str], None] | None


def report(progress: Progress, fraction: float, message: str) -> None:
    """Call ``progress(fraction, message)`` if a callback was given.

    Parameters
    ----------
    progress : callable (fraction, message) or None
    fraction : float
        Clamped to [0, 1].
    message : str
    """
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


class Timer:
    """Collects named phase durations in seconds: ``with timer("descent"): ...``.

    A phase entered several times accumulates; :meth:`done` adds ``"total"``.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def done(self) -> dict[str, float]:
        """The phases plus "total" since the timer was made.

        Returns
        -------
        dict of str to float
        """
        return {**self.timings, "total": time.perf_counter() - self.start}
