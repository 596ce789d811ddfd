"""E1 on real networks: no significant obstacle on the line from initialisation to optimum.

Goodfellow, Vinyals & Saxe (2014) evaluated the loss on the straight line from a network's
initial weights w0 to its trained weights w*, gamma(t) = (1 - t) w0 + t w*, and found it
falling without a bump. The wedge model predicts the same (toy E1; docs/claims.md,
section E1).

Measurement. ``n_networks`` MLPs are trained independently (:mod:`._setup`: the data split
and each network's initialisation and minibatches come from separate child streams of the
run's seed). Line i ends at network i's trained weights and starts at its initial weights
(the claim, ``line_start="init"``). Along each line, at ``line_points`` evenly spaced t, we
evaluate the full training and test loss and accuracy
(:func:`landsim.real.curves.evaluate_path` on a :class:`~landsim.real.curves.Line`). The
*rise* of a profile is the toy's measure, max_t [L(t) - min_{t' <= t} L(t')]
(:func:`landsim.analysis.largest_rise`), and the *relative rise* divides it by the
*reference loss*: the loss at the initialisation of the network whose
weights start the line (on the claim arm, the line's start loss), evaluated separately.

Rule. The claim holds when every network trained (final training accuracy >=
``min_train_accuracy``) and every *training*-loss relative rise is <= ``rise_tolerance``
(the toy's 1 %). Test-loss rises (relative to the test loss at the same initialisation) are
reported beside it, not judged: the test loss may rise near t = 1 through overfitting,
which is not an obstacle of the training landscape.

Control (``line_start="other_optimum"``, :func:`control_config`). The same networks; line i
starts instead at network (i + 1) mod k's trained weights. The straight line between two
independently trained networks crosses a loss barrier (Draxler et al. 2018; Garipov et al.
2018; real E3), so the same rule must fail there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..._checks import choice, int_at_least, real_in
from ...analysis import LINE_STARTS, largest_rise, relative_rise
from ...experiment_kit import Progress, Timer, report
from ...results import Result, Verdict, make_result
from ...seeding import SeedLike
from .. import curves
from ..flat import evaluate_splits
from ._setup import NetworkConfig, load_and_train, trajectory_series

ID = "E1"
TITLE = "Initialisation to optimum"
CLAIM = ("There is no significant obstacle on the straight line from initialisation to "
         "the optimum (Goodfellow et al. 2014).")
CONTROL = ("Each line starts at another independently trained network's weights instead of "
           "at its own initialisation: the straight line between two trained networks "
           "crosses a loss barrier (Draxler et al. 2018), so the rule must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("rise_tolerance", "min_train_accuracy")
#: Aggregated over replicates; the first is the judged statistic.
KEY_METRICS = ("max_relative_rise", "max_test_relative_rise", "median_reference_loss",
               "min_final_train_accuracy", "mean_final_test_accuracy")


@dataclass(frozen=True)
class Config(NetworkConfig):
    epochs: int = 30  # training epochs of each network
    n_networks: int = 5  # independently trained networks (one line each)
    line_points: int = 51  # values of t along each line, 0 and 1 included
    rise_tolerance: float = 0.01  # rule: training-loss rise <= this x the initial loss
    min_train_accuracy: float = 0.9  # rule: a network counts as trained above this
    line_start: str = "init"  # "init" (claim) | "other_optimum" (control)

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("n_networks", self.n_networks, 1)
        int_at_least("line_points", self.line_points, 3)
        real_in("rise_tolerance", self.rise_tolerance, 0.0)
        real_in("min_train_accuracy", self.min_train_accuracy, 0.0, 1.0, high_open=False)
        choice("line_start", self.line_start, LINE_STARTS)
        if self.line_start == "other_optimum" and self.n_networks < 2:
            raise ValueError(f"n_networks must be an integer >= 2 when line_start is "
                             f"'other_optimum' (a line joins two networks), got "
                             f"{self.n_networks}")


def quick_config() -> Config:
    """Three networks, fewer epochs and points (a few seconds on 2 CPU cores)."""
    return Config(epochs=12, n_networks=3, line_points=31)


def smoke_config() -> Config:
    """Two small networks on 300 samples (about a second; what CI runs)."""
    return Config(n_train=300, width=16, depth=1, epochs=8, n_networks=2, line_points=11)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: lines start at another trained network
    (``line_start="other_optimum"``); nothing else changes."""
    return dataclasses.replace(config, line_start="other_optimum")


def line_sources(n_networks: int, line_start: str) -> np.ndarray:
    """Index of the network whose weights start each line, shape (n_networks,): the line's
    own network (its initialisation) for ``"init"``, the next network (its trained
    weights) for ``"other_optimum"``."""
    own = np.arange(n_networks)
    return own if line_start == "init" else (own + 1) % n_networks


