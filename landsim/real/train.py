"""Seeded, deterministic training of real networks, and checkpoints.

:class:`TrainConfig` holds every optimiser setting (SGD, momentum or Adam; learning rate,
constant or cyclic; L2 weight decay; epochs; batch size; what to record). It is shared by
:func:`train` (ordinary training of a network), :func:`landsim.real.curves.fit_curve`,
:func:`landsim.real.curves.fit_simplex` and the subspace training of
:mod:`landsim.real.subspace`, which all run on the generic loop :func:`optimise`.

Determinism: minibatch order (and any other draw of a run) comes from a CPU
``torch.Generator`` seeded with ``seed``, the initial weights from the model given (see
:func:`landsim.real.models.build_model`); on the CPU the same seed gives the same
trajectory bit for bit.

Checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`) hold a flat vector and/or a
state dict and a JSON-able config dict; they are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import choice, int_at_least, real_in
from ._device import torch_generator
from .data import Dataset
from .flat import FlatModel

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "CHECKPOINT_FORMAT", "TrainConfig", "lr_at",
    "make_optimizer", "FitLog", "optimise", "Trajectory", "TrainResult", "train",
    "Checkpoint", "save_checkpoint", "load_checkpoint",
]

#: Optimisers understood by :class:`TrainConfig`.
OPTIMIZERS = ("sgd", "momentum", "adam")
#: Learning-rate schedules.
SCHEDULES = ("constant", "cyclic")
#: Format tag stored in every checkpoint.
CHECKPOINT_FORMAT = "landsim.real.checkpoint/1"


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (any of the trainers in :mod:`landsim.real`).

    Attributes
    ----------
    optimizer : {"sgd", "momentum", "adam"}
        Plain SGD, SGD with heavy-ball momentum, or Adam.
    lr : float
        Learning rate, > 0 (the peak rate of a cyclic schedule).
    momentum : float
        Momentum coefficient of ``"momentum"``, in [0, 1[.
    weight_decay : float
        L2 coefficient lambda >= 0: adds lambda w to the gradient, i.e. lambda |w|^2 / 2
        to the loss (coupled L2, also for Adam).
    epochs : int
        Passes over the training split, >= 1.
    batch_size : int
        Minibatch size, >= 1.
    schedule : {"constant", "cyclic"}
        ``"cyclic"`` (Izmailov et al. 2018, SWA): within each cycle of ``cycle_epochs``
        epochs the rate falls linearly from ``lr`` to ``lr_min``, reaching ``lr_min`` at the
        cycle's last step.
    lr_min : float
        Lowest rate of the cyclic schedule, in [0, lr].
    cycle_epochs : int
        Epochs per cycle, >= 1.
    record_every : int
        Steps between trajectory records, >= 0; 0 records once per epoch. The start and
        the end are always recorded.
    keep_snapshots : bool
        Keep the flat vector at the end of every epoch (for SWA).
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    epochs: int = 10
    batch_size: int = 64
    schedule: str = "constant"
    lr_min: float = 0.0
    cycle_epochs: int = 1
    record_every: int = 0
    keep_snapshots: bool = False

    def __post_init__(self) -> None:
        choice("optimizer", self.optimizer, OPTIMIZERS)
        real_in("lr", self.lr, 0.0, low_open=True)
        real_in("momentum", self.momentum, 0.0, 1.0)
        real_in("weight_decay", self.weight_decay, 0.0)
        int_at_least("epochs", self.epochs, 1)
        int_at_least("batch_size", self.batch_size, 1)
        choice("schedule", self.schedule, SCHEDULES)
        real_in("lr_min", self.lr_min, 0.0, self.lr, high_open=False)
        int_at_least("cycle_epochs", self.cycle_epochs, 1)
        int_at_least("record_every", self.record_every, 0)
        if not isinstance(self.keep_snapshots, bool):
            raise ValueError(f"keep_snapshots must be a bool, got {self.keep_snapshots!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, accepted back by ``TrainConfig(**d)``."""
        return asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return TrainConfig(**{**asdict(self), **changes})


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Learning rate of step ``step`` (0-based) under ``config``'s schedule."""
    if config.schedule == "constant":
        return config.lr
    cycle = config.cycle_epochs * steps_per_epoch
    frac = ((step % cycle) + 1) / cycle
    return (1.0 - frac) * config.lr + frac * config.lr_min


def make_optimizer(params: Sequence[torch.Tensor], config: TrainConfig
                   ) -> torch.optim.Optimizer:
    """The torch optimiser of ``config`` over ``params`` (leaf tensors)."""
    params = list(params)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    mom = config.momentum if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=mom,
                           weight_decay=config.weight_decay)


