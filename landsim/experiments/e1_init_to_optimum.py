"""E1: no significant obstacle on the straight line from initialisation to the optimum.

Goodfellow et al. (2014) saw the loss fall monotonically along the line from a network's
initialisation to its trained weights. In the wedge model the optimum lies in a wedge
reached by shrinking that wedge's short coordinates, so the line should show no bump
(docs/claims.md, section E1).

Measurement. A random landscape is drawn (stream "landscape"); ``n_starts`` points on the
sphere of radius ``radius`` (stream "starts") descend by gradient descent to the union.
Each line i ends at run i's optimum and starts at run i's initialisation (the claim,
``line_start="init"``). Along it the loss is evaluated at ``line_points`` evenly spaced t.
The *rise* of a profile is the largest increase of the loss over the lowest loss already
reached, max_t [L(t) - min_{t' <= t} L(t')] (:func:`largest_rise`); the *relative rise*
divides it by the *reference loss*, the loss at the initialisation of the run whose point
starts the line (:func:`relative_rise`; on the claim arm, the line's start loss).

Rule. The claim holds when every descent converges (final loss <= ``target_loss``) and
every relative rise is <= ``rise_tolerance`` (1 %: an obstacle of 1 % of the initial loss
is the smallest the rule counts as significant).

Control (``line_start="other_optimum"``, :func:`control_config`). Same landscape, starts
and descents; line i starts instead at the optimum of another run, the next one
(cyclically) whose optimum lies in a different wedge (:func:`partner_runs`). A straight
line between optima of different wedges leaves both wedges in the middle (the E3 barrier),
a natural obstacle, so the same rule must fail there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import descent, geometry, paths
from .._checks import choice, int_at_least, real_in
from ..analysis import LINE_STARTS, largest_rise, relative_rise
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, streams
from ..spec import random_landscape
from ._landscape import LandscapeParams

ID = "E1"
TITLE = "Initialisation to optimum"
CLAIM = ("There is no significant obstacle on the straight line from initialisation to "
         "the optimum (Goodfellow et al. 2014).")
CONTROL = ("Each line starts at the optimum of another run in a different wedge instead of "
           "at its own initialisation: a straight line between optima of different wedges "
           "leaves both wedges (the E3 barrier), so it crosses an obstacle and the rule "
           "must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("rise_tolerance", "target_loss")
#: Aggregated over replicates; the first is the judged statistic.
KEY_METRICS = ("max_relative_rise", "median_relative_rise", "median_reference_loss",
               "converged_fraction", "max_final_loss")


@dataclass(frozen=True)
class Config(LandscapeParams):
    dim: int = 4000  # D
    n_wedges: int = 8  # K
    n_short: int = 400  # s per wedge
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 20.0  # radius of the random starts
    n_starts: int = 16  # independent runs (one line each)
    lr: float = 0.2  # gradient-descent step
    steps: int = 400  # descent steps
    target_loss: float = 1e-10  # rule: a run is converged at or below this loss
    line_points: int = 201  # samples along each line
    rise_tolerance: float = 0.01  # rule: relative rise <= this (fraction of the initial loss)
    line_start: str = "init"  # "init" (claim) | "other_optimum" (control)

    def __post_init__(self) -> None:
        self.check_landscape()
        for name in ("n_starts", "steps"):
            int_at_least(name, getattr(self, name), 1)
        int_at_least("line_points", self.line_points, 3)
        for name in ("radius", "lr", "target_loss"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("rise_tolerance", self.rise_tolerance, 0.0)
        choice("line_start", self.line_start, LINE_STARTS)
        if self.line_start == "other_optimum" and self.n_starts < 2:
            raise ValueError(f"n_starts must be an integer >= 2 when line_start is "
                             f"'other_optimum' (a line joins two runs), got {self.n_starts}")


def quick_config() -> Config:
    return Config(dim=1000, n_wedges=4, n_short=100, n_starts=8, steps=200, line_points=101)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: lines start at another run's optimum in a
    different wedge (``line_start="other_optimum"``); nothing else changes."""
    return dataclasses.replace(config, line_start="other_optimum")


