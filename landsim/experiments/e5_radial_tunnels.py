"""E5: along random directions, wedges look like radial tunnels (docs/claims.md, E5).

Measurement. Fort & Jastrzebski (2019): seen in a random 2-D section through the origin,
an n-wedge looks like a *radial tunnel*, a low-loss set around an optimum's ray whose
width grows with the distance from the origin (on the model because w = eps0 + eps1 r
grows along the long directions). We cut ``n_sections`` random sections of one
landscape. Section i contains the direction of an optimum of wedge k = i mod K: a random
point of W_k at distance ``optimum_radius`` from the origin on its long subspace
(:func:`landsim.geometry.intersection_point`, short coordinates zero, so the whole ray
through it lies in W_k). The plane is e1 = optimum / |optimum| and a random unit e2
orthogonal to it (:func:`landsim.paths.random_plane` with ``containing``), sampled on a
radius x angle grid (:func:`landsim.paths.radial_section`, angles over the full circle,
theta = 0 on the optimum's ray).

Width. At each radius the *low-loss set* is the set of angles with loss <= ``low_loss``;
the width is the **arc length** r x (number of grid angles in the connected low-loss arc
that contains theta = 0) x (grid step 2 pi / n_angles). The same width is also predicted
exactly from the wedge's spec: with u = r sin(theta) e2_S (e1 has no short part), the ray
at theta is inside W_k iff r |sin theta| max_j |e2_S,j| <= eps0 + eps1 r
sqrt(1 - sin^2(theta) |e2_S|^2), which gives a half-angle theta* in closed form
(:func:`predicted_half_angle`).

Rule (:func:`judge_widening`, shared with the real experiment
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
from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata

from .. import geometry, paths
from .._checks import int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, streams
from ..spec import random_landscape
from ._common import Progress, Timer, check_landscape_fields, line_fit, report

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


def check_rule_fields(config, n_radii: int, n_angles: int) -> None:
    """Validate the rule's fields (shared with the real experiment).

    ``low_loss`` >= 0, ``min_arc_cells`` in [1, n_angles - 1], ``min_judged_radii`` in
    [3, n_radii] (dropping the innermost radius must leave a fit), ``min_elasticity`` > 0,
    ``min_rank_corr`` in ]0, 1]. Raises ValueError naming the bad value and the range.
    """
    real_in("low_loss", config.low_loss, 0.0)
    int_at_least("min_arc_cells", config.min_arc_cells, 1)
    if config.min_arc_cells >= n_angles:
        raise ValueError(f"min_arc_cells must be in [1, n_angles - 1 = {n_angles - 1}], got "
                         f"{config.min_arc_cells}")
    int_at_least("min_judged_radii", config.min_judged_radii, 3)
    if config.min_judged_radii > n_radii:
        raise ValueError(f"min_judged_radii must be in [3, n_radii = {n_radii}], got "
                         f"{config.min_judged_radii}")
    real_in("min_elasticity", config.min_elasticity, 0.0, low_open=True)
    real_in("min_rank_corr", config.min_rank_corr, 0.0, 1.0, low_open=True, high_open=False)


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
    low_loss: float = 1e-12  # rule: a section point is low-loss when its loss <= this
    min_arc_cells: int = 8  # rule: a radius is judged when every arc has >= this many angles
    min_judged_radii: int = 4  # rule: at least this many judged radii
    min_elasticity: float = 0.5  # rule: log-log slope of width vs radius >= this
    min_rank_corr: float = 0.9  # rule: Spearman rho of width vs radius >= this (monotone)

    def __post_init__(self) -> None:
        check_landscape_fields(self)
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


def section_angles(n_angles: int) -> np.ndarray:
    """The full circle, ``2 pi (j - n_angles / 2) / n_angles`` for j = 0 .. n_angles - 1
    (from -pi); index n_angles // 2 is exactly theta = 0 (n_angles even).

    Returns
    -------
    ndarray, shape (n_angles,)
    """
    return 2.0 * math.pi * (np.arange(n_angles) - n_angles // 2) / n_angles


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


# ---- the rule's pieces (shared with landsim.real.experiments.e5_radial_tunnels) ----------

def judged_mask(cells: np.ndarray, ray_low: np.ndarray, n_angles: int,
                min_arc_cells: int) -> np.ndarray:
    """The radii the rule judges: the optimum's ray is low-loss there and, in every
    section, the low-loss arc around it is resolved by the angle grid.

    Parameters
    ----------
    cells : ndarray of int, shape (S, R)
        Grid angles in the connected low-loss arc around theta = 0, per section and radius
        (``n_angles`` for the whole circle).
    ray_low : ndarray of bool, shape (R,)
        Whether the optimum's ray (theta = 0) is low-loss at each radius.
    n_angles : int
        Angles of the grid over the full circle.
    min_arc_cells : int
        An arc of fewer cells is the grid's resolution, not a measured width.

    Returns
    -------
    ndarray of bool, shape (R,)
        True where ``ray_low`` and ``min_arc_cells <= cells < n_angles`` in every section.
    """
    cells = np.atleast_2d(np.asarray(cells))
    resolved = (cells >= min_arc_cells) & (cells < n_angles)
    return np.asarray(ray_low, dtype=bool) & resolved.all(axis=0)


def log_slope(radii: np.ndarray, widths: np.ndarray) -> float:
    """Elasticity of the width: least-squares slope of log(width) against log(radius).

    A strip (constant width) gives 0, a cone from the origin (width proportional to r) 1.

    Parameters
    ----------
    radii, widths : ndarray, shape (n,)
        n >= 2 positive values, radii not all equal.

    Returns
    -------
    float
    """
    return line_fit(np.log(np.asarray(radii, dtype=np.float64)),
                    np.log(np.asarray(widths, dtype=np.float64)))[0]


def rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (average ranks for ties).

    A constant ``y`` explains no ordering: 0 (not NaN), so a strip cannot pass as
    monotone.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        n >= 2.

    Returns
    -------
    float
        In [-1, 1].
    """
    rx, ry = rankdata(np.asarray(x, dtype=np.float64)), rankdata(np.asarray(y,
                                                                           dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom > 0 else 0.0


def onset_robust(statistic, radii: np.ndarray, widths: np.ndarray) -> float:
    """The smaller of ``statistic(radii, widths)`` and the same without the innermost
    point, so that no single innermost radius carries the verdict.

    Parameters
    ----------
    statistic : callable (radii, widths) -> float
    radii, widths : ndarray, shape (n,)
        n >= 3, radii increasing.

    Returns
    -------
    float
    """
    return min(statistic(radii, widths), statistic(radii[1:], widths[1:]))


class Widening(NamedTuple):
    """The rule's judgement of one replicate (toy or real)."""

    verdict: Verdict
    metrics: dict  #: elasticity, rank_corr, judged_radii, r2, ... (NaN when not computable)
    judged: np.ndarray  #: (R,) bool, the judged radii


def widening_rule_text(cfg) -> str:
    """The rule as one sentence, with its thresholds (``cfg`` holds the RULE_FIELDS)."""
    return (f"on the judged radii (the optimum's ray has loss <= {cfg.low_loss:g} and in "
            f"every section the low-loss arc around it spans >= {cfg.min_arc_cells} grid "
            f"angles and not the whole circle; at least {cfg.min_judged_radii} of them), the "
            f"mean arc width over the sections widens: log-log slope (elasticity) >= "
            f"{cfg.min_elasticity:g} and Spearman rho >= {cfg.min_rank_corr:g}, each the "
            f"smaller of its value with and without the innermost judged radius "
            f"(docs/claims.md, E5)")


def judge_widening(cfg, radii: np.ndarray, widths: np.ndarray, cells: np.ndarray,
                   ray_low: np.ndarray, n_angles: int) -> Widening:
    """Apply the E5 rule (docs/claims.md, E5) to measured widths; toy and real alike.

    Parameters
    ----------
    cfg : Config
        Holds the RULE_FIELDS (``low_loss`` only for the rule's text).
    radii : ndarray, shape (R,)
        Increasing, > 0.
    widths : ndarray, shape (S, R)
        Arc width of the low-loss arc around the optimum's ray, per section and radius.
    cells : ndarray of int, shape (S, R)
        The arcs in grid angles.
    ray_low : ndarray of bool, shape (R,)
        Whether the optimum's ray is low-loss at each radius.
    n_angles : int

    Returns
    -------
    Widening
        metrics: ``elasticity`` and ``rank_corr`` (onset-robust, judged),
        ``elasticity_all`` (on all judged radii, the innermost included),
        ``min_section_elasticity``, ``judged_radii``, ``judged_r_min``, ``judged_r_max``,
        ``r2``, ``slope`` and ``intercept`` of a straight line (reported, not judged).
    """
    radii = np.asarray(radii, dtype=np.float64)
    widths = np.atleast_2d(np.asarray(widths, dtype=np.float64))
    judged = judged_mask(cells, ray_low, n_angles, cfg.min_arc_cells)
    n = int(judged.sum())
    nan = math.nan
    m = {"elasticity": nan, "rank_corr": nan, "judged_radii": float(n), "r2": nan,
         "slope": nan, "intercept": nan, "elasticity_all": nan,
         "min_section_elasticity": nan, "judged_r_min": nan, "judged_r_max": nan}
    rule = widening_rule_text(cfg)
    if n < cfg.min_judged_radii:
        n_ray = int(np.asarray(ray_low, dtype=bool).sum())
        evidence = (f"only {n} of {radii.size} radii are judged (need "
                    f"{cfg.min_judged_radii}): the optimum's ray is low-loss at {n_ray} "
                    f"radii, and the arc around it is resolved (>= {cfg.min_arc_cells} grid "
                    f"angles, not the whole circle) in every section at {n} of them, so no "
                    f"widening of a low-loss set can be measured.")
        return Widening(Verdict(False, rule, evidence), m, judged)
    r, w = radii[judged], widths[:, judged].mean(axis=0)
    m["elasticity"] = onset_robust(log_slope, r, w)
    m["rank_corr"] = onset_robust(rank_corr, r, w)
    m["elasticity_all"] = log_slope(r, w)
    m["min_section_elasticity"] = min(log_slope(r, row) for row in widths[:, judged])
    m["slope"], m["intercept"], m["r2"] = line_fit(r, w)
    m["judged_r_min"], m["judged_r_max"] = float(r[0]), float(r[-1])
    holds = bool(m["elasticity"] >= cfg.min_elasticity
                 and m["rank_corr"] >= cfg.min_rank_corr)
    shape = ("widens" if holds else "does not widen enough"
             if m["elasticity"] < cfg.min_elasticity else "is not monotone")
    evidence = (f"on {n} of {radii.size} judged radii (r = {r[0]:.3g} .. {r[-1]:.3g}) the mean "
                f"width over {widths.shape[0]} sections {shape}: {w[0]:.3g} -> {w[-1]:.3g}, "
                f"elasticity {m['elasticity']:.3f} (need >= {cfg.min_elasticity:g}; "
                f"{m['elasticity_all']:.3f} with the innermost radius), Spearman rho "
                f"{m['rank_corr']:.3f} (need >= {cfg.min_rank_corr:g}); per section the "
                f"smallest elasticity is {m['min_section_elasticity']:.3f}; a straight line "
                f"has R^2 = {m['r2']:.3f} (reported, not judged).")
    return Widening(Verdict(holds, rule, evidence), m, judged)


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
            e1, e2 = paths.random_plane(cfg.dim, rngs["planes"], containing=optimum)
            sec = paths.radial_section(spec, np.zeros(cfg.dim), e1, e2, radii, angles)
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


def plot_widths(ax, radii: np.ndarray, widths: np.ndarray, mean_width: np.ndarray,
                judged: np.ndarray, metrics: dict) -> None:
    """Per-section widths (grey), the mean (filled where judged), log-log axes.

    Parameters
    ----------
    radii : ndarray, shape (R,)
    widths : ndarray, shape (S, R)
    mean_width : ndarray, shape (R,)
    judged : ndarray of bool, shape (R,)
    metrics : dict
        ``elasticity`` and ``rank_corr`` for the legend.
    """
    for row in widths:
        pos = row > 0
        ax.plot(radii[pos], row[pos], color="0.75", lw=0.8)
    pos = mean_width > 0
    ax.plot(radii[pos & ~judged], mean_width[pos & ~judged], "o", ms=3, mfc="none",
            color="C0", label="mean (not judged: ray not low-loss or arc unresolved)")
    label = "mean over sections (judged)"
    if np.isfinite(metrics.get("elasticity", math.nan)):
        label += (f": elasticity {metrics['elasticity']:.2f}, "
                  f"rho {metrics['rank_corr']:.2f}")
    ax.plot(radii[judged], mean_width[judged], "o", ms=3, color="C0", label=label)
    if pos.any():
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("radius r")
    ax.set_ylabel("arc width of the low-loss arc")
    ax.legend(fontsize="x-small", loc="upper left")
