"""The rule pieces that the toy and the real experiments of a claim share.

E5 (docs/claims.md, E5): the widening of the low-loss arc around an optimum's ray in a
random 2-D section (:func:`check_widening_fields`, :func:`judged_mask`,
:func:`judge_widening`, :func:`plot_widths`). E7 (docs/claims.md, E7): the end points of
the three knob sweeps on one curvature curve (:func:`check_sweep`,
:func:`check_curvature_fields`, :func:`rule_metrics`, :func:`judge_curvature`,
:func:`sweep_metrics`, :func:`plot_pooled`). The numbers they judge come from
:mod:`landsim.analysis`; the plotting helpers draw on a matplotlib Axes the caller made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ._checks import int_at_least, real_in
from .analysis import knob_offset_share, line_fit, log_slope, onset_robust, rank_corr, spearman
from .results import Result, Verdict

__all__ = ["Widening", "check_curvature_fields", "check_sweep", "check_widening_fields",
           "judge_curvature", "judge_widening", "judged_mask", "plot_pooled", "plot_widths",
           "rule_metrics", "sweep_metrics", "widening_rule_text"]


# ------------------------------------------------ E5: radial tunnels widen
def check_widening_fields(config, n_radii: int, n_angles: int) -> None:
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


# ------------------------------------------------ E7: one curvature curve (reading A)
def check_sweep(name: str, values, low_open: bool, integer: bool = False) -> tuple:
    """A validated, strictly increasing sweep of at least 3 values, as a tuple."""
    if not isinstance(values, (tuple, list)) or len(values) < 3:
        raise ValueError(f"{name} must be a sequence of at least 3 values, got {values!r}")
    if integer:
        checked = tuple(int_at_least(f"{name}[{i}]", v, 1) for i, v in enumerate(values))
    else:
        checked = tuple(real_in(f"{name}[{i}]", v, 0.0, low_open=low_open)
                        for i, v in enumerate(values))
    if any(b <= a for a, b in zip(checked, checked[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {list(checked)}")
    return checked


def check_curvature_fields(cfg) -> None:
    """Validate the rule's thresholds (shared by the toy and real Configs)."""
    real_in("probe_length", cfg.probe_length, 0.0, low_open=True)
    int_at_least("n_probe_directions", cfg.n_probe_directions, 1)
    real_in("min_pooled_rank_corr", cfg.min_pooled_rank_corr, 0.0, 1.0, high_open=False)
    real_in("max_knob_offset_share", cfg.max_knob_offset_share, 0.0, 1.0, high_open=False)
    real_in("min_curvature_ratio", cfg.min_curvature_ratio, 1.0)
    real_in("min_radius_ratio", cfg.min_radius_ratio, 1.0)
    real_in("min_direction_corr", cfg.min_direction_corr, 0.0, 1.0, high_open=False)


def rule_metrics(sweeps: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 min_direction_corr: float) -> dict[str, float]:
    """The statistics of the rule from the setting means of every sweep.

    Parameters
    ----------
    sweeps : mapping knob -> (values (n_k,), end radius (n_k,), curvature c (n_k,))
        Setting means, in sweep order.
    min_direction_corr : float
        |rho| a knob needs for reading B to count its direction.

    Returns
    -------
    dict
        ``pooled_rank_corr``, ``knob_offset_share``, ``pooled_r2``, ``curvature_ratio``,
        ``min_knob_radius_ratio``, ``same_direction`` and per knob ``<knob>_rho_curvature``,
        ``<knob>_rho_radius``, ``<knob>_radius_ratio``, ``<knob>_direction`` (-1, 0, 1).
    """
    radius = np.concatenate([np.asarray(s[1], dtype=np.float64) for s in sweeps.values()])
    curv = np.concatenate([np.asarray(s[2], dtype=np.float64) for s in sweeps.values()])
    groups = np.concatenate([np.full(len(s[1]), i) for i, s in enumerate(sweeps.values())])
    m: dict[str, float] = {}
    positive = bool(np.all(radius > 0) and np.all(curv > 0) and np.all(np.isfinite(curv)))
    m["pooled_rank_corr"] = spearman(radius, curv)
    if positive:
        share, r2 = knob_offset_share(np.log(radius), np.log(curv), groups)
        m["curvature_ratio"] = float(curv.max() / curv.min())
    else:  # a non-positive curvature has no log: the one-curve test cannot be passed
        share, r2 = float("nan"), float("nan")
        m["curvature_ratio"] = float("nan")
    m["knob_offset_share"], m["pooled_r2"] = share, r2
    directions = []
    ratios = []
    for knob, (values, r, c) in sweeps.items():
        r = np.asarray(r, dtype=np.float64)
        m[f"{knob}_rho_curvature"] = spearman(values, c)
        m[f"{knob}_rho_radius"] = spearman(values, r)
        ratio = float(r.max() / r.min()) if np.all(r > 0) else float("nan")
        m[f"{knob}_radius_ratio"] = ratio
        ratios.append(ratio)
        rho = m[f"{knob}_rho_curvature"]
        direction = int(np.sign(rho)) if abs(rho) >= min_direction_corr else 0
        m[f"{knob}_direction"] = float(direction)
        directions.append(direction)
    m["min_knob_radius_ratio"] = float(min(ratios))
    m["same_direction"] = float(directions[0] != 0 and len(set(directions)) == 1)
    return m


