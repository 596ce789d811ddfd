"""Hessian-vector products of the landscape loss (the curvature primitive of E5/E7).

Away from kinks (|u_j| = w, r = 0, ties of the hard minimum) each wedge loss is
twice differentiable. With y = x - a, u = Q^T y, r the long radius, zhat = (y - Q u) / r,
the active set A = {j : |u_j| > w}, H = sum_A (|u_j| - w), uv = Q^T v,
zv = zhat . v and c_j = sign(u_j) uv_j - eps1 zv:

    H_k v = alpha y + beta v + Q (gamma - alpha u - beta uv)

with beta = -2 eps1 H / r, alpha = (-2 eps1 sum_A c_j + 2 eps1 H zv / r) / r and
gamma_j = 2 sign(u_j) c_j on A (0 elsewhere). The gradient has the same shape:
g_k = c y + Q t with c = -2 eps1 H / r and t = 2 h sign(u) - c u. The soft union adds
-(1/tau) (sum_k p_k g_k (g_k . v) - g (g . v)).

One kernel serves both frame kinds: axis wedges pass ``axes``/``offsets`` (by wedge)
and an empty ``frames_t``; rotated wedges pass ``frames_t`` (S, D) and ``offsets``.
The work is O(B * K * s) (axis) or O(B * K * s * D) (rotated), run in parallel over
points.
"""

from __future__ import annotations

import numpy as np

from ._jit import pjit, prange
from .union import combine_losses

__all__ = ["hvp"]


@pjit
def hvp(X, V, anchors, axes, frames_t, offsets, eps0, eps1, soft, tau):
    """Hessian of the landscape loss at each x_b times v_b.

    Parameters
    ----------
    X, V : float64 arrays, shape (B, D)
        Points and directions.
    anchors : float64 array, shape (0|1|K, D)
    axes : int64 array, shape (S,)
        Short axes by wedge (axis kind; empty for rotated).
    frames_t : float64 array, shape (S, D)
        Stacked Q_k^T (rotated kind; shape (0, D) for axis).
    offsets : int64 array, shape (K + 1,)
    eps0, eps1 : float64 arrays, shape (K,)
    soft : bool
    tau : float

    Returns
    -------
    HV : float64 array, shape (B, D)
    loss : float64 array, shape (B,)
        Landscape loss at each point (a by-product).
    """
    B, D = X.shape
    K = offsets.size - 1
    ka = anchors.shape[0]
    is_axis = frames_t.shape[0] == 0
    S = offsets[K]
    HV = np.zeros((B, D))
    total = np.empty(B)
    for b in prange(B):
        U = np.empty(S)
        UV = np.empty(S)
        T = np.empty(S)  # gradient short vector t per wedge
        W = np.empty(S)  # Hessian short vector per wedge
        cy = np.empty(K)  # gradient coefficient on y_k
        ay = np.empty(K)  # Hessian coefficient on y_k
        bv = np.empty(K)  # Hessian coefficient on v
        gv = np.empty(K)  # g_k . v
        wl = np.empty((1, K))
        yk = np.empty(D)
        for k in range(K):
            for d in range(D):
                yk[d] = X[b, d] - (anchors[0, d] if ka == 1 else
                                   (anchors[k, d] if ka > 1 else 0.0))
            ysq = 0.0
            yv = 0.0
            for d in range(D):
                ysq += yk[d] * yk[d]
                yv += yk[d] * V[b, d]
            usq = 0.0
            uuv = 0.0
            for j in range(offsets[k], offsets[k + 1]):
                if is_axis:
                    U[j] = yk[axes[j]]
                    UV[j] = V[b, axes[j]]
                else:
                    U[j] = np.dot(frames_t[j], yk)
                    UV[j] = np.dot(frames_t[j], V[b])
                usq += U[j] * U[j]
                uuv += U[j] * UV[j]
            r = np.sqrt(max(ysq - usq, 0.0))
            w = eps0[k] + eps1[k] * r
            inv_r = 1.0 / r if r > 0.0 else 0.0
            zv = (yv - uuv) * inv_r
            loss = 0.0
            H = 0.0
            csum = 0.0
            for j in range(offsets[k], offsets[k + 1]):
                h = abs(U[j]) - w
                sgn = 1.0 if U[j] > 0.0 else (-1.0 if U[j] < 0.0 else 0.0)
                if h > 0.0:
                    loss += h * h
                    H += h
                    c = sgn * UV[j] - eps1[k] * zv
                    csum += c
                    W[j] = 2.0 * sgn * c
                    T[j] = 2.0 * h * sgn
                else:
                    W[j] = 0.0
                    T[j] = 0.0
            wl[0, k] = loss
            c_y = -2.0 * eps1[k] * H * inv_r
            beta = c_y
            alpha = (-2.0 * eps1[k] * csum + 2.0 * eps1[k] * H * zv * inv_r) * inv_r
            g_dot_v = c_y * yv
            for j in range(offsets[k], offsets[k + 1]):
                T[j] -= c_y * U[j]
                g_dot_v += T[j] * UV[j]
                W[j] -= alpha * U[j] + beta * UV[j]
            cy[k] = c_y
            ay[k] = alpha
            bv[k] = beta
            gv[k] = g_dot_v
        tot, arg, weights = combine_losses(wl, soft, tau)
        total[b] = tot[0]
        p = weights[0]
        ggv = 0.0
        for k in range(K):
            ggv += p[k] * gv[k]
        # out = sum_k [ay_k' y_k + Q_k w_k'] + (sum_k p_k beta_k) v
        for k in range(K):
            if p[k] == 0.0:
                continue
            ycoef = p[k] * ay[k]
            tcoef = 0.0
            if soft:
                tcoef = p[k] * (ggv - gv[k]) / tau
                ycoef += tcoef * cy[k]
            for d in range(D):
                y = X[b, d] - (anchors[0, d] if ka == 1 else
                               (anchors[k, d] if ka > 1 else 0.0))
                HV[b, d] += ycoef * y + p[k] * bv[k] * V[b, d]
            for j in range(offsets[k], offsets[k + 1]):
                coefj = p[k] * W[j] + tcoef * T[j]
                if is_axis:
                    HV[b, axes[j]] += coefj
                else:
                    for d in range(D):
                        HV[b, d] += coefj * frames_t[j, d]
    return HV, total
