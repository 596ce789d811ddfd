"""Helpers shared by the experiment modules."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

Progress = Callable[[float, str], None] | None


def report(progress: Progress, fraction: float, message: str) -> None:
    """Call ``progress(fraction, message)`` if a callback was given."""
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


class Timer:
    """Collects named phase durations in seconds: ``with timer("descent"): ...``."""

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
        """The phases plus "total" since the timer was made."""
        return {**self.timings, "total": time.perf_counter() - self.start}
