"""``landsim reproduce`` and ``landsim report``, end to end in-process."""

from __future__ import annotations

import dataclasses
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
from landsim.results import Verdict, load_result, make_result

E1 = experiments.get("E1")


def fake_module(eid: str, holds: bool = True, error: Exception | None = None,
                control_holds: bool = False, fail_replicates: tuple = ()):
    """A stand-in experiment module following the contract (fast, deterministic): its rule
    holds on the claim arm (except on ``fail_replicates``) and fails on the control unless
    ``control_holds``."""
    mod = types.ModuleType(f"fake_{eid}")

    @dataclass(frozen=True)
    class Config:
        size: int = 10
        control: bool = False

    def run(config=None, seed=0, progress=None):
        cfg = config or Config()
        replicate = seed.spawn_key[0] if isinstance(seed, np.random.SeedSequence) else 0
        if progress:
            progress(0.0, "start")
        if error is not None:
            raise error
        if progress:
            progress(1.0, "done")
        ok = control_holds if cfg.control else (holds and replicate not in fail_replicates)
        x = float(np.random.default_rng(seed).uniform())
        return make_result(eid, cfg, seed, {"x": x}, {"y": np.arange(3.0)},
                           Verdict(ok, "x > 0", f"{eid}: size {cfg.size}, x {x:.3f}."),
                           {"total": 0.01})

    def plot(result, fig):
        fig.subplots().plot(result.series["y"])

    mod.ID, mod.TITLE, mod.CLAIM = eid, f"Fake {eid}", f"Claim of {eid}."
    mod.CONTROL, mod.KEY_METRICS, mod.RULE_FIELDS = f"Control of {eid}.", ("x",), ()
    mod.Config, mod.run, mod.plot = Config, run, plot
    mod.quick_config = lambda: Config(size=2)
    mod.control_config = lambda config: dataclasses.replace(config, control=True)
    return mod


def stems(directory) -> list[str]:
    return sorted(p.stem for p in Path(directory).glob("*.json"))


def unit_stems(eid: str, kind: str = "toy", n: int = 3, seed: int = 0) -> list[str]:
    return sorted(f"{eid}-{kind}-{arm}-seed{seed}-r{i}" for i in range(n)
                  for arm in ("claim", "control"))


