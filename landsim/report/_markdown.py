"""The Markdown twin of the HTML report: the same sections and tables, figures as PNG files
under ``figures/``, stored strings escaped (HTML special characters, pipes, newlines)."""

from __future__ import annotations

import html
import re

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

MARKS = {"holds": "✅", "does not hold": "❌", "not discriminating": "❌"}


def _m(text) -> str:
    """Text for a Markdown paragraph or table cell: HTML escaped, pipes and newlines safe."""
    text = html.escape(str(text), quote=False)
    return re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|")


def _status(status: str) -> str:
    return f"{MARKS.get(status, '⚠️')} {status}"


def _table(header, rows) -> list[str]:
    out = ["| " + " | ".join(_m(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_m(c) for c in row) + " |" for row in rows]
    return out


def _fence(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence, *text.splitlines(), fence]


def _note(title: str, detail: str) -> list[str]:
    return [f"> **Note:** {title}", ">", *[f"> {line}" for line in _fence(detail)], ""]


def _figure(fig: Figure) -> list[str]:
    if fig.file:
        return [f"![{_m(fig.caption)}]({fig.file})", "", f"*{_m(fig.caption)}*", ""]
    return _note("the figure could not be drawn from the stored results.",
                 fig.error or "unknown error")


def _figure_cell(fig: Figure) -> str:
    if fig.file:
        return (f'<img src="{html.escape(fig.file)}" alt="{html.escape(fig.caption)}" '
                'width="100%">')
    return f"(the figure could not be drawn: {html.escape(fig.error or 'unknown error')})"


def _rule_link(section: ClaimSection, doc_href: str | None) -> str:
    if doc_href is None:
        return f"the rule of {section.experiment} in `docs/claims.md` of the landsim repository"
    return f"[the rule of {section.experiment} in docs/claims.md]({doc_href}#" \
           f"{section.doc_fragment})"


def _block(section: ClaimSection, block: KindBlock, doc_href: str | None) -> list[str]:
    out = ["", f'<a id="{section.anchor}-{block.kind}"></a>', "",
           f"### {_m(block.label)}: {_status(block.status)}", ""]
    if block.module_error:
        out += _note("the experiment module could not be imported; the claim text and "
                     "figures are missing.", block.module_error)
    if block.control:
        out += [f"**Negative control:** {_m(block.control)}", ""]
    if block.verdict is not None:
        v = block.verdict
        out += [f"**Verdict:** {_status(v.status)} ({_m(block.counts)}).", "",
                f"- **Aggregation:** {_m(v.rule)}.",
                f"- **Per replicate:** {_m(block.replicate_rule)} "
                f"({_rule_link(section, doc_href)}).",
                f"- **Evidence:** {_m(v.evidence)}", "", "#### Key statistics over replicates",
                ""]
        n_c = v.control.n if v.control is not None else 0
        out += _table(("statistic", f"claim, mean [95% CI] over {v.claim.n}",
                       f"control, mean [95% CI] over {n_c}"),
                      [(m, fmt_interval(v.claim.stats.get(m)),
                        fmt_interval(v.control.stats.get(m)) if v.control is not None
                        else "not run") for m in block.key_metrics])
        out.append("")
    else:
        out += _note("the stored results could not be aggregated into one verdict.",
                     block.aggregation_error or "")
    out += _figure(block.spread)
    out += ["#### Every replicate", ""]
    out += _table(("replicate", "arm", "seed", "rule", *block.key_metrics, "evidence"), [
        (str(r.replicate), r.arm, str(r.seed), "held" if r.verdict.holds else "failed",
         *[fmt_number(float(r.metrics.get(m, float("nan")))) for m in block.key_metrics],
         r.verdict.evidence) for r in block.results])
    if block.examples:
        out += ["", "#### Figures", "", "<table>",
                "<tr>" + "".join(f'<th width="50%">{html.escape(r.arm)} arm, replicate '
                                 f"{r.replicate}</th>" for r, _ in block.examples) + "</tr>",
                "<tr>" + "".join(f'<td valign="top">{_figure_cell(fig)}</td>'
                                 for _, fig in block.examples) + "</tr>", "</table>"]
    out += ["", "#### Configuration and runs", ""]
    out += _table(("field", "claim", "control (where it differs)"), config_rows(block))
    out += [""] + _table(("", ""), run_rows(block))
    return out


def _section(section: ClaimSection, doc_href: str | None) -> list[str]:
    marks = ", ".join(f"{k} {b.status}" for k, b in section.blocks.items())
    out = ["", f'<a id="{section.anchor}"></a>', "",
           f"## {_m(section.experiment)} · {_m(section.title)} ({_m(marks)})", ""]
    claims = {b.claim for b in section.blocks.values() if b.claim}
    if len(claims) == 1:
        out += [f"*{_m(claims.pop())}*", ""]
    else:
        out += [f"*{_m(b.label)}: {_m(b.claim)}*\n" for b in section.blocks.values() if b.claim]
    for block in section.blocks.values():
        out += _block(section, block, doc_href)
    return out


def render_markdown(sections: list[ClaimSection], intro: str, notes: list[str],
                    unreadable: list[tuple[str, str]], doc_href: str | None) -> str:
    """The whole Markdown document."""
    kinds = [k for k in KIND_LABELS if any(k in s.blocks for s in sections)]
    out = ["# landsim: claims report", "", _m(intro), "", "## Summary", ""]
    rows = []
    for s in sections:
        cells = []
        for k in kinds:
            b = s.blocks.get(k)
            cells += ["no result", ""] if b is None else [_status(b.status), b.counts]
        rows.append((s.experiment, s.anchor, s.title, *cells))
    header = ["Claim", "Title"]
    for k in kinds:
        header += [KIND_LABELS[k], "replicates"]
    table = _table(header, [])
    table += ["| " + " | ".join([f"[{_m(row[0])}](#{row[1]})"] + [_m(c) for c in row[2:]])
              + " |" for row in rows]
    out += table
    for note in notes:
        out += ["", _m(note)] if note else []
    if unreadable:
        out += ["", "**Result files that could not be read:**", ""]
        out += [f"- `{name}`: {_m(err)}" for name, err in unreadable]
    for s in sections:
        out += _section(s, doc_href)
    return "\n".join(out) + "\n"
