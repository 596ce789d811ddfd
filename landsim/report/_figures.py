"""The report's figures as PNG bytes: a claim's own figure (drawn by its module from the
stored series) and the spread of its key statistics over replicates, claim beside control.

matplotlib is imported inside the functions, so ``import landsim`` stays light.
"""

from __future__ import annotations

import io
import math

import numpy as np

#: Figure size (inches) of one claim figure; claim and control are shown side by side.
PAIR_FIGSIZE = (8.0, 4.2)
#: Size of one panel of the spread figure (inches).
SPREAD_PANEL = (3.1, 3.0)
DPI = 100
#: Colours of the two arms in the spread figure.
ARM_COLOURS = {"claim": "#1f6feb", "control": "#d1242f"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def render_figure(module, result, figsize: tuple[float, float] = PAIR_FIGSIZE) -> bytes:
    """The claim's figure as PNG bytes: ``module.plot(result, fig)`` on an Agg canvas."""
    fig = _figure(figsize)
    module.plot(result, fig)
    return _png(fig)


def _offsets(n: int) -> np.ndarray:
    """Fixed horizontal offsets of n points around their arm's position (no randomness, so
    the same results always give the same figure)."""
    if n <= 1:
        return np.zeros(max(n, 0))
    return np.linspace(-0.18, 0.18, n)


def render_spread(verdict) -> bytes:
    """One panel per key statistic of a :class:`~landsim.verdicts.ClaimVerdict`: each
    replicate of each arm as a point (filled where the claim's rule held on it, hollow where
    it failed), and the arm's mean with its 95% interval as a bar beside the points.

    Non-finite values are drawn as nothing and counted in the axis label.
    """
    names = list(verdict.key_metrics) or ["(no metric)"]
    arms = [("claim", verdict.claim)] + ([("control", verdict.control)]
                                         if verdict.control is not None else [])
    fig = _figure((SPREAD_PANEL[0] * len(names), SPREAD_PANEL[1]))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        missing = 0
        for x, (arm, summary) in enumerate(arms):
            colour = ARM_COLOURS[arm]
            values = np.array([float(r.metrics.get(name, math.nan)) for r in summary.results])
            held = np.array([bool(r.verdict.holds) for r in summary.results])
            finite = np.isfinite(values)
            missing += int((~finite).sum())
            xs = x + _offsets(len(values))
            ax.scatter(xs[finite & held], values[finite & held], s=30, color=colour,
                       edgecolors=colour, zorder=3)
            ax.scatter(xs[finite & ~held], values[finite & ~held], s=30,
                       facecolors="white", edgecolors=colour, linewidths=1.4, zorder=3)
            iv = summary.stats.get(name)
            if iv is not None and math.isfinite(iv.mean):
                ax.plot([x + 0.3], [iv.mean], marker="_", markersize=14, color="black",
                        zorder=4)
                if iv.n > 1 and math.isfinite(iv.low) and math.isfinite(iv.high):
                    ax.plot([x + 0.3, x + 0.3], [iv.low, iv.high], color="black", lw=1.3,
                            zorder=4)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels([a for a, _ in arms])
        ax.set_xlim(-0.5, len(arms) - 0.4)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        if missing:
            ax.set_xlabel(f"{missing} non-finite value(s) not drawn", fontsize=7)
    fig.suptitle("filled: the rule held on that replicate; hollow: it failed; "
                 "bar: mean and 95% interval", fontsize=8)
    return _png(fig)
