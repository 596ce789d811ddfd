"""E3: independent optima are joined by low-loss tunnels that a straight line misses.

Draxler et al. (2018) and Garipov et al. (2018) found that two independently trained
networks are joined by a curve of low loss, although the straight line between them
crosses a high barrier. In the wedge model two optima in different wedges W_i, W_j are
joined through the intersection W_i n W_j: every point of the segment from an optimum
of W_i to a point of the intersection stays in W_i, so a path with one bend has no
barrier, while the midpoint of the straight line lies in neither wedge (docs/claims.md,
section E3).

Measurement. A random landscape is drawn (stream "landscape"); ``n_starts`` points on the
sphere of radius ``radius`` (stream "starts") descend by gradient descent to the union
(stream "descent"). The pair (a, b) is picked by :func:`pick_pair`: the first converged run
and the first later converged run whose arg-min wedge differs (``pair="different_wedges"``,
the claim). We record

- the barrier of the straight line (:func:`landsim.paths.path_barrier`);
- the barrier of two paths found by *training* one free point, each started on the line
  (free point at the midpoint, so step 0 is the line itself; streams "train_chain" and
  "train_bezier"): a one-bend chain a -> c -> b and a quadratic Bezier curve with control
  point c. The training objective is the expected loss over uniform t, E_t L(gamma_c(t)),
  estimated each step on ``train_samples`` stratified values of t (one uniform draw in
  each of equal strata of [0, 1]). Its gradient follows from the chain rule,
  dE/dc = E_t [w(t) grad L(gamma_c(t))], with w(t) = 2 t (1 - t) for the Bezier curve
  (:func:`landsim.paths.bezier_control_weights`) and, for the chain, the weight of the
  middle point along each segment, w(t) = 1 - |2 t - 1| (the chain is trained with its
  bend at t = 1/2, each segment getting half of the samples; its reported profile is
  :func:`landsim.paths.chain`, parametrised by arc length). The step is
  ``train_lr * grad / (2 E_t[w^2])``: 2 E_t[w^2] is the curvature of the objective along
  a short coordinate of c, so ``train_lr`` = 1 would be a Newton step there and the same
  value suits both paths (E_t[w^2] = 2/15 for the Bezier curve, 1/3 for the chain);
- the analytic tunnel: the chain a -> p -> b through
  p = :func:`landsim.geometry.project_onto_intersection` of the midpoint (reported).

Rule (:func:`verdict_of`). The claim holds when the straight line has a real barrier,
``line_relative_barrier`` = B_line / L_ref >= ``min_line_barrier`` (L_ref: the median
loss of the random starts), and the better trained path removes nearly all of it,
``best_relative_barrier`` = min(B_chain, B_bezier) / B_line <= ``barrier_fraction``.
Every barrier is measured on ``profile_points`` evenly spaced values of t, denser than the
training samples.

Control (``pair="same_wedge"``, :func:`control_config`). Same landscape, starts and
descents; the pair is the first two converged runs whose optima lie in the *same* wedge
(it exists by pigeonhole once more runs converge than there are wedges, so the control
uses ``n_starts >= n_wedges + 1``). No tunnel is needed between them: the line stays in
the wedge up to a small narrowing at the midpoint, so the line-barrier part of the rule
must fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import descent, geometry, paths
from .._checks import as_generator, choice, int_at_least, real_in
from ..analysis import relative_barriers
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, streams
from ..spec import LandscapeSpec, random_landscape
from ._landscape import LandscapeParams

ID = "E3"
TITLE = "Tunnels between optima"
CLAIM = ("Independent optima are joined by low-loss tunnels that a straight line misses "
         "(Draxler et al. 2018; Garipov et al. 2018).")
CONTROL = ("The two optima are picked in the same wedge instead of in different ones: no "
           "tunnel is needed between them, the straight line stays (almost) inside the "
           "wedge and has no significant barrier, so the rule must fail.")
#: How the pair of optima is picked: in different wedges (the claim) or in one wedge
#: (the control).
PAIRS = ("different_wedges", "same_wedge")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("min_line_barrier", "barrier_fraction", "target_loss")
#: Aggregated over replicates; the first is the first judged statistic.
KEY_METRICS = ("line_relative_barrier", "best_relative_barrier", "linear_barrier",
               "best_trained_barrier", "median_start_loss")

#: Paths trained by this experiment, each with one free point.
PATH_KINDS = ("chain", "bezier")
#: E_t[w(t)^2] of the free point's weight under uniform t.
MEAN_SQUARED_WEIGHT = {"chain": 1.0 / 3.0, "bezier": 2.0 / 15.0}


@dataclass(frozen=True)
class Config(LandscapeParams):
    dim: int = 4000  # D
    n_wedges: int = 8  # K
    n_short: int = 400  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 20.0  # radius of the random starts
    n_starts: int = 9  # descent runs to pick the two optima from (> n_wedges: see pair)
    descent_lr: float = 0.2  # gradient-descent step towards the optima
    descent_steps: int = 400  # most descent steps
    target_loss: float = 1e-10  # rule: an optimum is a run converged at or below this loss
    train_steps: int = 300  # updates of each path's free point
    train_samples: int = 64  # stratified values of t per update
    train_lr: float = 0.5  # step in units of the inverse curvature (1 = Newton step)
    record_every: int = 10  # barrier of the training path every this many steps
    profile_points: int = 201  # values of t on which barriers are measured
    min_line_barrier: float = 0.01  # rule: line barrier >= this x median start loss
    barrier_fraction: float = 0.01  # rule: trained barrier <= this x line barrier
    pair: str = "different_wedges"  # "different_wedges" (claim) | "same_wedge" (control)

    def min_wedges(self) -> int:
        """Two optima in different wedges need two wedges."""
        return 2

    def __post_init__(self) -> None:
        self.check_landscape()
        for name in ("descent_steps", "train_steps", "record_every"):
            int_at_least(name, getattr(self, name), 1)
        for name in ("n_starts", "train_samples"):
            int_at_least(name, getattr(self, name), 2)
        int_at_least("profile_points", self.profile_points, 3)
        for name in ("min_line_barrier", "barrier_fraction"):
            real_in(name, getattr(self, name), 0.0)
        for name in ("radius", "descent_lr", "target_loss"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("train_lr", self.train_lr, 0.0, 2.0, low_open=True)
        choice("pair", self.pair, PAIRS)
        if self.pair == "same_wedge" and self.n_starts <= self.n_wedges:
            raise ValueError(f"n_starts must be an integer >= n_wedges + 1 = "
                             f"{self.n_wedges + 1} when pair is 'same_wedge' (so that two "
                             f"optima share a wedge by pigeonhole), got {self.n_starts}")


def quick_config() -> Config:
    return Config(dim=1000, n_short=100, train_steps=150, train_samples=32, descent_steps=200,
                  profile_points=101)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: the pair of optima lies in one wedge
    (``pair="same_wedge"``), with ``n_starts`` raised to ``n_wedges + 1`` if it is smaller
    (the first ``n_starts`` starts are the claim arm's); nothing else changes."""
    return dataclasses.replace(config, pair="same_wedge",
                               n_starts=max(config.n_starts, config.n_wedges + 1))


