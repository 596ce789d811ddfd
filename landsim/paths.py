"""Paths, simplices and barriers in a wedge-union landscape (docs/model.md, section 2).

Paths are built as arrays of points and evaluated through the batched
:mod:`landsim.geometry` API: a whole path is one ``geometry.loss`` call.

Paths
    :func:`line` (a -> b), :func:`chain` (polygonal chain, parametrised by arc length),
    :func:`bezier` (quadratic Bezier curve with one free control point, Garipov et al.
    2018), and simplices: barycentric weights from :func:`simplex_grid` or
    :func:`simplex_dirichlet`, mapped by :func:`simplex_points` (flat simplex) or
    :func:`simplex_tunnel_points` (an *m-tunnel*: m fixed vertices and a free centre).
Barriers
    :func:`barrier` and :func:`path_barrier` compute (Draxler et al. 2018; Garipov et al.
    2018) ``B = max_t [L(gamma(t)) - ((1 - t) L(a) + t L(b))]``.

The random 2-D sections (``plane_section``, ``radial_section``, ``random_plane``,
``PlaneSection``, ``RadialSection``, ``SECTION_CHUNK``, ``SECTION_MAX_FLOATS``) live in
:mod:`landsim.sections`; importing those names from here still works for one release,
with a DeprecationWarning.

Every function validates its inputs and raises ``ValueError`` naming the bad value and
the valid range. All results are float64.
"""

from __future__ import annotations

import math
import warnings
from itertools import chain as _iter_chain
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

from . import geometry
from ._arrays import real_array, same_shape, vector
from ._checks import as_generator, int_at_least
from .spec import LandscapeSpec, check_spec

__all__ = [
    "PathProfile", "SIMPLEX_GRID_MAX_POINTS", "WEIGHT_SUM_TOL",
    "as_t", "line", "chain_knots", "chain", "bezier", "bezier_control_weights",
    "simplex_grid", "simplex_dirichlet", "simplex_points", "simplex_tunnel_points",
    "tunnel_centre_weights", "barrier_profile", "barrier", "path_barrier",
]

#: Largest number of points :func:`simplex_grid` will build.
SIMPLEX_GRID_MAX_POINTS = 10_000_000
#: Allowed deviation of a row of barycentric weights from summing to 1.
WEIGHT_SUM_TOL = 1e-9


# ------------------------------------------------------------------------ validation

def as_t(t: Any) -> np.ndarray:
    """Validate a path parameter.

    Parameters
    ----------
    t : int or array_like, shape (T,)
        An integer T >= 2 means T evenly spaced values from 0 to 1, both included;
        an array gives the values themselves, each in [0, 1].

    Returns
    -------
    ndarray, shape (T,)
        float64 parameter values.
    """
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        return np.linspace(0.0, 1.0, int_at_least("t (number of samples)", t, 2))
    arr = real_array("t", t, 1)
    bad = arr[(arr < 0) | (arr > 1)]
    if bad.size:
        raise ValueError(f"t must lie in [0, 1], got {float(bad[0])!r}")
    return arr


def _weights(weights: Any, m: int | None = None, vertices_shape: tuple = ()) -> np.ndarray:
    """Barycentric weights (N, m): non-negative rows summing to 1."""
    w = real_array("weights", weights, 2)
    if m is not None and w.shape[1] != m:
        raise ValueError(f"weights must have shape (N, {m}) to match vertices of shape "
                         f"{vertices_shape}, got {w.shape}")
    if w.min() < 0:
        raise ValueError(f"weights must be non-negative, got {float(w.min())!r}")
    sums = w.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > WEIGHT_SUM_TOL:
        raise ValueError(f"weights rows must sum to 1 (within {WEIGHT_SUM_TOL:g}), got row "
                         f"{worst} summing to {float(sums[worst])!r}")
    return w


def _vertices(vertices: Any, minimum: int) -> np.ndarray:
    v = real_array("vertices", vertices, 2)
    if v.shape[0] < minimum:
        raise ValueError(f"vertices must have shape (m, D) with m >= {minimum}, got {v.shape}")
    return v


