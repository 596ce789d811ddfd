"""Numba kernels for rotated wedges (dense orthonormal short frames).

Packed layout (see :mod:`landsim.kernels.packing`): ``frames_t`` (S, D) stacks the
transposed frames Q_k^T (rows ``offsets[k]:offsets[k + 1]``), in the dtype of X;
``frame_anchor`` (S,) holds Q_k^T a_k; ``anchors`` is (0|1|K, D) as for axis wedges.

The work is two matrix products, done by BLAS (GEMM through ``np.dot``):
U = X Frames^T (B, S) for the short coordinates, and for the gradient the back
projection sum_k Q_k v_k: one GEMM for the soft union, and one per used wedge over only
the points whose arg-min it is for the hard union (so the hard gradient costs
2 B s D flops, not 2 B S D).
"""

from __future__ import annotations

import numpy as np

from ._jit import jit
from .union import combine_losses

__all__ = ["squared_norms", "wedge_stats", "gradient", "loss_and_grad"]


@jit
def squared_norms(X, anchors, n_wedges):
    """||x_b - a_k||^2 as float64 (K, B) (rows equal for a shared anchor)."""
    B, D = X.shape
    ka = anchors.shape[0]
    out = np.empty((n_wedges, B))
    for b in range(B):
        if ka <= 1:
            acc = 0.0
            for d in range(D):
                v = np.float64(X[b, d])
                if ka == 1:
                    v -= anchors[0, d]
                acc += v * v
            for k in range(n_wedges):
                out[k, b] = acc
        else:
            for k in range(n_wedges):
                acc = 0.0
                for d in range(D):
                    v = np.float64(X[b, d]) - anchors[k, d]
                    acc += v * v
                out[k, b] = acc
    return out


@jit
def wedge_stats(X, anchors, frames_t, frame_anchor, offsets, eps0, eps1):
    """Short coordinates and per-wedge statistics.

    Parameters
    ----------
    X : float array, shape (B, D)
    anchors : float64 array, shape (0|1|K, D)
    frames_t : array of X's dtype, shape (S, D)
    frame_anchor : float64 array, shape (S,)
    offsets : int64 array, shape (K + 1,)
    eps0, eps1 : float64 arrays, shape (K,)

    Returns
    -------
    U : float64 array, shape (B, S)
        Short coordinates u = Q_k^T (x - a_k), wedge k in columns offsets[k]:offsets[k+1].
    loss, radius, width, hsum : float64 arrays, shape (K, B)
    """
    B, D = X.shape
    K = offsets.size - 1
    U = np.dot(X, frames_t.T).astype(np.float64)
    for b in range(B):
        for j in range(U.shape[1]):
            U[b, j] -= frame_anchor[j]
    ysq = squared_norms(X, anchors, K)
    loss = np.zeros((K, B))
    radius = np.empty((K, B))
    width = np.empty((K, B))
    hsum = np.zeros((K, B))
    for k in range(K):
        for b in range(B):
            usq = 0.0
            for j in range(offsets[k], offsets[k + 1]):
                usq += U[b, j] * U[b, j]
            r = np.sqrt(max(ysq[k, b] - usq, 0.0))
            w = eps0[k] + eps1[k] * r
            radius[k, b] = r
            width[k, b] = w
            acc = 0.0
            hs = 0.0
            for j in range(offsets[k], offsets[k + 1]):
                h = max(abs(U[b, j]) - w, 0.0)
                acc += h * h
                hs += h
            loss[k, b] = acc
            hsum[k, b] = hs
    return U, loss, radius, width, hsum


@jit
def gradient(X, anchors, frames_t, offsets, U, weights, coef, width, G):
    """Write G[b] = sum_k weights[k, b] grad l_k(x_b) into G (B, D).

    grad l_k = c (x - a_k) + Q_k (2 h sign(u) - c u), with c = ``coef[k, b]``.
    """
    B, D = X.shape
    K = offsets.size - 1
    ka = anchors.shape[0]
    for b in range(B):
        ysum = 0.0
        for k in range(K):
            ysum += weights[k, b] * coef[k, b]
        for d in range(D):
            v = np.float64(X[b, d])
            if ka == 1:
                v -= anchors[0, d]
            G[b, d] = ysum * v
        if ka > 1:
            for k in range(K):
                wc = weights[k, b] * coef[k, b]
                if wc != 0.0:
                    for d in range(D):
                        G[b, d] -= wc * anchors[k, d]
    for k in range(K):
        rows = np.nonzero(weights[k] != 0.0)[0]
        if rows.size == 0:
            continue
        o0 = offsets[k]
        s = offsets[k + 1] - o0
        V = np.empty((rows.size, s), dtype=G.dtype)
        for q in range(rows.size):
            b = rows[q]
            for j in range(s):
                u = U[b, o0 + j]
                h = max(abs(u) - width[k, b], 0.0)
                t = 2.0 * h if u > 0.0 else -2.0 * h
                V[q, j] = weights[k, b] * (t - coef[k, b] * u)
        back = np.dot(V, frames_t[o0:o0 + s])
        for q in range(rows.size):
            b = rows[q]
            for d in range(D):
                G[b, d] += back[q, d]


@jit
def loss_and_grad(X, anchors, frames_t, frame_anchor, offsets, eps0, eps1, soft, tau,
                  want_grad):
    """Same contract as :func:`landsim.kernels.axis.loss_and_grad`, rotated frames."""
    B, D = X.shape
    U, loss, radius, width, hsum = wedge_stats(X, anchors, frames_t, frame_anchor, offsets,
                                               eps0, eps1)
    wedge_loss = np.ascontiguousarray(loss.T)
    total, arg, weights = combine_losses(wedge_loss, soft, tau)
    if not want_grad:
        return total, arg, wedge_loss, np.empty((0, D), dtype=X.dtype)
    coef = np.zeros_like(radius)
    for k in range(radius.shape[0]):
        for b in range(B):
            if radius[k, b] > 0.0:
                coef[k, b] = -2.0 * eps1[k] * hsum[k, b] / radius[k, b]
    G = np.empty((B, D), dtype=X.dtype)
    gradient(X, anchors, frames_t, offsets, U, np.ascontiguousarray(weights.T), coef, width, G)
    return total, arg, wedge_loss, G
