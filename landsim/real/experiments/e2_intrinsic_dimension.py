"""E2 on real networks: training in random low-dimensional subspaces works.

Li et al. (2018) train a network only inside a random affine subspace of its weight
space, w = w0 + P z with P a fixed random P_total x d matrix, and call the smallest d that
reaches 90 % of the full-space result its intrinsic dimension d_int90. Fort & Jastrzebski
(2019) read a d_int90 far below the parameter count as evidence that the low-loss set is
high-dimensional: a random d-dimensional subspace meets an n-dimensional set once
d + n >= D, so d_int90 ~ D - n, the number of short directions (toy E2; docs/claims.md,
section E2).

Measurement. One MLP is initialised and trained in full space with the config's optimiser
(network stream of :mod:`._setup`); its accuracy on the ``metric`` split (training by
default) is the reference. From the same initialisation w0 the network is trained in
random subspaces of every d in ``dims`` (and d = P when ``include_full``), ``n_runs`` runs
per d, with :func:`landsim.real.subspace.train_subspace` (dense orthonormal P up to 2^24
entries, sparse beyond). Run r at dimension d draws its projection and its minibatch order
from its own child (d, r) of child 2 of the run's sequence, so the draws of one d do not
depend on the rest of the grid. The statistic is the *gain over chance*
g(d) = (mean accuracy(d) - c) / (full-space accuracy - c), with c the accuracy of the
constant predictor (the frequency of the most frequent training label).

Rule (:func:`verdict_of`). The claim holds when the full-space run learned its task
(full-space accuracy - c >= ``min_full_gain``) and the largest g(d) over the grid's
d <= ``max_ratio`` x P is >= ``fraction`` (0.9), i.e. d_int90 exists and is at most
P / 10 ("much smaller" than the parameter count, fixed before any run). The gain at d = P
is reported: with an orthonormal P_total x P projection, subspace training is full-space
training in rotated coordinates, so it should be ~ 1 (a check of the measurement, not part
of the claim).

Control (:func:`control_config`): ``permute_labels = True``, the same network,
initialisation, optimiser, epochs and grid, trained (in full space and in every subspace)
and judged on the training labels randomly permuted among the training samples (child 3 of
the run's sequence). Memorising random labels has no low-dimensional structure to find:
the number of free parameters it needs grows with the number of samples, so a subspace of
P / 10 dimensions reaches a small part of what full space does and the rule must fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..._checks import choice, int_at_least, real_in
from ...experiment_kit import Progress, Timer, report
from ...results import Result, Verdict, make_result
from ...seeding import SeedLike, children, int_seed
from .. import subspace
from ._setup import (
    NetworkConfig,
    load_dataset,
    permuted_labels,
    train_config,
    train_networks,
    trajectory_series,
)

ID = "E2"
TITLE = "Intrinsic dimension"
CLAIM = ("Training in random low-dimensional subspaces works: the solution manifold is "
         "high-dimensional (Li et al. 2018; Fort & Jastrzebski 2019).")
CONTROL = ("The same network trained (in full space and in every subspace) on randomly "
           "permuted training labels: memorising random labels needs a number of free "
           "parameters that grows with the samples, so a subspace of P / 10 dimensions "
           "cannot reach 90% of the full-space gain over chance and the rule must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("fraction", "max_ratio", "metric", "min_full_gain")
#: Aggregated over replicates; the first is the judged statistic.
KEY_METRICS = ("best_gain_within_limit", "d_int_ratio", "full_gain", "full_accuracy",
               "gain_at_full_d")
#: Children of the run's sequence: 0 data split, 1 networks (:mod:`._setup`), then these.
_SUBSPACE_CHILD, _PERMUTATION_CHILD = 2, 3


@dataclass(frozen=True)
class Config(NetworkConfig):
    optimizer: str = "adam"  # for the full-space and every subspace run
    lr: float = 0.01
    dims: tuple = (25, 50, 100, 150, 200, 300, 400, 600, 800)  # subspace dimensions
    include_full: bool = True  # also train at d = P (the rotated full space)
    n_runs: int = 2  # runs (projections and minibatch orders) per d
    fraction: float = 0.9  # rule: d_int = smallest d with gain over chance >= this
    metric: str = "train"  # rule: split whose accuracy is compared: train | test
    projection: str = "auto"  # dense | sparse | auto
    max_ratio: float = 0.1  # rule: d_int90 <= this x the parameter count P
    min_full_gain: float = 0.2  # rule: full-space accuracy - chance >= this
    permute_labels: bool = False  # control: train and judge on permuted training labels

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.dims, (tuple, list)) or not self.dims:
            raise ValueError(f"dims must be a non-empty tuple of integers >= 1, got "
                             f"{self.dims!r}")
        object.__setattr__(self, "dims", tuple(sorted({int_at_least("dims entry", d, 1)
                                                       for d in self.dims})))
        for name in ("include_full", "permute_labels"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        int_at_least("n_runs", self.n_runs, 1)
        real_in("fraction", self.fraction, 0.0, 1.0, low_open=True, high_open=False)
        choice("metric", self.metric, ("train", "test"))
        choice("projection", self.projection, subspace.PROJECTION_KINDS)
        real_in("max_ratio", self.max_ratio, 0.0, 1.0, low_open=True, high_open=False)
        real_in("min_full_gain", self.min_full_gain, 0.0, 1.0, high_open=False)


def quick_config() -> Config:
    """One run per d on a coarser grid."""
    return Config(epochs=15, dims=(25, 50, 100, 200, 300, 400, 800), n_runs=1)


def smoke_config() -> Config:
    """A small network (P = 610) on 300 samples (a few seconds; what CI runs)."""
    return Config(n_train=300, width=8, depth=1, epochs=10, dims=(20, 50, 100, 200),
                  n_runs=1)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: the same run on permuted training labels."""
    return dataclasses.replace(config, permute_labels=True)


