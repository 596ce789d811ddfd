"""Argument checks shared by the public modules.

Each returns the canonical value or raises ``ValueError`` naming the argument, the bad
value and the valid range, in one wording across landsim.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .seeding import check_seed

__all__ = ["real_in", "int_at_least", "choice", "as_generator"]


def real_in(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
            low_open: bool = False, high_open: bool = True) -> float:
    """A finite float in the interval from ``low`` to ``high`` (open or closed ends).

    -0.0 comes back as 0.0.
    """
    interval = (f"{']' if low_open else '['}{'-inf' if low == -math.inf else f'{low:g}'}, "
                f"{'inf' if high == math.inf else f'{high:g}'}{'[' if high_open else ']'}")
    if isinstance(value, np.generic):
        value = value.item()  # messages show -0.1, not np.float64(-0.1)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be in {interval} and finite, got {value!r}")
    inside = (out > low if low_open else out >= low) and (out < high if high_open
                                                           else out <= high)
    if not inside:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return out + 0.0


def int_at_least(name: str, value: Any, minimum: int) -> int:
    """An integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def as_generator(seed: Any) -> np.random.Generator:
    """A Generator from None, an integer seed, a SeedSequence or a Generator (returned as
    is); the seed rule is :func:`landsim.seeding.check_seed`."""
    seed = check_seed(seed, sequence=True, generator=True, none=True)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)

