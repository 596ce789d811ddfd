"""The claims report: built from stored results only, aggregated over replicates and
controls, self-contained, escaped, robust."""

from __future__ import annotations

import base64
import dataclasses
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


def fake_e1(holds: bool = True, seed: int = 0, replicate: int = 0, arm: str = "claim",
            rise: float = 0.002, **config):
    """A stored-looking E1 result with the series E1.plot draws."""
    rng = np.random.default_rng([seed, replicate, arm == "control"])
    t = np.linspace(0.0, 1.0, 11)
    prof = 30.0 * (1.0 - t[None, :]) ** 2 + rng.uniform(0, 0.1, (4, 1))
    result = make_result(
        "E1", {"dim": 100, "label": "<script>alert('x')</script>", **config}, seed,
        metrics={"max_relative_rise": rise, "median_reference_loss": 30.05,
                 "converged_fraction": 0.875, "odd": math.nan},
        series={"t": t, "line_loss": prof, "relative_rise": np.zeros(4),
                "descent_step": np.arange(5), "descent_loss": np.geomspace(30, 1e-9, 20)
                .reshape(5, 4)},
        verdict=Verdict(holds, "largest rise <= 0.01 x start loss & all converge",
                        EVIDENCE if holds else "the rise was 0.5 > 0.01 <bad>"),
        timings={"descent": 0.25, "total": 0.5})
    return dataclasses.replace(result, replicate=replicate, arm=arm)


def store_e1(directory, n: int = 3, claim_holds=(True, True, True),
             control_holds=(False, False, False)):
    """n replicates of E1, both arms, with the given per-replicate outcomes."""
    for i in range(n):
        save_result(fake_e1(claim_holds[i], replicate=i, rise=0.001 * (i + 1)), directory)
        save_result(fake_e1(control_holds[i], replicate=i, arm="control",
                            rise=0.3 + 0.01 * i), directory)
    return directory


@pytest.fixture
def stored(tmp_path):
    return store_e1(tmp_path / "results")


