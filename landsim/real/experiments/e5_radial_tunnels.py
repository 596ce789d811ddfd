"""E5 on a trained network: random sections through the origin show radial tunnels.

The toy claim (:mod:`landsim.experiments.e5_radial_tunnels`): seen in a random 2-D
section through the origin that contains an optimum's direction, a wedge looks like a
radial tunnel, a cone whose width grows linearly with the radius. Here the optimum is a
trained network: network 0 of the run (:func:`landsim.real.experiments._setup.train_networks`,
an MLP trained with momentum SGD on ``dataset``, digits by default) reaches the point w*
(flat weights, shape (P,)). Section i is the plane through the weight
origin spanned by e1 = w* / |w*| and a random unit e2 orthogonal to it
(:func:`landsim.real.sections.plane_through`, seed ``seed + 1 + i``), sampled on a radius
x angle grid (:func:`landsim.real.sections.radial_section`): radii ``|w*| x scales`` with
``scales = r_max_scale x (1 .. n_radii) / n_radii`` (as the toy's r_max / n_radii grid,
``r_max_scale = 2`` as the toy's r_max / optimum_radius), angles over the full circle,
theta = 0 on the optimum's ray. The loss is the mean training cross-entropy (nats).

Width. At each radius the low-loss set is the set of angles with training loss <=
``low_loss``; the width is the arc length of its connected run around theta = 0
(:func:`landsim.real.sections.low_loss_width`), exactly the toy's definition.

A real network has no low-loss region near the origin (the loss there is about log K),
so the line is fitted, as the claim is stated, over the radii where a low-loss region
exists: those where the optimum's ray itself is low-loss (the ray is shared by every
section). The claim holds when at least ``min_fit_radii`` radii qualify and the
least-squares line through (r, mean width over the sections) on them has a positive slope
and R^2 >= ``min_r2`` (0.9, the toy's threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._checks import int_at_least, real_in
from ...experiments._common import Progress, Timer, line_fit, report
from ...experiments.e5_radial_tunnels import section_angles
from ...results import Result, Verdict, make_result
from .. import sections
from ._setup import NetworkConfig, load_dataset, train_networks

ID = "E5"
TITLE = "Radial tunnels in random sections"
CLAIM = ("Seen along random directions, the low-loss region of a trained network looks like "
         "a radial tunnel: in a random 2-D section through the origin containing the "
         "optimum, its width grows linearly with the radius (Fort & Jastrzebski 2019).")

@dataclass(frozen=True)
class Config(NetworkConfig):
    epochs: int = 30  # training epochs of the network (momentum SGD, lr 0.05)
    r_max_scale: float = 2.0  # largest radius / |w*| (the toy's r_max / optimum_radius)
    n_radii: int = 16  # radii |w*| r_max_scale (1 .. n_radii) / n_radii
    n_angles: int = 360  # angles over the full circle (even: theta = 0 is on the grid)
    n_sections: int = 4  # random sections (planes), each with its own e2
    eval_samples: int = 0  # training samples the section loss is computed on; 0: all
    low_loss: float = 0.1  # nats: a section point is low-loss when its training loss <= this
    min_r2: float = 0.9  # verdict: R^2 of the width-vs-radius line >= this (the toy's)
    min_fit_radii: int = 3  # verdict: at least this many radii with a low-loss region

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("eval_samples", self.eval_samples, 0)
        int_at_least("n_sections", self.n_sections, 1)
        int_at_least("n_radii", self.n_radii, 3)
        int_at_least("n_angles", self.n_angles, 8)
        if self.n_angles % 2:
            raise ValueError(f"n_angles must be even (theta = 0 on the grid), got "
                             f"{self.n_angles}")
        int_at_least("min_fit_radii", self.min_fit_radii, 2)
        if self.min_fit_radii > self.n_radii:
            raise ValueError(f"min_fit_radii must be in [2, n_radii = {self.n_radii}], got "
                             f"{self.min_fit_radii}")
        for name in ("r_max_scale", "low_loss"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("min_r2", self.min_r2, 0.0, 1.0, high_open=False)


def quick_config() -> Config:
    return Config(epochs=20, n_angles=240, n_sections=3, eval_samples=600)


def smoke_config() -> Config:
    return Config(n_train=300, width=16, depth=1, lr=0.1, epochs=15, n_radii=8, n_angles=48,
                  n_sections=2, eval_samples=300)


def radius_scales(cfg: Config) -> np.ndarray:
    """Section radii in units of |w*|, shape (n_radii,): r_max_scale (1 .. n) / n."""
    return cfg.r_max_scale * np.arange(1, cfg.n_radii + 1) / cfg.n_radii


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "training the network")
    with timer("training"):
        ds = load_dataset(cfg, seed)
        nets = train_networks(cfg, ds, 1, seed)
    fm, fit = nets.fm, nets.runs[0]
    optimum = fit.flat.to(fm.device)
    norm = float(optimum.norm())
    n_eval = cfg.eval_samples or ds.n_train
    x, y = ds.x_train[:n_eval].to(fm.device), ds.y_train[:n_eval].to(fm.device)
    opt_loss = fm.evaluate(optimum, x, y)[0]
    scales = radius_scales(cfg)
    radii = norm * scales
    angles = section_angles(cfg.n_angles)
    centre = cfg.n_angles // 2
    step = 2.0 * math.pi / cfg.n_angles
    origin = torch.zeros_like(optimum)
    loss = np.zeros((cfg.n_sections, cfg.n_radii, cfg.n_angles))
    accuracy = np.zeros_like(loss)
    widths = np.zeros((cfg.n_sections, cfg.n_radii))
    for i in range(cfg.n_sections):
        report(progress, 0.1 + 0.9 * i / cfg.n_sections,
               f"section {i + 1} of {cfg.n_sections}")
        with timer("sections"):
            e1, e2 = sections.plane_through(optimum, seed=seed + 1 + i)
            sec = sections.radial_section(fm, x, y, origin, e1, e2, radii, angles,
                                          points_per_call=sections.SECTION_POINTS_PER_CHUNK)
        loss[i], accuracy[i] = sec.loss, sec.accuracy
        widths[i] = sections.low_loss_width(sec, cfg.low_loss).width
    mean_width = widths.mean(axis=0)
    ray_loss = loss[0, :, centre]  # (R,) the optimum's ray (the same in every section)
    fit_mask = (loss[:, :, centre] <= cfg.low_loss).all(axis=0)
    verdict, metrics = judge(cfg, radii, widths, fit_mask)
    metrics.update({"optimum_norm": norm, "optimum_loss": opt_loss,
                    "optimum_train_accuracy": fit.train_accuracy,
                    "optimum_test_accuracy": fit.test_accuracy, "angular_step": step,
                    "max_angular_extent": float(np.max(widths / radii)),
                    "n_params": float(fm.n_params)})
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed, metrics=metrics,
        series={"radii": radii, "scales": scales, "angles": angles,
                "section_loss": loss[0], "section_accuracy": accuracy[0], "widths": widths,
                "mean_width": mean_width, "ray_loss": ray_loss,
                "fit_mask": fit_mask.astype(np.int8),
                "train_loss_curve": fit.trajectory.loss},
        verdict=verdict, timings=timer.done(), kind="real")


def judge(cfg: Config, radii: np.ndarray, widths: np.ndarray, fit_mask: np.ndarray
          ) -> tuple[Verdict, dict[str, float]]:
    """The verdict and its metrics from the measured widths.

    Parameters
    ----------
    cfg : Config
    radii : ndarray, shape (R,)
    widths : ndarray, shape (S, R)
        Arc width of the low-loss arc around the optimum's ray, per section and radius.
    fit_mask : ndarray of bool, shape (R,)
        Radii where the optimum's ray is low-loss (the fit's domain).

    Returns
    -------
    verdict : Verdict
    metrics : dict of str to float
        slope, intercept, r2 of the mean-width line over the masked radii (NaN when fewer
        than 2 radii qualify), per-section extremes, the fit's radius range.
    """
    fit_mask = np.asarray(fit_mask, dtype=bool)
    n_fit = int(fit_mask.sum())
    mean_width = widths.mean(axis=0)
    nan = math.nan
    slope = intercept = r2 = min_slope = max_slope = min_r2 = nan
    if n_fit >= 2:
        r = radii[fit_mask]
        slope, intercept, r2 = line_fit(r, mean_width[fit_mask])
        fits = np.array([line_fit(r, w[fit_mask]) for w in widths])
        min_slope, max_slope = float(fits[:, 0].min()), float(fits[:, 0].max())
        min_r2 = float(fits[:, 2].min())
    enough = n_fit >= cfg.min_fit_radii
    # a constant width is a strip, not a cone (line_fit gives it R^2 = 0 as well)
    grows = bool(n_fit >= 2 and slope > 0 and np.ptp(mean_width[fit_mask]) > 0)
    holds = bool(enough and grows and r2 >= cfg.min_r2)
    rule = (f"over the radii where the optimum's ray has training loss <= {cfg.low_loss:g} "
            f"(at least {cfg.min_fit_radii} of them), the least-squares line through "
            f"(radius, mean arc width of the low-loss arc around the optimum's ray) has "
            f"slope > 0 (widths not all equal) and R^2 >= {cfg.min_r2:g}")
    if not enough:
        evidence = (f"a low-loss region exists at only {n_fit} of {radii.size} radii "
                    f"(need {cfg.min_fit_radii}): the trained network's loss is not "
                    f"<= {cfg.low_loss:g} along enough of its own ray, so no tunnel width "
                    "can be fitted.")
    else:
        r = radii[fit_mask]
        extent = mean_width[fit_mask] / r
        shape = ("grows linearly" if holds else
                 "does not grow linearly" if grows else "does not grow")
        evidence = (f"a low-loss region exists from r = {r.min():.3g} to {r.max():.3g} "
                    f"({n_fit} of {radii.size} radii); there the mean width over "
                    f"{widths.shape[0]} sections {shape}: {slope:.4g} r + {intercept:.3g} "
                    f"with R^2 = {r2:.4f} (width {mean_width[fit_mask][0]:.3g} -> "
                    f"{mean_width[fit_mask][-1]:.3g}, angular extent {extent[0]:.3g} -> "
                    f"{extent[-1]:.3g} rad); per section the slopes span {min_slope:.4g} .. "
                    f"{max_slope:.4g} and the smallest R^2 is {min_r2:.4f}.")
    metrics = {"slope": slope, "intercept": intercept, "r2": r2,
               "min_section_slope": min_slope, "min_section_r2": min_r2,
               "fit_radii": float(n_fit),
               "fit_r_min": float(radii[fit_mask].min()) if n_fit else nan,
               "fit_r_max": float(radii[fit_mask].max()) if n_fit else nan}
    return Verdict(holds, rule, evidence), metrics


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    radii, angles = s["radii"], s["angles"]
    ax1, ax2 = fig.subplots(1, 2)
    dr = radii[1] - radii[0]
    r_edges = np.concatenate([[max(radii[0] - dr / 2, 0.0)], radii + dr / 2])
    a_edges = np.concatenate([angles - m["angular_step"] / 2,
                              [angles[-1] + m["angular_step"] / 2]])
    rr, aa = np.meshgrid(r_edges, a_edges, indexing="ij")
    mesh = ax1.pcolormesh(rr * np.cos(aa), rr * np.sin(aa),
                          np.log10(np.maximum(s["section_loss"], 1e-6)), shading="flat",
                          cmap="viridis")
    fig.colorbar(mesh, ax=ax1, label="log10 training loss")
    low = float(result.config["low_loss"])
    rg, ag = np.meshgrid(radii, angles, indexing="ij")
    if np.any(s["section_loss"] <= low) and np.any(s["section_loss"] > low):
        ax1.contour(rg * np.cos(ag), rg * np.sin(ag), s["section_loss"], levels=[low],
                    colors="w", linewidths=0.8)
    ax1.plot([0, radii[-1]], [0, 0], "r:", lw=1.0, label="optimum's ray")
    ax1.plot([m["optimum_norm"]], [0], "r*", ms=9, label="optimum w*")
    ax1.set_aspect("equal")
    ax1.set_xlabel("along the optimum's direction e1")
    ax1.set_ylabel("along a random direction e2")
    ax1.set_title(f"Random section (white: loss {low:g})")
    ax1.legend(loc="lower left", fontsize="small")
    for row in s["widths"]:
        ax2.plot(radii, row, color="0.7", lw=0.8)
    mask = s["fit_mask"].astype(bool)
    ax2.plot(radii[~mask], s["mean_width"][~mask], "o", ms=3, mfc="none", color="C0",
             label="mean (no low-loss region on the ray)")
    ax2.plot(radii[mask], s["mean_width"][mask], "o", ms=3, color="C0",
             label="mean over sections (fitted)")
    if np.isfinite(m["slope"]):
        r = radii[mask]
        ax2.plot(r, m["slope"] * r + m["intercept"], "-", color="C1",
                 label=f"fit: {m['slope']:.3g} r + {m['intercept']:.2g} "
                       f"(R^2 = {m['r2']:.3f})")
    ax2.axvline(m["optimum_norm"], color="r", ls=":", lw=0.8, label="|w*|")
    ax2.set_xlabel("radius r (distance from the weight origin)")
    ax2.set_ylabel("arc width of the low-loss arc")
    ax2.set_title("Width against the radius")
    ax2.legend(loc="lower right", fontsize="x-small")