@pytest.fixture(autouse=True)
def serial_by_default(monkeypatch):
    """Units run in this process unless a test names an executor: the fakes and the
    monkeypatches below live in this process only (a pool's spawned workers would import
    the genuine modules)."""
    monkeypatch.setattr(cli, "DEFAULT_EXECUTOR", "serial")


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
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--replicates", "2", "--strict",
                     "--out", str(out)]) == 0
    assert stems(out) == unit_stems("E1", n=2)
    assert all((out / f"{s}.npz").exists() for s in stems(out))
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert (out / "figures" / "E1-toy-spread.png").exists()
    assert (out / "figures" / "E1-toy-control-seed0-r0.png").exists()
    claim = load_result(out / "E1-toy-claim-seed0-r1.json")
    control = load_result(out / "E1-toy-control-seed0-r1.json")
    assert claim.verdict.holds and not control.verdict.holds
    assert claim.config["dim"] == E1.quick_config().dim and claim.replicate == 1
    assert control.config == {**claim.config, **dataclasses.asdict(
        E1.control_config(E1.quick_config()))}
    text = capsys.readouterr().out
    assert "2 replicates, each with its negative control" in text
    # not a TTY: one plain line per progress message with unit, percent and elapsed seconds
    assert re.search(r"^E1 toy claim r0\s+0%\s+\d+\.\d s\s+building the landscape$", text,
                     re.M)
    assert re.search(r"^E1 toy control r1\s+100%\s+\d+\.\d s\s+rule fails", text, re.M)
    assert "\r" not in text
    assert "E1 (toy): holds - the rule held in 2 of 2 replicates" in text
    assert f"report: {out / 'report.html'}" in text
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_reproduce_runs_all_experiments_by_default(fakes, tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli.main(["reproduce", "--seed", "4", "--out", str(out)]) == 0
    assert stems(out) == sorted(s for eid in experiments.EXPERIMENT_IDS
                                for s in unit_stems(eid, n=5, seed=4))
    assert load_result(out / "E3-toy-claim-seed4-r2.json").config == {"size": 10,
                                                                       "control": False}
    assert load_result(out / "E3-toy-control-seed4-r2.json").config == {"size": 10,
                                                                         "control": True}
    html = (out / "report.html").read_text()
    assert html.count(">holds</span>") >= len(experiments.EXPERIMENT_IDS)


def test_quick_uses_quick_config_and_three_replicates(fakes, tmp_path):
    assert cli.main(["reproduce", "--quick", "--only", "e2, E5", "--out",
                     str(tmp_path)]) == 0
    assert stems(tmp_path) == sorted(unit_stems("E2") + unit_stems("E5"))
    assert load_result(tmp_path / "E5-toy-claim-seed0-r0.json").config["size"] == 2


def test_replicates_draw_from_independent_streams(fakes, tmp_path):
    assert cli.main(["reproduce", "--only", "E1", "--replicates", "4", "--out",
                     str(tmp_path)]) == 0
    xs = [load_result(tmp_path / f"E1-toy-claim-seed0-r{i}.json").metrics["x"]
          for i in range(4)]
    assert len(set(xs)) == 4
    # the same unit gives the same numbers; replicate i is SeedSequence(0).spawn(4)[i]
    expected = [float(np.random.default_rng(s).uniform())
                for s in np.random.SeedSequence(0).spawn(4)]
    assert xs == expected


@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_replicates_must_be_a_positive_int(value, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--replicates", value])
    assert exc.value.code == 2
    assert value in capsys.readouterr().err


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


@pytest.mark.parametrize("module_kwargs, status", [
    ({}, "holds"),
    ({"fail_replicates": (1,)}, "does not hold"),  # 2 of 3 < ceil(0.8 * 3)
    ({"control_holds": True}, "not discriminating"),
    ({"holds": False}, "does not hold"),
])
def test_strict_exits_1_exactly_when_a_claim_does_not_hold(fakes, tmp_path, capsys,
                                                           module_kwargs, status):
    fakes["E3"] = fake_module("E3", **module_kwargs)
    args = ["reproduce", "--quick", "--only", "E1,E3", "--out", str(tmp_path)]
    assert cli.main(args + ["--strict"]) == (0 if status == "holds" else 1)
    out = capsys.readouterr().out
    assert "E1 (toy): holds" in out
    if status == "holds":
        assert "E3 (toy): holds" in out and "do not hold" not in out
    else:
        assert f"E3 (toy): {status.upper()}" in out
        assert f"claims that do not hold: E3 ({status})" in out
    assert len(stems(tmp_path)) == 12  # results and report are written either way
    html = (tmp_path / "report.html").read_text()
    assert f">{status}</span>" in html
    assert cli.main(args) == 0  # without --strict a claim that does not hold is no error


def test_strict_exits_1_when_the_real_e1_rule_meets_an_obstacle(tmp_path, capsys,
                                                                 monkeypatch):
    """The genuine E1 module, its claim arm given the control's world: the rule fails."""
    from landsim import units

    monkeypatch.setattr(units.Unit, "run_config",
                        lambda self, module=None: E1.control_config(self.config))
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--replicates", "1", "--out",
                     str(tmp_path), "--strict"]) == 1
    assert "E1 (toy): DOES NOT HOLD" in capsys.readouterr().out


def test_a_rerun_replaces_the_claims_stored_results(fakes, tmp_path, capsys):
    assert cli.main(["reproduce", "--quick", "--only", "E1,E2", "--out", str(tmp_path)]) == 0
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--replicates", "2", "--out",
                     str(tmp_path)]) == 0
    assert stems(tmp_path) == sorted(unit_stems("E1", n=2) + unit_stems("E2"))
    assert "replacing 6 stored result(s)" in capsys.readouterr().out