# ------------------------------------------------------------------------ paths
def free_point_weights(kind: str, t) -> np.ndarray:
    """Weight w(t) of the free point in the path, which is also d gamma(t) / dc.

    ``"bezier"``: 2 t (1 - t); ``"chain"`` (bend at t = 1/2): 1 - |2 t - 1|.

    Parameters
    ----------
    kind : {"chain", "bezier"}
    t : int or array_like, shape (T,)

    Returns
    -------
    ndarray, shape (T,)
    """
    kind = choice("kind", kind, PATH_KINDS)
    if kind == "bezier":
        return paths.bezier_control_weights(t)
    t = paths.as_t(t)
    return 1.0 - np.abs(2.0 * t - 1.0)


def path_points(kind: str, a, free, b, t) -> np.ndarray:
    """Points gamma(t) of the trained path, shape (T, D).

    ``"bezier"``: :func:`landsim.paths.bezier` with control point ``free``;
    ``"chain"``: a -> free for t in [0, 1/2], free -> b for t in [1/2, 1], each segment
    traversed at constant speed (the parametrisation of the training objective).
    """
    kind = choice("kind", kind, PATH_KINDS)
    if kind == "bezier":
        return paths.bezier(a, free, b, t)
    t = paths.as_t(t)
    a, free, b = (np.asarray(v, dtype=np.float64) for v in (a, free, b))
    w = free_point_weights("chain", t)[:, None]
    end = np.where(t[:, None] <= 0.5, a, b)
    return (1.0 - w) * end + w * free


