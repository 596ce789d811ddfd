"""Training real networks in random low-dimensional subspaces (Li et al. 2018).

Weights are ``x = x0 + P z`` with x0 the initial network (P,) and P a fixed random
n_params x d projection; only z (d,) is trained.

:func:`make_projection`
    ``"dense"``: orthonormal columns (the draw of
    :func:`landsim.subspace.subspace_projection`, factorised by torch so that it keeps to
    ``torch.set_num_threads``); ``"sparse"``: the very sparse random projection of Li,
    Hastie & Church (2006) as a torch sparse matrix, for networks where a dense P would
    not fit; ``"auto"`` picks dense up to :data:`DENSE_MAX_ENTRIES` entries.
:func:`train_subspace`
    One run in a d-dimensional subspace.
:func:`intrinsic_dimension`
    Accuracy against d over a grid and ``d_int90``, the smallest d on the grid reaching
    90 % of the full-space accuracy (Li et al. 2018).
:class:`InSubspace`, :func:`in_subspace`, :func:`simplex_threshold`
    A path or m-tunnel whose free points move only in a random subspace,
    ``theta = theta0 + P z``, and the smallest d at which training it brings the tunnel's
    loss below a target (E4: threshold d against m).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .. import subspace as _subspace
from .._checks import as_generator, choice, int_at_least, real_in
from ..seeding import child, int_seed
from ._device import check_seed, resolve_device
from .curves import evaluate_simplex, fit_simplex, make_simplex
from .data import Dataset
from .flat import FlatModel
from .train import FitLog, TrainConfig, optimise, train

__all__ = [
    "PROJECTION_KINDS", "DENSE_MAX_ENTRIES", "Projection", "make_projection",
    "SubspaceRun", "train_subspace", "first_passing", "IntrinsicDimension",
    "intrinsic_dimension", "InSubspace", "in_subspace", "SimplexThreshold", "simplex_threshold",
]

#: Projection kinds of :func:`make_projection`.
PROJECTION_KINDS = ("auto", "dense", "sparse")
#: Largest n_params * d for which ``kind="auto"`` builds a dense projection.
DENSE_MAX_ENTRIES = 1 << 24


class Projection(nn.Module):
    """A fixed random linear map z (d,) -> P z (n_params,), dense or sparse.

    Attributes
    ----------
    matrix : Tensor, shape (n_params, d)
        Dense, or sparse COO (a buffer: moves with ``.to``).
    kind : {"dense", "sparse"}
    """

    matrix: torch.Tensor

    def __init__(self, matrix: torch.Tensor, kind: str) -> None:
        super().__init__()
        self.kind = choice("kind", kind, ("dense", "sparse"))
        self.register_buffer("matrix", matrix)

    @property
    def n_params(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def d(self) -> int:
        return int(self.matrix.shape[1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """P z, shape (n_params,), for z of shape (d,) (differentiable in z)."""
        if z.shape != (self.d,):
            raise ValueError(f"z must have shape ({self.d},), got {tuple(z.shape)}")
        if self.kind == "sparse":
            return torch.sparse.mm(self.matrix, z[:, None])[:, 0]
        return self.matrix @ z


def make_projection(n_params: int, d: int, kind: str = "auto", seed: int = 0, *,
                    dtype: torch.dtype = torch.float32, device: Any = "cpu") -> Projection:
    """A random n_params x d projection (see the module docstring).

    Parameters
    ----------
    n_params : int
        Dimension of weight space, >= 1.
    d : int
        Subspace dimension, in [1, n_params].
    kind : {"auto", "dense", "sparse"}
    seed : int
    dtype : torch.dtype
    device : {"cpu", "cuda"}

    Returns
    -------
    Projection
        Dense: orthonormal columns. Sparse: +-1 / sqrt(column count) entries, unit
        columns, nearly orthogonal for large n_params.
    """
    n_params = int_at_least("n_params", n_params, 1)
    d = _subspace.check_subspace_dim(d, n_params, dim_name="n_params")
    kind = choice("kind", kind, PROJECTION_KINDS)
    if kind == "auto":
        kind = "dense" if n_params * d <= DENSE_MAX_ENTRIES else "sparse"
    if kind == "dense":
        tensor = _orthonormal(n_params, d, check_seed(seed)).to(dtype)
    else:
        coo = _subspace.subspace_projection(n_params, d, kind, check_seed(seed)).tocoo()
        idx = torch.as_tensor(np.stack([coo.row, coo.col]).astype(np.int64))
        tensor = torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data, dtype=dtype),
                                         (n_params, d), check_invariants=True).coalesce()
    return Projection(tensor.to(resolve_device(device)), kind)


def _orthonormal(n_params: int, d: int, seed: int) -> torch.Tensor:
    """:func:`landsim.subspace.subspace_projection`'s dense draw (float64), its QR done by
    torch.

    The Gaussian matrix is the same numpy draw (:func:`landsim.subspace.gaussian_draw`,
    with the sign convention of :func:`landsim.subspace.orthonormal_frame`); the
    factorisation runs in torch, which
    keeps to ``torch.set_num_threads``: numpy's QR runs in OpenBLAS's own thread pool,
    which on a busy machine made it 10-60 times slower than one thread (a 3630 x 2000
    QR: 26 s against 2.3 s on 2 cores). Q with diag(R) > 0 is unique, so the result
    equals numpy's up to rounding.
    """
    gauss = torch.from_numpy(_subspace.gaussian_draw(n_params, d, as_generator(seed)))
    q, r = torch.linalg.qr(gauss)
    return q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(q.dtype)


class SubspaceRun(NamedTuple):
    """Result of one subspace training run."""

    d: int  #: subspace dimension
    z: torch.Tensor  #: (d,) final coordinates (CPU)
    flat: torch.Tensor  #: (P,) final weights x0 + P z (CPU)
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    log: FitLog  #: minibatch loss along the run


def _final_eval(fm: FlatModel, flat: torch.Tensor, data: Dataset) -> tuple[float, ...]:
    bufs = fm.bn_buffers(flat, data.x_train) if fm.has_batchnorm else None
    return (*fm.evaluate(flat, data.x_train, data.y_train, bufs),
            *fm.evaluate(flat, data.x_test, data.y_test, bufs))


def train_subspace(fm: FlatModel, dataset: Dataset, d: int | Projection,
                   config: TrainConfig | None = None, seed: int = 0, *,
                   x0: torch.Tensor | None = None, kind: str = "auto",
                   projection_seed: int | None = None) -> SubspaceRun:
    """Train z (from 0) in ``x = x0 + P z``; x0 and P stay fixed.

    Parameters
    ----------
    fm : FlatModel
        The network (not modified).
    dataset : Dataset
    d : int or Projection
        Subspace dimension (a projection is drawn), or a ready projection.
    config : TrainConfig, optional
        ``weight_decay`` acts on z.
    seed : int
        Seeds the minibatch order.
    x0 : Tensor, shape (P,), optional
        Offset; the module's current weights by default.
    kind : {"auto", "dense", "sparse"}
    projection_seed : int, optional
        Seeds P (default: ``seed``).

    Returns
    -------
    SubspaceRun
        Batch-norm networks are trained with batch statistics and evaluated with
        statistics recomputed at the final point.
    """
    config = config or TrainConfig()
    x0 = fm.get_flat() if x0 is None else fm.check_flat(x0, "x0")
    if isinstance(d, Projection):
        proj = d.to(fm.device)
        if proj.n_params != fm.n_params:
            raise ValueError(f"projection must have {fm.n_params} rows, got {proj.n_params}")
    else:
        pseed = seed if projection_seed is None else projection_seed
        proj = make_projection(fm.n_params, d, kind, pseed, dtype=fm.dtype, device=fm.device)
    data = dataset.to(fm.device)
    z = torch.zeros(proj.d, dtype=fm.dtype, device=fm.device, requires_grad=True)

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return fm.loss(x0 + proj(z), xb, yb, batch_stats=fm.has_batchnorm)

    log = optimise([z], batch_loss, data, config, seed)
    with torch.no_grad():
        flat = x0 + proj(z)
    return SubspaceRun(proj.d, z.detach().cpu(), flat.cpu(), *_final_eval(fm, flat, data), log)


def first_passing(dims: Sequence[int], passed: Sequence[bool]) -> int | None:
    """The smallest d in ``dims`` whose entry of ``passed`` is true, or None."""
    ok = [int(d) for d, p in zip(dims, passed) if p]
    return min(ok) if ok else None


class IntrinsicDimension(NamedTuple):
    """Accuracy against subspace dimension and d_int (Li et al. 2018)."""

    dims: np.ndarray  #: (K,) int64 subspace dimensions, increasing
    accuracy: np.ndarray  #: (K, R) accuracy (``metric`` split) of R runs per d
    train_loss: np.ndarray  #: (K, R)
    full_accuracy: float  #: accuracy of full-space training (``metric`` split)
    threshold: float  #: fraction * full_accuracy
    d_int: int | None  #: smallest d whose mean accuracy >= threshold (None: none on grid)
    metric: str  #: "train" or "test"
    fraction: float


def intrinsic_dimension(fm: FlatModel, dataset: Dataset, dims: Sequence[int],
                        config: TrainConfig | None = None, seed: int = 0, *,
                        full_accuracy: float | None = None, full_config: TrainConfig | None = None,
                        fraction: float = 0.9, metric: str = "test", n_runs: int = 1,
                        kind: str = "auto", x0: torch.Tensor | None = None
                        ) -> IntrinsicDimension:
    """Subspace training over a grid of d; d_int = smallest d reaching ``fraction`` of the
    full-space accuracy (``d_int90`` for fraction 0.9).

    Parameters
    ----------
    fm : FlatModel
        The network at its initialisation (not modified).
    dataset : Dataset
    dims : sequence of int
        Subspace dimensions to try (sorted and de-duplicated).
    config : TrainConfig, optional
        For the subspace runs.
    seed : int
        Root of every draw: the full-space reference run trains on ``child(seed, 0)``, run
        r at the i-th dimension of the grid on minibatches from ``child(seed, 1, r)`` and
        projection from ``child(seed, 2, r, i)`` (:func:`landsim.seeding.child`; no two
        share a stream).
    full_accuracy : float, optional
        Reference accuracy; otherwise a full-space run from x0 with ``full_config``
        (default ``config``) on a copy of the network.
    full_config : TrainConfig, optional
    fraction : float
        In ]0, 1].
    metric : {"train", "test"}
        Split whose accuracy is compared.
    n_runs : int
        Runs per d (accuracies are averaged for the criterion).
    kind : {"auto", "dense", "sparse"}
    x0 : Tensor, shape (P,), optional

    Returns
    -------
    IntrinsicDimension
    """
    config = config or TrainConfig()
    fraction = real_in("fraction", fraction, 0.0, 1.0, low_open=True, high_open=False)
    metric = choice("metric", metric, ("train", "test"))
    n_runs = int_at_least("n_runs", n_runs, 1)
    seed = check_seed(seed)
    grid = sorted({int_at_least("dims entry", d, 1) for d in dims})
    if not grid:
        raise ValueError("dims must hold at least one subspace dimension")
    x0 = fm.get_flat() if x0 is None else fm.check_flat(x0, "x0")
    if full_accuracy is None:
        twin = FlatModel(copy.deepcopy(fm.model), fm.device)
        res = train(twin, dataset, full_config or config, int_seed(child(seed, 0)), init=x0)
        full_accuracy = res.test_accuracy if metric == "test" else res.train_accuracy
    full_accuracy = real_in("full_accuracy", full_accuracy, 0.0, 1.0, high_open=False)
    acc = np.empty((len(grid), n_runs))
    loss = np.empty_like(acc)
    for i, d in enumerate(grid):
        for r in range(n_runs):
            run = train_subspace(fm, dataset, d, config, int_seed(child(seed, 1, r)), x0=x0,
                                 kind=kind, projection_seed=int_seed(child(seed, 2, r, i)))
            acc[i, r] = run.test_accuracy if metric == "test" else run.train_accuracy
            loss[i, r] = run.train_loss
    threshold = fraction * full_accuracy
    d_int = first_passing(grid, acc.mean(1) >= threshold)
    return IntrinsicDimension(np.asarray(grid, dtype=np.int64), acc, loss, full_accuracy,
                              threshold, d_int, metric, fraction)


# ------------------------------------------------------------------------ m-tunnels
class InSubspace(nn.Module):
    """A path or simplex whose free points move only in a random subspace.

    All trainable parameters of ``inner`` (a :class:`~landsim.real.curves.Path` or
    :class:`~landsim.real.curves.Simplex`), concatenated into theta (Q,), become
    ``theta = theta0 + P z`` with theta0 their current values and P a Q x d projection;
    only z (d,), starting at 0, is trainable. ``points`` evaluates ``inner`` at these
    parameters (``torch.func.functional_call``), so fixed points (ends, vertices) stay
    exact.

    Parameters
    ----------
    inner : Path or Simplex
        Its parameters are frozen (``requires_grad=False``) and used only as theta0.
    projection : Projection
        With Q rows.
    """

    theta0: torch.Tensor

    def __init__(self, inner: nn.Module, projection: Projection) -> None:
        super().__init__()
        named = [(n, p) for n, p in inner.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError(f"{type(inner).__name__} has no trainable parameters")
        q = sum(p.numel() for _, p in named)
        if not isinstance(projection, Projection) or projection.n_params != q:
            raise ValueError(f"projection must be a Projection with {q} rows (the free "
                             f"parameters of {type(inner).__name__})")
        self._names = [n for n, _ in named]
        self._shapes = [p.shape for _, p in named]
        self._sizes = [p.numel() for _, p in named]
        for _, p in named:
            p.requires_grad_(False)
        self.inner = inner
        self.register_buffer("theta0", torch.cat([p.detach().reshape(-1) for _, p in named]))
        self.projection = projection.to(self.theta0.device)
        self.z = nn.Parameter(torch.zeros(projection.d, dtype=self.theta0.dtype,
                                          device=self.theta0.device))

    def free_parameters(self) -> dict[str, torch.Tensor]:
        """The inner module's free parameters at theta0 + P z, keyed by name."""
        theta = self.theta0 + self.projection(self.z)
        parts = torch.split(theta, self._sizes)
        return {n: t.view(s) for n, t, s in zip(self._names, parts, self._shapes)}

    def points(self, arg: Any) -> torch.Tensor:
        """``inner.points(arg)`` at the subspace parameters (t (T,) or weights (N, m))."""
        return torch.func.functional_call(self.inner, self.free_parameters(), (arg,))

    def forward(self, arg: Any) -> torch.Tensor:
        return self.points(arg)

    # the fixed points of the inner path or simplex
    @property
    def m(self) -> int:
        return self.inner.m

    @property
    def vertices(self) -> torch.Tensor:
        return self.inner.vertices

    @property
    def start(self) -> torch.Tensor:
        return self.inner.start

    @property
    def end(self) -> torch.Tensor:
        return self.inner.end