def judge_curvature(cfg, metrics: Mapping[str, float], knobs: Sequence[str]) -> Verdict:
    """The verdict of reading A from :func:`rule_metrics` (toy and real, both arms).

    Holds iff |pooled_rank_corr| >= cfg.min_pooled_rank_corr, knob_offset_share <=
    cfg.max_knob_offset_share, curvature_ratio >= cfg.min_curvature_ratio and every
    knob's radius ratio >= cfg.min_radius_ratio (NaN fails).
    """
    m = metrics
    parts = {
        "monotone": abs(m["pooled_rank_corr"]) >= cfg.min_pooled_rank_corr,
        "one curve": bool(m["knob_offset_share"] <= cfg.max_knob_offset_share),
        "curvature moves": bool(m["curvature_ratio"] >= cfg.min_curvature_ratio),
        "every knob moves the radius": bool(m["min_knob_radius_ratio"]
                                            >= cfg.min_radius_ratio),
    }
    holds = all(parts.values())
    failed = [name for name, ok in parts.items() if not ok]
    words = {1: "raises", -1: "lowers", 0: "has no clear effect on"}
    per_knob = "; ".join(
        f"{knob}: radius x{m[f'{knob}_radius_ratio']:.3g} (rho {m[f'{knob}_rho_radius']:+.2f}),"
        f" {words[int(m[f'{knob}_direction'])]} c (rho {m[f'{knob}_rho_curvature']:+.2f})"
        for knob in knobs)
    evidence = (f"pooled Spearman(r, c) = {m['pooled_rank_corr']:+.3f}, knob-offset share "
                f"F = {m['knob_offset_share']:.3g} (pooled R^2 {m['pooled_r2']:.3g}), c "
                f"max/min = {m['curvature_ratio']:.3g}, smallest radius max/min = "
                f"{m['min_knob_radius_ratio']:.3g}; {per_knob}; reading B (same "
                f"direction): {'yes' if m['same_direction'] else 'no'}; "
                + ("all parts hold" if holds else "fails: " + ", ".join(failed)) + ".")
    rule = (f"reading A: over the pooled settings of all three sweeps |Spearman(end radius, "
            f"curvature c at step {cfg.probe_length:g})| >= {cfg.min_pooled_rank_corr:g}, "
            f"knob-offset share of log c beyond one quadratic curve in log r <= "
            f"{cfg.max_knob_offset_share:g}, c max/min >= {cfg.min_curvature_ratio:g}, and "
            f"every knob moves the mean end radius by max/min >= {cfg.min_radius_ratio:g}")
    return Verdict(holds=holds, rule=rule, evidence=evidence)


def sweep_metrics(series: dict, knobs, min_direction_corr: float) -> dict:
    """:func:`rule_metrics` of the sweeps in ``series`` plus the top-eigenvalue statistics
    (reported, not judged): each knob's Spearman rho of value against top eigenvalue and
    the pooled rho of end radius against top eigenvalue.

    Parameters
    ----------
    series : dict
        ``{knob}_values``, ``{knob}_radius``, ``{knob}_curvature`` and
        ``{knob}_top_eigenvalue``, each of shape (n_values,), for every knob.
    knobs : sequence of str
    min_direction_corr : float
    """
    metrics = rule_metrics({k: (series[f"{k}_values"], series[f"{k}_radius"],
                                series[f"{k}_curvature"]) for k in knobs},
                           min_direction_corr)
    for knob in knobs:
        metrics[f"{knob}_rho_top_eigenvalue"] = spearman(series[f"{knob}_values"],
                                                         series[f"{knob}_top_eigenvalue"])
    pooled_r = np.concatenate([series[f"{k}_radius"] for k in knobs])
    pooled_eig = np.concatenate([series[f"{k}_top_eigenvalue"] for k in knobs])
    metrics["pooled_rank_corr_top_eigenvalue"] = spearman(pooled_r, pooled_eig)
    return metrics


def plot_pooled(ax, result: Result, knobs: Sequence[str], labels: Mapping[str, str]) -> None:
    """The pooled points (end radius, curvature c) of every sweep on log-log axes."""
    s = result.series
    for n, knob in enumerate(knobs):
        ax.plot(s[f"{knob}_radius"], s[f"{knob}_curvature"], "o-", color=f"C{n}", ms=4,
                label=labels[knob])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean end radius |x|", fontsize="small")
    ax.set_ylabel("curvature c at fixed step", fontsize="small")
    m = result.metrics
    ax.set_title(f"pooled rho = {m['pooled_rank_corr']:+.2f}, F = "
                 f"{m['knob_offset_share']:.2g}", fontsize="small")
    ax.legend(fontsize="x-small")
