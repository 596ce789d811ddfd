"""Per-point statistics of axis-aligned wedges by direct gathers (sparse landscapes).

When the wedges have few short axes in all (S = sum s_k small next to D), or few per
chunk of coordinates, copying every chunk transposed (:mod:`landsim.kernels.axis`) costs
more than it saves. Then each point is handled on its own: ||y||^2 from its row, and each
wedge's sums by gathering its s_k short coordinates from that row (which, for the sizes
where this path is chosen, mostly sits in cache). One pass over each row, and one more
over a wedge's axes only where that wedge's loss can be non-zero; for the hard union the
gradient of the point's arg-min wedge is written in the same visit.

Same outputs as :func:`landsim.kernels.axis.wedge_stats`; points are independent, so the
results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_finite, pjit, prange

__all__ = ["point_stats"]

PARALLEL_MIN = 1 << 15  # B * D below which points run serially


@jit_finite
def _sqdist(x, shift):
    """||x - shift||^2 (shift: empty = the origin), four interleaved partial sums."""
    D = x.size
    shifted = shift.size > 0
    s0 = s1 = s2 = s3 = 0.0
    n4 = D // 4 * 4
    for i in range(0, n4, 4):
        v0 = np.float64(x[i])
        v1 = np.float64(x[i + 1])
        v2 = np.float64(x[i + 2])
        v3 = np.float64(x[i + 3])
        if shifted:
            v0 -= shift[i]
            v1 -= shift[i + 1]
            v2 -= shift[i + 2]
            v3 -= shift[i + 3]
        s0 += v0 * v0
        s1 += v1 * v1
        s2 += v2 * v2
        s3 += v3 * v3
    for i in range(n4, D):
        v = np.float64(x[i]) - (shift[i] if shifted else 0.0)
        s0 += v * v
    return (s0 + s1) + (s2 + s3)


@jit_finite
def _hard_gradient(x, shift, axes, lo, hi, coef, width, g):
    """g = grad l_k(x) for the point's arg-min wedge k (axes[lo:hi], anchor ``shift``):
    coef (x - a) off the short axes, 2 relu(|u| - w) sign(u) on them."""
    if shift.size > 0:  # two plain loops (unsigned indices): both vectorise
        for d in range(np.uint64(0), np.uint64(x.size)):
            g[d] = coef * (np.float64(x[d]) - shift[d])
    else:
        for d in range(np.uint64(0), np.uint64(x.size)):
            g[d] = coef * np.float64(x[d])
    shifted = shift.size > 0
    for j in range(lo, hi):
        i = axes[j]
        u = np.float64(x[i]) - (shift[i] if shifted else 0.0)
        h = max(abs(u) - width, 0.0)
        g[i] = 2.0 * h if u > 0.0 else -2.0 * h


@jit_finite
def _point(x, anchors, axes, offsets, eps0, eps1, b, loss, radius, width, hsum, G):
    """All wedges' statistics of one point x (D,), into column b; returns ||y||^2. With
    G of shape (B, D), also writes the hard-union gradient into row b."""
    K = offsets.size - 1
    ka = anchors.shape[0]
    none = np.empty(0)
    ysq = _sqdist(x, anchors[0] if ka == 1 else none)
    for k in range(K):
        shift = anchors[k] if ka > 1 else (anchors[0] if ka == 1 else none)
        shifted = shift.size > 0
        yk = _sqdist(x, shift) if ka > 1 else ysq
        usq = 0.0
        mx = 0.0
        for j in range(offsets[k], offsets[k + 1]):
            i = axes[j]
            v = np.float64(x[i]) - (shift[i] if shifted else 0.0)
            usq += v * v
            mx = max(mx, abs(v))
        r = np.sqrt(max(yk - usq, 0.0))
        w = eps0[k] + eps1[k] * r
        lacc = 0.0
        hacc = 0.0
        if mx > w:
            for j in range(offsets[k], offsets[k + 1]):
                i = axes[j]
                v = np.float64(x[i]) - (shift[i] if shifted else 0.0)
                t = max(abs(v) - w, 0.0)
                lacc += t * t
                hacc += t
        loss[k, b] = lacc
        radius[k, b] = r
        width[k, b] = w
        hsum[k, b] = hacc
    if G.shape[0] > 0:
        best = 0  # the arg-min, lowest index on ties (as union.combine_losses)
        for k in range(1, K):
            if loss[k, b] < loss[best, b]:
                best = k
        coef = 0.0  # as axis.width_coefficient
        if radius[best, b] > 0.0:
            coef = -2.0 * eps1[best] * hsum[best, b] / radius[best, b]
        shift = anchors[best] if ka > 1 else (anchors[0] if ka == 1 else none)
        _hard_gradient(x, shift, axes, offsets[best], offsets[best + 1], coef,
                       width[best, b], G[b])
    return ysq


@pjit
def point_stats(X, anchors, axes, offsets, eps0, eps1, G):
    """Per-wedge statistics of a batch, point by point (and the hard-union gradient).

    Parameters
    ----------
    X : float32 or float64 array, shape (B, D)
    anchors : float64 array, shape (0|1|K, D)
    axes, offsets : short axes by wedge (see :mod:`landsim.kernels.axis`)
    eps0, eps1 : float64 arrays, shape (K,)
    G : array, shape (B, D) or (0, D)
        If (B, D), filled with the hard-union gradient grad l_{arg-min}(x_b) while each
        row is at hand (the same values as :func:`landsim.kernels.axis.gradient_hard`).

    Returns
    -------
    loss, radius, width, hsum : float64 arrays, shape (K, B)
    ysq : float64 array, shape (B,)
        ||x_b - a||^2 (origin or shared anchor; ||x_b||^2 for per-wedge anchors): non-finite
        when x_b holds a NaN or inf.
    """
    B, D = X.shape
    K = offsets.size - 1
    loss = np.empty((K, B))
    radius = np.empty((K, B))
    width = np.empty((K, B))
    hsum = np.empty((K, B))
    ysq = np.empty(B)
    if B * D < PARALLEL_MIN:
        for b in range(B):
            ysq[b] = _point(X[b], anchors, axes, offsets, eps0, eps1, b, loss, radius, width,
                            hsum, G)
    else:
        for b in prange(B):
            ysq[b] = _point(X[b], anchors, axes, offsets, eps0, eps1, b, loss, radius, width,
                            hsum, G)
    return loss, radius, width, hsum, ysq
