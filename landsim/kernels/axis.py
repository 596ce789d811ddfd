"""Numba kernels for axis-aligned wedges (docs/model.md, section 1, the fast path).

Packed layout (built by :func:`landsim.kernels.packing.pack_axis`):

- ``anchors``: (0, D) (all at the origin), (1, D) (one shared anchor) or (K, D);
- ``axes`` (int64, (S,)) and ``offsets`` (int64, (K + 1,)): the short axes by wedge, each
  wedge's sorted, wedge k at ``axes[offsets[k]:offsets[k + 1]]``, S = sum s_k;
- the chunk table: the coordinates are cut into chunks of ``CHUNK``; the wedges with short
  axes in chunk c are the entries ``e`` in ``chunk_ptr[c]:chunk_ptr[c + 1]``, each naming a
  wedge ``chunk_wedge[e]`` (int32) and its axes there, ``axes[chunk_lo[e]:chunk_hi[e]]``
  (int64). There are at most min(S, K * n_chunks) entries;
- ``eps0``, ``eps1``: float64, (K,).

Design. Gathering u = y[I_k] for every point wedge by wedge from X touches B K s random
addresses, and is bound by memory latency. Streaming over the coordinates and updating
every wedge that holds each one keeps (K, B) accumulators in L1, but spends most of its
time loading and storing them. These kernels do neither: each task (a slab of whole
chunks x a block of up to ``POINT_BLOCK`` points) copies one chunk of its points at a time,
transposed and centred, into a buffer that stays in L2 (one coordinate's values for the
block's points side by side), and then, wedge by wedge, sums over that wedge's short axes
in the chunk with eight points' accumulators held in one vector register
(:mod:`landsim.kernels.axis_blocks`). X is read once per pass, in order.

Sparse landscapes (few short axes in all, or few per chunk; :func:`gathers_pay`) take
the per-point path of :mod:`landsim.kernels.axis_gather` for the statistics instead.

1. :func:`short_sums`: ||u_k||^2 and max_j |u_j| per (wedge, point), plus ||y_b||^2
   -> r and w;
2. :func:`relu_sums`: the loss sum_j relu(|u_j| - w)^2 and H = sum_j relu(|u_j| - w),
   skipping wedges that hold every point (max |u| <= w), and chunks that only such
   wedges touch;
3. the gradient (:mod:`landsim.kernels.axis_grad`, its functions also reachable from
   here): hard union (:func:`gradient_hard`) streams each row of X once, writes
   G[b] = c y_b and fixes the s short coordinates of its arg-min wedge by a merge with the
   sorted axes; soft union (:func:`gradient_soft`) builds each chunk of G transposed in
   L2, adding every wedge's short terms, and writes it back.

The chunk and task sizes and the task layout shared by the passes live in
:mod:`landsim.kernels.axis_layout`.

No (B, K, s) temporary and no (D, B) workspace are made: the extra memory of a call is
two chunk buffers per task and the partial sums of one group of points (at most
``PARTIAL_CAP`` values; big batches go group by group). The slab count and the group
size depend on D and K alone, never on B or the number of threads, and the partial sums
are added in slab order, so each point's results are bit-identical for any number of
threads and in any batch (a stream evaluated block by block equals one call). Small
problems run their tasks serially, without the cost of starting the thread pool.
"""

from __future__ import annotations

import numpy as np

from . import axis_blocks as blk
from ._jit import jit, pjit, prange
from .axis_gather import point_stats
from .axis_grad import gradient_hard, gradient_soft, width_coefficient
from .axis_layout import (
    CHUNK,
    PARALLEL_MIN,
    POINT_BLOCK,
    _layout,
    _load_chunk,
    _row_slabs,
    _task_start,
)
from .union import combine_losses

__all__ = ["short_sums", "per_anchor_sqnorm", "relu_sums", "gathers_pay", "wedge_stats",
           "width_coefficient", "gradient_hard", "gradient_soft", "loss_and_grad", "CHUNK",
           "POINT_BLOCK"]



