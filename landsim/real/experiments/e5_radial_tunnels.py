"""E5 on a trained network: random sections through the origin show radial tunnels
(docs/claims.md, E5).

Measurement. The toy claim (:mod:`landsim.experiments.e5_radial_tunnels`): seen in a random
2-D section through the origin that contains an optimum's direction, a wedge looks like a
radial tunnel, a low-loss set around the optimum's ray that widens with the radius. Here
the optimum is a trained network: network 0 of the run
(:func:`landsim.real.experiments._setup.train_networks`, an MLP trained with momentum SGD on
``dataset``, digits by default) reaches the point w* (flat weights, shape (P,)). Section i
is the plane through the weight origin spanned by e1 = w* / |w*| and a random unit e2
orthogonal to it (:func:`landsim.real.sections.plane_through`), sampled on a radius x angle
grid (:func:`landsim.real.sections.radial_section`): radii ``|w*| x scales`` with
``scales = r_max_scale x (1 .. n_radii) / n_radii`` (``r_max_scale = 2`` as the toy's
r_max / optimum_radius), angles over the full circle, theta = 0 on the optimum's ray. The
loss is the mean training cross-entropy (nats) on the labels the network was trained on.

Width. At each radius the low-loss set is the set of angles with training loss <=
``low_loss``; the width is the arc length of its connected run around theta = 0
(:func:`landsim.real.sections.low_loss_width`), exactly the toy's definition.

Rule: the toy's, by the same code (:func:`landsim.claim_rules.judge_widening`). The judged
radii are those where the optimum's ray is low-loss and every section's arc is resolved
(>= ``min_arc_cells`` grid angles, not the whole circle): this leaves out the onset, where
the ray's loss only just dips under ``low_loss`` and the arc is the grid's cell. On them
the mean width must widen: elasticity (log-log slope) >= ``min_elasticity`` and Spearman
rho >= ``min_rank_corr``, each also without the innermost judged radius, on at least
``min_judged_radii`` radii. Linearity is reported, not judged.

Control (:func:`control_config`): ``permute_labels = True``, the same network, data
split, initialisation and training on the same inputs with the training labels randomly
permuted (the section loss taken on those labels). Scaling a trained ReLU classifier
sharpens its logits, which lowers the loss only in directions that classify the training
labels: a trained network that has not fitted its task has no low-loss tunnel around its
ray, so the rule must fail there. The rule thus shows that the widening needs a network
that has found a low-loss solution, not merely a trained network.

Seeds. The data split and the network come from children 0 and 1 of the run's sequence
(:func:`landsim.real.experiments._setup.run_sequences`), the section planes from child 2
(one grandchild per section), the label permutation from child 3.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..._checks import int_at_least, real_in
from ...analysis import section_angles
from ...claim_rules import check_widening_fields, judge_widening, plot_widths
from ...experiment_kit import Progress, Timer, report
from ...results import Result, make_result
from ...seeding import SeedLike, children, int_seed
from .. import sections
from ._setup import NetworkConfig, load_dataset, permuted_labels, train_networks

ID = "E5"
TITLE = "Radial tunnels in random sections"
CLAIM = ("Seen along random directions, the low-loss region of a trained network looks like "
         "a radial tunnel: in a random 2-D section through the origin containing the "
         "optimum, the low-loss set around the optimum's ray widens monotonically with the "
         "radius (Fort & Jastrzebski 2019).")
CONTROL = ("The same network trained on randomly permuted training labels (and judged on "
           "them): scaling sharpens its logits too, but it has no low-loss solution to "
           "widen around, so the widening rule must fail.")
#: The Config fields that define the rule (the control leaves them unchanged).
RULE_FIELDS = ("low_loss", "min_arc_cells", "min_judged_radii", "min_elasticity",
               "min_rank_corr")
#: Aggregated over replicates; the first is the statistic the rule judges.
KEY_METRICS = ("elasticity", "rank_corr", "judged_radii", "r2", "optimum_loss")

#: Child of the run's sequence that seeds the section planes, and the label permutation.
_PLANES_CHILD, _PERMUTATION_CHILD = 2, 3


@dataclass(frozen=True)
class Config(NetworkConfig):
    epochs: int = 30  # training epochs of the network (momentum SGD, lr 0.05)
    r_max_scale: float = 2.0  # largest radius / |w*| (the toy's r_max / optimum_radius)
    n_radii: int = 16  # radii |w*| r_max_scale (1 .. n_radii) / n_radii
    n_angles: int = 360  # angles over the full circle (even: theta = 0 is on the grid)
    n_sections: int = 4  # random sections (planes), each with its own e2
    eval_samples: int = 0  # training samples the section loss is computed on; 0: all
    permute_labels: bool = False  # control: train (and judge) on permuted training labels
    low_loss: float = 0.1  # rule, nats: a section point is low-loss when its loss <= this
    min_arc_cells: int = 8  # rule: a radius is judged when every arc has >= this many angles
    min_judged_radii: int = 4  # rule: at least this many judged radii
    min_elasticity: float = 0.5  # rule: log-log slope of width vs radius >= this
    min_rank_corr: float = 0.9  # rule: Spearman rho of width vs radius >= this (monotone)

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("eval_samples", self.eval_samples, 0)
        int_at_least("n_sections", self.n_sections, 1)
        int_at_least("n_radii", self.n_radii, 3)
        int_at_least("n_angles", self.n_angles, 8)
        if self.n_angles % 2:
            raise ValueError(f"n_angles must be even (theta = 0 on the grid), got "
                             f"{self.n_angles}")
        if not isinstance(self.permute_labels, bool):
            raise ValueError(f"permute_labels must be True or False, got "
                             f"{self.permute_labels!r}")
        real_in("r_max_scale", self.r_max_scale, 0.0, low_open=True)
        real_in("low_loss", self.low_loss, 0.0, low_open=True)
        check_widening_fields(self, self.n_radii, self.n_angles)


def quick_config() -> Config:
    return Config(epochs=20, n_angles=240, n_sections=3, eval_samples=600)


def smoke_config() -> Config:
    return Config(n_train=300, width=16, depth=1, lr=0.1, epochs=15, n_radii=8, n_angles=120,
                  n_sections=2, eval_samples=300)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: the same run on permuted training labels."""
    return dataclasses.replace(config, permute_labels=True)


