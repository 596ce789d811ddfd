"""E7: learning rate, gradient noise and L2 steer the optimiser's path alike.

Fort & Jastrzebski (2019) report that the learning rate, the network width and L2
regularisation move the optimiser's path in the same way and change the large-scale
curvature it sees. On the toy landscape the knobs are the SGD step size ``lr``, the
gradient-noise scale ``noise_std`` and the L2 strength ``l2`` (``l2 ||x||^2 / 2`` added to
the loss). Each is swept on its own from the base config (``lr``, ``noise_std``, ``l2``)
over ``lr_values``, ``noise_values`` and ``l2_values``; every setting runs the same
``n_runs`` starts (uniform on the sphere of radius ``radius``) with the same noise stream
(common random numbers) for ``steps`` SGD steps.

Measured per run, then averaged over the runs:

- final radius ||x_T||;
- path length: the sum of the step norms sum_t ||x_{t+1} - x_t|| over every step
  (descent one step at a time, :func:`landsim.descent.descend` with ``steps=1``, each
  step's norm being that call's ``distance``);
- local width w = eps0 + eps1 r of the arg-min wedge at x_T (r its long radius);
- curvature: :func:`landsim.geometry.directional_curvature` at x_T along
  ``n_curvature_directions`` random Gaussian directions, averaged.

The direction of each knob's effect is the sign of the Spearman rank correlation between
the knob's values and the mean final width, counted only when |rho| >=
``min_abs_correlation`` (else 0, "no clear effect"). The claim holds iff all three knobs
have the same non-zero sign. It is reported as measured: in this model noise moves the
path outwards (a random walk along the long directions) and a larger step amplifies that
noise, while L2 pulls the path towards the origin, where the wedges are narrower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import descent, geometry
from .._checks import int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import random_landscape
from ._common import Progress, Timer, check_landscape_fields, report
from .e6_weight_averaging import wedge_depth

ID = "E7"
TITLE = "Learning rate, noise and L2"
CLAIM = ("The learning rate, (gradient) noise and L2 regularisation move the optimiser's "
         "path alike and change the local width and curvature it ends in "
         "(Fort & Jastrzebski 2019).")

KNOBS = ("lr", "noise_std", "l2")


@dataclass(frozen=True)
class Config:
    dim: int = 1000  # D
    n_wedges: int = 4  # K
    n_short: int = 100  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.01  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 10.0  # radius of the random starts
    n_runs: int = 8  # starts per setting (the same for every setting)
    steps: int = 400  # SGD steps per run
    lr: float = 0.1  # base step size
    noise_std: float = 0.1  # base gradient-noise standard deviation per coordinate
    l2: float = 1e-3  # base L2 strength
    lr_values: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)  # lr sweep
    noise_values: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)  # noise_std sweep
    l2_values: tuple[float, ...] = (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3)  # l2 sweep
    n_curvature_directions: int = 8  # random directions per end point
    min_abs_correlation: float = 0.5  # |Spearman rho| needed to count a direction

    def __post_init__(self) -> None:
        check_landscape_fields(self)
        for name in ("n_runs", "steps", "n_curvature_directions"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("noise_std", "l2"):
            real_in(name, getattr(self, name), 0.0)
        for name in ("radius", "lr"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("min_abs_correlation", self.min_abs_correlation, 0.0, 1.0, high_open=False)
        for name, low_open in (("lr_values", True), ("noise_values", False),
                               ("l2_values", False)):
            values = getattr(self, name)
            if not isinstance(values, (tuple, list)) or len(values) < 3:
                raise ValueError(f"{name} must be a sequence of at least 3 values, got "
                                 f"{values!r}")
            checked = tuple(real_in(f"{name}[{i}]", v, 0.0, low_open=low_open)
                            for i, v in enumerate(values))
            if any(b <= a for a, b in zip(checked, checked[1:])):
                raise ValueError(f"{name} must be strictly increasing, got {list(checked)}")
            object.__setattr__(self, name, checked)


def quick_config() -> Config:
    return Config(dim=400, n_wedges=3, n_short=40, n_runs=4, steps=200,
                  lr_values=(0.05, 0.1, 0.2, 0.4), noise_values=(0.05, 0.1, 0.2, 0.4),
                  l2_values=(5e-4, 1e-3, 2e-3, 4e-3), n_curvature_directions=4)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); 0 if either is constant."""
    def ranks(a):
        a = np.asarray(a, dtype=np.float64)
        order = np.argsort(a, kind="stable")
        r = np.empty(a.size)
        r[order] = np.arange(a.size, dtype=np.float64)
        for v in np.unique(a):  # ties share their mean rank
            tie = a == v
            r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float(np.sqrt(np.sum(rx * rx) * np.sum(ry * ry)))
    return float(np.sum(rx * ry) / den) if den > 0 else 0.0


