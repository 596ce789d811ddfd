"""Public batched geometry of a wedge-union landscape (docs/model.md, section 1).

Every function takes a :class:`~landsim.spec.LandscapeSpec` and a batch of points
X of shape (B, D) (or one point of shape (D,), in which case the batch axis is dropped
from the results), in float64 or float32. Losses come back as float64; gradients in
the dtype of X. The heavy lifting is done by the Numba kernels in
:mod:`landsim.kernels`; the arrays they need are packed once per spec and cached.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .kernels import axis as _axis
from .kernels import curvature as _curvature
from .kernels import rotated as _rotated
from .kernels.packing import PackedAxis, PackedRotated, pack_axis, pack_rotated
from .spec import LandscapeSpec

__all__ = [
    "Evaluation", "Membership", "Intersection",
    "as_batch", "evaluate", "loss", "wedge_losses", "argmin_wedge", "gradient",
    "loss_and_grad", "hvp", "directional_curvature", "membership", "project_onto_wedge",
    "intersection", "expected_short_count", "project_onto_intersection",
    "intersection_point",
]

_FLOAT_DTYPES = (np.float32, np.float64)
_cache: weakref.WeakKeyDictionary[LandscapeSpec, dict] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _packed(spec: LandscapeSpec) -> dict:
    """Kernel arrays for ``spec``, built once and cached while the spec lives."""
    with _cache_lock:
        entry = _cache.get(spec)
        if entry is None:
            entry = {"axis": pack_axis(spec)} if spec.kind == "axis" else {
                "rotated": pack_rotated(spec)}
            _cache[spec] = entry
        return entry


def _frames_t(spec: LandscapeSpec, dtype) -> np.ndarray:
    entry = _packed(spec)
    key = f"frames_{np.dtype(dtype).name}"
    if key not in entry:
        entry[key] = np.ascontiguousarray(entry["rotated"].frames_t, dtype=dtype)
    return entry[key]


def as_batch(spec: LandscapeSpec, X, name: str = "X", *, check_finite: bool = True
             ) -> tuple[np.ndarray, bool]:
    """Validate points: returns a C-contiguous (B, D) float array and whether X was 1-D.

    Raises ``ValueError`` naming the bad shape or value. ``check_finite=False`` leaves the
    NaN/inf check to the caller (:func:`require_finite`), for kernels that flag it anyway.
    """
    arr = np.asarray(X)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    if arr.dtype.type not in _FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != spec.dim:
        raise ValueError(f"{name} must have shape (B, {spec.dim}) or ({spec.dim},), "
                         f"got {np.shape(X)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least 1 point, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    if check_finite:
        require_finite(arr, name)
    return arr, single


def require_finite(arr: np.ndarray, name: str = "X") -> None:
    """Raise ``ValueError`` if ``arr`` holds a NaN or inf."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, found NaN or inf")


class Evaluation(NamedTuple):
    """Loss and gradient of a batch (shapes for B points, K wedges, dimension D)."""

    loss: np.ndarray  #: (B,) float64 landscape loss
    argmin: np.ndarray  #: (B,) int64 arg-min wedge, lowest index on ties
    wedge_losses: np.ndarray  #: (B, K) float64 per-wedge losses
    grad: np.ndarray | None  #: (B, D) gradient in X's dtype, or None


def evaluate(spec: LandscapeSpec, X, *, grad: bool = True,
             out: np.ndarray | None = None) -> Evaluation:
    """Loss, arg-min wedge, per-wedge losses and (optionally) the gradient.

    Parameters
    ----------
    spec : LandscapeSpec
    X : array, shape (B, D) or (D,)
    grad : bool
        Compute the gradient too.
    out : array, shape (B, D), optional
        Where to write the gradient (X's dtype, C-contiguous); saves the allocation of a
        fresh (B, D) array in loops.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        For a bad shape or dtype, or a NaN or inf in X (for axis-aligned landscapes the
        kernel flags that while it runs, so ``out`` may have been written).
    """
    Xb, single = as_batch(spec, X, check_finite=spec.kind != "axis")
    soft = spec.union == "soft"
    B, D = Xb.shape
    if out is not None:
        if not grad:
            raise ValueError("out is only used with grad=True")
        if (not isinstance(out, np.ndarray) or out.shape != Xb.shape or out.dtype != Xb.dtype
                or not out.flags.c_contiguous or not out.flags.writeable):
            raise ValueError(f"out must be a writeable C-contiguous {Xb.dtype} array of shape "
                             f"{Xb.shape}, got {type(out).__name__} "
                             f"{getattr(out, 'dtype', '')} {getattr(out, 'shape', '')}")
    if spec.kind == "axis":
        p: PackedAxis = _packed(spec)["axis"]
        G = (out if out is not None else np.empty_like(Xb)) if grad else np.empty((0, D),
                                                                                    Xb.dtype)
        total, arg, wl, ysq = _axis.loss_and_grad(Xb, *p, soft, spec.tau, G)
        if not np.all(np.isfinite(ysq)):  # the kernel's sums flag a NaN or inf in X
            require_finite(Xb)
    else:
        q: PackedRotated = _packed(spec)["rotated"]
        total, arg, wl, G = _rotated.loss_and_grad(
            Xb, q.anchors, _frames_t(spec, Xb.dtype), q.frame_anchor, q.offsets, q.eps0,
            q.eps1, soft, spec.tau, grad)
        if out is not None:
            out[...] = G
            G = out
    result = Evaluation(total, arg, wl, G if grad else None)
    if single:
        result = Evaluation(result.loss[0], result.argmin[0], result.wedge_losses[0],
                            None if result.grad is None else result.grad[0])
    return result


