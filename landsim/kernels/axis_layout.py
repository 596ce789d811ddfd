"""Layout of the chunked passes of the axis-aligned kernels (docs/model.md, section 1).

The sizes every pass of :mod:`landsim.kernels.axis` and :mod:`landsim.kernels.axis_grad`
shares (coordinates per chunk, points per task, slab counts), how a pass is cut into
tasks (:func:`_layout`, :func:`_row_slabs`, :func:`_task_start`) and how a task copies
one chunk of its points into its L2 buffer (:func:`_load_chunk`). See the module
docstring of :mod:`landsim.kernels.axis` for the packed layout and the design.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

__all__ = ["CHUNK", "POINT_BLOCK", "NSLAB", "PARTIAL_CAP", "PARALLEL_MIN", "MIN_SLAB"]

CHUNK = 2048  # coordinates per chunk: CHUNK * POINT_BLOCK float64 (256 KiB) stay in L2
POINT_BLOCK = 16  # most points per task
NSLAB = 32  # most slabs (groups of whole chunks) per pass
PARTIAL_CAP = 1 << 22  # most partial sums (nslab * K * points) of one group of points
PARALLEL_MIN = 1 << 15  # B * D below which the tasks of a pass run serially
MIN_SLAB = 4096  # fewest coordinates per slab of the row-wise passes


@jit
def _layout(n_chunks, K):
    """(slabs, points per group) of a pass. Both depend on D and K only, never on B or the
    threads, so every point's sums are added in the same order in any batch."""
    nslab = max(1, min(NSLAB, n_chunks))
    group = max(1, PARTIAL_CAP // (nslab * max(1, K)) // POINT_BLOCK) * POINT_BLOCK
    return nslab, group


@jit
def _row_slabs(D):
    """Slabs of the row-wise passes (:func:`per_anchor_sqnorm`, :func:`gradient_hard`)."""
    return max(1, min(NSLAB, D // MIN_SLAB))


@jit
def _task_start(X, anchors, chunk_ptr, t, npb, nslab):
    """Task t of a chunked pass: (slab c, first chunk, end chunk, first point p0, points nb,
    the shared anchor to subtract while loading (or empty), whether anchors are per
    wedge, the chunk buffer)."""
    B, D = X.shape
    n_chunks = chunk_ptr.size - 1
    c = t // npb
    p0 = (t % npb) * POINT_BLOCK
    nb = min(B, p0 + POINT_BLOCK) - p0
    if anchors.shape[0] == 1:
        shift, per_wedge = anchors[0], False
    else:
        shift, per_wedge = np.empty(0), anchors.shape[0] > 1
    return (c, c * n_chunks // nslab, (c + 1) * n_chunks // nslab, p0, nb, shift, per_wedge,
            np.empty(min(CHUNK, D) * nb))


@jit
def _load_chunk(X, p0, nb, e0, e1, shift, loc):
    """loc[(i - e0) nb + b] = X[p0 + b, i] - shift[i] as float64, for e0 <= i < e1.

    ``shift`` is a shared anchor, shape (D,), or empty (no shift). Coordinate by
    coordinate, so that the stores run along ``loc`` while the block's rows are read as
    parallel streams.
    """
    ub = np.uint64(nb)
    first = np.uint64(p0)
    if shift.size > 0:  # two plain loops with unsigned indices (no wrap-around code)
        for r in range(np.uint64(e1 - e0)):
            i = np.uint64(e0) + r
            a = shift[i]
            o = r * ub
            for b in range(ub):
                loc[o + b] = np.float64(X[first + b, i]) - a
    else:
        for r in range(np.uint64(e1 - e0)):
            i = np.uint64(e0) + r
            o = r * ub
            for b in range(ub):
                loc[o + b] = np.float64(X[first + b, i])
