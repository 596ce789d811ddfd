"""Numba kernels for rotated wedges (dense orthonormal short frames).

Packed layout (see :mod:`landsim.kernels.packing`): ``frames_t`` (S, D) stacks the
transposed frames Q_k^T (rows ``offsets[k]:offsets[k + 1]``), in the dtype of X;
``frame_anchor`` (S,) holds Q_k^T a_k; ``anchors`` is (0|1|K, D) as for axis wedges.

The work is two products with the frames, done by the register-blocked loops of
:mod:`landsim.kernels.rotated_blocks` on Numba's thread pool:

- :func:`project`: U = X Frames^T (B, S), the short coordinates. Coordinates go in blocks
  of :data:`PROJECT_BLOCK`, so that the block of X stays in cache while the threads stream
  the frames' rows through it, four rows by four points at a time (every frame value
  read from memory serves the whole batch);
- :func:`back_project`: G[b] += sum_j V[b, j] F[j] over one wedge's rows, for the
  points whose gradient needs that wedge: every used wedge for the soft union, and for
  the hard union only each point's arg-min wedge (so the hard gradient costs 2 B s D
  flops, not 2 B S D).

The block layout depends on D and S only, so a point's results have the same bits
whatever other points share its batch, and whatever the number of threads.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, pjit, prange
from .rotated_blocks import axpy1, axpy8, axpy8x2, dot1x4, dot4x4, dot16x1
from .union import combine_losses

__all__ = ["PROJECT_BLOCK", "BACK_BLOCK", "PARALLEL_FLOPS", "project", "back_project",
           "squared_norms", "wedge_stats", "gradient", "loss_and_grad"]

#: Coordinates per block of the projection (the block of X, (B, 2048), stays in L2).
PROJECT_BLOCK = 2048
#: Longest run of coordinates one task of the back projection updates.
BACK_BLOCK = 2560
#: Products of fewer flops run on the calling thread: starting the thread pool costs
#: about as much as 1e6 flops on one core.
PARALLEL_FLOPS = 1 << 20


@jit
def _rows4(frames_t, j, Xp, b0, b1, d0, d1, UT):
    """Add rows j..j+3 times points b0..b1 (whole blocks of four), coordinates d0:d1."""
    f0 = frames_t[j, d0:d1]
    f1 = frames_t[j + 1, d0:d1]
    f2 = frames_t[j + 2, d0:d1]
    f3 = frames_t[j + 3, d0:d1]
    for b in range(b0, b1, 4):
        r = dot4x4(f0, f1, f2, f3, Xp[b, d0:d1], Xp[b + 1, d0:d1], Xp[b + 2, d0:d1],
                   Xp[b + 3, d0:d1], d1 - d0)
        for q in range(4):
            for p in range(4):
                UT[j + q, b + p] += r[4 * q + p]


@jit
def _project_task(t, frames_t, Xp, B, S16, S4, d0, d1, UT):
    """Task t of :func:`project` on coordinates d0:d1: a block of sixteen rows, of four
    rows, or one row (see there), times every point."""
    B4 = Xp.shape[0]
    Bfull = B // 4 * 4  # points in whole blocks of four
    if t < S16:
        j0 = 16 * t
        for j in range(j0, j0 + 16, 4):
            _rows4(frames_t, j, Xp, 0, Bfull, d0, d1, UT)
        for b in range(Bfull, B):  # left-over points: one pass each, no padding
            r16 = dot16x1(frames_t, j0, Xp[b, d0:d1], d0, d1)
            for i in range(16):
                UT[j0 + i, b] += r16[i]
    elif t < S16 + S4:
        _rows4(frames_t, 16 * S16 + 4 * (t - S16), Xp, 0, B4, d0, d1, UT)
    else:
        j = 16 * S16 + 4 * S4 + (t - S16 - S4)
        f0 = frames_t[j, d0:d1]
        for b in range(0, B4, 4):
            r = dot1x4(f0, Xp[b, d0:d1], Xp[b + 1, d0:d1], Xp[b + 2, d0:d1],
                       Xp[b + 3, d0:d1], d1 - d0)
            for p in range(4):
                UT[j, b + p] += r[p]


@pjit
def _project_parallel(frames_t, Xp, B, S16, S4, n_tasks, UT):
    """:func:`project`'s tasks on Numba's thread pool, one coordinate block at a time."""
    D = Xp.shape[1]
    for d0 in range(0, D, PROJECT_BLOCK):
        d1 = min(d0 + PROJECT_BLOCK, D)
        for t in prange(n_tasks):
            _project_task(t, frames_t, Xp, B, S16, S4, d0, d1, UT)


@jit
def project(X, frames_t):
    """Short coordinates before the anchor shift: U = X Frames^T.

    Tasks are blocks of sixteen frame rows (then blocks of four, then single rows) times
    all points, over one block of :data:`PROJECT_BLOCK` coordinates at a time; they run on
    the thread pool unless the product is below :data:`PARALLEL_FLOPS`.

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    frames_t : array of X's dtype, shape (S, D)

    Returns
    -------
    float64 array, shape (B, S)
        U[b, j] = sum_d X[b, d] frames_t[j, d], summed in float64.
    """
    B, D = X.shape
    S = frames_t.shape[0]
    B4 = (B + 3) // 4 * 4
    Xp = np.zeros((B4, D), dtype=X.dtype)  # the last block padded with zero points
    Xp[:B] = X
    UT = np.zeros((S, B4))
    S16 = S // 16
    S4 = (S - 16 * S16) // 4
    n_tasks = S16 + S4 + (S - 16 * S16 - 4 * S4)
    if 2.0 * B4 * S * D >= PARALLEL_FLOPS:
        _project_parallel(frames_t, Xp, B, S16, S4, n_tasks, UT)
    else:
        for d0 in range(0, D, PROJECT_BLOCK):
            for t in range(n_tasks):
                _project_task(t, frames_t, Xp, B, S16, S4, d0, min(d0 + PROJECT_BLOCK, D), UT)
    return np.ascontiguousarray(UT[:, :B].T)


@jit
def _back_run(frames_t, o0, s, V, rows, G, d0, d1):
    """:func:`back_project` on the coordinates d0:d1."""
    nr = rows.size
    n = d1 - d0
    s8 = s // 8 * 8
    for j in range(0, s8, 8):
        r = o0 + j
        f = (frames_t[r, d0:d1], frames_t[r + 1, d0:d1], frames_t[r + 2, d0:d1],
             frames_t[r + 3, d0:d1], frames_t[r + 4, d0:d1], frames_t[r + 5, d0:d1],
             frames_t[r + 6, d0:d1], frames_t[r + 7, d0:d1])
        q = 0
        while q + 2 <= nr:
            axpy8x2(G[rows[q], d0:d1], G[rows[q + 1], d0:d1], f, V[q], V[q + 1], j, n)
            q += 2
        if q < nr:
            axpy8(G[rows[q], d0:d1], f, V[q], j, n)
    for j in range(s8, s):
        f0 = frames_t[o0 + j, d0:d1]
        for q in range(nr):
            axpy1(G[rows[q], d0:d1], f0, V[q, j], n)


@jit
def back_project(frames_t, o0, s, V, rows, G):
    """Add one wedge's back projection to the rows of G.

    G[rows[q], :] += sum_j V[q, j] frames_t[o0 + j, :] for q < rows.size. The
    coordinates go in equal runs of at most :data:`BACK_BLOCK`, a multiple of four of
    them, shared among the threads (the sums run over j only, so the runs change no bits);
    below :data:`PARALLEL_FLOPS` the runs go one after another on the calling thread.

    Parameters
    ----------
    frames_t : float array, shape (S, D)
    o0, s : int
        The wedge's first row in ``frames_t`` and its number of rows.
    V : float64 array, shape (nr, s)
    rows : int64 array, shape (nr,)
        Distinct rows of G.
    G : float array, shape (B, D), updated in place
    """
    D = frames_t.shape[1]
    n_runs = ((D + BACK_BLOCK - 1) // BACK_BLOCK + 3) // 4 * 4  # shares evenly on 2 or 4
    per = ((D + n_runs - 1) // n_runs + 7) // 8 * 8
    if 2.0 * rows.size * s * D >= PARALLEL_FLOPS:
        _back_parallel(frames_t, o0, s, V, rows, G, n_runs, per)
    else:
        for t in range(n_runs):
            d0 = min(D, t * per)
            _back_run(frames_t, o0, s, V, rows, G, d0, min(D, d0 + per))


@pjit
def _back_parallel(frames_t, o0, s, V, rows, G, n_runs, per):
    """:func:`back_project`'s runs on Numba's thread pool."""
    D = frames_t.shape[1]
    for t in prange(n_runs):
        d0 = min(D, t * per)
        _back_run(frames_t, o0, s, V, rows, G, d0, min(D, d0 + per))


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
    U = project(X, frames_t)
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
        V = np.empty((rows.size, s))
        for q in range(rows.size):
            b = rows[q]
            for j in range(s):
                u = U[b, o0 + j]
                h = max(abs(u) - width[k, b], 0.0)
                t = 2.0 * h if u > 0.0 else -2.0 * h
                V[q, j] = weights[k, b] * (t - coef[k, b] * u)
        back_project(frames_t, o0, s, V, rows, G)


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
