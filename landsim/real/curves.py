"""Low-loss paths and m-tunnels between trained networks (mode connectivity).

Paths between two fixed end points a, b (flat vectors of shape (P,)), each a small
``torch.nn.Module`` whose trainable parameters are the free points:

:class:`Line`
    ``(1 - t) a + t b``; nothing to train (the straight-line baseline).
:class:`PolyChain`
    One-bend polygonal chain through a trainable bend point m, reached at t = 1/2
    (Garipov et al. 2018: ``a -> m`` for t in [0, 1/2], ``m -> b`` for t in [1/2, 1]).
    Unlike :func:`landsim.paths.chain` it is *not* parametrised by arc length.
:class:`Bezier`
    Quadratic Bezier curve ``(1 - t)^2 a + 2 t (1 - t) c + t^2 b`` with a trainable control
    point c, as :func:`landsim.paths.bezier`.
:class:`SimplexTunnel`
    An m-tunnel: a simplex with m fixed vertices (trained networks) and a trainable
    centre c, the piecewise-affine map of :func:`landsim.paths.simplex_tunnel_points`
    ``x(lambda) = sum_i lambda_i v_i + m min(lambda) (c - mean(v))``, the toy model's
    m-tunnel; its edges stay straight.
:class:`BezierSimplex`
    A quadratic Bezier simplex with a trainable control point per edge, so that the edges
    bend too (the simplex analogue of :class:`Bezier`; compare the simplicial complexes of
    Benton et al. 2021).

All of them reproduce their fixed points exactly (t = 0, t = 1, and the simplex
vertices). :func:`fit_curve` and :func:`fit_simplex` train the free points on the expected
loss over a uniform t in [0, 1] (or uniform barycentric weights, Dirichlet(1)), drawing a
new t for each minibatch (Garipov et al. 2018). :func:`evaluate_path` and
:func:`evaluate_simplex` evaluate train/test loss and accuracy on a grid and the barrier
of :func:`landsim.paths.barrier`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .. import paths as _paths
from .._checks import int_at_least
from ._device import torch_generator
from .data import Dataset
from .flat import FlatModel, evaluate_splits
from .train import FitLog, TrainConfig, optimise

__all__ = [
    "Path", "Line", "PolyChain", "Bezier", "CURVES", "make_curve", "Simplex", "SimplexTunnel",
    "BezierSimplex", "SIMPLICES", "make_simplex",
    "uniform_simplex_weights", "fit_curve", "fit_simplex", "PathEval", "SimplexEval",
    "evaluate_path", "evaluate_simplex",
]


def _flat(name: str, value: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.ndim != 1 or value.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor (a flat vector), got "
                         f"{type(value).__name__} {tuple(getattr(value, 'shape', ()))}")
    if like is not None and value.shape != like.shape:
        raise ValueError(f"{name} must have shape {tuple(like.shape)}, got {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return value.detach().clone()


def _t(t: Any, like: torch.Tensor) -> torch.Tensor:
    """t as a 1-D tensor of ``like``'s dtype/device (a scalar becomes shape (1,))."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    return t.reshape(-1)


class Path(nn.Module):
    """A path in weight space from ``start`` (t = 0) to ``end`` (t = 1).

    Subclasses implement :meth:`points`. ``start`` and ``end`` are buffers (fixed);
    trainable points are parameters.
    """

    start: torch.Tensor
    end: torch.Tensor

    def __init__(self, start: torch.Tensor, end: torch.Tensor) -> None:
        super().__init__()
        start = _flat("start", start)
        self.register_buffer("start", start)
        self.register_buffer("end", _flat("end", end, start).to(start.dtype))

    def points(self, t: Any) -> torch.Tensor:
        """Points gamma(t), shape (T, P), for t of shape (T,) in [0, 1]."""
        raise NotImplementedError

    def point(self, t: Any) -> torch.Tensor:
        """One point gamma(t), shape (P,), for a scalar t (differentiable)."""
        return self.points(t)[0]

    def forward(self, t: Any) -> torch.Tensor:
        return self.points(t)


