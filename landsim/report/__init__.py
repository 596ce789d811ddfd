"""The claims report, built from stored results only (nothing is recomputed).

:func:`build_report` reads every result saved by :func:`landsim.results.save_result` in a
directory, aggregates each claim over its replicates and its negative control
(:mod:`landsim.verdicts`) and writes two documents side by side:

- ``report.html``: one self-contained page (inline CSS, figures embedded as base64 PNG,
  no external resources, no scripts);
- ``report.md``: its Markdown twin, with the figures as PNG files under ``figures/``.

Both open with a summary table: for each claim and each kind (toy model, real network) its
status (``holds``, ``does not hold``, ``not discriminating``, ``no control``) and how many
replicates of the claim held and of the control failed. One section per claim follows,
with one block per kind:

- the verdict, the aggregation rule and a link to the claim's rule in docs/claims.md;
- the key statistics as mean and 95% interval over replicates, claim beside control;
- the spread figure: every replicate's key statistics, filled where its rule held;
- every replicate's verdict and key statistics, both arms;
- the claim's own figure (its module's ``plot``) for the first replicate of each arm;
- the configuration of both arms, seeds, versions, machines and compute time.

A module that cannot be imported, a ``plot`` that raises or results that cannot be
aggregated (e.g. replicates stored with different configs) leave a note where they would
have appeared; the report itself still builds.

matplotlib is imported inside the functions that draw, so ``import landsim`` stays light.
"""

from __future__ import annotations

import datetime as _dt
from os import PathLike
from pathlib import Path

from .. import __version__
from ._content import (
    KIND_LABELS,
    ClaimSection,
    claim_sections,
    claims_doc_href,
    hold_counts,
    missing_text,
    read_results,
)
from ._figures import DPI, PAIR_FIGSIZE, render_figure, render_spread
from ._html import render_html
from ._markdown import render_markdown

__all__ = ["NoResultsError", "build_report", "read_results", "render_figure",
           "render_spread", "DPI", "PAIR_FIGSIZE", "KIND_LABELS", "HTML_NAME", "MD_NAME",
           "FIGURES_DIR"]

HTML_NAME = "report.html"
MD_NAME = "report.md"
FIGURES_DIR = "figures"


class NoResultsError(ValueError):
    """The results directory holds no landsim results."""


def _write_figures(sections: list[ClaimSection], fig_dir: Path) -> None:
    for section in sections:
        for block in section.blocks.values():
            figures = [block.spread] + [fig for _, fig in block.examples]
            for fig in figures:
                if fig is not None and fig.png is not None:
                    (fig_dir / fig.name).write_bytes(fig.png)
                    fig.file = f"{FIGURES_DIR}/{fig.name}"


def build_report(results_dir: str | PathLike,
                 out_dir: str | PathLike | None = None) -> tuple[Path, Path]:
    """Write the HTML report and its Markdown twin from the results stored in a directory.

    Parameters
    ----------
    results_dir : path
        A directory of results written by :func:`landsim.results.save_result`.
    out_dir : path, optional
        Where to write ``report.html``, ``report.md`` and ``figures/*.png``; defaults to
        ``results_dir``.

    Returns
    -------
    (html_path, md_path) : tuple of Path

    Raises
    ------
    NoResultsError
        If ``results_dir`` does not exist or holds no readable landsim result.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NoResultsError(f"{results_dir} is not a directory")
    results, unreadable = read_results(results_dir)
    if not results:
        extra = f" ({len(unreadable)} unreadable)" if unreadable else ""
        raise NoResultsError(f"no landsim results in {results_dir}{extra}")
    out_dir = Path(out_dir) if out_dir is not None else results_dir
    fig_dir = out_dir / FIGURES_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)

    sections = claim_sections(results)
    _write_figures(sections, fig_dir)
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    counts = hold_counts(sections)
    intro = (f"{counts[0].upper() + counts[1:]}. {len(results)} stored results "
             f"(claim and control arms of every replicate). Built {when} by landsim "
             f"{__version__} from the results in {results_dir.resolve()} (nothing "
             "recomputed).")
    notes = [missing_text(results)]
    doc_href = claims_doc_href(out_dir)

    html_path = out_dir / HTML_NAME
    md_path = out_dir / MD_NAME
    html_path.write_text(render_html(sections, intro, notes, unreadable, doc_href),
                         encoding="utf-8")
    md_path.write_text(render_markdown(sections, intro, notes, unreadable, doc_href),
                       encoding="utf-8")
    return html_path, md_path
