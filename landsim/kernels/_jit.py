"""The one place that sets Numba's jit options for landsim kernels.

Every kernel is compiled with ``cache=True`` (compiled once per dtype signature and
stored on disk) and ``nogil=True`` (the service runs kernels in a thread pool).
"""

from __future__ import annotations

import functools

import numba
from numba.core.compiler_lock import global_compiler_lock
from numba.core.dispatcher import Dispatcher

__all__ = ["jit", "jit_finite", "jit_reassoc", "jit_simd", "pjit", "prange", "num_threads"]

_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)

#: Serial kernel decorator.
jit = numba.njit(**_OPTIONS)
#: Serial decorator for inner loops over validated, finite inputs: no NaN/inf/signed-zero
#: semantics (so max/abs compile to plain vector instructions); no reassociation, so sums
#: keep their order.
jit_finite = numba.njit(**{**_OPTIONS, "fastmath": {"nnan", "ninf", "nsz"}})
#: Serial decorator for dot-product loops: sums may be reassociated (kept in vector lanes)
#: and multiply-adds fused; NaN and inf keep their meaning. The order then depends on the
#: loop's length only, not on the data or on other loops.
jit_reassoc = numba.njit(**{**_OPTIONS, "fastmath": {"reassoc", "contract"}})
#: Parallel kernel decorator (``prange`` loops run on Numba's thread pool).
pjit = numba.njit(parallel=True, **_OPTIONS)
prange = numba.prange


def _compiled_with_slp(dispatcher):
    """Make ``dispatcher`` compile with LLVM's SLP vectoriser on.

    Numba leaves the SLP (straight-line) vectoriser off by default, so a loop body that
    updates eight independent scalar accumulators compiles to eight scalar chains. With it
    on, they become one vector register. The setting is read when LLVM's pass managers are
    built, so it is switched on for this dispatcher's compilations only, under Numba's
    compiler lock, and restored afterwards; other code in the process is not affected.
    The vectorised machine code is what goes into the on-disk cache.
    """
    if not isinstance(dispatcher, Dispatcher):  # NUMBA_DISABLE_JIT: a plain function
        return dispatcher
    compile_plain = dispatcher.compile

    @functools.wraps(compile_plain)
    def compile(sig):
        with global_compiler_lock:
            saved = numba.config.SLP_VECTORIZE
            numba.config.SLP_VECTORIZE = 1
            try:
                return compile_plain(sig)
            finally:
                numba.config.SLP_VECTORIZE = saved

    dispatcher.compile = compile
    return dispatcher


def jit_simd(fn):
    """:data:`jit_finite` with the SLP vectoriser: for register-blocked inner loops."""
    return _compiled_with_slp(jit_finite(fn))


# Start Numba's threading layer now. A parallel kernel loaded from the on-disk cache and
# then compiled into a user's own @njit function needs the layer's symbols
# ("allocate_sched") at link time; without this, LLVM aborts the process.
numba.get_num_threads()


def num_threads() -> int:
    """Threads Numba's parallel kernels use."""
    return numba.get_num_threads()