class Line(Path):
    """Straight segment ``(1 - t) a + t b``, no trainable parameters."""

    def points(self, t: Any) -> torch.Tensor:
        t = _t(t, self.start)[:, None]
        return (1.0 - t) * self.start + t * self.end


class PolyChain(Path):
    """One-bend polygonal chain a -> bend (t = 1/2) -> b, with a trainable bend.

    Parameters
    ----------
    start, end : Tensor, shape (P,)
    bend : Tensor, shape (P,), optional
        Initial bend; the midpoint (a + b) / 2 by default (the straight line).
    """

    def __init__(self, start: torch.Tensor, end: torch.Tensor,
                 bend: torch.Tensor | None = None) -> None:
        super().__init__(start, end)
        init = (self.start + self.end) / 2 if bend is None else _flat("bend", bend, self.start)
        self.bend = nn.Parameter(init.to(self.start.dtype))

    def points(self, t: Any) -> torch.Tensor:
        t = _t(t, self.start)[:, None]
        first = t <= 0.5
        u = torch.where(first, 2.0 * t, 2.0 * t - 1.0)
        lo = torch.where(first, self.start, self.bend)  # (T, P)
        hi = torch.where(first, self.bend, self.end)
        return (1.0 - u) * lo + u * hi


class Bezier(Path):
    """Quadratic Bezier curve with a trainable control point.

    Parameters
    ----------
    start, end : Tensor, shape (P,)
    control : Tensor, shape (P,), optional
        Initial control point; (a + b) / 2 by default (the straight line).
    """

    def __init__(self, start: torch.Tensor, end: torch.Tensor,
                 control: torch.Tensor | None = None) -> None:
        super().__init__(start, end)
        init = ((self.start + self.end) / 2 if control is None
                else _flat("control", control, self.start))
        self.control = nn.Parameter(init.to(self.start.dtype))

    def points(self, t: Any) -> torch.Tensor:
        t = _t(t, self.start)[:, None]
        return ((1.0 - t) ** 2 * self.start + (2.0 * t * (1.0 - t)) * self.control
                + t**2 * self.end)


#: Path classes by name, for :func:`make_curve`.
CURVES = {"line": Line, "polychain": PolyChain, "bezier": Bezier}


def make_curve(kind: str, start: torch.Tensor, end: torch.Tensor) -> Path:
    """A path of ``kind`` ("line", "polychain", "bezier") initialised on the straight line."""
    if kind not in CURVES:
        raise ValueError(f"kind must be one of {tuple(CURVES)}, got {kind!r}")
    return CURVES[kind](start, end)


