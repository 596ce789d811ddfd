"""E3 on real networks: independent optima are joined by low-loss tunnels a line misses.

Draxler et al. (2018) and Garipov et al. (2018) found that two independently trained
networks w_a, w_b are joined by a simple curve along which the training loss stays nearly
as low as at the ends, although the straight line between them crosses a high barrier.
The wedge model explains it with the intersection of two wedges (toy E3; docs/claims.md,
section E3).

Measurement. Two MLPs are trained (:mod:`._setup`: the data split from the run's data
stream, network i's initialisation and minibatches from :func:`._setup.network_seed`
(seed, i)). Between them we measure, at ``path_points`` evenly spaced t, the full training
and test loss and accuracy (:func:`landsim.real.curves.evaluate_path`) of

- the straight line (:class:`~landsim.real.curves.Line`);
- a one-bend polygonal chain with its bend at t = 1/2 (:class:`~landsim.real.curves.PolyChain`)
  and a quadratic Bezier curve (:class:`~landsim.real.curves.Bezier`), both started on the
  line (free point at the midpoint) and trained for ``curve_epochs`` epochs with the
  networks' optimiser on the expected minibatch loss over t ~ U[0, 1]
  (:func:`landsim.real.curves.fit_curve`, Garipov et al. 2018; ``samples_per_step`` values
  of t per minibatch; torch seeds from children 2 and 3 of the run's seed sequence).

The barrier of a profile is B = max_t [L(t) - ((1 - t) L(a) + t L(b))]
(:func:`landsim.paths.barrier`).

Rule (:func:`verdict_of`). The claim holds when both networks trained (training accuracy
>= ``min_train_accuracy``), the straight line has a real barrier,
``line_relative_barrier`` = B_line / L_ref >= ``min_line_barrier`` (L_ref: the mean
training loss at the two networks' random initialisations; 1 %, as on the toy), and the
better trained curve removes most of it, ``best_relative_barrier`` = min(B_chain, B_bezier)
/ B_line <= ``barrier_fraction`` (10 %: curves fitted for a few epochs by minibatch SGD on
a cross-entropy that is never 0; the toy, with an exact zero-loss tunnel, asks for 1 %).
Test barriers are reported beside it, not judged.

Control (``second_start="first_optimum"``, :func:`control_config`). Network b starts from
network a's trained weights instead of its own random initialisation and is trained with
exactly the claim arm's settings for b (epochs, optimiser, minibatch seed): a copy of a
trained further with independent SGD noise, in a's basin (Frankle et al. 2020). The line
between them needs no tunnel, so the line-barrier part of the rule must fail. b's random
initialisation is still drawn and its loss evaluated, so L_ref is the same on both arms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ... import paths
from ..._checks import choice, int_at_least, real_in
from ...analysis import relative_barriers
from ...experiment_kit import Progress, Timer, report
from ...results import Result, Verdict, make_result
from ...seeding import SeedLike, children, int_seed
from .. import curves
from ..flat import FlatModel
from ..train import train
from ._setup import (
    NetworkConfig,
    TrainedNetworks,
    load_dataset,
    model_spec,
    network_seed,
    train_config,
    train_networks,
    trajectory_series,
)

ID = "E3"
TITLE = "Tunnels between optima"
CLAIM = ("Independent optima are joined by low-loss tunnels that a straight line misses "
         "(Draxler et al. 2018; Garipov et al. 2018).")

#: The trained curves: result key -> :data:`landsim.real.curves.CURVES` name.
TRAINED = {"chain": "polychain", "bezier": "bezier"}
#: Every profile in a result.
PATHS = ("line",) + tuple(TRAINED)
CONTROL = ("Network b starts from network a's trained weights instead of its own random "
           "initialisation (then trains exactly as on the claim arm): both optima lie in one "
           "basin, the straight line between them has no significant barrier, so the rule "
           "must fail.")
#: Where network b's training starts: its own random initialisation (the claim) or
#: network a's trained weights (the control).
SECOND_STARTS = ("own_init", "first_optimum")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("min_line_barrier", "barrier_fraction", "min_train_accuracy")
#: Aggregated over replicates; the first is the first judged statistic.
KEY_METRICS = ("line_relative_barrier", "best_relative_barrier", "linear_barrier",
               "best_trained_barrier", "mean_init_train_loss", "min_final_train_accuracy")


@dataclass(frozen=True)
class Config(NetworkConfig):
    epochs: int = 30  # training epochs of each network
    curve_epochs: int = 60  # training epochs of each curve's free point
    samples_per_step: int = 1  # values of t per minibatch while fitting a curve
    path_points: int = 61  # values of t on which profiles and barriers are measured
    min_train_accuracy: float = 0.9  # rule: a network counts as trained at or above this
    min_line_barrier: float = 0.01  # rule: line barrier >= this x mean initial loss
    barrier_fraction: float = 0.1  # rule: best curve barrier <= this x line barrier
    second_start: str = "own_init"  # "own_init" (claim) | "first_optimum" (control)

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("curve_epochs", self.curve_epochs, 1)
        int_at_least("samples_per_step", self.samples_per_step, 1)
        int_at_least("path_points", self.path_points, 3)
        real_in("min_train_accuracy", self.min_train_accuracy, 0.0, 1.0, high_open=False)
        real_in("min_line_barrier", self.min_line_barrier, 0.0)
        real_in("barrier_fraction", self.barrier_fraction, 0.0)
        choice("second_start", self.second_start, SECOND_STARTS)


def quick_config() -> Config:
    """Fewer epochs and points (a few seconds on 2 CPU cores)."""
    return Config(epochs=15, curve_epochs=15, path_points=31)


def smoke_config() -> Config:
    """Small networks on 300 samples (about a second; what CI runs)."""
    return Config(n_train=300, width=16, depth=1, epochs=10, curve_epochs=5, path_points=11)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: network b starts from network a's trained
    weights (``second_start="first_optimum"``); nothing else changes."""
    return dataclasses.replace(config, second_start="first_optimum")