class FitLog(NamedTuple):
    """What :func:`optimise` recorded, one entry per record point (R of them)."""

    step: np.ndarray  #: (R,) int64 optimisation steps taken so far (0 = start)
    epoch: np.ndarray  #: (R,) float64 epochs done (fractional between epoch ends)
    lr: np.ndarray  #: (R,) learning rate of the last step (config.lr at the start)
    batch_loss: np.ndarray  #: (R,) mean minibatch loss since the last record (NaN at start)
    extra: dict  #: name -> (R,) float64 arrays returned by ``on_record``


def optimise(params: Sequence[torch.Tensor],
             batch_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
             dataset: Dataset, config: TrainConfig, seed: int = 0, *,
             on_record: Callable[[], dict[str, float]] | None = None,
             on_epoch_end: Callable[[int], None] | None = None) -> FitLog:
    """The training loop shared by every trainer: minibatch steps on ``params``.

    Parameters
    ----------
    params : sequence of Tensor
        Leaf tensors with ``requires_grad`` to optimise (modified in place).
    batch_loss : callable (x (B, ...), y (B,)) -> 0-d Tensor
        Loss of one minibatch as a differentiable function of ``params``; it may draw
        its own randomness (e.g. a curve parameter t) from a generator it owns.
    dataset : Dataset
        Minibatches come from its training split (on the dataset's device).
    config : TrainConfig
    seed : int
        Seeds the minibatch order.
    on_record : callable () -> dict of str to float, optional
        Extra quantities to record at every record point (e.g. the full training loss).
    on_epoch_end : callable (epoch) -> None, optional
        Called after each epoch with its 1-based number.

    Returns
    -------
    FitLog
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    params = list(params)
    opt = make_optimizer(params, config)
    gen = torch_generator(seed)
    steps_per_epoch = math.ceil(dataset.n_train / config.batch_size)
    every = config.record_every or steps_per_epoch
    rows: list[tuple[int, float, float, float]] = []
    extra: dict[str, list[float]] = {}

    def record(step: int, lr: float, mean_loss: float) -> None:
        rows.append((step, step / steps_per_epoch, lr, mean_loss))
        if on_record is not None:
            for key, value in on_record().items():
                extra.setdefault(key, []).append(float(value))

    record(0, config.lr, math.nan)
    step, acc, count, lr = 0, 0.0, 0, config.lr
    for epoch in range(1, config.epochs + 1):
        for xb, yb in dataset.batches(config.batch_size, gen):
            lr = lr_at(config, step, steps_per_epoch)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = batch_loss(xb, yb)
            loss.backward()
            opt.step()
            step += 1
            acc += float(loss.detach())
            count += 1
            if step % every == 0 or step == config.epochs * steps_per_epoch:
                record(step, lr, acc / count)
                acc, count = 0.0, 0
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return FitLog(arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2], arr[:, 3],
                  {k: np.asarray(v, dtype=np.float64) for k, v in extra.items()})


class Trajectory(NamedTuple):
    """A training run's record, one entry per record point (R of them)."""

    step: np.ndarray  #: (R,) int64 steps taken (0 = initialisation)
    epoch: np.ndarray  #: (R,) float64 epochs done
    lr: np.ndarray  #: (R,) learning rate of the last step
    batch_loss: np.ndarray  #: (R,) mean minibatch loss since the last record (NaN at 0)
    loss: np.ndarray  #: (R,) full training-split loss (eval mode), without the L2 term
    accuracy: np.ndarray  #: (R,) full training-split accuracy
    weight_norm: np.ndarray  #: (R,) |w|
    distance: np.ndarray  #: (R,) |w - w_init|


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Result of :func:`train`.

    Attributes
    ----------
    flat : Tensor, shape (P,)
        Final weights (CPU).
    init : Tensor, shape (P,)
        Initial weights (CPU).
    trajectory : Trajectory
    snapshots : Tensor, shape (epochs, P), or None
        Weights at each epoch end when ``config.keep_snapshots``.
    buffers : dict of str to Tensor
        Final module buffers (BN running statistics; empty without BN), CPU.
    train_loss, train_accuracy, test_loss, test_accuracy : float
        At the final weights (eval mode).
    config : TrainConfig
    seed : int
    """

    flat: torch.Tensor
    init: torch.Tensor
    trajectory: Trajectory
    snapshots: torch.Tensor | None
    buffers: dict
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    config: TrainConfig
    seed: int


def train(model: nn.Module | FlatModel, dataset: Dataset, config: TrainConfig | None = None,
          seed: int = 0, *, init: torch.Tensor | None = None, device: Any = None
          ) -> TrainResult:
    """Train a network with minibatch cross-entropy; record its trajectory.

    Parameters
    ----------
    model : torch.nn.Module or FlatModel
        Trained in place (its parameters and BN statistics end at the final point).
    dataset : Dataset
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``.
    seed : int
        Seeds the minibatch order.
    init : Tensor, shape (P,), optional
        Start from these weights instead of the model's current ones.
    device : {"cpu", "cuda"}, optional
        Where to train; "cuda" only when available (ValueError otherwise). Default: the
        FlatModel's device, or the CPU for a module.

    Returns
    -------
    TrainResult
    """
    config = TrainConfig() if config is None else config
    if isinstance(model, FlatModel):
        fm = model if device is None else FlatModel(model.model, device)
    else:
        fm = FlatModel(model, "cpu" if device is None else device)
    dev = fm.device
    if init is not None:
        fm.set_flat(init)
    data = dataset.to(dev)
    net = fm.model
    start = fm.get_flat()
    snapshots: list[torch.Tensor] = []

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        net.train()
        return F.cross_entropy(net(xb.to(fm.dtype)), yb)

    def on_record() -> dict[str, float]:
        w = fm.get_flat()
        loss, acc = fm.evaluate(w, data.x_train, data.y_train)
        return {"loss": loss, "accuracy": acc, "weight_norm": float(w.norm()),
                "distance": float((w - start).norm())}

    def on_epoch_end(epoch: int) -> None:
        if config.keep_snapshots:
            snapshots.append(fm.get_flat().cpu())

    was_training = net.training
    try:
        log = optimise(list(net.parameters()), batch_loss, data, config, seed,
                       on_record=on_record, on_epoch_end=on_epoch_end)
    finally:
        net.train(was_training)
    e = log.extra
    traj = Trajectory(log.step, log.epoch, log.lr, log.batch_loss, e["loss"], e["accuracy"],
                      e["weight_norm"], e["distance"])
    final = fm.get_flat()
    test_loss, test_acc = fm.evaluate(final, data.x_test, data.y_test)
    return TrainResult(final.cpu(), start.cpu(), traj,
                       torch.stack(snapshots) if snapshots else None,
                       {n: b.detach().cpu().clone() for n, b in fm.buffers().items()},
                       float(e["loss"][-1]), float(e["accuracy"][-1]), test_loss, test_acc,
                       config, seed)


# ------------------------------------------------------------------------ checkpoints
class Checkpoint(NamedTuple):
    """Contents of a checkpoint file."""

    flat: torch.Tensor | None  #: (P,) flat weights, or None
    state: dict | None  #: a module state dict (parameters and buffers), or None
    config: dict  #: the JSON-able config stored with it


def save_checkpoint(path: str | os.PathLike, *, flat: torch.Tensor | None = None,
                    state: dict[str, torch.Tensor] | None = None,
                    config: dict[str, Any] | None = None) -> None:
    """Save weights with the config that made them.

    Parameters
    ----------
    path : path-like
    flat : Tensor, shape (P,), optional
        Flat weights.
    state : dict of str to Tensor, optional
        A state dict (e.g. ``model.state_dict()``, to keep BN statistics). At least one of
        ``flat`` and ``state`` is required.
    config : dict, optional
        JSON-able settings (e.g. ``{"model": spec.to_dict(), "train": cfg.to_dict(),
        "seed": 0}``); stored as JSON text so that it loads with ``weights_only=True``.
    """
    if flat is None and state is None:
        raise ValueError("give flat weights, a state dict, or both")
    if flat is not None and (not isinstance(flat, torch.Tensor) or flat.ndim != 1):
        raise ValueError(f"flat must be a 1-D tensor, got {type(flat).__name__} "
                         f"{tuple(getattr(flat, 'shape', ()))}")
    if state is not None and not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                     for k, v in state.items()):
        raise ValueError("state must map str names to tensors")
    try:
        text = json.dumps({} if config is None else config, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"config must be JSON-serialisable: {err}") from None
    torch.save({"format": CHECKPOINT_FORMAT,
                "flat": None if flat is None else flat.detach().cpu().clone(),
                "state": None if state is None else {k: v.detach().cpu().clone()
                                                     for k, v in state.items()},
                "config": text}, path)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{os.fspath(path)!r} is not a landsim checkpoint (format "
                         f"{CHECKPOINT_FORMAT!r}), found {found!r}")
    return Checkpoint(payload["flat"], payload["state"], json.loads(payload["config"]))
