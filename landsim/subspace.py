"""Random-subspace training (Li et al. 2018, *Measuring the intrinsic dimension of
objective landscapes*; docs/model.md, section 2).

:func:`subspace_projection` draws a D x d matrix P (dense with orthonormal columns, or
sparse); :func:`descend_in_subspace` optimises z only, with ``x = x0 + P z`` and gradient
``P^T grad L(x)``, running the optimisers of :mod:`landsim.descent` on the whole batch at
once; :func:`threshold_dimension` measures the success rate of such runs against d and
the smallest d whose rate reaches a required level.

Every function validates its inputs and raises ``ValueError`` naming the bad value and
the valid range. Randomness (starting points, projections, gradient noise) comes from a
:class:`numpy.random.Generator` built from ``seed``: the same seed gives bit-identical
results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._checks import as_generator, choice, int_at_least, real_in
from .descent import (
    DescentConfig,
    Trajectory,
    _config,
    _Map,
    _optimise,
    _points,
    _readonly,
    init_at_radius,
)
from .spec import LandscapeSpec, check_spec

__all__ = [
    "PROJECTION_KINDS", "SubspaceResult", "ThresholdResult", "subspace_projection",
    "check_subspace_dim", "gaussian_draw", "orthonormal_frame", "descend_in_subspace",
    "threshold_dimension",
]

#: Kinds of random projection made by :func:`subspace_projection`.
PROJECTION_KINDS = ("dense", "sparse")


# ------------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class SubspaceResult:
    """Outcome of :func:`descend_in_subspace` for B runs in d-dimensional subspaces.

    Attributes
    ----------
    final_loss : ndarray of float64, shape (B,)
        Landscape loss at the last point.
    reached : ndarray of bool, shape (B,)
        Whether the run reached ``target_loss``.
    steps : ndarray of int64, shape (B,)
        Updates applied to each run.
    final_x : ndarray of float64, shape (B, D)
        Last point ``x0 + P z``.
    final_z : ndarray of float64, shape (B, d)
        Last subspace coordinates.
    trajectory : Trajectory
        Records in weight space (radius and distance of x, not of z).
    """

    final_loss: np.ndarray
    reached: np.ndarray
    steps: np.ndarray
    final_x: np.ndarray
    final_z: np.ndarray
    trajectory: Trajectory

    @property
    def subspace_dim(self) -> int:
        """Dimension d of the subspace."""
        return int(self.final_z.shape[1])


@dataclass(frozen=True, eq=False)
class ThresholdResult:
    """Success rate of random-subspace training against the subspace dimension.

    Attributes
    ----------
    dims : ndarray of int64, shape (n_dims,)
        Subspace dimensions tried, increasing.
    success_rates : ndarray of float64, shape (n_dims,)
        Fraction of the ``n_seeds`` runs at each d that reached the target loss.
    threshold : int or None
        Smallest d with ``success_rates >= required_rate``; None if there is none.
    reached : ndarray of bool, shape (n_dims, n_seeds)
        Per run.
    final_loss : ndarray of float64, shape (n_dims, n_seeds)
        Per run.
    required_rate : float
        The rate a dimension must reach to count (0.9 by default, Li et al. 2018).
    """

    dims: np.ndarray
    success_rates: np.ndarray
    threshold: int | None
    reached: np.ndarray
    final_loss: np.ndarray
    required_rate: float

    @property
    def n_seeds(self) -> int:
        """Runs per dimension."""
        return int(self.reached.shape[1])


# ------------------------------------------------------------------------ projections
def _sparse_projection(dim: int, d: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Very sparse random projection (Li, Hastie & Church 2006; used by Li et al. 2018).

    Each entry is +-1 with probability 1 / (2 sqrt(D)) each, else 0; an empty column
    gets one random +-1 entry; columns are scaled to unit norm.
    """
    density = 1.0 / math.sqrt(dim)
    counts = np.maximum(rng.binomial(dim, density, size=d), 1)
    rows = np.concatenate([np.sort(rng.choice(dim, size=c, replace=False)) for c in counts])
    signs = rng.choice(np.array([-1.0, 1.0]), size=rows.size)
    data = signs / np.sqrt(np.repeat(counts, counts).astype(np.float64))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csc_matrix((data, rows, indptr), shape=(dim, d)).tocsr()