@jit
def _add_squares(loc, nb, n, p0, sq):
    """sq[p0 + b] += sum of the squares of the first n rows of ``loc`` in column b."""
    ub = np.uint64(nb)
    b0 = 0
    while b0 + 8 <= nb:
        blk.squares8(loc, ub, np.uint64(b0), np.uint64(n), sq, np.uint64(p0 + b0))
        b0 += 8
    while b0 < nb:
        blk.squares1(loc, ub, np.uint64(b0), np.uint64(n), sq, np.uint64(p0 + b0))
        b0 += 1


@jit
def _short_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, t, nslab,
                npb, ysq_p, usq_p, max_p):
    """Task t of :func:`short_sums`, into row c (its slab) of the partial sums."""
    B, D = X.shape
    c, ch0, ch1, p0, nb, shift, per_wedge, loc = _task_start(X, anchors, chunk_ptr, t, npb,
                                                             nslab)
    ub = np.uint64(nb)
    none = np.empty(0)
    usq = usq_p[c]
    mx = max_p[c]
    for ch in range(ch0, ch1):
        e0 = ch * CHUNK
        e1 = min(D, e0 + CHUNK)
        _load_chunk(X, p0, nb, e0, e1, shift, loc)
        _add_squares(loc, nb, e1 - e0, p0, ysq_p[c])
        for e in range(chunk_ptr[ch], chunk_ptr[ch + 1]):
            k = chunk_wedge[e]
            arow = anchors[k] if per_wedge else none
            lo = np.uint64(chunk_lo[e])
            hi = np.uint64(chunk_hi[e])
            b0 = 0
            while b0 + 8 <= nb:
                blk.short8(loc, ub, np.uint64(b0), axes, lo, hi, e0, arow, usq, mx,
                           np.uint64(k * B + p0 + b0))
                b0 += 8
            while b0 < nb:
                blk.short1(loc, ub, np.uint64(b0), axes, lo, hi, e0, arow, usq, mx,
                           np.uint64(k * B + p0 + b0))
                b0 += 1


@pjit
def _short_group(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, K, nslab):
    """:func:`short_sums` of one group of points, flat (K * B,) sums."""
    B, D = X.shape
    npb = (B + POINT_BLOCK - 1) // POINT_BLOCK
    ysq_p = np.zeros((nslab, B))
    usq_p = np.zeros((nslab, K * B))
    max_p = np.zeros((nslab, K * B))
    n_tasks = nslab * npb
    if n_tasks == 1 or B * D < PARALLEL_MIN:
        for t in range(n_tasks):
            _short_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, t,
                        nslab, npb, ysq_p, usq_p, max_p)
    else:
        for t in prange(n_tasks):
            _short_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, t,
                        nslab, npb, ysq_p, usq_p, max_p)
    ysq = np.zeros(B)
    usq = np.zeros(K * B)
    maxabs = np.zeros(K * B)
    for c in range(nslab):
        ysq += ysq_p[c]
        usq += usq_p[c]
        maxabs = np.maximum(maxabs, max_p[c])
    return ysq, usq, maxabs


@jit
def short_sums(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, n_wedges):
    """||y_b||^2, ||u_k(x_b)||^2 and max_j |u_j| per (wedge, point), reading X once.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi : packed arrays (module
        docstring)
    n_wedges : int
        K.

    Returns
    -------
    ysq : float64 array, shape (B,)
        ||x_b - a||^2 for a shared anchor or the origin, ||x_b||^2 for per-wedge anchors.
        A NaN or inf in X makes it NaN or inf.
    usq, maxabs : float64 arrays, shape (K, B)
    """
    B = X.shape[0]
    K = n_wedges
    nslab, group = _layout(chunk_ptr.size - 1, K)
    ysq = np.empty(B)
    usq = np.empty((K, B))
    maxabs = np.empty((K, B))
    for g0 in range(0, B, group):
        g1 = min(B, g0 + group)
        n = g1 - g0
        y, u, m = _short_group(X[g0:g1], anchors, axes, chunk_ptr, chunk_wedge, chunk_lo,
                               chunk_hi, K, nslab)
        ysq[g0:g1] = y
        usq[:, g0:g1] = u.reshape((K, n))
        maxabs[:, g0:g1] = m.reshape((K, n))
    return ysq, usq, maxabs


