"""Low-dimensional sections of a real network's loss landscape.

The semantics mirror :func:`landsim.sections.plane_section` and
:func:`landsim.sections.radial_section`, with a :class:`~landsim.real.flat.FlatModel` and data
in place of a landscape spec, and accuracy recorded beside the loss.

:func:`random_direction`
    A Gaussian direction in weight space, optionally filter-normalised (Li et al. 2018,
    *Visualizing the loss landscape of neural nets*): each filter (row of a weight matrix,
    output channel of a convolution) is rescaled to the norm of the same filter of a
    reference point; 1-D parameters (biases, BN scales) get 0 by default.
:func:`plane_through`
    Two orthonormal directions whose plane contains a given point seen from an origin
    (``e1 = (point - origin) / |point - origin|``, e2 random): the plane through the weight
    origin and an optimum of E5.
:func:`plane_section`, :func:`radial_section`
    Loss and accuracy on a grid ``origin + alpha e1 + beta e2``, or at
    ``origin + r (cos theta e1 + sin theta e2)``.
:func:`low_loss_width`
    At each radius of a radial section, the arc length of the connected low-loss arc
    around a given angle (the radial-tunnel width of E5).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from .. import sections as _sections
from .._checks import int_at_least, real_in
from ._device import check_seed, torch_generator
from .flat import FlatModel

__all__ = [
    "SECTION_POINTS_PER_CHUNK", "random_direction", "plane_through", "orthonormal_pair",
    "PlaneSection", "RadialSection", "plane_section", "radial_section", "LowLossWidth",
    "low_loss_width",
]

#: Points of weight space materialised at once by the sections.
SECTION_POINTS_PER_CHUNK = 64


def random_direction(fm: FlatModel, seed: int = 0, *, filter_normalise: bool = False,
                     reference: torch.Tensor | None = None, ignore_1d: bool = True
                     ) -> torch.Tensor:
    """A random direction in weight space, shape (P,).

    Parameters
    ----------
    fm : FlatModel
        Gives the parameter layout.
    seed : int
        Same seed, same direction (drawn on the CPU in float64, then cast).
    filter_normalise : bool
        Rescale every filter to the norm of the reference's filter (Li et al. 2018). A
        filter is a slice along axis 0 of a parameter with >= 2 dimensions.
    reference : Tensor, shape (P,), optional
        Point whose filter norms are used; the module's current weights by default.
    ignore_1d : bool
        With filter normalisation, set the direction of 1-D parameters (biases, BN) to 0
        (Li et al.'s default); otherwise rescale each to the reference's norm.

    Returns
    -------
    Tensor, shape (P,)
        Standard normal entries without normalisation.
    """
    gen = torch_generator(check_seed(seed))
    d = torch.randn(fm.n_params, generator=gen, dtype=torch.float64)
    if not filter_normalise:
        return d.to(fm.device, fm.dtype)
    ref = fm.get_flat() if reference is None else fm.check_flat(reference, "reference")
    sizes = [math.prod(shape) for shape in fm.shapes]
    ref_parts = torch.split(ref.detach().to(torch.float64).cpu(), sizes)
    out = []
    for shape, w, g in zip(fm.shapes, ref_parts, torch.split(d, sizes)):
        w, g = w.reshape(shape), g.reshape(shape)
        if w.ndim <= 1:
            g = torch.zeros_like(g) if ignore_1d else g * (w.norm() / g.norm().clamp_min(1e-30))
        else:
            wn = w.reshape(w.shape[0], -1).norm(dim=1)
            gn = g.reshape(g.shape[0], -1).norm(dim=1).clamp_min(1e-30)
            g = g * (wn / gn).reshape(-1, *([1] * (g.ndim - 1)))
        out.append(g.reshape(-1))
    return torch.cat(out).to(fm.device, fm.dtype)


def orthonormal_pair(d1: torch.Tensor, d2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gram-Schmidt (in float64, with one re-orthogonalisation): e1 = d1 / |d1|, e2 ⟂ e1.

    Raises ``ValueError`` for a zero vector, or for d2 parallel to d1 (orthogonal part
    below max(1e-10, 100 eps of the input dtype) of |d2|), as
    :func:`landsim.sections.plane_section`.
    """
    a, b = d1.detach().to(torch.float64), d2.detach().to(torch.float64)
    for name, v in (("d1", a), ("d2", b)):
        if not bool(v.any()):
            raise ValueError(f"{name} must be non-zero, got the zero vector")
    e1 = a / a.norm()
    w = b - (e1 @ b) * e1
    w = w - (e1 @ w) * e1
    tol = max(_sections.PARALLEL_TOL, 100 * torch.finfo(d1.dtype).eps)  # rounding of the inputs
    if w.norm() <= tol * b.norm():
        raise ValueError(f"d2 must not be parallel to d1: its orthogonal part has relative "
                         f"norm {float(w.norm() / b.norm()):.3g}, need > {tol:g}")
    return e1.to(d1.dtype), (w / w.norm()).to(d1.dtype)


def plane_through(point: torch.Tensor, seed: int = 0, origin: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthonormal e1, e2 spanning a random plane through ``origin`` that contains ``point``.

    ``e1 = (point - origin) / |point - origin|`` (origin 0 by default), e2 a random unit
    vector orthogonal to it (:func:`landsim.sections.random_plane` with ``containing``). In
    the radial section through ``origin`` the point lies at angle 0, radius
    ``|point - origin|``.

    Returns
    -------
    e1, e2 : Tensor, shape (P,)
        Dtype and device of ``point``.
    """
    p = point.detach().to(torch.float64).cpu()
    o = torch.zeros_like(p) if origin is None else origin.detach().to(torch.float64).cpu()
    e1, e2 = _sections.random_plane(p.numel(), check_seed(seed), containing=(p - o).numpy())
    return (torch.as_tensor(e1).to(point.device, point.dtype),
            torch.as_tensor(e2).to(point.device, point.dtype))


class PlaneSection(NamedTuple):
    """Loss and accuracy on the grid origin + alpha_i e1 + beta_j e2."""

    loss: np.ndarray  #: (A, B) float64
    accuracy: np.ndarray  #: (A, B)
    alpha: np.ndarray  #: (A,)
    beta: np.ndarray  #: (B,)
    origin: torch.Tensor  #: (P,)
    e1: torch.Tensor  #: (P,) direction used
    e2: torch.Tensor  #: (P,)


class RadialSection(NamedTuple):
    """Loss and accuracy at origin + r (cos theta e1 + sin theta e2)."""

    loss: np.ndarray  #: (R, A) float64, [i, j] at (radii[i], angles[j])
    accuracy: np.ndarray  #: (R, A)
    radii: np.ndarray  #: (R,)
    angles: np.ndarray  #: (A,) radians from e1 towards e2
    origin: torch.Tensor  #: (P,)
    e1: torch.Tensor  #: (P,) orthonormal
    e2: torch.Tensor  #: (P,)


def _evaluate_coeffs(fm: FlatModel, x, y, origin, e1, e2, coeffs: np.ndarray, bn_x,
                     points_per_call: int):
    basis = torch.stack([e1, e2]).to(fm.device, fm.dtype)  # (2, P)
    loss, acc = np.empty(coeffs.shape[0]), np.empty(coeffs.shape[0])
    c = torch.as_tensor(coeffs, dtype=fm.dtype, device=fm.device)
    for s in range(0, coeffs.shape[0], SECTION_POINTS_PER_CHUNK):
        pts = origin + c[s:s + SECTION_POINTS_PER_CHUNK] @ basis  # (C, P)
        ev = fm.evaluate_points(pts, x, y, bn_x=bn_x, points_per_call=points_per_call)
        loss[s:s + pts.shape[0]], acc[s:s + pts.shape[0]] = ev.loss, ev.accuracy
    return loss, acc


def _vectors(fm: FlatModel, origin, d1, d2):
    return (fm.check_flat(origin, "origin"), fm.check_flat(d1, "d1"), fm.check_flat(d2, "d2"))


def plane_section(fm: FlatModel, x: torch.Tensor, y: torch.Tensor, origin: torch.Tensor,
                  d1: torch.Tensor, d2: torch.Tensor, extent: float = 1.0,
                  resolution: int = 21, *, alpha: Any = None, beta: Any = None,
                  orthonormalise: bool = True, bn_x: torch.Tensor | None = None,
                  points_per_call: int = 8) -> PlaneSection:
    """Loss and accuracy on a grid in the plane through ``origin`` spanned by d1, d2.

    Parameters
    ----------
    fm : FlatModel
    x, y : Tensor, shapes (N, ...) and (N,)
        Evaluation data.
    origin, d1, d2 : Tensor, shape (P,)
    extent : float
        Half-width of the square grid, > 0 (ignored when alpha and beta are given).
    resolution : int
        Grid points per side, >= 2.
    alpha, beta : array_like, optional
        Explicit grid coordinates (both or neither).
    orthonormalise : bool
        Gram-Schmidt d1, d2 first (default, as in landsim.sections); pass False to keep
        filter-normalised directions as they are (both must be non-zero).
    bn_x : Tensor, optional
        Batch-norm networks: recompute statistics at every grid point on these inputs.
    points_per_call : int

    Returns
    -------
    PlaneSection
        ``loss[i, j]`` at ``origin + alpha[i] e1 + beta[j] e2``.
    """
    origin, d1, d2 = _vectors(fm, origin, d1, d2)
    if orthonormalise:
        e1, e2 = orthonormal_pair(d1, d2)
    else:
        for name, v in (("d1", d1), ("d2", d2)):
            if not bool(v.any()):
                raise ValueError(f"{name} must be non-zero, got the zero vector")
        e1, e2 = d1, d2
    if (alpha is None) != (beta is None):
        raise ValueError("give both alpha and beta, or neither (then extent and resolution "
                         "define the grid)")
    if alpha is None:
        extent = real_in("extent", extent, 0.0, low_open=True)
        resolution = int_at_least("resolution", resolution, 2)
        alpha = beta = np.linspace(-extent, extent, resolution)
    else:
        alpha = np.asarray(alpha, dtype=np.float64).reshape(-1)
        beta = np.asarray(beta, dtype=np.float64).reshape(-1)
        if alpha.size == 0 or beta.size == 0:
            raise ValueError("alpha and beta must not be empty")
    ga, gb = np.meshgrid(alpha, beta, indexing="ij")
    coeffs = np.stack([ga.ravel(), gb.ravel()], axis=1)
    loss, acc = _evaluate_coeffs(fm, x, y, origin, e1, e2, coeffs, bn_x, points_per_call)
    shape = (alpha.size, beta.size)
    return PlaneSection(loss.reshape(shape), acc.reshape(shape), alpha, beta, origin, e1, e2)


def radial_section(fm: FlatModel, x: torch.Tensor, y: torch.Tensor, origin: torch.Tensor,
                   d1: torch.Tensor, d2: torch.Tensor, radii: Any, angles: Any, *,
                   bn_x: torch.Tensor | None = None, points_per_call: int = 8
                   ) -> RadialSection:
    """Loss and accuracy along rays from ``origin`` in the plane of d1 and d2.

    d1, d2 are orthonormalised into e1, e2. ``loss[i, j]`` is at
    ``origin + radii[i] (cos angles[j] e1 + sin angles[j] e2)``; radius 0 gives the
    origin's loss.

    Parameters
    ----------
    radii : array_like, shape (R,)
        Each >= 0.
    angles : array_like, shape (A,)
        Radians, from e1 towards e2.

    Returns
    -------
    RadialSection
    """
    origin, d1, d2 = _vectors(fm, origin, d1, d2)
    e1, e2 = orthonormal_pair(d1, d2)
    radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    if radii.size == 0 or angles.size == 0:
        raise ValueError("radii and angles must not be empty")
    if radii.min() < 0:
        raise ValueError(f"radii must lie in [0, inf[, got {float(radii.min())!r}")
    coeffs = np.stack([np.outer(radii, np.cos(angles)).ravel(),
                       np.outer(radii, np.sin(angles)).ravel()], axis=1)
    loss, acc = _evaluate_coeffs(fm, x, y, origin, e1, e2, coeffs, bn_x, points_per_call)
    shape = (radii.size, angles.size)
    return RadialSection(loss.reshape(shape), acc.reshape(shape), radii, angles, origin, e1, e2)


class LowLossWidth(NamedTuple):
    """Width of the low-loss arc at each radius of a radial section."""

    radii: np.ndarray  #: (R,)
    cells: np.ndarray  #: (R,) int64 angle cells in the arc (A: the whole circle)
    angular_extent: np.ndarray  #: (R,) radians, cells * angle step
    width: np.ndarray  #: (R,) arc length, radii * angular_extent


def low_loss_width(section: RadialSection | Any, threshold: float, *,
                   centre_angle: float = 0.0, connected: bool = True,
                   values: str = "loss") -> LowLossWidth:
    """Width of the set ``{loss <= threshold}`` at each radius of a radial section.

    With ``connected`` (default), counts the run of consecutive low-loss angles that
    contains the angle nearest ``centre_angle`` (0: the direction e1, e.g. towards the
    optimum), wrapping around when the angles cover the full circle; otherwise counts all
    low-loss angles. The width is the arc length ``r * step * cells``, as in
    :mod:`landsim.experiments.e5_radial_tunnels`.

    Parameters
    ----------
    section : RadialSection
        Angles evenly spaced and increasing.
    threshold : float
        Low-loss level.
    centre_angle : float
        Radians.
    connected : bool
    values : {"loss", "error"}
        Threshold the loss, or the error 1 - accuracy.

    Returns
    -------
    LowLossWidth
    """
    threshold = real_in("threshold", threshold, -math.inf)
    if values not in ("loss", "error"):
        raise ValueError(f"values must be one of ('loss', 'error'), got {values!r}")
    field = section.loss if values == "loss" else 1.0 - section.accuracy
    angles = np.asarray(section.angles, dtype=np.float64)
    radii = np.asarray(section.radii, dtype=np.float64)
    n = angles.size
    if n < 2:
        raise ValueError(f"need at least 2 angles, got {n}")
    steps = np.diff(angles)
    step = float(steps.mean())
    if step <= 0 or np.max(np.abs(steps - step)) > 1e-9 * max(1.0, abs(step)):
        raise ValueError("angles must be evenly spaced and increasing")
    full = abs(n * step - 2 * math.pi) <= 1e-9 * 2 * math.pi
    wrapped = np.angle(np.exp(1j * (angles - centre_angle)))
    centre = int(np.argmin(np.abs(wrapped)))
    low = np.asarray(field) <= threshold  # (R, A)
    cells = np.zeros(radii.size, dtype=np.int64)
    for i, row in enumerate(low):
        if not connected:
            cells[i] = int(row.sum())
        elif not row[centre]:
            cells[i] = 0
        elif row.all():
            cells[i] = n
        elif full:
            rolled = np.roll(row, -centre)
            cells[i] = int(np.argmin(rolled)) + int(np.argmin(rolled[::-1]))
        else:
            up = row[centre:]
            down = row[:centre + 1][::-1]
            right = int(np.argmin(up)) if not up.all() else up.size
            left = int(np.argmin(down)) if not down.all() else down.size
            cells[i] = right + left - 1
    extent = cells * step
    return LowLossWidth(radii, cells, extent, radii * extent)
