"""Turn a :class:`~landsim.spec.LandscapeSpec` into the flat arrays the kernels take."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PackedAxis", "PackedRotated", "pack_axis", "pack_rotated", "pack_anchors"]


class PackedAxis(NamedTuple):
    """Kernel arrays of an axis-aligned landscape (see :mod:`landsim.kernels.axis`)."""

    anchors: np.ndarray  # (0|1|K, D) float64
    axis_ptr: np.ndarray  # (D + 1,) int64
    axis_wedge: np.ndarray  # (S,) int32
    axes: np.ndarray  # (S,) int64, by wedge, sorted within each wedge
    offsets: np.ndarray  # (K + 1,) int64
    eps0: np.ndarray  # (K,) float64
    eps1: np.ndarray  # (K,) float64


class PackedRotated(NamedTuple):
    """Kernel arrays of a rotated landscape (see :mod:`landsim.kernels.rotated`)."""

    anchors: np.ndarray  # (0|1|K, D) float64
    frames_t: np.ndarray  # (S, D) float64: rows offsets[k]:offsets[k+1] hold Q_k^T
    frame_anchor: np.ndarray  # (S,) float64: Q_k^T a_k
    offsets: np.ndarray  # (K + 1,) int64
    eps0: np.ndarray  # (K,) float64
    eps1: np.ndarray  # (K,) float64


def pack_anchors(spec) -> np.ndarray:
    """Anchors as (0, D) when all at the origin, (1, D) when shared, else (K, D)."""
    if all(w.anchor is None for w in spec.wedges):
        return np.zeros((0, spec.dim))
    first = spec.wedges[0].anchor
    if first is not None and all(w.anchor is not None and np.array_equal(w.anchor, first)
                                 for w in spec.wedges):
        return first[None, :].copy()
    return np.stack([w.anchor_or_origin() for w in spec.wedges])


def _eps(spec) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([w.eps0 for w in spec.wedges], dtype=np.float64),
            np.array([w.eps1 for w in spec.wedges], dtype=np.float64))


def pack_axis(spec) -> PackedAxis:
    """Short axes of every wedge, by axis (CSR) and by wedge."""
    axes = np.concatenate([w.short_axes for w in spec.wedges])
    wedge_id = np.repeat(np.arange(spec.n_wedges, dtype=np.int32),
                         [w.n_short for w in spec.wedges])
    order = np.argsort(axes, kind="stable")  # stable: wedges ascending within an axis
    counts = np.bincount(axes, minlength=spec.dim)
    axis_ptr = np.zeros(spec.dim + 1, dtype=np.int64)
    np.cumsum(counts, out=axis_ptr[1:])
    offsets = np.zeros(spec.n_wedges + 1, dtype=np.int64)
    np.cumsum([w.n_short for w in spec.wedges], out=offsets[1:])
    return PackedAxis(pack_anchors(spec), axis_ptr, np.ascontiguousarray(wedge_id[order]),
                      axes.astype(np.int64), offsets, *_eps(spec))


def pack_rotated(spec) -> PackedRotated:
    """Row-stacked transposed frames and their anchor offsets."""
    frames_t = np.ascontiguousarray(np.concatenate([w.short_frame.T for w in spec.wedges]))
    offsets = np.zeros(spec.n_wedges + 1, dtype=np.int64)
    np.cumsum([w.n_short for w in spec.wedges], out=offsets[1:])
    frame_anchor = np.concatenate([w.short_frame.T @ w.anchor_or_origin()
                                   for w in spec.wedges])
    return PackedRotated(pack_anchors(spec), frames_t, frame_anchor, offsets, *_eps(spec))
