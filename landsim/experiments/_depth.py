"""Where points sit inside their arg-min wedge, exactly from a landscape's spec.

Used by the toy experiments that judge whether points stay inside one wedge (E6) and that
place end points in a wedge (E7); see docs/model.md, section 1 for the width law
w = eps0 + eps1 r.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import geometry
from ..spec import LandscapeSpec

__all__ = ["WedgeDepth", "wedge_depth"]


class WedgeDepth(NamedTuple):
    """Where points sit in their arg-min wedge (shapes for B points)."""

    argmin: np.ndarray  #: (B,) int64 arg-min wedge
    loss: np.ndarray  #: (B,) float64 landscape loss
    width: np.ndarray  #: (B,) w = eps0 + eps1 r of the arg-min wedge
    radius: np.ndarray  #: (B,) long radius r in the arg-min wedge
    depth: np.ndarray  #: (B,) min_j (w - |u_j|): > 0 inside, < 0 outside


def wedge_depth(spec: LandscapeSpec, X) -> WedgeDepth:
    """Depth of each point inside its arg-min wedge, exactly from the spec.

    Parameters
    ----------
    spec : LandscapeSpec
    X : array, shape (B, D)

    Returns
    -------
    WedgeDepth
    """
    Xb, _ = geometry.as_batch(spec, X)
    Xb = Xb.astype(np.float64, copy=False)
    ev = geometry.evaluate(spec, Xb, grad=False)
    B = Xb.shape[0]
    width, radius, depth = np.zeros(B), np.zeros(B), np.zeros(B)
    for k in np.unique(ev.argmin):
        rows = np.flatnonzero(ev.argmin == k)
        w = spec.wedges[int(k)]
        Y = Xb[rows] - w.anchor_or_origin()
        U = Y[:, w.short_axes] if w.kind == "axis" else Y @ w.short_frame
        r = np.sqrt(np.maximum(np.einsum("bd,bd->b", Y, Y) - np.einsum("bs,bs->b", U, U),
                               0.0))
        width[rows] = w.eps0 + w.eps1 * r
        radius[rows] = r
        depth[rows] = width[rows] - np.abs(U).max(axis=1)
    return WedgeDepth(ev.argmin.astype(np.int64), ev.loss, width, radius, depth)
