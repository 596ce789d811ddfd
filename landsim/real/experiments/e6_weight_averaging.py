"""E6 on trained networks: SWA within a run, averaging independent runs, their ensemble.

The toy claim (:mod:`landsim.experiments.e6_weight_averaging`; docs/claims.md, E6): weight
averaging works only while the averaged solutions stay in one wedge; the average of optima
from different wedges leaves the low-loss set. On networks the claim adds that ensembling
independent runs works where averaging their weights does not.

Measurement. ``n_runs`` MLPs are trained independently (network i: initialisation and
minibatch order from :func:`~landsim.real.experiments._setup.network_seed`, the data split
from the run's data stream) with ``optimizer`` at ``lr`` for ``epochs`` epochs, then
continue for ``swa_epochs`` epochs at the SWA learning rate (``swa_schedule`` "constant"
at ``swa_lr``, or "cyclic" from ``swa_lr`` down to ``swa_lr_min`` within every epoch,
Izmailov et al. 2018; minibatch order from child 2 of the run's seed), keeping a snapshot
at the end of every SWA epoch. An *averaged set* i is ``swa_epochs`` snapshots, snapshot j
from run ``set_runs[i, j]``, and its *average* is accumulated with
:class:`torch.optim.swa_utils.AveragedModel` (:func:`swa_average`). Measured (training
loss in nats, accuracies on the held-out test split; batch-norm networks get their
statistics recomputed at every point with :func:`torch.optim.swa_utils.update_bn`): every
snapshot and every average; the *independent average*, the mean of the runs' final
weights; the *ensemble* of the final networks (mean of their softmax outputs); the
prediction disagreement of every pair of final networks.

Rule (:func:`judge`), L0 the mean training loss at the runs' initialisations and f =
``low_loss_fraction``, each part on its own: (0) every set's mean snapshot training loss is
< f L0 (the snapshots are solutions); (1) every set's *SWA excess*
[L(average) - mean L(snapshots)] / L0 is <= ``swa_tolerance`` (SWA within a run works);
(2) the independent average has training loss >= f L0 (averaging independent runs fails);
(3) the ensemble's test accuracy minus its members' mean test accuracy is >=
``min_ensemble_gain`` (ensembling independent runs works).

Control (``snapshot_source="hopping"``, :func:`control_config`). The same networks and
snapshots; set i takes its j-th snapshot from run (i + j) mod n_runs, so it averages the
weights of independent runs (different basins) instead of snapshots of one run. The
average of independently trained networks is a bad network, so part (1) must fail.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from ..._checks import choice, int_at_least, real_in
from ...analysis import SNAPSHOT_SOURCES, gather_sets, set_runs, swa_excess
from ...experiment_kit import Progress, Timer, report
from ...results import Result, Verdict, make_result
from ...seeding import SeedLike, children, int_seed
from .. import flat, train
from ._setup import NetworkConfig, load_dataset, model_spec, network_seed, train_config

ID = "E6"
TITLE = "SWA, averaging independent runs, ensembling"
CLAIM = ("Weight averaging (SWA) works only when the averaged solutions stay in one wedge: "
         "averaging the snapshots of one run is no worse than the snapshots, averaging "
         "independently trained optima gives a bad network, while ensembling them works "
         "(Fort & Jastrzebski 2019).")
CONTROL = ("Each averaged set takes its consecutive snapshots from different independently "
           "trained runs, so it averages the weights of independent runs (different "
           "basins) instead of snapshots of one run: the average is a bad network and the "
           "SWA part of the rule must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("low_loss_fraction", "swa_tolerance", "min_ensemble_gain")
#: Aggregated over replicates; the first is the judged SWA statistic.
KEY_METRICS = ("swa_excess_max", "ensemble_gain", "cross_loss_rel", "snapshot_loss_rel_max",
               "swa_test_gain_mean", "disagreement_mean")

SCHEDULES = ("constant", "cyclic")
#: Child of the run's seed that orders the minibatches of the SWA phases (children 0 and 1
#: are the data split and the networks, :func:`._setup.run_sequences`).
SWA_STREAM = 2


@dataclass(frozen=True)
class Config(NetworkConfig):
    batchnorm: bool = False  # batch norm after each hidden layer (then update_bn at averages)
    n_runs: int = 4  # independent runs (each gives one optimum and one SWA average)
    swa_schedule: str = "constant"  # "constant" or "cyclic" (one cycle per epoch)
    swa_lr: float = 0.05  # SWA learning rate (peak of the cyclic schedule)
    swa_lr_min: float = 0.005  # lowest cyclic rate (snapshots are taken there)
    swa_epochs: int = 10  # SWA epochs = snapshots per run
    low_loss_fraction: float = 0.25  # rule: the low-loss set is {training loss < this x L0}
    swa_tolerance: float = 0.0  # rule: SWA excess (fraction of L0) <= this
    min_ensemble_gain: float = 0.0  # rule: ensemble minus mean member test accuracy >= this
    snapshot_source: str = "one_run"  # "one_run" (claim) | "hopping" (control)

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("swa_schedule", self.swa_schedule, SCHEDULES)
        int_at_least("n_runs", self.n_runs, 2)
        int_at_least("swa_epochs", self.swa_epochs, 2)
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be a bool, got {self.batchnorm!r}")
        for name in ("swa_lr", "low_loss_fraction"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("swa_lr_min", self.swa_lr_min, 0.0, self.swa_lr, high_open=False)
        real_in("swa_tolerance", self.swa_tolerance, 0.0)
        real_in("min_ensemble_gain", self.min_ensemble_gain, -1.0, 1.0, high_open=False)
        choice("snapshot_source", self.snapshot_source, SNAPSHOT_SOURCES)


def quick_config() -> Config:
    return Config(n_runs=3, epochs=15, swa_epochs=8)


def smoke_config() -> Config:
    return Config(n_train=300, width=16, depth=1, n_runs=2, lr=0.1, epochs=6, swa_lr=0.1,
                  swa_epochs=4)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: consecutive snapshots of each averaged set come
    from different independent runs (``snapshot_source="hopping"``); nothing else
    changes."""
    return dataclasses.replace(config, snapshot_source="hopping")


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


