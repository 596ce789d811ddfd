"""E7 on trained networks: learning rate, width and L2 against the large-scale curvature.

The claim and its reading are those of the toy E7 (:mod:`landsim.experiments.e7_hyperparameters`,
docs/claims.md, E7): reading A, judged, says that the three knobs act through one
variable, the end radius |w| (the weight norm), so the points (|w|, large-scale curvature)
of all three sweeps fall on one monotone curve and every knob moves |w|; reading B (every
knob moves the curvature the same way) is reported.

Measurement. Each knob is swept alone from the base (``lr``, ``width``, ``l2``) over
``lr_values``, ``width_values`` (the parameter count P of each width is reported) and
``l2_values``. Every setting trains ``n_networks`` >= 3 MLPs (networks 0 .. n - 1 of the
run, :func:`~landsim.real.experiments._setup.network_seed`: the same seeds in every
setting) with plain SGD and weight decay l2 (l2 |w|^2 / 2 added to the loss) **until the
full training loss** (cross-entropy, without the L2 term) **is <= target_loss**, checked
every ``check_every`` steps, with a cap of ``epochs`` epochs; a run that reaches the cap
first is counted in ``missed_target`` and its end point is used as it is. So the end
points of all settings are equally well trained, not trained for equally long. At each
end point w:

- end radius |w|;
- large-scale curvature c = 2 mean_v [L(w + delta v) - L(w)] / delta^2 over
  ``n_probe_directions`` random unit directions v (from child 2 of the run's seed) at
  delta = ``probe_length``, L the training loss (the same definition as the toy);
- top Hessian eigenvalue of the training loss by Lanczos on Hessian-vector products
  (:func:`landsim.real.hessian.top_eigenvalues_lanczos`, on the first ``hessian_samples``
  training samples; start vectors from child 3 of the run's seed), reported, not judged;
- training loss and epochs used, test accuracy.

Setting means over the networks are judged by the toy's rule
(:func:`landsim.claim_rules.rule_metrics`, :func:`landsim.claim_rules.judge_curvature`).

Control (:func:`control_config`): ``untrained = True``, the same settings, seeds and data
with no training at all: lr and l2 cannot move the end point, so the per-knob minimum effect
on the end radius fails and reading A cannot pass.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..._checks import choice, int_at_least, real_in
from ...claim_rules import check_curvature_fields, check_sweep, plot_pooled, sweep_metrics
from ...claim_rules import judge_curvature as judge
from ...experiment_kit import Progress, Timer, report
from ...results import Result, make_result
from ...seeding import SeedLike, children, int_seed
from .. import hessian
from .._device import torch_generator
from ..flat import FlatModel
from ..train import make_optimizer
from ._setup import NetworkConfig, load_dataset, model_spec, network_seed, train_config

ID = "E7"
TITLE = "Learning rate, width and L2"
CLAIM = ("The learning rate, the network width and L2 regularisation move the trained "
         "network along one curve of large-scale curvature against weight norm "
         "(Fort & Jastrzebski 2019; reading A of docs/claims.md).")
CONTROL = ("Untrained networks (the same settings and seeds, no training): lr and L2 cannot "
           "move the end point, so the knobs do not act through one variable and the rule "
           "must fail.")

KNOBS = ("lr", "width", "l2")
RULE_FIELDS = ("probe_length", "min_pooled_rank_corr", "max_knob_offset_share",
               "min_curvature_ratio", "min_radius_ratio", "min_direction_corr")
KEY_METRICS = ("knob_offset_share", "pooled_rank_corr", "curvature_ratio",
               "min_knob_radius_ratio", "same_direction", "missed_target")


@dataclass(frozen=True)
class Config(NetworkConfig):
    """Networks, sweeps, the training-loss target and the rule of real E7.

    ``epochs`` (from :class:`NetworkConfig`) is the cap on the epochs of one run.
    """

    optimizer: str = "sgd"  # plain SGD: lr is the step size
    lr: float = 0.1  # base learning rate
    epochs: int = 100  # cap on the epochs of a run (runs stop at target_loss)
    l2: float = 1e-3  # base weight decay (L2 strength)
    lr_values: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2, 0.4)  # lr sweep
    width_values: tuple[int, ...] = (8, 16, 32, 64, 128)  # hidden-width sweep
    l2_values: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # weight-decay sweep
    n_networks: int = 3  # networks (seeds) per setting, the same seeds in every setting
    target_loss: float = 0.1  # training stops when the full training loss is <= this
    check_every: int = 5  # SGD steps between checks of the training loss
    untrained: bool = False  # control: no training at all
    hessian_samples: int = 0  # training samples of the Hessian; 0: all
    lanczos_tol: float = 1e-3  # relative accuracy of the Lanczos eigenvalue
    hvp_method: str = "double_backward"  # Hessian-vector products: or "jvp"
    n_probe_directions: int = 8  # random directions per network
    probe_length: float = 2.0  # rule: the fixed step length delta of the curvature probe
    min_pooled_rank_corr: float = 0.8  # rule: |Spearman(|w|, c)| over the pooled settings
    max_knob_offset_share: float = 0.1  # rule: variance share of log c left to the knob
    min_curvature_ratio: float = 1.25  # rule: max / min of the pooled c
    min_radius_ratio: float = 1.05  # rule: max / min end radius within every sweep
    min_direction_corr: float = 0.5  # reading B (reported): |rho| of a knob with c

    def __post_init__(self) -> None:
        super().__post_init__()
        real_in("l2", self.l2, 0.0)
        int_at_least("n_networks", self.n_networks, 1)
        real_in("target_loss", self.target_loss, 0.0, low_open=True)
        int_at_least("check_every", self.check_every, 1)
        if not isinstance(self.untrained, bool):
            raise ValueError(f"untrained must be a bool, got {self.untrained!r}")
        int_at_least("hessian_samples", self.hessian_samples, 0)
        real_in("lanczos_tol", self.lanczos_tol, 0.0, 1.0, low_open=True)
        choice("hvp_method", self.hvp_method, hessian.HVP_METHODS)
        check_curvature_fields(self)
        for name, low_open, integer in (("lr_values", True, False),
                                        ("width_values", True, True),
                                        ("l2_values", False, False)):
            object.__setattr__(self, name, check_sweep(name, getattr(self, name), low_open,
                                                       integer))


def quick_config() -> Config:
    """Three values per knob, the Hessian on 600 samples."""
    return Config(lr_values=(0.05, 0.1, 0.2), width_values=(16, 32, 64),
                  l2_values=(1e-4, 1e-3, 1e-2), hessian_samples=600)


def smoke_config() -> Config:
    """Seconds: 300 samples, one hidden layer, a loose target, a short cap."""
    return Config(n_train=300, depth=1, width=16, epochs=60, target_loss=0.3,
                  lr_values=(0.05, 0.1, 0.2), width_values=(8, 16, 32),
                  l2_values=(1e-4, 1e-3, 1e-2), hessian_samples=200, lanczos_tol=1e-2,
                  n_probe_directions=4)


def control_config(config: Config) -> Config:
    """The negative control: the same settings and seeds, networks left untrained."""
    return dataclasses.replace(config, untrained=True)


def setting(cfg: Config, knob: str, value) -> tuple[Config, float]:
    """The network config and weight decay of one sweep point (the others at the base)."""
    if knob == "lr":
        return replace(cfg, lr=float(value)), cfg.l2
    if knob == "width":
        return replace(cfg, width=int(value)), cfg.l2
    if knob == "l2":
        return cfg, float(value)
    raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")


def train_to_target(fm: FlatModel, data, net_cfg: Config, l2: float, seed: int,
                    target: float, max_epochs: int, check_every: int) -> tuple[float, int, bool]:
    """Minibatch SGD on ``fm`` until the full training loss is <= ``target``.

    The loss (mean cross-entropy on the whole training split, evaluation mode, without
    the L2 term) is checked before the first step and every ``check_every`` steps; the run
    stops at the first check at or below ``target``, or after ``max_epochs`` epochs.

    Parameters
    ----------
    fm : FlatModel
        Trained in place.
    data : Dataset
        On ``fm``'s device.
    net_cfg : Config
        Optimiser, lr and batch size.
    l2 : float
        Weight decay.
    seed : int
        Minibatch order.

    Returns
    -------
    (loss, steps, reached) : (float, int, bool)
        The last checked training loss, the SGD steps taken and whether the target was
        reached.
    """
    net = fm.model
    tc = train_config(net_cfg, weight_decay=l2)
    opt = make_optimizer(list(net.parameters()), tc)
    gen = torch_generator(seed)
    x, y = data.x_train.to(fm.dtype), data.y_train

    def full_loss() -> float:
        net.eval()
        with torch.no_grad():
            return float(F.cross_entropy(net(x), y))

    loss, steps = full_loss(), 0
    if loss <= target:
        return loss, 0, True
    for _ in range(max_epochs):
        for xb, yb in data.batches(tc.batch_size, gen):
            net.train()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(xb.to(fm.dtype)), yb).backward()
            opt.step()
            steps += 1
            if steps % check_every == 0:
                loss = full_loss()
                if loss <= target:
                    return loss, steps, True
    loss = full_loss()
    return loss, steps, loss <= target


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None) -> Result:
    """Sweep lr, width and l2 alone; judge reading A (see the module docstring)."""
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "loading data")
    ds = load_dataset(cfg, seed)
    data = ds.to(cfg.device)
    n_h = cfg.hessian_samples or ds.n_train
    xh, yh = data.x_train[:n_h], data.y_train[:n_h]
    net_seeds = [network_seed(seed, j) for j in range(cfg.n_networks)]
    probe_seqs = children(children(seed, 4)[2], cfg.n_networks)
    lanczos_seqs = children(children(seed, 4)[3], cfg.n_networks)
    sweeps = {"lr": cfg.lr_values, "width": cfg.width_values, "l2": cfg.l2_values}
    total = sum(len(v) for v in sweeps.values())
    done = 0
    cache: dict[tuple, dict[str, np.ndarray]] = {}  # (lr, width, l2) -> per-network values
    series: dict[str, np.ndarray] = {}
    quantities = ("radius", "curvature", "top_eigenvalue", "train_loss", "test_accuracy",
                  "epochs_used", "reached", "n_params")
    for knob, values in sweeps.items():
        out = {q: np.zeros((len(values), cfg.n_networks)) for q in quantities}
        for i, value in enumerate(values):
            report(progress, done / total, f"{knob} = {value:g}")
            done += 1
            net_cfg, l2 = setting(cfg, knob, value)
            key = (net_cfg.lr, net_cfg.width, l2)
            if key not in cache:
                cache[key] = _measure_setting(cfg, net_cfg, l2, ds, data, xh, yh, net_seeds,
                                              probe_seqs, lanczos_seqs, timer)
            for q in quantities:
                out[q][i] = cache[key][q]
        series[f"{knob}_values"] = np.asarray(values, dtype=np.float64)
        for q, arr in out.items():
            series[f"{knob}_{q}"] = arr.mean(axis=1)  # (n_values,) mean over the networks
            series[f"{knob}_{q}_networks"] = arr  # (n_values, n_networks)
    metrics = sweep_metrics(series, KNOBS, cfg.min_direction_corr)
    reached = np.concatenate([v["reached"] for v in cache.values()])
    metrics["missed_target"] = float(np.sum(reached == 0))
    metrics["trained_runs"] = float(reached.size)
    verdict = judge(cfg, metrics, KNOBS)
    if not cfg.untrained and metrics["missed_target"] > 0:
        verdict = dataclasses.replace(verdict, evidence=(
            f"{verdict.evidence} {int(metrics['missed_target'])} of {reached.size} runs "
            f"missed the training-loss target {cfg.target_loss:g} within {cfg.epochs} "
            f"epochs."))
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def _measure_setting(cfg: Config, net_cfg: Config, l2: float, ds, data, xh, yh, net_seeds,
                     probe_seqs, lanczos_seqs, timer: Timer) -> dict[str, np.ndarray]:
    """Train (unless ``cfg.untrained``) and measure the n_networks networks of a setting.

    Returns
    -------
    dict of str to ndarray, each of shape (n_networks,)
    """
    spec = model_spec(net_cfg)
    n = cfg.n_networks
    out = {q: np.zeros(n) for q in ("radius", "curvature", "top_eigenvalue", "train_loss",
                                    "test_accuracy", "epochs_used", "reached", "n_params")}
    steps_per_epoch = math.ceil(ds.n_train / cfg.batch_size)
    for j in range(n):
        s = net_seeds[j]
        fm = FlatModel(spec.build(ds.input_shape, ds.n_classes, s), cfg.device)
        with timer("training"):
            if cfg.untrained:
                loss, steps, reached = float("nan"), 0, False
            else:
                loss, steps, reached = train_to_target(fm, data, net_cfg, l2, s,
                                                       cfg.target_loss, cfg.epochs,
                                                       cfg.check_every)
        w = fm.get_flat()
        train_loss = fm.evaluate(w, data.x_train, data.y_train)[0]
        with timer("curvature"):
            rng = np.random.default_rng(probe_seqs[j])
            V = torch.as_tensor(rng.standard_normal((cfg.n_probe_directions, fm.n_params)),
                                dtype=w.dtype).to(w.device)
            V = V / V.norm(dim=1, keepdim=True)
            moved = fm.evaluate_points(w[None, :] + cfg.probe_length * V, data.x_train,
                                       data.y_train).loss
            out["curvature"][j] = 2.0 * float(np.mean(moved - train_loss)) / cfg.probe_length**2
        with timer("hessian"):
            eig = hessian.top_eigenvalues_lanczos(fm, w, xh, yh, k=1, tol=cfg.lanczos_tol,
                                                  seed=int_seed(lanczos_seqs[j]),
                                                  method=cfg.hvp_method)
        out["radius"][j] = float(w.norm())
        out["top_eigenvalue"][j] = float(eig.values[0])
        out["train_loss"][j] = train_loss
        out["test_accuracy"][j] = fm.evaluate(w, data.x_test, data.y_test)[1]
        out["epochs_used"][j] = steps / steps_per_epoch
        out["reached"][j] = float(reached)
        out["n_params"][j] = fm.n_params
    return out


def plot(result: Result, fig) -> None:
    """Left: the pooled |w|-curvature points; right: each knob's |w| and c."""
    s = result.series
    labels = {"lr": "learning rate", "width": "hidden width", "l2": "L2 (weight decay)"}
    axes = fig.subplots(1, 4)
    plot_pooled(axes[0], result, KNOBS, labels)
    axes[0].set_xlabel("mean weight norm |w|", fontsize="small")
    for ax, knob in zip(axes[1:], KNOBS):
        v = s[f"{knob}_values"]
        ax.plot(v, s[f"{knob}_curvature"], "o-", color="C0")
        if np.all(v > 0):
            ax.set_xscale("log")
            ax.minorticks_off()
        ticks = [f"{x:g}" for x in v]
        if knob == "width":
            ticks = [f"{x:g}\nP={p:.0f}" for x, p in zip(v, s["width_n_params"])]
        ax.set_xticks(v, ticks, rotation=45, fontsize="x-small")
        ax.set_xlabel(labels[knob], fontsize="small")
        ax.set_ylabel("curvature c", color="C0", fontsize="small")
        twin = ax.twinx()
        twin.plot(v, s[f"{knob}_radius"], "s--", color="C3")
        twin.set_ylabel("|w|", color="C3", fontsize="small")
        ax.set_title(f"{knob}: rho(c) = {result.metrics[f'{knob}_rho_curvature']:+.2f}",
                     fontsize="small")