def partner_runs(wedges: np.ndarray) -> np.ndarray:
    """For each run i, the next run j (i + 1, i + 2, ... cyclically, j != i) whose optimum
    lies in a different wedge; the next run i + 1 if every optimum shares run i's wedge.

    Parameters
    ----------
    wedges : ndarray of int, shape (n,)
        Wedge of each run's optimum, n >= 2.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    wedges = np.asarray(wedges)
    n = wedges.size
    if n < 2:
        raise ValueError(f"partner_runs needs at least 2 runs, got {n}")
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        order = (i + np.arange(1, n)) % n
        other = order[wedges[order] != wedges[i]]
        out[i] = other[0] if other.size else order[0]
    return out


def verdict_of(relative: np.ndarray, reached: np.ndarray, rise: np.ndarray,
               reference: np.ndarray, cfg: Config) -> Verdict:
    """The rule of docs/claims.md (E1, toy) on the numbers of one run.

    Parameters
    ----------
    relative, rise, reference : ndarray, shape (k,)
        Relative rise, rise and reference loss of each line.
    reached : ndarray of bool, shape (n_starts,)
        Whether each descent converged.
    cfg : Config
    """
    worst = int(np.argmax(relative))
    holds = bool(np.all(reached) and np.all(relative <= cfg.rise_tolerance))
    return Verdict(
        holds=holds,
        rule=f"every run converges (loss <= {cfg.target_loss:g}) and the largest rise along "
             f"every line is <= {cfg.rise_tolerance:g} x the loss at the initialisation "
             f"the line's start came from",
        evidence=f"{int(np.sum(reached))}/{reached.size} runs converged; the largest "
                 f"relative rise is {relative[worst]:.3g} (line {worst}: rise "
                 f"{rise[worst]:.3g}, initial loss {reference[worst]:.3g}); the median "
                 f"relative rise is {np.median(relative):.3g}.")


def run(config: Config | None = None, seed: SeedLike = 0, progress: Progress = None
        ) -> Result:
    """Run E1 (or its control, by ``config.line_start``) on one replicate.

    Parameters
    ----------
    config : Config, optional
        ``Config()`` by default.
    seed : int or numpy.random.SeedSequence
        The replicate's seed; the landscape, the starts and the descent draw from separate
        child streams of it.
    progress : callable (fraction, message), optional

    Returns
    -------
    Result
        Series: ``line_loss`` (n_starts, line_points), ``rise``, ``relative_rise``,
        ``reference_loss``, ``line_source``, ``optimum_wedge`` (n_starts,) each, ``t``
        (line_points,), ``descent_step`` (R,), ``descent_loss`` (R, n_starts).
    """
    cfg = config or Config()
    timer = Timer()
    rng = streams(seed, ("landscape", "starts", "descent"))
    report(progress, 0.0, "building the landscape")
    spec = random_landscape(cfg.dim, cfg.n_wedges, cfg.n_short, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=rng["landscape"])
    with timer("descent"):
        x0 = descent.init_at_radius(cfg.dim, cfg.radius, cfg.n_starts, seed=rng["starts"])
        traj = descent.descend(spec, x0, descent.DescentConfig(
            optimizer="gd", lr=cfg.lr, steps=cfg.steps, target_loss=cfg.target_loss,
            record_every=max(1, cfg.steps // 50)), seed=rng["descent"])
    report(progress, 0.5, "loss along the lines")
    optima = traj.final_x  # (n_starts, D)
    wedge = geometry.argmin_wedge(spec, optima)  # (n_starts,)
    if cfg.line_start == "init":
        source = np.arange(cfg.n_starts)
        starts = x0
    else:
        source = partner_runs(wedge)
        starts = optima[source]
    different = (wedge[source] != wedge) & (cfg.line_start == "other_optimum")
    t = paths.as_t(cfg.line_points)
    with timer("lines"):
        profiles = np.stack([geometry.loss(spec, paths.line(starts[i], optima[i], t))
                             for i in range(cfg.n_starts)])  # (n_starts, T)
        reference = geometry.loss(spec, x0)[source]  # (n_starts,)
    rise = largest_rise(profiles)
    rel = relative_rise(rise, reference)
    verdict = verdict_of(rel, traj.reached, rise, reference, cfg)
    report(progress, 1.0, "done")
    return make_result(
        ID, cfg, seed,
        metrics={"max_relative_rise": float(rel.max()),
                 "median_relative_rise": float(np.median(rel)),
                 "median_reference_loss": float(np.median(reference)),
                 "converged_fraction": float(traj.reached.mean()),
                 "max_final_loss": float(traj.final_loss.max()),
                 "median_final_radius": float(np.median(traj.radius[-1])),
                 "different_wedge_fraction": float(different.mean())},
        series={"t": t, "line_loss": profiles, "rise": rise, "relative_rise": rel,
                "reference_loss": reference, "line_source": source, "optimum_wedge": wedge,
                "descent_step": traj.step, "descent_loss": traj.loss},
        verdict=verdict, timings=timer.done())


def plot(result: Result, fig) -> None:
    t = result.series["t"]
    prof = result.series["line_loss"]
    # results stored before the control existed have no reference: their lines started at
    # the initialisation, so the reference is the line's start loss
    ref = result.series.get("reference_loss", prof[:, 0])
    start = "another optimum" if result.config.get("line_start") == "other_optimum" \
        else "initialisation"
    ax1, ax2 = fig.subplots(1, 2)
    for row, scale in zip(prof, ref):
        ax1.plot(t, row / scale, lw=1, alpha=0.7)
    ax1.axhline(0.0, color="k", lw=0.5)
    ax1.set_xlabel(f"t along the line (0 = {start}, 1 = optimum)")
    ax1.set_ylabel("loss / initial loss")
    ax1.set_title(f"Loss along the lines ({result.arm})")
    steps = result.series["descent_step"]
    ax2.semilogy(steps, np.maximum(result.series["descent_loss"], 1e-16), lw=1, alpha=0.7)
    ax2.set_xlabel("gradient-descent step")
    ax2.set_ylabel("loss")
    ax2.set_title("Descent to the wedge union")
