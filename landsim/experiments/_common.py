"""Helpers shared by the experiment modules."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from .._checks import int_at_least, real_in

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


def check_landscape_fields(config, min_wedges: int = 1) -> None:
    """Validate the landscape fields an experiment Config shares with the others.

    ``dim`` (D) >= 2, ``n_wedges`` (K) >= ``min_wedges``, ``n_short`` (s) in [1, D - 1]
    (a wedge needs at least one long direction), ``eps0`` and ``eps1`` >= 0. Raises
    ValueError naming the bad value and the valid range.
    """
    int_at_least("dim", config.dim, 2)
    int_at_least("n_wedges", config.n_wedges, min_wedges)
    int_at_least("n_short", config.n_short, 1)
    if config.n_short >= config.dim:
        raise ValueError(f"n_short must be in [1, dim - 1 = {config.dim - 1}] (the wedge "
                         f"needs a long direction), got {config.n_short}")
    for name in ("eps0", "eps1"):
        real_in(name, getattr(config, name), 0.0)


def line_fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y ~ slope x + intercept and its R^2.

    A constant y has R^2 = 0: a flat line explains no growth, so a claim of growth
    cannot pass on it through a rounding-sized slope.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        n >= 2 points.

    Returns
    -------
    (slope, intercept, r2) : tuple of float
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    return float(slope), float(intercept), r2
