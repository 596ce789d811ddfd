"""Numeric helpers shared by the toy and the real experiments (numpy and scipy only).

Line fits and rank correlations, the rises and barriers of loss profiles, the growth of a
sequence, the angle grid of a 2-D section, the snapshot sets of weight averaging, and the
arm vocabularies both kinds of experiment use. Every function is a pure function of its
arrays; none touches a landscape or a network. The claims' rules built on these pieces are
in :mod:`landsim.claim_rules`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

from ._checks import choice

__all__ = ["LINE_STARTS", "SNAPSHOT_SOURCES", "gather_sets", "growth", "grows_clearly",
           "knob_offset_share", "largest_rise", "line_fit", "log_slope", "onset_robust",
           "rank_corr", "relative_barriers", "relative_rise", "section_angles", "set_runs",
           "spearman", "swa_excess"]

#: E1: where a line starts: its run's initialisation (the claim) or another run's optimum
#: in a different wedge (the control).
LINE_STARTS = ("init", "other_optimum")
#: E6: where the snapshots of an averaged set come from: one run (the claim) or a
#: different run for each snapshot (the control).
SNAPSHOT_SOURCES = ("one_run", "hopping")


# ------------------------------------------------------------- fits and correlations
def line_fit(x, y) -> tuple[float, float, float]:
    """Least-squares line y ~ slope x + intercept and its R^2.

    A constant y has R^2 = 0: a flat line explains no growth, so a claim of growth
    cannot pass on it through a rounding-sized slope.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        n >= 2 points.

    Returns
    -------
    (slope, intercept, r2) : tuple of float
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else 0.0
    return float(slope), float(intercept), r2


def log_slope(radii: np.ndarray, widths: np.ndarray) -> float:
    """Elasticity of the width: least-squares slope of log(width) against log(radius).

    A strip (constant width) gives 0, a cone from the origin (width proportional to r) 1.

    Parameters
    ----------
    radii, widths : ndarray, shape (n,)
        n >= 2 positive values, radii not all equal.

    Returns
    -------
    float
    """
    return line_fit(np.log(np.asarray(radii, dtype=np.float64)),
                    np.log(np.asarray(widths, dtype=np.float64)))[0]


def rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (average ranks for ties).

    A constant ``y`` explains no ordering: 0 (not NaN), so a strip cannot pass as
    monotone.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        n >= 2.

    Returns
    -------
    float
        In [-1, 1].
    """
    rx, ry = rankdata(np.asarray(x, dtype=np.float64)), rankdata(np.asarray(y,
                                                                           dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom > 0 else 0.0


def onset_robust(statistic, radii: np.ndarray, widths: np.ndarray) -> float:
    """The smaller of ``statistic(radii, widths)`` and the same without the innermost
    point, so that no single innermost radius carries the verdict.

    Parameters
    ----------
    statistic : callable (radii, widths) -> float
    radii, widths : ndarray, shape (n,)
        n >= 3, radii increasing.

    Returns
    -------
    float
    """
    return min(statistic(radii, widths), statistic(radii[1:], widths[1:]))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); 0 if either is constant.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    """
    def ranks(a):
        a = np.asarray(a, dtype=np.float64)
        order = np.argsort(a, kind="stable")
        r = np.empty(a.size)
        r[order] = np.arange(a.size, dtype=np.float64)
        for v in np.unique(a):  # ties share their mean rank
            tie = a == v
            r[tie] = r[tie].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = float(np.sqrt(np.sum(rx * rx) * np.sum(ry * ry)))
    return float(np.sum(rx * ry) / den) if den > 0 else 0.0


def _rss(design: np.ndarray, y: np.ndarray) -> float:
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return float(resid @ resid)


def knob_offset_share(log_r: np.ndarray, log_c: np.ndarray,
                      groups: np.ndarray) -> tuple[float, float]:
    """How much of log c the knob explains beyond one curve of log r.

    One curve: log c ~ a + b t + q t^2 with t = log r centred and scaled (RSS_pooled).
    The same curve with a separate offset per group (knob) (RSS_offsets).

    Parameters
    ----------
    log_r, log_c : ndarray, shape (n,)
        Pooled points of all sweeps.
    groups : ndarray of int, shape (n,)
        The sweep (knob) of each point.

    Returns
    -------
    (share, pooled_r2) : tuple of float
        share = (RSS_pooled - RSS_offsets) / TSS and pooled_r2 = 1 - RSS_pooled / TSS,
        with TSS the total sum of squares of log c; both NaN when log c is constant.
    """
    log_r = np.asarray(log_r, dtype=np.float64)
    log_c = np.asarray(log_c, dtype=np.float64)
    groups = np.asarray(groups)
    tss = float(np.sum((log_c - log_c.mean()) ** 2))
    if not np.isfinite(tss) or tss <= 0.0:
        return float("nan"), float("nan")
    spread = log_r.std()
    t = (log_r - log_r.mean()) / (spread if spread > 0 else 1.0)
    curve = np.column_stack([np.ones_like(t), t, t * t])
    labels = np.unique(groups)
    offsets = np.column_stack([curve] + [(groups == g).astype(np.float64)
                                         for g in labels[1:]])
    rss_pooled, rss_offsets = _rss(curve, log_c), _rss(offsets, log_c)
    return (max(rss_pooled - rss_offsets, 0.0) / tss, 1.0 - rss_pooled / tss)


