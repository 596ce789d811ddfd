"""The Section method's work: a request read into a plain library call and its bodies.

:func:`section_job` validates a SectionRequest against the
:class:`~.service_limits.ServiceLimits` and returns ``(function, args, field)``; the
servicer runs ``function(*args)`` in the pool and streams the named arrays it returns.
Each body makes one library call (:mod:`landsim.paths`, :mod:`landsim.sections`,
:mod:`landsim.geometry`), so the result equals the library's on the same input, bit for
bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from landsim import geometry, paths, sections
from landsim.spec import LandscapeSpec

from .admission import charge_memory
from .arrays import from_ndarray
from .errors import InvalidArgument
from .request_checks import check_bytes, check_count, read_array
from .service_limits import ServiceLimits

__all__ = ["section_job", "path_section", "simplex_section", "plane_section",
           "radial_section"]


def _sampling(limits: ServiceLimits, msg, field: str):
    """``(t, n)``: explicit samples t (n of them) or a sample count (t = n)."""
    which = msg.WhichOneof("sampling")
    if which == "t":
        t = from_ndarray(msg.t, f"{field}.t", ("float64",), limits.max_array_bytes,
                         ndim=1, finite=True)
        n = t.shape[0]
    elif which == "num_t":
        t = n = int(msg.num_t)
    else:
        raise InvalidArgument(field, "give t or num_t")
    check_count(limits, field, n)
    return t, n


def _grid_points(m: int, resolution: int, cap: int) -> int:
    """Points of the simplex grid, C(resolution + m - 1, m - 1), or ``cap + 1`` as soon
    as the count passes ``cap`` (the partial products C(N, i), i <= min(m - 1,
    resolution) <= N / 2, only grow, so a huge count costs no big-number work)."""
    N, k = resolution + m - 1, min(m - 1, resolution)
    n = 1
    for i in range(1, k + 1):
        n = n * (N - i + 1) // i
        if n > cap:
            return cap + 1
    return n


def section_job(request, spec: LandscapeSpec, limits: ServiceLimits
                ) -> tuple[Callable[..., dict[str, np.ndarray]], tuple, str]:
    """What a SectionRequest computes, validated.

    Parameters
    ----------
    request : SectionRequest
    spec : LandscapeSpec
        The request's landscape.
    limits : ServiceLimits

    Returns
    -------
    function, args, field
        ``function(*args)`` returns the section's named result arrays; ``field`` names
        the request's section (for errors the library raises).

    Raises
    ------
    InvalidArgument, ResourceExhausted
    """
    which = request.WhichOneof("section")
    D = spec.dim

    def array(parent, name, field, ndim):
        """A 1-d point (its length is the library's to check), or a 2-d stack of points:
        k >= 1 rows of D."""
        a = read_array(limits, parent, name, field, ndim)
        if ndim == 2 and (a.shape[1] != D or a.shape[0] < 1):
            raise InvalidArgument(f"{field}.shape", f"must be (k, D={D}) with k >= 1, got "
                                                    f"{list(a.shape)}")
        return a

    def values(parent, name, field):
        """A 1-d array of grid values (any length)."""
        return read_array(limits, parent, name, field, 1)

    if which in ("line", "chain", "bezier"):
        msg = getattr(request, which)
        t, n = _sampling(limits, msg.sampling, f"{which}.sampling")
        check_bytes(f"{which}.sampling", n * D * 8, limits.max_array_bytes,
                    "the sampled path's points would be this many bytes")
        charge_memory(f"{which}.sampling", 2 * n * D * 8)
        if which == "line":
            ends = [array(msg, k, f"line.{k}", 1) for k in ("a", "b")]
            build = paths.line
        elif which == "chain":
            ends = [array(msg, "points", "chain.points", 2)]
            build = paths.chain
        else:
            ends = [array(msg, k, f"bezier.{k}", 1) for k in ("a", "control", "b")]
            build = paths.bezier
        return path_section, (spec, build, ends, t), which
    if which == "simplex":
        V = array(request.simplex, "vertices", "simplex.vertices", 2)
        res = int(request.simplex.resolution)
        if res < 1:
            raise InvalidArgument("simplex.resolution", f"must be >= 1, got {res}")
        n = _grid_points(V.shape[0], res, limits.max_points)
        check_count(limits, "simplex.resolution", n)
        m = V.shape[0]  # the grid's weights are n x m, its points n x D
        check_bytes("simplex.resolution", n * max(D, m) * 8, limits.max_array_bytes,
                    "the grid's weights or points would be this many bytes")
        charge_memory("simplex.resolution", 2 * n * (D + m) * 8)
        return simplex_section, (spec, V, res), which
    if which == "plane":
        msg = request.plane
        origin, d1, d2 = (array(msg, k, f"plane.{k}", 1) for k in ("origin", "d1", "d2"))
        alpha = values(msg, "alpha", "plane.alpha") if msg.HasField("alpha") else None
        beta = values(msg, "beta", "plane.beta") if msg.HasField("beta") else None
        resolution = int(msg.resolution) or 51
        n = alpha.size * beta.size if alpha is not None and beta is not None \
            else resolution**2
        check_count(limits, "plane", n)
        charge_memory("plane", 2 * n * D * 8)
        extent = msg.extent if msg.HasField("extent") else 1.0
        return plane_section, (spec, origin, d1, d2, extent, resolution, alpha, beta,
                               not msg.raw_directions), which
    if which == "radial":
        msg = request.radial
        origin, d1, d2 = (array(msg, k, f"radial.{k}", 1) for k in ("origin", "d1", "d2"))
        radii, angles = (values(msg, k, f"radial.{k}") for k in ("radii", "angles"))
        check_count(limits, "radial", radii.size * angles.size)
        charge_memory("radial", 2 * radii.size * angles.size * D * 8)
        return radial_section, (spec, origin, d1, d2, radii, angles), which
    raise InvalidArgument("section", "give line, chain, bezier, simplex, plane or radial")


def path_section(spec, build, ends, t) -> dict[str, np.ndarray]:
    """The loss profile along the path ``build(*ends, t)``."""
    points = build(*ends, t)
    profile = paths.path_barrier(spec, points, t)
    return {"t": profile.t, "loss": profile.loss, "excess": profile.excess,
            "barrier": np.float64(profile.barrier), "argmax": np.int64(profile.argmax)}


def simplex_section(spec, vertices, resolution) -> dict[str, np.ndarray]:
    """The loss on a barycentric grid of ``resolution`` over the simplex ``vertices``."""
    weights = paths.simplex_grid(vertices.shape[0], resolution)
    return {"weights": weights,
            "loss": geometry.loss(spec, paths.simplex_points(vertices, weights))}


def plane_section(spec, origin, d1, d2, extent, resolution, alpha, beta, orthonormalise
                  ) -> dict[str, np.ndarray]:
    """The loss on a grid of the plane through ``origin`` spanned by ``d1``, ``d2``."""
    s = sections.plane_section(spec, origin, d1, d2, extent, resolution, alpha=alpha,
                               beta=beta, orthonormalise=orthonormalise)
    return {"alpha": s.alpha, "beta": s.beta, "e1": s.e1, "e2": s.e2, "loss": s.loss}


def radial_section(spec, origin, d1, d2, radii, angles) -> dict[str, np.ndarray]:
    """The loss on a polar grid of the plane through ``origin`` spanned by ``d1``, ``d2``."""
    s = sections.radial_section(spec, origin, d1, d2, radii, angles)
    return {"radii": s.radii, "angles": s.angles, "e1": s.e1, "e2": s.e2, "loss": s.loss}
