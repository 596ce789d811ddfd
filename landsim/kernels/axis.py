"""Numba kernels for axis-aligned wedges (MODEL.md section 1, the fast path).

Packed layout (built by :mod:`landsim.kernels.packing`):

- ``axis_ptr`` (int64, shape (D + 1,)) and ``axis_wedge`` (int32, shape (S,)): for
  coordinate i, the wedges that have i as a short axis are
  ``axis_wedge[axis_ptr[i]:axis_ptr[i + 1]]`` (ascending). S = sum_k s_k.
- ``anchors``: shape (0, D) (all wedges at the origin), (1, D) (one shared anchor) or
  (K, D) (one per wedge).
- ``eps0``, ``eps1``: float64, shape (K,).

Design. A gather per wedge (u = y[I_k]) touches every short coordinate of every wedge
at a random address: K*s cache misses, latency-bound. These kernels instead *stream*
over the coordinates once per pass and, for each coordinate, update the few wedges that
hold it as short (on average K*s/D of them) in small (K, B) accumulators that stay in
L1. Each pass therefore reads X (B, D) sequentially, like a STREAM kernel, and does
O(B * (D + K*s)) arithmetic:

1. :func:`short_sums`: ||u_k||^2 per (wedge, point) and ||y||^2 -> r and w;
2. :func:`relu_sums`: the loss sum_j relu(|u_j| - w)^2 and H = sum_j relu(|u_j| - w);
3. :func:`gradient`: G = sum_k weight_k grad l_k, each G[b, i] written once.

Each pass splits D into ``NSLAB`` fixed slabs run in parallel (both cores busy for any B,
including B = 1); the slab count does not depend on the thread count, so results are
bit-identical for any number of threads.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, pjit, prange
from .union import combine_losses

__all__ = ["short_sums", "relu_sums", "per_anchor_sqnorm", "wedge_stats",
           "width_coefficient", "gradient", "loss_and_grad", "NSLAB"]

NSLAB = 32  # slabs of D per pass (fixed, so sums do not depend on the thread count)


@jit
def _n_slabs(D):
    return max(1, min(NSLAB, D))


@pjit
def short_sums(X, anchors, axis_ptr, axis_wedge, n_wedges):
    """Squared short norms ||u_k(x_b)||^2 and squared norms ||y_b||^2.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors : float64 array, shape (0, D), (1, D) or (K, D)
    axis_ptr, axis_wedge : by-axis CSR of the short axes (module docstring)
    n_wedges : int
        K.

    Returns
    -------
    usq : float64 array, shape (K, B)
    ysq : float64 array, shape (B,)
        ||x_b - a||^2 for a shared anchor (or the origin); for per-wedge anchors use
        :func:`per_anchor_sqnorm` instead (this then holds ||x_b||^2).
    """
    B, D = X.shape
    ka = anchors.shape[0]
    nslab = _n_slabs(D)
    usq_p = np.zeros((nslab, n_wedges, B))
    ysq_p = np.zeros((nslab, B))
    for c in prange(nslab):
        d0 = c * D // nslab
        d1 = (c + 1) * D // nslab
        acc = np.zeros((n_wedges, B))
        ys = np.zeros(B)
        xi = np.empty(B)
        sq = np.empty(B)
        for i in range(d0, d1):
            for b in range(B):
                v = np.float64(X[b, i])
                if ka == 1:
                    v -= anchors[0, i]
                xi[b] = v
                sq[b] = v * v
                ys[b] += v * v
            for p in range(axis_ptr[i], axis_ptr[i + 1]):
                k = axis_wedge[p]
                if ka > 1:
                    a = anchors[k, i]
                    for b in range(B):
                        u = xi[b] - a
                        acc[k, b] += u * u
                else:
                    for b in range(B):
                        acc[k, b] += sq[b]
        usq_p[c] = acc
        ysq_p[c] = ys
    usq = np.zeros((n_wedges, B))
    ysq = np.zeros(B)
    for c in range(nslab):
        usq += usq_p[c]
        ysq += ysq_p[c]
    return usq, ysq


@pjit
def per_anchor_sqnorm(X, anchors):
    """||x_b - a_k||^2 for every point and anchor, float64 array of shape (K, B)."""
    B, D = X.shape
    K = anchors.shape[0]
    nslab = _n_slabs(D)
    part = np.zeros((nslab, K, B))
    for c in prange(nslab):
        d0 = c * D // nslab
        d1 = (c + 1) * D // nslab
        for k in range(K):
            for b in range(B):
                acc = 0.0
                for i in range(d0, d1):
                    v = np.float64(X[b, i]) - anchors[k, i]
                    acc += v * v
                part[c, k, b] = acc
    out = np.zeros((K, B))
    for c in range(nslab):
        out += part[c]
    return out


@pjit
def relu_sums(X, anchors, axis_ptr, axis_wedge, width):
    """Loss sum_j relu(|u_j| - w)^2 and H = sum_j relu(|u_j| - w) per (wedge, point).

    Parameters
    ----------
    X, anchors, axis_ptr, axis_wedge : as in :func:`short_sums`
    width : float64 array, shape (K, B)
        w = eps0 + eps1 r of each wedge at each point.

    Returns
    -------
    loss, hsum : float64 arrays, shape (K, B)
    """
    B, D = X.shape
    K = width.shape[0]
    ka = anchors.shape[0]
    nslab = _n_slabs(D)
    loss_p = np.zeros((nslab, K, B))
    h_p = np.zeros((nslab, K, B))
    for c in prange(nslab):
        d0 = c * D // nslab
        d1 = (c + 1) * D // nslab
        lacc = np.zeros((K, B))
        hacc = np.zeros((K, B))
        xi = np.empty(B)
        ax = np.empty(B)
        for i in range(d0, d1):
            if axis_ptr[i] == axis_ptr[i + 1]:
                continue
            for b in range(B):
                v = np.float64(X[b, i])
                if ka == 1:
                    v -= anchors[0, i]
                xi[b] = v
                ax[b] = abs(v)
            for p in range(axis_ptr[i], axis_ptr[i + 1]):
                k = axis_wedge[p]
                if ka > 1:
                    a = anchors[k, i]
                    for b in range(B):
                        h = max(abs(xi[b] - a) - width[k, b], 0.0)
                        lacc[k, b] += h * h
                        hacc[k, b] += h
                else:
                    for b in range(B):
                        h = max(ax[b] - width[k, b], 0.0)
                        lacc[k, b] += h * h
                        hacc[k, b] += h
        loss_p[c] = lacc
        h_p[c] = hacc
    loss = np.zeros((K, B))
    hsum = np.zeros((K, B))
    for c in range(nslab):
        loss += loss_p[c]
        hsum += h_p[c]
    return loss, hsum


@jit
def wedge_stats(X, anchors, axis_ptr, axis_wedge, eps0, eps1):
    """All per-wedge statistics of a batch.

    Returns
    -------
    loss, radius, width, hsum : float64 arrays, shape (K, B)
        l_k(x_b); long radius r; width w = eps0 + eps1 r; H = sum_j relu(|u_j| - w).
    """
    K = eps0.size
    usq, ysq = short_sums(X, anchors, axis_ptr, axis_wedge, K)
    if anchors.shape[0] > 1:
        ysq_k = per_anchor_sqnorm(X, anchors)
    else:
        ysq_k = np.empty((K, ysq.size))
        for k in range(K):
            ysq_k[k] = ysq
    radius = np.sqrt(np.maximum(ysq_k - usq, 0.0))
    width = np.empty_like(radius)
    for k in range(K):
        width[k] = eps0[k] + eps1[k] * radius[k]
    loss, hsum = relu_sums(X, anchors, axis_ptr, axis_wedge, width)
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


@pjit
def gradient(X, anchors, axis_ptr, axis_wedge, weights, coef, width, G):
    """Write G[b] = sum_k weights[k, b] * grad l_k(x_b) into G (B, D).

    grad l_k = c y + sum_j (2 h_j sign(u_j) - c u_j) e_{i_j} with c = ``coef[k, b]``.

    Parameters
    ----------
    X, anchors, axis_ptr, axis_wedge : as in :func:`short_sums`
    weights, coef, width : float64 arrays, shape (K, B)
        Union weights dL/dl_k, :func:`width_coefficient`, widths.
    G : array of X's dtype, shape (B, D), written
    """
    B, D = X.shape
    K = weights.shape[0]
    ka = anchors.shape[0]
    wc = weights * coef
    ysum = np.zeros(B)
    for k in range(K):
        for b in range(B):
            ysum[b] += wc[k, b]
    active = np.zeros(K, dtype=np.bool_)
    for k in range(K):
        for b in range(B):
            if weights[k, b] != 0.0:
                active[k] = True
    nslab = _n_slabs(D)
    for c in prange(nslab):
        d0 = c * D // nslab
        d1 = (c + 1) * D // nslab
        xi = np.empty(B)
        g = np.empty(B)
        for i in range(d0, d1):
            for b in range(B):
                v = np.float64(X[b, i])
                if ka == 1:
                    v -= anchors[0, i]
                xi[b] = v
                g[b] = ysum[b] * v
            if ka > 1:
                for k in range(K):
                    a = anchors[k, i]
                    if a != 0.0:
                        for b in range(B):
                            g[b] -= wc[k, b] * a
            for p in range(axis_ptr[i], axis_ptr[i + 1]):
                k = axis_wedge[p]
                if not active[k]:
                    continue
                a = anchors[k, i] if ka > 1 else 0.0
                for b in range(B):
                    u = xi[b] - a
                    h = max(abs(u) - width[k, b], 0.0)
                    s = 2.0 * h if u > 0.0 else -2.0 * h
                    g[b] += weights[k, b] * (s - coef[k, b] * u)
            for b in range(B):
                G[b, i] = g[b]


@jit
def loss_and_grad(X, anchors, axis_ptr, axis_wedge, eps0, eps1, soft, tau, want_grad):
    """Landscape loss, arg-min wedge, per-wedge losses and (optionally) gradient.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors, axis_ptr, axis_wedge, eps0, eps1 : packed wedge arrays (module docstring)
    soft : bool
        Soft union (else hard).
    tau : float
        Soft-union temperature.
    want_grad : bool

    Returns
    -------
    total : float64 array, shape (B,)
    arg : int64 array, shape (B,)
    wedge_loss : float64 array, shape (B, K)
    G : array of X's dtype, shape (B, D); shape (0, D) when ``want_grad`` is False
    """
    B, D = X.shape
    loss, radius, width, hsum = wedge_stats(X, anchors, axis_ptr, axis_wedge, eps0, eps1)
    wedge_loss = np.ascontiguousarray(loss.T)
    total, arg, weights = combine_losses(wedge_loss, soft, tau)
    if not want_grad:
        return total, arg, wedge_loss, np.empty((0, D), dtype=X.dtype)
    coef = width_coefficient(radius, hsum, eps1)
    G = np.empty((B, D), dtype=X.dtype)
    gradient(X, anchors, axis_ptr, axis_wedge, np.ascontiguousarray(weights.T), coef,
             width, G)
    return total, arg, wedge_loss, G
