"""Small landscape builders shared by the tests (import: from small_landscapes import ...)."""

from __future__ import annotations

import numpy as np

from landsim.spec import LandscapeSpec, WedgeSpec, random_landscape


def landscape(kind: str, anchors: str, union: str, *, dim: int = 24, n_wedges: int = 3,
              n_short=(4, 6, 3), eps0: float = 0.05, eps1: float = 0.2, tau: float = 0.5,
              seed: int = 0) -> LandscapeSpec:
    """A small landscape with anchors 'origin', 'shared' or 'each' (one per wedge)."""
    spec = random_landscape(dim, n_wedges, list(n_short)[:n_wedges], kind=kind, eps0=eps0,
                            eps1=eps1, anchor_scale=0.7 if anchors == "each" else 0.0,
                            union=union, tau=tau, seed=seed)
    if anchors == "shared":
        a = np.random.default_rng(seed + 99).normal(0, 0.7, dim)
        spec = spec.replace(wedges=tuple(
            WedgeSpec(dim=w.dim, eps0=w.eps0, eps1=w.eps1, short_axes=w.short_axes,
                      short_frame=w.short_frame, anchor=a) for w in spec.wedges))
    return spec


def outside_points(spec: LandscapeSpec, n: int, seed: int = 1, scale: float = 2.0):
    """Gaussian points, shape (n, D); mostly outside every wedge for narrow wedges."""
    return np.random.default_rng(seed).normal(0.0, scale, (n, spec.dim))
