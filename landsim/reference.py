"""Slow, obviously right NumPy versions of every kernel: the test oracle.

Each function follows docs/model.md, section 1 literally, one wedge at a time, with no
attention to speed. Axis-aligned wedges gather their coordinates (u = y[:, I]);
rotated ones multiply by the dense frame (u = y Q).
"""

from __future__ import annotations

import numpy as np

from .spec import LandscapeSpec, WedgeSpec

__all__ = ["wedge_parts", "wedge_losses", "union", "loss", "gradient", "loss_and_gradient",
           "hvp", "project_onto_wedge"]


def _short(w: WedgeSpec, Y: np.ndarray) -> np.ndarray:
    return Y[:, w.short_axes] if w.kind == "axis" else Y @ w.short_frame


def _lift(w: WedgeSpec, U: np.ndarray) -> np.ndarray:
    """Q U^T as rows: (B, s) short coefficients -> (B, D) vectors."""
    if w.kind == "axis":
        out = np.zeros((U.shape[0], w.dim))
        out[:, w.short_axes] = U
        return out
    return U @ w.short_frame.T


def wedge_parts(w: WedgeSpec, X: np.ndarray) -> dict[str, np.ndarray]:
    """y (B, D), u (B, s), r (B,), w (B,), h (B, s) and loss (B,) of one wedge."""
    Y = np.asarray(X, dtype=np.float64) - w.anchor_or_origin()
    U = _short(w, Y)
    r = np.sqrt(np.maximum(np.sum(Y * Y, axis=1) - np.sum(U * U, axis=1), 0.0))
    width = w.eps0 + w.eps1 * r
    h = np.maximum(np.abs(U) - width[:, None], 0.0)
    return {"y": Y, "u": U, "r": r, "w": width, "h": h, "loss": np.sum(h * h, axis=1)}


def wedge_losses(spec: LandscapeSpec, X: np.ndarray) -> np.ndarray:
    """l_k(x_b), shape (B, K)."""
    return np.stack([wedge_parts(w, X)["loss"] for w in spec.wedges], axis=1)


def union(spec: LandscapeSpec, L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(total (B,), arg-min (B,), weights (B, K)) of per-wedge losses L (B, K)."""
    arg = np.argmin(L, axis=1)
    if spec.union == "hard":
        weights = np.zeros_like(L)
        weights[np.arange(L.shape[0]), arg] = 1.0
        return L[np.arange(L.shape[0]), arg], arg, weights
    m = L.min(axis=1, keepdims=True)
    e = np.exp(-(L - m) / spec.tau)
    total = m[:, 0] - spec.tau * np.log(e.mean(axis=1))
    return total, arg, e / e.sum(axis=1, keepdims=True)


def loss(spec: LandscapeSpec, X: np.ndarray) -> np.ndarray:
    """Landscape loss L(x_b), shape (B,)."""
    return union(spec, wedge_losses(spec, X))[0]


def wedge_gradient(w: WedgeSpec, X: np.ndarray) -> np.ndarray:
    """grad l_k at each point, shape (B, D)."""
    p = wedge_parts(w, X)
    H = p["h"].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        radial = np.where(p["r"] > 0, -2.0 * w.eps1 * H / p["r"], 0.0)
    z = p["y"] - _lift(w, p["u"])  # long component y - Q u
    return _lift(w, 2.0 * p["h"] * np.sign(p["u"])) + radial[:, None] * z


def gradient(spec: LandscapeSpec, X: np.ndarray) -> np.ndarray:
    """grad L at each point, shape (B, D): arg-min wedge (hard) or softmax mix (soft)."""
    weights = union(spec, wedge_losses(spec, X))[2]
    return sum(weights[:, [k]] * wedge_gradient(w, X) for k, w in enumerate(spec.wedges))


def loss_and_gradient(spec: LandscapeSpec, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L (B,), grad L (B, D)), computing only the wedge gradients the union needs.

    The same arithmetic as :func:`loss` and :func:`gradient`, vectorised over points
    wedge by wedge: the fair NumPy baseline of the benchmarks.
    """
    X = np.asarray(X, dtype=np.float64)
    total, _, weights = union(spec, wedge_losses(spec, X))
    G = np.zeros_like(X)
    for k, w in enumerate(spec.wedges):
        rows = np.nonzero(weights[:, k])[0]
        if rows.size:
            G[rows] += weights[rows, k, None] * wedge_gradient(w, X[rows])
    return total, G


def wedge_hvp(w: WedgeSpec, X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Hessian of l_k times V at each point (away from kinks), shape (B, D).

    With z = y - Q u the long component, zhat = z / r, active set A = {j : h_j > 0} and
    c_j = sign(u_j) q_j.v - eps1 zhat.v,
    H v = 2 sum_A c_j (sign(u_j) q_j - eps1 zhat) - 2 eps1 H (P v - zhat (zhat.v)) / r
    where P v = v - Q Q^T v.
    """
    p = wedge_parts(w, X)
    V = np.asarray(V, dtype=np.float64)
    z = p["y"] - _lift(w, p["u"])
    out = np.zeros_like(z)
    for b in range(z.shape[0]):
        r = p["r"][b]
        zhat = z[b] / r if r > 0 else np.zeros(w.dim)
        inv_r = 1.0 / r if r > 0 else 0.0
        qv = _short(w, V[b:b + 1])[0]
        zv = zhat @ V[b]
        active = p["h"][b] > 0
        sgn = np.sign(p["u"][b])
        c = sgn * qv - w.eps1 * zv
        short_part = np.where(active, sgn * c, 0.0)
        Pv = V[b] - _lift(w, qv[None])[0]
        out[b] = (2.0 * _lift(w, short_part[None])[0]
                  - 2.0 * w.eps1 * np.sum(np.where(active, c, 0.0)) * zhat
                  - 2.0 * w.eps1 * p["h"][b].sum() * inv_r * (Pv - zhat * zv))
    return out


def hvp(spec: LandscapeSpec, X: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Hessian of L times V at each point, shape (B, D).

    Hard union: the arg-min wedge's Hessian. Soft union:
    sum_k p_k H_k v - (1/tau) (sum_k p_k g_k (g_k.v) - g (g.v)).
    """
    weights = union(spec, wedge_losses(spec, X))[2]
    V = np.asarray(V, dtype=np.float64)
    hv = [wedge_hvp(w, X, V) for w in spec.wedges]
    out = sum(weights[:, [k]] * hv[k] for k in range(len(hv)))
    if spec.union == "soft":
        grads = [wedge_gradient(w, X) for w in spec.wedges]
        g = sum(weights[:, [k]] * grads[k] for k in range(len(grads)))
        outer = sum(weights[:, [k]] * np.sum(grads[k] * V, axis=1, keepdims=True) * grads[k]
                    for k in range(len(grads)))
        out = out - (outer - np.sum(g * V, axis=1, keepdims=True) * g) / spec.tau
    return out


def project_onto_wedge(w: WedgeSpec, X: np.ndarray) -> np.ndarray:
    """Clip each short coordinate to [-w, w] at the point's own radius, shape (B, D)."""
    p = wedge_parts(w, X)
    clipped = np.clip(p["u"], -p["w"][:, None], p["w"][:, None])
    return np.asarray(X, dtype=np.float64) + _lift(w, clipped - p["u"])