def verdict_of(series: dict, cfg: Config) -> Verdict:
    """The rule of docs/claims.md (E3, real) on a result's series.

    Parameters
    ----------
    series : dict
        ``t`` (T,), ``<path>_train_loss`` and ``<path>_test_loss`` (T,) for every path in
        :data:`PATHS`, ``final_train_accuracy`` (2,), ``init_train_loss`` (2,) (the
        training loss at the two networks' random initialisations).
    cfg : Config
    """
    t = series["t"]
    barrier = {p: paths.barrier(series[f"{p}_train_loss"], t) for p in PATHS}
    test_barrier = {p: paths.barrier(series[f"{p}_test_loss"], t) for p in PATHS}
    best = min(TRAINED, key=lambda k: barrier[k])
    line = barrier["line"]
    start = float(np.mean(series["init_train_loss"]))
    line_rel, best_rel = relative_barriers(line, barrier[best], start)
    acc = series["final_train_accuracy"]
    trained = bool(np.all(acc >= cfg.min_train_accuracy))
    line_ok = line > 0 and line_rel >= cfg.min_line_barrier
    holds = trained and line_ok and best_rel <= cfg.barrier_fraction

    def rel(x: float) -> str:
        return f"{relative_barriers(line, x, start)[1]:.3g} x line"

    return Verdict(
        holds=bool(holds),
        rule=f"both networks train (training accuracy >= {cfg.min_train_accuracy:g}), the "
             f"straight line's training-loss barrier is >= {cfg.min_line_barrier:g} x the "
             f"mean training loss at the random initialisations (and > 0), and the better "
             f"trained curve (one-bend chain or quadratic Bezier) has a training-loss barrier "
             f"<= {cfg.barrier_fraction:g} x the line's",
        evidence=f"training accuracies {acc[0]:.3f}, {acc[1]:.3f}; line barrier {line:.4g} "
                 f"= {line_rel:.3g} x the initial loss {start:.3g} (needs >= "
                 f"{cfg.min_line_barrier:g}); trained chain {barrier['chain']:.3g} "
                 f"({rel(barrier['chain'])}), Bezier {barrier['bezier']:.3g} "
                 f"({rel(barrier['bezier'])}); better: {best}, {best_rel:.3g} x the line's "
                 f"(needs <= {cfg.barrier_fraction:g}). Test-loss barriers (not judged): line "
                 f"{test_barrier['line']:.3g}, chain {test_barrier['chain']:.3g}, Bezier "
                 f"{test_barrier['bezier']:.3g}.")


