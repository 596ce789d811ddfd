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

Toy and real results side by side. Results of kind "toy" are drawn by
:mod:`landsim.experiments`, those of kind "real" by :mod:`landsim.real.experiments`
(imported only when the directory holds a real result; without PyTorch their sections
carry a note). When a claim has both a toy and a real result with the same seed, its
section puts the two figures and the two verdicts side by side (the model's prediction
beside the real measurement), and when the directory holds both kinds the summary table
lists both verdicts of every claim.

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
#: Figure size (inches) of the toy and real figures shown side by side.
PAIR_FIGSIZE = (8.0, 4.2)
DPI = 100
KIND_LABELS = {"toy": "Toy model", "real": "Real network"}


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


@dataclass
class _Group:
    """The results of one claim and seed: a toy section, a real section, or both."""

    experiment: str
    seed: int
    toy: _Section | None = None
    real: _Section | None = None

    @property
    def members(self) -> list[_Section]:
        return [s for s in (self.toy, self.real) if s is not None]

    @property
    def paired(self) -> bool:
        return self.toy is not None and self.real is not None

    @property
    def anchor(self) -> str:
        if not self.paired:
            return self.members[0].anchor
        return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{self.experiment}-seed{self.seed}")

    @property
    def title(self) -> str:
        return self.members[0].title


def _groups(sections: list[_Section]) -> list[_Group]:
    """Sections grouped by (experiment, seed), in that order; kinds other than toy/real
    get a group of their own."""
    groups: dict[tuple, _Group] = {}
    for sec in sections:
        r = sec.result
        key = (r.experiment, r.seed) if r.kind in KIND_LABELS else (r.experiment, r.seed,
                                                                     r.kind)
        group = groups.setdefault(key, _Group(r.experiment, r.seed))
        if r.kind == "real":
            group.real = sec
        else:
            group.toy = sec
    return sorted(groups.values(), key=lambda g: (g.experiment, g.seed))


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


def render_figure(module, result: Result, figsize: tuple[float, float] = FIGSIZE) -> bytes:
    """The claim's figure as PNG bytes: ``module.plot(result, fig)`` on an Agg canvas."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    module.plot(result, fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _anchor(result: Result) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", result.stem)


def _module(result: Result):
    """The experiment module that draws ``result``: the toy or the real registry."""
    if result.kind != "real":
        return experiments.get(result.experiment)
    try:
        import torch  # noqa: F401  (the real modules need it; checked first for the message)

        from .real import experiments as real_experiments
    except ImportError as exc:
        raise ImportError(f"the real-network experiments need PyTorch (pip install "
                          f"landsim[torch]): {exc}") from exc
    return real_experiments.get(result.experiment)


def _section(result: Result, figsize: tuple[float, float] = FIGSIZE) -> _Section:
    sec = _Section(result=result, title=result.experiment, claim="", anchor=_anchor(result))
    try:
        module = _module(result)
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
        sec.png = render_figure(module, result, figsize)
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


def _missing_ids(results: list[Result], kind: str | None = None) -> list[str]:
    present = {r.experiment for r in results if kind is None or r.kind == kind}
    return [eid for eid in experiments.EXPERIMENT_IDS if eid not in present]


def _both_kinds(results: list[Result]) -> bool:
    kinds = {r.kind for r in results}
    return "toy" in kinds and "real" in kinds


# --------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --ok: #1a7f37; --ok-bg: #e6f4ea; --bad: #b42318; --bad-bg: #fdecea;
        --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       line-height: 1.5; margin: 0; background: #f6f8fa; }
main { max-width: 1480px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
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
.pair { display: flex; flex-wrap: wrap; gap: 0 24px; align-items: flex-start; }
.pair > .col { flex: 1 1 560px; min-width: 0; }
.pair > .col > h3 { margin-top: 0.6em; border-bottom: 1px solid var(--line);
                    padding-bottom: 0.2em; }
.pair table { width: 100%; }
.kind { color: var(--muted); font-weight: 600; font-size: 0.85em; margin-right: 4px; }
td .small { font-size: 0.92em; }
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


def _html_module_note(sec: _Section) -> str:
    return ('<div class="note"><strong>The experiment module could not be imported'
            '</strong>; the claim text and figure are missing.'
            f"<pre>{_e(sec.module_error)}</pre></div>")


def _html_section(sec: _Section) -> str:
    r = sec.result
    v = r.verdict
    out = [f'<section id="{_e(sec.anchor)}">',
           f"<h2>{_e(r.experiment)} · {_e(sec.title)} "
           f'<span class="meta">({_e(r.kind)}, seed {r.seed})</span> {_badge(v.holds)}</h2>']
    if sec.module_error:
        out.append(_html_module_note(sec))
    else:
        out.append(f'<p class="claim">{_e(sec.claim)}</p>')
    out += _html_body(sec)
    out.append("</section>")
    return "\n".join(out)


def _column_title(sec: _Section, toy: _Section) -> str:
    """"Toy model", or "Real network" with the real module's title when it differs."""
    label = KIND_LABELS[sec.result.kind]
    return label if sec is toy or sec.title == toy.title else f"{label}: {sec.title}"