def line(a: Any, b: Any, t: Any) -> np.ndarray:
    """Points of the segment from a to b.

    Computed as ``(1 - t) a + t b``, so that t = 0 gives a and t = 1 gives b exactly.

    Parameters
    ----------
    a, b : array_like, shape (D,)
        End points.
    t : int or array_like, shape (T,)
        Parameter values in [0, 1], or a number T >= 2 of evenly spaced ones (see
        :func:`as_t`).

    Returns
    -------
    ndarray, shape (T, D)
    """
    a, b = vector("a", a), vector("b", b)
    same_shape(("a", "b"), a, b)
    t = as_t(t)[:, None]
    return (1.0 - t) * a + t * b


def chain_knots(points: Any) -> np.ndarray:
    """Parameter values at which :func:`chain` passes through its vertices.

    ``knots[i]`` is the arc length from ``points[0]`` to ``points[i]`` along the chain,
    divided by the total length; ``knots[0] = 0`` and ``knots[-1] = 1`` exactly.

    Parameters
    ----------
    points : array_like, shape (P, D)
        Vertices of the chain, P >= 2, not all equal.

    Returns
    -------
    ndarray, shape (P,)
        Non-decreasing (repeated vertices give repeated knots).
    """
    p = real_array("points", points, 2)
    if p.shape[0] < 2:
        raise ValueError(f"points must have shape (P, D) with P >= 2, got {p.shape}")
    cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    if cum[-1] == 0:
        raise ValueError("points must not all coincide: the chain has length 0")
    return cum / cum[-1]


def chain(points: Any, t: Any) -> np.ndarray:
    """Points of the polygonal chain through ``points``.

    The chain is parametrised by normalised arc length: t is the fraction of the total
    length travelled from ``points[0]``, so equal steps in t are equal distances along
    the chain and the endpoint interpolation of :func:`barrier` weighs each segment by
    its length. Vertex i is reached at ``t = chain_knots(points)[i]``, where it is
    reproduced exactly; t = 0 and t = 1 give the first and last vertex.

    Parameters
    ----------
    points : array_like, shape (P, D)
        Vertices, P >= 2, not all equal (consecutive repeats are allowed).
    t : int or array_like, shape (T,)
        Parameter values in [0, 1] or a number T >= 2 of evenly spaced ones.

    Returns
    -------
    ndarray, shape (T, D)
    """
    p = real_array("points", points, 2)
    knots = chain_knots(p)
    t = as_t(t)
    seg = np.clip(np.searchsorted(knots, t, side="right") - 1, 0, p.shape[0] - 2)
    length = knots[seg + 1] - knots[seg]
    u = np.divide(t - knots[seg], length, out=np.zeros_like(t), where=length > 0)
    u = u[:, None]
    return (1.0 - u) * p[seg] + u * p[seg + 1]


def bezier_control_weights(t: Any) -> np.ndarray:
    """Weight ``2 t (1 - t)`` of the control point in :func:`bezier`.

    It is also the derivative of a curve point with respect to the control point
    (d gamma(t) / dc = 2 t (1 - t) I), which is what training the control point needs.

    Parameters
    ----------
    t : int or array_like, shape (T,)

    Returns
    -------
    ndarray, shape (T,)
    """
    t = as_t(t)
    return 2.0 * t * (1.0 - t)


def bezier(a: Any, control: Any, b: Any, t: Any) -> np.ndarray:
    """Quadratic Bezier curve ``(1 - t)^2 a + 2 t (1 - t) c + t^2 b`` (Garipov et al. 2018).

    t = 0 and t = 1 give a and b exactly; ``control = (a + b) / 2`` gives the segment
    :func:`line` (a, b, t).

    Parameters
    ----------
    a, control, b : array_like, shape (D,)
        End points and the free control point c.
    t : int or array_like, shape (T,)

    Returns
    -------
    ndarray, shape (T, D)
    """
    a, c, b = vector("a", a), vector("control", control), vector("b", b)
    same_shape(("a", "control", "b"), a, c, b)
    t = as_t(t)[:, None]
    return (1.0 - t) ** 2 * a + (2.0 * t * (1.0 - t)) * c + t**2 * b


