"""Figures of ``landsim-client``: sections and job results, drawn with matplotlib's Agg
canvas (no pyplot, no global backend change); matplotlib is imported only when a figure
is asked for."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_section", "plot_result"]


def _figure(figsize=(7.0, 5.0)):
    """A matplotlib Figure on the Agg canvas (no pyplot, no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def plot_section(kind: str, arrays: dict, path: str, title: str) -> None:
    fig = _figure()
    if kind == "line":
        ax = fig.add_subplot()
        ax.plot(arrays["t"], arrays["loss"], label="loss")
        ax.plot(arrays["t"], arrays["excess"], "--", label="excess over the chord")
        ax.set_xlabel("t")
        ax.set_ylabel("loss")
        ax.legend()
    elif kind == "plane":
        ax = fig.add_subplot()
        mesh = ax.pcolormesh(arrays["alpha"], arrays["beta"], arrays["loss"].T,
                             shading="auto")
        fig.colorbar(mesh, ax=ax, label="loss")
        ax.set_xlabel("alpha (along e1)")
        ax.set_ylabel("beta (along e2)")
    else:
        ax = fig.add_subplot(projection="polar")
        mesh = ax.pcolormesh(arrays["angles"], arrays["radii"], arrays["loss"],
                             shading="auto")
        fig.colorbar(mesh, ax=ax, label="loss")
    ax.set_title(title)
    fig.savefig(path)


def plot_result(result, path: str) -> None:
    """A generic figure of a result's series: curves for 1-D (and small 2-D) arrays,
    images for larger 2-D ones; at most 6 panels."""
    series = [(k, v) for k, v in result.series.items()
              if v.ndim in (1, 2) and v.size and v.dtype.kind in "fiub"][:6]
    n = max(1, len(series))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = _figure((4.5 * cols, 3.5 * rows + 0.6))
    verdict = "holds" if result.verdict.holds else "does not hold"
    fig.suptitle(f"{result.experiment} ({result.kind}, {result.arm} arm, seed {result.seed}, "
                 f"replicate {result.replicate}): claim {verdict}")
    for i, (name, a) in enumerate(series):
        ax = fig.add_subplot(rows, cols, i + 1)
        a = a.astype(np.float64)
        if a.ndim == 1:
            ax.plot(a)
        elif a.shape[0] <= 16:
            for row in a:
                ax.plot(row, lw=0.8)
        else:
            ax.imshow(a, aspect="auto", interpolation="nearest")
        ax.set_title(name)
    if not series:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no plottable series", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(path)
