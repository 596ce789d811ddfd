"""Register-blocked inner loops of the rotated-frame kernels.

The rotated kernels are two products with the stacked transposed frames ``frames_t``
(S, D), whose rows are contiguous in D:

- projection: u[b, j] = sum_d X[b, d] F[j, d], four rows of F by four points at a time
  (:func:`dot4x4`): sixteen accumulators, each a vector register once LLVM vectorises the
  loop over d, so every loaded value of F serves four points and every value of X four
  rows. Summing in vector lanes reorders the sum over d, hence the ``reassoc`` flag; the
  order depends only on the slice length, so a point's result does not depend on which
  other points share its block. Points left over after the blocks of four take
  :func:`dot16x1` (sixteen rows, one point), which sums in the same order;
- back projection: g[d] += sum_j v[j] F[j, d] over one wedge's rows, eight rows at a time
  (:func:`axpy8`, :func:`axpy8x2`), which halves the passes over g against four rows
  and keeps eight streams of F going. The loop over d is element-wise and vectorises
  without reordering anything: each g[d] is summed in the order written, the same in both
  functions, so a point's gradient has the same bits whichever points share its wedge.

Row and point arguments (``f0..f3``, the tuple ``f``, ``x0..x3``, ``g``, ``h``) are 1-D
contiguous slices of equal length ``n`` (float32 or float64); coefficient rows ``v``,
``w`` are float64; products are formed in float64.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_reassoc

__all__ = ["dot4x4", "dot16x1", "dot1x4", "axpy8", "axpy8x2", "axpy1"]


@jit_reassoc
def dot4x4(f0, f1, f2, f3, x0, x1, x2, x3, n):
    """The 4 x 4 dot products of rows f0..f3 with points x0..x3 over ``n`` entries.

    Returns
    -------
    tuple of 16 float64
        (f0.x0, f0.x1, f0.x2, f0.x3, f1.x0, ..., f3.x3).
    """
    a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = 0.0
    a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = 0.0
    for d in range(n):
        p0 = np.float64(f0[d])
        p1 = np.float64(f1[d])
        p2 = np.float64(f2[d])
        p3 = np.float64(f3[d])
        q0 = np.float64(x0[d])
        q1 = np.float64(x1[d])
        q2 = np.float64(x2[d])
        q3 = np.float64(x3[d])
        a00 += p0 * q0
        a01 += p0 * q1
        a02 += p0 * q2
        a03 += p0 * q3
        a10 += p1 * q0
        a11 += p1 * q1
        a12 += p1 * q2
        a13 += p1 * q3
        a20 += p2 * q0
        a21 += p2 * q1
        a22 += p2 * q2
        a23 += p2 * q3
        a30 += p3 * q0
        a31 += p3 * q1
        a32 += p3 * q2
        a33 += p3 * q3
    return (a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)


@jit_reassoc
def dot16x1(F, j, x, d0, d1):
    """The dot products of rows j..j+15 of F, coordinates d0:d1, with one point x.

    For a point left over after the blocks of four: sixteen accumulators make the same
    loop as :func:`dot4x4` (vector width, lanes, tail and final reduction), so each sum has
    the very bits :func:`dot4x4` gives it (tests check this), at a quarter of the work of a
    block padded with zero points.

    Parameters
    ----------
    F : float array, shape (S, D)
    j : int, the first of the sixteen rows
    x : float array, shape (d1 - d0,), the point's coordinates d0:d1

    Returns
    -------
    tuple of 16 float64
    """
    f0 = F[j, d0:d1]
    f1 = F[j + 1, d0:d1]
    f2 = F[j + 2, d0:d1]
    f3 = F[j + 3, d0:d1]
    f4 = F[j + 4, d0:d1]
    f5 = F[j + 5, d0:d1]
    f6 = F[j + 6, d0:d1]
    f7 = F[j + 7, d0:d1]
    f8 = F[j + 8, d0:d1]
    f9 = F[j + 9, d0:d1]
    f10 = F[j + 10, d0:d1]
    f11 = F[j + 11, d0:d1]
    f12 = F[j + 12, d0:d1]
    f13 = F[j + 13, d0:d1]
    f14 = F[j + 14, d0:d1]
    f15 = F[j + 15, d0:d1]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    a8 = a9 = a10 = a11 = a12 = a13 = a14 = a15 = 0.0
    for d in range(d1 - d0):
        q = np.float64(x[d])
        a0 += np.float64(f0[d]) * q
        a1 += np.float64(f1[d]) * q
        a2 += np.float64(f2[d]) * q
        a3 += np.float64(f3[d]) * q
        a4 += np.float64(f4[d]) * q
        a5 += np.float64(f5[d]) * q
        a6 += np.float64(f6[d]) * q
        a7 += np.float64(f7[d]) * q
        a8 += np.float64(f8[d]) * q
        a9 += np.float64(f9[d]) * q
        a10 += np.float64(f10[d]) * q
        a11 += np.float64(f11[d]) * q
        a12 += np.float64(f12[d]) * q
        a13 += np.float64(f13[d]) * q
        a14 += np.float64(f14[d]) * q
        a15 += np.float64(f15[d]) * q
    return (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15)


@jit_reassoc
def dot1x4(f0, x0, x1, x2, x3, n):
    """The dot products of one row f0 with points x0..x3: a tuple of 4 float64."""
    a0 = a1 = a2 = a3 = 0.0
    for d in range(n):
        p0 = np.float64(f0[d])
        a0 += p0 * np.float64(x0[d])
        a1 += p0 * np.float64(x1[d])
        a2 += p0 * np.float64(x2[d])
        a3 += p0 * np.float64(x3[d])
    return (a0, a1, a2, a3)


@jit
def axpy8(g, f, v, j, n):
    """g[d] += sum_c v[j + c] f[c][d] over the eight rows c < 8, for d < n (one point).

    ``f`` is a tuple of eight row slices; the eight terms are added in order.
    """
    v0, v1, v2, v3 = v[j], v[j + 1], v[j + 2], v[j + 3]
    v4, v5, v6, v7 = v[j + 4], v[j + 5], v[j + 6], v[j + 7]
    f0, f1, f2, f3, f4, f5, f6, f7 = f
    for d in range(n):
        g[d] += (v0 * np.float64(f0[d]) + v1 * np.float64(f1[d]) + v2 * np.float64(f2[d])
                 + v3 * np.float64(f3[d]) + v4 * np.float64(f4[d]) + v5 * np.float64(f5[d])
                 + v6 * np.float64(f6[d]) + v7 * np.float64(f7[d]))


@jit
def axpy8x2(g, h, f, v, w, j, n):
    """:func:`axpy8` for two points (rows v and w of the coefficients) at once.

    Each loaded value of the eight rows serves both points; each point gets the same
    operations in the same order as :func:`axpy8` would give it.
    """
    v0, v1, v2, v3 = v[j], v[j + 1], v[j + 2], v[j + 3]
    v4, v5, v6, v7 = v[j + 4], v[j + 5], v[j + 6], v[j + 7]
    w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
    w4, w5, w6, w7 = w[j + 4], w[j + 5], w[j + 6], w[j + 7]
    f0, f1, f2, f3, f4, f5, f6, f7 = f
    for d in range(n):
        p0 = np.float64(f0[d])
        p1 = np.float64(f1[d])
        p2 = np.float64(f2[d])
        p3 = np.float64(f3[d])
        p4 = np.float64(f4[d])
        p5 = np.float64(f5[d])
        p6 = np.float64(f6[d])
        p7 = np.float64(f7[d])
        g[d] += (v0 * p0 + v1 * p1 + v2 * p2 + v3 * p3 + v4 * p4 + v5 * p5 + v6 * p6
                 + v7 * p7)
        h[d] += (w0 * p0 + w1 * p1 + w2 * p2 + w3 * p3 + w4 * p4 + w5 * p5 + w6 * p6
                 + w7 * p7)


@jit
def axpy1(g, f0, v0, n):
    """g[d] += v0 f0[d] for d < n (the rows left over after the blocks of eight)."""
    for d in range(n):
        g[d] += v0 * np.float64(f0[d])