def ensemble_gain(member_probabilities: torch.Tensor, labels: torch.Tensor
                  ) -> tuple[float, float, float]:
    """Accuracy of the ensemble (mean softmax) against the mean accuracy of its members.

    Parameters
    ----------
    member_probabilities : Tensor, shape (k, N, K)
        Softmax outputs of k networks on N samples.
    labels : Tensor of int, shape (N,)

    Returns
    -------
    (gain, ensemble_accuracy, mean_member_accuracy) : tuple of float
        gain = ensemble_accuracy - mean_member_accuracy.
    """
    ens = float((member_probabilities.mean(0).argmax(-1) == labels).double().mean())
    members = float((member_probabilities.argmax(-1) == labels).double().mean())
    return ens - members, ens, members


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    ds = load_dataset(cfg, seed)
    pre = train_config(cfg)
    swa = train_config(cfg, lr=cfg.swa_lr, epochs=cfg.swa_epochs, schedule=cfg.swa_schedule,
                       lr_min=cfg.swa_lr_min if cfg.swa_schedule == "cyclic" else 0.0,
                       keep_snapshots=True)
    spec = replace(model_spec(cfg), batchnorm=cfg.batchnorm)
    k, S = cfg.n_runs, cfg.swa_epochs
    swa_seeds = [int_seed(c) for c in children(children(seed, SWA_STREAM + 1)[SWA_STREAM], k)]
    snaps, inits = [], []
    fm = None
    for i in range(k):
        report(progress, 0.8 * i / k, f"run {i + 1} of {k}")
        s = network_seed(seed, i)
        fm = flat.FlatModel(spec.build(ds.input_shape, ds.n_classes, s), cfg.device)
        with timer("training"):
            first = train.train(fm, ds, pre, seed=s)
            second = train.train(fm, ds, swa, seed=swa_seeds[i], init=first.flat)
        inits.append(first.init)
        snaps.append(second.snapshots)
    snap = torch.stack(snaps)  # (k, S, P)
    runs = set_runs(k, S, cfg.snapshot_source)  # (k, S)
    members = snap[torch.as_tensor(runs), torch.arange(S)[None, :]]  # (k, S, P)
    with timer("averaging"):
        averages = torch.stack([swa_average(fm, members[i]).cpu() for i in range(k)])
    deviation = float((averages - members.mean(1)).abs().max())
    finals = snap[:, -1]  # (k, P) one optimum per run
    cross = finals.mean(0, keepdim=True)  # (1, P)
    report(progress, 0.8, "evaluating the averages and the ensemble")
    with timer("evaluation"):
        points = torch.cat([snap.reshape(k * S, -1), averages, cross, torch.stack(inits)])
        tr, te = flat.evaluate_splits(fm, points, ds)
        data = ds.to(fm.device)
        p_te = _probabilities(fm, finals, data.x_test, data.x_train)  # (k, N_test, K)
    n_s = k * S
    series = {"set_runs": runs}
    for split, ev in (("train", tr), ("test", te)):
        for q in ("loss", "accuracy"):
            v = getattr(ev, q)
            series[f"snapshot_{split}_{q}"] = v[:n_s].reshape(k, S)
            series[f"average_{split}_{q}"] = v[n_s:n_s + k]
            series[f"cross_{split}_{q}"] = v[n_s + k:n_s + k + 1]
    series["init_train_loss"] = tr.loss[n_s + k + 1:]
    y_test = data.y_test
    _, ens_acc, _ = ensemble_gain(p_te, y_test)
    series["ensemble_test_accuracy"] = np.array([ens_acc])
    series["ensemble_test_loss"] = np.array([float(
        F.nll_loss(p_te.mean(0).clamp_min(1e-300).log(), y_test))])
    series["member_test_accuracy"] = (p_te.argmax(-1) == y_test).double().mean(1).cpu().numpy()
    pred = p_te.argmax(-1)  # (k, N_test)
    disagree = np.zeros((k, k))
    for a, b in itertools.combinations(range(k), 2):
        disagree[a, b] = disagree[b, a] = float((pred[a] != pred[b]).double().mean())
    series["disagreement"] = disagree
    verdict, metrics = judge(cfg, series)
    metrics["swa_mean_deviation"] = deviation
    metrics["n_params"] = float(fm.n_params)
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def judge(cfg: Config, s: dict) -> tuple[Verdict, dict[str, float]]:
    """The rule of docs/claims.md (E6, real) on the stored series ``s`` of :func:`run`.

    Parameters
    ----------
    cfg : Config
    s : dict of str to ndarray
        ``set_runs`` (k, S); ``snapshot_train_loss``, ``snapshot_test_accuracy`` (k, S) per
        run; ``average_train_loss``, ``average_test_accuracy`` (k,) per averaged set;
        ``cross_train_loss`` (1,); ``init_train_loss`` (k,); ``ensemble_test_accuracy``
        (1,); ``member_test_accuracy`` (k,) of the final networks; ``disagreement`` (k, k).

    Returns
    -------
    (Verdict, dict of str to float)
    """
    l0 = float(np.mean(s["init_train_loss"]))
    runs = s["set_runs"]
    member_loss = gather_sets(s["snapshot_train_loss"], runs)  # (k, S)
    member_test = gather_sets(s["snapshot_test_accuracy"], runs)
    level = cfg.low_loss_fraction * l0
    snapshot_rel = member_loss.mean(axis=1) / l0  # (k,)
    excess = swa_excess(s["average_train_loss"], member_loss, l0)
    swa_test_gain = s["average_test_accuracy"] - member_test.mean(axis=1)
    cross_loss = float(s["cross_train_loss"][0])
    member_acc = np.asarray(s["member_test_accuracy"], dtype=np.float64)
    ens_acc = float(s["ensemble_test_accuracy"][0])
    gain = ens_acc - float(member_acc.mean())
    k = excess.size
    pairs = s["disagreement"][np.triu_indices(s["disagreement"].shape[0], 1)]
    solutions = bool(np.all(snapshot_rel < cfg.low_loss_fraction))
    swa_ok = excess <= cfg.swa_tolerance
    across = cross_loss >= level
    ensembling = gain >= cfg.min_ensemble_gain
    holds = bool(solutions and np.all(swa_ok) and across and ensembling)
    verdict = Verdict(
        holds=holds,
        rule=f"with L0 = {l0:.3g} the mean training loss at initialisation and the "
             f"low-loss set training loss < {cfg.low_loss_fraction:g} L0 = {level:.3g}, each "
             f"part on its own: (0) every averaged set's mean snapshot training loss is in "
             f"the low-loss set; (1) every set's average has training loss - mean snapshot "
             f"training loss <= {cfg.swa_tolerance:g} L0; (2) the average of the "
             f"independent optima has training loss >= {level:.3g}; (3) their ensemble's "
             f"test accuracy - its members' mean >= {cfg.min_ensemble_gain:g}",
        evidence=f"(0) mean snapshot training loss of a set up to {snapshot_rel.max():.3g} L0; "
                 f"(1) SWA excess {excess.min():.3g} .. {excess.max():.3g} L0 "
                 f"({int(swa_ok.sum())}/{k} sets within tolerance; test accuracy of the "
                 f"averages minus their snapshots' mean {swa_test_gain.min():+.3f} .. "
                 f"{swa_test_gain.max():+.3f}); (2) the average of the {member_acc.size} "
                 f"independent optima has training loss {cross_loss:.3g} = "
                 f"{cross_loss / l0:.3g} L0 and test accuracy "
                 f"{float(s['cross_test_accuracy'][0]):.3f}; (3) their ensemble reaches test "
                 f"accuracy {ens_acc:.3f} against {member_acc.mean():.3f} for its members "
                 f"({member_acc.min():.3f} .. {member_acc.max():.3f}; gain {gain:+.3f}; they "
                 f"disagree on {pairs.mean():.3f} of the test samples on average).")
    metrics = {
        "swa_excess_max": float(excess.max()), "ensemble_gain": gain,
        "cross_loss_rel": cross_loss / l0, "snapshot_loss_rel_max": float(snapshot_rel.max()),
        "swa_test_gain_mean": float(swa_test_gain.mean()),
        "disagreement_mean": float(pairs.mean()),
        "init_loss": l0, "low_loss_threshold": level,
        "average_train_loss_max": float(np.max(s["average_train_loss"])),
        "snapshot_train_loss_mean": float(member_loss.mean()),
        "average_test_accuracy_mean": float(np.mean(s["average_test_accuracy"])),
        "snapshot_test_accuracy_mean": float(member_test.mean()),
        "optimum_test_accuracy_mean": float(member_acc.mean()),
        "cross_train_loss": cross_loss,
        "cross_test_accuracy": float(s["cross_test_accuracy"][0]),
        "ensemble_test_accuracy": ens_acc,
        "ensemble_test_loss": float(s["ensemble_test_loss"][0]),
        "sets_within_tolerance": float(swa_ok.sum()),
    }
    return verdict, metrics


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    ax1, ax2 = fig.subplots(1, 2)
    runs = s["set_runs"]
    k, S = runs.shape
    sets = np.arange(k)
    jitter = np.linspace(-0.25, 0.25, S)
    xs = (sets[:, None] + jitter[None, :]).ravel()
    hopping = result.config.get("snapshot_source") == "hopping"
    for ax, key, label in ((ax1, "train_loss", "training loss (nats)"),
                           (ax2, "test_accuracy", "test accuracy")):
        ax.scatter(xs, gather_sets(s[f"snapshot_{key}"], runs).ravel(), s=8, color="0.6",
                   label="snapshots (hopping between runs)" if hopping
                   else "snapshots of the run")
        ax.scatter(sets + 0.25, s[f"snapshot_{key}"][:, -1], marker="x", s=30, color="k",
                   zorder=3, label="final optimum of run i")
        ax.scatter(sets, s[f"average_{key}"], marker="D", s=34, color="C0", zorder=4,
                   label="average of the set (SWA)")
        ax.axhline(s[f"cross_{key}"][0], color="C3", ls="--",
                   label="average of the independent optima")
        ax.set_xticks(sets, [str(i) for i in sets])
        ax.set_xlabel("averaged set")
        ax.set_ylabel(label)
    ax2.axhline(s["ensemble_test_accuracy"][0], color="C2", ls="-.",
                label="ensemble of the independent optima")
    ax1.axhline(m["low_loss_threshold"], color="k", lw=0.8, ls=":", label="low-loss level")
    ax1.set_yscale("log")
    ax1.set_title("Training loss")
    ax2.set_title(f"Test accuracy (nets disagree on {m['disagreement_mean']:.1%})")
    ax1.legend(fontsize="x-small")
    ax2.legend(fontsize="x-small")
