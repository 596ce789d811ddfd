"""Validation of real array arguments shared by :mod:`landsim.paths` and
:mod:`landsim.sections`.

Each returns a finite float64 copy or raises ``ValueError`` naming the argument, the bad
value and what is required.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["real_array", "vector", "same_shape"]


def real_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """A finite float64 copy of ``value`` with ``ndim`` dimensions."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, found NaN or inf")
    return arr


def vector(name: str, value: Any, dim: int | None = None) -> np.ndarray:
    """A finite float64 vector of shape (D,), D = ``dim`` when given."""
    arr = real_array(name, value, 1)
    if dim is not None and arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got {arr.shape}")
    return arr


def same_shape(names: tuple[str, ...], *arrays: np.ndarray) -> None:
    """Raise unless every array has the shape of the first (``names`` in the same order)."""
    for name, arr in zip(names[1:], arrays[1:]):
        if arr.shape != arrays[0].shape:
            raise ValueError(f"{names[0]} and {name} must have the same shape, got "
                             f"{arrays[0].shape} and {arr.shape}")