# ------------------------------------------------------------------------ simplices
def simplex_grid(m: int, resolution: int) -> np.ndarray:
    """Barycentric weights on the regular grid of the (m - 1)-simplex.

    All compositions ``k_1 + ... + k_m = resolution`` of non-negative integers, divided
    by ``resolution``, in lexicographic order of the stars-and-bars bar positions (the
    first row is the last vertex e_m, the last row the first vertex e_1). There are
    ``C(resolution + m - 1, m - 1)`` of them; the vertices appear exactly (weights 0 and 1).

    Parameters
    ----------
    m : int
        Number of vertices, >= 1.
    resolution : int
        Grid steps along an edge, >= 1.

    Returns
    -------
    ndarray, shape (N, m)
    """
    m = int_at_least("m", m, 1)
    resolution = int_at_least("resolution", resolution, 1)
    n = math.comb(resolution + m - 1, m - 1)
    if n > SIMPLEX_GRID_MAX_POINTS:
        raise ValueError(f"simplex_grid(m={m}, resolution={resolution}) would have {n} "
                         f"points; at most {SIMPLEX_GRID_MAX_POINTS} are allowed")
    slots = resolution + m - 1
    # Stars and bars: choose the m - 1 bar positions among resolution + m - 1 slots.
    bars = np.fromiter(_iter_chain.from_iterable(combinations(range(slots), m - 1)),
                       dtype=np.int64, count=n * (m - 1)).reshape(n, m - 1)
    ends = np.concatenate([np.full((n, 1), -1), bars, np.full((n, 1), slots)], axis=1)
    return (np.diff(ends, axis=1) - 1) / resolution


def simplex_dirichlet(m: int, n: int, seed: Any = 0) -> np.ndarray:
    """Barycentric weights drawn uniformly on the simplex (Dirichlet(1, ..., 1)).

    Parameters
    ----------
    m : int
        Number of vertices, >= 1.
    n : int
        Number of samples, >= 1.
    seed : int, numpy.random.Generator or None
        Same seed, same samples.

    Returns
    -------
    ndarray, shape (n, m)
        Non-negative rows summing to 1.
    """
    m = int_at_least("m", m, 1)
    n = int_at_least("n", n, 1)
    return as_generator(seed).dirichlet(np.ones(m), size=n)


def simplex_points(vertices: Any, weights: Any) -> np.ndarray:
    """Points ``sum_i lambda_i v_i`` of the flat simplex.

    Parameters
    ----------
    vertices : array_like, shape (m, D)
    weights : array_like, shape (N, m)
        Barycentric weights: non-negative, rows summing to 1 within
        :data:`WEIGHT_SUM_TOL`.

    Returns
    -------
    ndarray, shape (N, D)
    """
    v = _vertices(vertices, 1)
    return _weights(weights, v.shape[0], v.shape) @ v


def tunnel_centre_weights(weights: Any) -> np.ndarray:
    """Weight ``m min_i lambda_i`` of the free centre in :func:`simplex_tunnel_points`.

    It is also the derivative of a tunnel point with respect to the centre
    (dx / dc = m min(lambda) I). It is 0 on the boundary of the simplex and 1 at its
    barycentre.

    Parameters
    ----------
    weights : array_like, shape (N, m)
        Barycentric weights, m >= 2.

    Returns
    -------
    ndarray, shape (N,)
    """
    w = _weights(weights)
    if w.shape[1] < 2:
        raise ValueError(f"weights must have shape (N, m) with m >= 2, got {w.shape}")
    return w.shape[1] * w.min(axis=1)


def simplex_tunnel_points(vertices: Any, centre: Any, weights: Any) -> np.ndarray:
    """Points of an m-tunnel: a simplex with m fixed vertices and a free centre point.

    The flat simplex is cut into m sub-simplices that share its barycentre
    g = mean(v); sub-simplex j keeps every vertex but v_j and puts g in its place. The
    tunnel moves g to the free ``centre`` c and maps each sub-simplex affinely. A point
    with barycentric weights lambda lies in the sub-simplex j of its smallest weight
    mu = lambda_j, where its weights are (lambda_i - mu for i != j, m mu for the
    centre), so

        x = sum_i lambda_i v_i + m min(lambda) (c - g).

    The map is continuous and piecewise affine; the boundary of the simplex
    (min(lambda) = 0), in particular each vertex, is reproduced exactly, the barycentre
    maps to c, and c = g gives the flat simplex (:func:`simplex_points`).

    Parameters
    ----------
    vertices : array_like, shape (m, D)
        Fixed vertices (the optima), m >= 2.
    centre : array_like, shape (D,)
        Free centre point c.
    weights : array_like, shape (N, m)
        Barycentric weights (non-negative rows summing to 1).

    Returns
    -------
    ndarray, shape (N, D)
    """
    v = _vertices(vertices, 2)
    c = vector("centre", centre, v.shape[1])
    w = _weights(weights, v.shape[0], v.shape)
    lift = v.shape[0] * w.min(axis=1)
    return w @ v + lift[:, None] * (c - v.mean(axis=0))