def loss(spec: LandscapeSpec, X) -> np.ndarray:
    """Landscape loss L(x), shape (B,)."""
    return evaluate(spec, X, grad=False).loss


def wedge_losses(spec: LandscapeSpec, X) -> np.ndarray:
    """Per-wedge losses l_k(x), shape (B, K)."""
    return evaluate(spec, X, grad=False).wedge_losses


def argmin_wedge(spec: LandscapeSpec, X) -> np.ndarray:
    """Index of the lowest-loss wedge, shape (B,)."""
    return evaluate(spec, X, grad=False).argmin


def loss_and_grad(spec: LandscapeSpec, X, out: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(L(x) of shape (B,), grad L(x) of shape (B, D)); ``out`` as in :func:`evaluate`."""
    ev = evaluate(spec, X, grad=True, out=out)
    return ev.loss, ev.grad


def gradient(spec: LandscapeSpec, X) -> np.ndarray:
    """grad L(x), shape (B, D)."""
    return evaluate(spec, X, grad=True).grad


def hvp(spec: LandscapeSpec, X, V) -> np.ndarray:
    """Hessian-vector products H(x_b) v_b, float64 of shape (B, D).

    Exact away from kinks (docs/model.md, section 1; formula in :mod:`landsim.kernels.curvature`).
    """
    Xb, single = as_batch(spec, X)
    Vb, _ = as_batch(spec, V, "V")
    if Vb.shape != Xb.shape:
        raise ValueError(f"V must have the shape of X {Xb.shape}, got {Vb.shape}")
    Xb, Vb = Xb.astype(np.float64, copy=False), Vb.astype(np.float64, copy=False)
    entry = _packed(spec)
    if spec.kind == "axis":
        p = entry["axis"]
        axes, offsets = p.axes, p.offsets
        frames_t = np.zeros((0, spec.dim))
    else:
        p = entry["rotated"]
        axes, offsets, frames_t = np.zeros(0, np.int64), p.offsets, p.frames_t
    HV, _ = _curvature.hvp(Xb, Vb, p.anchors, axes, frames_t, offsets, p.eps0, p.eps1,
                           spec.union == "soft", spec.tau)
    return HV[0] if single else HV


def directional_curvature(spec: LandscapeSpec, X, V) -> np.ndarray:
    """Second derivative of L along the unit direction v / ||v||, shape (B,)."""
    Xb, single = as_batch(spec, X)
    Vb, _ = as_batch(spec, V, "V")
    norms = np.linalg.norm(Vb, axis=1)
    if np.any(norms == 0):
        raise ValueError("V must be non-zero in every row")
    HV = hvp(spec, Xb, Vb)
    out = np.sum(HV * Vb, axis=1) / norms**2
    return out[0] if single else out


class Membership(NamedTuple):
    """Which wedges hold each point."""

    argmin: np.ndarray  #: (B,) int64 arg-min wedge
    inside: np.ndarray  #: (B, K) bool, l_k(x) <= tol


def membership(spec: LandscapeSpec, X, tol: float = 0.0) -> Membership:
    """Arg-min wedge and, per wedge, whether l_k(x) <= tol (tol >= 0)."""
    tol = float(tol)
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be in [0, inf[, got {tol!r}")
    ev = evaluate(spec, X, grad=False)
    return Membership(ev.argmin, ev.wedge_losses <= tol)


def _check_wedge_index(spec: LandscapeSpec, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (
            0 <= k < spec.n_wedges):
        raise ValueError(f"wedge index must be an integer in [0, {spec.n_wedges - 1}], "
                         f"got {k!r}")
    return int(k)


def project_onto_wedge(spec: LandscapeSpec, k: int, X) -> np.ndarray:
    """Clip the short coordinates of x to [-w, w] at x's own long radius.

    The long coordinates (and hence r and w) are unchanged, so the result lies in
    wedge k; it is the nearest such point (the exact Euclidean projection when
    eps1 = 0). Returns float64 of the shape of X.
    """
    k = _check_wedge_index(spec, k)
    Xb, single = as_batch(spec, X)
    w = spec.wedges[k]
    Y = Xb.astype(np.float64) - w.anchor_or_origin()
    U = Y[:, w.short_axes] if w.kind == "axis" else Y @ w.short_frame  # (B, s)
    r = np.sqrt(np.maximum(np.einsum("bd,bd->b", Y, Y) - np.einsum("bs,bs->b", U, U), 0))
    width = (w.eps0 + w.eps1 * r)[:, None]
    clipped = np.clip(U, -width, width)
    out = Xb.astype(np.float64, copy=True)
    if w.kind == "axis":  # assign, so that the clipped coordinates are exact
        out[:, w.short_axes] = clipped + w.anchor_or_origin()[w.short_axes]
    else:
        out += (clipped - U) @ w.short_frame.T
    return out[0] if single else out


@dataclass(frozen=True)
class Intersection:
    """The intersection of a set J of wedges that share an anchor.

    Attributes
    ----------
    wedges : tuple of int
        The set J.
    dim : int
        D.
    short_count : int
        Dimension of the span of all short directions of J.
    axes : ndarray of int, shape (short_count,), or None
        Union of the index sets (axis-aligned wedges).
    basis : ndarray of float, shape (D, short_count), or None
        Orthonormal basis of the short span (rotated wedges).
    anchor : ndarray of float, shape (D,)
    """

    wedges: tuple[int, ...]
    dim: int
    short_count: int
    axes: np.ndarray | None
    basis: np.ndarray | None
    anchor: np.ndarray

    @property
    def long_dim(self) -> int:
        """n_J = D - short_count."""
        return self.dim - self.short_count


def intersection(spec: LandscapeSpec, wedges: Sequence[int]) -> Intersection:
    """Short span and long dimension of the intersection of the wedges in J.

    Axis-aligned: the union of the index sets. Rotated: the numerical rank of the stacked
    frames (SVD, tolerance max(D, S) * eps * sigma_max).
    """
    J = tuple(_check_wedge_index(spec, k) for k in wedges)
    if not J:
        raise ValueError("wedges must name at least 1 wedge, got none")
    if len(set(J)) != len(J):
        raise ValueError(f"wedges must be distinct, got {list(J)}")
    anchor = spec.wedges[J[0]].anchor_or_origin()
    for k in J[1:]:
        if not np.array_equal(spec.wedges[k].anchor_or_origin(), anchor):
            raise ValueError(f"wedges {J[0]} and {k} have different anchors; intersections "
                             "are defined for wedges that share an anchor")
    if spec.kind == "axis":
        axes = np.unique(np.concatenate([spec.wedges[k].short_axes for k in J]))
        return Intersection(J, spec.dim, int(axes.size), axes, None, anchor)
    stacked = np.concatenate([spec.wedges[k].short_frame for k in J], axis=1)
    u, sv, _ = np.linalg.svd(stacked, full_matrices=False)
    tol = max(stacked.shape) * np.finfo(np.float64).eps * (sv[0] if sv.size else 0.0)
    rank = int(np.sum(sv > tol))
    return Intersection(J, spec.dim, rank, None, np.ascontiguousarray(u[:, :rank]), anchor)


def expected_short_count(dim: int, n_short: int, m: int) -> float:
    """E|union of m random s-subsets of D axes| = D (1 - (1 - s/D)^m)."""
    if dim < 1 or not 0 <= n_short <= dim or m < 0:
        raise ValueError(f"need dim >= 1, 0 <= n_short <= dim, m >= 0; got dim={dim}, "
                         f"n_short={n_short}, m={m}")
    return dim * (1.0 - (1.0 - n_short / dim) ** m)


def project_onto_intersection(spec: LandscapeSpec, wedges: Sequence[int], X) -> np.ndarray:
    """Zero the short coordinates of y = x - a over the whole intersection.

    The result has zero loss in every wedge of J (it lies on their common long
    subspace). Returns float64 of the shape of X.
    """
    inter = intersection(spec, wedges)
    Xb, single = as_batch(spec, X)
    Y = Xb.astype(np.float64) - inter.anchor
    if inter.axes is not None:
        Y[:, inter.axes] = 0.0
    else:
        Y -= (Y @ inter.basis) @ inter.basis.T
    out = Y + inter.anchor
    return out[0] if single else out


def intersection_point(spec: LandscapeSpec, wedges: Sequence[int], radius: float = 1.0,
                       seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """A random point of the intersection at distance ``radius`` from the anchor, (D,)."""
    radius = float(radius)
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be in ]0, inf[, got {radius!r}")
    inter = intersection(spec, wedges)
    if inter.long_dim == 0:
        raise ValueError(f"the intersection of wedges {list(inter.wedges)} has no long "
                         "direction; its only point is the anchor")
    rng = np.random.default_rng(seed)
    y = project_onto_intersection(spec, wedges, rng.standard_normal(spec.dim) + inter.anchor)
    y = y - inter.anchor
    return inter.anchor + radius * y / np.linalg.norm(y)
