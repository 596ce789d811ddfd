"""The m-tunnel of E4 on the analytic landscape: its subdivision, points and training.

The m - 1 simplex on m optima is cut by its barycentric subdivision; every face with two
or more vertices gets a free point (its centre the last row of a face table), trained by
gradient descent on the expected loss over Dirichlet(1) samples (the module docstring of
:mod:`landsim.experiments.e4_m_tunnels` gives the construction).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .. import geometry, paths
from .._checks import as_generator
from ..spec import LandscapeSpec

if TYPE_CHECKING:
    from .e4_m_tunnels import Config

__all__ = ["MAX_RESOLUTION", "expected_loss_and_grad", "face_sizes", "face_table",
           "flat_points", "grid_resolution", "mean_squared_face_weight", "subdivision_weights",
           "train_centre_only", "train_tunnel", "tunnel_points"]

#: Finest grid resolution along an edge (reached for m = 2 only).
MAX_RESOLUTION = 200


def grid_resolution(m: int, budget: int) -> int:
    """Largest resolution r <= MAX_RESOLUTION with C(r + m - 1, m - 1) <= budget (>= 1)."""
    r = 1
    while r < MAX_RESOLUTION and math.comb(r + m, m - 1) <= budget:
        r += 1
    return r


def face_sizes(m: int) -> np.ndarray:
    """Number of vertices of each face, indexed by its bit mask, shape (2^m,)."""
    return np.array([bin(mask).count("1") for mask in range(1 << m)], dtype=np.int64)


def face_table(vertices) -> np.ndarray:
    """Barycentres b_S of every face S of the simplex, indexed by bit mask, (2^m, D).

    Row 0 (the empty face) is 0; row 1 << i is vertex i.
    """
    v = np.asarray(vertices, dtype=np.float64)
    m = v.shape[0]
    member = (np.arange(1 << m)[:, None] >> np.arange(m)) & 1  # (2^m, m)
    sizes = np.maximum(member.sum(axis=1, keepdims=True), 1)
    return np.einsum("fm,md->fd", member / sizes, v)


def subdivision_weights(weights) -> sp.csr_matrix:
    """Weights of the face points of each sample, a sparse (N, 2^m) matrix.

    Row n holds k (lambda_(k) - lambda_(k+1)) at the mask of its top-k face S_k,
    k = 1 .. m (lambda sorted decreasingly, lambda_(m+1) = 0; ties broken by index). Its
    rows are non-negative and sum to 1; ``W @ face_table(v)`` is the flat simplex and
    the weight of the full face is m min(lambda) (:func:`landsim.paths.tunnel_centre_weights`).
    """
    lam = np.asarray(weights, dtype=np.float64)
    n, m = lam.shape
    order = np.argsort(-lam, axis=1, kind="stable")
    srt = np.take_along_axis(lam, order, axis=1)
    gaps = srt - np.concatenate([srt[:, 1:], np.zeros((n, 1))], axis=1)
    level = gaps * np.arange(1, m + 1)
    masks = np.bitwise_or.accumulate(np.left_shift(1, order), axis=1)
    return sp.csr_matrix((level.ravel(), masks.ravel(), np.arange(0, n * m + 1, m)),
                         shape=(n, 1 << m))


def tunnel_points(table, weights) -> np.ndarray:
    """Points of the subdivided tunnel with face points ``table`` (2^m, D), shape (N, D)."""
    return np.asarray(subdivision_weights(weights) @ np.asarray(table, dtype=np.float64))


def expected_loss_and_grad(spec: LandscapeSpec, table, weights) -> tuple[float, np.ndarray]:
    """Mean loss of the tunnel over the samples ``weights`` (N, m), and its gradient with
    respect to every face point, (2^m, D): mean_n W[n, S] grad L(x_n) (chain rule).

    The rows of the fixed vertices are returned too; the trainer ignores them.
    """
    W = subdivision_weights(weights)
    loss, grad = geometry.loss_and_grad(spec, np.asarray(W @ np.asarray(table)))
    # sparse products, not BLAS: a BLAS call between kernel calls makes the next
    # (threaded) kernel call wait for the BLAS worker threads
    return float(loss.mean()), np.asarray(W.T @ grad) / W.shape[0]


def mean_squared_face_weight(m: int) -> np.ndarray:
    """E[W_S^2] under Dirichlet(1) for every face S, shape (2^m,)."""
    sizes = face_sizes(m)
    return np.array([2.0 / (m * (m + 1) * math.comb(m, int(k))) if k else 1.0
                     for k in sizes])


def train_tunnel(spec: LandscapeSpec, vertices, cfg: Config, seed=0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Train every face point of >= 2 vertices from the flat simplex.

    Returns the face table (2^m, D) and the sampled expected loss before each update and
    after the last, shape (train_steps + 1,).
    """
    rng = as_generator(seed)
    table = face_table(vertices)
    m = table.shape[0].bit_length() - 1
    free = face_sizes(m) >= 2
    scale = (cfg.train_lr / (2.0 * mean_squared_face_weight(m)))[free, None]
    losses = np.empty(cfg.train_steps + 1)
    for step in range(cfg.train_steps + 1):
        value, grad = expected_loss_and_grad(
            spec, table, paths.simplex_dirichlet(m, cfg.train_samples, rng))
        losses[step] = value
        if step < cfg.train_steps:
            table[free] -= scale * grad[free]
    return table, losses


def flat_points(vertices, weights) -> np.ndarray:
    """sum_i lambda_i v_i, elementwise (no BLAS call inside training loops), (N, D)."""
    v = np.asarray(vertices, dtype=np.float64)
    lam = np.asarray(weights, dtype=np.float64)
    out = lam[:, :1] * v[0]
    for i in range(1, v.shape[0]):
        out += lam[:, i:i + 1] * v[i]
    return out


def train_centre_only(spec: LandscapeSpec, vertices, cfg: Config, seed=0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Train the free centre of :func:`landsim.paths.simplex_tunnel_points` alone.

    x = sum_i lambda_i v_i + w (c - g), w = m min(lambda); gradient mean_n w_n grad L(x_n).
    Returns the centre (D,) and the sampled expected loss per step (train_steps + 1,).
    """
    rng = as_generator(seed)
    v = np.asarray(vertices, dtype=np.float64)
    m = v.shape[0]
    g = v.mean(axis=0)
    centre = g.copy()
    scale = cfg.train_lr / (2.0 * 2.0 / (m * (m + 1)))
    losses = np.empty(cfg.train_steps + 1)
    for step in range(cfg.train_steps + 1):
        lam = paths.simplex_dirichlet(m, cfg.train_samples, rng)
        w = paths.tunnel_centre_weights(lam)
        loss, grad = geometry.loss_and_grad(spec, flat_points(v, lam)
                                            + w[:, None] * (centre - g))
        losses[step] = loss.mean()
        if step < cfg.train_steps:
            centre -= scale * np.einsum("n,nd->d", w, grad) / lam.shape[0]
    return centre, losses
