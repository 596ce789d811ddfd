"""What the report shows, gathered from stored results: one section per claim, one block per
kind within it (the aggregated verdict, the spread figure, the representative figures)."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..results import KINDS, READABLE_FORMATS, Result, load_result, sort_key
from ..units import experiment_module as _experiment_module
from ..verdicts import ClaimVerdict, aggregate_claim
from ._figures import PAIR_FIGSIZE, render_figure, render_spread

#: Display names of the result kinds.
KIND_LABELS = {"toy": "Toy model", "real": "Real network"}
#: At most this many metrics are summarised when the module names none.
MAX_DEFAULT_METRICS = 4
#: Where the claims are written down, relative to the repository root.
CLAIMS_DOC = Path("docs") / "claims.md"


def error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_results(results_dir: str | os.PathLike) -> tuple[list[Result], list[tuple[str, str]]]:
    """Every readable result in ``results_dir`` and the result files that failed to load.

    Returns
    -------
    results : list of Result
        Sorted by claim, kind, arm, seed and replicate (:func:`landsim.results.sort_key`).
    unreadable : list of (file name, error text)
        JSON files in a landsim result format whose loading raised.
    """
    results, unreadable = [], []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not (isinstance(data, dict) and data.get("format") in READABLE_FORMATS):
            continue
        try:
            results.append(load_result(path))
        except Exception as exc:  # a broken file is noted, the others still report
            unreadable.append((path.name, error_text(exc)))
    results.sort(key=sort_key)
    return results, unreadable


def experiment_module(experiment: str, kind: str):
    """The module that defines and draws a claim of ``kind``
    (:func:`landsim.units.experiment_module`); without PyTorch a real claim's error says
    how to install it."""
    try:
        return _experiment_module(experiment, kind)
    except ImportError as exc:
        if kind != "real":
            raise
        raise ImportError(f"the real-network experiments need PyTorch (pip install "
                          f"landsim[torch]): {exc}") from exc


def anchor(*parts: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(parts))


@dataclass
class Figure:
    """One drawn figure: PNG bytes, or the error that stopped it; ``file`` is its path
    relative to the Markdown report once written."""

    name: str
    caption: str
    png: bytes | None = None
    error: str | None = None
    file: str | None = None


@dataclass
class KindBlock:
    """Everything shown about one claim of one kind.

    Attributes
    ----------
    results : list of Result
        Every stored result of the claim and kind, both arms, sorted.
    verdict : ClaimVerdict or None
        None when the results could not be aggregated (``aggregation_error`` says why).
    key_metrics : tuple of str
        The metrics of the tables and the spread figure.
    """

    kind: str
    results: list
    title: str = ""
    claim: str = ""
    control: str = ""
    module_error: str | None = None
    verdict: ClaimVerdict | None = None
    aggregation_error: str | None = None
    key_metrics: tuple = ()
    spread: Figure | None = None
    examples: list = field(default_factory=list)  # [(Result, Figure)], claim then control

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def status(self) -> str:
        if self.verdict is not None:
            return self.verdict.status
        return "not aggregated"

    @property
    def holds(self) -> bool:
        return self.verdict is not None and self.verdict.holds

    @property
    def replicate_rule(self) -> str:
        """The rule each replicate was judged by, as its result states it."""
        first = next((r for r in self.results if r.arm == "claim"), self.results[0])
        return first.verdict.rule

    @property
    def counts(self) -> str:
        """The replicate counts in a few words, e.g. "claim 5/5 held, control 5/5 failed"."""
        if self.verdict is None:
            return self.aggregation_error or ""
        v = self.verdict
        text = f"claim rule held in {v.claim.passes}/{v.claim.n}"
        if v.control is None:
            return text + ", no control run"
        return text + f"; control failed in {v.control.fails}/{v.control.n}"


@dataclass
class ClaimSection:
    """One claim: a block per kind that has results."""

    experiment: str
    blocks: dict  # kind -> KindBlock, in KINDS order

    @property
    def anchor(self) -> str:
        return anchor(self.experiment)

    @property
    def title(self) -> str:
        for block in self.blocks.values():
            if block.title:
                return block.title
        return "(experiment module unavailable)"

    @property
    def doc_fragment(self) -> str:
        return self.experiment.lower()


def _key_metrics(module, results: list[Result]) -> tuple:
    names = getattr(module, "KEY_METRICS", None) if module is not None else None
    if names:
        return tuple(names)
    first = next((r for r in results if r.arm == "claim"), results[0])
    return tuple(first.metrics)[:MAX_DEFAULT_METRICS]


def _draw(module, result: Result) -> Figure:
    fig = Figure(name=f"{result.stem}.png",
                 caption=f"{result.arm} arm, replicate {result.replicate} (seed {result.seed})")
    if module is None:
        fig.error = "the experiment module is unavailable"
    elif not hasattr(module, "plot"):
        fig.error = f"module {module.__name__} has no plot(result, fig)"
    else:
        try:
            fig.png = render_figure(module, result, PAIR_FIGSIZE)
        except Exception as exc:  # one bad figure never stops the report
            fig.error = error_text(exc)
    return fig


def kind_block(experiment: str, kind: str, results: list[Result]) -> KindBlock:
    """Aggregate and draw one claim of one kind from its stored results."""
    block = KindBlock(kind=kind, results=sorted(results, key=sort_key))
    module = None
    try:
        module = experiment_module(experiment, kind)
    except Exception as exc:
        block.module_error = error_text(exc)
    else:
        block.title = str(getattr(module, "TITLE", experiment))
        block.claim = str(getattr(module, "CLAIM", ""))
        block.control = str(getattr(module, "CONTROL", ""))
    block.key_metrics = _key_metrics(module, block.results)
    try:
        block.verdict = aggregate_claim(block.results, block.key_metrics)
    except ValueError as exc:
        block.aggregation_error = str(exc)
    spread = Figure(name=f"{experiment}-{kind}-spread.png",
                    caption="Every replicate's key statistics, claim and control")
    if block.verdict is not None:
        try:
            spread.png = render_spread(block.verdict)
        except Exception as exc:
            spread.error = error_text(exc)
    else:
        spread.error = "the results could not be aggregated"
    block.spread = spread
    for arm in ("claim", "control"):
        first = next((r for r in block.results if r.arm == arm), None)
        if first is not None:
            block.examples.append((first, _draw(module, first)))
    return block


def claim_sections(results: list[Result]) -> list[ClaimSection]:
    """One section per claim id present, its kinds in the order toy, real, others."""
    grouped: dict[str, dict[str, list[Result]]] = {}
    for r in results:
        grouped.setdefault(r.experiment, {}).setdefault(r.kind, []).append(r)
    sections = []
    for experiment in sorted(grouped):
        kinds = sorted(grouped[experiment], key=lambda k: (KINDS + (k,)).index(k))
        blocks = {k: kind_block(experiment, k, grouped[experiment][k]) for k in kinds}
        sections.append(ClaimSection(experiment, blocks))
    return sections


def missing_text(results: list[Result]) -> str:
    """Which claims have no result of a kind that other claims have."""
    from ..experiments import EXPERIMENT_IDS

    parts = []
    for kind in KINDS:
        present = {r.experiment for r in results if r.kind == kind}
        if present:
            missing = [e for e in EXPERIMENT_IDS if e not in present]
            if missing:
                parts.append(f"no {kind} result for: {', '.join(missing)}")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:] if parts else ""


def hold_counts(sections: list[ClaimSection]) -> str:
    """E.g. "toy model: 6 of 7 claims hold; real network: 3 of 7"."""
    parts = []
    for kind in KINDS:
        blocks = [s.blocks[kind] for s in sections if kind in s.blocks]
        if blocks:
            parts.append(f"{KIND_LABELS[kind].lower()}: {sum(b.holds for b in blocks)} of "
                         f"{len(blocks)} claims hold")
    return "; ".join(parts)


def claims_doc_href(out_dir: Path) -> str | None:
    """The relative path from ``out_dir`` to the repository's docs/claims.md, or None when
    landsim runs from an installation without the repository's docs."""
    doc = Path(__file__).resolve().parents[2] / CLAIMS_DOC
    if not doc.is_file():
        return None
    return Path(os.path.relpath(doc, out_dir.resolve())).as_posix()


