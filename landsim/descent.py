"""Optimisers and trajectories (docs/model.md, section 2).

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

Random-subspace training (``subspace_projection``, ``descend_in_subspace``,
``threshold_dimension``, ``SubspaceResult``, ``ThresholdResult``, ``PROJECTION_KINDS``)
lives in :mod:`landsim.subspace`; importing those names from here still works for one
release, with a DeprecationWarning.

Every function validates its inputs and raises ``ValueError`` naming the bad value and
the valid range. Randomness (gradient noise, starting points) comes from a
:class:`numpy.random.Generator` built from ``seed``: the same seed gives bit-identical
results.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import geometry
from ._checks import as_generator, choice, int_at_least, real_in
from .spec import LandscapeSpec, check_spec

__all__ = ["OPTIMIZERS", "DescentConfig", "Trajectory", "init_at_radius", "descend"]

#: Optimisers understood by :class:`DescentConfig`.
OPTIMIZERS = ("gd", "sgd", "momentum", "adam")

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


# ------------------------------------------------------------------------ moved names
#: Names that moved to :mod:`landsim.subspace`; served from here with a warning.
_MOVED = ("PROJECTION_KINDS", "SubspaceResult", "ThresholdResult", "subspace_projection",
          "descend_in_subspace", "threshold_dimension")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"landsim.descent.{name} moved to landsim.subspace.{name}; import it "
                      "from there (the old place goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        from . import subspace

        return getattr(subspace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