def expected_loss_and_grad(spec: LandscapeSpec, kind: str, a, free, b, t
                           ) -> tuple[float, np.ndarray]:
    """Mean of L(gamma(t)) over the given t, and its gradient with respect to the free point.

    The gradient is mean_t w(t) grad L(gamma(t)) (chain rule, w from
    :func:`free_point_weights`).

    Returns
    -------
    value : float
    grad : ndarray, shape (D,)
    """
    t = paths.as_t(t)
    loss, grad = geometry.loss_and_grad(spec, path_points(kind, a, free, b, t))
    w = free_point_weights(kind, t)
    # an elementwise reduction, not w @ grad: a BLAS call between kernel calls makes the
    # next (threaded) kernel call wait for the BLAS worker threads
    return float(loss.mean()), np.einsum("t,td->d", w, grad) / t.size


def stratified_t(n: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform draw in each of the n equal strata of [0, 1], shape (n,)."""
    return (np.arange(n) + rng.random(n)) / n


def profile(spec: LandscapeSpec, kind: str, a, free, b, t) -> paths.PathProfile:
    """Loss profile and barrier of a path on the values t (``t[0] = 0``, ``t[-1] = 1``).

    ``"line"`` ignores ``free``; ``"chain"`` is :func:`landsim.paths.chain` through
    (a, free, b), parametrised by arc length; ``"bezier"`` is :func:`landsim.paths.bezier`.
    """
    kind = choice("kind", kind, ("line",) + PATH_KINDS)
    if kind == "line":
        pts = paths.line(a, b, t)
    elif kind == "chain":
        pts = paths.chain(np.stack([a, free, b]), t)
    else:
        pts = paths.bezier(a, free, b, t)
    return paths.path_barrier(spec, pts, t)


def train_path(spec: LandscapeSpec, kind: str, a, b, cfg: Config, seed=0) -> dict:
    """Train the free point of a chain or Bezier path from the line's midpoint.

    Returns a dict with ``free`` (D,), ``loss`` (train_steps + 1,) the sampled expected
    loss before each update and after the last, ``record_step`` and ``record_barrier``
    (barrier on ``cfg.profile_points`` values of t at step 0, every ``record_every`` steps
    and at the end).
    """
    rng = as_generator(seed)
    t_dense = paths.as_t(cfg.profile_points)
    scale = cfg.train_lr / (2.0 * MEAN_SQUARED_WEIGHT[choice("kind", kind, PATH_KINDS)])
    free = 0.5 * (np.asarray(a, dtype=np.float64) + np.asarray(b, dtype=np.float64))
    losses = np.empty(cfg.train_steps + 1)
    rec_step, rec_barrier = [], []
    for step in range(cfg.train_steps + 1):
        if step % cfg.record_every == 0 or step == cfg.train_steps:
            rec_step.append(step)
            rec_barrier.append(profile(spec, kind, a, free, b, t_dense).barrier)
        value, grad = expected_loss_and_grad(spec, kind, a, free, b,
                                             stratified_t(cfg.train_samples, rng))
        losses[step] = value
        if step < cfg.train_steps:
            free = free - scale * grad
    return {"free": free, "loss": losses, "record_step": np.asarray(rec_step, dtype=np.int64),
            "record_barrier": np.asarray(rec_barrier)}


# ------------------------------------------------------------------------ the rule
def pick_pair(wedges, reached, pair: str = "different_wedges") -> tuple[int, int]:
    """The pair of runs whose optima are compared.

    ``"different_wedges"``: the first converged run i that has a later converged run in
    another wedge, and the first such run j. ``"same_wedge"``: the first converged run i
    that has a later converged run in its own wedge, and the first such run j.

    Parameters
    ----------
    wedges : array_like of int, shape (n,)
        Arg-min wedge of each run's final point.
    reached : array_like of bool, shape (n,)
        Whether each run converged.
    pair : {"different_wedges", "same_wedge"}

    Returns
    -------
    (i, j) : tuple of int, i < j

    Raises
    ------
    RuntimeError
        If no such pair exists.
    """
    pair = choice("pair", pair, PAIRS)
    wedges = np.asarray(wedges)
    done = np.flatnonzero(np.asarray(reached, dtype=bool))
    for i in done:
        later = done[done > i]
        same = wedges[later] == wedges[i]
        match = later[same if pair == "same_wedge" else ~same]
        if match.size:
            return int(i), int(match[0])
    where = "one wedge" if pair == "same_wedge" else "different wedges"
    raise RuntimeError(f"no two of the {wedges.size} descent runs converged in {where} "
                       f"({done.size} converged, wedges "
                       f"{sorted(set(wedges[done].tolist()))}); raise n_starts")


def verdict_of(line_barrier: float, barriers: dict, reference: float, cfg: Config,
               detail: str = "") -> Verdict:
    """The rule of docs/claims.md (E3, toy) on the numbers of one pair of optima.

    Parameters
    ----------
    line_barrier : float
        The straight line's barrier B_line.
    barriers : dict of str to float
        Barrier of each trained path, ``{"chain": ..., "bezier": ...}``.
    reference : float
        L_ref, the median loss of the random starts.
    cfg : Config
        Supplies ``min_line_barrier`` and ``barrier_fraction``.
    detail : str
        Extra evidence (which runs, wedges) put before the numbers.
    """
    best = min(barriers, key=lambda k: barriers[k])
    line_rel, best_rel = relative_barriers(line_barrier, barriers[best], reference)
    line_ok = line_barrier > 0 and line_rel >= cfg.min_line_barrier
    holds = bool(line_ok and best_rel <= cfg.barrier_fraction)
    trained = ", ".join(f"{k} {v:.3g}" for k, v in barriers.items())
    return Verdict(
        holds=holds,
        rule=f"the straight line's barrier is >= {cfg.min_line_barrier:g} x the median loss "
             f"of the random starts (and > 0), and the better trained path (one-bend chain "
             f"or quadratic Bezier) has a barrier <= {cfg.barrier_fraction:g} x the line's",
        evidence=f"{detail}line barrier {line_barrier:.4g} = {line_rel:.3g} x the median "
                 f"start loss {reference:.4g} (needs >= {cfg.min_line_barrier:g}); trained "
                 f"barriers {trained}; better: {best}, {best_rel:.3g} x the line's (needs "
                 f"<= {cfg.barrier_fraction:g}).")


# ------------------------------------------------------------------------ experiment
def find_optima(spec: LandscapeSpec, cfg: Config, rng: dict):
    """Descend from random starts (``rng["starts"]``, ``rng["descent"]``); returns
    (trajectory, i, j) with runs i, j picked by :func:`pick_pair` (``cfg.pair``).
    Raises RuntimeError if no such pair exists."""
    x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_starts, seed=rng["starts"])
    traj = descent.descend(spec, x0, descent.DescentConfig(
        optimizer="gd", lr=cfg.descent_lr, steps=cfg.descent_steps,
        target_loss=cfg.target_loss, record_every=max(1, cfg.descent_steps // 50)),
        seed=rng["descent"])
    i, j = pick_pair(traj.argmin[-1], traj.reached, cfg.pair)
    return traj, i, j


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    cfg = config or Config()
    timer = Timer()
    rng = streams(seed, ("landscape", "starts", "descent") + tuple(f"train_{k}"
                                                                  for k in PATH_KINDS))
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=rng["landscape"])
    with timer("descent"):
        traj, i, j = find_optima(spec, cfg, rng)
    a, b = traj.final_x[i], traj.final_x[j]
    wa, wb = int(traj.argmin[-1, i]), int(traj.argmin[-1, j])
    start_loss = float(np.median(traj.loss[0]))
    t = paths.as_t(cfg.profile_points)
    report(progress, 0.1, "straight line and analytic tunnel")
    with timer("profiles"):
        line = profile(spec, "line", a, None, b, t)
        bend = geometry.project_onto_intersection(spec, sorted({wa, wb}), 0.5 * (a + b))
        analytic = profile(spec, "chain", a, bend, b, t)
    trained, profiles = {}, {}
    for n, kind in enumerate(PATH_KINDS):
        report(progress, 0.15 + 0.4 * n, f"training the {kind}")
        with timer(f"train_{kind}"):
            trained[kind] = train_path(spec, kind, a, b, cfg, rng[f"train_{kind}"])
            profiles[kind] = profile(spec, kind, a, trained[kind]["free"], b, t)
    barrier = {k: profiles[k].barrier for k in PATH_KINDS}
    best = min(PATH_KINDS, key=lambda k: barrier[k])
    line_rel, best_rel = relative_barriers(line.barrier, barrier[best], start_loss)
    verdict = verdict_of(
        line.barrier, barrier, start_loss, cfg,
        detail=f"optima in wedges {wa} and {wb} (runs {i}, {j}); analytic tunnel through "
               f"the intersection {analytic.barrier:.3g}; ")
    report(progress, 1.0, "done")
    mid = 0.5 * (a + b)
    metrics = {
        "line_relative_barrier": line_rel, "best_relative_barrier": best_rel,
        "linear_barrier": line.barrier, "chain_barrier": barrier["chain"],
        "bezier_barrier": barrier["bezier"], "analytic_barrier": analytic.barrier,
        "best_trained_barrier": barrier[best], "best_is_bezier": float(best == "bezier"),
        "chain_relative_barrier": relative_barriers(line.barrier, barrier["chain"],
                                                    start_loss)[1],
        "bezier_relative_barrier": relative_barriers(line.barrier, barrier["bezier"],
                                                     start_loss)[1],
        "median_start_loss": start_loss,
        "endpoint_loss_max": float(max(traj.final_loss[i], traj.final_loss[j])),
        "converged_fraction": float(np.mean(traj.reached)),
        "optima_distance": float(np.linalg.norm(a - b)),
        "same_wedge": float(wa == wb),
        "wedge_a": float(wa), "wedge_b": float(wb),
        "intersection_short_count": float(geometry.intersection(spec, sorted({wa, wb}))
                                          .short_count),
        "chain_free_moved": float(np.linalg.norm(trained["chain"]["free"] - mid)),
        "bezier_free_moved": float(np.linalg.norm(trained["bezier"]["free"] - mid)),
        "chain_final_expected_loss": float(trained["chain"]["loss"][-1]),
        "bezier_final_expected_loss": float(trained["bezier"]["loss"][-1]),
    }
    series = {
        "t": t, "line_loss": line.loss, "chain_loss": profiles["chain"].loss,
        "bezier_loss": profiles["bezier"].loss, "analytic_loss": analytic.loss,
        "train_step": np.arange(cfg.train_steps + 1),
        "chain_train_loss": trained["chain"]["loss"],
        "bezier_train_loss": trained["bezier"]["loss"],
        "record_step": trained["chain"]["record_step"],
        "chain_record_barrier": trained["chain"]["record_barrier"],
        "bezier_record_barrier": trained["bezier"]["record_barrier"],
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    s = result.series
    t = s["t"]
    ax1, ax2 = fig.subplots(1, 2)
    for key, label, style in (("line_loss", "straight line", "-"),
                              ("chain_loss", "trained 1-bend chain", "-"),
                              ("bezier_loss", "trained Bezier", "--"),
                              ("analytic_loss", "analytic tunnel", ":")):
        ax1.plot(t, s[key], style, lw=1.5, label=label)
    ax1.set_xlabel("t along the path (0 = optimum a, 1 = optimum b)")
    ax1.set_ylabel("loss")
    ax1.set_title("Loss between two optima")
    ax1.legend(fontsize="small")
    floor = 1e-16
    for kind, colour in (("chain", "C1"), ("bezier", "C2")):
        ax2.semilogy(s["train_step"], np.maximum(s[f"{kind}_train_loss"], floor), lw=1,
                     color=colour, label=f"{kind}: expected loss")
        ax2.semilogy(s["record_step"], np.maximum(s[f"{kind}_record_barrier"], floor), "o",
                     ms=3, color=colour, label=f"{kind}: barrier")
    ax2.axhline(result.metrics["linear_barrier"], color="C0", lw=1, ls="-",
                label="straight-line barrier")
    ax2.set_xlabel("training step")
    ax2.set_ylabel("loss")
    ax2.set_title("Training the free point")
    ax2.legend(fontsize="small")