def sgd_path(spec, x0: np.ndarray, cfg: descent.DescentConfig, steps: int,
             seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run SGD one step at a time; returns (final points (B, D), path lengths (B,),
    final landscape losses (B,))."""
    rng = np.random.default_rng(seed)
    one = cfg.replace(steps=1, record_every=1)
    x = x0
    length = np.zeros(x0.shape[0])
    for _ in range(steps):
        traj = descent.descend(spec, x, one, seed=rng)
        length += traj.distance[-1]
        x = traj.final_x
    return x, length, traj.final_loss


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=seed)
    start_rng, dir_rng = np.random.default_rng(seed).spawn(2)
    x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_runs, seed=start_rng)
    noise_seed = seed + 1  # the same noise stream for every setting
    base = descent.DescentConfig(optimizer="sgd", lr=cfg.lr, noise_std=cfg.noise_std,
                                 l2=cfg.l2)
    V = dir_rng.standard_normal((cfg.n_runs * cfg.n_curvature_directions, cfg.dim))
    sweeps = {"lr": cfg.lr_values, "noise_std": cfg.noise_values, "l2": cfg.l2_values}
    total = sum(len(v) for v in sweeps.values())
    done = 0
    series: dict[str, np.ndarray] = {}
    metrics: dict[str, float] = {}
    signs = {}
    for knob, values in sweeps.items():
        out = {q: np.zeros((len(values), cfg.n_runs)) for q in
               ("radius", "path_length", "width", "curvature", "loss")}
        for i, value in enumerate(values):
            report(progress, done / total, f"{knob} = {value:g}")
            done += 1
            with timer("descent"):
                x, length, loss = sgd_path(spec, x0, base.replace(**{knob: value}), cfg.steps,
                                           noise_seed)
            with timer("geometry"):
                at = wedge_depth(spec, x)
                X = np.repeat(x, cfg.n_curvature_directions, axis=0)
                curv = geometry.directional_curvature(spec, X, V).reshape(
                    cfg.n_runs, cfg.n_curvature_directions).mean(axis=1)
            out["radius"][i] = np.linalg.norm(x, axis=1)
            out["path_length"][i] = length
            out["width"][i] = at.width
            out["curvature"][i] = curv
            out["loss"][i] = loss
        series[f"{knob}_values"] = np.asarray(values, dtype=np.float64)
        for q, arr in out.items():
            series[f"{knob}_{q}"] = arr.mean(axis=1)  # mean over the runs, per value
        series[f"{knob}_width_runs"] = out["width"]
        for q in ("radius", "path_length", "width", "curvature"):
            metrics[f"{knob}_rho_{q}"] = spearman(series[f"{knob}_values"],
                                                  series[f"{knob}_{q}"])
        rho = metrics[f"{knob}_rho_width"]
        signs[knob] = int(np.sign(rho)) if abs(rho) >= cfg.min_abs_correlation else 0
        metrics[f"{knob}_width_sign"] = float(signs[knob])
        metrics[f"{knob}_width_change"] = float(series[f"{knob}_width"][-1]
                                                / series[f"{knob}_width"][0] - 1.0)
    holds = bool(signs["lr"] != 0 and len(set(signs.values())) == 1)
    words = {1: "widens", -1: "narrows", 0: "has no clear effect on"}
    evidence = "; ".join(
        f"raising {knob} from {sweeps[knob][0]:g} to {sweeps[knob][-1]:g} {words[signs[knob]]} "
        f"the final wedge (rho = {metrics[f'{knob}_rho_width']:+.2f}, width "
        f"{series[f'{knob}_width'][0]:.4g} -> {series[f'{knob}_width'][-1]:.4g}, radius "
        f"{series[f'{knob}_radius'][0]:.4g} -> {series[f'{knob}_radius'][-1]:.4g}, "
        f"curvature {series[f'{knob}_curvature'][0]:.3g} -> "
        f"{series[f'{knob}_curvature'][-1]:.3g})" for knob in KNOBS)
    agree = "all three agree" if holds else "they do not all agree"
    verdict = Verdict(
        holds=holds,
        rule=f"the Spearman correlation of each knob (lr, noise_std, l2) with the mean final "
             f"wedge width has the same sign for all three, each with |rho| >= "
             f"{cfg.min_abs_correlation:g}",
        evidence=f"{evidence}: {agree}.")
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    s = result.series
    axes = fig.subplots(1, 3)
    labels = {"lr": "step size lr", "noise_std": "gradient-noise std", "l2": "L2 strength"}
    for ax, knob in zip(axes, KNOBS):
        v = s[f"{knob}_values"]
        ax.plot(v, s[f"{knob}_width"], "o-", color="C0", label="local width w")
        if np.all(v > 0):
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(v, [f"{x:g}" for x in v], rotation=45, fontsize="small")
        ax.set_xlabel(labels[knob])
        ax.set_ylabel("final width w", color="C0")
        twin = ax.twinx()
        twin.plot(v, s[f"{knob}_curvature"], "s--", color="C3", label="curvature")
        twin.set_ylabel("curvature (random directions)", color="C3")
        rho = result.metrics[f"{knob}_rho_width"]
        ax.set_title(f"{knob}: rho(width) = {rho:+.2f}")
