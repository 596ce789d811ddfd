"""E1: no significant obstacle on the straight line from initialisation to the optimum.

Goodfellow et al. (2014) saw the loss fall monotonically along the line from a network's
initialisation to its trained weights. In the wedge model the optimum lies in a wedge
reached by moving mostly along long directions, so the line should show no bump. We
descend from ``n_starts`` random points at radius ``radius`` to the union, then evaluate
the loss along each straight line start -> optimum. The *rise* of a profile is the
largest increase of the loss over any earlier point of the line,
max_{t' < t} [L(t) - L(t')]; the claim holds when every rise is at most
``rise_tolerance`` times that run's starting loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import descent, geometry, paths
from .._checks import int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import random_landscape
from ._common import Progress, Timer, check_landscape_fields, report

ID = "E1"
TITLE = "Initialisation to optimum"
CLAIM = ("There is no significant obstacle on the straight line from initialisation to "
         "the optimum (Goodfellow et al. 2014).")


@dataclass(frozen=True)
class Config:
    dim: int = 4000  # D
    n_wedges: int = 8  # K
    n_short: int = 400  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 20.0  # radius of the random starts
    n_starts: int = 16  # independent runs
    lr: float = 0.2  # gradient-descent step
    steps: int = 400  # descent steps
    target_loss: float = 1e-10  # a run is converged below this loss
    line_points: int = 201  # samples along each line
    rise_tolerance: float = 0.01  # verdict: rise <= this fraction of the start loss

    def __post_init__(self) -> None:
        check_landscape_fields(self)
        for name in ("n_starts", "steps"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("line_points", self.line_points, 3)
        for name in ("radius", "lr", "target_loss"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("rise_tolerance", self.rise_tolerance, 0.0)


def quick_config() -> Config:
    return Config(dim=1000, n_wedges=4, n_short=100, n_starts=8, steps=200, line_points=101)


def largest_rise(losses: np.ndarray) -> np.ndarray:
    """max_{t' < t} [L(t) - L(t')] along the last axis (0 for a non-increasing profile).

    Parameters
    ----------
    losses : ndarray, shape (..., T)

    Returns
    -------
    ndarray, shape (...)
    """
    running_min = np.minimum.accumulate(losses, axis=-1)
    return np.max(losses - running_min, axis=-1)


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=seed)
    with timer("descent"):
        x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_starts, seed=seed)
        traj = descent.descend(spec, x0, descent.DescentConfig(
            optimizer="gd", lr=cfg.lr, steps=cfg.steps, target_loss=cfg.target_loss,
            record_every=max(1, cfg.steps // 50)), seed=seed)
    report(progress, 0.5, "loss along the lines")
    t = paths.as_t(cfg.line_points)
    with timer("lines"):
        profiles = np.stack([geometry.loss(spec, paths.line(x0[i], traj.final_x[i], t))
                             for i in range(cfg.n_starts)])  # (n_starts, T)
    start = profiles[:, 0]
    rise = largest_rise(profiles)
    rel = rise / start
    worst = int(np.argmax(rel))
    holds = bool(np.all(traj.reached) and np.all(rel <= cfg.rise_tolerance))
    verdict = Verdict(
        holds=holds,
        rule=f"every run converges (loss <= {cfg.target_loss:g}) and the largest rise along "
             f"its line is <= {cfg.rise_tolerance:g} x its start loss",
        evidence=f"{int(traj.reached.sum())}/{cfg.n_starts} runs converged; the largest "
                 f"relative rise is {rel[worst]:.3g} (run {worst}, start loss "
                 f"{start[worst]:.3g}); the median start loss is {np.median(start):.3g}.")
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed,
        metrics={"max_relative_rise": float(rel.max()), "median_start_loss":
                 float(np.median(start)), "max_final_loss": float(traj.final_loss.max()),
                 "converged_fraction": float(traj.reached.mean()),
                 "median_final_radius": float(np.median(traj.radius[-1]))},
        series={"t": t, "line_loss": profiles, "relative_rise": rel,
                "descent_step": traj.step, "descent_loss": traj.loss},
        verdict=verdict, timings=timer.done())


def plot(result: Result, fig) -> None:
    t = result.series["t"]
    prof = result.series["line_loss"]
    ax1, ax2 = fig.subplots(1, 2)
    for row in prof:
        ax1.plot(t, row / row[0], lw=1, alpha=0.7)
    ax1.set_xlabel("t along the line (0 = start, 1 = optimum)")
    ax1.set_ylabel("loss / start loss")
    ax1.set_title("Loss along init -> optimum lines")
    steps = result.series["descent_step"]
    ax2.semilogy(steps, np.maximum(result.series["descent_loss"], 1e-16), lw=1, alpha=0.7)
    ax2.set_xlabel("gradient-descent step")
    ax2.set_ylabel("loss")
    ax2.set_title("Descent to the wedge union")