# ------------------------------------------------------------------------ barriers
class PathProfile(NamedTuple):
    """The loss along a path and its barrier (T points on the path)."""

    t: np.ndarray  #: (T,) parameter values, t[0] = 0 and t[-1] = 1
    loss: np.ndarray  #: (T,) float64 loss L(gamma(t))
    barrier: float  #: max_t excess; >= 0 since the excess is 0 at both ends
    argmax: int  #: index of the (first) largest excess
    excess: np.ndarray  #: (T,) L(gamma(t)) - ((1 - t) L(a) + t L(b))


def barrier_profile(losses: Any, t: Any) -> PathProfile:
    """Excess loss over the chord, its maximum (the barrier) and where it is reached.

    Parameters
    ----------
    losses : array_like, shape (T,)
        Loss at each sampled point of the path; L(a) = ``losses[0]``, L(b) = ``losses[-1]``.
    t : int or array_like, shape (T,)
        Parameter values in [0, 1] with ``t[0] = 0`` and ``t[-1] = 1`` (an integer T means
        T evenly spaced values).

    Returns
    -------
    PathProfile
    """
    losses = real_array("losses", losses, 1)
    t = as_t(t)
    if losses.shape != t.shape:
        raise ValueError(f"losses and t must have the same shape, got {losses.shape} and "
                         f"{t.shape}")
    if t.size < 2 or t[0] != 0 or t[-1] != 1:
        raise ValueError(f"t must run from t[0] = 0 to t[-1] = 1 with at least 2 values, got "
                         f"{t.size} values from {float(t[0])!r} to {float(t[-1])!r}")
    # chord L(a) + t (L(b) - L(a)): exact at both ends and for a constant profile
    chord = np.where(t == 1, losses[-1], losses[0] + t * (losses[-1] - losses[0]))
    excess = losses - chord
    k = int(np.argmax(excess))
    return PathProfile(t, losses, float(excess[k]), k, excess)


def barrier(losses: Any, t: Any) -> float:
    """Barrier ``B = max_t [L(gamma(t)) - ((1 - t) L(a) + t L(b))]`` of a loss profile.

    L(a) and L(b) are ``losses[0]`` and ``losses[-1]``; B >= 0.

    Parameters
    ----------
    losses : array_like, shape (T,)
        Loss at each sampled point of the path.
    t : int or array_like, shape (T,)
        Parameter values in [0, 1] with ``t[0] = 0`` and ``t[-1] = 1``.

    Returns
    -------
    float
    """
    return barrier_profile(losses, t).barrier


def path_barrier(spec: LandscapeSpec, points: Any, t: Any) -> PathProfile:
    """Loss profile and barrier of a sampled path, in one ``geometry.loss`` call.

    Parameters
    ----------
    spec : LandscapeSpec
    points : array_like, shape (T, D)
        The path's points gamma(t), ``points[0] = a`` and ``points[-1] = b``.
    t : array_like, shape (T,)
        Their parameter values, ``t[0] = 0`` and ``t[-1] = 1`` (as given to
        :func:`line`, :func:`chain` or :func:`bezier`).

    Returns
    -------
    PathProfile
    """
    spec = check_spec(spec)
    p = real_array("points", points, 2)
    t = as_t(t)
    if p.shape[1] != spec.dim or p.shape[0] != t.shape[0]:
        raise ValueError(f"points must have shape (T, D) = {(t.shape[0], spec.dim)} to match "
                         f"t of shape {t.shape} and the landscape's dim, got {p.shape}")
    return barrier_profile(geometry.loss(spec, p), t)


# ------------------------------------------------------------------------ moved names
#: Names that moved to :mod:`landsim.sections`; served from here with a warning.
_MOVED = ("PlaneSection", "RadialSection", "SECTION_CHUNK", "SECTION_MAX_FLOATS",
          "plane_section", "radial_section", "random_plane")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"landsim.paths.{name} moved to landsim.sections.{name}; import it "
                      "from there (the old place goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        from . import sections

        return getattr(sections, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