def subspace_projection(dim: int, d: int, kind: str = "dense",
                        seed: int | np.random.Generator | None = 0) -> np.ndarray | sp.csr_matrix:
    """A random D x d projection for subspace training (Li et al. 2018).

    Parameters
    ----------
    dim : int
        Dimension D, >= 1.
    d : int
        Subspace dimension, in [1, D].
    kind : {"dense", "sparse"}
        ``"dense"``: orthonormal columns, the Q factor of the QR decomposition of a
        Gaussian D x d matrix with signs fixed so that diag(R) > 0 (a uniformly random
        d-frame). ``"sparse"``: a scipy.sparse CSR matrix with entries +-1 with
        probability 1 / (2 sqrt(D)) each (density ~ 1 / sqrt(D)), columns normalised to
        unit norm (approximately orthogonal for large D); for large D.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    ndarray of float64, shape (D, d), or scipy.sparse.csr_matrix of shape (D, d)
    """
    dim = int_at_least("dim", dim, 1)
    d = check_subspace_dim(d, dim)
    kind = choice("kind", kind, PROJECTION_KINDS)
    rng = as_generator(seed)
    if kind == "sparse":
        return _sparse_projection(dim, d, rng)
    return orthonormal_frame(gaussian_draw(dim, d, rng))


def check_subspace_dim(d: Any, dim: int, dim_name: str = "dim") -> int:
    """The subspace dimension d of a D x d projection: an integer in [1, D].

    Parameters
    ----------
    d : int
        The candidate.
    dim : int
        Dimension D of the weight space.
    dim_name : str
        The name of D shown in the error (``"dim"``, ``"n_params"``).

    Returns
    -------
    int
    """
    d = int_at_least("d", d, 1)
    if d > dim:
        raise ValueError(f"d must be in [1, {dim_name}={dim}], got {d}")
    return d