class Simplex(nn.Module):
    """An (m-1)-simplex of networks: m fixed vertices, trainable free points.

    Subclasses implement :meth:`points`; every one reproduces its vertices exactly.
    """

    vertices: torch.Tensor

    def __init__(self, vertices: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(vertices, torch.Tensor) or vertices.ndim != 2 or vertices.shape[0] < 2:
            raise ValueError(f"vertices must be a tensor of shape (m, P) with m >= 2, got "
                             f"{tuple(getattr(vertices, 'shape', ()))}")
        if not torch.isfinite(vertices).all():
            raise ValueError("vertices must be finite, found NaN or inf")
        self.register_buffer("vertices", vertices.detach().clone())

    @property
    def m(self) -> int:
        """Number of vertices."""
        return int(self.vertices.shape[0])

    def _weights(self, weights: Any) -> torch.Tensor:
        w = torch.as_tensor(weights, dtype=self.vertices.dtype, device=self.vertices.device)
        if w.ndim != 2 or w.shape[1] != self.m:
            raise ValueError(f"weights must have shape (N, {self.m}), got {tuple(w.shape)}")
        return w

    def points(self, weights: Any) -> torch.Tensor:
        """Points x(lambda), shape (N, P), for barycentric weights (N, m)."""
        raise NotImplementedError

    def forward(self, weights: Any) -> torch.Tensor:
        return self.points(weights)


class SimplexTunnel(Simplex):
    """An m-tunnel with a trainable centre, piecewise-affine in between.

    ``x(lambda) = lambda @ V + m min(lambda) (c - g)`` with g = mean of the vertices
    (:func:`landsim.paths.simplex_tunnel_points`, the toy model's m-tunnel). Its boundary
    is the flat simplex: the edges are the straight segments between vertices. With
    c = g it is the flat simplex.

    Parameters
    ----------
    vertices : Tensor, shape (m, P)
        The fixed vertices, m >= 2.
    centre : Tensor, shape (P,), optional
        Initial centre; the barycentre g by default.
    """

    barycentre: torch.Tensor

    def __init__(self, vertices: torch.Tensor, centre: torch.Tensor | None = None) -> None:
        super().__init__(vertices)
        self.register_buffer("barycentre", self.vertices.mean(0))
        init = self.barycentre.clone() if centre is None else _flat("centre", centre,
                                                                    self.vertices[0])
        self.centre = nn.Parameter(init.to(self.vertices.dtype))

    def points(self, weights: Any) -> torch.Tensor:
        w = self._weights(weights)
        lift = self.m * w.min(dim=1).values  # (N,)
        return w @ self.vertices + lift[:, None] * (self.centre - self.barycentre)


class BezierSimplex(Simplex):
    """Quadratic Bezier simplex: fixed vertices, one trainable control point per edge.

    ``x(lambda) = sum_i lambda_i^2 v_i + sum_{i<j} 2 lambda_i lambda_j c_ij``; for m = 2 it
    is the quadratic :class:`Bezier` curve, and every edge (lambda_k = 0 for the other k)
    is the Bezier curve between its two vertices. With ``c_ij = (v_i + v_j) / 2`` (the
    default) it is the flat simplex. Edges are ordered as ``itertools.combinations``.

    Parameters
    ----------
    vertices : Tensor, shape (m, P)
    controls : Tensor, shape (m (m - 1) / 2, P), optional
    """

    def __init__(self, vertices: torch.Tensor, controls: torch.Tensor | None = None) -> None:
        super().__init__(vertices)
        i, j = torch.triu_indices(self.m, self.m, offset=1)
        self.register_buffer("edge_i", i)
        self.register_buffer("edge_j", j)
        init = (self.vertices[i] + self.vertices[j]) / 2
        if controls is not None:
            if not isinstance(controls, torch.Tensor) or controls.shape != init.shape:
                raise ValueError(f"controls must have shape {tuple(init.shape)}, got "
                                 f"{tuple(getattr(controls, 'shape', ()))}")
            init = controls.detach().clone().to(init.dtype)
        self.controls = nn.Parameter(init)

    def points(self, weights: Any) -> torch.Tensor:
        w = self._weights(weights)
        pair = 2.0 * w[:, self.edge_i] * w[:, self.edge_j]  # (N, K)
        return (w * w) @ self.vertices + pair @ self.controls


#: Simplex classes by name, for :func:`make_simplex`.
SIMPLICES = {"centre": SimplexTunnel, "bezier": BezierSimplex}


def make_simplex(kind: str, vertices: torch.Tensor) -> Simplex:
    """An m-tunnel of ``kind`` ("centre", "bezier") initialised on the flat simplex."""
    if kind not in SIMPLICES:
        raise ValueError(f"kind must be one of {tuple(SIMPLICES)}, got {kind!r}")
    return SIMPLICES[kind](vertices)


def uniform_simplex_weights(m: int, n: int, generator: torch.Generator,
                            dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """n barycentric weights drawn uniformly on the (m-1)-simplex (Dirichlet(1)), (n, m)."""
    e = -torch.log1p(-torch.rand((n, m), generator=generator, dtype=torch.float64))
    return (e / e.sum(1, keepdim=True)).to(dtype)


# ------------------------------------------------------------------------ fitting
def _fit(module: nn.Module, sample, fm: FlatModel, dataset: Dataset, config: TrainConfig,
         seed: int, samples_per_step: int) -> FitLog:
    samples_per_step = int_at_least("samples_per_step", samples_per_step, 1)
    module.to(fm.device)
    data = dataset.to(fm.device)
    gen = torch_generator(seed)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(module).__name__} has no trainable parameters to fit")

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        pts = sample(samples_per_step, gen)  # (S, P)
        losses = [fm.loss(p, xb, yb, batch_stats=fm.has_batchnorm) for p in pts]
        return torch.stack(losses).mean()

    return optimise(params, batch_loss, data, config, seed)


def fit_curve(path: Path, fm: FlatModel, dataset: Dataset, config: TrainConfig | None = None,
              seed: int = 0, *, samples_per_step: int = 1) -> FitLog:
    """Train a path's free points on E_{t ~ U[0,1]} L(gamma(t)) (Garipov et al. 2018).

    Each minibatch step draws ``samples_per_step`` values of t (from a generator seeded
    with ``seed``) and averages the minibatch loss at gamma(t); batch-norm networks use
    the batch's statistics. ``config.weight_decay`` applies to the free points.

    Parameters
    ----------
    path : Path
        Modified in place (its parameters are trained; it is moved to ``fm.device``).
    fm : FlatModel
        The network; end points are flat vectors of its layout.
    dataset : Dataset
    config : TrainConfig, optional
    seed : int
    samples_per_step : int

    Returns
    -------
    FitLog
        The minibatch loss (averaged over t) along the run.
    """
    if not hasattr(path, "start") or not hasattr(path, "points"):
        raise ValueError(f"path must be a Path (or one reparametrised by "
                         f"landsim.real.subspace.InSubspace), got {type(path).__name__}")
    if path.start.shape != (fm.n_params,):
        raise ValueError(f"path end points must have shape ({fm.n_params},) to match the "
                         f"model, got {tuple(path.start.shape)}")

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        return path.points(torch.rand(n, generator=gen, dtype=torch.float64))

    return _fit(path, sample, fm, dataset, config or TrainConfig(), seed, samples_per_step)


def fit_simplex(tunnel: Simplex, fm: FlatModel, dataset: Dataset,
                config: TrainConfig | None = None, seed: int = 0, *,
                samples_per_step: int = 1) -> FitLog:
    """Train an m-tunnel's centre on the expected loss over uniform barycentric weights.

    As :func:`fit_curve`, with lambda ~ Dirichlet(1, ..., 1) instead of t ~ U[0, 1].

    Returns
    -------
    FitLog
    """
    if not hasattr(tunnel, "m") or not hasattr(tunnel, "vertices"):
        raise ValueError(f"tunnel must be a Simplex (or one reparametrised by "
                         f"landsim.real.subspace.InSubspace), got {type(tunnel).__name__}")
    if tunnel.vertices.shape[1] != fm.n_params:
        raise ValueError(f"tunnel vertices must have shape (m, {fm.n_params}) to match the "
                         f"model, got {tuple(tunnel.vertices.shape)}")

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        return tunnel.points(uniform_simplex_weights(tunnel.m, n, gen, tunnel.vertices.dtype))

    return _fit(tunnel, sample, fm, dataset, config or TrainConfig(), seed, samples_per_step)


# ------------------------------------------------------------------------ evaluation
class PathEval(NamedTuple):
    """Loss and accuracy along a path at T values of t, and its barriers."""

    t: np.ndarray  #: (T,) from 0 to 1
    train_loss: np.ndarray  #: (T,)
    train_accuracy: np.ndarray  #: (T,)
    test_loss: np.ndarray  #: (T,)
    test_accuracy: np.ndarray  #: (T,)
    train_barrier: float  #: landsim.paths.barrier of train_loss
    test_barrier: float  #: landsim.paths.barrier of test_loss
    train_error_barrier: float  #: barrier of the training error 1 - accuracy
    test_error_barrier: float  #: barrier of the test error


def evaluate_path(path: Path, fm: FlatModel, dataset: Dataset, t: Any = 21, *,
                  bn: bool = True, points_per_call: int = 8) -> PathEval:
    """Train/test loss and accuracy along a path, and its barriers.

    Parameters
    ----------
    path : Path
    fm : FlatModel
    dataset : Dataset
    t : int or array_like, shape (T,)
        Parameter values (see :func:`landsim.paths.as_t`); must include 0 and 1 first and
        last (an integer T gives T evenly spaced values).
    bn : bool
        Batch-norm networks: recompute the statistics at every point on the training
        inputs (default) rather than use the module's stored ones.
    points_per_call : int
        See :meth:`FlatModel.evaluate_points`.

    Returns
    -------
    PathEval
        The barrier is ``max_t [L(gamma(t)) - ((1 - t) L(a) + t L(b))]`` as in
        :func:`landsim.paths.barrier`.
    """
    t = _paths.as_t(t)
    with torch.no_grad():
        pts = path.points(torch.as_tensor(t)).to(fm.device)
    tr, te = evaluate_splits(fm, pts, dataset, bn=bn, points_per_call=points_per_call)
    return PathEval(t, tr.loss, tr.accuracy, te.loss, te.accuracy,
                    _paths.barrier(tr.loss, t), _paths.barrier(te.loss, t),
                    _paths.barrier(1.0 - tr.accuracy, t), _paths.barrier(1.0 - te.accuracy, t))


class SimplexEval(NamedTuple):
    """Loss and accuracy on a barycentric grid of an m-tunnel (N grid points)."""

    weights: np.ndarray  #: (N, m) barycentric weights (landsim.paths.simplex_grid)
    train_loss: np.ndarray  #: (N,)
    train_accuracy: np.ndarray  #: (N,)
    test_loss: np.ndarray  #: (N,)
    test_accuracy: np.ndarray  #: (N,)
    vertex_train_loss: np.ndarray  #: (m,) training loss at each vertex
    train_excess: np.ndarray  #: (N,) train_loss - weights @ vertex_train_loss
    train_barrier: float  #: max of train_excess (>= 0; the path barrier for m = 2)
    max_train_loss: float  #: max of train_loss over the grid
    min_test_accuracy: float  #: min of test_accuracy over the grid


def evaluate_simplex(tunnel: Simplex, fm: FlatModel, dataset: Dataset,
                     resolution: int = 4, *, bn: bool = True,
                     points_per_call: int = 8) -> SimplexEval:
    """Train/test loss and accuracy of an m-tunnel on the grid ``simplex_grid(m, resolution)``.

    The grid contains every vertex exactly; the excess over the barycentric
    interpolation of the vertex losses generalises the path barrier.

    Returns
    -------
    SimplexEval
    """
    w = _paths.simplex_grid(tunnel.m, resolution)
    with torch.no_grad():
        pts = tunnel.points(torch.as_tensor(w)).to(fm.device)
    tr, te = evaluate_splits(fm, pts, dataset, bn=bn, points_per_call=points_per_call)
    vertex_rows = [int(np.flatnonzero(w[:, i] == 1.0)[0]) for i in range(tunnel.m)]
    vloss = tr.loss[vertex_rows]
    excess = tr.loss - w @ vloss
    return SimplexEval(w, tr.loss, tr.accuracy, te.loss, te.accuracy, vloss, excess,
                       float(max(excess.max(), 0.0)), float(tr.loss.max()),
                       float(te.accuracy.min()))