def grid(cfg: Config, n_params: int) -> list[int]:
    """The subspace dimensions measured for a network of ``n_params`` weights.

    ``cfg.dims`` (each must be <= n_params), plus n_params when ``cfg.include_full``.
    """
    too_big = [d for d in cfg.dims if d > n_params]
    if too_big:
        raise ValueError(f"dims must be at most the parameter count P = {n_params}, got "
                         f"{too_big}")
    return sorted(set(cfg.dims) | ({n_params} if cfg.include_full else set()))


def chance_accuracy(labels) -> float:
    """Accuracy of the constant predictor: the frequency of the most frequent label.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64).ravel())
    return float(counts.max() / counts.sum())


def gain_over_chance(accuracy, full_accuracy: float, chance: float) -> np.ndarray:
    """g = (accuracy - chance) / (full_accuracy - chance); NaN where full_accuracy <= chance.

    Parameters
    ----------
    accuracy : array_like, shape (K,)
    full_accuracy, chance : float

    Returns
    -------
    ndarray, shape (K,)
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    span = float(full_accuracy) - float(chance)
    if span <= 0:
        return np.full(acc.shape, np.nan)
    return (acc - chance) / span


def best_gain_within_limit(dims, gain, limit: float) -> float:
    """The largest gain over the dims <= ``limit`` (NaN when none, or all gains NaN).

    Parameters
    ----------
    dims : array_like of int, shape (K,)
    gain : array_like, shape (K,)
    limit : float
    """
    dims, gain = np.asarray(dims), np.asarray(gain, dtype=np.float64)
    inside = gain[(dims <= limit) & np.isfinite(gain)]
    return float(inside.max()) if inside.size else float("nan")


