"""The claims report: built from stored results only, self-contained, escaped, robust."""

from __future__ import annotations

import base64
import html
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from landsim import experiments
from landsim.report import NoResultsError, build_report, read_results
from landsim.results import Verdict, make_result, save_result

E1 = experiments.get("E1")
EVIDENCE = "7/8 runs converged; the largest relative rise is 0.002 (run 3)."


def fake_e1(holds: bool = True, seed: int = 0, **config):
    """A stored-looking E1 result with the series E1.plot draws."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, 11)
    prof = 30.0 * (1.0 - t[None, :]) ** 2 + rng.uniform(0, 0.1, (4, 1))
    return make_result(
        "E1", {"dim": 100, "label": "<script>alert('x')</script>", **config}, seed,
        metrics={"max_relative_rise": 0.002, "median_start_loss": 30.05,
                 "converged_fraction": 0.875, "odd": math.nan},
        series={"t": t, "line_loss": prof, "relative_rise": np.zeros(4),
                "descent_step": np.arange(5), "descent_loss": np.geomspace(30, 1e-9, 20)
                .reshape(5, 4)},
        verdict=Verdict(holds, "largest rise <= 0.01 x start loss & all converge",
                        EVIDENCE if holds else "the rise was 0.5 > 0.01 <bad>"),
        timings={"descent": 0.25, "total": 0.5})


@pytest.fixture
def stored(tmp_path):
    results = tmp_path / "results"
    save_result(fake_e1(), results)
    return results


def _pngs(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in
            re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_report_from_stored_results_recomputes_nothing(stored, tmp_path, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the report must not re-run an experiment")

    monkeypatch.setattr(E1, "run", no_run)
    html_path, md_path = build_report(stored, tmp_path / "out")
    assert html_path == tmp_path / "out" / "report.html"
    assert md_path == tmp_path / "out" / "report.md"
    text = html_path.read_text()
    assert EVIDENCE in text
    assert E1.CLAIM in text and E1.TITLE in text
    pngs = _pngs(text)
    assert len(pngs) == 1 and pngs[0].startswith(b"\x89PNG\r\n\x1a\n")
    for name in ("max_relative_rise", "median_start_loss", "converged_fraction"):
        assert name in text
    assert "30.05" in text and "0.875" in text and ">nan<" in text
    assert "holds" in text and 'class="verdict ok"' in text
    assert "largest rise &lt;= 0.01 x start loss &amp; all converge" in text
    assert "descent" in text and "0.250 s" in text  # timings
    assert "E1-toy-seed0.json" in text and "0.1.0" in text  # file and version


def test_html_is_self_contained_and_escaped(stored, tmp_path):
    html_path, _ = build_report(stored, tmp_path / "out")
    text = html_path.read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    # no external resources: nothing is fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "<style>" in text


def test_markdown_twin_references_existing_figures(stored, tmp_path):
    _, md_path = build_report(stored, tmp_path / "out")
    text = md_path.read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert refs == ["figures/E1-toy-seed0.png"]
    for ref in refs:
        png = (md_path.parent / ref).read_bytes()
        assert png.startswith(b"\x89PNG")
    assert EVIDENCE in text
    assert "| E1 | Initialisation to optimum (toy, seed 0) | holds |" in text
    assert "&lt;script&gt;" in text and "<script" not in text
    assert "| max_relative_rise | 0.002 |" in text


def test_default_out_dir_is_the_results_dir(stored):
    html_path, md_path = build_report(stored)
    assert html_path.parent == stored and md_path.parent == stored
    assert (stored / "figures" / "E1-toy-seed0.png").exists()


def test_a_failing_plot_leaves_a_note(stored, tmp_path, monkeypatch):
    def bad_plot(result, fig):
        raise RuntimeError("cannot draw <this>")

    monkeypatch.setattr(E1, "plot", bad_plot)
    html_path, md_path = build_report(stored, tmp_path / "out")
    text = html_path.read_text()
    assert "The figure could not be drawn" in text
    assert "RuntimeError: cannot draw &lt;this&gt;" in text
    assert "data:image/png;base64," not in text
    assert EVIDENCE in text  # the rest of the section is still there
    md = md_path.read_text()
    assert "the figure could not be drawn" in md and "RuntimeError: cannot draw" in md
    assert "![" not in md


def test_missing_series_and_unknown_module_leave_notes(tmp_path):
    d = tmp_path / "results"
    save_result(fake_e1(), d)
    broken = make_result("E1", {"a": 1}, 5, {"m": 1.0}, {"t": np.arange(3.0)},
                         Verdict(True, "r", "plot needs line_loss"), {"total": 1.0})
    save_result(broken, d)
    alien = make_result("X9", {"a": 1}, 0, {"m": 2.0}, {}, Verdict(False, "r", "alien"),
                        {"total": 1.0})
    save_result(alien, d)
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    assert len(_pngs(text)) == 1  # only the good E1 result has a figure
    assert "KeyError: &#x27;line_loss&#x27;" in text
    assert "The experiment module could not be imported" in text and "X9" in text
    assert "alien" in text and "plot needs line_loss" in text
    assert text.count('class="verdict bad"') == 1
    assert md_path.read_text().count("![") == 1


def test_a_claim_that_does_not_hold_is_marked(tmp_path):
    d = tmp_path / "results"
    save_result(fake_e1(holds=False), d)
    text = build_report(d)[0].read_text()
    assert 'class="verdict bad"' in text and "does not hold" in text
    assert "the rise was 0.5 &gt; 0.01 &lt;bad&gt;" in text
    assert "0 of 1 results hold" in text


def test_several_seeds_get_separate_sections(tmp_path):
    d = tmp_path / "results"
    for seed in (0, 1):
        save_result(fake_e1(seed=seed), d)
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    assert 'id="claim-E1-toy-seed0"' in text and 'id="claim-E1-toy-seed1"' in text
    assert len(_pngs(text)) == 2
    assert sorted(p.name for p in (d / "figures").iterdir()) == [
        "E1-toy-seed0.png", "E1-toy-seed1.png"]


def test_unreadable_result_file_is_listed(stored):
    (stored / "E2-toy-seed0.json").write_text(
        (stored / "E1-toy-seed0.json").read_text().replace('"E1"', '"E2"'))  # no .npz
    results, unreadable = read_results(stored)
    assert [r.experiment for r in results] == ["E1"]
    assert [name for name, _ in unreadable] == ["E2-toy-seed0.json"]
    text = build_report(stored)[0].read_text()
    assert "could not be read" in text and "E2-toy-seed0.json" in text


def test_no_results_is_an_error(tmp_path):
    (tmp_path / "other.json").write_text('{"not": "a result"}')
    with pytest.raises(NoResultsError, match="no landsim results"):
        build_report(tmp_path)
    with pytest.raises(NoResultsError, match="not a directory"):
        build_report(tmp_path / "missing")


def test_report_from_a_real_e1_run(tmp_path):
    result = E1.run(E1.quick_config(), seed=0)
    save_result(result, tmp_path)
    text = build_report(tmp_path)[0].read_text()
    assert len(_pngs(text)) == 1
    assert html.escape(result.verdict.evidence) in text


def test_import_landsim_does_not_import_matplotlib():
    code = ("import sys, landsim, landsim.report, landsim.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": str(root)})


# --------------------------------------------------------------------------------------
# toy and real results side by side

REAL_EVIDENCE = "the trained network's barrier was 0.3 > 0.1."


def fake_real(eid: str = "E1", holds: bool = False, seed: int = 0):
    """A stored-looking real-network result drawn by :func:`fake_real_module`."""
    return make_result(eid, {"device": "cpu", "width": 32}, seed, {"barrier": 0.3},
                       {"y": np.arange(4.0)}, Verdict(holds, "barrier <= 0.1", REAL_EVIDENCE),
                       {"training": 1.5, "total": 2.0}, kind="real")


@pytest.fixture
def real_registry(monkeypatch):
    """Replace the real-network registry with fake modules that draw series "y"."""
    pytest.importorskip("torch")
    from landsim.real import experiments as real_experiments

    def get(eid):
        mod = types.ModuleType(f"fake_real_{eid}")
        mod.ID, mod.TITLE, mod.CLAIM = eid, f"Real title of {eid}", f"Real claim of {eid}."
        mod.plot = lambda result, fig: fig.subplots().plot(result.series["y"])
        return mod

    monkeypatch.setattr(real_experiments, "get", get)
    return get


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_toy_and_real_results_are_side_by_side(tmp_path, real_registry):
    d = tmp_path / "results"
    save_result(fake_e1(), d)  # E1 toy holds
    save_result(fake_real("E1", holds=False), d)  # E1 real does not hold
    save_result(fake_real("E3", holds=True), d)  # E3 real only
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    # one section for E1 with both kinds, its figures side by side at PAIR_FIGSIZE
    e1 = text[text.index('<section id="claim-E1-seed0">'):]
    e1 = e1[:e1.index("</section>")]
    assert e1.index('id="claim-E1-toy-seed0"') < e1.index('id="claim-E1-real-seed0"')
    assert 'class="pair"' in e1 and e1.count('class="col"') == 2
    pngs = _pngs(e1)
    assert len(pngs) == 2
    from landsim.report import DPI, PAIR_FIGSIZE
    assert all(_png_size(p) == (round(PAIR_FIGSIZE[0] * DPI), round(PAIR_FIGSIZE[1] * DPI))
               for p in pngs)
    assert EVIDENCE in e1 and html.escape(REAL_EVIDENCE) in e1
    assert 'class="verdict ok"' in e1 and 'class="verdict bad"' in e1
    assert E1.CLAIM in e1 and "Real claim of E1." in e1
    assert "Real network: Real title of E1" in e1
    assert "E1-toy-seed0.json" in e1 and "E1-real-seed0.json" in e1
    # the E3 real-only result keeps the single layout, at the full size
    assert 'id="claim-E3-real-seed0"' in text
    assert _png_size(_pngs(text[text.index('id="claim-E3-real-seed0"'):])[0]) == (1200, 400)
    # the summary lists both verdicts of every claim
    summary = text[text.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert "<th>Toy model</th><th>Real network</th>" in summary
    rows = re.findall(r"<tr>.*?</tr>", summary)[1:]
    assert len(rows) == 2
    assert "badge ok" in rows[0] and "badge bad" in rows[0]
    assert html.escape(REAL_EVIDENCE) in rows[0]
    assert 'href="#claim-E1-seed0"' in rows[0]
    assert "no result" in rows[1] and "badge ok" in rows[1]  # E3: no toy result
    assert "2 of 3 results hold their claim (toy: 1 of 1, real: 1 of 2)" in text
    assert "No toy result for: E2, E3, E4, E5, E6, E7; no real result for: E2" in text

    md = md_path.read_text()
    assert ("| Claim | Title | Toy model | Toy evidence | Real network | Real evidence |"
            in md)
    assert (f"| E1 | Initialisation to optimum (seed 0) | holds | {EVIDENCE} | does not hold "
            f"| {html.escape(REAL_EVIDENCE, quote=False)} |") in md
    assert "## E1 · Initialisation to optimum (seed 0): toy model holds, real network " \
           "does not hold" in md
    refs = re.findall(r'<img src="([^"]+)"', md)
    assert refs == ["figures/E1-toy-seed0.png", "figures/E1-real-seed0.png"]
    assert all((md_path.parent / ref).read_bytes().startswith(b"\x89PNG") for ref in refs)
    assert "| Verdict | ✅ holds | ❌ does not hold |" in md
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md) == ["figures/E3-real-seed0.png"]


def test_real_only_results_keep_the_single_layout(tmp_path, real_registry):
    d = tmp_path / "results"
    save_result(fake_real("E2", holds=True), d)
    text = build_report(d)[0].read_text()
    assert 'class="pair"' not in text
    assert "<th>Verdict</th><th>Evidence</th>" in text
    assert "real, seed 0" in text and "Real claim of E2." in text
    assert len(_pngs(text)) == 1


def test_a_real_result_without_torch_leaves_a_note(tmp_path, monkeypatch):
    d = tmp_path / "results"
    save_result(fake_e1(), d)
    save_result(fake_real("E1"), d)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails, as without torch
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    assert "The experiment module could not be imported" in text
    assert "pip install landsim[torch]" in text
    assert len(_pngs(text)) == 1  # the toy figure is still drawn
    assert html.escape(REAL_EVIDENCE) in text
    assert "pip install landsim[torch]" in md_path.read_text()
