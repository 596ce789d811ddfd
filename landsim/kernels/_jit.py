"""The one place that sets Numba's jit options for landsim kernels.

Every kernel is compiled with ``cache=True`` (compiled once per dtype signature and
stored on disk) and ``nogil=True`` (the service runs kernels in a thread pool).
"""

from __future__ import annotations

import numba

__all__ = ["jit", "pjit", "prange", "num_threads"]

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)

#: Serial kernel decorator.
jit = numba.njit(**_OPTIONS)
#: Parallel kernel decorator (``prange`` loops run on Numba's thread pool).
pjit = numba.njit(parallel=True, **_OPTIONS)
prange = numba.prange


def num_threads() -> int:
    """Threads Numba's parallel kernels use."""
    return numba.get_num_threads()
