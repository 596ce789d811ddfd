"""Register-blocked inner loops of the axis-aligned kernels.

Each function handles one wedge's short axes inside one chunk of coordinates, for a
block of points, reading the chunk's transposed copy ``loc`` (flat, row ``i - e0`` holds
the ``nb`` points' values of coordinate i). The ``*8`` versions keep eight points'
accumulators in scalar variables that the SLP vectoriser packs into one vector register
(:func:`landsim.kernels._jit.jit_simd`), so the loop over the wedge's axes stores nothing;
the ``*1`` versions handle one point (the remainder of a block). The soft-union
gradient, which writes at every short axis anyway, is only written point by point.

Common arguments:

- ``loc`` : float64 array, shape (CHUNK * nb,), the chunk, minus a shared anchor;
- ``ub`` : uint64, nb, the points in the block (the row length of ``loc``);
- ``b0`` : uint64, the first point of the eight (or the one point) within the block;
- ``axes`` : int64 array, shape (S,), the short axes by wedge; this wedge's axes inside
  the chunk are ``axes[lo:hi]`` (uint64 bounds);
- ``e0`` : int, the chunk's first coordinate;
- ``arow`` : float64 array, shape (D,) or (0,): the wedge's own anchor (per-wedge
  anchors), or empty (none, or already subtracted);
- ``q`` : uint64, flat index of (wedge, first point) in the (K * B,) accumulators.

Indices are unsigned so that no negative-index wrap-around code blocks vectorisation.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_finite, jit_simd

__all__ = ["squares8", "squares1", "short8", "short1", "relu8", "relu1", "soft1"]

U1, U2, U3, U4, U5, U6, U7 = (np.uint64(i) for i in range(1, 8))


@jit_finite
def _add8(acc, q, a0, a1, a2, a3, a4, a5, a6, a7):
    """acc[q + i] += a_i for the eight lanes."""
    acc[q] += a0
    acc[q + U1] += a1
    acc[q + U2] += a2
    acc[q + U3] += a3
    acc[q + U4] += a4
    acc[q + U5] += a5
    acc[q + U6] += a6
    acc[q + U7] += a7


@jit_finite
def _max8(acc, q, m0, m1, m2, m3, m4, m5, m6, m7):
    """acc[q + i] = max(acc[q + i], m_i) for the eight lanes."""
    acc[q] = max(acc[q], m0)
    acc[q + U1] = max(acc[q + U1], m1)
    acc[q + U2] = max(acc[q + U2], m2)
    acc[q + U3] = max(acc[q + U3], m3)
    acc[q + U4] = max(acc[q + U4], m4)
    acc[q + U5] = max(acc[q + U5], m5)
    acc[q + U6] = max(acc[q + U6], m6)
    acc[q + U7] = max(acc[q + U7], m7)


@jit_simd
def squares8(loc, ub, b0, n, sq, q):
    """sq[q + b] += sum of loc[r nb + b0 + b]^2 over the chunk's n rows r, b < 8."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    for r in range(n):
        o = r * ub + b0
        v0 = loc[o]
        v1 = loc[o + U1]
        v2 = loc[o + U2]
        v3 = loc[o + U3]
        v4 = loc[o + U4]
        v5 = loc[o + U5]
        v6 = loc[o + U6]
        v7 = loc[o + U7]
        a0 += v0 * v0
        a1 += v1 * v1
        a2 += v2 * v2
        a3 += v3 * v3
        a4 += v4 * v4
        a5 += v5 * v5
        a6 += v6 * v6
        a7 += v7 * v7
    _add8(sq, q, a0, a1, a2, a3, a4, a5, a6, a7)


@jit_finite
def squares1(loc, ub, b0, n, sq, q):
    """:func:`squares8` for the one point b0."""
    a = 0.0
    for r in range(n):
        v = loc[r * ub + b0]
        a += v * v
    sq[q] += a


@jit_simd
def short8(loc, ub, b0, axes, lo, hi, e0, arow, usq, mx, q):
    """usq[q + b] += sum_j u_jb^2 and mx[q + b] = max(mx[q + b], max_j |u_jb|), b < 8."""
    anchored = arow.size > 0
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = 0.0
    for j in range(lo, hi):
        i = axes[j]
        o = np.uint64(i - e0) * ub + b0
        s = arow[i] if anchored else 0.0
        v0 = loc[o] - s
        v1 = loc[o + U1] - s
        v2 = loc[o + U2] - s
        v3 = loc[o + U3] - s
        v4 = loc[o + U4] - s
        v5 = loc[o + U5] - s
        v6 = loc[o + U6] - s
        v7 = loc[o + U7] - s
        a0 += v0 * v0
        a1 += v1 * v1
        a2 += v2 * v2
        a3 += v3 * v3
        a4 += v4 * v4
        a5 += v5 * v5
        a6 += v6 * v6
        a7 += v7 * v7
        m0 = max(m0, abs(v0))
        m1 = max(m1, abs(v1))
        m2 = max(m2, abs(v2))
        m3 = max(m3, abs(v3))
        m4 = max(m4, abs(v4))
        m5 = max(m5, abs(v5))
        m6 = max(m6, abs(v6))
        m7 = max(m7, abs(v7))
    _add8(usq, q, a0, a1, a2, a3, a4, a5, a6, a7)
    _max8(mx, q, m0, m1, m2, m3, m4, m5, m6, m7)


