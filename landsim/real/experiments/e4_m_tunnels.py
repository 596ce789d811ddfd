"""E4 on real networks: m-tunnels join m optima at once; their short directions grow with m.

The claim, the rule and the control are fixed in docs/claims.md (section E4).

Fort & Jastrzebski (2019) extend the tunnel between two optima (E3) to an m-tunnel: a
low-loss (m - 1)-dimensional sheet through m independently trained networks. In the wedge
model it runs through the intersection of m wedges, whose short directions are the union
of theirs, so every added optimum adds short directions, and training the tunnel's centre
inside a random subspace needs more dimensions as m grows (toy E4).

Measurement. ``m_max`` MLPs are trained independently (:mod:`._setup`); the m-tunnel,
m = 2 .. m_max, has the first m of them as vertices. For every m, on the barycentric grid
:func:`landsim.paths.simplex_grid` (m, ``resolution``) with
:func:`landsim.real.curves.evaluate_simplex`:

- the flat simplex;
- the tunnel: a quadratic Bezier simplex (:class:`landsim.real.curves.BezierSimplex`, one
  control point per edge, so that the edges can bend) trained in full space for
  ``tunnel_epochs`` epochs on the expected loss over Dirichlet(1) weights
  (:func:`landsim.real.curves.fit_simplex`, ``tunnel_optimizer``);
- the threshold dimension of its **centre**, a fixed number P of free parameters for
  every m (as in the toy): :class:`CentredBezier` is the trained Bezier simplex plus a
  free centre c lifted with weight m min(lambda); c = the Bezier centre gives the trained
  tunnel back. The centre is reset to the flat barycentre g of the vertices and trained
  in a random subspace c = g + P_d z for ``threshold_epochs`` epochs (the edge controls
  stay trained). P_d is the first d columns of one P x P projection of the replicate
  (nested subspaces, the same for every m), d runs over the fixed grid ``dims`` (below
  P) and then P: the grid depends on the architecture only, never on m. The smallest d
  whose tunnel is low-loss is found by bisection on the grid (:func:`grid_threshold`;
  it assumes success does not fall as d grows).

A tunnel is *low-loss* when its largest training loss on the grid is at most the target
``max vertex training loss + barrier_fraction x B2``, with B2 the training-loss barrier
of the flat 2-simplex (the straight line between the first two networks): the E3 standard
(a barrier at most 10 % of the line's), one absolute target for every m.

Rule (docs/claims.md, E4; one replicate): every network trained (training accuracy >=
``min_train_accuracy``), every full-space tunnel is low-loss, and the threshold of the
centre exists for every m, never decreases with m and grows from m = 2 to m_max by at
least the factor ``min_growth``.

Control (``control_config``: ``one_basin = True``): network 0 is trained as in the claim
and networks 1 .. m_max - 1 are network 0 fine-tuned for ``epochs`` epochs with their own
minibatch order, so all optima lie in one basin (one wedge of the model): the
intersection is that wedge for every m, and the threshold must not grow.

Random streams: children 0 and 1 of the run's seed are the data split and the networks
(:func:`._setup.run_sequences`); child 2 seeds the full-space tunnels' training (one
child per m), child 3 the projection, child 4 the subspace runs' minibatches and weights
(the same for every m and d: common random numbers).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._checks import choice, int_at_least, real_in
from ...analysis import grows_clearly, growth
from ...experiment_kit import Progress, Timer, report
from ...results import Result, Verdict, make_result
from ...seeding import SeedLike, children, int_seed
from .. import curves, subspace
from ..data import Dataset
from ..flat import FlatModel
from ..train import OPTIMIZERS, train
from ._setup import (
    NetworkConfig,
    TrainedNetworks,
    load_and_train,
    load_dataset,
    model_spec,
    network_seed,
    train_config,
    trajectory_series,
)

ID = "E4"
TITLE = "m-tunnels between m optima"
CLAIM = ("m-tunnels join m optima at once, and their number of short directions grows "
         "with m (Fort & Jastrzebski 2019).")
CONTROL = ("All m optima in one basin (one_basin: networks 1.. are network 0 fine-tuned with "
           "their own minibatch order): their intersection is one wedge for every m, so the "
           "threshold dimension of the tunnel's centre must not grow with m.")
#: Config fields that define the rule (control_config leaves them unchanged).
RULE_FIELDS = ("min_train_accuracy", "barrier_fraction", "min_growth")
#: Metrics aggregated over replicates; the first is the statistic the rule judges.
KEY_METRICS = ("threshold_growth", "threshold_m2", "threshold_mmax", "max_tunnel_excess",
               "min_train_accuracy")

#: Largest m (the Bezier simplex has C(m, 2) control points of P weights each).
M_LIMIT = 6
#: The resolution-``RESOLUTION_HEAT`` grid of the trained 3-tunnel is kept for the figure.
RESOLUTION_HEAT = 10
#: Default subspace grid of the centre: ratio sqrt(2) from 8 (P is appended at run time).
DEFAULT_DIMS = (8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024, 1448,
                2048, 2896)


@dataclass(frozen=True)
class Config(NetworkConfig):
    width: int = 16  # MLP hidden units (P = 1210 for one hidden layer on digits)
    depth: int = 1  # MLP hidden layers
    epochs: int = 30  # training epochs of each network
    m_max: int = 4  # tunnels for m = 2 .. m_max optima
    resolution: int = 4  # barycentric grid steps per edge
    tunnel_epochs: int = 120  # full-space training of each Bezier tunnel
    tunnel_optimizer: str = "adam"  # optimiser of the tunnels' free points
    tunnel_lr: float = 0.01  # its learning rate
    tunnel_batch_size: int = 256  # minibatch size of the tunnels (full space and subspaces)
    threshold_epochs: int = 60  # training of the centre in each subspace
    dims: tuple = DEFAULT_DIMS  # subspace grid of the centre (entries >= P dropped, P added)
    projection: str = "auto"  # dense | sparse | auto (dense up to 2^24 entries)
    samples_per_step: int = 1  # barycentric samples per minibatch while fitting
    min_train_accuracy: float = 0.9  # rule: a network counts as trained above this
    barrier_fraction: float = 0.1  # rule: low-loss is max grid loss <= max vertex + this x B2
    min_growth: float = 1.5  # rule: threshold at m_max >= this x the threshold at m = 2
    one_basin: bool = False  # control: networks 1.. fine-tuned from network 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.m_max, bool) or not isinstance(self.m_max, (int, np.integer)) or \
                not 3 <= self.m_max <= M_LIMIT:
            raise ValueError(f"m_max must be an integer in [3, {M_LIMIT}], got {self.m_max!r}")
        int_at_least("resolution", self.resolution, 2)
        int_at_least("tunnel_epochs", self.tunnel_epochs, 1)
        int_at_least("threshold_epochs", self.threshold_epochs, 1)
        choice("tunnel_optimizer", self.tunnel_optimizer, OPTIMIZERS)
        real_in("tunnel_lr", self.tunnel_lr, 0.0, low_open=True)
        int_at_least("tunnel_batch_size", self.tunnel_batch_size, 1)
        choice("projection", self.projection, subspace.PROJECTION_KINDS)
        if not isinstance(self.dims, (tuple, list)) or not self.dims:
            raise ValueError(f"dims must be a non-empty tuple of integers >= 1, got "
                             f"{self.dims!r}")
        object.__setattr__(self, "dims", tuple(sorted({int_at_least("dims entry", d, 1)
                                                       for d in self.dims})))
        int_at_least("samples_per_step", self.samples_per_step, 1)
        real_in("min_train_accuracy", self.min_train_accuracy, 0.0, 1.0, high_open=False)
        real_in("barrier_fraction", self.barrier_fraction, 0.0)
        real_in("min_growth", self.min_growth, 1.0)
        if not isinstance(self.one_basin, (bool, np.bool_)):
            raise ValueError(f"one_basin must be a bool, got {self.one_basin!r}")


def quick_config() -> Config:
    """Fewer network epochs and shorter tunnel training (m = 2 .. 4 kept)."""
    return Config(epochs=20, tunnel_epochs=60, threshold_epochs=30)


def smoke_config() -> Config:
    """Tiny networks on 300 samples, m = 2, 3 (a few seconds; what the tests run)."""
    return Config(n_train=300, width=8, epochs=10, m_max=3, resolution=3, tunnel_epochs=5,
                  tunnel_batch_size=64, threshold_epochs=3, dims=(20, 100, 400))


def control_config(config: Config) -> Config:
    """The negative control of ``config``: all optima in one basin (rule fields unchanged)."""
    return dataclasses.replace(config, one_basin=True)


def subspace_grid(dims: Sequence[int], n_params: int) -> np.ndarray:
    """The centre's subspace grid: the entries of ``dims`` below P, then P, (K,) int64.

    It depends on the architecture (P) only, never on m.
    """
    return np.array(sorted({int(d) for d in dims if d < n_params}) + [int(n_params)],
                    dtype=np.int64)


class CentredBezier(curves.Simplex):
    """A trained Bezier simplex with a free centre: a fixed number P of free parameters.

    ``x(lambda) = B(lambda) + m min(lambda) (c - B(1/m, ..., 1/m))`` with B the quadratic
    Bezier simplex of ``vertices`` and ``controls`` (fixed buffers) and c the trainable
    centre: c = B(1/m, ..., 1/m) gives B itself; every vertex and every edge is B's.

    Parameters
    ----------
    vertices : Tensor, shape (m, P)
    controls : Tensor, shape (m (m - 1) / 2, P)
        Edge control points in ``itertools.combinations`` order.
    centre : Tensor, shape (P,)
        Initial centre.
    """

    controls: torch.Tensor
    bezier_centre: torch.Tensor

    def __init__(self, vertices: torch.Tensor, controls: torch.Tensor,
                 centre: torch.Tensor) -> None:
        super().__init__(vertices)
        i, j = torch.triu_indices(self.m, self.m, offset=1)
        if controls.shape != (i.numel(), self.vertices.shape[1]):
            raise ValueError(f"controls must have shape {(i.numel(), self.vertices.shape[1])},"
                             f" got {tuple(controls.shape)}")
        self.register_buffer("edge_i", i)
        self.register_buffer("edge_j", j)
        self.register_buffer("controls", controls.detach().clone().to(self.vertices))
        self.register_buffer("bezier_centre", self._bezier(torch.full(
            (1, self.m), 1.0 / self.m, dtype=self.vertices.dtype,
            device=self.vertices.device))[0])
        self.centre = nn.Parameter(centre.detach().clone().to(self.vertices))

    def _bezier(self, w: torch.Tensor) -> torch.Tensor:
        pair = 2.0 * w[:, self.edge_i] * w[:, self.edge_j]
        return (w * w) @ self.vertices + pair @ self.controls

    def points(self, weights: Any) -> torch.Tensor:
        w = self._weights(weights)
        lift = self.m * w.min(dim=1).values
        return self._bezier(w) + lift[:, None] * (self.centre - self.bezier_centre)


def nested_projection(full: torch.Tensor, d: int) -> subspace.Projection:
    """The first d columns of the (P, P) projection ``full`` (dense or sparse COO)."""
    if full.is_sparse:
        cols = torch.arange(d, device=full.device)
        return subspace.Projection(full.index_select(1, cols).coalesce(), "sparse")
    return subspace.Projection(full[:, :d].contiguous(), "dense")


def grid_threshold(succeeds: Callable[[int], bool], n: int) -> int | None:
    """Smallest index k in [0, n) with ``succeeds(k)``, by bisection (None: the last fails).

    Evaluates the last index first, then bisects; assumes success does not fall as k
    grows. Each index is evaluated at most once.
    """
    n = int_at_least("n", n, 1)
    seen: dict[int, bool] = {}

    def ok(k: int) -> bool:
        if k not in seen:
            seen[k] = bool(succeeds(k))
        return seen[k]

    hi, lo = n - 1, -1
    if not ok(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def verdict_of(series: dict, metrics: dict, cfg: Config) -> Verdict:
    """The verdict from a result's series (``m`` (M,), ``threshold`` (M,), NaN where none,
    ``tunnel_max_train_loss`` (M,), ``final_train_accuracy`` (m_max,)) and the metrics
    ``target_loss``, ``max_vertex_loss`` and ``flat2_barrier``."""
    target = metrics["target_loss"]
    ms, thr = series["m"], np.asarray(series["threshold"], dtype=float)
    acc = series["final_train_accuracy"]
    trained = bool(np.all(acc >= cfg.min_train_accuracy))
    tunnels = series["tunnel_max_train_loss"]
    tunnels_ok = bool(np.all(tunnels <= target))
    grows = grows_clearly(thr, cfg.min_growth)
    shown = ", ".join(f"m={m}: {'none' if np.isnan(v) else int(v)}" for m, v in zip(ms, thr))
    losses = ", ".join(f"{v:.3g}" for v in tunnels)
    return Verdict(
        holds=trained and tunnels_ok and grows,
        rule=f"every network trains (training accuracy >= {cfg.min_train_accuracy:g}); for "
             f"every m the full-space trained Bezier tunnel is low-loss (max training loss on "
             f"the grid <= max vertex loss + {cfg.barrier_fraction:g} x the flat 2-simplex "
             f"barrier); the threshold d of the tunnel's centre (P free parameters for every "
             f"m; smallest d of a fixed grid whose subspace-trained tunnel is low-loss) exists "
             f"for every m, never decreases with m and is >= {cfg.min_growth:g} x larger at "
             f"m = {int(ms[-1])} than at m = 2 (docs/claims.md, E4)",
        evidence=f"threshold growth {growth(thr):.3g} (minimum {cfg.min_growth:g}); thresholds "
                 f"{shown}; lowest training accuracy {acc.min():.3f}; target loss {target:.4g} "
                 f"(max vertex loss {metrics['max_vertex_loss']:.3g} + "
                 f"{cfg.barrier_fraction:g} x B2 = {metrics['flat2_barrier']:.3g}); full-space "
                 f"tunnels' max grid loss {losses} for m = "
                 f"{', '.join(str(int(m)) for m in ms)}.")


def train_one_basin(cfg: Config, dataset: Dataset, k: int, seed: SeedLike, timer: Timer,
                    progress: Progress = None) -> TrainedNetworks:
    """The control's networks: network 0 trained as in the claim arm, networks 1 .. k - 1
    network 0 fine-tuned for ``cfg.epochs`` epochs with their own minibatch order
    (:func:`._setup.network_seed` (seed, i))."""
    spec, tc = model_spec(cfg), train_config(cfg)
    runs, seeds, fm = [], [], None
    with timer("train"):
        for i in range(k):
            report(progress, 0.1 * i / k, f"training network {i + 1}/{k} (one basin)")
            s = network_seed(seed, i)
            fm_i = FlatModel(spec.build(dataset.input_shape, dataset.n_classes, s), cfg.device)
            runs.append(train(fm_i, dataset, tc, s, init=None if i == 0 else runs[0].flat))
            seeds.append(s)
            fm = fm if fm is not None else fm_i
    return TrainedNetworks(fm, runs, seeds)


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    if cfg.one_basin:
        report(progress, 0.0, "loading data")
        ds = load_dataset(cfg, seed)
        nets = train_one_basin(cfg, ds, cfg.m_max, seed, timer, progress)
    else:
        ds, nets = load_and_train(cfg, cfg.m_max, seed, timer, progress=progress,
                                  span=(0.0, 0.1))
    fm, n_params = nets.fm, nets.fm.n_params
    vertices = nets.flats.to(fm.device, fm.dtype)  # (m_max, P)
    ms = list(range(2, cfg.m_max + 1))
    grid = subspace_grid(cfg.dims, n_params)
    tunnel_seq, projection_seq, subspace_seq = children(seed, 5)[2:]
    tunnel_seeds = [int_seed(ss) for ss in children(tunnel_seq, len(ms))]
    subspace_seed = int_seed(subspace_seq)
    vertex_loss = np.array([r.train_loss for r in nets.runs])
    with timer("flat"):
        flat = {m: curves.evaluate_simplex(curves.make_simplex("bezier", vertices[:m]), fm,
                                           ds, cfg.resolution) for m in ms}
    flat2_barrier = flat[2].train_barrier
    target = float(vertex_loss.max() + cfg.barrier_fraction * flat2_barrier)
    with timer("projection"):
        full = subspace.make_projection(n_params, n_params, cfg.projection,
                                        int_seed(projection_seq), dtype=fm.dtype,
                                        device=fm.device).matrix
    tc_tunnel = train_config(cfg, optimizer=cfg.tunnel_optimizer, lr=cfg.tunnel_lr,
                             epochs=cfg.tunnel_epochs, batch_size=cfg.tunnel_batch_size)
    tc_sub = tc_tunnel.replace(epochs=cfg.threshold_epochs)
    sub = np.full((3, len(ms), grid.size), np.nan)  # max loss, barrier, min test accuracy
    tun = np.empty((4, len(ms)))  # max loss, barrier, min test accuracy, mean loss
    threshold = np.full(len(ms), np.nan)
    series: dict[str, np.ndarray] = {}
    for i, m in enumerate(ms):
        report(progress, 0.1 + 0.9 * i / len(ms), f"{m}-tunnel in full space")
        with timer("tunnels"):
            tunnel = curves.make_simplex("bezier", vertices[:m])
            curves.fit_simplex(tunnel, fm, ds, tc_tunnel, tunnel_seeds[i],
                               samples_per_step=cfg.samples_per_step)
            ev = curves.evaluate_simplex(tunnel, fm, ds, cfg.resolution)
        tun[:, i] = ev.max_train_loss, ev.train_barrier, ev.min_test_accuracy, \
            ev.train_loss.mean()
        series[f"m{m}_weights"] = ev.weights
        series[f"m{m}_flat_train_loss"] = flat[m].train_loss
        series[f"m{m}_tunnel_train_loss"] = ev.train_loss
        series[f"m{m}_tunnel_test_loss"] = ev.test_loss
        if m == 3:
            with timer("heat"):
                heat = curves.evaluate_simplex(tunnel, fm, ds, RESOLUTION_HEAT)
            series["m3_heat_weights"], series["m3_heat_train_loss"] = (heat.weights,
                                                                       heat.train_loss)
        controls = tunnel.controls.detach()
        g = vertices[:m].mean(0)

        def succeeds(k: int, i: int = i, m: int = m, controls=controls, g=g) -> bool:
            d = int(grid[k])
            report(progress, 0.1 + 0.9 * (i + 0.5) / len(ms),
                   f"{m}-tunnel's centre in a random subspace of d = {d}")
            inner = CentredBezier(vertices[:m], controls, g)
            centred = subspace.InSubspace(inner, nested_projection(full, d))
            curves.fit_simplex(centred, fm, ds, tc_sub, subspace_seed,
                               samples_per_step=cfg.samples_per_step)
            ev = curves.evaluate_simplex(centred, fm, ds, cfg.resolution)
            sub[:, i, k] = ev.max_train_loss, ev.train_barrier, ev.min_test_accuracy
            return ev.max_train_loss <= target

        with timer("subspaces"):
            k = grid_threshold(succeeds, grid.size)
        threshold[i] = np.nan if k is None else float(grid[k])
    series.update({
        "m": np.asarray(ms, dtype=np.int64), "dims": grid,
        "n_free": np.full(len(ms), n_params, dtype=np.int64),
        "vertex_train_loss": vertex_loss,
        "flat_max_train_loss": np.array([flat[m].max_train_loss for m in ms]),
        "flat_train_barrier": np.array([flat[m].train_barrier for m in ms]),
        "tunnel_max_train_loss": tun[0], "tunnel_train_barrier": tun[1],
        "tunnel_min_test_accuracy": tun[2], "tunnel_mean_train_loss": tun[3],
        "subspace_d": np.broadcast_to(grid, (len(ms), grid.size)).copy(),
        "subspace_max_train_loss": sub[0], "subspace_train_barrier": sub[1],
        "subspace_min_test_accuracy": sub[2], "threshold": threshold,
        **trajectory_series(nets.runs),
    })
    metrics = {"threshold_growth": growth(threshold),
               "threshold_m2": float(threshold[0]), "threshold_mmax": float(threshold[-1]),
               "max_tunnel_excess": float(np.max(tun[0] - target)),
               "min_train_accuracy": float(series["final_train_accuracy"].min()),
               "n_params": float(n_params), "target_loss": target,
               "max_vertex_loss": float(vertex_loss.max()), "flat2_barrier": flat2_barrier,
               "thresholds_found": float(np.isfinite(threshold).sum())}
    for i, m in enumerate(ms):
        metrics[f"threshold_m{m}"] = float(threshold[i])
        metrics[f"tunnel_max_train_loss_m{m}"] = float(tun[0, i])
        metrics[f"flat_max_train_loss_m{m}"] = float(flat[m].max_train_loss)
    verdict = verdict_of(series, metrics, cfg)
    report(progress, 1.0, "done")
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done(), kind="real")


def plot(result: Result, fig) -> None:
    s, m = result.series, result.metrics
    ms = s["m"]
    heat = "m3_heat_weights" in s
    axes = fig.subplots(1, 3 if heat else 2)
    ax1, ax2 = axes[:2]
    ax1.semilogy(ms, s["flat_max_train_loss"], "s-", label="flat simplex")
    ax1.semilogy(ms, s["tunnel_max_train_loss"], "o-", label="trained m-tunnel (max)")
    ax1.semilogy(ms, s["tunnel_mean_train_loss"], "o:", label="trained m-tunnel (mean)")
    ax1.axhline(m["target_loss"], color="k", ls="--", lw=1, label="low-loss target")
    ax1.set_xticks(ms)
    ax1.set_xlabel("m (optima)")
    ax1.set_ylabel("training loss on the barycentric grid")
    ax1.set_title("Loss on the simplex")
    ax1.legend(fontsize="small")
    for i, mm in enumerate(ms):
        tried = np.isfinite(s["subspace_max_train_loss"][i])
        ax2.loglog(s["subspace_d"][i][tried], s["subspace_max_train_loss"][i][tried], "o",
                   ms=4, color=f"C{i}", label=f"m = {mm}")
        if np.isfinite(s["threshold"][i]):
            ax2.axvline(s["threshold"][i], color=f"C{i}", ls=":", lw=1)
    ax2.axhline(m["target_loss"], color="k", ls="--", lw=1, label="low-loss target")
    ax2.set_xlabel("subspace dimension d of the centre")
    ax2.set_ylabel("max training loss on the grid")
    ax2.set_title("Centre trained in random subspaces")
    ax2.legend(fontsize="small")
    if heat:
        lam = s["m3_heat_weights"]
        xy = lam @ np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
        ax3 = axes[2]
        art = ax3.tripcolor(xy[:, 0], xy[:, 1], np.log10(np.maximum(s["m3_heat_train_loss"],
                                                                    1e-12)), shading="gouraud")
        fig.colorbar(art, ax=ax3, label="log10 training loss")
        ax3.set_aspect("equal")
        ax3.set_axis_off()
        ax3.set_title("Trained 3-tunnel")
