"""E5: along random directions, wedges look like radial tunnels (docs/claims.md, E5).

Measurement. Fort & Jastrzebski (2019): seen in a random 2-D section through the origin,
an n-wedge looks like a *radial tunnel*, a low-loss set around an optimum's ray whose
width grows with the distance from the origin (on the model because w = eps0 + eps1 r
grows along the long directions). We cut ``n_sections`` random sections of one
landscape. Section i contains the direction of an optimum of wedge k = i mod K: a random
point of W_k at distance ``optimum_radius`` from the origin on its long subspace
(:func:`landsim.geometry.intersection_point`, short coordinates zero, so the whole ray
through it lies in W_k). The plane is e1 = optimum / |optimum| and a random unit e2
orthogonal to it (:func:`landsim.sections.random_plane` with ``containing``), sampled on a
radius x angle grid (:func:`landsim.sections.radial_section`, angles over the full circle,
theta = 0 on the optimum's ray).

Width. At each radius the *low-loss set* is the set of angles with loss <= ``low_loss``;
the width is the **arc length** r x (number of grid angles in the connected low-loss arc
that contains theta = 0) x (grid step 2 pi / n_angles). The same width is also predicted
exactly from the wedge's spec: with u = r sin(theta) e2_S (e1 has no short part), the ray
at theta is inside W_k iff r |sin theta| max_j |e2_S,j| <= eps0 + eps1 r
sqrt(1 - sin^2(theta) |e2_S|^2), which gives a half-angle theta* in closed form
(:func:`predicted_half_angle`).

Rule (:func:`landsim.claim_rules.judge_widening`, shared with the real experiment
:mod:`landsim.real.experiments.e5_radial_tunnels`). The *judged radii* are those where the
optimum's ray is low-loss and, in every section, the arc spans at least ``min_arc_cells``
grid angles and is not the whole circle (below that the "width" is the grid's cell
r x step, which grows linearly with r whatever the landscape: the onset of a real
network's tunnel, a strip narrower than the grid). On them:

- the elasticity e, the least-squares slope of log(mean width) against log(r), is
  >= ``min_elasticity`` (a strip has e = 0, a cone from the origin e = 1);
- Spearman's rank correlation rho of (r, mean width) is >= ``min_rank_corr`` (monotone);
- both are onset-robust: each is the smaller of its value on the judged radii and on the
  judged radii without the innermost one;
- and there are at least ``min_judged_radii`` judged radii.

Linearity (the R^2 of a straight line) is reported, not judged: the paper does not say
the width grows linearly, and on the model it does by construction.

Control (:func:`control_config`): ``eps1 = 0``. Every wedge is then a slab of constant
width, seen in a section as a strip around the optimum's ray whose arc width 2 eps0 / m
does not change with r, so e ~ 0 and the rule must fail.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import geometry, sections
from .._checks import int_at_least, real_in
from ..analysis import log_slope, section_angles
from ..analysis import onset_robust as onset_robust
from ..analysis import rank_corr as rank_corr
from ..claim_rules import Widening as Widening
from ..claim_rules import check_widening_fields as check_rule_fields
from ..claim_rules import judge_widening, plot_widths
from ..claim_rules import judged_mask as judged_mask
from ..claim_rules import widening_rule_text as widening_rule_text
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, streams
from ..spec import random_landscape
from ._landscape import LandscapeParams

ID = "E5"
TITLE = "Radial tunnels in random sections"
CLAIM = ("Seen along random directions, the wedges look like radial tunnels: in a 2-D "
         "section through the origin containing an optimum's direction, the low-loss set "
         "around the optimum's ray widens monotonically with the radius "
         "(Fort & Jastrzebski 2019).")
CONTROL = ("eps1 = 0: every wedge is a slab of constant width, seen in a section as a strip "
           "whose width does not grow with the radius, so the widening rule must fail.")
#: The Config fields that define the rule (the control leaves them unchanged).
RULE_FIELDS = ("low_loss", "min_arc_cells", "min_judged_radii", "min_elasticity",
               "min_rank_corr")
#: Aggregated over replicates; the first is the statistic the rule judges.
KEY_METRICS = ("elasticity", "rank_corr", "judged_radii", "r2", "predicted_elasticity")


@dataclass(frozen=True)
class Config(LandscapeParams):
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
    low_loss: float = 1e-12  # rule: a section point is low-loss when its loss <= this
    min_arc_cells: int = 8  # rule: a radius is judged when every arc has >= this many angles
    min_judged_radii: int = 4  # rule: at least this many judged radii
    min_elasticity: float = 0.5  # rule: log-log slope of width vs radius >= this
    min_rank_corr: float = 0.9  # rule: Spearman rho of width vs radius >= this (monotone)

    def __post_init__(self) -> None:
        self.check_landscape()
        int_at_least("n_sections", self.n_sections, 1)
        int_at_least("n_radii", self.n_radii, 3)
        int_at_least("n_angles", self.n_angles, 8)
        if self.n_angles % 2:
            raise ValueError(f"n_angles must be even (theta = 0 on the grid), got "
                             f"{self.n_angles}")
        for name in ("optimum_radius", "r_max"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        check_rule_fields(self, self.n_radii, self.n_angles)


def quick_config() -> Config:
    # the default's radius grid and a finer angle grid: at D = 400 a strip (the control) is
    # narrower in angle, and the rule must see it resolved at >= min_judged_radii radii
    return Config(dim=400, n_wedges=3, n_short=40, n_radii=32, n_angles=1440, n_sections=3)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: the same landscape with eps1 = 0 (strips)."""
    return dataclasses.replace(config, eps1=0.0)


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

    Parameters
    ----------
    r : ndarray, shape (R,)

    Returns
    -------
    ndarray, shape (R,)
        Radians in [0, pi / 2].
    """
    r = np.asarray(r, dtype=np.float64)
    a = r * r * (m * m + eps1 * eps1 * q)
    b = m * r * eps0
    c = eps0 * eps0 - eps1 * eps1 * r * r
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a
    s = np.where(a > 0, s, np.inf)
    return np.where(s >= 1.0, math.pi / 2, np.arcsin(np.clip(s, 0.0, 1.0)))


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    rngs = streams(seed, ("landscape", "optima", "planes"))
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=rngs["landscape"])
    radii = cfg.r_max * np.arange(1, cfg.n_radii + 1) / cfg.n_radii
    angles = section_angles(cfg.n_angles)
    centre = cfg.n_angles // 2
    step = 2.0 * math.pi / cfg.n_angles
    cells = np.zeros((cfg.n_sections, cfg.n_radii), dtype=np.int64)
    predicted = np.zeros((cfg.n_sections, cfg.n_radii))
    ray_low = np.ones(cfg.n_radii, dtype=bool)
    wedge_of = np.zeros(cfg.n_sections, dtype=np.int64)
    first_loss = None
    for i in range(cfg.n_sections):
        report(progress, i / cfg.n_sections, f"section {i + 1} of {cfg.n_sections}")
        k = i % cfg.n_wedges
        wedge_of[i] = k
        with timer("sections"):
            optimum = geometry.intersection_point(spec, [k], cfg.optimum_radius,
                                                  rngs["optima"])
            e1, e2 = sections.random_plane(cfg.dim, rngs["planes"], containing=optimum)
            sec = sections.radial_section(spec, np.zeros(cfg.dim), e1, e2, radii, angles)
        if first_loss is None:
            first_loss = sec.loss
        low = sec.loss <= cfg.low_loss
        ray_low &= low[:, centre]
        cells[i] = arc_cells(low, centre)
        e2_short = sec.e2[spec.wedges[k].short_axes]
        theta = predicted_half_angle(radii, cfg.eps0, cfg.eps1, float(np.abs(e2_short).max()),
                                     float(e2_short @ e2_short))
        predicted[i] = np.where(theta >= math.pi / 2, 2.0 * math.pi, 2.0 * theta) * radii
    widths = radii * step * cells
    mean_width = widths.mean(axis=0)
    judgement = judge_widening(cfg, radii, widths, cells, ray_low, cfg.n_angles)
    judged = judgement.judged
    err_cells = np.abs(widths - predicted) / (radii * step)
    predicted_elasticity = (log_slope(radii[judged], predicted[:, judged].mean(axis=0))
                            if judged.sum() >= 2 else math.nan)
    metrics = {**judgement.metrics, "predicted_elasticity": predicted_elasticity,
               "max_width_error_steps": float(err_cells.max()), "angular_step": step}
    verdict = Verdict(judgement.verdict.holds, judgement.verdict.rule,
                      f"{judgement.verdict.evidence} The widths predicted in closed form "
                      f"from the spec differ from the measured ones by at most "
                      f"{err_cells.max():.2g} grid steps.")
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed, metrics=metrics,
        series={"radii": radii, "angles": angles, "section_loss": first_loss,
                "widths": widths, "arc_cells": cells, "mean_width": mean_width,
                "predicted_width": predicted, "section_wedge": wedge_of,
                "judged": judged.astype(np.int8)},
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
    plot_widths(ax2, radii, s["widths"], s["mean_width"], s["judged"].astype(bool), m)
    ax2.set_title("Width against the radius")


