"""A network as a function of one flat parameter vector.

:class:`FlatModel` wraps a ``torch.nn.Module`` so that a point of weight space is a 1-D
tensor of length ``n_params`` (the parameters in ``named_parameters()`` order, each
flattened in C order), and the loss, logits and accuracy are functions of that vector
(through :func:`torch.func.functional_call`, so gradients flow to the vector and the
wrapped module is never modified unless :meth:`FlatModel.set_flat` is called).

Buffers (batch-norm running statistics) are taken from the module unless given. A
batch-norm network evaluated at a new point needs statistics of *that* point:
:meth:`FlatModel.bn_buffers` recomputes them on a scratch copy with
:func:`torch.optim.swa_utils.update_bn`, and :meth:`FlatModel.evaluate_points` does so for
every point when ``bn_x`` is given. ``batch_stats=True`` evaluates with the statistics of
the batch itself (training mode) without touching any stored buffer.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .._checks import int_at_least
from ._device import resolve_device

__all__ = ["FlatModel", "PointsEval", "has_batchnorm", "evaluate_splits"]


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` contains a batch-norm layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _copy_into(model: nn.Module, flat: torch.Tensor) -> None:
    """Copy a flat vector into the parameters (never aliasing it, unlike
    ``torch.nn.utils.vector_to_parameters``)."""
    with torch.no_grad():
        start = 0
        for p in model.parameters():
            n = p.numel()
            p.copy_(flat[start:start + n].view_as(p))
            start += n


class PointsEval(NamedTuple):
    """Loss and accuracy at T points of weight space."""

    loss: np.ndarray  #: (T,) float64 mean cross-entropy
    accuracy: np.ndarray  #: (T,) float64 fraction of correct arg-max predictions


class FlatModel:
    """A network seen as a function of a flat parameter vector.

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier mapping inputs (N, ...) to logits (N, K). It is moved to
        ``device``; its parameters define the layout of flat vectors.
    device : {"cpu", "cuda"} or torch.device
        Where parameters and data live; "cuda" only when available.

    Attributes
    ----------
    model : torch.nn.Module
    device : torch.device
    dtype : torch.dtype
        Dtype of the parameters; inputs are cast to it.
    names : list of str
        Parameter names in flat order.
    shapes : list of torch.Size
    n_params : int
        P, the length of a flat vector.
    has_batchnorm : bool

    Examples
    --------
    >>> fm = FlatModel(build_model("mlp", input_shape=(64,), n_classes=10))
    >>> w = fm.get_flat()                     # (P,)
    >>> fm.loss(w, x, y).backward()          # gradients w.r.t. a leaf w
    """

    def __init__(self, model: nn.Module, device: Any = "cpu") -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        params = list(model.named_parameters())
        if not params:
            raise ValueError("model has no parameters")
        self.names = [n for n, _ in params]
        self.shapes = [p.shape for _, p in params]
        self._numels = [p.numel() for _, p in params]
        self.dtype = params[0][1].dtype
        self.has_batchnorm = has_batchnorm(model)
        self._scratch: nn.Module | None = None

    # -------------------------------------------------------------- layout
    @property
    def n_params(self) -> int:
        """P, the number of scalar parameters."""
        return int(sum(self._numels))

    def get_flat(self) -> torch.Tensor:
        """The module's current parameters as a new flat tensor, shape (P,)."""
        return torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).clone()

    def set_flat(self, flat: torch.Tensor) -> None:
        """Copy ``flat`` (P,) into the module's parameters (modifies the module)."""
        _copy_into(self.model, self.check_flat(flat))

    def check_flat(self, flat: Any, name: str = "flat") -> torch.Tensor:
        """``flat`` as a (P,) tensor of the model's dtype on its device."""
        if not isinstance(flat, torch.Tensor):
            flat = torch.as_tensor(np.asarray(flat))
        if flat.shape != (self.n_params,):
            raise ValueError(f"{name} must have shape ({self.n_params},), got "
                             f"{tuple(flat.shape)}")
        return flat.to(self.device, self.dtype)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``flat`` (P,) shaped like each parameter, keyed by name."""
        flat = self.check_flat(flat)
        chunks = torch.split(flat, self._numels)
        return {n: c.view(s) for n, c, s in zip(self.names, chunks, self.shapes)}

    def buffers(self) -> dict[str, torch.Tensor]:
        """The module's current buffers (BN running statistics), keyed by name."""
        return dict(self.model.named_buffers())

    # -------------------------------------------------------------- evaluation
    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, self.dtype)

    def logits(self, flat: torch.Tensor, x: torch.Tensor,
               buffers: dict[str, torch.Tensor] | None = None,
               batch_stats: bool = False) -> torch.Tensor:
        """Logits (N, K) of inputs ``x`` (N, ...) at the point ``flat`` (P,).

        Differentiable with respect to ``flat``. ``buffers`` replaces the module's buffers
        (e.g. from :meth:`bn_buffers`); ``batch_stats=True`` runs the module in training
        mode, so batch norm uses the batch's own statistics (the stored running
        statistics are not updated). The module's train/eval mode is restored.
        """
        bufs = self.buffers() if buffers is None else buffers
        if batch_stats:
            bufs = {n: b.clone() for n, b in bufs.items()}  # BN updates them in place
        was_training = self.model.training
        self.model.train(batch_stats)
        try:
            return functional_call(self.model, (self.unflatten(flat), bufs),
                                   (self._inputs(x),))
        finally:
            self.model.train(was_training)

    def loss(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             buffers: dict[str, torch.Tensor] | None = None,
             batch_stats: bool = False) -> torch.Tensor:
        """Mean cross-entropy (a 0-d tensor, differentiable w.r.t. ``flat``) on (x, y)."""
        return F.cross_entropy(self.logits(flat, x, buffers, batch_stats),
                               y.to(self.device))

    @torch.no_grad()
    def evaluate(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 buffers: dict[str, torch.Tensor] | None = None,
                 batch_size: int = 2048) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on (x, y) at ``flat``, in eval mode, in chunks.

        Returns
        -------
        loss, accuracy : float
        """
        batch_size = int_at_least("batch_size", batch_size, 1)
        flat = self.check_flat(flat)
        total, correct = 0.0, 0
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size].to(self.device)
            out = self.logits(flat, xb, buffers)
            total += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
        return total / x.shape[0], correct / x.shape[0]

    def accuracy(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                 buffers: dict[str, torch.Tensor] | None = None) -> float:
        """Fraction of samples whose arg-max logit is the label."""
        return self.evaluate(flat, x, y, buffers)[1]

    # -------------------------------------------------------------- batch norm
    def bn_buffers(self, flat: torch.Tensor, x: torch.Tensor,
                   batch_size: int = 256) -> dict[str, torch.Tensor]:
        """Buffers with batch-norm statistics recomputed at ``flat`` on inputs ``x``.

        Runs :func:`torch.optim.swa_utils.update_bn` (cumulative averages over the
        batches of ``x``, in order) on a scratch copy of the module, so the wrapped module
        is untouched. Without batch norm the module's buffers are returned unchanged.

        Returns
        -------
        dict of str to Tensor
            To pass as ``buffers`` to :meth:`logits`, :meth:`loss` or :meth:`evaluate`.
        """
        if not self.has_batchnorm:
            return self.buffers()
        batch_size = int_at_least("batch_size", batch_size, 1)
        flat = self.check_flat(flat)
        if self._scratch is None:
            self._scratch = copy.deepcopy(self.model)
        scratch = self._scratch
        _copy_into(scratch, flat)
        loader = [self._inputs(x[s:s + batch_size]) for s in range(0, x.shape[0], batch_size)]
        torch.optim.swa_utils.update_bn(loader, scratch)
        return {n: b.detach().clone() for n, b in scratch.named_buffers()}

    # -------------------------------------------------------------- many points
    @torch.no_grad()
    def evaluate_points(self, flats: torch.Tensor, x: torch.Tensor, y: torch.Tensor, *,
                        bn_x: torch.Tensor | None = None, batch_size: int = 2048,
                        points_per_call: int = 8) -> PointsEval:
        """Loss and accuracy at many points of weight space (a path, a grid, a section).

        Parameters
        ----------
        flats : Tensor, shape (T, P)
        x, y : Tensor, shapes (N, ...) and (N,)
            Evaluation data.
        bn_x : Tensor, shape (M, ...), optional
            For batch-norm networks: inputs on which the BN statistics of every point are
            recomputed (:meth:`bn_buffers`) before it is evaluated (usually the training
            inputs). Without it the module's stored statistics are used.
        batch_size : int
            Data samples per forward pass.
        points_per_call : int
            Points evaluated together by :func:`torch.func.vmap` (networks without batch
            norm); 1 evaluates them one by one.

        Returns
        -------
        PointsEval
            ``loss[i]``, ``accuracy[i]`` at ``flats[i]``.
        """
        if flats.ndim != 2 or flats.shape[1] != self.n_params or flats.shape[0] == 0:
            raise ValueError(f"flats must have shape (T, {self.n_params}) with T >= 1, got "
                             f"{tuple(flats.shape)}")
        points_per_call = int_at_least("points_per_call", points_per_call, 1)
        batch_size = int_at_least("batch_size", batch_size, 1)
        flats = flats.to(self.device, self.dtype)
        T = flats.shape[0]
        loss, acc = np.empty(T), np.empty(T)
        if self.has_batchnorm or points_per_call == 1:
            for i in range(T):
                bufs = self.bn_buffers(flats[i], bn_x) if bn_x is not None else None
                loss[i], acc[i] = self.evaluate(flats[i], x, y, bufs, batch_size)
            return PointsEval(loss, acc)
        bufs = self.buffers()

        def one(flat, xb):  # (P,), (B, ...) -> (B, K)
            return functional_call(self.model, (self.unflatten(flat), bufs), (xb,))

        many = torch.func.vmap(one, in_dims=(0, None))
        was_training = self.model.training
        self.model.eval()
        try:
            for s in range(0, T, points_per_call):
                chunk = flats[s:s + points_per_call]
                c = chunk.shape[0]
                tot = torch.zeros(c, dtype=torch.float64, device=self.device)
                cor = torch.zeros(c, dtype=torch.float64, device=self.device)
                for start in range(0, x.shape[0], batch_size):
                    xb = self._inputs(x[start:start + batch_size])
                    yb = y[start:start + batch_size].to(self.device)
                    out = many(chunk, xb)  # (c, B, K)
                    ce = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.repeat(c),
                                         reduction="none").reshape(c, -1)
                    tot += ce.sum(1).double()
                    cor += (out.argmax(-1) == yb).sum(1).double()
                loss[s:s + c] = (tot / x.shape[0]).cpu().numpy()
                acc[s:s + c] = (cor / x.shape[0]).cpu().numpy()
        finally:
            self.model.train(was_training)
        return PointsEval(loss, acc)


def evaluate_splits(fm: FlatModel, flats: torch.Tensor, dataset: Any, *, bn: bool = True,
                    batch_size: int = 2048, points_per_call: int = 8
                    ) -> tuple[PointsEval, PointsEval]:
    """Train and test loss/accuracy at many points (T, P) on a :class:`Dataset`.

    For batch-norm networks with ``bn`` true, the statistics of every point are
    recomputed on the training inputs once and used for both splits.

    Returns
    -------
    train, test : PointsEval
        Each with arrays of shape (T,).
    """
    if flats.ndim != 2 or flats.shape[1] != fm.n_params or flats.shape[0] == 0:
        raise ValueError(f"flats must have shape (T, {fm.n_params}) with T >= 1, got "
                         f"{tuple(flats.shape)}")
    data = dataset.to(fm.device)
    if not (fm.has_batchnorm and bn):
        return tuple(fm.evaluate_points(flats, *data.split(s), batch_size=batch_size,
                                        points_per_call=points_per_call)
                     for s in ("train", "test"))
    out = np.empty((2, 2, flats.shape[0]))
    for i, flat in enumerate(flats):
        bufs = fm.bn_buffers(flat, data.x_train)
        for j, split in enumerate(("train", "test")):
            out[j, :, i] = fm.evaluate(flat, *data.split(split), bufs, batch_size)
    return PointsEval(out[0, 0], out[0, 1]), PointsEval(out[1, 0], out[1, 1])
