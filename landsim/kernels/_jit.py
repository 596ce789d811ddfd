"""The one place that sets Numba's jit options for landsim kernels.

Every kernel is compiled with ``cache=True`` (compiled once per dtype signature and
stored on disk) and ``nogil=True`` (the service runs kernels in a thread pool).
"""

from __future__ import annotations

import numba

__all__ = ["jit", "jit_finite", "pjit", "prange", "num_threads"]

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)

#: Serial kernel decorator.
jit = numba.njit(**_OPTIONS)
#: Serial decorator for inner loops over validated, finite inputs: no NaN/inf/signed-zero
#: semantics (so max/abs compile to plain vector instructions); no reassociation, so sums
#: keep their order.
jit_finite = numba.njit(**{**_OPTIONS, "fastmath": {"nnan", "ninf", "nsz"}})
#: Parallel kernel decorator (``prange`` loops run on Numba's thread pool).
pjit = numba.njit(parallel=True, **_OPTIONS)
prange = numba.prange

# Start Numba's threading layer now. A parallel kernel loaded from the on-disk cache and
# then compiled into a user's own @njit function needs the layer's symbols
# ("allocate_sched") at link time; without this, LLVM aborts the process.
numba.get_num_threads()


def num_threads() -> int:
    """Threads Numba's parallel kernels use."""
    return numba.get_num_threads()
