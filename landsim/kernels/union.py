"""Union of per-wedge losses: hard minimum or soft log-sum-exp (docs/model.md, section 1)."""

from __future__ import annotations

import numpy as np

from ._jit import jit

__all__ = ["combine_losses"]


@jit
def combine_losses(losses, soft, tau):
    """Combine per-wedge losses into the landscape loss.

    Parameters
    ----------
    losses : float64 array, shape (B, K)
        Per-wedge losses l_k(x_b).
    soft : bool
        Soft union when True, hard otherwise.
    tau : float
        Soft-union temperature (> 0).

    Returns
    -------
    total : float64 array, shape (B,)
        L(x_b): min_k l_k (hard) or -tau log mean_k exp(-l_k / tau) (soft).
    arg : int64 array, shape (B,)
        Arg-min wedge (lowest index on ties).
    weights : float64 array, shape (B, K)
        d L / d l_k: one-hot at the arg-min (hard), softmax(-l / tau) (soft).
    """
    B, K = losses.shape
    total = np.empty(B)
    arg = np.empty(B, dtype=np.int64)
    weights = np.zeros((B, K))
    for b in range(B):
        best = 0
        m = losses[b, 0]
        for k in range(1, K):
            if losses[b, k] < m:
                m = losses[b, k]
                best = k
        arg[b] = best
        if not soft:
            total[b] = m
            weights[b, best] = 1.0
        else:
            acc = 0.0
            for k in range(K):
                e = np.exp(-(losses[b, k] - m) / tau)
                weights[b, k] = e
                acc += e
            for k in range(K):
                weights[b, k] /= acc
            total[b] = m - tau * np.log(acc / K)
    return total, arg, weights
