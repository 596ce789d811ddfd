"""E2: random low-dimensional subspaces suffice; the threshold dimension grows with s.

Li et al. (2018) train networks in random d-dimensional subspaces, x = x0 + P z, and find
that a d far below the number of weights D already reaches a good solution: the *intrinsic
dimension*. Fort & Jastrzebski (2019) explain it with the wedges: a wedge has only s short
directions, and a random affine subspace of dimension d meets an n = D - s dimensional
set in general position exactly when d + n >= D, i.e. d >= s (MODEL.md section 3,
predicted threshold ~ s). That holds in the *narrow-wedge* regime
eps1 << sqrt(2 log s / n); for wider wedges the radial escape (MODEL.md section 2) lets
descent reach a wedge by moving outward, and the threshold drops far below s.

Measurement. For every s in ``n_short`` we draw a landscape of ``n_wedges`` axis-aligned
wedges with s short axes each (width eps0 + eps1 r) and run
:func:`landsim.descent.threshold_dimension`: ``n_seeds`` starts uniform on the sphere of
``radius``, one dense orthonormal projection per seed (nested in d), heavy-ball descent on
z for at most ``steps`` updates; a run succeeds when the landscape loss reaches
``target_loss``, and the threshold is the smallest d on the grid whose success rate is
>= ``success_rate`` (0.9, Li et al. 2018). The grid is relative to s:
d_i = round(d_ratios[i] s), raised to d_(i-1) + 1 where rounding makes two equal, so every
s has the same number of dimensions. The step is ``lr_scale * D / (sqrt(d_max) + sqrt(s))^2``
with d_max the largest d of that s: along z the loss has curvature 2 P_S^T P_S (P_S the s
short rows of P), whose largest eigenvalue is ~ 2 (sqrt(d) + sqrt(s))^2 / D
(Marchenko-Pastur edge), and heavy ball is stable for lr x curvature < 2 (1 + momentum).

A least-squares line threshold = slope x s + intercept (with its R^2) summarises the
growth. Then, at one s (``sweep_n_short``), the same measurement is repeated for every
eps1 in ``sweep_eps1`` on one set of short axes, starts and projections (common random
numbers), to show the threshold falling as the wedges widen; the radial-escape scale
sqrt(2 log s / n) is reported beside it.

Verdict. The claim holds when a threshold is found for every s, the thresholds are
strictly increasing in s, and every threshold / s lies in [``band_low``, ``band_high``]
(default [0.5, 2]). The band is fixed by the model, not by the measurement: below s the
subspace can meet the wedge only through its finite width (a fraction of the s conditions
already met at the start), and above s the only obstacle left is the conditioning of P_S,
whose condition number at d = 2 s is (sqrt 2 + 1) / (sqrt 2 - 1) ~ 5.8, which a few hundred
heavy-ball steps overcome; a threshold outside a factor 2 of s is not "~ s". The grid must
reach below ``band_low`` and up to ``band_high`` so that a threshold outside the band can
be seen. The eps1 sweep is reported as metrics (``sweep_threshold_falls``: the threshold
at the widest eps1 is below the one at the narrowest) and in the evidence, not in the
verdict, which concerns the narrow regime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import descent
from .._checks import as_generator, int_at_least, real_in
from ..results import Result, Verdict, make_result
from ..spec import random_landscape
from ._common import Progress, Timer, line_fit, report

ID = "E2"
TITLE = "Intrinsic dimension"
CLAIM = ("Training in random low-dimensional subspaces works: the solution manifold is "
         "high-dimensional, and the threshold subspace dimension grows with the number s "
         "of short directions, about s in the narrow-wedge regime (Li et al. 2018; Fort & "
         "Jastrzebski 2019).")


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
class Config:
    dim: int = 1000  # D
    n_wedges: int = 4  # K wedges per landscape
    n_short: tuple[int, ...] = (50, 100, 200, 400)  # the s values, one landscape each
    eps0: float = 0.01  # width at r = 0
    eps1: float = 0.002  # width growth per unit long radius (narrow: << sqrt(2 log s / n))
    radius: float = 10.0  # radius of the random starts
    d_ratios: tuple[float, ...] = (0.01, 0.1, 0.2, 0.35, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05,
                                   1.1, 1.25, 1.5, 2.0)  # subspace dimensions d / s tried
    n_seeds: int = 10  # runs (start + projection) per d
    steps: int = 300  # most heavy-ball updates of a subspace run
    lr_scale: float = 0.5  # step x largest curvature along z (stable below 2 (1 + momentum))
    momentum: float = 0.9  # heavy-ball coefficient
    target_loss: float = 1e-8  # a run succeeds at this landscape loss
    success_rate: float = 0.9  # rate a dimension must reach (Li et al. 2018)
    band_low: float = 0.5  # verdict: every threshold / s >= this ...
    band_high: float = 2.0  # ... and <= this
    sweep_n_short: int = 100  # s of the eps1 sweep
    sweep_eps1: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # eps1 values

    def __post_init__(self) -> None:
        int_at_least("dim", self.dim, 2)
        for name in ("n_wedges", "n_seeds", "steps"):
            int_at_least(name, getattr(self, name), 1)
        shorts = _increasing_tuple("n_short", self.n_short, integer=True, low=1,
                                   low_open=False, least=2)
        int_at_least("sweep_n_short", self.sweep_n_short, 1)
        for name, s in [("n_short", s) for s in shorts] + [("sweep_n_short",
                                                            self.sweep_n_short)]:
            if s >= self.dim:
                raise ValueError(f"{name} must be in [1, dim - 1 = {self.dim - 1}] (a wedge "
                                 f"needs a long direction), got {s}")
        object.__setattr__(self, "n_short", shorts)
        object.__setattr__(self, "d_ratios", _increasing_tuple(
            "d_ratios", self.d_ratios, integer=False, low=0.0, low_open=True, least=2))
        object.__setattr__(self, "sweep_eps1", _increasing_tuple(
            "sweep_eps1", self.sweep_eps1, integer=False, low=0.0, low_open=False, least=2))
        for name in ("eps0", "eps1", "target_loss"):
            real_in(name, getattr(self, name), 0.0)
        for name in ("radius", "lr_scale"):
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
        for s in (*shorts, self.sweep_n_short):
            top = int(dimension_grid(s, self.d_ratios)[-1])
            if top > self.dim:
                raise ValueError(f"d_ratios[-1] x s must be <= dim = {self.dim}, got "
                                 f"{self.d_ratios[-1]!r} x {s} -> d = {top}")


def quick_config() -> Config:
    return Config(dim=400, n_short=(20, 40, 80), sweep_n_short=40,
                  sweep_eps1=(0.002, 0.02, 0.2))


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
    """Radial-escape scale sqrt(2 log s / n), n = D - s (MODEL.md section 2).

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


