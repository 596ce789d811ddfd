"""Numba kernels for axis-aligned wedges (MODEL.md section 1, the fast path).

Packed layout (built by :func:`landsim.kernels.packing.pack_axis`):

- ``axis_ptr`` (int64, (D + 1,)) and ``axis_wedge`` (int32, (S,)): the wedges having
  coordinate i as a short axis are ``axis_wedge[axis_ptr[i]:axis_ptr[i + 1]]``, S = sum s_k;
- ``axes`` (int64, (S,)) and ``offsets`` (int64, (K + 1,)): the same sets by wedge, each
  sorted, wedge k at ``axes[offsets[k]:offsets[k + 1]]``;
- ``anchors``: (0, D) (all at the origin), (1, D) (one shared anchor) or (K, D);
- ``eps0``, ``eps1``: float64, (K,).

Design. Gathering u = y[I_k] wedge by wedge touches K*s random addresses: latency-bound,
a few percent of the memory bandwidth. These kernels *stream* over the coordinates
instead, and for each coordinate update the few wedges holding it (K*s/D on average) in
(K, B) accumulators that stay in L1 (a sparse-times-dense product with the by-axis CSR):

1. :func:`transpose_center` writes the centred transpose XT (D, B) into a reusable
   float64 workspace (one contiguous row of B values per coordinate) and ||y_b||^2;
2. :func:`short_sums` streams XT for ||u_k||^2 and max_j |u_j| per (wedge, point)
   -> r and w;
3. :func:`relu_sums` streams XT again for the loss sum_j relu(|u_j| - w)^2 and
   H = sum_j relu(|u_j| - w), skipping wedges that hold every point (max |u| <= w);
4. the gradient: hard union (:func:`gradient_hard`) streams each row of X once, writes
   G[b] = c y_b and fixes the s short coordinates of its arg-min wedge by a merge with the
   sorted axes; soft union (:func:`gradient_soft`) streams XT and adds every wedge's
   short terms.

No (B, K, s) temporary is made: the extra memory of a call is the workspace XT (the size
of X in float64) plus O(K B) per slab. The inner B-loops index flat rows with unsigned
integers (no wrap-around code), so they vectorise with little per-(coordinate, wedge)
overhead. Every pass splits D into up to ``NSLAB`` slabs of at least ``MIN_SLAB``
coordinates run in parallel, so both cores work for any B (B = 1 included); small
problems (one slab) run serially, without the cost of starting the thread pool. The slab
count depends on D alone, so the sums, and the results, are bit-identical for any
number of threads.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_finite, pjit, prange
from .union import combine_losses

__all__ = ["transpose_center", "short_sums", "per_anchor_sqnorm", "relu_sums", "wedge_stats",
           "width_coefficient", "gradient_hard", "gradient_soft", "loss_and_grad", "NSLAB",
           "BLOCK"]

NSLAB = 32  # most slabs of D per pass; the count depends on D only, never on threads
MIN_SLAB = 4096  # fewest coordinates per slab: below 2 slabs a pass runs serially
BLOCK = 256  # coordinates per block of XT handled together


@jit
def _n_slabs(D):
    return max(1, min(NSLAB, D // MIN_SLAB))


@jit
def _transpose_slab(X, anchors, XT, c, nslab, ysq_p):
    """Slab c of :func:`transpose_center`."""
    B, D = X.shape
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    shared = anchors.shape[0] == 1
    for e0 in range(d0, d1, BLOCK):
        e1 = min(d1, e0 + BLOCK)
        for b in range(B):
            acc = 0.0
            for i in range(e0, e1):
                v = np.float64(X[b, i])
                if shared:
                    v -= anchors[0, i]
                XT[i, b] = v
                acc += v * v
            ysq_p[c, b] += acc


@pjit
def transpose_center(X, anchors, XT):
    """XT = (X - a)^T for a shared anchor a, else X^T, as float64; returns ||XT[:, b]||^2.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors : float64 array, shape (0, D), (1, D) or (K, D)
    XT : float64 array, shape (D, B), written (a reusable workspace)

    Returns
    -------
    ysq : float64 array, shape (B,)
        ||x_b - a||^2 for a shared anchor or the origin (||x_b||^2 for per-wedge anchors).
    """
    B, D = X.shape
    nslab = _n_slabs(D)
    ysq_p = np.zeros((nslab, B))
    if nslab == 1:
        _transpose_slab(X, anchors, XT, 0, nslab, ysq_p)
    else:
        for c in prange(nslab):
            _transpose_slab(X, anchors, XT, c, nslab, ysq_p)
    ysq = np.zeros(B)
    for c in range(nslab):
        ysq += ysq_p[c]
    return ysq


@jit_finite
def _block_short_sums(loc, B, n, base, axis_ptr, axis_wedge, acc, mx):
    """Add one block (flat (n, B) rows of XT) into the per-wedge sums acc, mx (flat (K, B))."""
    ub = np.uint64(B)
    for r in range(n):
        i = base + r
        xb = np.uint64(r) * ub
        for p in range(axis_ptr[i], axis_ptr[i + 1]):
            kb = np.uint64(axis_wedge[p]) * ub
            for b in range(ub):
                v = loc[xb + b]
                acc[kb + b] += v * v
                mx[kb + b] = max(mx[kb + b], abs(v))


@jit
def _block_short_sums_anchored(loc, B, n, base, anchors, axis_ptr, axis_wedge, acc, mx):
    """Per-wedge anchors: u = x - a_k[i]."""
    for r in range(n):
        i = base + r
        for p in range(axis_ptr[i], axis_ptr[i + 1]):
            k = axis_wedge[p]
            off = anchors[k, i]
            for b in range(B):
                u = loc[r * B + b] - off
                acc[k * B + b] += u * u
                mx[k * B + b] = max(mx[k * B + b], abs(u))


@jit
def _short_sums_slab(xt, B, D, anchors, axis_ptr, axis_wedge, c, nslab, usq_p, max_p):
    """Slab c of :func:`short_sums`, into row c of the partial sums."""
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    for e0 in range(d0, d1, BLOCK):
        e1 = min(d1, e0 + BLOCK)
        loc = xt[e0 * B:e1 * B]
        if anchors.shape[0] > 1:
            _block_short_sums_anchored(loc, B, e1 - e0, e0, anchors, axis_ptr, axis_wedge,
                                       usq_p[c], max_p[c])
        else:
            _block_short_sums(loc, B, e1 - e0, e0, axis_ptr, axis_wedge, usq_p[c], max_p[c])


@pjit
def short_sums(XT, anchors, axis_ptr, axis_wedge, n_wedges):
    """||u_k(x_b)||^2 and max_j |u_j| per (wedge, point), streaming XT once.

    Parameters
    ----------
    XT : float64 array, shape (D, B)
        From :func:`transpose_center`.
    anchors : float64 array, shape (0, D), (1, D) or (K, D)
    axis_ptr, axis_wedge : by-axis CSR of the short axes (module docstring)
    n_wedges : int
        K.

    Returns
    -------
    usq, maxabs : float64 arrays, shape (K, B)
    """
    D, B = XT.shape
    nslab = _n_slabs(D)
    usq_p = np.zeros((nslab, n_wedges * B))
    max_p = np.zeros((nslab, n_wedges * B))
    xt = XT.ravel()
    if nslab == 1:
        _short_sums_slab(xt, B, D, anchors, axis_ptr, axis_wedge, 0, nslab, usq_p, max_p)
    else:
        for c in prange(nslab):
            _short_sums_slab(xt, B, D, anchors, axis_ptr, axis_wedge, c, nslab, usq_p, max_p)
    usq = np.zeros(n_wedges * B)
    maxabs = np.zeros(n_wedges * B)
    for c in range(nslab):
        usq += usq_p[c]
        maxabs = np.maximum(maxabs, max_p[c])
    return usq.reshape((n_wedges, B)), maxabs.reshape((n_wedges, B))


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
    nslab = _n_slabs(D)
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


@jit_finite
def _block_relu(loc, B, n, base, axis_ptr, axis_wedge, width, active, lacc, hacc):
    """One block of :func:`relu_sums`, shared anchor (flat rows, unsigned indices)."""
    ub = np.uint64(B)
    for r in range(n):
        i = base + r
        xb = np.uint64(r) * ub
        for p in range(axis_ptr[i], axis_ptr[i + 1]):
            k = axis_wedge[p]
            if not active[k]:
                continue
            kb = np.uint64(k) * ub
            for b in range(ub):
                h = max(abs(loc[xb + b]) - width[kb + b], 0.0)
                lacc[kb + b] += h * h
                hacc[kb + b] += h


@jit
def _block_relu_anchored(loc, B, n, base, anchors, axis_ptr, axis_wedge, width, active,
                         lacc, hacc):
    """Per-wedge anchors: u = x - a_k[i]."""
    for r in range(n):
        i = base + r
        for p in range(axis_ptr[i], axis_ptr[i + 1]):
            k = axis_wedge[p]
            if not active[k]:
                continue
            off = anchors[k, i]
            for b in range(B):
                h = max(abs(loc[r * B + b] - off) - width[k * B + b], 0.0)
                lacc[k * B + b] += h * h
                hacc[k * B + b] += h


@jit
def _relu_slab(xt, B, D, anchors, axis_ptr, axis_wedge, wflat, active, c, nslab, loss_p,
               h_p):
    """Slab c of :func:`relu_sums`, into row c of the partial sums."""
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    for e0 in range(d0, d1, BLOCK):
        e1 = min(d1, e0 + BLOCK)
        if axis_ptr[e0] == axis_ptr[e1]:
            continue
        loc = xt[e0 * B:e1 * B]
        if anchors.shape[0] > 1:
            _block_relu_anchored(loc, B, e1 - e0, e0, anchors, axis_ptr, axis_wedge, wflat,
                                 active, loss_p[c], h_p[c])
        else:
            _block_relu(loc, B, e1 - e0, e0, axis_ptr, axis_wedge, wflat, active, loss_p[c],
                        h_p[c])


@pjit
def relu_sums(XT, anchors, axis_ptr, axis_wedge, width, active):
    """Loss sum_j relu(|u_j| - w)^2 and H = sum_j relu(|u_j| - w) per (wedge, point).

    Parameters
    ----------
    XT, anchors, axis_ptr, axis_wedge : as in :func:`short_sums`
    width : float64 array, shape (K, B)
        w = eps0 + eps1 r.
    active : bool array, shape (K,)
        Wedges that may have a non-zero loss at some point; the others are skipped.

    Returns
    -------
    loss, hsum : float64 arrays, shape (K, B)
    """
    D, B = XT.shape
    K = width.shape[0]
    nslab = _n_slabs(D)
    loss_p = np.zeros((nslab, K * B))
    h_p = np.zeros((nslab, K * B))
    wflat = np.ascontiguousarray(width).ravel()
    xt = XT.ravel()
    if nslab == 1:
        _relu_slab(xt, B, D, anchors, axis_ptr, axis_wedge, wflat, active, 0, nslab, loss_p,
                   h_p)
    else:
        for c in prange(nslab):
            _relu_slab(xt, B, D, anchors, axis_ptr, axis_wedge, wflat, active, c, nslab,
                       loss_p, h_p)
    loss = np.zeros(K * B)
    hsum = np.zeros(K * B)
    for c in range(nslab):
        loss += loss_p[c]
        hsum += h_p[c]
    return loss.reshape((K, B)), hsum.reshape((K, B))


@jit
def wedge_stats(X, anchors, axis_ptr, axis_wedge, eps0, eps1, XT):
    """All per-wedge statistics of a batch; fills the workspace XT (D, B) float64.

    Returns
    -------
    loss, radius, width, hsum : float64 arrays, shape (K, B)
        l_k(x_b); long radius r; width w = eps0 + eps1 r; H = sum_j relu(|u_j| - w).
    """
    K = eps0.size
    ysq = transpose_center(X, anchors, XT)
    usq, maxabs = short_sums(XT, anchors, axis_ptr, axis_wedge, K)
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
    loss, hsum = relu_sums(XT, anchors, axis_ptr, axis_wedge, width, active)
    return loss, radius, width, hsum


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
    if ka > 0:
        for d in range(d0, d1):
            G[b, d] = cb * (np.float64(X[b, d]) - anchors[arow, d])
    else:
        for d in range(d0, d1):
            G[b, d] = cb * np.float64(X[b, d])
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
    nslab = _n_slabs(D)
    if B * D < 4 * MIN_SLAB:
        for t in range(B * nslab):
            _grad_hard_task(X, anchors, axes, offsets, arg, coef, width, G, t, nslab)
    else:
        for t in prange(B * nslab):
            _grad_hard_task(X, anchors, axes, offsets, arg, coef, width, G, t, nslab)


@jit
def _grad_soft_slab(XT, anchors, axis_ptr, axis_wedge, weights, coef, width, wc, ysum, G, c,
                    nslab):
    """Slab c of :func:`gradient_soft`."""
    D, B = XT.shape
    K = weights.shape[0]
    ka = anchors.shape[0]
    d0 = c * D // nslab
    d1 = (c + 1) * D // nslab
    g = np.empty((BLOCK, B))
    for e0 in range(d0, d1, BLOCK):
        e1 = min(d1, e0 + BLOCK)
        for i in range(e0, e1):
            r = i - e0
            for b in range(B):
                g[r, b] = ysum[b] * XT[i, b]
            if ka > 1:
                for k in range(K):
                    a = anchors[k, i]
                    if a != 0.0:
                        for b in range(B):
                            g[r, b] -= wc[k, b] * a
            for p in range(axis_ptr[i], axis_ptr[i + 1]):
                k = axis_wedge[p]
                off = anchors[k, i] if ka > 1 else 0.0
                for b in range(B):
                    u = XT[i, b] - off
                    h = max(abs(u) - width[k, b], 0.0)
                    s = 2.0 * h if u > 0.0 else -2.0 * h
                    g[r, b] += weights[k, b] * (s - coef[k, b] * u)
        for b in range(B):
            for i in range(e0, e1):
                G[b, i] = g[i - e0, b]


@pjit
def gradient_soft(XT, anchors, axis_ptr, axis_wedge, weights, coef, width, G):
    """Write G[b] = sum_k weights[k, b] grad l_k(x_b) into G (B, D).

    Parameters
    ----------
    XT, anchors, axis_ptr, axis_wedge : as in :func:`short_sums`
    weights, coef, width : float64 arrays, shape (K, B)
        Union weights dL/dl_k, :func:`width_coefficient`, widths.
    G : array, shape (B, D), written
    """
    D, B = XT.shape
    K = weights.shape[0]
    wc = weights * coef
    ysum = np.zeros(B)
    for k in range(K):
        for b in range(B):
            ysum[b] += wc[k, b]
    nslab = _n_slabs(D)
    if nslab == 1:
        _grad_soft_slab(XT, anchors, axis_ptr, axis_wedge, weights, coef, width, wc, ysum, G,
                        0, nslab)
    else:
        for c in prange(nslab):
            _grad_soft_slab(XT, anchors, axis_ptr, axis_wedge, weights, coef, width, wc,
                            ysum, G, c, nslab)


@jit
def loss_and_grad(X, anchors, axis_ptr, axis_wedge, axes, offsets, eps0, eps1, soft, tau,
                  XT, G):
    """Landscape loss, arg-min wedge, per-wedge losses and (optionally) gradient.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors, axis_ptr, axis_wedge, axes, offsets, eps0, eps1 : packed arrays
    soft : bool
        Soft union (else hard).
    tau : float
        Soft-union temperature.
    XT : float64 array, shape (D, B)
        Workspace (overwritten); reuse it across calls to skip its page faults.
    G : array of X's dtype, shape (B, D) or (0, D)
        Output for the gradient (overwritten); shape (0, D) computes no gradient.

    Returns
    -------
    total : float64 array, shape (B,)
    arg : int64 array, shape (B,)
    wedge_loss : float64 array, shape (B, K)
    """
    loss, radius, width, hsum = wedge_stats(X, anchors, axis_ptr, axis_wedge, eps0, eps1,
                                            XT)
    wedge_loss = np.ascontiguousarray(loss.T)
    total, arg, weights = combine_losses(wedge_loss, soft, tau)
    if G.shape[0] > 0:
        coef = width_coefficient(radius, hsum, eps1)
        if soft:
            gradient_soft(XT, anchors, axis_ptr, axis_wedge, np.ascontiguousarray(weights.T),
                          coef, width, G)
        else:
            gradient_hard(X, anchors, axes, offsets, arg, coef, width, G)
    return total, arg, wedge_loss