# ------------------------------------------------------------- profiles and growth
def largest_rise(losses: np.ndarray) -> np.ndarray:
    """max_{t' <= t} [L(t) - L(t')] along the last axis (0 for a non-increasing profile).

    Parameters
    ----------
    losses : ndarray, shape (..., T)

    Returns
    -------
    ndarray, shape (...)
    """
    running_min = np.minimum.accumulate(losses, axis=-1)
    return np.max(losses - running_min, axis=-1)


def relative_rise(rise: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``rise / reference``, with 0 where the rise is 0 and inf where only the reference is.

    Parameters
    ----------
    rise : ndarray, shape (k,)
        Largest rises (>= 0).
    reference : ndarray, shape (k,)
        Reference losses (>= 0): the loss at the initialisation of the run each line
        starts from.

    Returns
    -------
    ndarray, shape (k,)
    """
    rise = np.asarray(rise, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    out = np.where(rise > 0, np.inf, 0.0)
    np.divide(rise, reference, out=out, where=reference > 0)
    return out


def relative_barriers(line_barrier: float, best_barrier: float, reference: float
                      ) -> tuple[float, float]:
    """The two statistics of the rule (docs/claims.md, E3).

    Parameters
    ----------
    line_barrier : float
        B_line >= 0, the straight line's barrier.
    best_barrier : float
        min(B_chain, B_bezier) >= 0, the better trained path's barrier.
    reference : float
        L_ref > 0, the loss the training started from.

    Returns
    -------
    line_relative : float
        B_line / L_ref (inf if L_ref = 0 < B_line, 0 if both are 0).
    best_relative : float
        best / B_line (0 if both are 0, inf if only B_line is 0).
    """
    def ratio(x: float, y: float) -> float:
        if y > 0:
            return float(x / y)
        return 0.0 if x <= 0 else math.inf

    return ratio(line_barrier, reference), ratio(best_barrier, line_barrier)


def growth(values) -> float:
    """values[-1] / values[0] of a sequence indexed by m = 2 .. m_max (NaN when either is
    missing or the first is not positive).

    Parameters
    ----------
    values : array_like, shape (M,)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or not (np.isfinite(v[0]) and np.isfinite(v[-1])) or v[0] <= 0:
        return float("nan")
    return float(v[-1] / v[0])


def grows_clearly(values, min_growth: float) -> bool:
    """True when every value is finite, none decreases with m, and values[-1] >=
    ``min_growth`` x values[0] (docs/claims.md, E4).

    Parameters
    ----------
    values : array_like, shape (M,)
    min_growth : float
        >= 1.
    """
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(v)) and np.all(np.diff(v) >= 0)
                and growth(v) >= min_growth)


# ------------------------------------------------------------- sections and sets
def section_angles(n_angles: int) -> np.ndarray:
    """The full circle, ``2 pi (j - n_angles / 2) / n_angles`` for j = 0 .. n_angles - 1
    (from -pi); index n_angles // 2 is exactly theta = 0 (n_angles even).

    Returns
    -------
    ndarray, shape (n_angles,)
    """
    return 2.0 * math.pi * (np.arange(n_angles) - n_angles // 2) / n_angles


def set_runs(n_runs: int, n_snapshots: int, source: str) -> np.ndarray:
    """Which run gives snapshot j of averaged set i.

    Parameters
    ----------
    n_runs, n_snapshots : int
        Runs (= sets) and snapshots per run.
    source : {"one_run", "hopping"}
        ``"one_run"``: set i is run i's snapshots; ``"hopping"``: snapshot j of set i is
        run (i + j) mod n_runs's snapshot j.

    Returns
    -------
    ndarray of int64, shape (n_runs, n_snapshots)
    """
    choice("source", source, SNAPSHOT_SOURCES)
    i = np.arange(n_runs)[:, None]
    j = np.arange(n_snapshots)[None, :]
    if source == "one_run":
        return np.broadcast_to(i, (n_runs, n_snapshots)).astype(np.int64)
    return ((i + j) % n_runs).astype(np.int64)


def gather_sets(per_run: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Values of the snapshots of each averaged set.

    Parameters
    ----------
    per_run : ndarray, shape (n_runs, S, ...)
        A value of every snapshot of every run (a loss, a depth, or the point itself).
    runs : ndarray of int, shape (n_sets, S)
        :func:`set_runs`.

    Returns
    -------
    ndarray, shape (n_sets, S, ...)
        Entry [i, j] is ``per_run[runs[i, j], j]``.
    """
    runs = np.asarray(runs)
    return np.asarray(per_run)[runs, np.arange(runs.shape[1])[None, :]]


def swa_excess(average_loss: np.ndarray, member_loss: np.ndarray, scale: float
               ) -> np.ndarray:
    """[L(average_i) - mean_j L(snapshot_ij)] / scale for every averaged set i.

    Parameters
    ----------
    average_loss : ndarray, shape (n_sets,)
    member_loss : ndarray, shape (n_sets, S)
    scale : float
        L0, > 0.

    Returns
    -------
    ndarray, shape (n_sets,)
        <= 0 where the average is no worse than its snapshots.
    """
    return (np.asarray(average_loss, dtype=np.float64)
            - np.asarray(member_loss, dtype=np.float64).mean(axis=1)) / float(scale)