def _measure(dim: int, cfg: Config, s: int, eps1: float, landscape_seed: int,
             run_seed: int) -> tuple[np.ndarray, descent.ThresholdResult, float]:
    """Threshold measurement on one landscape: (dims, ThresholdResult, step size)."""
    spec = random_landscape(dim, cfg.n_wedges, s, eps0=cfg.eps0, eps1=eps1,
                            seed=landscape_seed)
    dims = dimension_grid(s, cfg.d_ratios)
    lr = step_size(dim, s, int(dims[-1]), cfg.lr_scale)
    dcfg = descent.DescentConfig(optimizer="momentum", lr=lr, momentum=cfg.momentum,
                                 steps=cfg.steps, target_loss=cfg.target_loss,
                                 record_every=cfg.steps)
    th = descent.threshold_dimension(spec, dims, dcfg, n_seeds=cfg.n_seeds,
                                     radius=cfg.radius, success_rate=cfg.success_rate,
                                     seed=run_seed)
    return dims, th, lr


def _fmt(values, spec: str = "g") -> str:
    return "[" + ", ".join("none" if v != v else format(v, spec) for v in values) + "]"


# ------------------------------------------------------------------------ experiment
def run(config: Config | None = None, seed: int = 0, progress: Progress = None) -> Result:
    cfg = config or Config()
    timer = Timer()
    shorts = np.asarray(cfg.n_short, dtype=np.int64)
    n_s, n_e = shorts.size, len(cfg.sweep_eps1)
    n_dims = len(cfg.d_ratios)
    rng_s, rng_sweep = as_generator(seed).spawn(2)
    seeds_s = [(int(g.integers(2**63)), int(g.integers(2**63))) for g in rng_s.spawn(n_s)]
    dims = np.zeros((n_s, n_dims), dtype=np.int64)
    rates = np.zeros((n_s, n_dims))
    final_loss = np.zeros((n_s, n_dims, cfg.n_seeds))
    thresholds = np.full(n_s, np.nan)
    lrs = np.zeros(n_s)
    for i, s in enumerate(shorts):
        report(progress, i / (n_s + n_e), f"s = {s}: success rate against d")
        with timer("threshold_vs_s"):
            dims[i], th, lrs[i] = _measure(cfg.dim, cfg, int(s), cfg.eps1, *seeds_s[i])
        rates[i], final_loss[i] = th.success_rates, th.final_loss
        if th.threshold is not None:
            thresholds[i] = th.threshold
    # the eps1 sweep: one landscape seed and one run seed for every eps1
    sweep_seeds = (int(rng_sweep.integers(2**63)), int(rng_sweep.integers(2**63)))
    sweep_eps1 = np.asarray(cfg.sweep_eps1, dtype=np.float64)
    sweep_rates = np.zeros((n_e, n_dims))
    sweep_th = np.full(n_e, np.nan)
    sweep_dims = dimension_grid(cfg.sweep_n_short, cfg.d_ratios)
    sweep_lr = step_size(cfg.dim, cfg.sweep_n_short, int(sweep_dims[-1]), cfg.lr_scale)
    for j, e1 in enumerate(sweep_eps1):
        report(progress, (n_s + j) / (n_s + n_e), f"eps1 = {e1:g}: success rate against d")
        with timer("eps1_sweep"):
            _, th, _ = _measure(cfg.dim, cfg, cfg.sweep_n_short, float(e1), *sweep_seeds)
        sweep_rates[j] = th.success_rates
        if th.threshold is not None:
            sweep_th[j] = th.threshold

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
    sweep_escape = escape_eps1(cfg.dim, cfg.sweep_n_short)
    falls = bool(np.isfinite(sweep_th[[0, -1]]).all() and sweep_th[-1] < sweep_th[0])
    non_increasing = bool(np.all(np.isfinite(sweep_th)) and np.all(np.diff(sweep_th) <= 0))
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
        rule=f"in the narrow regime (eps1 = {cfg.eps1:g}) the threshold dimension (smallest d "
             f"on the grid d = round(r s), r in {_fmt(cfg.d_ratios)}, whose success rate over "
             f"{cfg.n_seeds} runs is >= {cfg.success_rate:g}, a run succeeding at loss <= "
             f"{cfg.target_loss:g} within {cfg.steps} steps) is found for every s, strictly "
             f"increasing in s, and every threshold / s is in [{cfg.band_low:g}, "
             f"{cfg.band_high:g}]",
        evidence=f"{growth}; least squares gives threshold = {slope:.3g} s {intercept:+.3g} "
                 f"(R^2 = {r2:.3f}); eps1 = {cfg.eps1:g} is at most "
                 f"{cfg.eps1 / escapes.min():.2g} x the radial-escape scale "
                 f"sqrt(2 log s / n); at s = {cfg.sweep_n_short} the threshold is "
                 f"{_fmt(sweep_th, '.0f')} for eps1 = {_fmt(sweep_eps1)} (escape scale "
                 f"{sweep_escape:.3g}), "
                 f"{'falling' if falls else 'not falling'} as the wedges widen.")
    report(progress, 1.0, "done")
    metrics = {
        "fit_slope": slope, "fit_intercept": intercept, "fit_r2": r2,
        "n_thresholds_found": float(found.sum()),
        "min_threshold_ratio": float(np.nanmin(ratio)) if found.any() else float("nan"),
        "max_threshold_ratio": float(np.nanmax(ratio)) if found.any() else float("nan"),
        "thresholds_increase": float(increasing), "ratios_in_band": float(in_band),
        "max_eps1_over_escape": float(cfg.eps1 / escapes.min()),
        "sweep_escape_eps1": sweep_escape, "sweep_lr": sweep_lr,
        "sweep_threshold_narrowest": float(sweep_th[0]),
        "sweep_threshold_widest": float(sweep_th[-1]),
        "sweep_threshold_falls": float(falls),
        "sweep_threshold_non_increasing": float(non_increasing),
    }
    series = {
        "n_short": shorts, "d_ratios": np.asarray(cfg.d_ratios), "dims": dims,
        "success_rate": rates, "final_loss": final_loss, "threshold": thresholds,
        "threshold_ratio": ratio, "lr": lrs, "escape_eps1": escapes,
        "sweep_eps1": sweep_eps1, "sweep_dims": sweep_dims, "sweep_success_rate": sweep_rates,
        "sweep_threshold": sweep_th,
    }
    return make_result(ID, cfg, seed, metrics=metrics, series=series, verdict=verdict,
                       timings=timer.done())