def verdict_of(dims: np.ndarray, accuracy: np.ndarray, full_accuracy: float, chance: float,
               n_params: int, cfg: Config) -> Verdict:
    """The verdict from the grid ``dims`` (K,), accuracies (K, R), the full-space
    accuracy and the chance accuracy (docs/claims.md, E2)."""
    mean = np.asarray(accuracy, dtype=np.float64).mean(axis=1)
    gain = gain_over_chance(mean, full_accuracy, chance)
    limit = cfg.max_ratio * n_params
    best = best_gain_within_limit(dims, gain, limit)
    full_gain = full_accuracy - chance
    learned = full_gain >= cfg.min_full_gain
    d_int = subspace.first_passing(dims, np.nan_to_num(gain, nan=-np.inf) >= cfg.fraction)
    holds = bool(learned and best >= cfg.fraction)
    tag = f"d_int{round(100 * cfg.fraction)}"
    found = (f"{tag} = {d_int} = {d_int / n_params:.3g} x P" if d_int is not None else
             f"no d on the grid reaches it (largest gain {np.nanmax(gain):.3f} at d = "
             f"{int(dims[np.nanargmax(gain)])})" if np.isfinite(gain).any() else
             "no gain can be measured")
    return Verdict(
        holds=holds,
        rule=f"the full-space {cfg.metric} accuracy exceeds chance by >= "
             f"{cfg.min_full_gain:g}, and the largest gain over chance, (accuracy - chance) / "
             f"(full-space accuracy - chance), of the mean {cfg.metric} accuracy over the "
             f"grid's d <= {cfg.max_ratio:g} x P is >= {cfg.fraction:g} (i.e. {tag} exists "
             f"and is <= {cfg.max_ratio:g} x the parameter count P; docs/claims.md, E2)",
        evidence=f"P = {n_params}; full-space {cfg.metric} accuracy {full_accuracy:.3f}, "
                 f"chance {chance:.3f}, gain {full_gain:.3f} "
                 f"({'>=' if learned else '<'} {cfg.min_full_gain:g}); largest gain at "
                 f"d <= {limit:.4g}: {best:.3f}; {found}.")


