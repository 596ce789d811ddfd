"""The train/test container of the real-network experiments and its random split.

:class:`Dataset` holds the tensors; :func:`split_indices` and :func:`standardise_split`
make a split from one array pair; :func:`as_dataset` and :func:`from_arrays` build a
Dataset for the loaders of :mod:`landsim.real.data`, which re-exports the public names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._checks import as_generator, choice, int_at_least, real_in
from ._device import resolve_device, torch_generator

__all__ = ["Dataset", "as_dataset", "from_arrays", "split_indices", "standardise_split"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test tensors of a classification problem.

    Attributes
    ----------
    x_train : Tensor, shape (N, *input_shape)
        Inputs (float32 unless cast with :meth:`to`).
    y_train : Tensor of int64, shape (N,)
        Labels in [0, n_classes).
    x_test : Tensor, shape (M, *input_shape)
    y_test : Tensor of int64, shape (M,)
    n_classes : int
    name : str
        Source and settings, for records.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    name: str = "dataset"

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                raise ValueError(f"x_{split} and y_{split} must be torch tensors")
            if y.ndim != 1 or x.ndim < 2 or x.shape[0] != y.shape[0] or y.shape[0] == 0:
                raise ValueError(f"x_{split} must have shape (N, ...) and y_{split} shape (N,) "
                                 f"with N >= 1, got {tuple(x.shape)} and {tuple(y.shape)}")
            if y.dtype != torch.int64:
                raise ValueError(f"y_{split} must be int64, got {y.dtype}")
            if not x.is_floating_point():
                raise ValueError(f"x_{split} must be floating point, got {x.dtype}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"x_train and x_test must share the input shape, got "
                             f"{tuple(self.x_train.shape[1:])} and {tuple(self.x_test.shape[1:])}")
        int_at_least("n_classes", self.n_classes, 2)
        for split in ("train", "test"):
            y = getattr(self, f"y_{split}")
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= self.n_classes:
                raise ValueError(f"y_{split} labels must lie in [0, {self.n_classes - 1}], "
                                 f"found {lo if lo < 0 else hi}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. (64,) or (1, 28, 28)."""
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        """Number of input values per sample, prod(input_shape)."""
        return math.prod(self.input_shape)

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def split(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of ``"train"`` or ``"test"``."""
        which = choice("which", which, ("train", "test"))
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> Dataset:
        """A copy with tensors on ``device`` and inputs cast to ``dtype`` (labels stay int64)."""
        dev = resolve_device(device) if device is not None else self.x_train.device
        return Dataset(self.x_train.to(dev, dtype), self.y_train.to(dev),
                       self.x_test.to(dev, dtype), self.y_test.to(dev), self.n_classes,
                       self.name)

    def flattened(self) -> Dataset:
        """A copy with every input flattened to shape (n_features,)."""
        return Dataset(self.x_train.reshape(self.n_train, -1), self.y_train,
                       self.x_test.reshape(self.n_test, -1), self.y_test, self.n_classes,
                       self.name)

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test samples (all if None)."""
        a = self.n_train if n_train is None else min(int_at_least("n_train", n_train, 1),
                                                     self.n_train)
        b = self.n_test if n_test is None else min(int_at_least("n_test", n_test, 1),
                                                   self.n_test)
        return Dataset(self.x_train[:a], self.y_train[:a], self.x_test[:b], self.y_test[:b],
                       self.n_classes, self.name)

    def batches(self, batch_size: int, seed: int | torch.Generator | None = None,
                which: str = "train"):
        """Minibatches ``(x, y)`` of one epoch of a split.

        Parameters
        ----------
        batch_size : int
            >= 1; the last batch may be smaller.
        seed : int, torch.Generator or None
            Shuffle with a permutation drawn from this seed or (CPU) generator (a generator
            advances, so successive epochs differ); None keeps the stored order.
        which : {"train", "test"}

        Yields
        ------
        x : Tensor, shape (B, *input_shape)
        y : Tensor, shape (B,)
        """
        x, y = self.split(which)
        batch_size = int_at_least("batch_size", batch_size, 1)
        n = x.shape[0]
        if seed is None:
            order = torch.arange(n)
        else:
            g = seed if isinstance(seed, torch.Generator) else torch_generator(seed)
            order = torch.randperm(n, generator=g)
        order = order.to(x.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]


# ------------------------------------------------------------------------ splitting
def split_indices(n: int, test_fraction: float, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices of a random split of ``range(n)``.

    Parameters
    ----------
    n : int
        Number of samples, >= 2.
    test_fraction : float
        Fraction of samples in the test split, in ]0, 1[; at least one sample goes to
        each split.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    train, test : ndarray of int64, shapes (n - k,) and (k,)
        Disjoint, together a permutation of range(n); each sorted.
    """
    n = int_at_least("n", n, 2)
    test_fraction = real_in("test_fraction", test_fraction, 0.0, 1.0, low_open=True)
    k = min(max(1, round(n * test_fraction)), n - 1)
    perm = as_generator(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def standardise_split(x_train: np.ndarray, x_test: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Standardise each feature with the training split's mean and standard deviation.

    Features with zero training variance are only centred. Shapes are kept; statistics are
    taken per input position over the sample axis 0.
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std


def as_dataset(x_train, y_train, x_test, y_test, n_classes: int, name: str,
               standardise: bool) -> Dataset:
    """A :class:`Dataset` of float32 inputs (standardised on request) and int64 labels."""
    x_train = np.asarray(x_train, dtype=np.float64)
    x_test = np.asarray(x_test, dtype=np.float64)
    if standardise:
        x_train, x_test = standardise_split(x_train, x_test)
    return Dataset(torch.as_tensor(x_train, dtype=torch.float32),
                   torch.as_tensor(np.asarray(y_train), dtype=torch.int64),
                   torch.as_tensor(x_test, dtype=torch.float32),
                   torch.as_tensor(np.asarray(y_test), dtype=torch.int64), n_classes, name)


def from_arrays(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: Any, name: str,
                standardise: bool, n_classes: int | None = None) -> Dataset:
    """A :class:`Dataset` from one array pair, split by :func:`split_indices` from ``seed``
    (``n_classes`` = max label + 1, at least 2, unless given)."""
    tr, te = split_indices(x.shape[0], test_fraction, seed)
    k = int(y.max()) + 1 if n_classes is None else n_classes
    return as_dataset(x[tr], y[tr], x[te], y[te], max(k, 2), name, standardise)
