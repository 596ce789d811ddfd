"""E3: independent optima are joined by low-loss tunnels that a straight line misses.

Draxler et al. (2018) and Garipov et al. (2018) found that two independently trained
networks are joined by a curve of low loss, although the straight line between them
crosses a high barrier. In the wedge model two optima in different wedges W_i, W_j are
joined through the intersection W_i n W_j: every point of the segment from an optimum
of W_i to a point of the intersection stays in W_i, so a path with one bend has no
barrier, while the midpoint of the straight line lies in neither wedge.

The optima are *found by descent*: gradient descent from ``n_starts`` random points at
radius ``radius`` to the wedge union (as in E1); the pair is the first converged run and
the first later converged run whose arg-min wedge differs. We record

- the barrier of the straight line (:func:`landsim.paths.path_barrier`);
- the barrier of two paths found by *training* one free point, each started on the line
  (free point at the midpoint, so step 0 is the line itself):
  a one-bend chain a -> c -> b and a quadratic Bezier curve with control point c. The
  training objective is the expected loss over uniform t, E_t L(gamma_c(t)), estimated
  each step on ``train_samples`` stratified values of t (one uniform draw in each of
  equal strata of [0, 1]). Its gradient follows from the chain rule,
  dE/dc = E_t [w(t) grad L(gamma_c(t))], with w(t) = 2 t (1 - t) for the Bezier curve
  (:func:`landsim.paths.bezier_control_weights`) and, for the chain, the weight of the
  middle point along each segment, w(t) = 1 - |2 t - 1| (the chain is trained with its
  bend at t = 1/2, each segment getting half of the samples; its reported profile is
  :func:`landsim.paths.chain`, parametrised by arc length). The step is
  ``train_lr * grad / (2 E_t[w^2])``: 2 E_t[w^2] is the curvature of the objective along
  a short coordinate of c, so ``train_lr`` = 1 would be a Newton step there and the same
  value suits both paths (E_t[w^2] = 2/15 for the Bezier curve, 1/3 for the chain);
- the analytic tunnel: the chain a -> p -> b through
  p = :func:`landsim.geometry.project_onto_intersection` of the midpoint.

The claim holds when the straight line has a real barrier, at least ``min_line_barrier``
times the median loss of the random starts, and the better of the two trained paths has
a barrier of at most ``barrier_fraction`` times the line's. Every barrier is measured on
``profile_points`` evenly spaced values of t, denser than the training samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import descent, geometry, paths
from .._checks import as_generator, choice, int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import LandscapeSpec, random_landscape
from ._common import Progress, Timer, check_landscape_fields, report

ID = "E3"
TITLE = "Tunnels between optima"
CLAIM = ("Independent optima are joined by low-loss tunnels that a straight line misses "
         "(Draxler et al. 2018; Garipov et al. 2018).")

#: Paths trained by this experiment, each with one free point.
PATH_KINDS = ("chain", "bezier")
#: E_t[w(t)^2] of the free point's weight under uniform t.
MEAN_SQUARED_WEIGHT = {"chain": 1.0 / 3.0, "bezier": 2.0 / 15.0}


@dataclass(frozen=True)
class Config:
    dim: int = 4000  # D
    n_wedges: int = 8  # K
    n_short: int = 400  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 20.0  # radius of the random starts
    n_starts: int = 8  # descent runs to pick the two optima from
    descent_lr: float = 0.2  # gradient-descent step towards the optima
    descent_steps: int = 400  # most descent steps
    target_loss: float = 1e-10  # a run is converged below this loss
    train_steps: int = 300  # updates of each path's free point
    train_samples: int = 64  # stratified values of t per update
    train_lr: float = 0.5  # step in units of the inverse curvature (1 = Newton step)
    record_every: int = 10  # barrier of the training path every this many steps
    profile_points: int = 201  # values of t on which barriers are measured
    min_line_barrier: float = 0.01  # verdict: line barrier >= this x median start loss
    barrier_fraction: float = 0.01  # verdict: trained barrier <= this x line barrier

    def __post_init__(self) -> None:
        check_landscape_fields(self, min_wedges=2)
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


def quick_config() -> Config:
    return Config(dim=1000, n_short=100, train_steps=150, train_samples=32, descent_steps=200,
                  profile_points=101)


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


# ------------------------------------------------------------------------ experiment
def find_optima(spec: LandscapeSpec, cfg: Config, seed: int):
    """Descend from random starts; returns (trajectory, i, j) with runs i, j converged in
    different arg-min wedges. Raises RuntimeError if no such pair exists."""
    x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_starts, seed=seed)
    traj = descent.descend(spec, x0, descent.DescentConfig(
        optimizer="gd", lr=cfg.descent_lr, steps=cfg.descent_steps,
        target_loss=cfg.target_loss, record_every=max(1, cfg.descent_steps // 50)), seed=seed)
    wedge = traj.argmin[-1]
    done = np.flatnonzero(traj.reached)
    for i in done:
        other = done[(done > i) & (wedge[done] != wedge[i])]
        if other.size:
            return traj, int(i), int(other[0])
    raise RuntimeError(f"no two of the {cfg.n_starts} descent runs converged in different "
                       f"wedges ({int(traj.reached.sum())} converged, wedges "
                       f"{sorted(set(wedge[done].tolist()))}); raise n_starts")


def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=seed)
    with timer("descent"):
        traj, i, j = find_optima(spec, cfg, seed)
    a, b = traj.final_x[i], traj.final_x[j]
    wa, wb = int(traj.argmin[-1, i]), int(traj.argmin[-1, j])
    start_loss = float(np.median(traj.loss[0]))
    t = paths.as_t(cfg.profile_points)
    report(progress, 0.1, "straight line and analytic tunnel")
    with timer("profiles"):
        line = profile(spec, "line", a, None, b, t)
        bend = geometry.project_onto_intersection(spec, [wa, wb], 0.5 * (a + b))
        analytic = profile(spec, "chain", a, bend, b, t)
    trained, profiles = {}, {}
    rngs = as_generator(seed).spawn(len(PATH_KINDS))
    for n, (kind, rng) in enumerate(zip(PATH_KINDS, rngs)):
        report(progress, 0.15 + 0.4 * n, f"training the {kind}")
        with timer(f"train_{kind}"):
            trained[kind] = train_path(spec, kind, a, b, cfg, rng)
            profiles[kind] = profile(spec, kind, a, trained[kind]["free"], b, t)
    barrier = {k: profiles[k].barrier for k in PATH_KINDS}
    best = min(PATH_KINDS, key=lambda k: barrier[k])
    ratio = barrier[best] / line.barrier if line.barrier > 0 else float("inf")
    line_ok = line.barrier >= cfg.min_line_barrier * start_loss and line.barrier > 0
    holds = bool(line_ok and barrier[best] <= cfg.barrier_fraction * line.barrier)
    verdict = Verdict(
        holds=holds,
        rule=f"the straight line's barrier is >= {cfg.min_line_barrier:g} x the median loss "
             f"of the random starts, and the better trained path (one-bend chain or "
             f"quadratic Bezier) has a barrier <= {cfg.barrier_fraction:g} x the line's",
        evidence=f"optima in wedges {wa} and {wb} (runs {i}, {j}); line barrier "
                 f"{line.barrier:.4g} ({line.barrier / start_loss:.3g} x the median start "
                 f"loss {start_loss:.4g}); trained chain {barrier['chain']:.3g} "
                 f"({barrier['chain'] / line.barrier:.3g} x line), Bezier "
                 f"{barrier['bezier']:.3g} ({barrier['bezier'] / line.barrier:.3g} x line); "
                 f"better: {best}; analytic tunnel through the intersection "
                 f"{analytic.barrier:.3g}.")
    report(progress, 1.0, "done")
    mid = 0.5 * (a + b)
    metrics = {
        "linear_barrier": line.barrier, "chain_barrier": barrier["chain"],
        "bezier_barrier": barrier["bezier"], "analytic_barrier": analytic.barrier,
        "best_trained_barrier": barrier[best], "best_is_bezier": float(best == "bezier"),
        "best_relative_barrier": ratio,
        "chain_relative_barrier": barrier["chain"] / line.barrier,
        "bezier_relative_barrier": barrier["bezier"] / line.barrier,
        "median_start_loss": start_loss,
        "endpoint_loss_max": float(max(traj.final_loss[i], traj.final_loss[j])),
        "optima_distance": float(np.linalg.norm(a - b)),
        "wedge_a": float(wa), "wedge_b": float(wb),
        "intersection_short_count": float(geometry.intersection(spec, [wa, wb]).short_count),
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
