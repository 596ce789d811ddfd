"""The HTML report: one self-contained page (inline CSS, figures as base64 PNG, no
scripts, no external resources), every stored string escaped."""

from __future__ import annotations

import base64
import html

from ._content import (
    KIND_LABELS,
    ClaimSection,
    Figure,
    KindBlock,
    config_rows,
    fmt_interval,
    fmt_number,
    run_rows,
)

CSS = """
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
.badge.warn { color: #7d4e00; background: #fff8c5; border: 1px solid #d4a72c; }
.verdict.warn { border-color: #d4a72c; background: #fff8c5; }
.kindblock { margin: 0.8em 0 1.4em; padding-left: 12px; border-left: 3px solid var(--line); }
details { margin: 0.4em 0; }
details > summary { cursor: pointer; color: var(--muted); }
td.held { color: var(--ok); font-weight: 600; }
td.failed { color: var(--bad); font-weight: 600; }
"""

def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _cls(status: str) -> str:
    return {"holds": "ok", "no control": "warn", "not aggregated": "warn"}.get(status, "bad")


def _badge(status: str) -> str:
    return f'<span class="badge {_cls(status)}">{_e(status)}</span>'


def _table(header, rows, numeric=()) -> str:
    """A table of escaped cells; columns whose index is in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _note(title: str, detail: str) -> str:
    return f'<div class="note"><strong>{_e(title)}</strong><pre>{_e(detail)}</pre></div>'


def _figure(fig: Figure) -> str:
    if fig.png is not None:
        data = base64.b64encode(fig.png).decode("ascii")
        return (f'<figure><img alt="{_e(fig.caption)}" src="data:image/png;base64,{data}">'
                f'<figcaption class="meta">{_e(fig.caption)}</figcaption></figure>')
    return _note("The figure could not be drawn from the stored results.",
                 fig.error or "unknown error")


def _rule_link(section: ClaimSection, doc_href: str | None) -> str:
    if doc_href is None:
        return (f"the rule of {_e(section.experiment)} in <code>docs/claims.md</code> of the "
                "landsim repository")
    href = f"{doc_href}#{section.doc_fragment}"
    return f'<a href="{_e(href)}">the rule of {_e(section.experiment)} in docs/claims.md</a>'


def _replicate_rows(block: KindBlock) -> list[list[str]]:
    rows = []
    for r in block.results:
        rows.append([str(r.replicate), r.arm, str(r.seed),
                     "held" if r.verdict.holds else "failed",
                     *[fmt_number(float(r.metrics.get(m, float("nan"))))
                       for m in block.key_metrics], r.verdict.evidence])
    return rows


def _replicate_table(block: KindBlock) -> str:
    header = ["replicate", "arm", "seed", "rule", *block.key_metrics, "evidence"]
    n = len(block.key_metrics)
    body = []
    for row in _replicate_rows(block):
        cells = []
        for i, c in enumerate(row):
            if i == 3:
                cells.append(f'<td class="{c}">{_e(c)}</td>')
            elif 4 <= i < 4 + n:
                cells.append(f'<td class="num">{_e(c)}</td>')
            elif i == 4 + n:
                cells.append(f'<td><span class="small">{_e(c)}</span></td>')
            else:
                cells.append(f"<td>{_e(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _stats_table(block: KindBlock) -> str:
    v = block.verdict
    rows = [(m, fmt_interval(v.claim.stats.get(m)),
             fmt_interval(v.control.stats.get(m)) if v.control is not None else "not run")
            for m in block.key_metrics]
    return _table(("statistic", f"claim, mean [95% CI] over {v.claim.n}",
                   "control, mean [95% CI] over "
                   f"{v.control.n if v.control is not None else 0}"), rows, numeric=(1, 2))


def _block(section: ClaimSection, block: KindBlock, doc_href: str | None) -> str:
    out = [f'<div class="kindblock" id="{_e(section.anchor)}-{_e(block.kind)}">',
           f"<h3>{_e(block.label)} {_badge(block.status)}</h3>"]
    if block.module_error:
        out.append(_note("The experiment module could not be imported; the claim text and "
                         "figures are missing.", block.module_error))
    if block.control:
        out.append(f"<p><strong>Negative control:</strong> {_e(block.control)}</p>")
    if block.verdict is not None:
        v = block.verdict
        out.append(f'<div class="verdict {_cls(v.status)}"><p><strong>Verdict: {_e(v.status)}'
                   f"</strong> ({_e(block.counts)})</p>"
                   f"<p><strong>Aggregation:</strong> {_e(v.rule)}.</p>"
                   f"<p><strong>Per replicate:</strong> {_e(block.replicate_rule)} "
                   f"({_rule_link(section, doc_href)}).</p>"
                   f"<p><strong>Evidence:</strong> {_e(v.evidence)}</p></div>")
        out.append("<h4>Key statistics over replicates</h4>" + _stats_table(block))
    else:
        out.append(_note("The stored results could not be aggregated into one verdict.",
                         block.aggregation_error or ""))
    out.append(_figure(block.spread))
    out.append("<h4>Every replicate</h4>" + _replicate_table(block))
    if block.examples:
        out.append("<h4>Figures of replicate 0</h4>" if all(
            r.replicate == 0 for r, _ in block.examples) else "<h4>Figures</h4>")
        out.append('<div class="pair">' + "".join(
            f'<div class="col"><h4>{_e(r.arm)} arm</h4>{_figure(fig)}</div>'
            for r, fig in block.examples) + "</div>")
    out.append("<details><summary>Configuration and runs</summary>")
    out.append(_table(("field", "claim", "control (where it differs)"), config_rows(block)))
    out.append(_table(("", ""), run_rows(block)))
    out.append("</details></div>")
    return "\n".join(out)


def _section(section: ClaimSection, doc_href: str | None) -> str:
    badges = " ".join(f'<span class="kind">{_e(k)}</span>{_badge(b.status)}'
                      for k, b in section.blocks.items())
    out = [f'<section id="{_e(section.anchor)}">',
           f"<h2>{_e(section.experiment)} · {_e(section.title)} {badges}</h2>"]
    claims = {b.claim for b in section.blocks.values() if b.claim}
    if len(claims) == 1:
        out.append(f'<p class="claim">{_e(claims.pop())}</p>')
    else:
        out += [f'<p class="claim"><strong>{_e(b.label)}:</strong> {_e(b.claim)}</p>'
                for b in section.blocks.values() if b.claim]
    out += [_block(section, b, doc_href) for b in section.blocks.values()]
    out.append("</section>")
    return "\n".join(out)


def _summary(sections: list[ClaimSection]) -> str:
    kinds = [k for k in KIND_LABELS if any(k in s.blocks for s in sections)]
    head = "<th>Claim</th><th>Title</th>" + "".join(f"<th>{_e(KIND_LABELS[k])}</th>"
                                                    for k in kinds)
    rows = []
    for s in sections:
        cells = []
        for k in kinds:
            b = s.blocks.get(k)
            cells.append('<td class="meta">no result</td>' if b is None else
                         f'<td>{_badge(b.status)}<br><span class="small">{_e(b.counts)}'
                         "</span></td>")
        rows.append(f'<tr><td><a href="#{_e(s.anchor)}">{_e(s.experiment)}</a></td>'
                    f"<td>{_e(s.title)}</td>{''.join(cells)}</tr>")
    return (f'<table class="summary"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_html(sections: list[ClaimSection], intro: str, notes: list[str],
                unreadable: list[tuple[str, str]], doc_href: str | None) -> str:
    """The whole page."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>landsim claims report</title>", f"<style>{CSS}</style>", "</head>",
        "<body><main>", "<h1>landsim: claims report</h1>",
        f'<p class="meta">{_e(intro)}</p>', "<h2>Summary</h2>", _summary(sections)]
    parts += [f'<p class="meta">{_e(n)}</p>' for n in notes if n]
    if unreadable:
        items = "".join(f"<li><code>{_e(name)}</code>: {_e(err)}</li>"
                        for name, err in unreadable)
        parts.append('<div class="note"><strong>Result files that could not be read:'
                     f"</strong><ul>{items}</ul></div>")
    parts += [_section(s, doc_href) for s in sections]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
