"""E2: random low-dimensional subspaces suffice; the threshold dimension grows with s.

Li et al. (2018) train networks in random d-dimensional subspaces, x = x0 + P z, and find
that a d far below the number of weights D already reaches a good solution: the *intrinsic
dimension*. Fort & Jastrzebski (2019) explain it with the wedges: a wedge has only s short
directions, and a random affine subspace of dimension d meets an n = D - s dimensional
set in general position exactly when d + n >= D, i.e. d >= s (docs/claims.md, section E2:
predicted threshold ~ s). That holds in the *narrow-wedge* regime
eps1 << sqrt(2 log s / n); for wider wedges the radial escape (docs/model.md, section 2) lets
descent reach a wedge by moving outward, and the threshold drops far below s.

Measurement. For every s in ``n_short`` we draw a landscape of ``n_wedges`` axis-aligned
wedges with s short axes each (width eps0 + eps1 r; stream "landscape", one child per s)
and run :func:`landsim.subspace.threshold_dimension` (stream "runs", one child per s):
``n_seeds`` starts uniform on the sphere of ``radius``, one dense orthonormal projection
per seed (nested in d), heavy-ball descent on z for at most ``steps`` updates; a run
succeeds when the landscape loss reaches ``target_loss``, and the threshold is the
smallest d on the grid whose success rate is >= ``success_rate`` (0.9, Li et al. 2018).
The grid is relative to s: d_i = round(d_ratios[i] s), raised to d_(i-1) + 1 where
rounding makes two equal, so every s has the same number of dimensions. The step is
``lr_scale * D / (sqrt(d_max) + sqrt(s))^2`` with d_max the largest d of that s: along z
the loss has curvature 2 P_S^T P_S (P_S the s short rows of P), whose largest eigenvalue
is ~ 2 (sqrt(d) + sqrt(s))^2 / D (Marchenko-Pastur edge), and heavy ball is stable for
lr x curvature < 2 (1 + momentum). A least-squares line threshold = slope x s + intercept
(with its R^2) summarises the growth (reported, not judged).

Rule (:func:`verdict_holds`). The claim holds when a threshold is found for every s, the
thresholds are strictly increasing in s, and every threshold / s lies in
[``band_low``, ``band_high``] (default [0.5, 2]). The band is fixed by the model, not by
the measurement: below s the subspace can meet the wedge only through its finite width
(a fraction of the s conditions already met at the start), and above s the only obstacle
left is the conditioning of P_S, whose condition number at d = 2 s is
(sqrt 2 + 1) / (sqrt 2 - 1) ~ 5.8, which a few hundred heavy-ball steps overcome; a
threshold outside a factor 2 of s is not "~ s". The grid must reach below ``band_low``
and up to ``band_high`` so that a threshold outside the band can be seen.

Control (:func:`control_config`). The same sizes, seeds, starts and grid with eps1 set to
``control_escape_multiple`` (2) times the largest radial-escape scale sqrt(2 log s / n)
over the s values: wedges wider than the escape scale for every s. A point at the starts'
radius along almost any direction is then inside, or next to, a wedge, so subspaces of a
few dimensions succeed, the thresholds fall far below s / 2 and the same rule must fail.
This control replaces the former in-run sweep over eps1 (which cost half the run and was
not judged): the wide-wedge regime is now measured for every s, under the rule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import descent, subspace
from .._checks import int_at_least, real_in
from ..analysis import line_fit
from ..experiment_kit import Progress, Timer, report
from ..results import Result, Verdict, make_result
from ..seeding import SeedLike, children
from ..spec import random_landscape
from ._landscape import LandscapeParams

ID = "E2"
TITLE = "Intrinsic dimension"
CLAIM = ("Training in random low-dimensional subspaces works: the solution manifold is "
         "high-dimensional, and the threshold subspace dimension grows with the number s "
         "of short directions, about s in the narrow-wedge regime (Li et al. 2018; Fort & "
         "Jastrzebski 2019).")
CONTROL = ("Wedges wider than the radial-escape scale (eps1 = 2 x the largest "
           "sqrt(2 log s / n) over the s values): a point along almost any direction is "
           "then in or next to a wedge, so subspaces far smaller than s already succeed and "
           "the threshold / s band must fail.")
#: The fields of the rule; :func:`control_config` never changes them.
RULE_FIELDS = ("band_low", "band_high", "success_rate", "target_loss")
#: Aggregated over replicates; the first is the statistic judged against ``band_low``.
KEY_METRICS = ("min_threshold_ratio", "max_threshold_ratio", "fit_slope",
               "n_thresholds_found", "max_eps1_over_escape")
#: The run's streams (children of its seed): one child per s in each.
_STREAMS = ("landscape", "runs")


def _increasing_tuple(name: str, value, *, integer: bool, low: float, low_open: bool,
                      least: int = 1) -> tuple:
    """A strictly increasing tuple of numbers, each above ``low``, with >= ``least`` values."""
    if not isinstance(value, (tuple, list)) or len(value) < least:
        raise ValueError(f"{name} must be a tuple of at least {least} values, got {value!r}")
    if integer:
        items = tuple(int_at_least(f"{name}[{i}]", v, int(low) + int(low_open))
                      for i, v in enumerate(value))
    else:
        items = tuple(real_in(f"{name}[{i}]", v, low, low_open=low_open)
                      for i, v in enumerate(value))
    if any(b <= a for a, b in zip(items, items[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {value!r}")
    return items


@dataclass(frozen=True)
class Config(LandscapeParams):
    dim: int = 1000  # D
    n_wedges: int = 4  # K wedges per landscape
    n_short: tuple[int, ...] = (50, 100, 200, 400)  # the s values, one landscape each
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 10.0  # radius of the random starts
    d_ratios: tuple[float, ...] = (0.01, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.1, 1.25, 1.5,
                                   2.0)  # subspace dimensions d / s tried
    n_seeds: int = 10  # runs (start + projection) per d
    steps: int = 300  # most heavy-ball updates of a subspace run
    lr_scale: float = 0.5  # step x largest curvature along z (stable below 2 (1 + momentum))
    momentum: float = 0.9  # heavy-ball coefficient
    target_loss: float = 1e-8  # rule: a run succeeds at this landscape loss
    success_rate: float = 0.9  # rule: rate a dimension must reach (Li et al. 2018)
    band_low: float = 0.5  # rule: every threshold / s >= this ...
    band_high: float = 2.0  # ... and <= this
    control_escape_multiple: float = 2.0  # control: eps1 = this x the largest escape scale

    def __post_init__(self) -> None:
        shorts = _increasing_tuple("n_short", self.n_short, integer=True, low=1,
                                   low_open=False, least=2)
        object.__setattr__(self, "n_short", shorts)
        self.check_landscape()
        for name in ("n_seeds", "steps"):
            int_at_least(name, getattr(self, name), 1)
        object.__setattr__(self, "d_ratios", _increasing_tuple(
            "d_ratios", self.d_ratios, integer=False, low=0.0, low_open=True, least=2))
        real_in("target_loss", self.target_loss, 0.0)
        for name in ("radius", "lr_scale", "control_escape_multiple"):
            real_in(name, getattr(self, name), 0.0, low_open=True)
        real_in("momentum", self.momentum, 0.0, 1.0)
        real_in("success_rate", self.success_rate, 0.0, 1.0, low_open=True, high_open=False)
        real_in("band_low", self.band_low, 0.0, low_open=True)
        real_in("band_high", self.band_high, self.band_low, low_open=True)
        if not self.d_ratios[0] < self.band_low:
            raise ValueError(f"d_ratios must start below band_low = {self.band_low:g} (so that "
                             f"a threshold under the band can be seen), got {self.d_ratios[0]!r}")
        if not self.d_ratios[-1] >= self.band_high:
            raise ValueError(f"d_ratios must reach band_high = {self.band_high:g} (so that a "
                             f"threshold above the band can be seen), got {self.d_ratios[-1]!r}")
        for s in shorts:
            top = int(dimension_grid(s, self.d_ratios)[-1])
            if top > self.dim:
                raise ValueError(f"d_ratios[-1] x s must be <= dim = {self.dim}, got "
                                 f"{self.d_ratios[-1]!r} x {s} -> d = {top}")


def quick_config() -> Config:
    return Config(dim=400, n_short=(20, 40, 80))


def control_eps1(config: Config) -> float:
    """The control's eps1: ``control_escape_multiple`` x the largest radial-escape scale
    sqrt(2 log s / (D - s)) over the s values of ``config`` (the largest s's)."""
    return config.control_escape_multiple * max(escape_eps1(config.dim, s)
                                                for s in config.n_short)


def control_config(config: Config) -> Config:
    """The negative control of ``config``: wedges wider than the radial-escape scale for
    every s (eps1 = :func:`control_eps1`); nothing else changes."""
    return dataclasses.replace(config, eps1=control_eps1(config))


# ------------------------------------------------------------------------ helpers
def dimension_grid(s: int, ratios) -> np.ndarray:
    """Subspace dimensions of one s: round(ratio s), at least 1 and strictly increasing.

    Parameters
    ----------
    s : int
        Short directions per wedge.
    ratios : sequence of float, shape (n_dims,)
        Strictly increasing d / s.

    Returns
    -------
    ndarray of int64, shape (n_dims,)
        d_i = max(round(ratios[i] s), d_(i-1) + 1), d_0 >= 1.
    """
    dims = np.empty(len(ratios), dtype=np.int64)
    prev = 0
    for i, r in enumerate(ratios):
        prev = max(int(round(r * s)), prev + 1)
        dims[i] = prev
    return dims


def step_size(dim: int, s: int, d_max: int, lr_scale: float) -> float:
    """``lr_scale * D / (sqrt(d_max) + sqrt(s))^2``: ``lr_scale`` over the largest
    curvature 2 P_S^T P_S along z, up to the factor 2 (see the module docstring)."""
    return lr_scale * dim / (math.sqrt(d_max) + math.sqrt(s)) ** 2


def escape_eps1(dim: int, s: int) -> float:
    """Radial-escape scale sqrt(2 log s / n), n = D - s (docs/model.md, section 2).

    Above it, a point far out along a random direction lies inside the wedge; the
    narrow regime is eps1 well below it.
    """
    return math.sqrt(2.0 * math.log(max(s, 2)) / (dim - s))


def verdict_holds(n_short, thresholds, band_low: float, band_high: float) -> bool:
    """The verdict rule: every threshold found (finite), strictly increasing in s, and
    band_low <= threshold / s <= band_high for every s.

    Parameters
    ----------
    n_short : array_like, shape (n_s,)
        Increasing s values.
    thresholds : array_like, shape (n_s,)
        Threshold dimension per s, NaN where none was found.
    """
    s = np.asarray(n_short, dtype=np.float64)
    th = np.asarray(thresholds, dtype=np.float64)
    if not np.all(np.isfinite(th)):
        return False
    ratio = th / s
    return bool(np.all(np.diff(th) > 0) and np.all(ratio >= band_low)
                and np.all(ratio <= band_high))


def _measure(cfg: Config, s: int, landscape_seed: np.random.SeedSequence,
             run_seed: np.random.SeedSequence
             ) -> tuple[np.ndarray, subspace.ThresholdResult, float]:
    """Threshold measurement on one landscape: (dims (n_dims,), ThresholdResult, step)."""
    spec = random_landscape(cfg.dim, cfg.n_wedges, s, eps0=cfg.eps0, eps1=cfg.eps1,
                            seed=np.random.default_rng(landscape_seed))
    dims = dimension_grid(s, cfg.d_ratios)
    lr = step_size(cfg.dim, s, int(dims[-1]), cfg.lr_scale)
    dcfg = descent.DescentConfig(optimizer="momentum", lr=lr, momentum=cfg.momentum,
                                 steps=cfg.steps, target_loss=cfg.target_loss,
                                 record_every=cfg.steps)
    th = subspace.threshold_dimension(spec, dims, dcfg, n_seeds=cfg.n_seeds,
                                     radius=cfg.radius, success_rate=cfg.success_rate,
                                     seed=np.random.default_rng(run_seed))
    return dims, th, lr


def _fmt(values, spec: str = "g") -> str:
    return "[" + ", ".join("none" if v != v else format(v, spec) for v in values) + "]"


# ------------------------------------------------------------------------ experiment
def run(config: Config | None = None, seed: SeedLike = 0,
        progress: Progress = None) -> Result:
    """Threshold dimension against s on ``config`` (default ``Config()``), judged by the
    band rule (:func:`verdict_holds`).

    Parameters
    ----------
    config : Config, optional
    seed : int or numpy.random.SeedSequence
        The landscapes come from its child 0, the starts, projections and noise from its
        child 1 (one grandchild per s in each).
    progress : callable (fraction, message), optional

    Returns
    -------
    Result
        Series ``dims``, ``success_rate`` (n_s, n_dims), ``final_loss``
        (n_s, n_dims, n_seeds), ``threshold`` and ``threshold_ratio`` (n_s,), ...
    """
    cfg = config or Config()
    timer = Timer()
    shorts = np.asarray(cfg.n_short, dtype=np.int64)
    n_s, n_dims = shorts.size, len(cfg.d_ratios)
    landscape_stream, runs_stream = children(seed, len(_STREAMS))
    landscape_seeds, run_seeds = children(landscape_stream, n_s), children(runs_stream, n_s)
    dims = np.zeros((n_s, n_dims), dtype=np.int64)
    rates = np.zeros((n_s, n_dims))
    final_loss = np.zeros((n_s, n_dims, cfg.n_seeds))
    thresholds = np.full(n_s, np.nan)
    lrs = np.zeros(n_s)
    for i, s in enumerate(shorts):
        report(progress, i / n_s, f"s = {s}: success rate against d")
        with timer("threshold_vs_s"):
            dims[i], th, lrs[i] = _measure(cfg, int(s), landscape_seeds[i], run_seeds[i])
        rates[i], final_loss[i] = th.success_rates, th.final_loss
        if th.threshold is not None:
            thresholds[i] = th.threshold

    found = np.isfinite(thresholds)
    ratio = thresholds / shorts
    if found.sum() >= 2:
        slope, intercept, r2 = line_fit(shorts[found].astype(np.float64), thresholds[found])
    else:
        slope = intercept = r2 = float("nan")
    increasing = bool(np.all(found) and np.all(np.diff(thresholds) > 0))
    in_band = bool(np.all(found) and np.all((ratio >= cfg.band_low) & (ratio <= cfg.band_high)))
    holds = verdict_holds(shorts, thresholds, cfg.band_low, cfg.band_high)
    escapes = np.array([escape_eps1(cfg.dim, int(s)) for s in shorts])
    if np.all(found):
        growth = (f"thresholds {_fmt(thresholds, '.0f')} for s = {_fmt(shorts)} "
                  f"(threshold / s = {_fmt(ratio, '.3g')}, "
                  f"{'strictly increasing' if increasing else 'not strictly increasing'}, "
                  f"{'all inside' if in_band else 'not all inside'} the band "
                  f"[{cfg.band_low:g}, {cfg.band_high:g}])")
    else:
        missing = shorts[~found]
        growth = (f"no threshold within d <= {cfg.d_ratios[-1]:g} s for s = {_fmt(missing)} "
                  f"(the success rate never reached {cfg.success_rate:g}); thresholds "
                  f"{_fmt(thresholds, '.0f')} for s = {_fmt(shorts)}")
    verdict = Verdict(
        holds=holds,
        rule=f"the threshold dimension (smallest d on the grid d = round(r s), r in "
             f"{_fmt(cfg.d_ratios)}, whose success rate over {cfg.n_seeds} runs is >= "
             f"{cfg.success_rate:g}, a run succeeding at loss <= {cfg.target_loss:g} within "
             f"{cfg.steps} steps) is found for every s, strictly increasing in s, and every "
             f"threshold / s is in [{cfg.band_low:g}, {cfg.band_high:g}] (docs/claims.md, E2)",
        evidence=f"{growth}; least squares gives threshold = {slope:.3g} s {intercept:+.3g} "
                 f"(R^2 = {r2:.3f}); eps1 = {cfg.eps1:.3g} is "
                 f"{cfg.eps1 / escapes.max():.2g} to {cfg.eps1 / escapes.min():.2g} x the "
                 f"radial-escape scale sqrt(2 log s / n) of the s values.")
    report(progress, 1.0, "done")
    metrics = {
        "min_threshold_ratio": float(np.nanmin(ratio)) if found.any() else float("nan"),
        "max_threshold_ratio": float(np.nanmax(ratio)) if found.any() else float("nan"),
        "fit_slope": slope, "fit_intercept": intercept, "fit_r2": r2,
        "n_thresholds_found": float(found.sum()),
        "thresholds_increase": float(increasing), "ratios_in_band": float(in_band),
        "max_eps1_over_escape": float(cfg.eps1 / escapes.min()),
        "min_eps1_over_escape": float(cfg.eps1 / escapes.max()),
    }
    series = {
        "n_short": shorts, "d_ratios": np.asarray(cfg.d_ratios), "dims": dims,
        "success_rate": rates, "final_loss": final_loss, "threshold": thresholds,
        "threshold_ratio": ratio, "lr": lrs, "escape_eps1": escapes,
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    s, m, c = result.series, result.metrics, result.config
    shorts = s["n_short"]
    ax1, ax2 = fig.subplots(1, 2)
    for i, n in enumerate(shorts):
        ax1.plot(s["dims"][i] / n, s["success_rate"][i], "o-", ms=3, label=f"s = {n}")
    ax1.axhline(c["success_rate"], color="k", ls=":", lw=1, label="required rate")
    ax1.axvspan(c["band_low"], c["band_high"], color="0.9", zorder=0, label="verdict band")
    ax1.set_xscale("log")
    ax1.set_xlabel("subspace dimension d / s")
    ax1.set_ylabel("success rate")
    ax1.set_title(f"success vs d (eps1 = {c['eps1']:.3g}, "
                  f"{m['min_eps1_over_escape']:.2g}-{m['max_eps1_over_escape']:.2g} x escape)",
                  fontsize="medium")
    ax1.legend(fontsize="x-small")
    xs = np.linspace(0.0, shorts[-1] * 1.05, 50)
    ax2.fill_between(xs, c["band_low"] * xs, c["band_high"] * xs, color="0.9",
                     label=f"band [{c['band_low']:g}, {c['band_high']:g}] x s")
    ax2.plot(xs, xs, "k--", lw=1, label="d = s")
    ax2.plot(shorts, s["threshold"], "o", label="threshold dimension")
    if np.isfinite(m["fit_slope"]):
        ax2.plot(xs, m["fit_slope"] * xs + m["fit_intercept"], "-",
                 label=f"fit {m['fit_slope']:.3g} s {m['fit_intercept']:+.3g} "
                       f"(R^2 = {m['fit_r2']:.3f})")
    ax2.set_xlabel("short directions s")
    ax2.set_ylabel("threshold d")
    ax2.set_title(f"threshold vs s ({result.arm})", fontsize="medium")
    ax2.legend(fontsize="x-small")
