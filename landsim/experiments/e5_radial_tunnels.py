"""E5: along random directions, wedges look like radial tunnels.

Fort & Jastrzebski (2019): seen in a random 2-D section through the origin, an n-wedge
looks like a *radial tunnel*, a cone whose width grows with the distance from the origin,
because its width law w = eps0 + eps1 r grows along the long directions. We cut
``n_sections`` random sections of one landscape. Section i contains the direction of an
optimum of wedge k = i mod K: a random point of W_k at distance ``optimum_radius`` from
the origin on its long subspace (:func:`landsim.geometry.intersection_point`, short
coordinates zero, so the whole ray through it lies in W_k). The plane is
e1 = optimum / |optimum| and a random unit e2 orthogonal to it
(:func:`landsim.paths.random_plane` with ``containing``), sampled on a radius x angle grid
(:func:`landsim.paths.radial_section`, angles over the full circle, theta = 0 on the
optimum's ray).

Width. At each radius r the *low-loss set* is the set of angles with loss <= ``low_loss``;
the width is the **arc length** r * (angular extent of the connected low-loss arc that
contains theta = 0), with the angular extent counted as (number of grid angles in the arc)
x (grid step 2 pi / n_angles); it is 0 if theta = 0 itself is not low-loss and 2 pi r if
the whole circle is. The same width is also predicted exactly from the wedge's spec: with
u = r sin(theta) e2_S (e1 has no short part), the ray at theta is inside W_k iff
r |sin theta| max_j |e2_S,j| <= eps0 + eps1 r sqrt(1 - sin^2(theta) |e2_S|^2), which gives
a half-angle theta* in closed form (:func:`predicted_half_angle`).

The claim holds when a least-squares line through (r, mean width over the sections) has a
positive slope and R^2 >= ``min_r2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import geometry, paths
from .._checks import int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import random_landscape
from ._common import Progress, Timer, check_landscape_fields, line_fit, report

ID = "E5"
TITLE = "Radial tunnels in random sections"
CLAIM = ("Seen along random directions, the wedges look like radial tunnels: in a 2-D "
         "section through the origin the low-loss region widens linearly with the radius "
         "(Fort & Jastrzebski 2019).")


@dataclass(frozen=True)
class Config:
    dim: int = 1000  # D
    n_wedges: int = 6  # K
    n_short: int = 100  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.02  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    optimum_radius: float = 10.0  # distance of each section's optimum from the origin
    r_max: float = 20.0  # largest radius of the section grid
    n_radii: int = 32  # radii r_max / n_radii .. r_max
    n_angles: int = 960  # angles over the full circle (even, so that theta = 0 is on it)
    n_sections: int = 6  # random sections, each with its own optimum and plane
    low_loss: float = 1e-12  # a section point is low-loss when its loss <= this
    min_r2: float = 0.9  # verdict: R^2 of the width-vs-radius line >= this

    def __post_init__(self) -> None:
        check_landscape_fields(self)
        int_at_least("n_sections", self.n_sections, 1)
        int_at_least("n_radii", self.n_radii, 3)
        int_at_least("n_angles", self.n_angles, 8)
        if self.n_angles % 2:
            raise ValueError(f"n_angles must be even (theta = 0 on the grid), got "
                             f"{self.n_angles}")
        real_in("low_loss", self.low_loss, 0.0)
        for name in ("optimum_radius", "r_max"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("min_r2", self.min_r2, 0.0, 1.0, high_open=False)


def quick_config() -> Config:
    return Config(dim=400, n_wedges=3, n_short=40, n_radii=16, n_angles=720, n_sections=3)


def section_angles(n_angles: int) -> np.ndarray:
    """The full circle, ``-pi + 2 pi j / n_angles``; index n_angles // 2 is theta = 0."""
    return -math.pi + 2.0 * math.pi * np.arange(n_angles) / n_angles


def arc_cells(low: np.ndarray, centre: int) -> np.ndarray:
    """Length (in grid cells) of the cyclic run of True values that contains ``centre``.

    Parameters
    ----------
    low : ndarray of bool, shape (R, A)
        Low-loss flags per radius and angle (angles cyclic).
    centre : int
        Angle index the run must contain.

    Returns
    -------
    ndarray of int64, shape (R,)
        0 where ``low[:, centre]`` is False, A where the whole row is True.
    """
    low = np.asarray(low, dtype=bool)
    R, A = low.shape
    out = np.zeros(R, dtype=np.int64)
    for i in range(R):
        row = low[i]
        if not row[centre]:
            continue
        if row.all():
            out[i] = A
            continue
        rolled = np.roll(row, -centre)  # the centre at index 0, a False somewhere
        right = int(np.argmin(rolled))  # first False going up
        left = int(np.argmin(rolled[::-1]))  # first False going down (index 0 = centre - 1)
        out[i] = right + left
    return out


