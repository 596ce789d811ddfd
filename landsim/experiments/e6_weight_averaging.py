"""E6: weight averaging (SWA) works only inside one wedge.

Stochastic weight averaging (Izmailov et al. 2018) averages the snapshots of one noisy
SGD run. Fort & Jastrzebski (2019): it works well only while the solutions stay in one
n-wedge. A wedge is convex at a fixed long radius, so the average of points that share a
wedge stays in it and sits deeper inside; optima of different wedges have each other's
short coordinates far outside the widths, and their average lands between the wedges,
at high loss.

Runs. ``n_runs`` noisy SGD runs (:func:`landsim.descent.descend`, ``noise_std`` > 0)
start uniformly on the sphere of radius ``radius``; after ``burn_in`` steps (they have
reached a wedge) each run records ``n_snapshots`` snapshots, one every
``snapshot_every`` steps. Its *within-wedge average* is the mean of its snapshots. The
*cross-wedge average* is the mean of the last snapshots of the first run to end in each
distinct wedge (one optimum per wedge, at least two wedges needed).

Depth. For a point x, with k its arg-min wedge, y = x - a_k, short coordinates u, long
radius r and width w = eps0_k + eps1_k r, the depth is min_j (w - |u_j|): the margin to
the wedge's boundary, computed exactly from the spec (:func:`wedge_depth`). It is > 0
strictly inside W_k and < 0 outside.

Losses are judged against the median loss L0 of the random starts. The claim holds when
every run's within-wedge average has loss <= ``low_loss_fraction`` x L0 and is deeper
than the mean depth of that run's snapshots, and the cross-wedge average has loss >
``high_loss_fraction`` x L0. ``average_across_wedges_as_within=True`` replaces every
within-wedge average by the cross-wedge average (a control in which the claim must fail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import descent, geometry
from .._checks import int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import LandscapeSpec, random_landscape
from ._common import Progress, Timer, check_landscape_fields, report

ID = "E6"
TITLE = "Weight averaging within and across wedges"
CLAIM = ("Weight averaging (SWA) works only when the averaged solutions stay in one wedge: "
         "the average of snapshots within a wedge has low loss and lies deeper inside it, "
         "the average of optima from different wedges has high loss "
         "(Fort & Jastrzebski 2019).")


@dataclass(frozen=True)
class Config:
    dim: int = 2000  # D
    n_wedges: int = 6  # K
    n_short: int = 200  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.01  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 10.0  # radius of the random starts
    n_runs: int = 12  # independent SGD runs, each with its own snapshots
    lr: float = 0.1  # SGD step
    noise_std: float = 0.1  # gradient-noise standard deviation per coordinate
    burn_in: int = 300  # SGD steps before the first snapshot
    n_snapshots: int = 30  # snapshots per run
    snapshot_every: int = 25  # SGD steps between snapshots
    low_loss_fraction: float = 1e-4  # verdict: within-wedge average loss <= this x L0
    high_loss_fraction: float = 1e-2  # verdict: cross-wedge average loss > this x L0
    average_across_wedges_as_within: bool = False  # control: must make the claim fail

    def __post_init__(self) -> None:
        check_landscape_fields(self)
        for name in ("n_runs", "burn_in", "snapshot_every"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("n_snapshots", self.n_snapshots, 2)
        for name in ("radius", "lr", "noise_std"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        for name in ("low_loss_fraction", "high_loss_fraction"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        if not isinstance(self.average_across_wedges_as_within, bool):
            raise ValueError("average_across_wedges_as_within must be a bool, got "
                             f"{self.average_across_wedges_as_within!r}")


def quick_config() -> Config:
    return Config(dim=400, n_wedges=3, n_short=40, n_runs=6, burn_in=200, n_snapshots=12)


class WedgeDepth(NamedTuple):
    """Where points sit in their arg-min wedge (shapes for B points)."""

    argmin: np.ndarray  #: (B,) int64 arg-min wedge
    loss: np.ndarray  #: (B,) float64 landscape loss
    width: np.ndarray  #: (B,) w = eps0 + eps1 r of the arg-min wedge
    radius: np.ndarray  #: (B,) long radius r in the arg-min wedge
    depth: np.ndarray  #: (B,) min_j (w - |u_j|): > 0 inside, < 0 outside


def wedge_depth(spec: LandscapeSpec, X) -> WedgeDepth:
    """Depth of each point inside its arg-min wedge, exactly from the spec.

    Parameters
    ----------
    spec : LandscapeSpec
    X : array, shape (B, D)

    Returns
    -------
    WedgeDepth
    """
    Xb, _ = geometry.as_batch(spec, X)
    Xb = Xb.astype(np.float64, copy=False)
    ev = geometry.evaluate(spec, Xb, grad=False)
    B = Xb.shape[0]
    width, radius, depth = np.zeros(B), np.zeros(B), np.zeros(B)
    for k in np.unique(ev.argmin):
        rows = np.flatnonzero(ev.argmin == k)
        w = spec.wedges[int(k)]
        Y = Xb[rows] - w.anchor_or_origin()
        U = Y[:, w.short_axes] if w.kind == "axis" else Y @ w.short_frame
        r = np.sqrt(np.maximum(np.einsum("bd,bd->b", Y, Y) - np.einsum("bs,bs->b", U, U),
                               0.0))
        width[rows] = w.eps0 + w.eps1 * r
        radius[rows] = r
        depth[rows] = width[rows] - np.abs(U).max(axis=1)
    return WedgeDepth(ev.argmin.astype(np.int64), ev.loss, width, radius, depth)


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=seed)
    start_rng, noise_rng = np.random.default_rng(seed).spawn(2)
    x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_runs, seed=start_rng)
    start_loss = float(np.median(geometry.loss(spec, x0)))
    sgd = descent.DescentConfig(optimizer="sgd", lr=cfg.lr, steps=cfg.burn_in,
                                noise_std=cfg.noise_std, record_every=cfg.burn_in)
    chunk = sgd.replace(steps=cfg.snapshot_every, record_every=cfg.snapshot_every)
    snaps = np.empty((cfg.n_runs, cfg.n_snapshots, cfg.dim))
    with timer("sgd"):
        x = descent.descend(spec, x0, sgd, seed=noise_rng).final_x
        for i in range(cfg.n_snapshots):
            report(progress, 0.1 + 0.8 * i / cfg.n_snapshots, f"snapshot {i + 1}")
            x = descent.descend(spec, x, chunk, seed=noise_rng).final_x
            snaps[:, i] = x
    report(progress, 0.9, "averages")
    with timer("geometry"):
        at = wedge_depth(spec, snaps.reshape(-1, cfg.dim))
        snap_loss = at.loss.reshape(cfg.n_runs, cfg.n_snapshots)
        snap_depth = at.depth.reshape(cfg.n_runs, cfg.n_snapshots)
        snap_wedge = at.argmin.reshape(cfg.n_runs, cfg.n_snapshots)
        run_wedge = snap_wedge[:, -1]
        _, first = np.unique(run_wedge, return_index=True)
        optima_runs = np.sort(first)  # the first run to end in each distinct wedge
        n_across = int(optima_runs.size)
        optima = snaps[optima_runs, -1]
        across_point = optima.mean(axis=0)
        across = wedge_depth(spec, across_point[None, :])
        optima_at = wedge_depth(spec, optima)
        if cfg.average_across_wedges_as_within:
            within_points = np.broadcast_to(across_point, (cfg.n_runs, cfg.dim))
        else:
            within_points = snaps.mean(axis=1)
        within = wedge_depth(spec, within_points)
    stays = np.all(snap_wedge == run_wedge[:, None], axis=1)
    mean_snap_depth = snap_depth.mean(axis=1)
    low, high = cfg.low_loss_fraction * start_loss, cfg.high_loss_fraction * start_loss
    across_loss = float(across.loss[0]) if n_across >= 2 else float("nan")
    across_depth = float(across.depth[0]) if n_across >= 2 else float("nan")
    deeper = within.depth > mean_snap_depth
    holds = bool(n_across >= 2 and np.all(within.loss <= low) and np.all(deeper)
                 and across_loss > high)
    source = ("the cross-wedge average (control: average_across_wedges_as_within)"
              if cfg.average_across_wedges_as_within else "the mean of its snapshots")
    verdict = Verdict(
        holds=holds,
        rule=f"with L0 = {start_loss:.4g} the median start loss: every run's within-wedge "
             f"average has loss <= {cfg.low_loss_fraction:g} L0 = {low:.3g} and a larger depth "
             f"than the mean depth of its snapshots, and the average of optima from >= 2 "
             f"different wedges has loss > {cfg.high_loss_fraction:g} L0 = {high:.3g}",
        evidence=f"each run's within-wedge average is {source}: worst loss "
                 f"{within.loss.max():.3g}, depth {within.depth.min():.3g} .. "
                 f"{within.depth.max():.3g} against mean snapshot depths "
                 f"{mean_snap_depth.min():.3g} .. {mean_snap_depth.max():.3g} "
                 f"({int(deeper.sum())}/{cfg.n_runs} deeper; snapshot losses up to "
                 f"{snap_loss.max():.3g}); the average of {n_across} optima from different "
                 f"wedges has loss {across_loss:.3g} and depth {across_depth:.3g}; "
                 f"{int(stays.sum())}/{cfg.n_runs} runs kept one wedge over their snapshots.")
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed,
        metrics={"start_loss": start_loss, "low_loss_threshold": low,
                 "high_loss_threshold": high,
                 "within_loss_max": float(within.loss.max()),
                 "within_depth_min": float(within.depth.min()),
                 "within_depth_mean": float(within.depth.mean()),
                 "snapshot_loss_mean": float(snap_loss.mean()),
                 "snapshot_loss_max": float(snap_loss.max()),
                 "snapshot_depth_mean": float(snap_depth.mean()),
                 "min_depth_gain": float(np.min(within.depth - mean_snap_depth)),
                 "across_loss": across_loss, "across_depth": across_depth,
                 "across_optima": float(n_across),
                 "across_optima_loss_max": float(optima_at.loss.max()),
                 "runs_in_one_wedge": float(stays.mean())},
        series={"snapshot_loss": snap_loss, "snapshot_depth": snap_depth,
                "snapshot_wedge": snap_wedge, "within_loss": within.loss,
                "within_depth": within.depth, "within_wedge": within.argmin,
                "across_runs": optima_runs, "across_optima_loss": optima_at.loss,
                "across_optima_depth": optima_at.depth,
                "across_loss": np.array([across_loss]),
                "across_depth": np.array([across_depth])},
        verdict=verdict, timings=timer.done())


def plot(result: Result, fig) -> None:
    s = result.series
    m = result.metrics
    ax1, ax2 = fig.subplots(1, 2)
    n_runs, n_snap = s["snapshot_loss"].shape
    runs = np.arange(n_runs)
    jitter = np.linspace(-0.25, 0.25, n_snap)
    floor = max(m["low_loss_threshold"] * 1e-4, 1e-300)
    for ax, key, label in ((ax1, "loss", "loss"), (ax2, "depth", "depth min_j (w - |u_j|)")):
        snap = s[f"snapshot_{key}"]
        xs = runs[:, None] + jitter[None, :]
        ys = np.maximum(snap, floor) if key == "loss" else snap
        ax.scatter(xs.ravel(), ys.ravel(), s=6, color="0.6", label="SGD snapshots")
        within = np.maximum(s[f"within_{key}"], floor) if key == "loss" else s[f"within_{key}"]
        ax.scatter(runs, within, marker="D", s=30, color="C0", zorder=3,
                   label="average of the run's snapshots")
        across = s[f"across_{key}"][0]
        if np.isfinite(across):
            ax.axhline(max(across, floor) if key == "loss" else across, color="C3", ls="--",
                       label="average of optima from different wedges")
        ax.set_xlabel("SGD run")
        ax.set_ylabel(label)
    ax1.set_yscale("log")
    ax1.axhline(m["low_loss_threshold"], color="C0", lw=0.8, ls=":", label="low-loss threshold")
    ax1.axhline(m["high_loss_threshold"], color="C3", lw=0.8, ls=":",
                label="high-loss threshold")
    ax2.axhline(0.0, color="k", lw=0.8)
    ax1.set_title("Loss (floored for the log axis)")
    ax2.set_title("Depth inside the arg-min wedge")
    ax1.legend(fontsize="x-small")