def fmt_number(x: float) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def fmt_value(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return fmt_number(value)
    return json.dumps(value)


def fmt_interval(iv) -> str:
    """``mean [low, high]`` of a :class:`~landsim.verdicts.Interval`, with missing values
    counted."""
    if iv is None or iv.n == 0:
        return "n/a" + (f" ({iv.missing} non-finite)" if iv is not None and iv.missing else "")
    text = fmt_number(iv.mean)
    if iv.n > 1:
        text += f" [{fmt_number(iv.low)}, {fmt_number(iv.high)}]"
    if iv.missing:
        text += f" ({iv.missing} non-finite)"
    return text


def config_rows(block: KindBlock) -> list[tuple[str, str, str]]:
    """(field, claim value, control value) for every config field; the control value is
    empty where it equals the claim's."""
    claim = next((r for r in block.results if r.arm == "claim"), None)
    control = next((r for r in block.results if r.arm == "control"), None)
    base = claim or control
    rows = []
    for key in base.config:
        a = fmt_value(claim.config[key]) if claim is not None and key in claim.config else ""
        b = ""
        if control is not None and key in control.config:
            value = fmt_value(control.config[key])
            b = value if value != a else ""
        rows.append((key, a, b))
    return rows


def run_rows(block: KindBlock) -> list[tuple[str, str]]:
    """Versions, machines, seeds and the compute time of the block's units."""
    rs = block.results
    versions = sorted({r.version for r in rs})
    machines = sorted({r.machine or "(unknown)" for r in rs})
    seeds = sorted({r.seed for r in rs})
    total = sum(float(r.timings.get("total", 0.0)) for r in rs)
    return [("units stored", str(len(rs))), ("root seed(s)", ", ".join(map(str, seeds))),
            ("landsim version", ", ".join(versions)), ("machine", "; ".join(machines)),
            ("compute time", f"{total:.1f} s over {len(rs)} units")]