@jit_finite
def short1(loc, ub, b0, axes, lo, hi, e0, arow, usq, mx, q):
    """:func:`short8` for the one point b0."""
    anchored = arow.size > 0
    a = 0.0
    m = 0.0
    for j in range(lo, hi):
        i = axes[j]
        v = loc[np.uint64(i - e0) * ub + b0] - (arow[i] if anchored else 0.0)
        a += v * v
        m = max(m, abs(v))
    usq[q] += a
    mx[q] = max(mx[q], m)


@jit_simd
def relu8(loc, ub, b0, axes, lo, hi, e0, arow, width, lsum, hsum, q):
    """lsum[q + b] += sum_j relu(|u_jb| - w_b)^2, hsum[q + b] += sum_j relu(|u_jb| - w_b).

    ``width`` : float64 array, shape (K * B,), flat widths w.
    """
    anchored = arow.size > 0
    w0 = width[q]
    w1 = width[q + U1]
    w2 = width[q + U2]
    w3 = width[q + U3]
    w4 = width[q + U4]
    w5 = width[q + U5]
    w6 = width[q + U6]
    w7 = width[q + U7]
    l0 = l1 = l2 = l3 = l4 = l5 = l6 = l7 = 0.0
    h0 = h1 = h2 = h3 = h4 = h5 = h6 = h7 = 0.0
    for j in range(lo, hi):
        i = axes[j]
        o = np.uint64(i - e0) * ub + b0
        s = arow[i] if anchored else 0.0
        t0 = max(abs(loc[o] - s) - w0, 0.0)
        t1 = max(abs(loc[o + U1] - s) - w1, 0.0)
        t2 = max(abs(loc[o + U2] - s) - w2, 0.0)
        t3 = max(abs(loc[o + U3] - s) - w3, 0.0)
        t4 = max(abs(loc[o + U4] - s) - w4, 0.0)
        t5 = max(abs(loc[o + U5] - s) - w5, 0.0)
        t6 = max(abs(loc[o + U6] - s) - w6, 0.0)
        t7 = max(abs(loc[o + U7] - s) - w7, 0.0)
        l0 += t0 * t0
        l1 += t1 * t1
        l2 += t2 * t2
        l3 += t3 * t3
        l4 += t4 * t4
        l5 += t5 * t5
        l6 += t6 * t6
        l7 += t7 * t7
        h0 += t0
        h1 += t1
        h2 += t2
        h3 += t3
        h4 += t4
        h5 += t5
        h6 += t6
        h7 += t7
    _add8(lsum, q, l0, l1, l2, l3, l4, l5, l6, l7)
    _add8(hsum, q, h0, h1, h2, h3, h4, h5, h6, h7)


@jit_finite
def relu1(loc, ub, b0, axes, lo, hi, e0, arow, width, lsum, hsum, q):
    """:func:`relu8` for the one point b0."""
    anchored = arow.size > 0
    w = width[q]
    lacc = 0.0
    hacc = 0.0
    for j in range(lo, hi):
        i = axes[j]
        v = loc[np.uint64(i - e0) * ub + b0] - (arow[i] if anchored else 0.0)
        t = max(abs(v) - w, 0.0)
        lacc += t * t
        hacc += t
    lsum[q] += lacc
    hsum[q] += hacc


@jit_finite
def soft1(loc, gt, ub, b0, axes, lo, hi, e0, arow, width, weight, coef, q):
    """gt[o] += p (2 relu(|u| - w) sign(u) - c u) at each short axis, for the point b0.

    ``gt`` : float64 array, shape (CHUNK * nb,), the chunk of the gradient (transposed);
    ``width``, ``weight``, ``coef`` : float64 arrays, shape (K * B,): w, the union weight
    p = dL/dl_k and the width coefficient c.
    """
    anchored = arow.size > 0
    w = width[q]
    p = weight[q]
    c = coef[q]
    for j in range(lo, hi):
        i = axes[j]
        o = np.uint64(i - e0) * ub + b0
        u = loc[o] - (arow[i] if anchored else 0.0)
        t = max(abs(u) - w, 0.0)
        g = 2.0 * t if u > 0.0 else -2.0 * t
        gt[o] += p * (g - c * u)