def in_subspace(inner: nn.Module, d: int, kind: str = "auto", seed: int = 0) -> InSubspace:
    """Wrap a path or simplex so that its free points train in a random d-dim subspace."""
    q = sum(p.numel() for p in inner.parameters() if p.requires_grad)
    ref = next(inner.buffers())
    proj = make_projection(max(q, 1), d, kind, seed, dtype=ref.dtype, device=ref.device)
    return InSubspace(inner, proj)


class SimplexThreshold(NamedTuple):
    """Tunnel quality against the dimension of the free points' subspace."""

    dims: np.ndarray  #: (K,) int64 increasing
    max_train_loss: np.ndarray  #: (K,) max training loss on the barycentric grid
    train_barrier: np.ndarray  #: (K,) max excess over the vertex interpolation
    min_test_accuracy: np.ndarray  #: (K,)
    flat_max_train_loss: float  #: max training loss of the flat simplex
    flat_train_barrier: float  #: barrier of the flat simplex
    target_loss: float
    threshold_d: int | None  #: smallest d with max_train_loss <= target_loss


def simplex_threshold(fm: FlatModel, dataset: Dataset, vertices: torch.Tensor,
                      dims: Sequence[int], config: TrainConfig | None = None, seed: int = 0,
                      *, target_loss: float, simplex: str = "bezier", resolution: int = 4,
                      kind: str = "auto", samples_per_step: int = 1) -> SimplexThreshold:
    """Train an m-tunnel's free points in random subspaces of each d; smallest d that works.

    Parameters
    ----------
    fm : FlatModel
    dataset : Dataset
    vertices : Tensor, shape (m, P)
        Trained networks.
    dims : sequence of int
        Subspace dimensions (of the space of all free points).
    config : TrainConfig, optional
    seed : int
        Root of every draw: at the i-th dimension of the grid the projection comes from
        ``child(seed, 0, i)``; the minibatches and simplex samples come from
        ``child(seed, 1)`` at every d (common random numbers across the grid).
    target_loss : float
        > 0; success when the max training loss on the grid is at most this.
    simplex : {"bezier", "centre"}
        :class:`~landsim.real.curves.BezierSimplex` (edges bend) or
        :class:`~landsim.real.curves.SimplexTunnel` (straight edges, free centre), both
        starting from the flat simplex.
    resolution : int
        Of the evaluation grid :func:`landsim.paths.simplex_grid`.
    kind : {"auto", "dense", "sparse"}
    samples_per_step : int

    Returns
    -------
    SimplexThreshold
    """
    target_loss = real_in("target_loss", target_loss, 0.0, low_open=True)
    seed = check_seed(seed)
    grid = sorted({int_at_least("dims entry", d, 1) for d in dims})
    if not grid:
        raise ValueError("dims must hold at least one subspace dimension")
    vertices = vertices.to(fm.device, fm.dtype)
    flat_eval = evaluate_simplex(make_simplex(simplex, vertices), fm, dataset, resolution)
    fit_seed = int_seed(child(seed, 1))
    out = np.empty((3, len(grid)))
    for i, d in enumerate(grid):
        tunnel = in_subspace(make_simplex(simplex, vertices), d, kind,
                             int_seed(child(seed, 0, i)))
        fit_simplex(tunnel, fm, dataset, config, fit_seed, samples_per_step=samples_per_step)
        ev = evaluate_simplex(tunnel, fm, dataset, resolution)
        out[:, i] = ev.max_train_loss, ev.train_barrier, ev.min_test_accuracy
    return SimplexThreshold(np.asarray(grid, dtype=np.int64), out[0], out[1], out[2],
                            flat_eval.max_train_loss, flat_eval.train_barrier, target_loss,
                            first_passing(grid, out[0] <= target_loss))
