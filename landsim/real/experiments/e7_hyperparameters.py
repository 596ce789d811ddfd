"""E7 on trained networks: learning rate, width and L2 against the curvature at the optimum.

The toy claim (:mod:`landsim.experiments.e7_hyperparameters`): the learning rate, the
gradient noise and L2 move the optimiser's path alike and change the local width and
curvature it ends in. Fort & Jastrzebski (2019) make the claim for real networks with the
learning rate, the network width and L2 regularisation. Here each knob is swept on its own
from the base config (``lr``, ``width``, ``l2``) over ``lr_values``, ``width_values`` and
``l2_values``; every setting trains ``n_networks`` MLPs (networks 0 .. n_networks - 1 of
the run, :func:`~landsim.real.experiments._setup.network_seed`: the same initialisation
and minibatch order for every lr and l2 setting, common random numbers) with ``optimizer``
(plain SGD by default, so that lr is the step size) and weight decay l2 (l2 |w|^2 / 2 added
to the loss) for ``epochs`` epochs.

Measured at each trained network w (then averaged over the networks of a setting):

- top Hessian eigenvalue of the training loss (mean cross-entropy, without the L2 term) by
  Lanczos on Hessian-vector products (:func:`landsim.real.hessian.top_eigenvalues_lanczos`,
  on the first ``hessian_samples`` training samples): the large-scale curvature the
  optimiser ends in;
- weight norm |w| and distance from the initialisation |w - w0|;
- radial profile: the training loss along the ray from the weight origin through w, at
  ``|w| x profile_scales`` (scaled radii, 1 = the optimum);
- training loss and accuracy, test accuracy.

Once, at the first setting of the lr sweep, the top eigenvalue is also found by power
iteration (:func:`landsim.real.hessian.top_eigenvalue_power`) as a check on Lanczos.

The direction of each knob's effect is the sign of the Spearman rank correlation between
the knob's values and the mean top eigenvalue, counted only when |rho| >=
``min_abs_correlation`` (else 0, "no clear effect"), as in the toy E7 (which correlates with
the final wedge width). The claim holds iff all three knobs have the same non-zero sign.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..._checks import choice, int_at_least, real_in
from ...experiments._common import Progress, Timer, report
from ...experiments.e7_hyperparameters import spearman
from ...results import Result, Verdict, make_result
from .. import flat, hessian
from ..train import train
from ._setup import NetworkConfig, load_dataset, model_spec, network_seed, train_config

ID = "E7"
TITLE = "Learning rate, width and L2"
CLAIM = ("The learning rate, the network width and L2 regularisation move the optimiser "
         "alike and change the large-scale curvature (top Hessian eigenvalue) of the "
         "region it ends in (Fort & Jastrzebski 2019).")

KNOBS = ("lr", "width", "l2")


def _sweep(name: str, values, low_open: bool, integer: bool = False) -> tuple:
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


@dataclass(frozen=True)
class Config(NetworkConfig):
    optimizer: str = "sgd"  # plain SGD: lr is the step size
    lr: float = 0.1  # base learning rate
    l2: float = 1e-3  # base weight decay (L2 strength)
    lr_values: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)  # lr sweep
    width_values: tuple[int, ...] = (8, 16, 32, 64, 128)  # hidden-width sweep
    l2_values: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # weight-decay sweep
    n_networks: int = 1  # networks per setting (seeds shared by all settings)
    hessian_samples: int = 0  # training samples of the Hessian; 0: all
    lanczos_tol: float = 1e-3  # relative accuracy of the Lanczos eigenvalue
    hvp_method: str = "double_backward"  # Hessian-vector products: or "jvp" (forward-mode)
    profile_scales: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 2.0, 21), 10))
    min_abs_correlation: float = 0.5  # |Spearman rho| needed to count a direction

    def __post_init__(self) -> None:
        super().__post_init__()
        real_in("l2", self.l2, 0.0)
        int_at_least("n_networks", self.n_networks, 1)
        int_at_least("hessian_samples", self.hessian_samples, 0)
        real_in("lanczos_tol", self.lanczos_tol, 0.0, 1.0, low_open=True)
        choice("hvp_method", self.hvp_method, hessian.HVP_METHODS)
        real_in("min_abs_correlation", self.min_abs_correlation, 0.0, 1.0, high_open=False)
        for name, low_open, integer in (("lr_values", True, False),
                                        ("width_values", True, True),
                                        ("l2_values", False, False)):
            object.__setattr__(self, name, _sweep(name, getattr(self, name), low_open,
                                                  integer))
        scales = self.profile_scales
        if not isinstance(scales, (tuple, list)) or len(scales) < 2:
            raise ValueError(f"profile_scales must be a sequence of at least 2 values, got "
                             f"{scales!r}")
        object.__setattr__(self, "profile_scales", tuple(
            real_in(f"profile_scales[{i}]", v, 0.0) for i, v in enumerate(scales)))


def quick_config() -> Config:
    return Config(epochs=12, lr_values=(0.05, 0.1, 0.2, 0.4), width_values=(16, 32, 64, 128),
                  l2_values=(3e-4, 1e-3, 3e-3, 1e-2), hessian_samples=600,
                  profile_scales=tuple(np.round(np.linspace(0.0, 2.0, 11), 10)))


def smoke_config() -> Config:
    return Config(n_train=300, depth=1, epochs=5, lr_values=(0.05, 0.1, 0.2),
                  width_values=(8, 16, 32), l2_values=(1e-4, 1e-3, 1e-2), width=16,
                  profile_scales=(0.0, 0.5, 1.0, 1.5, 2.0))


def setting(cfg: Config, knob: str, value) -> tuple[Config, float]:
    """The network config and weight decay of one sweep point (the others at the base)."""
    if knob == "lr":
        return replace(cfg, lr=float(value)), cfg.l2
    if knob == "width":
        return replace(cfg, width=int(value)), cfg.l2
    if knob == "l2":
        return cfg, float(value)
    raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    ds = load_dataset(cfg, seed)
    data = ds.to(cfg.device)
    n_h = cfg.hessian_samples or ds.n_train
    xh, yh = data.x_train[:n_h], data.y_train[:n_h]
    scales = np.asarray(cfg.profile_scales, dtype=np.float64)
    sweeps = {"lr": cfg.lr_values, "width": cfg.width_values, "l2": cfg.l2_values}
    total = sum(len(v) for v in sweeps.values())
    done = 0
    series: dict[str, np.ndarray] = {"profile_scales": scales}
    metrics: dict[str, float] = {}
    quantities = ("top_eigenvalue", "weight_norm", "distance", "train_loss",
                  "train_accuracy", "test_accuracy")
    for knob, values in sweeps.items():
        out = {q: np.zeros((len(values), cfg.n_networks)) for q in quantities}
        profile = np.zeros((len(values), cfg.n_networks, scales.size))
        for i, value in enumerate(values):
            report(progress, done / total, f"{knob} = {value:g}")
            done += 1
            net_cfg, l2 = setting(cfg, knob, value)
            spec = model_spec(net_cfg)
            tc = train_config(net_cfg, weight_decay=l2)
            for j in range(cfg.n_networks):
                s = network_seed(seed, j)
                fm = flat.FlatModel(spec.build(ds.input_shape, ds.n_classes, s), cfg.device)
                with timer("training"):
                    fit = train(fm, ds, tc, s)
                w = fit.flat.to(fm.device)
                with timer("hessian"):
                    eig = hessian.top_eigenvalues_lanczos(fm, w, xh, yh, k=1,
                                                          tol=cfg.lanczos_tol, seed=s,
                                                          method=cfg.hvp_method)
                    if knob == "lr" and i == 0 and j == 0:
                        power = hessian.top_eigenvalue_power(fm, w, xh, yh, iters=500,
                                                             tol=1e-6, seed=s,
                                                             method=cfg.hvp_method)
                        metrics["check_lanczos_top_eigenvalue"] = float(eig.values[0])
                        metrics["check_power_top_eigenvalue"] = float(power.values[0])
                        metrics["check_power_converged"] = float(power.converged)
                with timer("profile"):
                    norm = float(w.norm())
                    ray = torch.as_tensor(scales, dtype=w.dtype, device=w.device)[:, None] * w
                    profile[i, j] = fm.evaluate_points(ray, data.x_train, data.y_train).loss
                out["top_eigenvalue"][i, j] = float(eig.values[0])
                out["weight_norm"][i, j] = norm
                out["distance"][i, j] = float((fit.flat - fit.init).norm())
                out["train_loss"][i, j] = fit.train_loss
                out["train_accuracy"][i, j] = fit.train_accuracy
                out["test_accuracy"][i, j] = fit.test_accuracy
        series[f"{knob}_values"] = np.asarray(values, dtype=np.float64)
        for q, arr in out.items():
            series[f"{knob}_{q}"] = arr.mean(axis=1)  # (n_values,) mean over the networks
        series[f"{knob}_top_eigenvalue_networks"] = out["top_eigenvalue"]
        series[f"{knob}_profile"] = profile.mean(axis=1)  # (n_values, n_scales)
    verdict, judged = judge(cfg, series)
    metrics.update(judged)
    metrics["check_relative_difference"] = (
        abs(metrics["check_lanczos_top_eigenvalue"] - metrics["check_power_top_eigenvalue"])
        / abs(metrics["check_lanczos_top_eigenvalue"]))
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def judge(cfg: Config, s: dict) -> tuple[Verdict, dict[str, float]]:
    """The verdict and its metrics from the stored series ``s`` (see :func:`run`)."""
    metrics: dict[str, float] = {}
    signs = {}
    for knob in KNOBS:
        v = s[f"{knob}_values"]
        for q in ("top_eigenvalue", "weight_norm", "distance"):
            metrics[f"{knob}_rho_{q}"] = spearman(v, s[f"{knob}_{q}"])
        rho = metrics[f"{knob}_rho_top_eigenvalue"]
        signs[knob] = int(np.sign(rho)) if abs(rho) >= cfg.min_abs_correlation else 0
        metrics[f"{knob}_curvature_sign"] = float(signs[knob])
        lam = s[f"{knob}_top_eigenvalue"]
        metrics[f"{knob}_curvature_change"] = float(lam[-1] / lam[0] - 1.0)
    holds = bool(signs["lr"] != 0 and len(set(signs.values())) == 1)
    words = {1: "raises", -1: "lowers", 0: "has no clear effect on"}
    evidence = "; ".join(
        f"raising {knob} from {s[f'{knob}_values'][0]:g} to {s[f'{knob}_values'][-1]:g} "
        f"{words[signs[knob]]} the top Hessian eigenvalue (rho = "
        f"{metrics[f'{knob}_rho_top_eigenvalue']:+.2f}, "
        f"{s[f'{knob}_top_eigenvalue'][0]:.3g} -> {s[f'{knob}_top_eigenvalue'][-1]:.3g}; "
        f"|w| {s[f'{knob}_weight_norm'][0]:.3g} -> {s[f'{knob}_weight_norm'][-1]:.3g}, "
        f"distance from init {s[f'{knob}_distance'][0]:.3g} -> "
        f"{s[f'{knob}_distance'][-1]:.3g})" for knob in KNOBS)
    agree = ("all three move it the same way, as the paper claims" if holds else
             "they do not all move it the same way, unlike the paper's claim")
    verdict = Verdict(
        holds=holds,
        rule=f"the Spearman correlation of each knob (lr, width, l2) with the mean top "
             f"Hessian eigenvalue at the trained network has the same sign for all three, "
             f"each with |rho| >= {cfg.min_abs_correlation:g}",
        evidence=f"{evidence}: {agree}.")
    return verdict, metrics


def plot(result: Result, fig) -> None:
    from matplotlib import colormaps

    s = result.series
    axes = fig.subplots(1, 4)
    labels = {"lr": "learning rate", "width": "hidden width", "l2": "L2 (weight decay)"}
    for n, (ax, knob) in enumerate(zip(axes, KNOBS)):
        v = s[f"{knob}_values"]
        ax.plot(v, s[f"{knob}_top_eigenvalue"], "o-", color="C0", label="top eigenvalue")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(v, [f"{x:g}" for x in v], rotation=45, fontsize="x-small")
        ax.tick_params(axis="y", labelsize="x-small", colors="C0")
        ax.set_xlabel(labels[knob], fontsize="small")
        twin = ax.twinx()
        twin.plot(v, s[f"{knob}_weight_norm"], "s--", color="C3", ms=3, label="|w|")
        twin.plot(v, s[f"{knob}_distance"], "^:", color="C2", ms=3, label="|w - w0|")
        twin.tick_params(axis="y", labelsize="x-small")
        rho = result.metrics[f"{knob}_rho_top_eigenvalue"]
        ax.set_title(f"{knob}: rho = {rho:+.2f}", fontsize="small")
        if n == 0:
            ax.set_ylabel("top Hessian eigenvalue", color="C0", fontsize="small")
            lines = ax.get_lines() + twin.get_lines()
            ax.legend(lines, [line.get_label() for line in lines], fontsize="xx-small")
    ax = axes[3]
    scales = s["profile_scales"]
    for knob, cmap, ls in (("lr", "Blues", "-"), ("width", "Greens", "--"),
                           ("l2", "Reds", ":")):
        prof = s[f"{knob}_profile"]
        colours = colormaps[cmap](np.linspace(0.4, 1.0, len(prof)))
        for row, c in zip(prof, colours):
            ax.plot(scales, row, ls=ls, color=c, lw=1.0)
        ax.plot([], [], ls=ls, color=colours[-1], label=f"{knob} (dark: large)")
    ax.set_yscale("log")
    ax.axvline(1.0, color="k", lw=0.6)
    ax.tick_params(labelsize="x-small")
    ax.set_xlabel("radius / |w|", fontsize="small")
    ax.set_ylabel("training loss", fontsize="small")
    ax.set_title("Radial profiles", fontsize="small")
    ax.legend(fontsize="xx-small")