def test_an_experiment_that_raises_is_reported_and_the_rest_run(fakes, tmp_path, capsys):
    fakes["E2"] = fake_module("E2", error=RuntimeError("kaboom"))
    fakes["E3"] = fake_module("E3", holds=False)
    assert cli.main(["reproduce", "--quick", "--only", "E1,E2,E3", "--strict", "--out",
                     str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "error: E2 toy claim r0 raised RuntimeError: kaboom" in captured.err
    assert "Traceback" in captured.err
    assert "experiments that failed: E2 (E2 toy claim r0: RuntimeError: kaboom; its other 5 " \
           "unit(s) were skipped)" in captured.err
    assert re.search(r"^E2 toy claim r0\s+0%.*FAILED: RuntimeError: kaboom$", captured.out,
                     re.M)
    assert stems(tmp_path) == sorted(unit_stems("E1") + unit_stems("E3"))
    assert "report: " in captured.out
    assert "claims that do not hold: E3 (does not hold)" in captured.out


def test_a_missing_module_is_reported(fakes, tmp_path, capsys):
    del fakes["E4"]
    assert cli.main(["reproduce", "--quick", "--only", "E4,E1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error: E4 could not be set up: ValueError: unknown E4" in err
    assert stems(tmp_path) == unit_stems("E1") and (tmp_path / "report.html").exists()


def test_nothing_ran_means_no_report(fakes, tmp_path, capsys):
    fakes["E1"] = fake_module("E1", error=ValueError("bad config"))
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--out", str(tmp_path)]) == 2
    assert "no experiment ran, so no report was built" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_tty_progress_is_one_redrawn_line_per_unit(fakes, tmp_path):
    stream, err = io.StringIO(), io.StringIO()
    assert cli.run_reproduce(["E1", "E2"], quick=True, seed=0, out=tmp_path, strict=False,
                             stream=stream, err=err, tty=True, replicates=1) == 0
    text = stream.getvalue()
    bars = [line for line in text.split("\n") if line.startswith("\rE")]
    labels = ["E1 toy claim r0", "E1 toy control r0", "E2 toy claim r0", "E2 toy control r0"]
    assert len(bars) == len(labels)  # one line per unit, redrawn with carriage returns
    for label, line in zip(labels, bars):
        frames = line.split("\r")[1:]
        assert len(frames) == 3  # start, done, final status
        assert frames[0].startswith(f"{label} [{'.' * 28}]   0%")
        assert frames[-1].startswith(f"{label} [{'#' * 28}] 100%")
        assert ("rule holds" if "claim" in label else "rule fails") in frames[-1]


def test_progress_line_pads_over_a_longer_previous_message():
    stream = io.StringIO()
    p = cli.ProgressLine("E7", stream, tty=True, width=4)
    p(0.5, "a rather long message")
    p(0.75, "short")
    first, second = stream.getvalue().split("\r")[1:]
    assert len(second) >= len(first)
    assert second.startswith("E7 [###.]  75%")


def test_report_command_rebuilds_from_stored_results(fakes, tmp_path, capsys, monkeypatch):
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--out",
                     str(tmp_path / "res")]) == 0
    first = (tmp_path / "res" / "report.md").read_text()

    def no_run(*args, **kwargs):
        raise AssertionError("the report must not re-run an experiment")

    monkeypatch.setattr(fakes["E1"], "run", no_run)
    assert cli.main(["report", str(tmp_path / "res"), "--out", str(tmp_path / "rpt")]) == 0
    assert f"report: {tmp_path / 'rpt' / 'report.html'}" in capsys.readouterr().out
    again = (tmp_path / "rpt" / "report.md").read_text()
    assert "claim rule held in 3/3; control failed in 3/3" in again
    # the same verdicts and tables, only the build time and paths differ
    strip = re.compile(r"Built .*?\(nothing recomputed\)\.")
    assert strip.sub("", first) == strip.sub("", again)


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
        control: bool = False

    def run(config=None, seed=0, progress=None):
        cfg = config or Config()
        if progress:
            progress(0.5, "training")
        ok = holds and not cfg.control
        return make_result(eid, cfg, seed, {"x": float(cfg.size)}, {"y": np.arange(3.0)},
                           Verdict(ok, "x > 0", f"real {eid}: x was {cfg.size}."),
                           {"total": 0.01}, kind="real")

    mod.ID, mod.TITLE, mod.CLAIM = eid, f"Fake real {eid}", f"Real claim of {eid}."
    mod.CONTROL, mod.KEY_METRICS, mod.RULE_FIELDS = f"Real control of {eid}.", ("x",), ()
    mod.control_config = lambda config: dataclasses.replace(config, control=True)
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
    # real quick: 2 replicates by default
    assert stems(tmp_path) == sorted(unit_stems("E5", "real", 2) + unit_stems("E7", "real", 2))
    result = load_result(tmp_path / "E5-real-claim-seed0-r1.json")
    assert result.kind == "real" and result.config == {"size": 2, "device": "cpu",
                                                       "control": False}
    out = capsys.readouterr().out
    assert "(real networks on cpu, quick configs, seed 0, 2 replicates" in out
    assert "real E5: x was 2." in (tmp_path / "report.html").read_text()


def test_toy_then_real_into_one_dir_reports_side_by_side(fakes, real_fakes, tmp_path):
    real_fakes["E2"] = fake_real_module("E2", holds=False)
    assert cli.main(["reproduce", "--only", "E1,E2", "--replicates", "1", "--out",
                     str(tmp_path)]) == 0
    assert cli.main(["reproduce", "--real", "--only", "E2", "--replicates", "1", "--out",
                     str(tmp_path)]) == 0
    assert stems(tmp_path) == sorted(unit_stems("E1", n=1) + unit_stems("E2", n=1)
                                     + unit_stems("E2", "real", 1))
    html = (tmp_path / "report.html").read_text()
    assert '<section id="claim-E2">' in html
    assert 'id="claim-E2-toy"' in html and 'id="claim-E2-real"' in html
    assert "<th>Toy model</th><th>Real network</th>" in html
    md = (tmp_path / "report.md").read_text()
    assert "| [E2](#claim-E2) | Fake E2 | ✅ holds | claim rule held in 1/1; control failed " \
           "in 1/1 | ❌ does not hold | claim rule held in 0/1; control failed in 1/1 |" in md


def test_device_is_passed_to_every_real_config(real_fakes, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cli.main(["reproduce", "--real", "--device", "cuda", "--only", "E3", "--out",
                     str(tmp_path)]) == 0
    results = [load_result(p) for p in tmp_path.glob("*.json")]
    assert len(results) == 6  # 3 replicates x 2 arms
    assert all(r.config["device"] == "cuda" for r in results)


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
    assert cli.main(["reproduce", "--real", "--quick", "--only", "E5", "--replicates", "1",
                     "--out", str(tmp_path)]) == 0
    result = load_result(tmp_path / "E5-real-claim-seed0-r0.json")
    control = load_result(tmp_path / "E5-real-control-seed0-r0.json")
    assert result.kind == "real" and result.config["device"] == "cpu"
    assert result.config["n_angles"] == e5.smoke_config().n_angles
    assert control.config == {**result.config, **dataclasses.asdict(
        e5.control_config(e5.smoke_config()))}
    assert (tmp_path / "figures" / "E5-real-claim-seed0-r0.png").exists()
    assert (tmp_path / "figures" / "E5-real-spread.png").exists()


def test_toy_reproduce_does_not_import_torch(tmp_path):
    root = Path(__file__).resolve().parents[1]
    code = ("import sys; from landsim import cli; "
            "rc = cli.main(['reproduce', '--quick', '--only', 'E1', '--replicates', '1', "
            f"'--out', {str(tmp_path)!r}]); "
            "assert rc == 0, rc; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'landsim.real' not in sys.modules, 'landsim.real imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(root)})
    assert (tmp_path / "E1-toy-claim-seed0-r0.json").exists()
    assert (tmp_path / "report.html").exists()


def test_a_broken_stored_result_does_not_stop_a_rerun(fakes, tmp_path, capsys):
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--out", str(tmp_path)]) == 0
    (tmp_path / "E1-toy-claim-seed0-r0.npz").unlink()  # its JSON now cannot be loaded
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--out", str(tmp_path)]) == 0
    assert stems(tmp_path) == unit_stems("E1")
    assert "E1 (toy): holds" in capsys.readouterr().out


def test_the_local_pool_stores_the_same_results_as_one_process(tmp_path, capsys):
    """--executor local (2 spawned workers) and serial: same files, same numbers."""
    from landsim.results import load_results

    for name in ("serial", "local"):
        assert cli.main(["reproduce", "--quick", "--only", "E1", "--replicates", "2",
                         "--executor", name, "--workers", "2",
                         "--out", str(tmp_path / name)]) == 0
    serial, local = (load_results(tmp_path / n) for n in ("serial", "local"))
    assert [r.stem for r in serial] == [r.stem for r in local] and len(serial) == 4
    for a, b in zip(serial, local):
        assert a.metrics == b.metrics and a.verdict == b.verdict and a.config == b.config
        assert a.series.keys() == b.series.keys()
        assert all(np.array_equal(a.series[k], b.series[k]) for k in a.series)
        assert a.node == "" and b.node.rsplit(":", 1)[1].isdigit()  # host:pid of a worker


def test_an_unknown_executor_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--executor", "dask", "--out", str(tmp_path)])
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert cli.main(["reproduce", "--quick", "--only", "E1", "--executor", "ray",
                     "--out", str(tmp_path)]) == 2
    assert 'pip install "landsim[ray]"' in capsys.readouterr().err