def verdict_of(series: dict, cfg: Config) -> Verdict:
    """The verdict from a result's series: ``line_train_loss`` (k, T), ``line_test_loss``
    (k, T), ``reference_train_loss`` (k,), ``reference_test_loss`` (k,),
    ``final_train_accuracy`` (k,), ``final_test_accuracy`` (k,)."""
    train, test = series["line_train_loss"], series["line_test_loss"]
    rise, ref = largest_rise(train), series["reference_train_loss"]
    rel = relative_rise(rise, ref)
    test_rel = relative_rise(largest_rise(test), series["reference_test_loss"])
    acc = series["final_train_accuracy"]
    worst = int(np.argmax(rel))
    trained = acc >= cfg.min_train_accuracy
    return Verdict(
        holds=bool(np.all(trained) and np.all(rel <= cfg.rise_tolerance)),
        rule=f"every network trains (final training accuracy >= {cfg.min_train_accuracy:g}) "
             f"and the largest rise of the training loss along every line is "
             f"<= {cfg.rise_tolerance:g} x the training loss at the initialisation of the "
             f"network the line starts from",
        evidence=f"{int(trained.sum())}/{acc.size} networks trained (lowest training "
                 f"accuracy {acc.min():.3f}); the largest relative rise of the training loss "
                 f"is {rel[worst]:.3g} (line {worst}: rise {rise[worst]:.3g}, initial loss "
                 f"{ref[worst]:.3g}, loss at the line's start {train[worst, 0]:.3g}). Test "
                 f"loss (not judged): largest relative rise {test_rel.max():.3g}; mean test "
                 f"accuracy {series['final_test_accuracy'].mean():.3f}.")


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    """Run real E1 (or its control, by ``config.line_start``) on one replicate.

    Parameters
    ----------
    config : Config, optional
        ``Config()`` by default.
    seed : int or numpy.random.SeedSequence
        The replicate's seed (data split and networks from separate child streams).
    progress : callable (fraction, message), optional

    Returns
    -------
    Result
        Series: ``line_{train,test}_{loss,accuracy}`` (k, line_points), ``t``
        (line_points,), ``line_source``, ``reference_train_loss``, ``reference_test_loss``,
        ``train_rise``, ``test_rise`` (k,) each, and the training curves
        (:func:`._setup.trajectory_series`).
    """
    cfg = config or Config()
    timer = Timer()
    ds, nets = load_and_train(cfg, cfg.n_networks, seed, timer, progress=progress,
                              span=(0.0, 0.8))
    report(progress, 0.8, "loss along the lines")
    source = line_sources(cfg.n_networks, cfg.line_start)
    starts = nets.inits if cfg.line_start == "init" else nets.flats[source]
    with timer("lines"):
        evals = [curves.evaluate_path(curves.Line(starts[i], r.flat), nets.fm, ds,
                                      t=cfg.line_points) for i, r in enumerate(nets.runs)]
        ref_train, ref_test = evaluate_splits(nets.fm, nets.inits[source].to(nets.fm.device),
                                              ds)
    t = evals[0].t
    series = {"t": t, "line_source": source, "reference_train_loss": ref_train.loss,
              "reference_test_loss": ref_test.loss}
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        series[f"line_{key}"] = np.stack([getattr(e, key) for e in evals])  # (k, T)
    series.update(trajectory_series(nets.runs))
    train_rise = largest_rise(series["line_train_loss"])
    test_rise = largest_rise(series["line_test_loss"])
    series["train_rise"], series["test_rise"] = train_rise, test_rise
    verdict = verdict_of(series, cfg)
    report(progress, 1.0, "done")
    metrics = {
        "n_params": float(nets.fm.n_params),
        "max_relative_rise": float(relative_rise(train_rise, ref_train.loss).max()),
        "max_test_relative_rise": float(relative_rise(test_rise, ref_test.loss).max()),
        "median_reference_loss": float(np.median(ref_train.loss)),
        "mean_final_train_loss": float(series["final_train_loss"].mean()),
        "min_final_train_accuracy": float(series["final_train_accuracy"].min()),
        "mean_final_test_accuracy": float(series["final_test_accuracy"].mean()),
        "mean_line_length": float(np.mean([(r.flat - starts[i]).norm().item()
                                           for i, r in enumerate(nets.runs)])),
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def plot(result: Result, fig) -> None:
    s = result.series
    t = s["t"]
    start = "another trained network" if result.config.get("line_start") == "other_optimum" \
        else "initialisation"
    ax1, ax2 = fig.subplots(1, 2)
    for i in range(s["line_train_loss"].shape[0]):
        colour = f"C{i % 10}"
        ax1.plot(t, s["line_train_loss"][i], "-", color=colour, lw=1.5,
                 label="train" if i == 0 else None)
        ax1.plot(t, s["line_test_loss"][i], "--", color=colour, lw=1,
                 label="test" if i == 0 else None)
    ax1.set_xlabel(f"t along the line (0 = {start}, 1 = trained)")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_yscale("log")
    ax1.set_title(f"Loss along the lines ({result.arm})")
    ax1.legend(fontsize="small")
    for i, curve in enumerate(s["train_curve_loss"]):
        ax2.semilogy(s["train_epoch"], curve, lw=1, color=f"C{i % 10}")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss")
    ax2.set_title("Training runs")
