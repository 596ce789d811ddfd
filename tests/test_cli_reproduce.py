"""``landsim reproduce`` and ``landsim report``, end to end in-process."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from landsim import cli, experiments
from landsim.results import Verdict, load_result, make_result, save_result

E1 = experiments.get("E1")


def fake_module(eid: str, holds: bool = True, error: Exception | None = None):
    """A stand-in experiment module following the contract (fast, deterministic)."""
    mod = types.ModuleType(f"fake_{eid}")

    @dataclass(frozen=True)
    class Config:
        size: int = 10

    def run(config=None, seed=0, progress=None):
        cfg = config or Config()
        if progress:
            progress(0.0, "start")
        if error is not None:
            raise error
        if progress:
            progress(1.0, "done")
        return make_result(eid, cfg, seed, {"x": float(cfg.size)}, {"y": np.arange(3.0)},
                           Verdict(holds, "x > 0", f"{eid}: x was {cfg.size}."),
                           {"total": 0.01})

    def plot(result, fig):
        fig.subplots().plot(result.series["y"])

    mod.ID, mod.TITLE, mod.CLAIM = eid, f"Fake {eid}", f"Claim of {eid}."
    mod.Config, mod.run, mod.plot = Config, run, plot
    mod.quick_config = lambda: Config(size=2)
    return mod


@pytest.fixture
def fakes(monkeypatch):
    """Replace the registry with fake modules; returns the dict to customise."""
    mods = {eid: fake_module(eid) for eid in experiments.EXPERIMENT_IDS}

    def get(eid):
        if eid not in mods:
            raise ValueError(f"unknown {eid}")
        return mods[eid]

    monkeypatch.setattr(experiments, "get", get)
    return mods


def test_reproduce_quick_e1_end_to_end(tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--strict", "--out",
                     str(out)]) == 0
    assert (out / "E1-toy-seed0.json").exists() and (out / "E1-toy-seed0.npz").exists()
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert (out / "figures" / "E1-toy-seed0.png").exists()
    result = load_result(out / "E1-toy-seed0.json")
    assert result.verdict.holds and result.config["dim"] == E1.quick_config().dim
    text = capsys.readouterr().out
    # not a TTY: one plain line per progress message with id, percent and elapsed seconds
    assert re.search(r"^E1\s+0%\s+\d+\.\d s\s+building the landscape$", text, re.M)
    assert re.search(r"^E1\s+50%\s+\d+\.\d s\s+loss along the lines$", text, re.M)
    assert re.search(r"^E1\s+100%\s+\d+\.\d s\s+holds", text, re.M)
    assert "\r" not in text
    assert f"report: {out / 'report.html'}" in text
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_reproduce_runs_all_experiments_by_default(fakes, tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli.main(["reproduce", "--seed", "4", "--out", str(out)]) == 0
    stems = sorted(p.stem for p in out.glob("*.json"))
    assert stems == [f"{eid}-toy-seed4" for eid in experiments.EXPERIMENT_IDS]
    assert load_result(out / "E3-toy-seed4.json").config == {"size": 10}  # full Config()
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(experiments.EXPERIMENT_IDS)


def test_quick_uses_quick_config(fakes, tmp_path):
    assert cli.main(["reproduce", "--quick", "--only", "e2, E5", "--out",
                     str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["E2-toy-seed0.json",
                                                               "E5-toy-seed0.json"]
    assert load_result(tmp_path / "E5-toy-seed0.json").config == {"size": 2}


@pytest.mark.parametrize("only", ["E9", "E1,E42", ","])
def test_only_rejects_unknown_ids(only, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--only", only, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "valid ids: E1, E2, E3, E4, E5, E6, E7" in err
    if only != ",":
        assert re.search(r"unknown experiment id\(s\) E(9|42)", err)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("seed", ["-1", "x"])
def test_seed_must_be_a_nonnegative_int(seed, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--seed", seed])
    assert exc.value.code == 2
    assert f"must be an integer >= 0, got {seed}" in capsys.readouterr().err


def test_strict_fails_when_a_claim_does_not_hold(tmp_path, capsys, monkeypatch):
    def failing_run(config=None, seed=0, progress=None):
        progress(0.5, "half way")
        return make_result("E1", config, seed, {"max_relative_rise": 0.4},
                           {"t": np.linspace(0, 1, 3), "line_loss": np.ones((2, 3)),
                            "descent_step": np.arange(2), "descent_loss": np.ones((2, 2))},
                           Verdict(False, "rise <= 0.01", "the rise was 0.4."),
                           {"total": 0.1})

    monkeypatch.setattr(E1, "run", failing_run)
    args = ["reproduce", "--quick", "--only", "E1", "--out", str(tmp_path)]
    assert cli.main(args + ["--strict"]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT HOLD" in out
    assert "claims that do not hold:\n  E1-toy-seed0: the rise was 0.4." in out
    assert (tmp_path / "E1-toy-seed0.json").exists()  # results and report still written
    html = (tmp_path / "report.html").read_text()
    assert 'class="verdict bad"' in html and "the rise was 0.4." in html
    assert cli.main(args) == 0  # without --strict a failing claim is not an error


def test_an_experiment_that_raises_is_reported_and_the_rest_run(fakes, tmp_path, capsys):
    fakes["E2"] = fake_module("E2", error=RuntimeError("kaboom"))
    fakes["E3"] = fake_module("E3", holds=False)
    assert cli.main(["reproduce", "--only", "E1,E2,E3", "--strict", "--out",
                     str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "error: E2 raised RuntimeError: kaboom" in captured.err
    assert "Traceback" in captured.err
    assert "experiments that failed: E2 (RuntimeError: kaboom)" in captured.err
    assert re.search(r"^E2\s+0%.*FAILED: RuntimeError: kaboom$", captured.out, re.M)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["E1-toy-seed0.json",
                                                              "E3-toy-seed0.json"]
    assert "report: " in captured.out
    assert "E3-toy-seed0: E3: x was 10." in captured.out  # still says which do not hold


def test_a_missing_module_is_reported(fakes, tmp_path, capsys):
    del fakes["E4"]
    assert cli.main(["reproduce", "--only", "E4,E1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error: E4 could not be imported: ValueError: unknown E4" in err
    assert (tmp_path / "E1-toy-seed0.json").exists() and (tmp_path / "report.html").exists()


def test_nothing_ran_means_no_report(fakes, tmp_path, capsys):
    fakes["E1"] = fake_module("E1", error=ValueError("bad config"))
    assert cli.main(["reproduce", "--only", "E1", "--out", str(tmp_path)]) == 2
    assert "no experiment ran, so no report was built" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_tty_progress_is_one_redrawn_line(fakes, tmp_path):
    stream, err = io.StringIO(), io.StringIO()
    assert cli.run_reproduce(["E1", "E2"], quick=True, seed=0, out=tmp_path, strict=False,
                             stream=stream, err=err, tty=True) == 0
    text = stream.getvalue()
    lines = text.split("\n")
    bars = [line for line in lines if line.startswith("\rE")]
    assert len(bars) == 2  # one line per experiment, redrawn with carriage returns
    for eid, line in zip(("E1", "E2"), bars):
        frames = line.split("\r")[1:]
        assert len(frames) == 3  # start, done, final status
        assert frames[0].startswith(f"{eid} [{'.' * 28}]   0%")
        assert frames[-1].startswith(f"{eid} [{'#' * 28}] 100%") and "holds" in frames[-1]


def test_progress_line_pads_over_a_longer_previous_message():
    stream = io.StringIO()
    p = cli.ProgressLine("E7", stream, tty=True, width=4)
    p(0.5, "a rather long message")
    p(0.75, "short")
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first)
    assert second.startswith("E7 [###.]  75%")


def test_report_command_rebuilds_from_stored_results(fakes, tmp_path, capsys):
    res = make_result("E1", {"size": 3}, 0, {"x": 3.0}, {"y": np.arange(3.0)},
                      Verdict(True, "x > 0", "x was 3."), {"total": 0.1})
    save_result(res, tmp_path / "res")
    assert cli.main(["report", str(tmp_path / "res"), "--out", str(tmp_path / "rpt")]) == 0
    assert f"report: {tmp_path / 'rpt' / 'report.html'}" in capsys.readouterr().out
    assert "x was 3." in (tmp_path / "rpt" / "report.html").read_text()
    assert (tmp_path / "rpt" / "report.md").exists()


@pytest.mark.parametrize("make_dir", [True, False])
def test_report_command_without_results_exits_2(make_dir, tmp_path, capsys):
    d = tmp_path / "empty"
    if make_dir:
        d.mkdir()
    assert cli.main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert "landsim report: error:" in err and str(d) in err
    assert not (d / "report.html").exists()


# --------------------------------------------------------------------------------------
# --real: the real-network suite


def fake_real_module(eid: str, holds: bool = True):
    """A stand-in real-network module: its Config has a device, its results kind "real"."""
    mod = types.ModuleType(f"fake_real_{eid}")

    @dataclass(frozen=True)
    class Config:
        size: int = 10
        device: str = "cpu"

    def run(config=None, seed=0, progress=None):
        cfg = config or Config()
        if progress:
            progress(0.5, "training")
        return make_result(eid, cfg, seed, {"x": float(cfg.size)}, {"y": np.arange(3.0)},
                           Verdict(holds, "x > 0", f"real {eid}: x was {cfg.size}."),
                           {"total": 0.01}, kind="real")

    mod.ID, mod.TITLE, mod.CLAIM = eid, f"Fake real {eid}", f"Real claim of {eid}."
    mod.Config, mod.run = Config, run
    mod.plot = lambda result, fig: fig.subplots().plot(result.series["y"])
    mod.quick_config = lambda: Config(size=2)
    mod.smoke_config = lambda: Config(size=1)
    return mod


@pytest.fixture
def real_fakes(monkeypatch):
    """Replace the real-network registry with fake modules; returns the dict."""
    pytest.importorskip("torch")
    from landsim.real import experiments as real_experiments

    mods = {eid: fake_real_module(eid) for eid in experiments.EXPERIMENT_IDS}

    def get(eid):
        if eid not in mods:
            raise ValueError(f"unknown {eid}")
        return mods[eid]

    monkeypatch.setattr(real_experiments, "get", get)
    return mods


def test_real_runs_the_real_suite_only(fakes, real_fakes, tmp_path, capsys):
    fakes["E5"] = fake_module("E5", error=AssertionError("the toy suite must not run"))
    assert cli.main(["reproduce", "--real", "--quick", "--only", "E5,E7", "--out",
                     str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["E5-real-seed0.json",
                                                              "E7-real-seed0.json"]
    result = load_result(tmp_path / "E5-real-seed0.json")
    assert result.kind == "real" and result.config == {"size": 2, "device": "cpu"}
    out = capsys.readouterr().out
    assert "(real networks on cpu, quick configs, seed 0)" in out
    assert "real E5: x was 2." in (tmp_path / "report.html").read_text()


def test_toy_then_real_into_one_dir_reports_side_by_side(fakes, real_fakes, tmp_path):
    real_fakes["E2"] = fake_real_module("E2", holds=False)
    assert cli.main(["reproduce", "--only", "E1,E2", "--out", str(tmp_path)]) == 0
    assert cli.main(["reproduce", "--real", "--only", "E2", "--out", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == [
        "E1-toy-seed0", "E2-real-seed0", "E2-toy-seed0"]
    html = (tmp_path / "report.html").read_text()
    assert '<section id="claim-E2-seed0">' in html and 'class="pair"' in html
    assert "<th>Toy model</th><th>Real network</th>" in html
    assert "E2: x was 10." in html and "real E2: x was 10." in html
    md = (tmp_path / "report.md").read_text()
    assert "| E2 | Fake E2 (seed 0) | holds | E2: x was 10. | does not hold | " \
           "real E2: x was 10. |" in md


def test_device_is_passed_to_every_real_config(real_fakes, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cli.main(["reproduce", "--real", "--device", "cuda", "--only", "E3", "--out",
                     str(tmp_path)]) == 0
    assert load_result(tmp_path / "E3-real-seed0.json").config["device"] == "cuda"


def test_cuda_without_a_gpu_is_a_clear_error(real_fakes, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["reproduce", "--real", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_device_without_real_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--device", "cuda", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "--device applies to the real-network suite: use it with --real" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--real", "--device", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_real_without_torch_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    assert cli.main(["reproduce", "--real", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "landsim reproduce --real needs PyTorch, which is not installed: " \
           "pip install landsim[torch]" in err
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_real_end_to_end_with_a_real_module(tmp_path, monkeypatch):
    """A genuine real-network experiment (E5 at its smoke size) through the command."""
    pytest.importorskip("torch")
    from landsim.real import experiments as real_experiments

    e5 = real_experiments.get("E5")
    monkeypatch.setattr(e5, "quick_config", e5.smoke_config)
    assert cli.main(["reproduce", "--real", "--quick", "--only", "E5", "--out",
                     str(tmp_path)]) == 0
    result = load_result(tmp_path / "E5-real-seed0.json")
    assert result.kind == "real" and result.config["device"] == "cpu"
    assert result.config["n_angles"] == e5.smoke_config().n_angles
    assert (tmp_path / "figures" / "E5-real-seed0.png").exists()


def test_toy_reproduce_does_not_import_torch(tmp_path):
    root = Path(__file__).resolve().parents[1]
    code = ("import sys; from landsim import cli; "
            f"rc = cli.main(['reproduce', '--quick', '--only', 'E1', '--out', {str(tmp_path)!r}]); "
            "assert rc == 0, rc; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'landsim.real' not in sys.modules, 'landsim.real imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(root)})
    assert (tmp_path / "E1-toy-seed0.json").exists() and (tmp_path / "report.html").exists()
