"""E1 on real networks: no significant obstacle on the line from initialisation to optimum.

Goodfellow, Vinyals & Saxe (2014) evaluated the loss on the straight line from a network's
initial weights w0 to its trained weights w*, gamma(t) = (1 - t) w0 + t w*, and found it
falling without a bump. The wedge model predicts the same (toy E1): the optimum is reached
by moving mostly along long directions.

Measurement. ``n_networks`` MLPs are trained independently (:mod:`._setup`, seeds
1000 seed + i). Along each line, at ``line_points`` evenly spaced t, we evaluate the full
training and test loss and accuracy (:func:`landsim.real.curves.evaluate_path` on a
:class:`~landsim.real.curves.Line`). The *rise* of a profile is the toy's measure,
max_t [L(t) - min_{t' <= t} L(t')] (:func:`landsim.experiments.e1_init_to_optimum.largest_rise`):
0 for a non-increasing profile.

Verdict. The claim holds when every network trained (final training accuracy >=
``min_train_accuracy``) and every *training*-loss rise is <= ``rise_tolerance`` x that
line's start loss (the toy's 1 %). Test-loss rises are reported beside it, not judged: the
test loss may rise near t = 1 through overfitting, which is not an obstacle of the
training landscape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._checks import int_at_least, real_in
from ...experiments._common import Progress, Timer, report
from ...experiments.e1_init_to_optimum import largest_rise
from ...results import Result, Verdict, make_result
from .. import curves
from ._setup import NetworkConfig, load_and_train, trajectory_series

ID = "E1"
TITLE = "Initialisation to optimum"
CLAIM = ("There is no significant obstacle on the straight line from initialisation to "
         "the optimum (Goodfellow et al. 2014).")


@dataclass(frozen=True)
class Config(NetworkConfig):
    epochs: int = 30  # training epochs of each network
    n_networks: int = 5  # independently trained networks (one line each)
    line_points: int = 51  # values of t along each line, 0 and 1 included
    rise_tolerance: float = 0.01  # verdict: training-loss rise <= this x the start loss
    min_train_accuracy: float = 0.9  # verdict: a network counts as trained above this

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("n_networks", self.n_networks, 1)
        int_at_least("line_points", self.line_points, 3)
        real_in("rise_tolerance", self.rise_tolerance, 0.0)
        real_in("min_train_accuracy", self.min_train_accuracy, 0.0, 1.0, high_open=False)


def quick_config() -> Config:
    """Three networks, fewer epochs and points (a few seconds on 2 CPU cores)."""
    return Config(epochs=12, n_networks=3, line_points=31)


def smoke_config() -> Config:
    """Two small networks on 300 samples (about a second; what CI runs)."""
    return Config(n_train=300, width=16, depth=1, epochs=8, n_networks=2, line_points=11)


def verdict_of(series: dict, cfg: Config) -> Verdict:
    """The verdict from a result's series (``line_train_loss`` (k, T), ``line_test_loss``
    (k, T), ``final_train_accuracy`` (k,), ``final_test_accuracy`` (k,))."""
    train, test = series["line_train_loss"], series["line_test_loss"]
    rise, start = largest_rise(train), train[:, 0]
    rel = rise / start
    test_rel = largest_rise(test) / test[:, 0]
    acc = series["final_train_accuracy"]
    worst = int(np.argmax(rel))
    trained = acc >= cfg.min_train_accuracy
    return Verdict(
        holds=bool(np.all(trained) and np.all(rel <= cfg.rise_tolerance)),
        rule=f"every network trains (final training accuracy >= {cfg.min_train_accuracy:g}) "
             f"and the largest rise of the training loss along its init -> optimum line is "
             f"<= {cfg.rise_tolerance:g} x the line's start loss",
        evidence=f"{int(trained.sum())}/{rel.size} networks trained (lowest training "
                 f"accuracy {acc.min():.3f}); the largest relative rise of the training loss "
                 f"is {rel[worst]:.3g} (network {worst}, start loss {start[worst]:.3g}, rise "
                 f"{rise[worst]:.3g}). Test loss (not judged): largest relative rise "
                 f"{test_rel.max():.3g}; mean test accuracy "
                 f"{series['final_test_accuracy'].mean():.3f}.")


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    ds, nets = load_and_train(cfg, cfg.n_networks, seed, timer, progress=progress,
                              span=(0.0, 0.8))
    report(progress, 0.8, "loss along the lines")
    with timer("lines"):
        evals = [curves.evaluate_path(curves.Line(r.init, r.flat), nets.fm, ds,
                                      t=cfg.line_points) for r in nets.runs]
    t = evals[0].t
    series = {"t": t}
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        series[f"line_{key}"] = np.stack([getattr(e, key) for e in evals])  # (k, T)
    series.update(trajectory_series(nets.runs))
    train_rise = largest_rise(series["line_train_loss"])
    test_rise = largest_rise(series["line_test_loss"])
    start = series["line_train_loss"][:, 0]
    test_rel = test_rise / series["line_test_loss"][:, 0]
    series["train_rise"], series["test_rise"] = train_rise, test_rise
    verdict = verdict_of(series, cfg)
    report(progress, 1.0, "done")
    metrics = {
        "n_params": float(nets.fm.n_params),
        "max_relative_rise": float((train_rise / start).max()),
        "max_test_relative_rise": float(test_rel.max()),
        "median_start_loss": float(np.median(start)),
        "mean_final_train_loss": float(series["final_train_loss"].mean()),
        "min_final_train_accuracy": float(series["final_train_accuracy"].min()),
        "mean_final_test_accuracy": float(series["final_test_accuracy"].mean()),
        "mean_init_distance": float(np.mean([(r.flat - r.init).norm().item()
                                             for r in nets.runs])),
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def plot(result: Result, fig) -> None:
    s = result.series
    t = s["t"]
    ax1, ax2 = fig.subplots(1, 2)
    for i in range(s["line_train_loss"].shape[0]):
        colour = f"C{i % 10}"
        ax1.plot(t, s["line_train_loss"][i], "-", color=colour, lw=1.5,
                 label="train" if i == 0 else None)
        ax1.plot(t, s["line_test_loss"][i], "--", color=colour, lw=1,
                 label="test" if i == 0 else None)
    ax1.set_xlabel("t along the line (0 = initialisation, 1 = trained)")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_yscale("log")
    ax1.set_title("Loss along init -> optimum lines")
    ax1.legend(fontsize="small")
    for i, curve in enumerate(s["train_curve_loss"]):
        ax2.semilogy(s["train_epoch"], curve, lw=1, color=f"C{i % 10}")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss")
    ax2.set_title("Training runs")
