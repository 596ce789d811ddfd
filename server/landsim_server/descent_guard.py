"""Divergence of a Descend run: one documented answer instead of an overflow.

A step size too large for the landscape (or a start far out) makes the iterates grow
geometrically until they overflow float64; the library then refuses the non-finite
iterate with a ``ValueError``, and before that it happily reports losses of 1e301.
:class:`DivergenceGuard` watches the losses of every step (it is the ``callback`` of
:func:`landsim.descent.descend`) and stops the run at the first step where a loss is not
finite or above :data:`DIVERGED_LOSS`; :meth:`DivergenceGuard.error` is then the
INVALID_ARGUMENT the call ends with, naming the step, the run and its loss. An iterate
that overflows between two checks (the library's ``ValueError`` after the first step) is
reported the same way, as a non-finite iterate at the next step.
"""

from __future__ import annotations

import threading

import numpy as np

from .errors import InvalidArgument

__all__ = ["DIVERGED_LOSS", "FAR_START", "DivergenceGuard"]

#: A loss above this means the run diverged. The losses grow like the squared distance
#: from the wedges, so a loss of 1e100 is an iterate some 1e50 out, growing
#: geometrically: a handful of steps more overflows float64 (or the run ends at a
#: meaningless 1e300). No start of a sensible run is that far out.
DIVERGED_LOSS = 1e100
#: A start with a coordinate above this (the square root of :data:`DIVERGED_LOSS`) is
#: blamed for a divergence, rather than the step size.
FAR_START = 1e50


class DivergenceGuard:
    """The per-step ``callback`` of a served descent: stop at the first diverged loss.

    Parameters
    ----------
    start_field : str
        Field blamed for a divergence when the start is far out (``"x0"`` or
        ``"init.radius"``); otherwise ``options.lr`` is.
    stop : threading.Event
        Set when the call ends early; the run then stops too.
    X0 : ndarray, shape (B, D)
        The starting points; far out (a coordinate above :data:`FAR_START`) means the
        start is to blame.
    """

    def __init__(self, start_field: str, stop: threading.Event, X0: np.ndarray) -> None:
        self.start_field = start_field
        self.stop = stop
        self.far_start = bool(X0.size) and float(np.abs(X0).max()) > FAR_START
        self.last_step = -1
        self.diverged: tuple[int, int, float] | None = None  # step, run, loss

    def __call__(self, step: int, losses: np.ndarray) -> bool:
        """Record step ``step``'s losses (B,); False stops the run."""
        self.last_step = int(step)
        bad = ~(np.abs(losses) <= DIVERGED_LOSS)  # NaN compares False: bad
        if bad.any():
            run = int(np.argmax(bad))
            self.diverged = (int(step), run, float(losses[run]))
            return False
        return not self.stop.is_set()

    def _blame(self, step: int) -> str:
        return self.start_field if step == 0 or self.far_start else "options.lr"

    def error(self) -> InvalidArgument | None:
        """The error for a diverged run, or None when every loss stayed bounded."""
        if self.diverged is None:
            return None
        step, run, loss = self.diverged
        return InvalidArgument(self._blame(step), (
            f"the descent diverged at step {step}: run {run} has loss {loss:.6g} "
            f"(not finite or above {DIVERGED_LOSS:g}); use a smaller options.lr or a start "
            "closer to the landscape"))

    def failure(self, exc: ValueError) -> InvalidArgument:
        """The error for a library ``ValueError`` raised by the run: a non-finite iterate
        after step :attr:`last_step` when the run had started, else a bad option."""
        if self.last_step < 0:
            return InvalidArgument("options", str(exc))
        step = self.last_step + 1
        return InvalidArgument(self._blame(step), (
            f"the descent diverged at step {step}: an iterate overflowed to a non-finite "
            f"value ({exc}); use a smaller options.lr or a start closer to the landscape"))
