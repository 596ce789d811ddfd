"""The retry policy of idempotent calls: bounded attempts, exponential backoff, jitter."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import grpc

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How idempotent calls are retried.

    Parameters
    ----------
    max_attempts : int
        Attempts in all (1: never retry), in [1, 100].
    initial_backoff_s : float
        Wait before the second attempt, > 0; multiplied by ``multiplier`` each time, up to
        ``max_backoff_s``; each wait is drawn uniformly from [wait / 2, wait] (jitter).
    max_backoff_s : float
        Longest wait, >= initial_backoff_s.
    multiplier : float
        Growth of the wait, >= 1.
    codes : tuple of grpc.StatusCode
        Codes that are retried.
    """

    max_attempts: int = 5  # 4 retries: about 1.5 s of waiting with the defaults
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    codes: tuple = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

    def __post_init__(self) -> None:
        if (isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int)
                or not 1 <= self.max_attempts <= 100):
            raise ValueError(f"max_attempts must be an integer in [1, 100], got "
                             f"{self.max_attempts!r}")
        if not (math.isfinite(self.initial_backoff_s) and self.initial_backoff_s > 0):
            raise ValueError(f"initial_backoff_s must be > 0, got {self.initial_backoff_s!r}")
        if not (math.isfinite(self.max_backoff_s)
                and self.max_backoff_s >= self.initial_backoff_s):
            raise ValueError(f"max_backoff_s must be >= initial_backoff_s, got "
                             f"{self.max_backoff_s!r}")
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        object.__setattr__(self, "codes", tuple(self.codes))

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...), with jitter."""
        wait = min(self.max_backoff_s,
                   self.initial_backoff_s * self.multiplier ** max(0, retry - 1))
        return wait * random.uniform(0.5, 1.0)