def gaussian_draw(dim: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """The standard Gaussian matrix G whose QR gives the dense projection.

    Parameters
    ----------
    dim, d : int
        Shape of the projection.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape (D, d)
    """
    return rng.standard_normal((dim, d))


def orthonormal_frame(gauss: np.ndarray) -> np.ndarray:
    """Q of G = Q R with the sign convention diag(R) > 0 (unique, a uniformly random
    d-frame when G is Gaussian).

    Parameters
    ----------
    gauss : ndarray of float64, shape (D, d)
        d <= D.

    Returns
    -------
    ndarray of float64, shape (D, d)
        Orthonormal columns, C-contiguous.
    """
    q, r = np.linalg.qr(gauss)
    return np.ascontiguousarray(q * np.where(np.diag(r) < 0, -1.0, 1.0))


def _projection(P: Any, dim: int, name: str = "P") -> np.ndarray | sp.csr_matrix:
    """A validated float64 (D, d) projection, dense or CSR."""
    if sp.issparse(P):
        P = sp.csr_matrix(P, dtype=np.float64)
        values = P.data
    else:
        arr = np.asarray(P)
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be a real matrix, got dtype {arr.dtype}")
        P = values = np.ascontiguousarray(arr, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != dim or P.shape[1] < 1:
        raise ValueError(f"{name} must have shape (D={dim}, d) with d >= 1, got {P.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return P


def _projections(P: Any, dim: int) -> list:
    """One shared projection (a list of length 1) or one per run (a list of length B)."""
    if sp.issparse(P) or (isinstance(P, np.ndarray) and P.ndim == 2):
        return [_projection(P, dim)]
    if isinstance(P, np.ndarray) and P.ndim == 3:
        P = list(P)
    if not isinstance(P, (list, tuple)) or not P:
        raise ValueError("P must be a (D, d) matrix (dense or scipy.sparse), a (B, D, d) "
                         f"array or a non-empty sequence of (D, d) matrices, got {type(P)}")
    mats = [_projection(p, dim, f"P[{i}]") for i, p in enumerate(P)]
    if len({m.shape[1] for m in mats}) != 1:
        raise ValueError(f"all P matrices must have the same d, got {[m.shape for m in mats]}")
    if len({sp.issparse(m) for m in mats}) != 1:
        raise ValueError("P matrices must be all dense or all sparse")
    return mats


def _subspace_maps(mats: list, B: int) -> tuple[_Map, _Map]:
    """lift: Z (B, d) -> P Z (B, D) and pull: G (B, D) -> P^T G (B, d), row by row."""
    if len(mats) == 1 and not sp.issparse(mats[0]):
        P = mats[0]
        return (lambda Z: Z @ P.T), (lambda G: G @ P)
    if len(mats) == 1:
        P, PT = mats[0], mats[0].T.tocsr()
        return (lambda Z: np.ascontiguousarray((P @ Z.T).T)), (lambda G: (PT @ G.T).T)
    D, d = mats[0].shape
    if not sp.issparse(mats[0]):
        Ps = np.stack(mats)  # (B, D, d)
        return ((lambda Z: np.matmul(Ps, Z[:, :, None])[:, :, 0]),
                (lambda G: np.matmul(G[:, None, :], Ps)[:, 0, :]))
    Pb = sp.block_diag(mats, format="csr")  # (B D, B d)
    PbT = Pb.T.tocsr()
    return ((lambda Z: (Pb @ Z.ravel()).reshape(B, D)),
            (lambda G: (PbT @ G.ravel()).reshape(B, d)))


def _n_runs(x0: np.ndarray, mats: list, n_runs: Any) -> int:
    """The batch size implied by x0 (B, D), the per-run projections and ``n_runs``."""
    sizes = {"x0": x0.shape[0]} if x0.shape[0] > 1 else {}
    if len(mats) > 1:
        sizes["P"] = len(mats)
    if n_runs is not None:
        sizes["n_runs"] = int_at_least("n_runs", n_runs, 1)
    if len(set(sizes.values())) > 1:
        raise ValueError(f"x0, P and n_runs imply different numbers of runs: {sizes}")
    return next(iter(sizes.values()), 1)


def descend_in_subspace(spec: LandscapeSpec, x0: Any, P: Any,
                        config: DescentConfig | None = None,
                        seed: int | np.random.Generator | None = 0,
                        n_runs: int | None = None) -> SubspaceResult:
    """Train in a random subspace: optimise z only, with ``x = x0 + P z`` (z starts at 0).

    The gradient of z is ``P^T (grad L(x) + l2 x)`` plus noise (``config.noise_std``,
    drawn in z-space). All B runs advance together: one kernel call per step.

    Parameters
    ----------
    spec : LandscapeSpec
    x0 : array_like, shape (D,) or (B, D)
        Starting point(s) (one point is shared by every run).
    P : array (D, d), scipy.sparse matrix (D, d), array (B, D, d) or sequence of B (D, d)
        One projection shared by every run, or one per run (all dense or all sparse, with
        one d).
    config : DescentConfig, optional
        ``DescentConfig()`` by default.
    seed : int, numpy.random.Generator or None
        Seed of the gradient noise.
    n_runs : int, optional
        Number of runs B; needed only for several runs sharing x0 and P (which then
        differ by their noise). Must agree with x0 and P when they imply a B.

    Returns
    -------
    SubspaceResult
    """
    spec = check_spec(spec)
    cfg = _config(config)
    X0 = _points(spec, x0)
    mats = _projections(P, spec.dim)
    B = _n_runs(X0, mats, n_runs)
    X0 = np.ascontiguousarray(np.broadcast_to(X0, (B, spec.dim)))
    proj, pull = _subspace_maps(mats, B)
    Z0 = np.zeros((B, mats[0].shape[1]))
    traj, Z = _optimise(spec, Z0, lambda Z: X0 + proj(Z), pull, cfg, as_generator(seed))
    return SubspaceResult(final_loss=traj.final_loss, reached=traj.reached,
                          steps=traj.steps_taken, final_x=traj.final_x,
                          final_z=_readonly(Z), trajectory=traj)


# ------------------------------------------------------------------------ threshold
def _dims(dims: Any, dim: int) -> np.ndarray:
    arr = np.asarray(dims)
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
        raise ValueError(f"dims must be a non-empty 1-D sequence of integers, got {dims!r}")
    if np.any(arr < 1) or np.any(arr > dim):
        raise ValueError(f"dims must lie in [1, dim={dim}], got {arr.tolist()}")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"dims must be strictly increasing, got {arr.tolist()}")
    return arr.astype(np.int64)


def threshold_dimension(spec: LandscapeSpec, dims: Sequence[int], config: DescentConfig,
                        n_seeds: int = 10, radius: float = 1.0, success_rate: float = 0.9,
                        seed: int | np.random.Generator | None = 0,
                        kind: str = "dense") -> ThresholdResult:
    """Success rate of random-subspace training against d, and the threshold dimension.

    Seed i (of ``n_seeds``) draws a start uniformly on the sphere of ``radius`` about the
    origin and one projection with ``max(dims)`` columns; the run at dimension d uses the
    first d of those columns (still a random projection of its kind), so the subspaces of
    one seed are nested and every d sees the same starts (common random numbers: the
    rates vary less from one d to the next). At each d the ``n_seeds`` runs form one
    batch (:func:`descend_in_subspace` with one P per run). A run succeeds when it
    reaches ``config.target_loss``.

    Parameters
    ----------
    spec : LandscapeSpec
    dims : sequence of int, shape (n_dims,)
        Strictly increasing subspace dimensions, each in [1, D].
    config : DescentConfig
        Must set ``target_loss``.
    n_seeds : int
        Runs per dimension, >= 1.
    radius : float
        Distance of the starts from the origin, in ]0, inf[.
    success_rate : float
        Rate a dimension must reach, in ]0, 1].
    seed : int, numpy.random.Generator or None
        Source of starts, projections and noise.
    kind : {"dense", "sparse"}
        Projection kind (see :func:`subspace_projection`).

    Returns
    -------
    ThresholdResult
    """
    spec = check_spec(spec)
    cfg = _config(config)
    if cfg.target_loss is None:
        raise ValueError("threshold_dimension needs config.target_loss in [0, inf[, got None")
    dims = _dims(dims, spec.dim)
    n_seeds = int_at_least("n_seeds", n_seeds, 1)
    radius = real_in("radius", radius, 0.0, low_open=True)
    required = real_in("success_rate", success_rate, 0.0, 1.0, low_open=True, high_open=False)
    kind = choice("kind", kind, PROJECTION_KINDS)
    start_rng, proj_rng, noise_rng = as_generator(seed).spawn(3)
    X0 = init_at_radius(spec.dim, radius, n_seeds, start_rng)
    full = [subspace_projection(spec.dim, int(dims[-1]), kind, g)
            for g in proj_rng.spawn(n_seeds)]
    reached = np.zeros((dims.size, n_seeds), dtype=bool)
    final_loss = np.zeros((dims.size, n_seeds))
    for i, (d, noise) in enumerate(zip(dims, noise_rng.spawn(dims.size))):
        res = descend_in_subspace(spec, X0, [p[:, :d] for p in full], cfg, noise)
        reached[i], final_loss[i] = res.reached, res.final_loss
    rates = reached.mean(axis=1)
    ok = np.flatnonzero(rates >= required)
    return ThresholdResult(dims=_readonly(dims), success_rates=_readonly(rates),
                           threshold=int(dims[ok[0]]) if ok.size else None,
                           reached=_readonly(reached), final_loss=_readonly(final_loss),
                           required_rate=required)
