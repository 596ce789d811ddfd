"""E7: learning rate, gradient noise and L2 move the end point along one curvature curve.

The paper (Fort & Jastrzebski 2019) says that the learning rate, the network width and L2
"affect the path the optimizer takes through the landscape in similar ways, influencing
the large-scale curvature of the regions the optimizer explores". docs/claims.md (E7)
fixes the reading that is judged (reading A): the knobs act through **one variable**, the
end radius |x_T|, so the points (end radius, large-scale curvature) of all the sweeps fall
on one monotone curve, and every knob moves the end radius. Reading B (every knob moves
the curvature the same way) is reported, not judged.

Measurement. SGD with the gradient noise added to the step, not scaled by it::

    x <- x - lr (grad L(x) + l2 x) + noise_std xi,    xi ~ N(0, I_D)

so that lr, noise_std and l2 are three separate knobs (the toy has no network width; the
noise scale stands in for it, see docs/claims.md). Each knob is swept alone over
``lr_values``, ``noise_values`` and ``l2_values``, the others at the base (``lr``,
``noise_std``, ``l2``); every setting runs the same ``n_runs`` starts (uniform on the
sphere of radius ``radius``) with the same noise draws (common random numbers) for
``steps`` steps. At each end point x:

- end radius |x|;
- large-scale curvature c = 2 mean_v [L(x + delta v) - L(x)] / delta^2 over
  ``n_probe_directions`` random unit directions v at delta = ``probe_length``
  (:func:`probe_curvature`; the same directions in every setting);
- top Hessian eigenvalue (largest in magnitude) by power iteration on
  :func:`landsim.geometry.hvp` (reported, not judged);
- the local width eps0 + eps1 r of the arg-min wedge and the landscape loss (reported).

Rule (:func:`landsim.claim_rules.rule_metrics` and :func:`~landsim.claim_rules.judge_curvature`,
here ``judge``, shared with the real E7): over the pooled
setting means of all three sweeps, |Spearman(r, c)| >= ``min_pooled_rank_corr``; the
knob-offset share F (the variance of log c explained by a per-knob offset beyond one
quadratic curve of log c in log r, :func:`knob_offset_share`) <= ``max_knob_offset_share``;
max/min of c >= ``min_curvature_ratio``; and for every knob max/min of its mean end radius
>= ``min_radius_ratio``.

Control (:func:`control_config`): ``eps1 = 0``, slabs instead of wedges: the width does
not change with the radius, so the curvature cannot follow the end radius and the rule must
fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import geometry
from .._checks import int_at_least, real_in
from ..analysis import knob_offset_share as knob_offset_share
from ..analysis import spearman as spearman
from ..claim_rules import check_curvature_fields as check_rule_fields
from ..claim_rules import check_sweep, plot_pooled, sweep_metrics
from ..claim_rules import judge_curvature as judge
from ..claim_rules import rule_metrics as rule_metrics
from ..descent import init_at_radius
from ..experiment_kit import Progress, Timer, report
from ..results import Result, make_result
from ..seeding import SeedLike, streams
from ..spec import random_landscape
from ._depth import wedge_depth
from ._landscape import LandscapeParams

ID = "E7"
TITLE = "Learning rate, noise and L2"
CLAIM = ("The learning rate, the gradient noise (the toy's stand-in for width) and L2 "
         "move the optimiser's end point along one curve of large-scale curvature against "
         "end radius (Fort & Jastrzebski 2019; reading A of docs/claims.md).")
CONTROL = ("eps1 = 0 (slabs, not wedges): the width, hence the large-scale curvature, does "
           "not change with the radius, so the knobs cannot move the curvature along one "
           "radius curve and the rule must fail.")

KNOBS = ("lr", "noise_std", "l2")
RULE_FIELDS = ("probe_length", "min_pooled_rank_corr", "max_knob_offset_share",
               "min_curvature_ratio", "min_radius_ratio", "min_direction_corr")
KEY_METRICS = ("knob_offset_share", "pooled_rank_corr", "curvature_ratio",
               "min_knob_radius_ratio", "same_direction")


@dataclass(frozen=True)
class Config(LandscapeParams):
    """World (landscape, starts, SGD, sweeps) and rule (thresholds) of toy E7."""

    dim: int = 1000  # D
    n_wedges: int = 4  # K
    n_short: int = 100  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.01  # width growth per unit long radius (control: 0)
    radius: float = 10.0  # radius of the random starts
    n_runs: int = 8  # starts per setting (the same for every setting)
    steps: int = 400  # SGD steps per run
    lr: float = 0.1  # base step size
    noise_std: float = 0.05  # base step noise per coordinate (not scaled by lr)
    l2: float = 4e-3  # base L2 strength
    lr_values: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)  # lr sweep
    noise_values: tuple[float, ...] = (0.0125, 0.025, 0.05, 0.1, 0.2)  # noise_std sweep
    l2_values: tuple[float, ...] = (1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2)  # l2 sweep
    hessian_iters: int = 20  # power iterations for the top Hessian eigenvalue (reported)
    n_probe_directions: int = 8  # random directions per end point
    probe_length: float = 5.0  # rule: the fixed step length delta of the curvature probe
    min_pooled_rank_corr: float = 0.8  # rule: |Spearman(r, c)| over the pooled settings
    max_knob_offset_share: float = 0.1  # rule: variance share of log c left to the knob
    min_curvature_ratio: float = 1.25  # rule: max / min of the pooled c
    min_radius_ratio: float = 1.05  # rule: max / min end radius within every sweep
    min_direction_corr: float = 0.5  # reading B (reported): |rho| of a knob with c

    def __post_init__(self) -> None:
        self.check_landscape()
        for name in ("n_runs", "steps", "hessian_iters"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("noise_std", "l2"):
            real_in(name, getattr(self, name), 0.0)
        for name in ("radius", "lr"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        check_rule_fields(self)
        for name, low_open in (("lr_values", True), ("noise_values", False),
                               ("l2_values", False)):
            object.__setattr__(self, name, check_sweep(name, getattr(self, name), low_open))


def quick_config() -> Config:
    """A smaller landscape, fewer runs, steps and settings."""
    return Config(dim=400, n_wedges=3, n_short=40, n_runs=4, steps=200,
                  lr_values=(0.05, 0.1, 0.2, 0.4), noise_values=(0.025, 0.05, 0.1, 0.2),
                  l2_values=(2e-3, 4e-3, 8e-3, 1.6e-2), n_probe_directions=4)


def control_config(config: Config) -> Config:
    """The negative control: the same world with eps1 = 0 (slabs, not wedges)."""
    return dataclasses.replace(config, eps1=0.0)


# --------------------------------------------------------------------- measurement
def sgd_path(spec, x0: np.ndarray, lr: float, noise_std: float, l2: float,
             noise: np.ndarray) -> np.ndarray:
    """SGD with step noise not scaled by the step size.

    x <- x - lr (grad L(x) + l2 x) + noise_std noise[t], for t = 0 .. T - 1.

    Parameters
    ----------
    spec : LandscapeSpec
    x0 : ndarray, shape (B, D)
    lr, noise_std, l2 : float
    noise : ndarray, shape (T, B, D)
        Standard normal draws, one per step.

    Returns
    -------
    ndarray, shape (B, D)
        The end points.
    """
    x = np.array(x0, dtype=np.float64)
    for xi in noise:
        g = geometry.gradient(spec, x)
        if l2 > 0:
            g += l2 * x
        x -= lr * g
        if noise_std > 0:
            x += noise_std * xi
    return x


def probe_curvature(spec, X: np.ndarray, V: np.ndarray, length: float) -> np.ndarray:
    """Large-scale curvature 2 mean_v [L(x + length v) - L(x)] / length^2.

    Parameters
    ----------
    spec : LandscapeSpec
    X : ndarray, shape (B, D)
    V : ndarray, shape (B, M, D)
        Unit directions, M per point.
    length : float

    Returns
    -------
    ndarray, shape (B,)
    """
    B, M, D = V.shape
    base = geometry.loss(spec, X)
    moved = geometry.loss(spec, (X[:, None, :] + length * V).reshape(B * M, D)).reshape(B, M)
    return 2.0 * (moved - base[:, None]).mean(axis=1) / length**2


def top_eigenvalue(spec, X: np.ndarray, v0: np.ndarray, iters: int) -> np.ndarray:
    """Largest-magnitude Hessian eigenvalue at each point by power iteration.

    Parameters
    ----------
    X, v0 : ndarray, shape (B, D)
        Points and start vectors.
    iters : int

    Returns
    -------
    ndarray, shape (B,)
        The Rayleigh quotient v^T H v of the last iterate (0 where H v = 0).
    """
    v = v0 / np.linalg.norm(v0, axis=1, keepdims=True)
    lam = np.zeros(X.shape[0])
    for _ in range(iters):
        hv = geometry.hvp(spec, X, v)
        lam = np.sum(v * hv, axis=1)
        norm = np.linalg.norm(hv, axis=1, keepdims=True)
        v = np.where(norm > 0, hv / np.where(norm > 0, norm, 1.0), v)
    return lam


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None) -> Result:
    """Sweep lr, noise_std and l2 alone; judge reading A (see the module docstring)."""
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    rng = streams(seed, ("landscape", "starts", "noise", "probes", "hessian"))
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=rng["landscape"])
    x0 = init_at_radius(cfg.dim, cfg.radius, cfg.n_runs, seed=rng["starts"])
    noise = rng["noise"].standard_normal((cfg.steps, cfg.n_runs, cfg.dim))
    V = rng["probes"].standard_normal((cfg.n_runs, cfg.n_probe_directions, cfg.dim))
    V /= np.linalg.norm(V, axis=2, keepdims=True)
    v0 = rng["hessian"].standard_normal((cfg.n_runs, cfg.dim))
    sweeps = {"lr": cfg.lr_values, "noise_std": cfg.noise_values, "l2": cfg.l2_values}
    total = sum(len(v) for v in sweeps.values())
    done = 0
    series: dict[str, np.ndarray] = {}
    quantities = ("radius", "curvature", "top_eigenvalue", "width", "loss")
    ends: list[np.ndarray] = []  # end points (n_runs, D) of every setting, in sweep order
    for knob, values in sweeps.items():
        out = {q: np.zeros((len(values), cfg.n_runs)) for q in quantities}
        for i, value in enumerate(values):
            report(progress, done / total, f"{knob} = {value:g}")
            done += 1
            knobs = {"lr": cfg.lr, "noise_std": cfg.noise_std, "l2": cfg.l2, knob: value}
            with timer("descent"):
                x = sgd_path(spec, x0, knobs["lr"], knobs["noise_std"], knobs["l2"], noise)
            with timer("curvature"):
                out["curvature"][i] = probe_curvature(spec, x, V, cfg.probe_length)
                at = wedge_depth(spec, x)
            ends.append(x)
            out["radius"][i] = np.linalg.norm(x, axis=1)
            out["width"][i] = at.width
            out["loss"][i] = geometry.loss(spec, x)
        series[f"{knob}_values"] = np.asarray(values, dtype=np.float64)
        for q, arr in out.items():
            series[f"{knob}_{q}"] = arr.mean(axis=1)  # (n_values,) mean over the runs
            series[f"{knob}_{q}_runs"] = arr  # (n_values, n_runs)
    with timer("hessian"):  # one batch of every end point: few kernel calls
        eig = top_eigenvalue(spec, np.concatenate(ends), np.tile(v0, (len(ends), 1)),
                             cfg.hessian_iters).reshape(len(ends), cfg.n_runs)
    first = 0
    for knob, values in sweeps.items():
        arr = eig[first:first + len(values)]
        first += len(values)
        series[f"{knob}_top_eigenvalue"] = arr.mean(axis=1)
        series[f"{knob}_top_eigenvalue_runs"] = arr
    metrics = sweep_metrics(series, KNOBS, cfg.min_direction_corr)
    verdict = judge(cfg, metrics, KNOBS)
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    """Left: the pooled radius-curvature points; right: each knob's radius and c."""
    s = result.series
    labels = {"lr": "step size lr", "noise_std": "step noise std", "l2": "L2 strength"}
    axes = fig.subplots(1, 4)
    plot_pooled(axes[0], result, KNOBS, labels)
    for ax, knob in zip(axes[1:], KNOBS):
        v = s[f"{knob}_values"]
        ax.plot(v, s[f"{knob}_curvature"], "o-", color="C0")
        if np.all(v > 0):
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(v, [f"{x:g}" for x in v], rotation=45, fontsize="x-small")
        ax.set_xlabel(labels[knob], fontsize="small")
        ax.set_ylabel("curvature c", color="C0", fontsize="small")
        twin = ax.twinx()
        twin.plot(v, s[f"{knob}_radius"], "s--", color="C3")
        twin.set_ylabel("end radius", color="C3", fontsize="small")
        ax.set_title(f"{knob}: rho(c) = {result.metrics[f'{knob}_rho_curvature']:+.2f}",
                     fontsize="small")