def radius_scales(cfg: Config) -> np.ndarray:
    """Section radii in units of |w*|, shape (n_radii,): r_max_scale (1 .. n) / n."""
    return cfg.r_max_scale * np.arange(1, cfg.n_radii + 1) / cfg.n_radii


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "training the network")
    streams = children(seed, _PERMUTATION_CHILD + 1)
    with timer("training"):
        ds = load_dataset(cfg, seed)
        if cfg.permute_labels:
            ds = permuted_labels(ds, streams[_PERMUTATION_CHILD])
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
    plane_seeds = [int_seed(s) for s in children(streams[_PLANES_CHILD], cfg.n_sections)]
    loss = np.zeros((cfg.n_sections, cfg.n_radii, cfg.n_angles))
    accuracy = np.zeros_like(loss)
    widths = np.zeros((cfg.n_sections, cfg.n_radii))
    cells = np.zeros((cfg.n_sections, cfg.n_radii), dtype=np.int64)
    for i in range(cfg.n_sections):
        report(progress, 0.1 + 0.9 * i / cfg.n_sections,
               f"section {i + 1} of {cfg.n_sections}")
        with timer("sections"):
            e1, e2 = sections.plane_through(optimum, seed=plane_seeds[i])
            sec = sections.radial_section(fm, x, y, origin, e1, e2, radii, angles,
                                          points_per_call=sections.SECTION_POINTS_PER_CHUNK)
        loss[i], accuracy[i] = sec.loss, sec.accuracy
        arc = sections.low_loss_width(sec, cfg.low_loss)
        widths[i], cells[i] = arc.width, arc.cells
    mean_width = widths.mean(axis=0)
    ray_loss = loss[0, :, centre]  # (R,) the optimum's ray (the same in every section)
    ray_low = (loss[:, :, centre] <= cfg.low_loss).all(axis=0)
    judgement = judge_widening(cfg, radii, widths, cells, ray_low, cfg.n_angles)
    metrics = {**judgement.metrics, "optimum_norm": norm, "optimum_loss": opt_loss,
               "optimum_train_accuracy": fit.train_accuracy,
               "optimum_test_accuracy": fit.test_accuracy, "angular_step": step,
               "ray_low_radii": float(ray_low.sum()),
               "max_angular_extent": float(np.max(widths / radii)),
               "n_params": float(fm.n_params)}
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed, metrics=metrics,
        series={"radii": radii, "scales": scales, "angles": angles,
                "section_loss": loss[0], "section_accuracy": accuracy[0], "widths": widths,
                "arc_cells": cells, "mean_width": mean_width, "ray_loss": ray_loss,
                "ray_low": ray_low.astype(np.int8),
                "judged": judgement.judged.astype(np.int8),
                "train_loss_curve": fit.trajectory.loss},
        verdict=judgement.verdict, timings=timer.done(), kind="real")


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
    plot_widths(ax2, radii, s["widths"], s["mean_width"], s["judged"].astype(bool), m)
    ax2.axvline(m["optimum_norm"], color="r", ls=":", lw=0.8, label="|w*|")
    ax2.set_xlabel("radius r (distance from the weight origin)")
    ax2.set_title("Width against the radius")