def _pngs(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in
            re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def _section(text: str, anchor: str) -> str:
    part = text[text.index(f'id="{anchor}"'):]
    return part[:part.index("</section>")] if "</section>" in part else part


def test_report_from_stored_results_recomputes_nothing(stored, tmp_path, monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("the report must not re-run an experiment")

    monkeypatch.setattr(E1, "run", no_run)
    html_path, md_path = build_report(stored, tmp_path / "out")
    assert html_path == tmp_path / "out" / "report.html"
    assert md_path == tmp_path / "out" / "report.md"
    text = html_path.read_text()
    assert EVIDENCE in text
    assert E1.CLAIM in text and E1.TITLE in text and E1.CONTROL in text
    pngs = _pngs(text)
    # the spread figure, then the claim and the control figure of replicate 0
    assert len(pngs) == 3 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert 'class="verdict ok"' in text and "Verdict: holds" in text
    assert "claim rule held in 3/3; control failed in 3/3" in text
    assert "largest rise &lt;= 0.01 x start loss &amp; all converge" in text
    assert "0.1.0" in text and "3.0 s over 6 units" in text  # version, compute time


def test_key_statistics_are_mean_and_interval_over_replicates(stored):
    text = build_report(stored)[0].read_text()
    # max_relative_rise: claim 0.001, 0.002, 0.003 -> mean 0.002, t-interval +- 0.002484
    half = 4.302652729911275 * 0.001 / math.sqrt(3)
    assert f"0.002 [{0.002 - half:.4g}, {0.002 + half:.4g}]" in text
    # the control's values 0.3, 0.31, 0.32
    assert "0.31 [" in text
    # every replicate of both arms is listed with its own verdict and statistic
    rows = re.findall(r"<tr><td>(\d)</td><td>(claim|control)</td><td>0</td>"
                      r'<td class="(held|failed)">', text)
    assert rows == [("0", "claim", "held"), ("1", "claim", "held"), ("2", "claim", "held"),
                    ("0", "control", "failed"), ("1", "control", "failed"),
                    ("2", "control", "failed")]
    assert "<th>odd</th>" not in text  # only the module's KEY_METRICS are tabled


@pytest.mark.parametrize("claim_holds, control_holds, status", [
    ((True, True, False), (False, False, False), "does not hold"),
    ((True, True, True), (False, True, False), "not discriminating"),
    ((True, True, True), (False, False, False), "holds"),
])
def test_the_status_follows_the_aggregation_rule(tmp_path, claim_holds, control_holds,
                                                 status):
    d = store_e1(tmp_path / "r", claim_holds=claim_holds, control_holds=control_holds)
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    summary = text[text.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert f">{status}</span>" in summary
    assert ('class="verdict ok"' in text) == (status == "holds")
    assert ("Toy model: 1 of 1 claims hold" in text) == (status == "holds")
    md = md_path.read_text()
    mark = "✅" if status == "holds" else "❌"
    assert f"| [E1](#claim-E1) | Initialisation to optimum | {mark} {status} |" in md


def test_a_claim_without_control_is_not_reported_as_holding(tmp_path):
    d = tmp_path / "r"
    for i in range(2):
        save_result(fake_e1(True, replicate=i), d)
    text = build_report(d)[0].read_text()
    assert ">no control</span>" in text and "no control run" in text
    assert "Toy model: 0 of 1 claims hold" in text


def test_replicates_with_different_configs_leave_a_note(tmp_path):
    d = tmp_path / "r"
    save_result(fake_e1(True, replicate=0), d)
    save_result(fake_e1(True, replicate=1, dim=200), d)
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    assert "could not be aggregated" in text and "different configs" in text
    assert ">not aggregated</span>" in text
    assert len(_pngs(text)) == 1  # the spread needs a verdict; replicate 0 is still drawn
    assert "could not be aggregated" in md_path.read_text()


def test_the_rule_links_to_the_claims_page(stored, tmp_path):
    html_path, md_path = build_report(stored, tmp_path / "out")
    text = html_path.read_text()
    links = re.findall(r'href="([^"#]+)#e1"', text)
    doc = Path(__file__).resolve().parents[1] / "docs" / "claims.md"
    if doc.exists():
        assert links and (html_path.parent / links[0]).resolve() == doc.resolve()
        assert f"]({links[0]}#e1)" in md_path.read_text()
    else:
        assert "docs/claims.md" in text


def test_html_is_self_contained_and_escaped(stored, tmp_path):
    html_path, _ = build_report(stored, tmp_path / "out")
    text = html_path.read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    # nothing is fetched from anywhere: images are inline, links go to anchors or the
    # repository's own claims page
    assert not re.search(r"""src\s*=\s*["'](?!data:)""", text)
    assert all(h.startswith("#") or h.endswith("docs/claims.md#e1")
               for h in re.findall(r'href="([^"]*)"', text))
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "<style>" in text


def test_markdown_twin_references_existing_figures(stored, tmp_path):
    _, md_path = build_report(stored, tmp_path / "out")
    text = md_path.read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    refs += re.findall(r'<img src="([^"]+)"', text)
    assert refs == ["figures/E1-toy-spread.png", "figures/E1-toy-claim-seed0-r0.png",
                    "figures/E1-toy-control-seed0-r0.png"]
    for ref in refs:
        assert (md_path.parent / ref).read_bytes().startswith(b"\x89PNG")
    assert EVIDENCE in text
    assert "&lt;script&gt;" in text and "<script" not in text
    assert "| 0 | claim | 0 | held | 0.001 |" in text


def test_default_out_dir_is_the_results_dir(stored):
    html_path, md_path = build_report(stored)
    assert html_path.parent == stored and md_path.parent == stored
    assert (stored / "figures" / "E1-toy-claim-seed0-r0.png").exists()


def test_a_failing_plot_leaves_a_note(stored, tmp_path, monkeypatch):
    def bad_plot(result, fig):
        raise RuntimeError("cannot draw <this>")

    monkeypatch.setattr(E1, "plot", bad_plot)
    html_path, md_path = build_report(stored, tmp_path / "out")
    text = html_path.read_text()
    assert "The figure could not be drawn" in text
    assert "RuntimeError: cannot draw &lt;this&gt;" in text
    assert len(_pngs(text)) == 1  # the spread figure is the report's own
    assert EVIDENCE in text  # the rest of the section is still there
    md = md_path.read_text()
    assert "the figure could not be drawn" in md and "RuntimeError: cannot draw" in md


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
    assert "The experiment module could not be imported" in text and "X9" in text
    assert "alien" in text
    x9 = _section(text, "claim-X9")
    assert ">does not hold</span>" in x9 and len(_pngs(x9)) == 1  # spread only
    assert "Verdict" in x9


def test_unreadable_result_file_is_listed(stored):
    good = stored / "E1-toy-claim-seed0-r0.json"
    (stored / "E2-toy-claim-seed0-r0.json").write_text(
        good.read_text().replace('"E1"', '"E2"'))  # no .npz
    results, unreadable = read_results(stored)
    assert {r.experiment for r in results} == {"E1"}
    assert [name for name, _ in unreadable] == ["E2-toy-claim-seed0-r0.json"]
    text = build_report(stored)[0].read_text()
    assert "could not be read" in text and "E2-toy-claim-seed0-r0.json" in text


def test_results_of_the_first_format_are_still_read(stored):
    path = stored / "E1-toy-claim-seed0-r0.json"
    data = path.read_text().replace('"landsim.Result/2"', '"landsim.Result/1"')
    (stored / "E1-toy-seed9.json").write_text(data.replace('"seed": 0', '"seed": 9'))
    (stored / "E1-toy-seed9.npz").write_bytes(path.with_suffix(".npz").read_bytes())
    results, unreadable = read_results(stored)
    assert not unreadable and any(r.seed == 9 for r in results)


def test_no_results_is_an_error(tmp_path):
    (tmp_path / "other.json").write_text('{"not": "a result"}')
    with pytest.raises(NoResultsError, match="no landsim results"):
        build_report(tmp_path)
    with pytest.raises(NoResultsError, match="not a directory"):
        build_report(tmp_path / "missing")


def test_report_from_real_e1_units(tmp_path):
    from landsim.units import plan_units, run_unit

    for unit in plan_units(["E1"], "toy", quick=True, replicates=1, seed=0):
        save_result(run_unit(unit), tmp_path)
    text = build_report(tmp_path)[0].read_text()
    assert len(_pngs(text)) == 3
    assert "control failed in" in text


def test_import_landsim_does_not_import_matplotlib():
    code = ("import sys, landsim, landsim.report, landsim.cli; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": str(root)})


# --------------------------------------------------------------------------------------
# toy and real results side by side

REAL_EVIDENCE = "the trained network's barrier was 0.3 > 0.1."


def fake_real(eid: str = "E1", holds: bool = False, seed: int = 0, replicate: int = 0,
              arm: str = "claim"):
    """A stored-looking real-network result drawn by the fake real modules."""
    result = make_result(eid, {"device": "cpu", "width": 32}, seed, {"barrier": 0.3},
                         {"y": np.arange(4.0)},
                         Verdict(holds, "barrier <= 0.1", REAL_EVIDENCE),
                         {"training": 1.5, "total": 2.0}, kind="real")
    return dataclasses.replace(result, replicate=replicate, arm=arm)


@pytest.fixture
def real_registry(monkeypatch):
    """Replace the real-network registry with fake modules that draw series "y"."""
    pytest.importorskip("torch")
    from landsim.real import experiments as real_experiments

    def get(eid):
        mod = types.ModuleType(f"fake_real_{eid}")
        mod.ID, mod.TITLE, mod.CLAIM = eid, f"Real title of {eid}", f"Real claim of {eid}."
        mod.CONTROL = f"Real control of {eid}."
        mod.KEY_METRICS = ("barrier",)
        mod.plot = lambda result, fig: fig.subplots().plot(result.series["y"])
        return mod

    monkeypatch.setattr(real_experiments, "get", get)
    return get


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_toy_and_real_results_are_side_by_side(tmp_path, real_registry):
    d = store_e1(tmp_path / "results")  # E1 toy holds
    for i in range(2):  # E1 real: the rule fails on the claim arm
        save_result(fake_real("E1", holds=False, replicate=i), d)
        save_result(fake_real("E1", holds=False, replicate=i, arm="control"), d)
        save_result(fake_real("E3", holds=True, replicate=i), d)  # E3 real: no control
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    e1 = _section(text, "claim-E1")
    assert e1.index('id="claim-E1-toy"') < e1.index('id="claim-E1-real"')
    assert E1.CLAIM in e1 and "Real claim of E1." in e1 and "Real control of E1." in e1
    assert 'class="verdict ok"' in e1 and 'class="verdict bad"' in e1
    from landsim.report import DPI, PAIR_FIGSIZE
    pngs = _pngs(e1)
    assert len(pngs) == 6  # each kind: spread, claim r0, control r0
    assert _png_size(pngs[1]) == (round(PAIR_FIGSIZE[0] * DPI), round(PAIR_FIGSIZE[1] * DPI))
    summary = text[text.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert "<th>Toy model</th><th>Real network</th>" in summary
    rows = re.findall(r"<tr>.*?</tr>", summary)[1:]
    assert len(rows) == 2
    assert ">holds</span>" in rows[0] and ">does not hold</span>" in rows[0]
    assert 'href="#claim-E1"' in rows[0]
    assert "no result" in rows[1] and ">no control</span>" in rows[1]
    assert "Toy model: 1 of 1 claims hold; real network: 0 of 2 claims hold" in text
    assert "No toy result for: E2, E3, E4, E5, E6, E7; no real result for: E2" in text

    md = md_path.read_text()
    assert "| Claim | Title | Toy model | replicates | Real network | replicates |" in md
    assert "## E1 · Initialisation to optimum (toy holds, real does not hold)" in md
    refs = re.findall(r'<img src="([^"]+)"', md) + re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "figures/E1-real-claim-seed0-r0.png" in refs and "figures/E3-real-spread.png" in refs
    assert all((md_path.parent / ref).read_bytes().startswith(b"\x89PNG") for ref in refs)


def test_a_real_result_without_torch_leaves_a_note(tmp_path, monkeypatch):
    d = tmp_path / "results"
    save_result(fake_e1(), d)
    save_result(fake_real("E1"), d)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails, as without torch
    for name in [n for n in sys.modules if n == "landsim.real" or n.startswith("landsim.real.")]:
        monkeypatch.delitem(sys.modules, name)  # as if no earlier test had imported them
    html_path, md_path = build_report(d)
    text = html_path.read_text()
    assert "The experiment module could not be imported" in text
    assert "pip install landsim[torch]" in text
    assert html.escape(REAL_EVIDENCE) in text
    assert "pip install landsim[torch]" in md_path.read_text()
