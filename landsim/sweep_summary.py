"""The summary of a sweep: one row per grid point and arm, as CSV, Markdown and figures.

Part of :mod:`landsim.sweep` (which re-exports these names). matplotlib is imported only
to draw, and a missing matplotlib skips the figures with a note.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .results import Result
from .sweep_grid import format_value

if TYPE_CHECKING:
    from .sweep import SweepSpec

__all__ = ["Summary", "default_metric", "summarize", "write_summary", "MPL_MISSING",
           "CSV_NAME", "MD_NAME"]

CSV_NAME = "summary.csv"
MD_NAME = "summary.md"
#: Shown when figures are asked for without matplotlib.
MPL_MISSING = 'figures skipped: matplotlib is not installed (pip install "landsim[plot]")'


@dataclass
class Summary:
    """One row per grid point and arm over the stored units.

    Attributes
    ----------
    spec : SweepSpec
    metric : str
    rows : list of dict
        ``arm``, each swept field (its value), ``n_seeds`` (stored units), ``n_finite``
        (those with a finite metric), ``mean``, ``std`` (ddof 1; NaN under two values),
        ``min``, ``max`` (of the finite values; NaN when none) and ``holds_fraction``
        (stored units whose rule held; NaN when none is stored).
    missing : int
        Units of the sweep not stored (failed or not run yet).
    """

    spec: SweepSpec
    metric: str
    rows: list
    missing: int = 0

    @property
    def columns(self) -> list[str]:
        return (["arm", *self.spec.fields, "n_seeds", "n_finite", "mean", "std", "min",
                 "max", "holds_fraction"])


def default_metric(spec: SweepSpec, results: Sequence[Result] = ()) -> str:
    """The statistic the claim's rule judges: the first of the module's ``KEY_METRICS``;
    without them, the first metric of the first stored result."""
    names = getattr(spec.module, "KEY_METRICS", None)
    if names:
        return str(names[0])
    for r in results:
        if r.metrics:
            return next(iter(r.metrics))
    raise ValueError(f"{spec.claim} ({spec.kind}) has no KEY_METRICS and no result is "
                     "stored; give --metric")


def summarize(spec: SweepSpec, out: str | PathLike, metric: str | None = None) -> Summary:
    """Summarise the units of ``spec`` stored in ``out`` (see :class:`Summary`).

    Parameters
    ----------
    spec : SweepSpec
    out : path
    metric : str, optional
        A metric name of the claim's results; default :func:`default_metric`.

    Raises
    ------
    ValueError
        ``metric`` is in none of the stored results (the message lists those there).
    """
    from .sweep import plan, stored

    sweep_units = plan(spec)
    results = stored(sweep_units, out)
    metric = default_metric(spec, list(results.values())) if metric is None else metric
    available = sorted({m for r in results.values() for m in r.metrics})
    if results and metric not in available:
        raise ValueError(f"metric {metric!r} is in none of the stored {spec.claim} "
                         f"({spec.kind}) results; their metrics are: {', '.join(available)}")
    groups: dict[tuple, list[Result]] = {}
    for su in sweep_units:
        key = (su.point, su.unit.arm)
        groups.setdefault(key, [])
        if su.stem in results:
            groups[key].append(results[su.stem])
    rows = []
    for point in spec.points():
        for arm in spec.arms:
            group = groups[(point, arm)]
            values = np.array([r.metrics.get(metric, math.nan) for r in group], dtype=float)
            finite = values[np.isfinite(values)]
            row = {"arm": arm, **dict(point), "n_seeds": len(group),
                   "n_finite": int(finite.size),
                   "mean": float(finite.mean()) if finite.size else math.nan,
                   "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                   "min": float(finite.min()) if finite.size else math.nan,
                   "max": float(finite.max()) if finite.size else math.nan,
                   "holds_fraction": (float(np.mean([r.verdict.holds for r in group]))
                                      if group else math.nan)}
            rows.append(row)
    return Summary(spec, metric, rows, missing=len(sweep_units) - len(results))


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        return repr(float(value)) if math.isfinite(value) else str(float(value))
    return format_value(value)


def _csv_text(summary: Summary) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(summary.columns)
    for row in summary.rows:
        writer.writerow([_cell(row[c]) for c in summary.columns])
    return buf.getvalue()


def _md_number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "-"


def _md_text(summary: Summary, notes: Sequence[str], figures: Sequence[str]) -> str:
    spec = summary.spec
    total = spec.n_units
    size = "quick" if spec.quick else "default"
    where = f" on {spec.device}" if spec.device else ""
    lines = [f"# Sweep of {spec.claim} ({spec.kind}{where}, {size} config)", "",
             "- **Grid:** " + ("; ".join(f"{k} = {', '.join(format_value(v) for v in vs)}"
                                          for k, vs in spec.grid) or "(base config only)"),
             f"- **Seeds:** {spec.seeds} replicates of root seed {spec.root_seed}"
             + ("; each with its negative control" if spec.controls else ""),
             f"- **Metric:** `{summary.metric}`: mean, std (over seeds, ddof 1), min and max "
             "of its finite values; *holds* is the fraction of stored units whose rule held",
             f"- **Units:** {total - summary.missing} stored"
             + (f", {summary.missing} missing (failed or not run)" if summary.missing else ""),
             ""]
    head = ["arm", *spec.fields, "n", "mean", "std", "min", "max", "holds"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary.rows:
        n = f"{row['n_seeds']}" + (f" ({row['n_finite']} finite)"
                                   if row["n_finite"] != row["n_seeds"] else "")
        cells = [row["arm"], *(format_value(row[f]) for f in spec.fields), n,
                 *(_md_number(row[c]) for c in ("mean", "std", "min", "max")),
                 _md_number(row["holds_fraction"])]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if figures:
        lines += [""] + [f"![{name}]({name})" for name in figures]
    if notes:
        lines += [""] + [f"_{note}_" for note in notes]
    return "\n".join(lines) + "\n"


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating))
               and not isinstance(v, (bool, np.bool_)) for v in values)


def _draw_field(summary: Summary, name: str, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = summary.spec
    values = dict(spec.grid)[name]
    numeric = _numeric(values)
    order = sorted(values) if numeric else list(values)
    xs = {v: (float(v) if numeric else float(i)) for i, v in enumerate(order)}
    others = [f for f in spec.fields if f != name]
    lines: dict[tuple, list] = {}
    for row in summary.rows:
        key = (row["arm"], tuple(row[f] for f in others))
        lines.setdefault(key, []).append(row)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for (arm, other), rows in lines.items():
        rows = sorted(rows, key=lambda r: xs[r[name]])
        x = np.array([xs[r[name]] for r in rows])
        y = np.array([r["mean"] for r in rows])
        err = np.nan_to_num(np.array([r["std"] for r in rows]), nan=0.0)
        text = ", ".join(f"{f}={format_value(v)}" for f, v in zip(others, other))
        label = arm + (f", {text}" if text else "")
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3,
                    linestyle="-" if arm == "claim" else "--", label=label)
    if numeric and min(order) > 0 and max(order) / min(order) >= 20:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks([xs[v] for v in order], [format_value(v) for v in order])
    ax.set_xlabel(name)
    ax.set_ylabel(f"{summary.metric} (mean ± std over seeds)")
    ax.set_title(f"{spec.claim} ({spec.kind}): {summary.metric} against {name}")
    if len(lines) > 1:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[:12], labels[:12], fontsize="small")
    fig.savefig(path, dpi=100)


def write_summary(summary: Summary, out: str | PathLike, *, figures: bool = True
                  ) -> tuple[list[Path], list[str]]:
    """Write ``summary.csv``, ``summary.md`` and one ``fig_<field>.png`` per swept field.

    Without matplotlib the figures are skipped with a note (as is a figure that fails to
    draw: a figure never stops the summary).

    Returns
    -------
    paths : list of Path
        The files written.
    notes : list of str
        Why figures are missing, if they are.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    written: list[Path] = []
    names: list[str] = []
    if figures and summary.spec.fields:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            notes.append(MPL_MISSING)
        else:
            for name in summary.spec.fields:
                path = out / f"fig_{name}.png"
                try:
                    _draw_field(summary, name, path)
                except Exception as exc:  # one bad figure never stops the summary
                    notes.append(f"fig_{name}.png not drawn: {type(exc).__name__}: {exc}")
                else:
                    written.append(path)
                    names.append(path.name)
    csv_path, md_path = out / CSV_NAME, out / MD_NAME
    csv_path.write_text(_csv_text(summary))
    md_path.write_text(_md_text(summary, notes, names))
    return [csv_path, md_path, *written], notes