@jit
def _sqnorm_slab(X, anchors, c, nslab, part):
    B, D = X.shape
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    for k in range(anchors.shape[0]):
        for b in range(B):
            acc = 0.0
            for i in range(d0, d1):
                v = np.float64(X[b, i]) - anchors[k, i]
                acc += v * v
            part[c, k, b] = acc


@pjit
def per_anchor_sqnorm(X, anchors):
    """||x_b - a_k||^2 for every anchor and point, float64 array of shape (K, B)."""
    B, D = X.shape
    K = anchors.shape[0]
    nslab = _row_slabs(D)
    part = np.zeros((nslab, K, B))
    if nslab == 1:
        _sqnorm_slab(X, anchors, 0, nslab, part)
    else:
        for c in prange(nslab):
            _sqnorm_slab(X, anchors, c, nslab, part)
    out = np.zeros((K, B))
    for c in range(nslab):
        out += part[c]
    return out


@jit
def _relu_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat, active,
               t, nslab, npb, loss_p, h_p):
    """Task t of :func:`relu_sums`, into row c (its slab) of the partial sums."""
    B, D = X.shape
    c, ch0, ch1, p0, nb, shift, per_wedge, loc = _task_start(X, anchors, chunk_ptr, t, npb,
                                                             nslab)
    ub = np.uint64(nb)
    none = np.empty(0)
    lsum = loss_p[c]
    hsum = h_p[c]
    for ch in range(ch0, ch1):
        first = chunk_ptr[ch]
        last = chunk_ptr[ch + 1]
        busy = False
        for e in range(first, last):
            busy = busy or active[chunk_wedge[e]]
        if not busy:
            continue
        e0 = ch * CHUNK
        _load_chunk(X, p0, nb, e0, min(D, e0 + CHUNK), shift, loc)
        for e in range(first, last):
            k = chunk_wedge[e]
            if not active[k]:
                continue
            arow = anchors[k] if per_wedge else none
            lo = np.uint64(chunk_lo[e])
            hi = np.uint64(chunk_hi[e])
            b0 = 0
            while b0 + 8 <= nb:
                blk.relu8(loc, ub, np.uint64(b0), axes, lo, hi, e0, arow, wflat, lsum, hsum,
                          np.uint64(k * B + p0 + b0))
                b0 += 8
            while b0 < nb:
                blk.relu1(loc, ub, np.uint64(b0), axes, lo, hi, e0, arow, wflat, lsum, hsum,
                          np.uint64(k * B + p0 + b0))
                b0 += 1


@pjit
def _relu_group(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat, active,
                nslab):
    """:func:`relu_sums` of one group of points; ``wflat`` its (K * B,) widths."""
    B, D = X.shape
    K = active.size
    npb = (B + POINT_BLOCK - 1) // POINT_BLOCK
    loss_p = np.zeros((nslab, K * B))
    h_p = np.zeros((nslab, K * B))
    n_tasks = nslab * npb
    if n_tasks == 1 or B * D < PARALLEL_MIN:
        for t in range(n_tasks):
            _relu_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat,
                       active, t, nslab, npb, loss_p, h_p)
    else:
        for t in prange(n_tasks):
            _relu_task(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, wflat,
                       active, t, nslab, npb, loss_p, h_p)
    loss = np.zeros(K * B)
    hsum = np.zeros(K * B)
    for c in range(nslab):
        loss += loss_p[c]
        hsum += h_p[c]
    return loss, hsum


@jit
def relu_sums(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, width, active):
    """Loss sum_j relu(|u_j| - w)^2 and H = sum_j relu(|u_j| - w) per (wedge, point).

    Parameters
    ----------
    X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi : as in
        :func:`short_sums`
    width : float64 array, shape (K, B)
        w = eps0 + eps1 r.
    active : bool array, shape (K,)
        Wedges that may have a non-zero loss at some point; the others are skipped.

    Returns
    -------
    loss, hsum : float64 arrays, shape (K, B)
    """
    B = X.shape[0]
    K = width.shape[0]
    nslab, group = _layout(chunk_ptr.size - 1, K)
    loss = np.empty((K, B))
    hsum = np.empty((K, B))
    for g0 in range(0, B, group):
        g1 = min(B, g0 + group)
        n = g1 - g0
        wflat = np.ascontiguousarray(width[:, g0:g1]).ravel()
        lg, hg = _relu_group(X[g0:g1], anchors, axes, chunk_ptr, chunk_wedge, chunk_lo,
                             chunk_hi, wflat, active, nslab)
        loss[:, g0:g1] = lg.reshape((K, n))
        hsum[:, g0:g1] = hg.reshape((K, n))
    return loss, hsum


