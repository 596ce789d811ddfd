"""Turn a :class:`~landsim.spec.LandscapeSpec` into the flat arrays the kernels take."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .axis import CHUNK

__all__ = ["PackedAxis", "PackedRotated", "chunk_table", "pack_axis", "pack_rotated",
           "pack_anchors"]


class PackedAxis(NamedTuple):
    """Kernel arrays of an axis-aligned landscape (see :mod:`landsim.kernels.axis`)."""

    anchors: np.ndarray  # (0|1|K, D) float64
    axes: np.ndarray  # (S,) int64, by wedge, sorted within each wedge
    offsets: np.ndarray  # (K + 1,) int64
    chunk_ptr: np.ndarray  # (n_chunks + 1,) int64: entries of chunk c
    chunk_wedge: np.ndarray  # (E,) int32: the wedge of each entry
    chunk_lo: np.ndarray  # (E,) int64: its axes in the chunk are axes[lo:hi]
    chunk_hi: np.ndarray  # (E,) int64
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


def chunk_table(axes: np.ndarray, offsets: np.ndarray, dim: int, chunk: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which wedges have short axes in each chunk of ``chunk`` coordinates, and where.

    Parameters
    ----------
    axes : int64 array, shape (S,)
        Short axes by wedge, sorted within each wedge.
    offsets : int64 array, shape (K + 1,)
    dim : int
        D.
    chunk : int
        Coordinates per chunk.

    Returns
    -------
    chunk_ptr : int64 array, shape (ceil(D / chunk) + 1,)
    chunk_wedge : int32 array, shape (E,)
    chunk_lo, chunk_hi : int64 arrays, shape (E,)
        Entry e of chunk c (``chunk_ptr[c] <= e < chunk_ptr[c + 1]``, wedges ascending)
        is wedge ``chunk_wedge[e]``, whose axes in the chunk are ``axes[lo:hi]``.
    """
    n_wedges = offsets.size - 1
    n_chunks = -(-dim // chunk)
    wedge = np.repeat(np.arange(n_wedges, dtype=np.int64), np.diff(offsets))
    key = (axes // chunk) * n_wedges + wedge  # runs: each wedge's axes are sorted
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    stops = np.r_[starts[1:], key.size].astype(np.int64)
    order = np.argsort(key[starts], kind="stable")
    starts, stops = starts[order].astype(np.int64), stops[order]
    run_chunk = key[starts] // n_wedges
    chunk_ptr = np.zeros(n_chunks + 1, dtype=np.int64)
    np.cumsum(np.bincount(run_chunk, minlength=n_chunks), out=chunk_ptr[1:])
    return (chunk_ptr, (key[starts] % n_wedges).astype(np.int32), starts,
            np.ascontiguousarray(stops))


def pack_axis(spec) -> PackedAxis:
    """Short axes of every wedge, by wedge, and the chunk table of the kernels."""
    axes = np.concatenate([w.short_axes for w in spec.wedges]).astype(np.int64)
    offsets = np.zeros(spec.n_wedges + 1, dtype=np.int64)
    np.cumsum([w.n_short for w in spec.wedges], out=offsets[1:])
    return PackedAxis(pack_anchors(spec), axes, offsets,
                      *chunk_table(axes, offsets, spec.dim, CHUNK), *_eps(spec))


def pack_rotated(spec) -> PackedRotated:
    """Row-stacked transposed frames and their anchor offsets."""
    frames_t = np.ascontiguousarray(np.concatenate([w.short_frame.T for w in spec.wedges]))
    offsets = np.zeros(spec.n_wedges + 1, dtype=np.int64)
    np.cumsum([w.n_short for w in spec.wedges], out=offsets[1:])
    frame_anchor = np.concatenate([w.short_frame.T @ w.anchor_or_origin()
                                   for w in spec.wedges])
    return PackedRotated(pack_anchors(spec), frames_t, frame_anchor, offsets, *_eps(spec))
