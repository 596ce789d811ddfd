"""E6: weight averaging (SWA) works within one wedge, not across (docs/claims.md, E6).

Stochastic weight averaging (Izmailov et al. 2018) averages the snapshots of one noisy SGD
run. Fort & Jastrzebski (2019): it works only while the averaged solutions stay in one
n-wedge. The snapshots of one run differ mostly in the short coordinates that the noise
spreads around the wedge's centre, so their average lies deeper inside the wedge; optima of
different wedges carry each other's short coordinates far outside the widths, and their
average lands between the wedges, at high loss.

Measurement. A random landscape is drawn (stream "landscape"); ``n_runs`` noisy SGD runs
(:func:`landsim.descent.descend`, ``noise_std`` > 0, stream "noise") start uniformly on
the sphere of radius ``radius`` (stream "starts"). After ``burn_in`` steps (they have
reached a wedge) each run records ``n_snapshots`` snapshots, one every ``snapshot_every``
steps. An *averaged set* i is ``n_snapshots`` snapshots, snapshot j taken from run
``set_runs[i, j]`` (:func:`set_runs`), and its *average* is their mean. The *cross-wedge
average* is the mean of the last snapshots of the first run to end in each distinct wedge
(one optimum per wedge, at least two wedges needed). Depth (:func:`wedge_depth`): for a
point x in its arg-min wedge, min_j (w - |u_j|), > 0 inside, < 0 outside, exact.

Rule (:func:`judge`), with L0 the median loss of the starts and f = ``low_loss_fraction``:
(0) every set's mean snapshot loss is < f L0 (the snapshots are solutions); (1) every set's
*SWA excess* [L(average) - mean L(snapshots)] / L0 is <= ``swa_tolerance`` and its average
is strictly deeper than the mean depth of its snapshots; (2) at least two wedges were
reached and the cross-wedge average has loss >= f L0.

Control (``snapshot_source="hopping"``, :func:`control_config`). The same landscape, runs
and snapshots; set i takes its j-th snapshot from run (i + j) mod n_runs, as if the
trajectory hopped to another run's wedge between consecutive snapshots. Its average mixes
optima of several wedges and leaves them all, so part (1) of the same rule must fail. (In
the model noise or a larger step does not make a run hop: it diffuses the long coordinates
outward instead; docs/claims.md, E6.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import descent, geometry
from .._checks import choice, int_at_least, real_in
from ..analysis import SNAPSHOT_SOURCES, gather_sets, set_runs, swa_excess
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, streams
from ..spec import random_landscape
from ._depth import WedgeDepth as WedgeDepth
from ._depth import wedge_depth
from ._landscape import LandscapeParams

ID = "E6"
TITLE = "Weight averaging within and across wedges"
CLAIM = ("Weight averaging (SWA) works only when the averaged solutions stay in one wedge: "
         "the average of snapshots within a wedge is no worse than they are and lies deeper "
         "inside it, the average of optima from different wedges leaves the low-loss set "
         "(Fort & Jastrzebski 2019).")
CONTROL = ("Each averaged set takes its consecutive snapshots from different independent "
           "runs, as if the optimiser hopped between wedges: the average mixes optima of "
           "several wedges and leaves them all, so the SWA part of the rule must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("low_loss_fraction", "swa_tolerance")
#: Aggregated over replicates; the first is the judged SWA statistic.
KEY_METRICS = ("swa_excess_max", "min_depth_gain", "cross_loss_rel", "snapshot_loss_rel_max",
               "wedges_per_set")


@dataclass(frozen=True)
class Config(LandscapeParams):
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
    n_snapshots: int = 30  # snapshots per run (= per averaged set)
    snapshot_every: int = 25  # SGD steps between snapshots
    low_loss_fraction: float = 0.01  # rule: the low-loss set is {loss < this x L0}
    swa_tolerance: float = 0.0  # rule: SWA excess (fraction of L0) <= this
    snapshot_source: str = "one_run"  # "one_run" (claim) | "hopping" (control)

    def __post_init__(self) -> None:
        self.check_landscape()
        int_at_least("n_runs", self.n_runs, 2)
        for name in ("burn_in", "snapshot_every"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("n_snapshots", self.n_snapshots, 2)
        for name in ("radius", "lr", "noise_std", "low_loss_fraction"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("swa_tolerance", self.swa_tolerance, 0.0)
        choice("snapshot_source", self.snapshot_source, SNAPSHOT_SOURCES)


def quick_config() -> Config:
    return Config(dim=400, n_wedges=3, n_short=40, n_runs=6, burn_in=200, n_snapshots=12)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: consecutive snapshots of each averaged set come
    from different runs (``snapshot_source="hopping"``); nothing else changes."""
    return dataclasses.replace(config, snapshot_source="hopping")


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    rng = streams(seed, ("landscape", "starts", "noise"))
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=rng["landscape"])
    x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_runs, seed=rng["starts"])
    start_loss = float(np.median(geometry.loss(spec, x0)))
    sgd = descent.DescentConfig(optimizer="sgd", lr=cfg.lr, steps=cfg.burn_in,
                                noise_std=cfg.noise_std, record_every=cfg.burn_in)
    chunk = sgd.replace(steps=cfg.snapshot_every, record_every=cfg.snapshot_every)
    snaps = np.empty((cfg.n_runs, cfg.n_snapshots, cfg.dim))  # (n_runs, S, D)
    with timer("sgd"):
        x = descent.descend(spec, x0, sgd, seed=rng["noise"]).final_x
        for i in range(cfg.n_snapshots):
            report(progress, 0.1 + 0.8 * i / cfg.n_snapshots, f"snapshot {i + 1}")
            x = descent.descend(spec, x, chunk, seed=rng["noise"]).final_x
            snaps[:, i] = x
    report(progress, 0.9, "averages")
    runs = set_runs(cfg.n_runs, cfg.n_snapshots, cfg.snapshot_source)
    with timer("geometry"):
        at = wedge_depth(spec, snaps.reshape(-1, cfg.dim))
        shape = (cfg.n_runs, cfg.n_snapshots)
        snap_loss, snap_depth = at.loss.reshape(shape), at.depth.reshape(shape)
        snap_wedge = at.argmin.reshape(shape)
        averages = gather_sets(snaps, runs).mean(axis=1)  # (n_sets, D)
        avg = wedge_depth(spec, averages)
        _, first = np.unique(snap_wedge[:, -1], return_index=True)
        optima_runs = np.sort(first)  # the first run to end in each distinct wedge
        optima = snaps[optima_runs, -1]
        optima_at = wedge_depth(spec, optima)
        cross = wedge_depth(spec, optima.mean(axis=0)[None, :])
    n_cross = int(optima_runs.size)
    series = {
        "start_loss": np.array([start_loss]),
        "snapshot_loss": snap_loss, "snapshot_depth": snap_depth,
        "snapshot_wedge": snap_wedge, "set_runs": runs,
        "average_loss": avg.loss, "average_depth": avg.depth, "average_wedge": avg.argmin,
        "cross_runs": optima_runs, "cross_optima_loss": optima_at.loss,
        "cross_optima_depth": optima_at.depth,
        "cross_loss": np.array([float(cross.loss[0]) if n_cross >= 2 else np.nan]),
        "cross_depth": np.array([float(cross.depth[0]) if n_cross >= 2 else np.nan]),
    }
    verdict, metrics = judge(cfg, series)
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def judge(cfg: Config, s: dict) -> tuple[Verdict, dict[str, float]]:
    """The rule of docs/claims.md (E6, toy) on the stored series ``s`` of :func:`run`.

    Parameters
    ----------
    cfg : Config
    s : dict of str to ndarray
        ``start_loss`` (1,); ``snapshot_loss``, ``snapshot_depth``, ``snapshot_wedge``
        (n_runs, S); ``set_runs`` (n_sets, S); ``average_loss``, ``average_depth``
        (n_sets,); ``cross_runs`` (m,); ``cross_loss`` (1,), NaN when m < 2.

    Returns
    -------
    (Verdict, dict of str to float)
    """
    l0 = float(s["start_loss"][0])
    runs = s["set_runs"]
    member_loss = gather_sets(s["snapshot_loss"], runs)  # (n_sets, S)
    member_depth = gather_sets(s["snapshot_depth"], runs)
    member_wedge = gather_sets(s["snapshot_wedge"], runs)
    level = cfg.low_loss_fraction * l0
    snapshot_rel = member_loss.mean(axis=1) / l0  # (n_sets,)
    excess = swa_excess(s["average_loss"], member_loss, l0)
    depth_gain = s["average_depth"] - member_depth.mean(axis=1)
    n_cross = int(np.asarray(s["cross_runs"]).size)
    cross_loss = float(s["cross_loss"][0])
    cross_rel = cross_loss / l0 if n_cross >= 2 else float("nan")
    solutions = bool(np.all(snapshot_rel < cfg.low_loss_fraction))
    swa_ok = excess <= cfg.swa_tolerance
    deeper = depth_gain > 0
    averaging = bool(np.all(swa_ok) and np.all(deeper))
    across = bool(n_cross >= 2 and cross_loss >= level)
    wedges_per_set = np.array([np.unique(w).size for w in member_wedge])
    n_sets = excess.size
    verdict = Verdict(
        holds=solutions and averaging and across,
        rule=f"with L0 = {l0:.4g} the median start loss and the low-loss set loss < "
             f"{cfg.low_loss_fraction:g} L0 = {level:.3g}: (0) every averaged set's mean "
             f"snapshot loss is in the low-loss set; (1) every set's average has loss - "
             f"mean snapshot loss <= {cfg.swa_tolerance:g} L0 and is strictly deeper than "
             f"its snapshots' mean depth; (2) the average of optima from >= 2 different "
             f"wedges has loss >= {level:.3g}",
        evidence=f"(0) mean snapshot loss of a set up to {snapshot_rel.max():.3g} L0; "
                 f"(1) SWA excess {excess.min():.3g} .. {excess.max():.3g} L0 "
                 f"({int(swa_ok.sum())}/{n_sets} sets within tolerance), depth gain "
                 f"{depth_gain.min():.3g} .. {depth_gain.max():.3g} "
                 f"({int(deeper.sum())}/{n_sets} deeper), a set's snapshots span "
                 f"{wedges_per_set.mean():.3g} wedges on average; (2) the average of "
                 f"{n_cross} optima from different wedges has loss {cross_rel:.3g} L0.")
    metrics = {
        "swa_excess_max": float(excess.max()), "min_depth_gain": float(depth_gain.min()),
        "cross_loss_rel": cross_rel, "snapshot_loss_rel_max": float(snapshot_rel.max()),
        "wedges_per_set": float(wedges_per_set.mean()),
        "start_loss": l0, "low_loss_threshold": level,
        "average_loss_rel_max": float(np.max(s["average_loss"]) / l0),
        "average_depth_min": float(np.min(s["average_depth"])),
        "snapshot_depth_mean": float(np.mean(member_depth)),
        "cross_depth": float(s["cross_depth"][0]), "cross_optima": float(n_cross),
        "runs_in_one_wedge": float(np.mean(np.all(
            s["snapshot_wedge"] == s["snapshot_wedge"][:, -1:], axis=1))),
    }
    return verdict, metrics


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    ax1, ax2 = fig.subplots(1, 2)
    runs = s["set_runs"]
    n_sets, n_snap = runs.shape
    sets = np.arange(n_sets)
    jitter = np.linspace(-0.25, 0.25, n_snap)
    l0 = m["start_loss"]
    floor = 1e-12
    hopping = result.config.get("snapshot_source") == "hopping"
    for ax, key, label in ((ax1, "loss", "loss / L0"),
                           (ax2, "depth", "depth min_j (w - |u_j|)")):
        member = gather_sets(s[f"snapshot_{key}"], runs)
        xs = sets[:, None] + jitter[None, :]
        ys = np.maximum(member / l0, floor) if key == "loss" else member
        ax.scatter(xs.ravel(), ys.ravel(), s=6, color="0.6",
                   label="snapshots (hopping between runs)" if hopping else "snapshots")
        avg = s[f"average_{key}"]
        ax.scatter(sets, np.maximum(avg / l0, floor) if key == "loss" else avg, marker="D",
                   s=30, color="C0", zorder=3, label="average of the set's snapshots")
        cross = s[f"cross_{key}"][0]
        if np.isfinite(cross):
            ax.axhline(max(cross / l0, floor) if key == "loss" else cross, color="C3",
                       ls="--", label="average of optima from different wedges")
        ax.set_xlabel("averaged set")
        ax.set_ylabel(label)
    ax1.set_yscale("log")
    ax1.axhline(result.config.get("low_loss_fraction", m["low_loss_threshold"] / l0),
                color="k", lw=0.8, ls=":", label="low-loss level")
    ax2.axhline(0.0, color="k", lw=0.8)
    ax1.set_title(f"Loss (floored at {floor:g} for the log axis)")
    ax2.set_title("Depth inside the arg-min wedge")
    ax1.legend(fontsize="x-small")