def train_pair(cfg: Config, dataset, seed: SeedLike, progress: Progress = None,
               span: tuple[float, float] = (0.0, 1.0)) -> tuple[TrainedNetworks, np.ndarray]:
    """Networks a and b of one run, and the training loss at their random initialisations.

    Network a is network 0 of the run (:func:`._setup.train_networks`). Network b is
    network 1: with ``second_start="own_init"`` trained from its own random initialisation
    (exactly ``train_networks(cfg, dataset, 2, seed)``), with ``"first_optimum"`` built and
    seeded the same way but trained from a's final weights.

    Returns
    -------
    nets : TrainedNetworks
        Two runs; ``nets.runs[i].init`` is the point network i's training started from.
    init_losses : ndarray, shape (2,)
        Training loss at network a's and network b's random initialisation (the same on
        both arms, whatever b starts from).
    """
    if cfg.second_start == "own_init":
        nets = train_networks(cfg, dataset, 2, seed, progress=progress, span=span)
        return nets, np.array([r.trajectory.loss[0] for r in nets.runs])
    mid = 0.5 * (span[0] + span[1])
    first = train_networks(cfg, dataset, 1, seed, progress=progress, span=(span[0], mid))
    report(progress, mid, "training network 2/2 from network 1's optimum")
    seed_b = network_seed(seed, 1)
    fm_b = FlatModel(model_spec(cfg).build(dataset.input_shape, dataset.n_classes, seed_b),
                     cfg.device)
    data = dataset.to(fm_b.device)
    init_loss_b, _ = fm_b.evaluate(fm_b.get_flat(), data.x_train, data.y_train)
    run_b = train(fm_b, dataset, train_config(cfg), seed_b, init=first.runs[0].flat)
    report(progress, span[1], "trained 2 network(s)")
    nets = TrainedNetworks(first.fm, [first.runs[0], run_b], [first.seeds[0], seed_b])
    return nets, np.array([first.runs[0].trajectory.loss[0], init_loss_b])


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "loading data")
    ds = load_dataset(cfg, seed)
    with timer("train"):
        nets, init_losses = train_pair(cfg, ds, seed, progress, span=(0.0, 0.3))
    a, b = nets.runs[0].flat, nets.runs[1].flat
    fm = nets.fm
    tc = train_config(cfg, epochs=cfg.curve_epochs)
    fit_seeds = [int_seed(ss) for ss in children(seed, 2 + len(TRAINED))[2:]]
    modules: dict[str, curves.Path] = {"line": curves.Line(a, b)}
    logs = {}
    for n, (key, kind) in enumerate(TRAINED.items()):
        report(progress, 0.3 + 0.3 * n, f"training the {key}")
        with timer(f"fit_{key}"):
            modules[key] = curves.make_curve(kind, a, b)
            logs[key] = curves.fit_curve(modules[key], fm, ds, tc, fit_seeds[n],
                                         samples_per_step=cfg.samples_per_step)
    report(progress, 0.9, "profiles")
    series: dict[str, np.ndarray] = {}
    with timer("profiles"):
        for key, module in modules.items():
            ev = curves.evaluate_path(module, fm, ds, t=cfg.path_points)
            series["t"] = ev.t
            for q in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
                series[f"{key}_{q}"] = getattr(ev, q)
    for key, log in logs.items():
        series[f"{key}_fit_epoch"] = log.epoch
        series[f"{key}_fit_loss"] = log.batch_loss
    series.update(trajectory_series(nets.runs))
    series["init_train_loss"] = init_losses
    verdict = verdict_of(series, cfg)
    t = series["t"]
    barrier = {p: paths.barrier(series[f"{p}_train_loss"], t) for p in PATHS}
    test_barrier = {p: paths.barrier(series[f"{p}_test_loss"], t) for p in PATHS}
    best = min(TRAINED, key=lambda k: barrier[k])
    line_rel, best_rel = relative_barriers(barrier["line"], barrier[best],
                                           float(init_losses.mean()))
    report(progress, 1.0, "done")
    metrics = {
        "line_relative_barrier": line_rel, "best_relative_barrier": best_rel,
        "n_params": float(fm.n_params),
        "linear_barrier": barrier["line"], "chain_barrier": barrier["chain"],
        "bezier_barrier": barrier["bezier"], "best_trained_barrier": barrier[best],
        "best_is_bezier": float(best == "bezier"),
        "linear_test_barrier": test_barrier["line"],
        "chain_test_barrier": test_barrier["chain"],
        "bezier_test_barrier": test_barrier["bezier"],
        "linear_max_test_error": float(1.0 - series["line_test_accuracy"].min()),
        "best_max_test_error": float(1.0 - series[f"{best}_test_accuracy"].min()),
        "mean_init_train_loss": float(init_losses.mean()),
        "min_final_train_accuracy": float(series["final_train_accuracy"].min()),
        "endpoint_train_loss_max": float(series["final_train_loss"].max()),
        "optima_distance": float((a - b).norm()),
        "chain_bend_moved": float((modules["chain"].bend.detach().cpu() - (a + b) / 2).norm()),
        "bezier_control_moved": float((modules["bezier"].control.detach().cpu()
                                       - (a + b) / 2).norm()),
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def plot(result: Result, fig) -> None:
    s = result.series
    t = s["t"]
    ax1, ax2 = fig.subplots(1, 2)
    labels = {"line": "straight line", "chain": "trained 1-bend chain",
              "bezier": "trained Bezier"}
    for n, key in enumerate(PATHS):
        ax1.plot(t, s[f"{key}_train_loss"], "-", color=f"C{n}", lw=1.5,
                 label=f"{labels[key]} (train)")
        ax1.plot(t, s[f"{key}_test_loss"], "--", color=f"C{n}", lw=1, label="test")
    ax1.set_xlabel("t along the path (0 = network a, 1 = network b)")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_yscale("log")
    ax1.set_title("Loss between two trained networks")
    ax1.legend(fontsize="small", ncol=2)
    for n, key in enumerate(TRAINED, start=1):
        ax2.semilogy(s[f"{key}_fit_epoch"][1:], s[f"{key}_fit_loss"][1:], "o-", ms=3,
                     color=f"C{n}", label=labels[key])
    ax2.axhline(result.metrics["linear_barrier"], color="C0", lw=1,
                label="straight-line barrier")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("mean minibatch loss over t")
    ax2.set_title("Fitting the curves (expected loss)")
    ax2.legend(fontsize="small")
