"""Random 2-D sections of a wedge-union landscape (docs/model.md, section 2).

A section is evaluated through the batched :mod:`landsim.geometry` API in chunks of at
most :data:`SECTION_CHUNK` points (fewer when D is large, so that one chunk holds at most
:data:`SECTION_MAX_FLOATS` coordinates).

:func:`plane_section`
    Loss on a grid in the plane origin + alpha e1 + beta e2 (a :class:`PlaneSection`).
:func:`radial_section`
    Loss at origin + r (cos theta e1 + sin theta e2) (a :class:`RadialSection`).
:func:`random_plane`
    Two random orthonormal directions, optionally containing a given one.

Every function validates its inputs and raises ``ValueError`` naming the bad value and
the valid range. All results are float64.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import geometry
from ._arrays import real_array, vector
from ._checks import as_generator, int_at_least, real_in
from .spec import LandscapeSpec, check_spec

__all__ = [
    "PlaneSection", "RadialSection", "SECTION_CHUNK", "SECTION_MAX_FLOATS",
    "PARALLEL_TOL", "plane_section", "radial_section", "random_plane",
]

#: Most points evaluated in one ``geometry.loss`` call by the sections.
SECTION_CHUNK = 4096
#: Most coordinates (points x D) held in one section chunk (128 MiB of float64).
SECTION_MAX_FLOATS = 1 << 24
#: Relative size below which the part of d2 orthogonal to d1 counts as zero.
PARALLEL_TOL = 1e-10


class PlaneSection(NamedTuple):
    """Loss on the grid origin + alpha_i e1 + beta_j e2."""

    loss: np.ndarray  #: (A, B) float64, loss[i, j] at (alpha[i], beta[j])
    alpha: np.ndarray  #: (A,) coordinates along e1
    beta: np.ndarray  #: (B,) coordinates along e2
    origin: np.ndarray  #: (D,)
    e1: np.ndarray  #: (D,) first direction used
    e2: np.ndarray  #: (D,) second direction used


class RadialSection(NamedTuple):
    """Loss at origin + r (cos theta e1 + sin theta e2)."""

    loss: np.ndarray  #: (R, A) float64, loss[i, j] at (radii[i], angles[j])
    radii: np.ndarray  #: (R,)
    angles: np.ndarray  #: (A,) radians
    origin: np.ndarray  #: (D,)
    e1: np.ndarray  #: (D,) orthonormal
    e2: np.ndarray  #: (D,) orthonormal


def _nonzero(names: tuple[str, ...], *vectors: np.ndarray) -> None:
    for name, v in zip(names, vectors):
        if not np.any(v):
            raise ValueError(f"{name} must be non-zero, got the zero vector")


def _orthonormal_pair(d1: np.ndarray, d2: np.ndarray, names=("d1", "d2")):
    """Gram-Schmidt (with one re-orthogonalisation): e1 = d1 / |d1|, e2 orthogonal to e1."""
    _nonzero(names, d1, d2)
    n1, n2 = np.linalg.norm(d1), np.linalg.norm(d2)
    e1 = d1 / n1
    w = d2 - (e1 @ d2) * e1
    w -= (e1 @ w) * e1
    nw = np.linalg.norm(w)
    if nw <= PARALLEL_TOL * n2:
        raise ValueError(f"{names[1]} must not be parallel to {names[0]}: its orthogonal part "
                         f"has relative norm {nw / n2:.3g}, need > {PARALLEL_TOL:g}")
    return e1, w / nw


def _directions(spec: LandscapeSpec, origin, d1, d2, orthonormalise: bool):
    origin = vector("origin", origin, spec.dim)
    d1, d2 = vector("d1", d1, spec.dim), vector("d2", d2, spec.dim)
    if orthonormalise:
        return (origin, *_orthonormal_pair(d1, d2))
    _nonzero(("d1", "d2"), d1, d2)
    return origin, d1, d2


def _section_losses(spec: LandscapeSpec, origin: np.ndarray, basis: np.ndarray,
                    coeffs: np.ndarray) -> np.ndarray:
    """L(origin + coeffs @ basis) for coeffs (N, 2), basis (2, D), in bounded chunks."""
    size = max(1, min(SECTION_CHUNK, SECTION_MAX_FLOATS // spec.dim))
    out = np.empty(coeffs.shape[0])
    for start in range(0, coeffs.shape[0], size):
        stop = start + size
        out[start:stop] = geometry.loss(spec, origin + coeffs[start:stop] @ basis)
    return out


def plane_section(spec: LandscapeSpec, origin: Any, d1: Any, d2: Any, extent: float = 1.0,
                  resolution: int = 51, *, alpha: Any = None, beta: Any = None,
                  orthonormalise: bool = True) -> PlaneSection:
    """Loss on a grid in the plane through ``origin`` spanned by d1 and d2.

    Parameters
    ----------
    spec : LandscapeSpec
    origin, d1, d2 : array_like, shape (D,)
    extent : float
        Half-width of the square grid, > 0: alpha = beta = linspace(-extent, extent,
        resolution). Ignored when ``alpha`` and ``beta`` are given.
    resolution : int
        Grid points per side, >= 2.
    alpha, beta : array_like, shape (A,) and (B,), optional
        Explicit grid coordinates (give both or neither).
    orthonormalise : bool
        Replace d1, d2 by their Gram-Schmidt orthonormalisation (default); otherwise use
        them as given (both must still be non-zero).

    Returns
    -------
    PlaneSection
        ``loss[i, j] = L(origin + alpha[i] e1 + beta[j] e2)``, shape (A, B).
    """
    spec = check_spec(spec)
    origin, e1, e2 = _directions(spec, origin, d1, d2, orthonormalise)
    if (alpha is None) != (beta is None):
        raise ValueError("give both alpha and beta, or neither (then extent and resolution "
                         "define the grid)")
    if alpha is None:
        extent = real_in("extent", extent, 0.0, low_open=True)
        resolution = int_at_least("resolution", resolution, 2)
        alpha = beta = np.linspace(-extent, extent, resolution)
    else:
        alpha, beta = real_array("alpha", alpha, 1), real_array("beta", beta, 1)
    ga, gb = np.meshgrid(alpha, beta, indexing="ij")
    coeffs = np.stack([ga.ravel(), gb.ravel()], axis=1)
    loss = _section_losses(spec, origin, np.stack([e1, e2]), coeffs)
    return PlaneSection(loss.reshape(alpha.size, beta.size), alpha, beta, origin, e1, e2)


def radial_section(spec: LandscapeSpec, origin: Any, d1: Any, d2: Any, radii: Any,
                   angles: Any) -> RadialSection:
    """Loss along rays from ``origin`` in the plane of d1 and d2.

    Parameters
    ----------
    spec : LandscapeSpec
    origin, d1, d2 : array_like, shape (D,)
        d1, d2 are orthonormalised (Gram-Schmidt) into e1, e2.
    radii : array_like, shape (R,)
        Distances from the origin, each >= 0.
    angles : array_like, shape (A,)
        Angles theta in radians, measured from e1 towards e2.

    Returns
    -------
    RadialSection
        ``loss[i, j] = L(origin + radii[i] (cos angles[j] e1 + sin angles[j] e2))``,
        shape (R, A); radius 0 gives L(origin) exactly.
    """
    spec = check_spec(spec)
    origin, e1, e2 = _directions(spec, origin, d1, d2, True)
    radii, angles = real_array("radii", radii, 1), real_array("angles", angles, 1)
    if radii.min() < 0:
        raise ValueError(f"radii must lie in [0, inf[, got {float(radii.min())!r}")
    coeffs = np.stack([np.outer(radii, np.cos(angles)).ravel(),
                       np.outer(radii, np.sin(angles)).ravel()], axis=1)
    loss = _section_losses(spec, origin, np.stack([e1, e2]), coeffs)
    return RadialSection(loss.reshape(radii.size, angles.size), radii, angles, origin, e1, e2)


def random_plane(dim: int, seed: Any = 0, containing: Any = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Two random orthonormal directions in R^dim.

    Parameters
    ----------
    dim : int
        Dimension D, >= 2.
    seed : int, numpy.random.Generator or None
        Same seed, same plane.
    containing : array_like, shape (D,), optional
        A non-zero direction v the plane must contain: then ``e1 = v / |v|`` and e2 is a
        random unit vector orthogonal to it (e.g. a section through the origin that
        contains an optimum's direction).

    Returns
    -------
    e1, e2 : ndarray, shape (D,)
        Orthonormal (to rounding).
    """
    dim = int_at_least("dim", dim, 2)
    rng = as_generator(seed)
    if containing is None:
        g = rng.standard_normal((2, dim))
        return _orthonormal_pair(g[0], g[1])
    v = vector("containing", containing, dim)
    return _orthonormal_pair(v, rng.standard_normal(dim), ("containing", "random direction"))
