"""How many threads the parallel kernels use, without importing Numba yourself.

The kernels (:mod:`landsim.kernels`) run on Numba's thread pool. Its size is fixed at
start-up (``NUMBA_NUM_THREADS``, by default the number of CPUs); each calling thread may use
fewer of them:

>>> from landsim.threads import kernel_threads, max_kernel_threads
>>> with kernel_threads(1):        # serial kernels on this thread, e.g. for tiny calls
...     pass                       # the previous count is back afterwards

The count belongs to the calling thread (Numba keeps one per thread), so a thread pool that
should run its kernels serially sets it in each worker, e.g. with
``ThreadPoolExecutor(initializer=set_kernel_threads, initargs=(1,))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba

__all__ = ["max_kernel_threads", "get_kernel_threads", "set_kernel_threads",
           "kernel_threads"]


def max_kernel_threads() -> int:
    """The most threads a kernel may use: the size of Numba's pool (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def get_kernel_threads() -> int:
    """The number of threads the calling thread's kernels use now."""
    return int(numba.get_num_threads())


def _check(n: Any) -> int:
    high = max_kernel_threads()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= high:
        raise ValueError(f"n must be an integer in [1, {high}] (the kernel thread pool, "
                         f"NUMBA_NUM_THREADS), got {n!r}")
    return int(n)


def set_kernel_threads(n: int) -> int:
    """Make the calling thread's kernels use ``n`` threads.

    Parameters
    ----------
    n : int
        In [1, :func:`max_kernel_threads`].

    Returns
    -------
    int
        The previous count.

    Raises
    ------
    ValueError
        ``n`` is not an integer in that range (the message names the value and the range).
    """
    n = _check(n)
    previous = get_kernel_threads()
    numba.set_num_threads(n)
    return previous


@contextmanager
def kernel_threads(n: int) -> Iterator[int]:
    """Run a block with the calling thread's kernels on ``n`` threads, then restore.

    Parameters
    ----------
    n : int
        In [1, :func:`max_kernel_threads`]; checked before anything changes.

    Yields
    ------
    int
        The previous count, which is set again when the block ends (also on an exception).
    """
    previous = set_kernel_threads(n)
    try:
        yield previous
    finally:
        numba.set_num_threads(previous)
