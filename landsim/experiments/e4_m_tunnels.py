"""E4: m-tunnels join m optima at once; their short directions grow with m.

The claim, the rule and the control are fixed in docs/claims.md (section E4).

Fort & Jastrzebski (2019) extend the tunnel between two optima (E3) to an *m-tunnel*: a
low-loss (m - 1)-dimensional "deformed sheet" through m optima at once. In the wedge model
it runs through the intersection of the m wedges, whose short directions are the union
of theirs, so every added optimum adds short directions
(E|union| = D (1 - (1 - s/D)^m), docs/model.md, section 1) and finding the tunnel in a
random subspace needs more dimensions.

Optima. One optimum per wedge k = 0 .. m_max - 1, *built on the wedge*: a random point at
radius ``radius`` projected onto W_k (:func:`landsim.geometry.project_onto_wedge`: its
short coordinates clipped to the wedge, the point an optimiser reaches). The m-tunnel
uses the first m of them, m = 2 .. m_max.

The tunnel. The m - 1 simplex on the optima is cut by its barycentric subdivision: a
point with barycentric weights lambda, sorted lambda_(1) >= ... >= lambda_(m), lies in
the sub-simplex spanned by the barycentres b_S of the faces S_k = {top k indices},
k = 1 .. m, with weights k (lambda_(k) - lambda_(k+1)) (lambda_(m+1) = 0); mapping
b_S to a point p_S gives x(lambda) = sum_k k (lambda_(k) - lambda_(k+1)) p_(S_k), which
is the flat simplex for p_S = b_S. The vertices p_{i} are the optima, fixed; every face
with two or more vertices gets a free point (2^m - m - 1 of them). Only the centre free
(every other p_S = b_S) is exactly :func:`landsim.paths.simplex_tunnel_points`; its
faces stay flat, so its edges are the straight lines between the optima and carry their
barriers (E3): a low-loss sheet needs the free face points as well, and m = 2 is E3's
one-bend chain. We train both by gradient descent on the expected loss over Dirichlet(1)
samples (fresh ``train_samples`` each step, starting from the flat simplex), with the
step of each free point divided by 2 E[w_S^2] (the curvature along a short coordinate;
w_S is the point's weight, E[w_S^2] = 2 / (m (m + 1) C(m, |S|)) under Dirichlet(1)), and
report the mean and maximum loss on the barycentric grid :func:`landsim.paths.simplex_grid`
(the finest with at most ``grid_points`` points) beside the flat simplex's.

Short directions: the exact count :func:`landsim.geometry.intersection` of wedges
0 .. m - 1 beside :func:`landsim.geometry.expected_short_count`.

Threshold dimension of the tunnel (a fixed number, D, of free parameters for every m).
The trained tunnel's centre is reset to the flat barycentre g and retrained in a random
subspace, c = g + P z (the other free points stay trained), on the same expected loss
(``threshold_samples`` fresh Dirichlet samples per step, heavy-ball steps with
``threshold_lr`` and ``threshold_momentum``, see :class:`_CentreSubspace`); a run
succeeds when the tunnel's maximum grid loss is <= ``tunnel_fraction`` x the flat
simplex's, the same low-loss standard as the tunnel's. Projection i is one dense draw
(:func:`landsim.subspace.subspace_projection`, D columns) for every d and m, d taking its
first d columns (nested subspaces), and the ``threshold_seeds`` runs of one (m, d) form
one batch. The threshold is the smallest d whose success rate is >= ``success_rate``,
found by a bracket-and-bisection search to within ``threshold_step``
(:func:`find_threshold`; it assumes the rate does not fall as d grows).

Rule (docs/claims.md, E4; one replicate): for every m the tunnel's maximum grid loss is
<= ``tunnel_fraction`` x the flat simplex's; the threshold exists for every m, never
decreases with m, and grows from m = 2 to m_max by at least the factor ``min_growth``;
the exact short count grows by the same factor.

Control (``control_config``): ``shared_short_axes = True`` gives every wedge wedge 0's
short axes, so the m-intersection is one wedge for every m: neither its short count nor
the threshold of the tunnel's centre can grow, and the rule must fail.

Random streams (:func:`landsim.seeding.children` of the run's seed): the landscape, the
optima, the tunnels' training samples, the centre-only tunnels', the projections and
the subspace runs' samples each have their own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import descent, geometry, paths, subspace
from .._checks import as_generator, int_at_least, real_in
from ..analysis import grows_clearly, growth
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, children
from ..spec import LandscapeSpec, WedgeSpec, random_landscape
from ._e4_tunnel import (  # the tunnel's pieces; those not used here are re-exported
    MAX_RESOLUTION,  # noqa: F401
    expected_loss_and_grad,  # noqa: F401
    face_sizes,  # noqa: F401
    face_table,  # noqa: F401
    flat_points,  # noqa: F401
    grid_resolution,
    mean_squared_face_weight,  # noqa: F401
    subdivision_weights,  # noqa: F401
    train_centre_only,
    train_tunnel,
    tunnel_points,
)
from ._landscape import LandscapeParams

ID = "E4"
TITLE = "m-tunnels between m optima"
CLAIM = ("m-tunnels join m optima at once, and their number of short directions grows "
         "with m (Fort & Jastrzebski 2019).")
CONTROL = ("Every wedge shares wedge 0's short axes (shared_short_axes): the m-intersection "
           "is one wedge for every m, so neither its short count nor the threshold "
           "dimension of the tunnel's centre can grow with m, and the rule must fail.")
#: Config fields that define the rule (control_config leaves them unchanged).
RULE_FIELDS = ("tunnel_fraction", "success_rate", "threshold_step", "min_growth")
#: Metrics aggregated over replicates; the first is the statistic the rule judges.
KEY_METRICS = ("threshold_growth", "short_count_growth", "threshold_m2", "threshold_mmax",
               "max_relative_tunnel_loss")
#: Names of the run's random streams, child i of the run's seed for name i.
STREAMS = ("landscape", "optima", "train", "centre_only", "projections", "threshold")

#: Largest number of optima (the tunnel stores 2^m face points).
M_LIMIT = 10
#: Factor by which the threshold search grows or shrinks d until it brackets the threshold.
GALLOP = 1.25
#: A subspace run whose mean sampled loss exceeds this multiple of its first one diverged.
DIVERGED = 1e6


@dataclass(frozen=True)
class Config(LandscapeParams):
    dim: int = 800  # D
    n_wedges: int = 8  # K (>= m_max)
    n_short: int = 40  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 10.0  # radius of the points projected onto the wedges (the optima)
    m_max: int = 6  # tunnels for m = 2 .. m_max
    train_steps: int = 120  # updates of the tunnel's free points
    train_samples: int = 128  # Dirichlet samples per update
    train_lr: float = 0.5  # step in units of the inverse curvature (1 = Newton step)
    grid_points: int = 2000  # most points of the barycentric grid
    tunnel_fraction: float = 0.01  # low loss: max grid loss <= this x the flat maximum
    threshold_seeds: int = 10  # subspace runs per (m, d)
    threshold_steps: int = 60  # updates of a subspace run
    threshold_samples: int = 32  # Dirichlet samples per update of a subspace run
    threshold_lr: float = 0.25  # heavy-ball step (units: D / (d x curvature))
    threshold_momentum: float = 0.9  # heavy-ball coefficient
    threshold_step: int = 4  # resolution of the threshold search
    success_rate: float = 0.9  # rate a subspace dimension must reach
    min_growth: float = 1.5  # rule: threshold and short count at m_max >= this x at m = 2
    shared_short_axes: bool = False  # control: every wedge has wedge 0's short axes

    def min_wedges(self) -> int:
        """An m-tunnel for every m <= m_max needs m_max wedges."""
        return self.m_max

    def __post_init__(self) -> None:
        for name in ("train_steps", "threshold_seeds", "threshold_steps", "threshold_step"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("train_samples", "threshold_samples"):
            int_at_least(name, getattr(self, name), 2)
        int_at_least("m_max", self.m_max, 3)
        if self.m_max > M_LIMIT:
            raise ValueError(f"m_max must be in [3, {M_LIMIT}], got {self.m_max}")
        self.check_landscape()
        least = math.comb(self.m_max + 1, self.m_max - 1)  # resolution 2 at m_max
        int_at_least("grid_points", self.grid_points, least)
        real_in("tunnel_fraction", self.tunnel_fraction, 0.0)
        real_in("radius", self.radius, 0.0, low_open=True)
        real_in("train_lr", self.train_lr, 0.0, 2.0, low_open=True)
        real_in("threshold_lr", self.threshold_lr, 0.0, low_open=True)
        real_in("threshold_momentum", self.threshold_momentum, 0.0, 1.0)
        real_in("success_rate", self.success_rate, 0.0, 1.0, low_open=True, high_open=False)
        real_in("min_growth", self.min_growth, 1.0)
        if not isinstance(self.shared_short_axes, (bool, np.bool_)):
            raise ValueError(f"shared_short_axes must be a bool, got {self.shared_short_axes!r}")


def quick_config() -> Config:
    return Config(dim=400, n_short=20, m_max=5, train_steps=120, train_samples=64,
                  grid_points=600, threshold_seeds=10, threshold_steps=60,
                  threshold_samples=24, threshold_step=4)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: every wedge shares wedge 0's short axes
    (the rule's fields unchanged)."""
    return dataclasses.replace(config, shared_short_axes=True)