@jit
def gathers_pay(D, n_axes, n_entries):
    """Whether per-point gathers (:mod:`landsim.kernels.axis_gather`) beat chunk copies:
    when the short axes number at most D / 2 in all, or fewer than 32 per (chunk, wedge)
    entry on average (measured crossovers, benchmarks/RESULTS.md)."""
    return 2 * n_axes <= D or n_axes < 32 * n_entries


@jit
def wedge_stats(X, anchors, axes, offsets, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, eps0,
                eps1):
    """All per-wedge statistics of a batch.

    Returns
    -------
    loss, radius, width, hsum : float64 arrays, shape (K, B)
        l_k(x_b); long radius r; width w = eps0 + eps1 r; H = sum_j relu(|u_j| - w).
    ysq : float64 array, shape (B,)
        As in :func:`short_sums` (non-finite exactly when X has a NaN or inf, or overflows).
    """
    if gathers_pay(X.shape[1], axes.size, chunk_wedge.size):
        return point_stats(X, anchors, axes, offsets, eps0, eps1, np.empty((0, X.shape[1])))
    K = eps0.size
    ysq, usq, maxabs = short_sums(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo,
                                  chunk_hi, K)
    if anchors.shape[0] > 1:
        ysq_k = per_anchor_sqnorm(X, anchors)
    else:
        ysq_k = np.empty((K, ysq.size))
        for k in range(K):
            ysq_k[k] = ysq
    radius = np.sqrt(np.maximum(ysq_k - usq, 0.0))
    width = np.empty_like(radius)
    active = np.zeros(K, dtype=np.bool_)
    for k in range(K):
        width[k] = eps0[k] + eps1[k] * radius[k]
        for b in range(radius.shape[1]):
            if maxabs[k, b] > width[k, b]:
                active[k] = True
    loss, hsum = relu_sums(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi,
                           width, active)
    return loss, radius, width, hsum, ysq


@jit
def loss_and_grad(X, anchors, axes, offsets, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi,
                  eps0, eps1, soft, tau, G):
    """Landscape loss, arg-min wedge, per-wedge losses and (optionally) gradient.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors, axes, offsets, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi, eps0, eps1 :
        packed arrays (module docstring)
    soft : bool
        Soft union (else hard).
    tau : float
        Soft-union temperature.
    G : array of X's dtype, shape (B, D) or (0, D)
        Output for the gradient (overwritten); shape (0, D) computes no gradient.

    Returns
    -------
    total : float64 array, shape (B,)
    arg : int64 array, shape (B,)
    wedge_loss : float64 array, shape (B, K)
    ysq : float64 array, shape (B,)
        ||x_b - a||^2 (see :func:`short_sums`); a non-finite value flags a point with a NaN
        or inf (or one that overflows), for the caller to reject.
    """
    fused = not soft and G.shape[0] > 0 and gathers_pay(X.shape[1], axes.size,
                                                        chunk_wedge.size)
    if fused:  # statistics and hard-union gradient in one visit per point
        loss, radius, width, hsum, ysq = point_stats(X, anchors, axes, offsets, eps0, eps1, G)
    else:
        loss, radius, width, hsum, ysq = wedge_stats(X, anchors, axes, offsets, chunk_ptr,
                                                     chunk_wedge, chunk_lo, chunk_hi, eps0,
                                                     eps1)
    wedge_loss = np.ascontiguousarray(loss.T)
    total, arg, weights = combine_losses(wedge_loss, soft, tau)
    if G.shape[0] > 0 and not fused:
        coef = width_coefficient(radius, hsum, eps1)
        if soft:
            gradient_soft(X, anchors, axes, chunk_ptr, chunk_wedge, chunk_lo, chunk_hi,
                          np.ascontiguousarray(weights.T), coef, width, G)
        else:
            gradient_hard(X, anchors, axes, offsets, arg, coef, width, G)
    return total, arg, wedge_loss, ysq
