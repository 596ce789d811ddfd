"""E2 on real networks: training in random low-dimensional subspaces works.

Li et al. (2018) train a network only inside a random affine subspace of its weight
space, w = w0 + P z with P a fixed random P_total x d matrix, and call the smallest d that
reaches 90 % of the full-space accuracy its intrinsic dimension d_int90. Fort & Jastrzebski
(2019) read a d_int90 far below the parameter count as evidence that the low-loss set is
high-dimensional: a random d-dimensional subspace meets an n-dimensional set once
d + n >= D, so d_int90 ~ D - n, the number of short directions (toy E2).

Measurement. One MLP is initialised (seed 1000 seed) and trained in full space with the
config's optimiser (its test accuracy is the reference ``full_accuracy``); then, from
the same initialisation w0, the network is trained in random subspaces of every d in
``dims`` (and d = P when ``include_full``), ``n_runs`` runs per d, with
:func:`landsim.real.subspace.intrinsic_dimension` (dense orthonormal P up to
2^24 entries, sparse beyond; run r at d uses minibatch seed seed + r and projection
seed seed + 1000 r + d). The criterion compares the mean accuracy over the runs on the
``metric`` split (test by default, as Li et al.) with ``fraction`` x full_accuracy.

Verdict. The claim holds when d_int90 exists on the grid and d_int90 <= ``max_ratio`` x P
(default 0.1: "much smaller" read as at least ten times smaller than the parameter count,
fixed before any run). The accuracy at d = P is reported: with an orthonormal P_total x P
projection, subspace training is full-space training in rotated coordinates, so it should
reach the reference accuracy (a check of the measurement, not part of the claim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._checks import choice, int_at_least, real_in
from ...experiments._common import Progress, Timer, report
from ...results import Result, Verdict, make_result
from .. import subspace
from ._setup import NetworkConfig, load_and_train, train_config, trajectory_series

ID = "E2"
TITLE = "Intrinsic dimension"
CLAIM = ("Training in random low-dimensional subspaces works: the solution manifold is "
         "high-dimensional (Li et al. 2018; Fort & Jastrzebski 2019).")


@dataclass(frozen=True)
class Config(NetworkConfig):
    optimizer: str = "adam"  # for the full-space and every subspace run
    lr: float = 0.01
    dims: tuple = (25, 50, 100, 150, 200, 300, 400, 600, 800)  # subspace dimensions
    include_full: bool = True  # also train at d = P (the rotated full space)
    n_runs: int = 2  # runs (projections and minibatch orders) per d
    fraction: float = 0.9  # d_int = smallest d with mean accuracy >= this x full accuracy
    metric: str = "test"  # split whose accuracy is compared: test | train
    projection: str = "auto"  # dense | sparse | auto
    max_ratio: float = 0.1  # verdict: d_int90 <= this x the parameter count P

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.dims, (tuple, list)) or not self.dims:
            raise ValueError(f"dims must be a non-empty tuple of integers >= 1, got "
                             f"{self.dims!r}")
        object.__setattr__(self, "dims", tuple(sorted({int_at_least("dims entry", d, 1)
                                                       for d in self.dims})))
        if not isinstance(self.include_full, bool):
            raise ValueError(f"include_full must be a bool, got {self.include_full!r}")
        int_at_least("n_runs", self.n_runs, 1)
        real_in("fraction", self.fraction, 0.0, 1.0, low_open=True, high_open=False)
        choice("metric", self.metric, ("train", "test"))
        choice("projection", self.projection, subspace.PROJECTION_KINDS)
        real_in("max_ratio", self.max_ratio, 0.0, 1.0, low_open=True, high_open=False)


def quick_config() -> Config:
    """One run per d on a coarser grid (about 15 s on 2 CPU cores)."""
    return Config(epochs=15, dims=(25, 50, 100, 200, 300, 400, 800), n_runs=1)


def smoke_config() -> Config:
    """A small network (P = 610) on 300 samples (a few seconds; what CI runs)."""
    return Config(n_train=300, width=8, depth=1, epochs=10, dims=(20, 50, 100, 200),
                  n_runs=1)


def grid(cfg: Config, n_params: int) -> list[int]:
    """The subspace dimensions measured for a network of ``n_params`` weights.

    ``cfg.dims`` (each must be <= n_params), plus n_params when ``cfg.include_full``.
    """
    too_big = [d for d in cfg.dims if d > n_params]
    if too_big:
        raise ValueError(f"dims must be at most the parameter count P = {n_params}, got "
                         f"{too_big}")
    return sorted(set(cfg.dims) | ({n_params} if cfg.include_full else set()))


def verdict_of(dims: np.ndarray, accuracy: np.ndarray, full_accuracy: float, n_params: int,
               cfg: Config) -> Verdict:
    """The verdict from the grid ``dims`` (K,), accuracies (K, R) and the reference."""
    threshold = cfg.fraction * full_accuracy
    mean = accuracy.mean(axis=1)
    d_int = subspace.first_passing(dims, mean >= threshold)
    limit = cfg.max_ratio * n_params
    holds = d_int is not None and d_int <= limit
    found = (f"d_int{round(100 * cfg.fraction)} = {d_int} = {d_int / n_params:.3g} x P"
             if d_int is not None else
             f"no d on the grid reaches it (best mean accuracy {mean.max():.3f} at d = "
             f"{int(dims[np.argmax(mean)])})")
    return Verdict(
        holds=bool(holds),
        rule=f"d_int{round(100 * cfg.fraction)}, the smallest subspace dimension on the grid "
             f"whose mean {cfg.metric} accuracy is >= {cfg.fraction:g} x the full-space "
             f"accuracy, exists and is <= {cfg.max_ratio:g} x the parameter count P",
        evidence=f"P = {n_params}; full-space {cfg.metric} accuracy {full_accuracy:.3f}, "
                 f"target {threshold:.3f}; {found}; the limit is {limit:.4g}.")


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    ds, nets = load_and_train(cfg, 1, seed, timer, progress=progress, span=(0.0, 0.05),
                              label="full_space")
    full = nets.runs[0]
    fm, x0 = nets.fm, full.init
    n_params = fm.n_params
    dims = grid(cfg, n_params)
    full_accuracy = full.test_accuracy if cfg.metric == "test" else full.train_accuracy
    tc = train_config(cfg)
    acc = np.empty((len(dims), cfg.n_runs))
    loss = np.empty_like(acc)
    with timer("subspaces"):
        for i, d in enumerate(dims):
            report(progress, 0.05 + 0.95 * i / len(dims), f"training in d = {d}")
            # one d at a time (for progress); the seeds do not depend on the rest of the grid
            one = subspace.intrinsic_dimension(
                fm, ds, [d], tc, seed, full_accuracy=full_accuracy, fraction=cfg.fraction,
                metric=cfg.metric, n_runs=cfg.n_runs, kind=cfg.projection, x0=x0)
            acc[i], loss[i] = one.accuracy[0], one.train_loss[0]
    dims_arr = np.asarray(dims, dtype=np.int64)
    verdict = verdict_of(dims_arr, acc, full_accuracy, n_params, cfg)
    mean = acc.mean(axis=1)
    d_int = subspace.first_passing(dims, mean >= cfg.fraction * full_accuracy)
    report(progress, 1.0, "done")
    metrics = {
        "n_params": float(n_params),
        "full_accuracy": float(full_accuracy),
        "full_train_loss": float(full.train_loss),
        "full_test_accuracy": float(full.test_accuracy),
        "threshold_accuracy": float(cfg.fraction * full_accuracy),
        "d_int": float("nan") if d_int is None else float(d_int),
        "d_int_ratio": float("nan") if d_int is None else d_int / n_params,
        "accuracy_at_full_d": float(mean[-1]) if cfg.include_full else float("nan"),
    }
    series = {"dims": dims_arr, "accuracy": acc, "train_loss": loss, "mean_accuracy": mean,
              **trajectory_series(nets.runs)}
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
                label=f"{c['fraction']:g} x full")
    ax1.axvline(c["max_ratio"] * m["n_params"], color="r", ls="--", lw=1,
                label=f"{c['max_ratio']:g} x P (verdict limit)")
    if np.isfinite(m["d_int"]):
        ax1.axvline(m["d_int"], color="C2", lw=1.5, label=f"d_int = {int(m['d_int'])}")
    ax1.set_xscale("log")
    ax1.set_xlabel("subspace dimension d")
    ax1.set_ylabel(f"{c['metric']} accuracy")
    ax1.set_title(f"Training in random subspaces (P = {int(m['n_params'])})")
    ax1.legend(fontsize="small")
    ax2.loglog(dims, s["train_loss"].mean(axis=1), "o-", ms=4)
    ax2.axhline(m["full_train_loss"], color="k", lw=1, label="full-space training")
    ax2.set_xlabel("subspace dimension d")
    ax2.set_ylabel("final training loss (mean over runs)")
    ax2.set_title("Training loss in the subspace")
    ax2.legend(fontsize="small")