def _html_body(sec: _Section) -> list[str]:
    """Figure, verdict and the metrics / config / run / timings tables of one result."""
    r = sec.result
    v = r.verdict
    out = []
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
    tables = (f"<div><h3>Metrics</h3>{_kv_table(metrics, True)}</div>"
              f"<div><h3>Config</h3>{_kv_table(config, False)}</div>"
              f"<div><h3>Run</h3>{_kv_table(run, False)}"
              f"<h3>Timings</h3>{_kv_table(_timing_rows(r.timings), True)}</div>")
    out.append(f'<div class="grid">{tables}</div>')
    return out


def _html_pair(group: _Group) -> str:
    """One claim with a toy and a real result: figures and verdicts side by side."""
    toy, real = group.toy, group.real
    out = [f'<section id="{_e(group.anchor)}">',
           f"<h2>{_e(group.experiment)} · {_e(toy.title)} "
           f'<span class="meta">(toy model and real network, seed {group.seed})</span> '
           f'<span class="kind">toy</span>{_badge(toy.result.verdict.holds)} '
           f'<span class="kind">real</span>{_badge(real.result.verdict.holds)}</h2>']
    if toy.claim and toy.claim == real.claim:  # one claim, tested on both
        out.append(f'<p class="claim">{_e(toy.claim)}</p>')
    else:
        for sec, label in ((toy, "Toy model"), (real, "Real network")):
            if not sec.module_error and sec.claim:
                out.append(f'<p class="claim"><strong>{label}:</strong> {_e(sec.claim)}</p>')
    out.append('<div class="pair">')
    for sec in (toy, real):
        out.append(f'<div class="col" id="{_e(sec.anchor)}">'
                   f"<h3>{_e(_column_title(sec, toy))} {_badge(sec.result.verdict.holds)}</h3>")
        if sec.module_error:
            out.append(_html_module_note(sec))
        out += _html_body(sec)
        out.append("</div>")
    out.append("</div></section>")
    return "\n".join(out)


def _html_verdict_cell(sec: _Section | None) -> str:
    if sec is None:
        return '<td class="meta">no result</td>'
    v = sec.result.verdict
    return f'<td>{_badge(v.holds)}<br><span class="small">{_e(v.evidence)}</span></td>'


def _hold_counts(sections: list[_Section]) -> str:
    n_hold = sum(s.result.verdict.holds for s in sections)
    text = f"{n_hold} of {len(sections)} results hold their claim"
    if _both_kinds([s.result for s in sections]):
        per = []
        for kind in KIND_LABELS:
            of = [s for s in sections if s.result.kind == kind]
            per.append(f"{kind}: {sum(s.result.verdict.holds for s in of)} of {len(of)}")
        text += f" ({', '.join(per)})"
    return text


def _missing_text(results: list[Result]) -> str:
    if not _both_kinds(results):
        missing = _missing_ids(results)
        return f"No stored result for: {', '.join(missing)}." if missing else ""
    parts = [f"no {kind} result for: {', '.join(m)}" for kind in KIND_LABELS
             if (m := _missing_ids(results, kind))]
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:] if parts else ""