def build_landscape(cfg: Config, seed: SeedLike | np.random.Generator) -> LandscapeSpec:
    """The run's landscape: ``random_landscape`` of the config's fields, and for the control
    (``shared_short_axes``) the same draw with every wedge given wedge 0's short axes (the
    wedges then coincide: one wedge, K times)."""
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=as_generator(seed))
    if not cfg.shared_short_axes:
        return spec
    axes = spec.wedges[0].short_axes
    return spec.replace(wedges=tuple(WedgeSpec(dim=w.dim, eps0=w.eps0, eps1=w.eps1,
                                               short_axes=axes) for w in spec.wedges))


# ------------------------------------------------------------------------ threshold
class _CentreSubspace:
    """Retrains the tunnel's centre in random subspaces c = g + P_i z, batched over seeds.

    Every other face point keeps its trained value. Each step draws ``threshold_samples``
    fresh Dirichlet samples per run (the same stream for every d: common random numbers)
    and takes a heavy-ball step on z with the gradient P^T dE/dc scaled by
    D / (d 2 E[w^2]): 2 E[w^2] is the curvature of the objective along a short
    coordinate of c, and D / d undoes the d / D by which a random d-dimensional subspace
    shrinks it. A run that diverges (non-finite or exploding loss) fails.
    """

    def __init__(self, spec: LandscapeSpec, table: np.ndarray, grid: np.ndarray,
                 projections: np.ndarray, cfg: Config, target: float, seed: SeedLike) -> None:
        self.spec, self.cfg, self.target, self.seed = spec, cfg, target, seed
        self.m = table.shape[0].bit_length() - 1
        self.base = table.copy()
        self.base[-1] = self.base[1 << np.arange(self.m)].mean(axis=0)  # centre at g
        self.curvature = 2.0 * 2.0 / (self.m * (self.m + 1))  # 2 E[(m min lambda)^2]
        self.grid_base = tunnel_points(self.base, grid)
        self.grid_w = paths.tunnel_centre_weights(grid)
        self.PT = projections  # float32 (seeds, D_max, D): row k of run i is column k of P

    def final_shifts(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """c - g of every run after training at dimension d, (seeds, D), and which runs
        stayed finite, (seeds,)."""
        cfg, spec, dim = self.cfg, self.spec, self.spec.dim
        PT = self.PT[:, :d]  # contiguous rows: einsum over them is ~3x faster than columns
        S, N = PT.shape[0], cfg.threshold_samples
        rng = np.random.default_rng(self.seed)
        z, velocity = np.zeros((S, d)), np.zeros((S, d))
        shift = np.zeros((S, dim))
        alive = np.ones(S, dtype=bool)
        scale = cfg.threshold_lr * dim / (d * self.curvature)
        first = None
        for _ in range(cfg.threshold_steps):
            lam = paths.simplex_dirichlet(self.m, S * N, rng)
            w = paths.tunnel_centre_weights(lam).reshape(S, N)
            X = tunnel_points(self.base, lam).reshape(S, N, dim) + w[:, :, None] * shift[:, None]
            loss, grad = geometry.loss_and_grad(spec, X.reshape(S * N, dim))
            mean = loss.reshape(S, N).mean(axis=1)
            first = mean if first is None else first
            alive &= mean <= DIVERGED * np.maximum(first, 1e-300)
            gc = np.einsum("sn,snd->sd", w, grad.reshape(S, N, dim)) / N
            velocity = (cfg.threshold_momentum * velocity
                        + np.einsum("skd,sd->sk", PT, gc.astype(np.float32)))
            z -= np.where(alive[:, None], scale * velocity, 0.0)
            z[~alive] = 0.0
            shift = np.einsum("skd,sk->sd", PT, z.astype(np.float32)).astype(np.float64)
        return shift, alive

    def success_rate(self, d: int) -> float:
        shift, alive = self.final_shifts(d)
        worst = np.array([geometry.loss(self.spec, self.grid_base + self.grid_w[:, None] * sh)
                          .max() for sh in shift])
        return float(np.mean(alive & (worst <= self.target)))


def find_threshold(rate_of, guess: int, dim: int, required: float, step: int
                   ) -> tuple[int | None, dict[int, float]]:
    """Smallest d in [1, dim] with rate_of(d) >= required, to within ``step``.

    Brackets the threshold from ``guess`` (growing or shrinking d by the factor
    :data:`GALLOP`), then bisects until the failing and the succeeding d are at most
    ``step`` apart; returns the succeeding d (None if d = dim fails) and every rate
    evaluated, {d: rate}. Assumes the rate does not fall as d grows.
    """
    rates: dict[int, float] = {}

    def ok(d: int) -> bool:
        if d not in rates:
            rates[d] = rate_of(d)
        return rates[d] >= required

    d = min(max(1, int(guess)), dim)
    if ok(d):
        hi, lo = d, 0
        while hi > 1:
            d = max(1, int(hi / GALLOP))
            if not ok(d):
                lo = d
                break
            hi = d
    else:
        lo, hi = d, None
        while lo < dim:
            d = min(dim, int(math.ceil(lo * GALLOP)))
            if ok(d):
                hi = d
                break
            lo = d
        if hi is None:
            return None, rates
    while hi - lo > step:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi, rates


# ------------------------------------------------------------------------ experiment
def build_optima(spec: LandscapeSpec, cfg: Config, seed) -> np.ndarray:
    """One optimum per wedge k < m_max: a random point at ``radius`` projected onto W_k."""
    X = descent.init_at_radius(cfg.dim, cfg.radius, cfg.m_max, seed=seed)
    return np.stack([geometry.project_onto_wedge(spec, k, X[k]) for k in range(cfg.m_max)])


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape and the optima")
    seq = dict(zip(STREAMS, children(seed, len(STREAMS))))
    spec = build_landscape(cfg, seq["landscape"])
    optima = build_optima(spec, cfg, np.random.default_rng(seq["optima"]))
    ms = np.arange(2, cfg.m_max + 1)
    with timer("projections"):
        # transposed (contiguous rows of P^T) and in float32: the products with P are the
        # bulk of the threshold search, and einsum runs them ~6x faster this way
        projections = np.stack([
            subspace.subspace_projection(cfg.dim, cfg.dim, "dense", np.random.default_rng(ss))
            .T.astype(np.float32)
            for ss in children(seq["projections"], cfg.threshold_seeds)])
    rows: dict[str, list] = {k: [] for k in (
        "short_count", "expected_short_count", "tunnel_mean", "tunnel_max", "flat_mean",
        "flat_max", "edge_max", "centre_only_mean", "centre_only_max", "threshold",
        "grid_size", "train_loss", "centre_only_train_loss")}
    th_m, th_d, th_rate = [], [], []
    guess_ratio = 1.2
    series_extra: dict[str, np.ndarray] = {}
    train_rngs, centre_rngs = ([np.random.default_rng(ss) for ss in children(seq[name],
                                                                            ms.size)]
                               for name in ("train", "centre_only"))
    th_seqs = children(seq["threshold"], ms.size)
    for n, m in enumerate(ms):
        report(progress, n / ms.size, f"m = {m}: training the tunnel")
        V = optima[:m]
        grid = paths.simplex_grid(int(m), grid_resolution(int(m), cfg.grid_points))
        with timer("short_counts"):
            rows["short_count"].append(geometry.intersection(spec, range(m)).short_count)
            rows["expected_short_count"].append(
                geometry.expected_short_count(cfg.dim, cfg.n_short, int(m)))
        with timer("flat"):
            flat = geometry.loss(spec, paths.simplex_points(V, grid))
        with timer("train"):
            table, curve = train_tunnel(spec, V, cfg, train_rngs[n])
            tunnel = geometry.loss(spec, tunnel_points(table, grid))
        with timer("train_centre_only"):
            centre, centre_curve = train_centre_only(spec, V, cfg, centre_rngs[n])
            centre_only = geometry.loss(spec, paths.simplex_tunnel_points(V, centre, grid))
        on_boundary = grid.min(axis=1) == 0
        for key, arr in (("tunnel", tunnel), ("flat", flat), ("centre_only", centre_only)):
            rows[f"{key}_mean"].append(float(arr.mean()))
            rows[f"{key}_max"].append(float(arr.max()))
        rows["edge_max"].append(float(flat[on_boundary].max()))
        rows["grid_size"].append(grid.shape[0])
        rows["train_loss"].append(curve)
        rows["centre_only_train_loss"].append(centre_curve)
        if m == 3:
            series_extra = {"m3_grid": grid, "m3_tunnel_loss": tunnel, "m3_flat_loss": flat}
        report(progress, (n + 0.5) / ms.size, f"m = {m}: threshold dimension")
        with timer("threshold"):
            sub = _CentreSubspace(spec, table, grid, projections, cfg,
                                  cfg.tunnel_fraction * float(flat.max()), th_seqs[n])
            # first guess: the expected count, times the last threshold / count ratio
            threshold, rates = find_threshold(
                sub.success_rate, guess=round(guess_ratio * rows["expected_short_count"][-1]),
                dim=cfg.dim, required=cfg.success_rate, step=cfg.threshold_step)
        rows["threshold"].append(float("nan") if threshold is None else float(threshold))
        if threshold is not None:
            guess_ratio = threshold / rows["expected_short_count"][-1]
        for d in sorted(rates):
            th_m.append(m)
            th_d.append(d)
            th_rate.append(rates[d])
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()
           if k not in ("train_loss", "centre_only_train_loss")}
    rel = arr["tunnel_max"] / arr["flat_max"]
    low = bool(np.all(arr["tunnel_max"] <= cfg.tunnel_fraction * arr["flat_max"]))
    counts_grow = grows_clearly(arr["short_count"], cfg.min_growth)
    thresholds_grow = grows_clearly(arr["threshold"], cfg.min_growth)
    th_growth, count_growth = growth(arr["threshold"]), growth(arr["short_count"])
    fmt = ", ".join
    verdict = Verdict(
        holds=low and counts_grow and thresholds_grow,
        rule=f"for every m = 2..{cfg.m_max} the trained tunnel's max grid loss is <= "
             f"{cfg.tunnel_fraction:g} x the flat simplex's; the threshold dimension of the "
             f"tunnel's centre (success rate >= {cfg.success_rate:g}, resolution "
             f"{cfg.threshold_step}) and the exact short count of the m-intersection both "
             f"exist for every m, never decrease with m and are >= {cfg.min_growth:g} x "
             f"larger at m = {cfg.m_max} than at m = 2 (docs/claims.md, E4)",
        evidence=f"threshold growth {th_growth:.3g}, short-count growth "
                 f"{count_growth:.3g} (minimum {cfg.min_growth:g}); "
                 f"tunnel max / flat max = [{fmt(f'{x:.2g}' for x in rel)}] for m = "
                 f"[{fmt(str(m) for m in ms)}] (flat max "
                 f"[{fmt(f'{x:.3g}' for x in arr['flat_max'])}]; the centre-only tunnel, "
                 f"whose edges stay straight, reaches "
                 f"[{fmt(f'{x:.3g}' for x in arr['centre_only_max'])}]); short counts "
                 f"[{fmt(str(int(x)) for x in arr['short_count'])}] (expected "
                 f"[{fmt(f'{x:.1f}' for x in arr['expected_short_count'])}]); thresholds "
                 f"[{fmt('none' if x != x else str(int(x)) for x in arr['threshold'])}].")
    report(progress, 1.0, "done")
    metrics = {"threshold_growth": th_growth, "short_count_growth": count_growth,
               "max_relative_tunnel_loss": float(rel.max()),
               "tunnel_max_loss": float(arr["tunnel_max"].max()),
               "flat_max_loss": float(arr["flat_max"].max()),
               "centre_only_min_max_loss": float(arr["centre_only_max"].min()),
               "short_count_m2": float(arr["short_count"][0]),
               "short_count_mmax": float(arr["short_count"][-1]),
               "max_count_deviation": float(np.max(np.abs(arr["short_count"]
                                                          - arr["expected_short_count"]))),
               "threshold_m2": float(arr["threshold"][0]),
               "threshold_mmax": float(arr["threshold"][-1]),
               "short_counts_grow": float(counts_grow),
               "thresholds_grow": float(thresholds_grow)}
    series = {"m": ms, **arr, "tunnel_relative_max": rel,
              "train_loss": np.stack(rows["train_loss"]),
              "centre_only_train_loss": np.stack(rows["centre_only_train_loss"]),
              "threshold_eval_m": np.asarray(th_m, dtype=np.int64),
              "threshold_eval_d": np.asarray(th_d, dtype=np.int64),
              "threshold_eval_rate": np.asarray(th_rate, dtype=np.float64), **series_extra}
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    s = result.series
    ms = s["m"]
    heat = "m3_grid" in s
    axes = fig.subplots(2, 2).ravel()  # 2 x 2: legible at half a page width
    if not heat:
        axes[3].remove()
    ax1, ax2, ax3 = axes[:3]
    ax1.plot(ms, s["short_count"], "o-", label="exact count of the m-intersection")
    ax1.plot(ms, s["expected_short_count"], "k--", lw=1, label="D (1 - (1 - s/D)^m)")
    ax1.set_xlabel("m (optima)")
    ax1.set_ylabel("short directions")
    ax1.set_title("short directions of the m-intersection", fontsize="medium")
    ax1.legend(fontsize="x-small")
    floor = 1e-16
    ax2.semilogy(ms, np.maximum(s["flat_max"], floor), "s-", label="flat simplex")
    ax2.semilogy(ms, np.maximum(s["centre_only_max"], floor), "^-",
                 label="trained centre only")
    ax2.semilogy(ms, np.maximum(s["tunnel_max"], floor), "o-", label="trained m-tunnel")
    ax2.semilogy(ms, np.maximum(s["tunnel_mean"], floor), "o:", label="m-tunnel (mean)")
    ax2.set_xlabel("m (optima)")
    ax2.set_ylabel("max loss on the grid")
    ax2.set_title("loss on the simplex", fontsize="medium")
    ax2.legend(fontsize="x-small")
    ax3.plot(ms, s["threshold"], "o-", label="threshold dimension (centre)")
    ax3.plot(ms, s["short_count"], "k--", lw=1, label="short count")
    ax3.set_xlabel("m (optima)")
    ax3.set_ylabel("subspace dimension d")
    ax3.set_title("threshold dimension of the tunnel", fontsize="medium")
    ax3.legend(fontsize="x-small")
    for ax in (ax1, ax2, ax3):
        ax.set_xticks(ms)
    if heat:
        lam = s["m3_grid"]
        xy = lam @ np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
        ax4 = axes[3]
        art = ax4.tripcolor(xy[:, 0], xy[:, 1], np.log10(np.maximum(s["m3_tunnel_loss"],
                                                                    floor)), shading="gouraud")
        fig.colorbar(art, ax=ax4, label="log10 loss")
        ax4.set_aspect("equal")
        ax4.set_axis_off()
        ax4.set_title("Trained 3-tunnel")
