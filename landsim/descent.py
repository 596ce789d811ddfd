"""Optimisers, trajectories and random-subspace training (MODEL.md section 2).

Everything here runs on a *batch* of independent runs at once: one optimisation step is
one call of :func:`landsim.geometry.evaluate` (loss, arg-min wedge and gradient of the
whole batch, the same kernel call as :func:`landsim.geometry.loss_and_grad`) followed by
array arithmetic on all runs together. There is no Python loop over runs.

Optimisers (:class:`DescentConfig`)
    ``"gd"`` gradient descent, ``"sgd"`` gradient descent on a gradient plus Gaussian
    noise, ``"momentum"`` heavy-ball momentum, ``"adam"`` Adam (Kingma & Ba 2015); an
    optional L2 penalty ``l2 * ||x||^2 / 2`` and an optional early stop at a target
    landscape loss.
Trajectories
    :func:`descend` records, every ``record_every`` steps and at the end, the landscape
    loss, the radius ``||x||``, the distance from the start and the arg-min wedge of every
    run (a :class:`Trajectory`).
Random-subspace training (Li et al. 2018, *Measuring the intrinsic dimension of
objective landscapes*)
    :func:`subspace_projection` draws a D x d matrix P (dense with orthonormal columns, or
    sparse); :func:`descend_in_subspace` optimises z only, with ``x = x0 + P z`` and
    gradient ``P^T grad L(x)``; :func:`threshold_dimension` measures the success rate of
    such runs against d and the smallest d whose rate reaches a required level.

Every function validates its inputs and raises ``ValueError`` naming the bad value and
the valid range. Randomness (gradient noise, starting points, projections) comes from a
:class:`numpy.random.Generator` built from ``seed``: the same seed gives bit-identical
results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import geometry
from ._checks import as_generator, check_spec, choice, int_at_least, real_in
from .spec import LandscapeSpec

__all__ = [
    "OPTIMIZERS", "PROJECTION_KINDS",
    "DescentConfig", "Trajectory", "SubspaceResult", "ThresholdResult",
    "init_at_radius", "descend", "subspace_projection", "descend_in_subspace",
    "threshold_dimension",
]

#: Optimisers understood by :class:`DescentConfig`.
OPTIMIZERS = ("gd", "sgd", "momentum", "adam")
#: Kinds of random projection made by :func:`subspace_projection`.
PROJECTION_KINDS = ("dense", "sparse")

# A map from the optimised variables Z (B, p) to points X (B, D) or back for gradients.
_Map = Callable[[np.ndarray], np.ndarray]
#: ``callback(step, losses)`` of :func:`descend`: losses (B,); False stops the run.
StepCallback = Callable[[int, np.ndarray], "bool | None"]
#: ``on_record(step, loss, radius, distance, argmin)`` of :func:`descend`, arrays (B,).
RecordCallback = Callable[[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray], "bool | None"]


# ------------------------------------------------------------------------ validation

def _points(spec: LandscapeSpec, x0: Any, name: str = "x0") -> np.ndarray:
    """Validated starting points as a float64 (B, D) array (a private copy)."""
    arr, _ = geometry.as_batch(spec, x0, name)
    return np.array(arr, dtype=np.float64)


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def _validate_config(cfg: DescentConfig) -> dict[str, Any]:
    """Check every field of a :class:`DescentConfig`; returns the canonical values."""
    betas = cfg.betas
    if not isinstance(betas, (tuple, list, np.ndarray)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    target = cfg.target_loss
    return dict(
        optimizer=choice("optimizer", cfg.optimizer, OPTIMIZERS),
        lr=real_in("lr", cfg.lr, 0.0, low_open=True),
        steps=int_at_least("steps", cfg.steps, 1),
        noise_std=real_in("noise_std", cfg.noise_std, 0.0),
        momentum=real_in("momentum", cfg.momentum, 0.0, 1.0),
        betas=(real_in("betas[0]", betas[0], 0.0, 1.0), real_in("betas[1]", betas[1], 0.0, 1.0)),
        eps=real_in("eps", cfg.eps, 0.0, low_open=True),
        l2=real_in("l2", cfg.l2, 0.0),
        target_loss=None if target is None else real_in("target_loss", target, 0.0),
        record_every=int_at_least("record_every", cfg.record_every, 1),
    )


@dataclass(frozen=True)
class DescentConfig:
    """Settings of one optimiser; validated on construction (all errors are ValueError).

    Parameters
    ----------
    optimizer : {"gd", "sgd", "momentum", "adam"}
        Update rule. With g the (noisy, penalised) gradient:
        ``"gd"`` and ``"sgd"``: ``x -= lr g`` (``"sgd"`` names the noisy case; both add
        noise when ``noise_std > 0``, so ``"sgd"`` with ``noise_std = 0`` is plain GD);
        ``"momentum"``: ``v = momentum v + g; x -= lr v`` (heavy ball, as in PyTorch);
        ``"adam"``: Adam with bias correction, ``betas`` and ``eps``.
    lr : float
        Step size, in ]0, inf[.
    steps : int
        Most updates per run, >= 1.
    noise_std : float
        Standard deviation of the i.i.d. Gaussian noise added to every coordinate of the
        gradient of the optimised variables (x, or z in a subspace), in [0, inf[.
    momentum : float
        Heavy-ball coefficient beta of ``"momentum"``, in [0, 1[.
    betas : (float, float)
        Adam's decay rates (beta1, beta2), each in [0, 1[.
    eps : float
        Adam's denominator guard, in ]0, inf[.
    l2 : float
        L2 coefficient lambda in [0, inf[: the optimised loss is
        ``L(x) + lambda ||x||^2 / 2``, its gradient ``grad L(x) + lambda x``.
    target_loss : float or None
        A run stops (its point is frozen) at the first evaluation where the *landscape*
        loss L(x), without the L2 term, is <= target_loss (in [0, inf[); None: never.
    record_every : int
        Record the trajectory every this many steps (and always at step 0 and at the
        end), >= 1.
    """

    optimizer: str = "gd"  # the deterministic baseline
    lr: float = 0.1  # stable: the wedge loss has curvature 2 along short axes (GD needs < 1)
    steps: int = 1000  # enough for GD at lr = 0.1 to shrink a short coordinate by e^-200
    noise_std: float = 0.0  # no gradient noise
    momentum: float = 0.9  # the usual heavy-ball coefficient
    betas: tuple[float, float] = (0.9, 0.999)  # Kingma & Ba (2015) defaults
    eps: float = 1e-8  # Kingma & Ba (2015) default
    l2: float = 0.0  # no weight decay
    target_loss: float | None = None  # no early stop
    record_every: int = 10  # 1 + steps / 10 records per run

    def __post_init__(self) -> None:
        for name, value in _validate_config(self).items():
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> DescentConfig:
        """A validated copy with some fields changed."""
        names = set(self.__dataclass_fields__)
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; valid: {sorted(names)}")
        return DescentConfig(**{**{n: getattr(self, n) for n in names}, **changes})


def _config(config: Any) -> DescentConfig:
    if config is None:
        return DescentConfig()
    if not isinstance(config, DescentConfig):
        raise ValueError(f"config must be a DescentConfig, got {type(config).__name__}")
    return config


# ------------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False)
class Trajectory:
    """Records of a batch of B independent runs (read-only arrays).

    Attributes
    ----------
    step : ndarray of int64, shape (n_records,)
        Global step index of each record: 0, record_every, 2 record_every, ... and the
        last step. A run frozen by ``target_loss`` keeps its values in later records.
    loss : ndarray of float64, shape (n_records, B)
        Landscape loss L(x), without the L2 term.
    radius : ndarray of float64, shape (n_records, B)
        ``||x||``.
    distance : ndarray of float64, shape (n_records, B)
        ``||x - x_start||``.
    argmin : ndarray of int64, shape (n_records, B)
        Arg-min wedge (lowest index on ties).
    final_x : ndarray of float64, shape (B, D)
        Last point of every run.
    final_loss : ndarray of float64, shape (B,)
        L at ``final_x``.
    steps_taken : ndarray of int64, shape (B,)
        Updates applied to each run.
    reached : ndarray of bool, shape (B,)
        Whether the run reached ``target_loss`` (all False without a target).
    reached_step : ndarray of int64, shape (B,)
        Step at which it did (its ``steps_taken``), -1 where it did not.
    """

    step: np.ndarray
    loss: np.ndarray
    radius: np.ndarray
    distance: np.ndarray
    argmin: np.ndarray
    final_x: np.ndarray
    final_loss: np.ndarray
    steps_taken: np.ndarray
    reached: np.ndarray
    reached_step: np.ndarray

    @property
    def n_runs(self) -> int:
        """Number B of runs."""
        return int(self.final_x.shape[0])

    @property
    def n_records(self) -> int:
        """Number of records."""
        return int(self.step.shape[0])


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


# ------------------------------------------------------------------------ optimiser core
class _Recorder:
    """Collects the per-record arrays of a batch of runs (and passes each to ``on_record``
    as it is made)."""

    def __init__(self, x_start: np.ndarray, on_record: RecordCallback | None = None) -> None:
        self.x_start = x_start
        self.on_record = on_record
        self.rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, step: int, loss: np.ndarray, X: np.ndarray, argmin: np.ndarray) -> bool:
        """Record; returns False when ``on_record`` asks to stop."""
        row = (step, loss.copy(), np.linalg.norm(X, axis=1),
               np.linalg.norm(X - self.x_start, axis=1), argmin.copy())
        self.rows.append(row)
        return self.on_record is None or self.on_record(*row) is not False

    def arrays(self) -> dict[str, np.ndarray]:
        step, loss, radius, distance, argmin = zip(*self.rows)
        return dict(step=np.asarray(step, dtype=np.int64), loss=np.stack(loss),
                    radius=np.stack(radius), distance=np.stack(distance),
                    argmin=np.stack(argmin).astype(np.int64))


def _direction(cfg: DescentConfig, grad: np.ndarray, state: dict[str, np.ndarray],
               t: int) -> np.ndarray:
    """The step ``x_new = x - direction`` of update number ``t`` (1-based), (B, p).

    ``state`` holds the optimiser's buffers (momentum ``v``, Adam ``m`` and ``v``) and
    is updated in place.
    """
    if cfg.optimizer in ("gd", "sgd"):
        return cfg.lr * grad
    if cfg.optimizer == "momentum":
        state["v"] = cfg.momentum * state.get("v", 0.0) + grad
        return cfg.lr * state["v"]
    b1, b2 = cfg.betas
    state["m"] = b1 * state.get("m", 0.0) + (1.0 - b1) * grad
    state["v"] = b2 * state.get("v", 0.0) + (1.0 - b2) * grad * grad
    m_hat = state["m"] / (1.0 - b1**t)
    v_hat = state["v"] / (1.0 - b2**t)
    return cfg.lr * m_hat / (np.sqrt(v_hat) + cfg.eps)


def _gradient(cfg: DescentConfig, grad_x: np.ndarray, X: np.ndarray, pull: _Map,
              rng: np.random.Generator) -> np.ndarray:
    """Gradient of the optimised variables: pull(grad L + l2 x) plus noise, (B, p)."""
    if cfg.l2 > 0:
        grad_x = grad_x + cfg.l2 * X
    grad = pull(grad_x)
    if cfg.noise_std > 0:
        grad = grad + cfg.noise_std * rng.standard_normal(grad.shape)
    return grad


def _optimise(spec: LandscapeSpec, Z: np.ndarray, lift: _Map, pull: _Map,
              cfg: DescentConfig, rng: np.random.Generator,
              callback: StepCallback | None = None, callback_every: int = 1,
              on_record: RecordCallback | None = None) -> tuple[Trajectory, np.ndarray]:
    """Run ``cfg`` on the variables Z (B, p), with points X = lift(Z) (B, D).

    One ``geometry.evaluate`` call per step for the whole batch. Runs that reach the
    target are frozen (their rows stop changing); the loop ends when every run is frozen,
    after ``cfg.steps`` updates, or when ``callback`` or ``on_record`` returns False (see
    :func:`descend`). Returns the trajectory and the final Z (Z is updated in place).
    """
    X = lift(Z)
    ev = geometry.evaluate(spec, X, grad=True)
    B = Z.shape[0]
    target = -math.inf if cfg.target_loss is None else cfg.target_loss
    active = ev.loss > target
    reached_step = np.where(active, -1, 0).astype(np.int64)
    steps_taken = np.zeros(B, dtype=np.int64)
    recorder = _Recorder(X.copy(), on_record)
    go = callback is None or callback(0, ev.loss.copy()) is not False
    go = recorder.add(0, ev.loss, X, ev.argmin) and go
    state: dict[str, np.ndarray] = {}
    t = 0
    while go and t < cfg.steps and active.any():
        delta = _direction(cfg, _gradient(cfg, ev.grad, X, pull, rng), state, t + 1)
        if active.all():
            Z -= delta
        else:
            Z[active] -= delta[active]
        t += 1
        steps_taken += active
        X = lift(Z)
        ev = geometry.evaluate(spec, X, grad=t < cfg.steps)
        newly = active & (ev.loss <= target)
        reached_step[newly] = t
        active &= ~newly
        last = t == cfg.steps or not active.any()
        if callback is not None and (t % callback_every == 0 or last):
            go = callback(t, ev.loss.copy()) is not False
        if t % cfg.record_every == 0 or last or not go:
            go = recorder.add(t, ev.loss, X, ev.argmin) and go
    traj = Trajectory(**{k: _readonly(v) for k, v in recorder.arrays().items()},
                      final_x=_readonly(X), final_loss=_readonly(ev.loss.copy()),
                      steps_taken=_readonly(steps_taken), reached=_readonly(reached_step >= 0),
                      reached_step=_readonly(reached_step))
    return traj, Z


# ------------------------------------------------------------------------ public: descent
def init_at_radius(dim: int, radius: float, n: int = 1,
                   seed: int | np.random.Generator | None = 0,
                   centre: Any = None) -> np.ndarray:
    """Random points, uniform on the sphere of a given radius.

    Parameters
    ----------
    dim : int
        Dimension D, >= 1.
    radius : float
        Distance from the centre, in ]0, inf[.
    n : int
        Number of points, >= 1.
    seed : int, numpy.random.Generator or None
        Source of the directions (normalised Gaussian vectors).
    centre : array_like, shape (D,), optional
        Centre of the sphere; the origin by default.

    Returns
    -------
    ndarray of float64, shape (n, D)
        Rows with ``||x - centre|| = radius`` (to rounding).
    """
    dim = int_at_least("dim", dim, 1)
    radius = real_in("radius", radius, 0.0, low_open=True)
    n = int_at_least("n", n, 1)
    rng = as_generator(seed)
    if centre is not None:
        centre = np.asarray(centre)
        if centre.dtype.kind not in "fiu" or centre.shape != (dim,):
            raise ValueError(f"centre must be a real array of shape ({dim},), got "
                             f"{centre.dtype} array of shape {centre.shape}")
        if not np.all(np.isfinite(centre)):
            raise ValueError("centre must be finite, found NaN or inf")
    G = rng.standard_normal((n, dim))  # isotropic: G / ||G|| is uniform on the sphere
    X = radius * G / np.linalg.norm(G, axis=1, keepdims=True)
    return X if centre is None else X + centre.astype(np.float64)


def descend(spec: LandscapeSpec, x0: Any, config: DescentConfig | None = None,
            seed: int | np.random.Generator | None = 0, *,
            callback: StepCallback | None = None, callback_every: int = 1,
            on_record: RecordCallback | None = None) -> Trajectory:
    """Run an optimiser on a batch of independent runs and record their trajectories.

    Parameters
    ----------
    spec : LandscapeSpec
    x0 : array_like, shape (D,) or (B, D)
        Starting points; one point means B = 1 (the batch axis is kept in the results).
    config : DescentConfig, optional
        Optimiser settings; ``DescentConfig()`` by default.
    seed : int, numpy.random.Generator or None
        Seed of the gradient noise (unused without noise). The same seed gives a
        bit-identical trajectory.
    callback : callable, optional
        ``callback(step, losses)``, called at step 0, every ``callback_every`` steps and
        at the last step, with the step index and a copy of the landscape losses L(x)
        (float64, shape (B,)) at that step, the same values as the trajectory's
        ``loss`` where a record is made. Returning False stops the run (see below); any
        other value (None) lets it go on. Progress reports, live plots, cancellation.
    callback_every : int
        Steps between calls of ``callback``, >= 1.
    on_record : callable, optional
        ``on_record(step, loss, radius, distance, argmin)``, called with every record
        of the trajectory as soon as it is made (the arrays of one row of
        :class:`Trajectory`, shape (B,)); returning False stops the run. Streams a
        trajectory while it is computed.

    Returns
    -------
    Trajectory
        Records of shape (n_records, B), final points (B, D) and per-run stop data.
        A run stopped by ``callback`` or ``on_record`` at step t ends as if ``steps``
        were t: its last record is step t, ``final_x`` is the point at step t and
        ``steps_taken`` counts the updates made.

    Notes
    -----
    The callbacks run on the caller's thread, between steps; they see copies, so they
    cannot change the run, and without them (the default) the loop is exactly the
    same (same numerics, same speed). A callback that raises aborts the run with that
    exception.

    Example
    -------
    >>> seen = []
    >>> traj = descend(spec, x0, callback=lambda t, loss: seen.append(loss.min()))
    """
    spec = check_spec(spec)
    cfg = _config(config)
    X0 = _points(spec, x0)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}")
    if on_record is not None and not callable(on_record):
        raise ValueError(f"on_record must be callable or None, got "
                         f"{type(on_record).__name__}")
    callback_every = int_at_least("callback_every", callback_every, 1)
    traj, _ = _optimise(spec, X0, _identity, _identity, cfg, as_generator(seed),
                        callback, callback_every, on_record)
    return traj


def _identity(A: np.ndarray) -> np.ndarray:
    return A


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
    d = int_at_least("d", d, 1)
    if d > dim:
        raise ValueError(f"d must be in [1, dim={dim}], got {d}")
    kind = choice("kind", kind, PROJECTION_KINDS)
    rng = as_generator(seed)
    if kind == "sparse":
        return _sparse_projection(dim, d, rng)
    q, r = np.linalg.qr(rng.standard_normal((dim, d)))
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
