"""The claims report, built from stored results only (nothing is recomputed).

:func:`build_report` reads every result saved by :func:`landsim.results.save_result` in a
directory and writes two documents side by side:

- ``report.html``: one self-contained page (inline CSS, figures embedded as base64 PNG,
  no external resources, no scripts);
- ``report.md``: its Markdown twin, with the figures as PNG files under ``figures/``.

Both open with a summary table (claim id, title, holds / does not hold, evidence),
followed by one section per result: the claim, its figure (drawn by the experiment
module's ``plot(result, fig)`` from the stored series), the metrics, the verdict (rule and
evidence), the config, seed, version, machine and timings. A module that cannot be
imported, or a ``plot`` that raises, leaves a note with the error in its section; the
report itself still builds.

matplotlib is imported inside the functions that draw, so ``import landsim`` stays light.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from . import __version__, experiments
from .results import FORMAT, Result, load_result

__all__ = ["NoResultsError", "build_report", "read_results", "render_figure"]

HTML_NAME = "report.html"
MD_NAME = "report.md"
FIGURES_DIR = "figures"
FIGSIZE = (12.0, 4.0)
DPI = 100


class NoResultsError(ValueError):
    """The results directory holds no landsim results."""


@dataclass
class _Section:
    """Everything one section of the report shows about one stored result."""

    result: Result
    title: str
    claim: str
    module_error: str | None = None
    png: bytes | None = None
    figure_error: str | None = None
    figure_file: str | None = None  # relative to the Markdown file
    anchor: str = ""


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_results(results_dir: str | PathLike) -> tuple[list[Result], list[tuple[str, str]]]:
    """Every readable result in ``results_dir`` and the result files that failed to load.

    Returns
    -------
    results : list of Result
        Sorted by experiment id, kind and seed.
    unreadable : list of (file name, error text)
        JSON files in the landsim result format whose loading raised.
    """
    results, unreadable = [], []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not (isinstance(data, dict) and data.get("format") == FORMAT):
            continue
        try:
            results.append(load_result(path))
        except Exception as exc:  # a broken file is noted, the others still report
            unreadable.append((path.name, _error_text(exc)))
    results.sort(key=lambda r: (r.experiment, r.kind, r.seed))
    return results, unreadable


def render_figure(module, result: Result) -> bytes:
    """The claim's figure as PNG bytes: ``module.plot(result, fig)`` on an Agg canvas."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    module.plot(result, fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _anchor(result: Result) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", result.stem)


def _section(result: Result) -> _Section:
    sec = _Section(result=result, title=result.experiment, claim="", anchor=_anchor(result))
    try:
        module = experiments.get(result.experiment)
    except Exception as exc:
        sec.module_error = _error_text(exc)
        sec.title = "(experiment module unavailable)"
        return sec
    sec.title = str(getattr(module, "TITLE", result.experiment))
    sec.claim = str(getattr(module, "CLAIM", ""))
    if not hasattr(module, "plot"):
        sec.figure_error = f"module {module.__name__} has no plot(result, fig)"
        return sec
    try:
        sec.png = render_figure(module, result)
    except Exception as exc:  # one bad figure never stops the report
        sec.figure_error = _error_text(exc)
    return sec