def plot(result: Result, fig) -> None:
    s, m, c = result.series, result.metrics, result.config
    shorts = s["n_short"]
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, n in enumerate(shorts):
        ax1.plot(s["dims"][i] / n, s["success_rate"][i], "o-", ms=3, label=f"s = {n}")
    ax1.axhline(c["success_rate"], color="k", ls=":", lw=1, label="required rate")
    ax1.axvspan(c["band_low"], c["band_high"], color="0.9", zorder=0, label="verdict band")
    ax1.set_xscale("log")
    ax1.set_xlabel("subspace dimension d / s")
    ax1.set_ylabel("success rate")
    ax1.set_title(f"success vs d (eps1 = {c['eps1']:g})", fontsize="medium")
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
    ax2.set_title("threshold vs s", fontsize="medium")
    ax2.legend(fontsize="x-small")
    eps = s["sweep_eps1"]
    ax3.plot(eps, s["sweep_threshold"], "o-", label="threshold dimension")
    ax3.axhline(c["sweep_n_short"], color="k", ls="--", lw=1, label="d = s")
    ax3.axvline(m["sweep_escape_eps1"], color="r", ls=":", lw=1,
                label="radial escape")
    if np.all(eps > 0):
        ax3.set_xscale("log")
    ax3.set_yscale("log")
    ax3.set_xlabel("eps1 (width growth)")
    ax3.set_ylabel("threshold d")
    ax3.set_title(f"threshold vs eps1 (s = {c['sweep_n_short']})", fontsize="medium")
    ax3.legend(fontsize="x-small")