def _html(sections: list[_Section], unreadable, missing, results_dir: Path, when: str) -> str:
    groups = _groups(sections)
    if _both_kinds([s.result for s in sections]):
        head = ("<th>Claim</th><th>Title</th><th>Toy model</th><th>Real network</th>")
        rows = "".join(
            f'<tr><td><a href="#{_e(g.anchor)}">{_e(g.experiment)}</a></td>'
            f'<td>{_e(g.title)}<br><span class="meta">seed {g.seed}</span></td>'
            f"{_html_verdict_cell(g.toy)}{_html_verdict_cell(g.real)}</tr>" for g in groups)
    else:
        head = "<th>Claim</th><th>Title</th><th>Verdict</th><th>Evidence</th>"
        rows = "".join(
            f'<tr><td><a href="#{_e(s.anchor)}">{_e(s.result.experiment)}</a></td>'
            f"<td>{_e(s.title)}"
            f'<br><span class="meta">{_e(s.result.kind)}, seed {s.result.seed}</span></td>'
            f"<td>{_badge(s.result.verdict.holds)}</td>"
            f"<td>{_e(s.result.verdict.evidence)}</td></tr>" for s in sections)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>landsim claims report</title>", f"<style>{_CSS}</style>", "</head>",
        "<body><main>", "<h1>landsim: claims report</h1>",
        f'<p class="meta">{_e(_hold_counts(sections))}. Built '
        f"{_e(when)} by landsim {_e(__version__)} from the stored results in "
        f"<code>{_e(results_dir)}</code> (nothing recomputed).</p>",
        "<h2>Summary</h2>",
        f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>',
    ]
    if missing:
        parts.append(f'<p class="meta">{_e(missing)}</p>')
    if unreadable:
        items = "".join(f"<li><code>{_e(name)}</code>: {_e(err)}</li>"
                        for name, err in unreadable)
        parts.append('<div class="note"><strong>Result files that could not be read:'
                     f"</strong><ul>{items}</ul></div>")
    parts.extend(_html_pair(g) if g.paired else _html_section(g.members[0])
                 for g in groups)
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


def _md_module_note(sec: _Section) -> list[str]:
    return ["> **Note:** the experiment module could not be imported; the claim text and "
            "figure are missing.", ">", *[f"> {line}" for line in
                                         _md_fence(sec.module_error)], ""]


def _md_section(sec: _Section) -> list[str]:
    r = sec.result
    v = r.verdict
    mark = "holds" if v.holds else "does not hold"
    out = ["", f'<a id="{sec.anchor}"></a>', "",
           f"## {_m(r.experiment)} · {_m(sec.title)} ({_m(r.kind)}, seed {r.seed}): {mark}",
           ""]
    if sec.module_error:
        out += _md_module_note(sec)
    else:
        out += [f"*{_m(sec.claim)}*", ""]
    if sec.figure_file:
        out += [f"![{_m(r.experiment)} figure]({sec.figure_file})", ""]
    elif sec.figure_error:
        out += ["> **Note:** the figure could not be drawn from the stored result.", ">",
                *[f"> {line}" for line in _md_fence(sec.figure_error)], ""]
    icon = "✅" if v.holds else "❌"
    out += [f"**Verdict:** {icon} the claim {mark}.", "", f"- **Rule:** {_m(v.rule)}",
            f"- **Evidence:** {_m(v.evidence)}", ""]
    return out + _md_tables(r, "###")


def _md_tables(r: Result, level: str) -> list[str]:
    """Metrics, config, run and timings tables of one result, under headings ``level``."""
    out = [f"{level} Metrics", ""]
    out += _md_table(("metric", "value"), [(k, _fmt_number(x)) for k, x in r.metrics.items()])
    out += ["", f"{level} Config", ""]
    out += _md_table(("parameter", "value"), [(k, _fmt_value(x)) for k, x in r.config.items()])
    out += ["", f"{level} Run", ""]
    out += _md_table(("field", "value"), [("seed", str(r.seed)), ("kind", r.kind),
                                ("landsim version", r.version),
                                ("machine", r.machine or "(unknown)"),
                                ("result file", f"{r.stem}.json")])
    out += ["", f"{level} Timings", ""]
    out += _md_table(("phase", "seconds"), _timing_rows(r.timings))
    return out


def _md_verdict_word(sec: _Section | None) -> str:
    if sec is None:
        return "no result"
    return "✅ holds" if sec.result.verdict.holds else "❌ does not hold"


def _md_figure_cell(sec: _Section) -> str:
    r = sec.result
    if sec.figure_file:
        return (f'<img src="{html.escape(sec.figure_file)}" '
                f'alt="{_m(r.experiment)} {_m(r.kind)} figure" width="100%">')
    why = sec.figure_error or sec.module_error or "no figure"
    return f"(the figure could not be drawn: {html.escape(why)})"