def _fmt_number(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _fmt_value(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _fmt_number(value)
    return json.dumps(value)


def _missing_ids(results: list[Result]) -> list[str]:
    present = {r.experiment for r in results}
    return [eid for eid in experiments.EXPERIMENT_IDS if eid not in present]


# --------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --ok: #1a7f37; --ok-bg: #e6f4ea; --bad: #b42318; --bad-bg: #fdecea;
        --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       line-height: 1.5; margin: 0; background: #f6f8fa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
       min-height: 100vh; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.45em; margin: 1.6em 0 0.4em; padding-bottom: 0.25em;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.meta { color: var(--muted); font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 0.93em; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-family: ui-monospace, Menlo, Consolas, monospace;
         white-space: nowrap; }
td code, td.mono { font-family: ui-monospace, Menlo, Consolas, monospace;
                   overflow-wrap: anywhere; }
table.summary { width: 100%; }
table.summary td:nth-child(2) { min-width: 13em; }
tbody th { white-space: nowrap; }
table.summary td:first-child { white-space: nowrap; font-weight: 600; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600;
         font-size: 0.9em; white-space: nowrap; }
.badge.ok { color: var(--ok); background: var(--ok-bg); border: 1px solid var(--ok); }
.badge.bad { color: var(--bad); background: var(--bad-bg); border: 1px solid var(--bad); }
.verdict { border-left: 5px solid; padding: 8px 14px; margin: 0.6em 0; border-radius: 4px; }
.verdict.ok { border-color: var(--ok); background: var(--ok-bg); }
.verdict.bad { border-color: var(--bad); background: var(--bad-bg); }
.verdict p { margin: 0.2em 0; }
.claim { font-size: 1.05em; font-style: italic; margin: 0.4em 0 0.8em; }
.note { border: 1px solid #d4a72c; background: #fff8c5; padding: 8px 14px; margin: 0.6em 0;
        border-radius: 4px; }
.note pre { margin: 0.4em 0 0; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 8px 12px;
      border-radius: 4px; overflow-x: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; font-size: 0.88em; }
figure { margin: 0.6em 0; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); }
.grid { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.grid > div { flex: 1 1 340px; min-width: 0; }
.grid table { width: 100%; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _badge(holds: bool) -> str:
    return ('<span class="badge ok">holds</span>' if holds
            else '<span class="badge bad">does not hold</span>')


def _kv_table(rows, numeric: bool) -> str:
    if not rows:
        return '<p class="meta">(none)</p>'
    cls = "num" if numeric else "mono"
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td class="{cls}">{_e(v)}</td></tr>'
                   for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _timing_rows(timings: dict) -> list[tuple[str, str]]:
    keys = [k for k in timings if k != "total"] + (["total"] if "total" in timings else [])
    return [(k, f"{timings[k]:.3f} s") for k in keys]


def _html_section(sec: _Section) -> str:
    r = sec.result
    v = r.verdict
    out = [f'<section id="{_e(sec.anchor)}">',
           f"<h2>{_e(r.experiment)} · {_e(sec.title)} "
           f'<span class="meta">({_e(r.kind)}, seed {r.seed})</span> {_badge(v.holds)}</h2>']
    if sec.module_error:
        out.append('<div class="note"><strong>The experiment module could not be imported'
                   '</strong>; the claim text and figure are missing.'
                   f"<pre>{_e(sec.module_error)}</pre></div>")
    else:
        out.append(f'<p class="claim">{_e(sec.claim)}</p>')
    if sec.png is not None:
        data = base64.b64encode(sec.png).decode("ascii")
        out.append(f'<figure><img alt="{_e(r.experiment)} figure" '
                   f'src="data:image/png;base64,{data}"></figure>')
    elif sec.figure_error:
        out.append('<div class="note"><strong>The figure could not be drawn</strong> '
                   "from the stored result."
                   f"<pre>{_e(sec.figure_error)}</pre></div>")
    cls = "ok" if v.holds else "bad"
    out.append(f'<div class="verdict {cls}"><p><strong>Verdict: '
               f'{"the claim holds" if v.holds else "the claim does not hold"}</strong></p>'
               f"<p><strong>Rule:</strong> {_e(v.rule)}</p>"
               f"<p><strong>Evidence:</strong> {_e(v.evidence)}</p></div>")
    metrics = [(k, _fmt_number(x)) for k, x in r.metrics.items()]
    config = [(k, _fmt_value(x)) for k, x in r.config.items()]
    run = [("seed", str(r.seed)), ("kind", r.kind), ("landsim version", r.version),
           ("machine", r.machine or "(unknown)"), ("result file", f"{r.stem}.json")]
    out.append('<div class="grid">'
               f"<div><h3>Metrics</h3>{_kv_table(metrics, True)}</div>"
               f"<div><h3>Config</h3>{_kv_table(config, False)}</div>"
               f"<div><h3>Run</h3>{_kv_table(run, False)}"
               f"<h3>Timings</h3>{_kv_table(_timing_rows(r.timings), True)}</div>"
               "</div>")
    out.append("</section>")
    return "\n".join(out)


def _html(sections: list[_Section], unreadable, missing, results_dir: Path, when: str) -> str:
    n_hold = sum(s.result.verdict.holds for s in sections)
    rows = "".join(
        f'<tr><td><a href="#{_e(s.anchor)}">{_e(s.result.experiment)}</a></td>'
        f"<td>{_e(s.title)}"
        f'<br><span class="meta">{_e(s.result.kind)}, seed {s.result.seed}</span></td>'
        f"<td>{_badge(s.result.verdict.holds)}</td><td>{_e(s.result.verdict.evidence)}</td>"
        "</tr>" for s in sections)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>landsim claims report</title>", f"<style>{_CSS}</style>", "</head>",
        "<body><main>", "<h1>landsim: claims report</h1>",
        f'<p class="meta">{n_hold} of {len(sections)} results hold their claim. Built '
        f"{_e(when)} by landsim {_e(__version__)} from the stored results in "
        f"<code>{_e(results_dir)}</code> (nothing recomputed).</p>",
        "<h2>Summary</h2>",
        '<table class="summary"><thead><tr><th>Claim</th><th>Title</th><th>Verdict</th>'
        f"<th>Evidence</th></tr></thead><tbody>{rows}</tbody></table>",
    ]
    if missing:
        parts.append(f'<p class="meta">No stored result for: {_e(", ".join(missing))}.</p>')
    if unreadable:
        items = "".join(f"<li><code>{_e(name)}</code>: {_e(err)}</li>"
                        for name, err in unreadable)
        parts.append('<div class="note"><strong>Result files that could not be read:'
                     f"</strong><ul>{items}</ul></div>")
    parts.extend(_html_section(s) for s in sections)
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------
# Markdown


def _m(text) -> str:
    """Text for a Markdown paragraph or table cell: HTML escaped, pipes and newlines safe."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|")


def _md_table(header: tuple[str, ...], rows) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_m(c) for c in row) + " |" for row in rows]
    return out


def _md_fence(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence, *text.splitlines(), fence]


def _md_section(sec: _Section) -> list[str]:
    r = sec.result
    v = r.verdict
    mark = "holds" if v.holds else "does not hold"
    out = ["", f'<a id="{sec.anchor}"></a>', "",
           f"## {_m(r.experiment)} · {_m(sec.title)} ({_m(r.kind)}, seed {r.seed}): {mark}",
           ""]
    if sec.module_error:
        out += ["> **Note:** the experiment module could not be imported; the claim text and "
                "figure are missing.", ">", *[f"> {line}" for line in
                                             _md_fence(sec.module_error)], ""]
    else:
        out += [f"*{_m(sec.claim)}*", ""]
    if sec.figure_file:
        out += [f"![{_m(r.experiment)} figure]({sec.figure_file})", ""]
    elif sec.figure_error:
        out += ["> **Note:** the figure could not be drawn from the stored result.", ">",
                *[f"> {line}" for line in _md_fence(sec.figure_error)], ""]
    icon = "✅" if v.holds else "❌"
    out += [f"**Verdict:** {icon} the claim {mark}.", "", f"- **Rule:** {_m(v.rule)}",
            f"- **Evidence:** {_m(v.evidence)}", "", "### Metrics", ""]
    out += _md_table(("metric", "value"), [(k, _fmt_number(x)) for k, x in r.metrics.items()])
    out += ["", "### Config", ""]
    out += _md_table(("parameter", "value"), [(k, _fmt_value(x)) for k, x in r.config.items()])
    out += ["", "### Run", ""]
    out += _md_table(("field", "value"), [("seed", str(r.seed)), ("kind", r.kind),
                                ("landsim version", r.version),
                                ("machine", r.machine or "(unknown)"),
                                ("result file", f"{r.stem}.json")])
    out += ["", "### Timings", ""]
    out += _md_table(("phase", "seconds"), _timing_rows(r.timings))
    return out


def _markdown(sections: list[_Section], unreadable, missing, results_dir: Path,
              when: str) -> str:
    n_hold = sum(s.result.verdict.holds for s in sections)
    out = ["# landsim: claims report", "",
           f"{n_hold} of {len(sections)} results hold their claim. Built {_m(when)} by "
           f"landsim {_m(__version__)} from the stored results in `{results_dir}` "
           "(nothing recomputed).", "", "## Summary", ""]
    out += _md_table(("Claim", "Title", "Verdict", "Evidence"), [
        (s.result.experiment, f"{s.title} ({s.result.kind}, seed {s.result.seed})",
         "holds" if s.result.verdict.holds else "does not hold", s.result.verdict.evidence)
        for s in sections])
    if missing:
        out += ["", f"No stored result for: {_m(', '.join(missing))}."]
    if unreadable:
        out += ["", "**Result files that could not be read:**", ""]
        out += [f"- `{name}`: {_m(err)}" for name, err in unreadable]
    for s in sections:
        out += _md_section(s)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------


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

    sections = [_section(r) for r in results]
    for sec in sections:
        if sec.png is not None:
            name = f"{sec.result.stem}.png"
            (fig_dir / name).write_bytes(sec.png)
            sec.figure_file = f"{FIGURES_DIR}/{name}"
    missing = _missing_ids(results)
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    shown_dir = results_dir.resolve()

    html_path = out_dir / HTML_NAME
    md_path = out_dir / MD_NAME
    html_path.write_text(_html(sections, unreadable, missing, shown_dir, when),
                         encoding="utf-8")
    md_path.write_text(_markdown(sections, unreadable, missing, shown_dir, when),
                       encoding="utf-8")
    return html_path, md_path