def predicted_half_angle(r: np.ndarray, eps0: float, eps1: float, m: float,
                         q: float) -> np.ndarray:
    """Half-angle theta* of the wedge's cone in the section, at radii r.

    The ray at angle theta is inside the wedge iff
    r |sin theta| m <= eps0 + eps1 r sqrt(1 - sin^2(theta) q), with m = max_j |e2_S,j| and
    q = |e2_S|^2 (e1 on the long subspace). Solving the equality for sin theta >= 0 gives
    theta*; it is pi / 2 where the inequality holds for every angle (then the whole circle
    is inside).
    """
    r = np.asarray(r, dtype=np.float64)
    a = r * r * (m * m + eps1 * eps1 * q)
    b = m * r * eps0
    c = eps0 * eps0 - eps1 * eps1 * r * r
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a
    s = np.where(a > 0, s, np.inf)
    return np.where(s >= 1.0, math.pi / 2, np.arcsin(np.clip(s, 0.0, 1.0)))


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=seed)
    rng = np.random.default_rng(seed)
    radii = cfg.r_max * np.arange(1, cfg.n_radii + 1) / cfg.n_radii
    angles = section_angles(cfg.n_angles)
    centre = cfg.n_angles // 2
    step = 2.0 * math.pi / cfg.n_angles
    widths = np.zeros((cfg.n_sections, cfg.n_radii))
    predicted = np.zeros_like(widths)
    wedge_of = np.zeros(cfg.n_sections, dtype=np.int64)
    first_loss = None
    for i in range(cfg.n_sections):
        report(progress, i / cfg.n_sections, f"section {i + 1} of {cfg.n_sections}")
        k = i % cfg.n_wedges
        wedge_of[i] = k
        with timer("sections"):
            optimum = geometry.intersection_point(spec, [k], cfg.optimum_radius, rng)
            e1, e2 = paths.random_plane(cfg.dim, rng, containing=optimum)
            sec = paths.radial_section(spec, np.zeros(cfg.dim), e1, e2, radii, angles)
        if first_loss is None:
            first_loss = sec.loss
        widths[i] = radii * step * arc_cells(sec.loss <= cfg.low_loss, centre)
        e2_short = sec.e2[spec.wedges[k].short_axes]
        theta = predicted_half_angle(radii, cfg.eps0, cfg.eps1, float(np.abs(e2_short).max()),
                                     float(e2_short @ e2_short))
        predicted[i] = np.where(theta >= math.pi / 2, 2.0 * math.pi, 2.0 * theta) * radii
    mean_width = widths.mean(axis=0)
    slope, intercept, r2 = line_fit(radii, mean_width)
    fits = np.array([line_fit(radii, w) for w in widths])  # (n_sections, 3)
    err_cells = np.abs(widths - predicted) / (radii * step)
    holds = bool(slope > 0 and r2 >= cfg.min_r2)
    verdict = Verdict(
        holds=holds,
        rule=f"the least-squares line through (radius, mean arc width of the low-loss arc "
             f"around the optimum's ray, loss <= {cfg.low_loss:g}) has slope > 0 and "
             f"R^2 >= {cfg.min_r2:g}",
        evidence=f"over {cfg.n_sections} sections the mean width grows as {slope:.4g} r + "
                 f"{intercept:.3g} with R^2 = {r2:.4f}; per section the slopes span "
                 f"{fits[:, 0].min():.4g} .. {fits[:, 0].max():.4g} and the smallest R^2 is "
                 f"{fits[:, 2].min():.4f}; the widths predicted from the spec differ by at "
                 f"most {err_cells.max():.2g} grid steps.")
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed,
        metrics={"slope": slope, "intercept": intercept, "r2": r2,
                 "min_section_slope": float(fits[:, 0].min()),
                 "min_section_r2": float(fits[:, 2].min()),
                 "predicted_slope": line_fit(radii, predicted.mean(axis=0))[0],
                 "max_width_error_steps": float(err_cells.max()),
                 "angular_step": step},
        series={"radii": radii, "angles": angles, "section_loss": first_loss,
                "widths": widths, "mean_width": mean_width, "predicted_width": predicted,
                "section_wedge": wedge_of},
        verdict=verdict, timings=timer.done())


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    radii, angles = s["radii"], s["angles"]
    ax1, ax2 = fig.subplots(1, 2)
    # cell edges of the (radius, angle) grid, drawn in Cartesian section coordinates
    dr = radii[1] - radii[0]
    r_edges = np.concatenate([[max(radii[0] - dr / 2, 0.0)], radii + dr / 2])
    a_edges = np.concatenate([angles - m["angular_step"] / 2,
                              [angles[-1] + m["angular_step"] / 2]])
    rr, aa = np.meshgrid(r_edges, a_edges, indexing="ij")
    floor = max(float(result.config["low_loss"]), 1e-16)
    mesh = ax1.pcolormesh(rr * np.cos(aa), rr * np.sin(aa),
                          np.log10(np.maximum(s["section_loss"], floor)), shading="flat",
                          cmap="viridis")
    fig.colorbar(mesh, ax=ax1, label="log10 loss")
    ax1.plot([0, radii[-1]], [0, 0], "r:", lw=1.0, label="optimum's ray")
    ax1.set_aspect("equal")
    ax1.set_xlabel("along the optimum's direction e1")
    ax1.set_ylabel("along a random direction e2")
    ax1.set_title("Loss in a random section (dark = low)")
    ax1.legend(loc="lower left", fontsize="small")
    for row in s["widths"]:
        ax2.plot(radii, row, color="0.7", lw=0.8)
    ax2.plot(radii, s["mean_width"], "o", ms=3, label="mean over sections")
    ax2.plot(radii, m["slope"] * radii + m["intercept"], "-",
             label=f"fit: {m['slope']:.3g} r + {m['intercept']:.2g} (R^2 = {m['r2']:.3f})")
    ax2.set_xlabel("radius r")
    ax2.set_ylabel("arc width of the low-loss arc")
    ax2.set_title("Width grows with the radius")
    ax2.legend(fontsize="small")
