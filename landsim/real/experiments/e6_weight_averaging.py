"""E6 on trained networks: SWA within one run against averaging independent optima.

The toy claim (:mod:`landsim.experiments.e6_weight_averaging`): weight averaging works
only while the averaged solutions stay in one wedge; the average of optima from different
wedges lands between them, at high loss. Here ``n_runs`` MLPs are trained independently
(network i of the run: its own initialisation and minibatch order, seed
:func:`~landsim.real.experiments._setup.network_seed`) with ``optimizer`` (momentum SGD)
at ``lr`` for ``epochs`` epochs, then continue for ``swa_epochs`` epochs at the SWA
learning rate (``swa_schedule`` "constant" at ``swa_lr``, or "cyclic" from ``swa_lr`` down
to ``swa_lr_min`` within every epoch, Izmailov et al. 2018), keeping a snapshot at the end
of every SWA epoch (:func:`landsim.real.train.train` with ``keep_snapshots``).

Measured (training loss in nats, accuracies on the held-out test split; batch-norm
networks get their statistics recomputed at every averaged point with
:func:`torch.optim.swa_utils.update_bn`):

- each run's *SWA average*: the mean of its snapshots, accumulated with
  :class:`torch.optim.swa_utils.AveragedModel` (:func:`swa_average`), against its
  snapshots;
- the *average of independent optima*: the mean of the runs' final weights (one optimum
  per run; independent runs end in different wedges);
- the *ensemble* of the final networks (mean of their softmax outputs) and the prediction
  disagreement between them (fraction of test samples on which two nets' arg-max differ,
  per pair).

The claim holds when, for every run, the SWA average has training loss <= the mean
training loss of its snapshots or test accuracy >= their mean test accuracy, and the
average of independent optima has training loss >= ``high_loss_fraction`` x L0, L0 the
mean training loss at the runs' initialisations (it lost most of what training gained).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..._checks import choice, int_at_least, real_in
from ...experiments._common import Progress, Timer, report
from ...results import Result, Verdict, make_result
from .. import flat, train
from ._setup import NetworkConfig, load_dataset, model_spec, network_seed, train_config

ID = "E6"
TITLE = "SWA against averaging independent optima"
CLAIM = ("Weight averaging (SWA) works only when the averaged solutions stay in one wedge: "
         "averaging the snapshots of one run helps, averaging independently trained optima "
         "gives a bad network, while ensembling them works (Fort & Jastrzebski 2019).")

SCHEDULES = ("constant", "cyclic")


@dataclass(frozen=True)
class Config(NetworkConfig):
    batchnorm: bool = False  # batch norm after each hidden layer (then update_bn at averages)
    n_runs: int = 4  # independent runs (each gives one optimum and one SWA average)
    swa_schedule: str = "constant"  # "constant" or "cyclic" (one cycle per epoch)
    swa_lr: float = 0.05  # SWA learning rate (peak of the cyclic schedule)
    swa_lr_min: float = 0.005  # lowest cyclic rate (snapshots are taken there)
    swa_epochs: int = 10  # SWA epochs = snapshots per run
    high_loss_fraction: float = 0.25  # verdict: independent average loss >= this x L0

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("swa_schedule", self.swa_schedule, SCHEDULES)
        int_at_least("n_runs", self.n_runs, 2)
        int_at_least("swa_epochs", self.swa_epochs, 2)
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be a bool, got {self.batchnorm!r}")
        for name in ("swa_lr", "high_loss_fraction"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("swa_lr_min", self.swa_lr_min, 0.0, self.swa_lr, high_open=False)


def quick_config() -> Config:
    return Config(n_runs=3, epochs=15, swa_epochs=8)


def smoke_config() -> Config:
    return Config(n_train=300, width=16, depth=1, n_runs=2, lr=0.1, epochs=6, swa_lr=0.1,
                  swa_epochs=4)


#: Added to a network's seed for the minibatch order of its SWA phase.
SWA_SEED_OFFSET = 10**6


def swa_average(fm: flat.FlatModel, snapshots: torch.Tensor) -> torch.Tensor:
    """The SWA average of snapshots, with :class:`torch.optim.swa_utils.AveragedModel`.

    Parameters
    ----------
    fm : FlatModel
        Gives the network; it is not modified.
    snapshots : Tensor, shape (S, P)

    Returns
    -------
    Tensor, shape (P,)
        Equal to ``snapshots.mean(0)`` up to rounding (a running mean).
    """
    module = copy.deepcopy(fm.model)
    holder = flat.FlatModel(module, fm.device)
    averaged = torch.optim.swa_utils.AveragedModel(module)
    for snap in snapshots:
        holder.set_flat(snap)
        averaged.update_parameters(module)
    return torch.cat([p.detach().reshape(-1) for p in averaged.module.parameters()])


@torch.no_grad()
def _probabilities(fm: flat.FlatModel, flats: torch.Tensor, x: torch.Tensor,
                   bn_x: torch.Tensor) -> torch.Tensor:
    """Softmax outputs (T, N, K) of T points on inputs x (N, ...)."""
    out = []
    for w in flats:
        bufs = fm.bn_buffers(w, bn_x) if fm.has_batchnorm else None
        out.append(F.softmax(fm.logits(w, x, bufs).double(), dim=-1))
    return torch.stack(out)


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    ds = load_dataset(cfg, seed)
    pre = train_config(cfg)
    swa = train_config(cfg, lr=cfg.swa_lr, epochs=cfg.swa_epochs, schedule=cfg.swa_schedule,
                       lr_min=cfg.swa_lr_min if cfg.swa_schedule == "cyclic" else 0.0,
                       keep_snapshots=True)
    spec = replace(model_spec(cfg), batchnorm=cfg.batchnorm)
    seeds = [network_seed(seed, i) for i in range(cfg.n_runs)]
    snaps, averages, inits = [], [], []
    fm = None
    deviation = 0.0
    for i, s in enumerate(seeds):
        report(progress, 0.8 * i / cfg.n_runs, f"run {i + 1} of {cfg.n_runs}")
        fm = flat.FlatModel(spec.build(ds.input_shape, ds.n_classes, s), cfg.device)
        with timer("training"):
            first = train.train(fm, ds, pre, seed=s)
            second = train.train(fm, ds, swa, seed=s + SWA_SEED_OFFSET, init=first.flat)
        with timer("averaging"):
            avg = swa_average(fm, second.snapshots)
        deviation = max(deviation, float((avg.cpu() - second.snapshots.mean(0)).abs().max()))
        inits.append(first.init)
        snaps.append(second.snapshots)
        averages.append(avg.cpu())
    k, S = cfg.n_runs, cfg.swa_epochs
    snap = torch.stack(snaps)  # (k, S, P)
    finals = snap[:, -1]  # (k, P) one optimum per run
    cross = finals.mean(0, keepdim=True)  # (1, P)
    report(progress, 0.8, "evaluating the averages and the ensemble")
    with timer("evaluation"):
        points = torch.cat([snap.reshape(k * S, -1), torch.stack(averages), cross,
                            torch.stack(inits)])
        tr, te = flat.evaluate_splits(fm, points, ds)
        data = ds.to(fm.device)
        p_tr = _probabilities(fm, finals, data.x_train, data.x_train)  # (k, N, K)
        p_te = _probabilities(fm, finals, data.x_test, data.x_train)
    n_s = k * S
    parts = {}
    for split, ev in (("train", tr), ("test", te)):
        for q in ("loss", "accuracy"):
            v = getattr(ev, q)
            parts[f"snapshot_{split}_{q}"] = v[:n_s].reshape(k, S)
            parts[f"swa_{split}_{q}"] = v[n_s:n_s + k]
            parts[f"cross_{split}_{q}"] = v[n_s + k:n_s + k + 1]
    init_loss = tr.loss[n_s + k + 1:]
    for split, p, yv in (("train", p_tr, data.y_train), ("test", p_te, data.y_test)):
        mean_p = p.mean(0)  # (N, K)
        parts[f"ensemble_{split}_loss"] = np.array([float(
            F.nll_loss(mean_p.clamp_min(1e-300).log(), yv))])
        parts[f"ensemble_{split}_accuracy"] = np.array([float(
            (mean_p.argmax(-1) == yv).double().mean())])
    pred = p_te.argmax(-1)  # (k, N_test)
    disagree = np.zeros((k, k))
    for a, b in itertools.combinations(range(k), 2):
        disagree[a, b] = disagree[b, a] = float((pred[a] != pred[b]).double().mean())
    series = {**parts, "init_train_loss": init_loss, "disagreement": disagree}
    verdict, metrics = judge(cfg, series)
    metrics["swa_mean_deviation"] = deviation
    metrics["n_params"] = float(fm.n_params)
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def judge(cfg: Config, s: dict) -> tuple[Verdict, dict[str, float]]:
    """The verdict and its metrics from the stored series ``s`` (see :func:`run`)."""
    snap_loss = s["snapshot_train_loss"].mean(axis=1)  # (k,) per run
    snap_acc = s["snapshot_test_accuracy"].mean(axis=1)
    swa_loss, swa_acc = s["swa_train_loss"], s["swa_test_accuracy"]
    better = (swa_loss <= snap_loss) | (swa_acc >= snap_acc)
    l0 = float(np.mean(s["init_train_loss"]))
    high = cfg.high_loss_fraction * l0
    cross_loss = float(s["cross_train_loss"][0])
    k = swa_loss.size
    pairs = s["disagreement"][np.triu_indices(k, 1)]
    holds = bool(better.all() and cross_loss >= high)
    final_acc = s["snapshot_test_accuracy"][:, -1]
    verdict = Verdict(
        holds=holds,
        rule=f"every run's SWA average has training loss <= its snapshots' mean or test "
             f"accuracy >= their mean, and the average of the independent optima has "
             f"training loss >= {cfg.high_loss_fraction:g} L0 (L0 = mean loss at "
             f"initialisation = {l0:.3g}, so >= {high:.3g})",
        evidence=f"{int(better.sum())}/{k} SWA averages do at least as well as their "
                 f"snapshots (training loss {swa_loss.min():.3g} .. {swa_loss.max():.3g} "
                 f"against snapshot means {snap_loss.min():.3g} .. {snap_loss.max():.3g}; "
                 f"test accuracy {swa_acc.min():.3f} .. {swa_acc.max():.3f} against "
                 f"{snap_acc.min():.3f} .. {snap_acc.max():.3f}); the average of the {k} "
                 f"independent optima has training loss {cross_loss:.3g} and test accuracy "
                 f"{s['cross_test_accuracy'][0]:.3f}, while their ensemble reaches test "
                 f"accuracy {s['ensemble_test_accuracy'][0]:.3f} (single nets "
                 f"{final_acc.min():.3f} .. {final_acc.max():.3f}; they disagree on "
                 f"{pairs.mean():.3f} of the test samples on average).")
    metrics = {
        "init_loss": l0, "high_loss_threshold": high,
        "swa_train_loss_max": float(swa_loss.max()),
        "swa_train_loss_mean": float(swa_loss.mean()),
        "snapshot_train_loss_mean": float(snap_loss.mean()),
        "swa_loss_gain_min": float(np.min(snap_loss - swa_loss)),
        "swa_test_accuracy_mean": float(swa_acc.mean()),
        "snapshot_test_accuracy_mean": float(snap_acc.mean()),
        "optimum_test_accuracy_mean": float(final_acc.mean()),
        "runs_swa_at_least_as_good": float(better.sum()),
        "cross_train_loss": cross_loss,
        "cross_train_accuracy": float(s["cross_train_accuracy"][0]),
        "cross_test_accuracy": float(s["cross_test_accuracy"][0]),
        "ensemble_test_accuracy": float(s["ensemble_test_accuracy"][0]),
        "ensemble_test_loss": float(s["ensemble_test_loss"][0]),
        "disagreement_mean": float(pairs.mean()),
    }
    return verdict, metrics


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    ax1, ax2 = fig.subplots(1, 2)
    k, S = s["snapshot_train_loss"].shape
    runs = np.arange(k)
    jitter = np.linspace(-0.25, 0.25, S)
    xs = (runs[:, None] + jitter[None, :]).ravel()
    for ax, key, label in ((ax1, "train_loss", "training loss (nats)"),
                           (ax2, "test_accuracy", "test accuracy")):
        ax.scatter(xs, s[f"snapshot_{key}"].ravel(), s=8, color="0.6",
                   label="snapshots of the run")
        ax.scatter(runs + 0.25, s[f"snapshot_{key}"][:, -1], marker="x", s=30, color="k",
                   zorder=3, label="final optimum of the run")
        ax.scatter(runs, s[f"swa_{key}"], marker="D", s=34, color="C0", zorder=4,
                   label="SWA average of the run")
        ax.axhline(s[f"cross_{key}"][0], color="C3", ls="--",
                   label="average of the independent optima")
        ax.axhline(s[f"ensemble_{key}"][0], color="C2", ls="-.",
                   label="ensemble of the independent optima")
        ax.set_xticks(runs, [str(i) for i in runs])
        ax.set_xlabel("independent run")
        ax.set_ylabel(label)
    ax1.axhline(m["high_loss_threshold"], color="C3", lw=0.8, ls=":",
                label="high-loss threshold")
    ax1.set_yscale("log")
    ax1.set_title("Training loss")
    ax2.set_title(f"Test accuracy (nets disagree on {m['disagreement_mean']:.1%})")
    ax1.legend(fontsize="x-small")