def _run_seeds(stream: np.random.SeedSequence, d: int, r: int) -> tuple[int, int]:
    """(minibatch seed, projection seed) of run ``r`` at dimension ``d``: the two children
    of child (d, r) of the subspace stream."""
    run_seq = np.random.SeedSequence(stream.entropy,
                                     spawn_key=(*stream.spawn_key, int(d), int(r)),
                                     pool_size=stream.pool_size)
    batches, projection = children(run_seq, 2)
    return int_seed(batches), int_seed(projection)


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    """Gain over chance against the subspace dimension on ``config`` (default
    ``Config()``), judged by :func:`verdict_of`.

    Parameters
    ----------
    config : Config, optional
    seed : int or numpy.random.SeedSequence
        Children 0 (data split) and 1 (network) as in :mod:`._setup`, 2 (subspace runs),
        3 (label permutation of the control).
    progress : callable (fraction, message), optional

    Returns
    -------
    Result
        Series ``dims`` (K,), ``accuracy`` and ``train_loss`` (K, n_runs), ``gain`` (K,),
        and the full-space training curve.
    """
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "loading data")
    streams = children(seed, _PERMUTATION_CHILD + 1)
    ds = load_dataset(cfg, seed)
    if cfg.permute_labels:
        ds = permuted_labels(ds, streams[_PERMUTATION_CHILD])
    with timer("full_space"):
        nets = train_networks(cfg, ds, 1, seed, progress=progress, span=(0.0, 0.05))
    full = nets.runs[0]
    fm, x0 = nets.fm, full.init
    n_params = fm.n_params
    dims = grid(cfg, n_params)
    full_accuracy = full.test_accuracy if cfg.metric == "test" else full.train_accuracy
    labels = ds.y_test if cfg.metric == "test" else ds.y_train
    chance = chance_accuracy(labels.cpu().numpy())
    tc = train_config(cfg)
    acc = np.empty((len(dims), cfg.n_runs))
    loss = np.empty_like(acc)
    with timer("subspaces"):
        for i, d in enumerate(dims):
            report(progress, 0.05 + 0.95 * i / len(dims), f"training in d = {d}")
            for r in range(cfg.n_runs):
                batch_seed, proj_seed = _run_seeds(streams[_SUBSPACE_CHILD], d, r)
                one = subspace.train_subspace(fm, ds, d, tc, batch_seed, x0=x0,
                                              kind=cfg.projection,
                                              projection_seed=proj_seed)
                acc[i, r] = one.test_accuracy if cfg.metric == "test" else one.train_accuracy
                loss[i, r] = one.train_loss
    dims_arr = np.asarray(dims, dtype=np.int64)
    verdict = verdict_of(dims_arr, acc, full_accuracy, chance, n_params, cfg)
    mean = acc.mean(axis=1)
    gain = gain_over_chance(mean, full_accuracy, chance)
    d_int = subspace.first_passing(dims, np.nan_to_num(gain, nan=-np.inf) >= cfg.fraction)
    report(progress, 1.0, "done")
    metrics = {
        "best_gain_within_limit": best_gain_within_limit(dims_arr, gain,
                                                         cfg.max_ratio * n_params),
        "d_int": float("nan") if d_int is None else float(d_int),
        "d_int_ratio": float("nan") if d_int is None else d_int / n_params,
        "full_gain": float(full_accuracy - chance),
        "full_accuracy": float(full_accuracy),
        "chance_accuracy": chance,
        "n_params": float(n_params),
        "full_train_loss": float(full.train_loss),
        "full_test_accuracy": float(full.test_accuracy),
        "threshold_accuracy": float(chance + cfg.fraction * (full_accuracy - chance)),
        "accuracy_at_full_d": float(mean[-1]) if cfg.include_full else float("nan"),
        "gain_at_full_d": float(gain[-1]) if cfg.include_full else float("nan"),
    }
    series = {"dims": dims_arr, "accuracy": acc, "train_loss": loss, "mean_accuracy": mean,
              "gain": gain, **trajectory_series(nets.runs)}
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def plot(result: Result, fig) -> None:
    s, m, c = result.series, result.metrics, result.config
    dims, acc = s["dims"], s["accuracy"]
    ax1, ax2 = fig.subplots(1, 2)
    for r in range(acc.shape[1]):
        ax1.plot(dims, acc[:, r], ".", color="0.6", ms=4, label="runs" if r == 0 else None)
    ax1.plot(dims, s["mean_accuracy"], "o-", ms=4, label="mean over runs")
    ax1.axhline(m["full_accuracy"], color="k", lw=1, label="full-space training")
    ax1.axhline(m["threshold_accuracy"], color="k", ls=":", lw=1,
                label=f"chance + {c['fraction']:g} x gain")
    ax1.axhline(m["chance_accuracy"], color="0.5", ls="-.", lw=1, label="chance")
    ax1.axvline(c["max_ratio"] * m["n_params"], color="r", ls="--", lw=1,
                label=f"{c['max_ratio']:g} x P (verdict limit)")
    if np.isfinite(m["d_int"]):
        ax1.axvline(m["d_int"], color="C2", lw=1.5, label=f"d_int = {int(m['d_int'])}")
    ax1.set_xscale("log")
    ax1.set_xlabel("subspace dimension d")
    ax1.set_ylabel(f"{c['metric']} accuracy")
    labels = "permuted labels" if c.get("permute_labels") else "true labels"
    ax1.set_title(f"Random subspaces (P = {int(m['n_params'])}, {labels})")
    ax1.legend(fontsize="small")
    ax2.loglog(dims, s["train_loss"].mean(axis=1), "o-", ms=4)
    ax2.axhline(m["full_train_loss"], color="k", lw=1, label="full-space training")
    ax2.set_xlabel("subspace dimension d")
    ax2.set_ylabel("final training loss (mean over runs)")
    ax2.set_title("Training loss in the subspace")
    ax2.legend(fontsize="small")