def _md_pair(group: _Group) -> list[str]:
    """One claim with a toy and a real result: figures side by side in an HTML table,
    the two verdicts in a Markdown table, then each result's tables."""
    toy, real = group.toy, group.real
    words = ["holds" if sec.result.verdict.holds else "does not hold" for sec in (toy, real)]
    marks = f"toy model {words[0]}, real network {words[1]}"
    out = ["", f'<a id="{group.anchor}"></a>', "",
           f"## {_m(group.experiment)} · {_m(toy.title)} (seed {group.seed}): {marks}", ""]
    for sec in (toy, real):
        if sec.module_error:
            out += _md_module_note(sec)
    if toy.claim and toy.claim == real.claim:
        out += [f"*{_m(toy.claim)}*", ""]
    else:
        for sec in (toy, real):
            if sec.claim and not sec.module_error:
                out += [f"*{KIND_LABELS[sec.result.kind]}: {_m(sec.claim)}*", ""]
    out += ["<table>",
            "<tr>" + "".join(f'<th width="50%">{html.escape(_column_title(sec, toy))}</th>'
                             for sec in (toy, real)) + "</tr>",
            "<tr>" + "".join(f'<td valign="top">{_md_figure_cell(sec)}</td>'
                             for sec in (toy, real)) + "</tr>",
            "</table>", ""]
    out += _md_table(("", "Toy model", "Real network"), [
        ("Verdict", _md_verdict_word(toy), _md_verdict_word(real)),
        ("Rule", toy.result.verdict.rule, real.result.verdict.rule),
        ("Evidence", toy.result.verdict.evidence, real.result.verdict.evidence)])
    for sec in (toy, real):
        out += ["", f'<a id="{sec.anchor}"></a>', "",
                f"### {_m(_column_title(sec, toy))}: details", ""]
        out += _md_tables(sec.result, "####")
    return out


def _markdown(sections: list[_Section], unreadable, missing, results_dir: Path,
              when: str) -> str:
    groups = _groups(sections)
    out = ["# landsim: claims report", "",
           f"{_m(_hold_counts(sections))}. Built {_m(when)} by "
           f"landsim {_m(__version__)} from the stored results in `{results_dir}` "
           "(nothing recomputed).", "", "## Summary", ""]
    if _both_kinds([s.result for s in sections]):
        def cells(sec):
            if sec is None:
                return "no result", ""
            v = sec.result.verdict
            return "holds" if v.holds else "does not hold", v.evidence

        out += _md_table(("Claim", "Title", "Toy model", "Toy evidence", "Real network",
                          "Real evidence"), [
            (g.experiment, f"{g.title} (seed {g.seed})", *cells(g.toy), *cells(g.real))
            for g in groups])
    else:
        out += _md_table(("Claim", "Title", "Verdict", "Evidence"), [
            (s.result.experiment, f"{s.title} ({s.result.kind}, seed {s.result.seed})",
             "holds" if s.result.verdict.holds else "does not hold",
             s.result.verdict.evidence) for s in sections])
    if missing:
        out += ["", _m(missing)]
    if unreadable:
        out += ["", "**Result files that could not be read:**", ""]
        out += [f"- `{name}`: {_m(err)}" for name, err in unreadable]
    for g in groups:
        out += _md_pair(g) if g.paired else _md_section(g.members[0])
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

    kinds: dict[tuple, set] = {}
    for r in results:
        kinds.setdefault((r.experiment, r.seed), set()).add(r.kind)
    sections = [_section(r, PAIR_FIGSIZE if kinds[(r.experiment, r.seed)] >= {"toy", "real"}
                         else FIGSIZE) for r in results]
    for sec in sections:
        if sec.png is not None:
            name = f"{sec.result.stem}.png"
            (fig_dir / name).write_bytes(sec.png)
            sec.figure_file = f"{FIGURES_DIR}/{name}"
    missing = _missing_text(results)
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    shown_dir = results_dir.resolve()

    html_path = out_dir / HTML_NAME
    md_path = out_dir / MD_NAME
    html_path.write_text(_html(sections, unreadable, missing, shown_dir, when),
                         encoding="utf-8")
    md_path.write_text(_markdown(sections, unreadable, missing, shown_dir, when),
                       encoding="utf-8")
    return html_path, md_path
