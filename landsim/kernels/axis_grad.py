"""Gradient kernels of axis-aligned wedges (docs/model.md, section 1, the fast path).

With c = :func:`width_coefficient` (the factor -2 eps1 H / r on y = x - a):

- hard union (:func:`gradient_hard`): each (point, slab) task streams its stretch of the
  row of X once, writes G[b] = c y_b and fixes the s short coordinates of the point's
  arg-min wedge by a merge with the sorted axes;
- soft union (:func:`gradient_soft`): each task builds one chunk of G transposed in L2,
  adding every wedge's short terms (:mod:`landsim.kernels.axis_blocks`), and writes it
  back.

Packed arrays and the task layout are those of :mod:`landsim.kernels.axis` and
:mod:`landsim.kernels.axis_layout`; :func:`landsim.kernels.axis.loss_and_grad` calls
these after the statistics pass.
"""

from __future__ import annotations

import numpy as np

from . import axis_blocks as blk
from ._jit import jit, pjit, prange
from .axis_layout import (
    CHUNK,
    MIN_SLAB,
    PARALLEL_MIN,
    POINT_BLOCK,
    _layout,
    _load_chunk,
    _row_slabs,
    _task_start,
)

__all__ = ["width_coefficient", "gradient_hard", "gradient_soft"]


@jit
def width_coefficient(radius, hsum, eps1):
    """c[k, b] = -2 eps1_k H / r (0 where r = 0): the gradient's factor on y."""
    K, B = radius.shape
    c = np.zeros((K, B))
    for k in range(K):
        for b in range(B):
            if radius[k, b] > 0.0:
                c[k, b] = -2.0 * eps1[k] * hsum[k, b] / radius[k, b]
    return c


@jit
def _grad_hard_task(X, anchors, axes, offsets, arg, coef, width, G, t, nslab):
    """Task t = (point b, slab c) of :func:`gradient_hard`."""
    D = X.shape[1]
    ka = anchors.shape[0]
    b = t // nslab
    c = t % nslab
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    k = arg[b]
    cb = coef[k, b]
    wb = width[k, b]
    arow = 0 if ka == 1 else k
    x = X[b]
    g = G[b]
    if ka > 0:
        a = anchors[arow]
        for d in range(np.uint64(d0), np.uint64(d1)):  # unsigned: no wrap-around, vectorises
            g[d] = cb * (np.float64(x[d]) - a[d])
    else:
        for d in range(np.uint64(d0), np.uint64(d1)):
            g[d] = cb * np.float64(x[d])
    wedge = axes[offsets[k]:offsets[k + 1]]
    lo = np.searchsorted(wedge, d0)
    hi = np.searchsorted(wedge, d1)
    for j in range(lo, hi):
        i = wedge[j]
        u = np.float64(X[b, i])
        if ka > 0:
            u -= anchors[arow, i]
        h = max(abs(u) - wb, 0.0)
        G[b, i] = 2.0 * h if u > 0.0 else -2.0 * h


@pjit
def gradient_hard(X, anchors, axes, offsets, arg, coef, width, G):
    """Write the hard-union gradient grad l_{arg[b]}(x_b) into G (B, D).

    grad l_k = c y + sum_j (2 h_j sign(u_j) - c u_j) e_{i_j}: each (point, slab) task
    streams its stretch of the row once and merges in the sorted short axes of the
    point's wedge.

    Parameters
    ----------
    X : array, shape (B, D)
    anchors, axes, offsets : packed arrays (module docstring)
    arg : int64 array, shape (B,)
        Arg-min wedge of each point.
    coef, width : float64 arrays, shape (K, B)
        :func:`width_coefficient` and the widths.
    G : array of X's dtype, shape (B, D), written
    """
    B, D = X.shape
    nslab = _row_slabs(D)
    if B * D < 4 * MIN_SLAB:
        for t in range(B * nslab):
            _grad_hard_task(X, anchors, axes, offsets, arg, coef, width, G, t, nslab)
    else:
        for t in prange(B * nslab):
            _grad_hard_task(X, anchors, axes, offsets, arg, coef, width, G, t, nslab)


@jit
def _soft_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat, pflat,
               cflat, wc, ysum, G, t, nslab, npb):
    """Task t of :func:`gradient_soft`: its points' stretch of G, chunk by chunk."""
    B, D = X.shape
    K = wc.shape[0]
    c, ch0, ch1, p0, nb, shift, per_wedge, loc = _task_start(X, anchors, chunk_ptr, t, npb,
                                                             nslab)
    ub = np.uint64(nb)
    none = np.empty(0)
    gt = np.empty(loc.size)
    for ch in range(ch0, ch1):
        e0 = ch * CHUNK
        e1 = min(D, e0 + CHUNK)
        _load_chunk(X, p0, nb, e0, e1, shift, loc)
        for r in range(e1 - e0):  # the width term sum_k p_k c_k (x - a_k), and its anchors
            for b in range(nb):
                g = ysum[p0 + b] * loc[r * nb + b]
                if per_wedge:
                    for k in range(K):
                        g -= wc[k, p0 + b] * anchors[k, e0 + r]
                gt[r * nb + b] = g
        for e in range(chunk_ptr[ch], chunk_ptr[ch + 1]):
            k = chunk_wedge[e]
            arow = anchors[k] if per_wedge else none
            lo = np.uint64(chunk_lo[e])
            hi = np.uint64(chunk_hi[e])
            for b in range(nb):
                blk.soft1(loc, gt, ub, np.uint64(b), axes, lo, hi, e0, arow, wflat, pflat,
                          cflat, np.uint64(k * B + p0 + b))
        for b in range(nb):
            row = G[p0 + b]
            for i in range(e0, e1):
                row[i] = gt[(i - e0) * nb + b]


@pjit
def gradient_soft(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, weights,
                  coef, width, G):
    """Write G[b] = sum_k weights[k, b] grad l_k(x_b) into G (B, D).

    Parameters
    ----------
    X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi : as in
        :func:`short_sums`
    weights, coef, width : float64 arrays, shape (K, B)
        Union weights dL/dl_k, :func:`width_coefficient`, widths.
    G : array, shape (B, D), written
    """
    B, D = X.shape
    K = weights.shape[0]
    wc = weights * coef
    ysum = np.zeros(B)
    for k in range(K):
        for b in range(B):
            ysum[b] += wc[k, b]
    wflat = np.ascontiguousarray(width).ravel()
    pflat = np.ascontiguousarray(weights).ravel()
    cflat = np.ascontiguousarray(coef).ravel()
    nslab = _layout(chunk_ptr.size - 1, K)[0]
    npb = (B + POINT_BLOCK - 1) // POINT_BLOCK
    n_tasks = nslab * npb
    if n_tasks == 1 or B * D < PARALLEL_MIN:
        for t in range(n_tasks):
            _soft_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat,
                       pflat, cflat, wc, ysum, G, t, nslab, npb)
    else:
        for t in prange(n_tasks):
            _soft_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat,
                       pflat, cflat, wc, ysum, G, t, nslab, npb)
