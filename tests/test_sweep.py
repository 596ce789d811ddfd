"""``landsim sweep``: grid parsing, the spec's checks, planning, rerun skips, the summary and
the command line end to end (serial and local executors only; Ray is tested elsewhere)."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from landsim import cli, sweep
from landsim.executors import Finished, SerialExecutor
from landsim.results import load_result
from landsim.sweep import SpecMismatch, SweepSpec

E1_GRID = (("eps1", (0.001, 0.002)), ("n_starts", (3, 4)))


class Counting(SerialExecutor):
    """The serial executor, counting the units submitted to it."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list = []

    def submit(self, units, progress=None):
        self.submitted += list(units)
        yield from super().submit(units, progress)


class FailOne(SerialExecutor):
    """Unit ``bad`` of each submission raises (a Finished with an error, no Result)."""

    def __init__(self, bad: int = 0) -> None:
        super().__init__()
        self.bad = bad

    def submit(self, units, progress=None):
        for done in super().submit(units, progress):
            if done.index == self.bad:
                yield Finished(done.index, done.unit, None, "RuntimeError: boom\n  trace",
                               "", 0.0)
            else:
                yield done


class InterruptAfterOne(SerialExecutor):
    """Finishes one unit, then Ctrl-C arrives."""

    cancels = 0

    def submit(self, units, progress=None):
        for done in super().submit(units, progress):
            yield done
            raise KeyboardInterrupt

    def cancel(self) -> None:
        InterruptAfterOne.cancels += 1
        super().cancel()


def e1_spec(**kw) -> SweepSpec:
    args = dict(grid=E1_GRID, seeds=2, quick=True)
    args.update(kw)
    return SweepSpec("E1", "toy", **args)


# ------------------------------------------------------------------ parsing values
@pytest.mark.parametrize("text,hint,expected", [
    ("3", int, 3),
    (" 7 ", int, 7),
    ("0.001", float, 0.001),
    ("1", float, 1.0),
    ("1e-3", float, 0.001),
    ("true", bool, True),
    ("No", bool, False),
    ("0", bool, False),
    ("init", str, "init"),
    ("20", tuple[int, ...], (20,)),
    ("20/40/80", tuple[int, ...], (20, 40, 80)),
    ("0.1/1/2", tuple[float, ...], (0.1, 1.0, 2.0)),
    ("a/b", tuple[str, ...], ("a", "b")),
])
def test_parse_value_by_type(text, hint, expected):
    value = sweep.parse_value("f", text, hint)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(value, tuple):
        assert [type(v) for v in value] == [type(v) for v in expected]


def test_parse_value_bare_tuple_takes_the_default_element_type():
    assert sweep.parse_value("f", "1/2", tuple, default=(0.5, 1.5)) == (1.0, 2.0)
    assert sweep.parse_value("f", "1/2", tuple, default=(1, 2)) == (1, 2)


@pytest.mark.parametrize("text,hint,message", [
    ("2.5", int, r"n takes integers, got '2.5'"),
    ("x", float, r"n takes numbers, got 'x'"),
    ("maybe", bool, r"n takes true or false, got 'maybe'"),
    ("20//40", tuple[int, ...], r"n takes values separated by '/'"),
    ("20/x", tuple[int, ...], r"n\[1\] takes integers, got 'x'"),
])
def test_parse_value_rejects_bad_text(text, hint, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_value("n", text, hint)


def test_parse_grid_reads_values_by_the_config_field_type():
    assert sweep.parse_grid("eps1=0.001,0.002", "E1") == ("eps1", (0.001, 0.002))
    assert sweep.parse_grid("n_starts=3, 4", "E1") == ("n_starts", (3, 4))
    assert sweep.parse_grid("line_start=init", "E1") == ("line_start", ("init",))
    name, values = sweep.parse_grid("n_short=20/40,20/40/80", "E2")
    assert (name, values) == ("n_short", ((20, 40), (20, 40, 80)))
    assert sweep.parse_grid("shared_short_axes=true,false", "E4") == \
        ("shared_short_axes", (True, False))


@pytest.mark.parametrize("text,message", [
    ("epsx=1", r"E1 \(toy\) Config has no field 'epsx'; its fields are: dim, .*eps1"),
    ("eps1", r"a grid is FIELD=V1,V2"),
    ("eps1=", r"grid field eps1 has no values"),
    ("eps1=1,,2", r"grid field eps1 has an empty value"),
    ("n_starts=3,x", r"n_starts takes integers, got 'x'"),
])
def test_parse_grid_errors_name_the_field(text, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_grid(text, "E1")


# ------------------------------------------------------------------ the spec
@pytest.mark.parametrize("kw,message", [
    (dict(grid=(("nope", (1,)),)), r"no field 'nope'; its fields are: dim, n_wedges"),
    (dict(grid=(("eps1", ()),)), r"grid field eps1 has no values"),
    (dict(grid=(("eps1", (0.001, 1e-3)),)), r"grid field eps1 lists the value 0.001 twice"),
    (dict(grid=(("eps1", (1,)), ("eps1", (2,)))), r"grid field eps1 is given twice"),
    (dict(seeds=0), r"seeds must be an integer >= 1, got 0"),
    (dict(grid=(("eps1", (0.001, -1.0)),)),
     r"grid point eps1=-1.0: eps1 must be in \[0, inf\[, got -1.0"),
    (dict(grid=(("n_starts", ("x",)),)), r"n_starts takes integers, got 'x'"),
    (dict(device="cuda"), r"device applies to real sweeps only"),
])
def test_spec_validation_names_the_field_and_value(kw, message):
    args = dict(grid=(("eps1", (0.001,)),), seeds=1, quick=True)
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        SweepSpec("E1", "toy", **args)


def test_spec_runs_the_config_validation_of_tuple_fields():
    with pytest.raises(ValueError, match=r"E2 \(toy\) grid point n_short=50: n_short must be "
                                         r"a tuple of at least 2 values"):
        SweepSpec("E2", "toy", grid=(("n_short", ("50",)),), quick=True)
    spec = SweepSpec("E2", "toy", grid=(("n_short", ("20/40", (30, 60))),), quick=True)
    assert [c.n_short for c in spec.configs()] == [(20, 40), (30, 60)]


def test_spec_converts_values_to_the_field_type():
    spec = SweepSpec("E1", "toy", grid={"eps1": [1, "0.5"], "n_starts": 3}, quick=True)
    assert spec.grid == (("eps1", (1.0, 0.5)), ("n_starts", (3,)))
    assert all(type(v) is float for v in spec.grid[0][1])


# ------------------------------------------------------------------ planning
@pytest.mark.parametrize("seeds,controls", [(1, False), (2, False), (2, True)])
def test_units_are_points_x_seeds_x_arms(seeds, controls):
    spec = e1_spec(seeds=seeds, controls=controls)
    units = sweep.plan(spec)
    arms = 2 if controls else 1
    assert len(units) == 4 * seeds * arms == spec.n_units
    assert len({u.stem for u in units}) == len(units)
    keys = {(u.point, u.unit.replicate, u.unit.arm) for u in units}
    assert len(keys) == len(units)
    for u in units:
        assert u.unit.seed == 0
        assert dict(u.point) == {k: getattr(u.unit.config, k) for k, _ in E1_GRID}
        assert re.fullmatch(r"E1-toy-(claim|control)-eps1=0\.00[12],n_starts=[34]-h[0-9a-f]{12}"
                            r"-seed0-r[01]", u.stem), u.stem
    assert {u.unit.replicate for u in units} == set(range(seeds))


def test_stems_stay_unique_and_safe_when_labels_are_cut():
    head = ["0.01", "0.02", "0.05", "0.1", "0.15", "0.2", "0.25", "0.35", "0.45", "0.5",
            "0.75", "1.0", "1.1", "1.25", "1.5"]
    long = tuple("/".join([*head, end]) for end in ("2.0", "2.5", "3.0"))
    spec = SweepSpec("E2", "toy", grid=(("d_ratios", long),), quick=True, seeds=1,
                     root_seed=5)
    stems = [u.stem for u in sweep.plan(spec)]
    assert len(set(stems)) == 3
    for stem in stems:
        assert re.fullmatch(r"[A-Za-z0-9._=,+-]+", stem), stem
        assert "/" not in stem and stem.endswith("-seed5-r0")
    # the readable parts are cut to the same prefix; only the hash tells them apart
    prefixes = {s.split("-h")[0] for s in stems}
    assert len(prefixes) == 1 and len(prefixes.pop()) <= len("E2-toy-claim-") + \
        sweep.LABEL_CHARS


# ------------------------------------------------------------------ running and rerunning
def test_rerun_skips_the_stored_units(tmp_path):
    spec = e1_spec(seeds=1)
    first = Counting()
    run = sweep.execute(spec, tmp_path, first)
    assert (run.total, run.skipped, run.submitted) == (4, 0, 4)
    assert len(first.submitted) == 4 and len(run.stored) == 4 and not run.failed
    assert len(list((tmp_path / "units").glob("*.json"))) == 4

    again = Counting()
    run = sweep.execute(spec, tmp_path, again)
    assert again.submitted == [] and run.skipped == 4 and run.submitted == 0

    stems = sorted(p.stem for p in (tmp_path / "units").glob("*.json"))
    (tmp_path / "units" / f"{stems[0]}.json").unlink()
    (tmp_path / "units" / f"{stems[1]}.json").write_text("{broken")
    third = Counting()
    seen = []
    run = sweep.execute(spec, tmp_path, third, on_start=lambda *a: seen.append(a))
    assert seen == [(4, 2, 2)]
    assert len(third.submitted) == 2 and run.skipped == 2 and len(run.stored) == 2
    assert all(load_result(p) for p in (tmp_path / "units").glob("*.json"))


def test_another_spec_in_the_same_directory_is_refused(tmp_path):
    sweep.execute(e1_spec(seeds=1), tmp_path, Counting())
    for other in (e1_spec(seeds=2), e1_spec(seeds=1, controls=True),
                  e1_spec(seeds=1, grid=(("eps1", (0.001,)),)),
                  e1_spec(seeds=1, root_seed=3), e1_spec(seeds=1, quick=False)):
        ex = Counting()
        with pytest.raises(SpecMismatch, match=r"holds a different sweep"):
            sweep.execute(other, tmp_path, ex)
        assert ex.submitted == []
    with pytest.raises(SpecMismatch, match=r"seeds: stored 1, now 2"):
        sweep.check_out_dir(e1_spec(seeds=2), tmp_path)
    sweep.check_out_dir(e1_spec(seeds=1), tmp_path)  # the same spec continues


def test_failed_units_are_reported_and_not_stored(tmp_path):
    spec = e1_spec(seeds=1)
    errors = []
    run = sweep.execute(spec, tmp_path, FailOne(bad=2),
                        on_finished=lambda k, n, su, done, error: errors.append(error))
    assert len(run.failed) == 1 and len(run.stored) == 3
    assert run.failed[0][1].startswith("RuntimeError: boom")
    assert sum(bool(e) for e in errors) == 1
    assert not (tmp_path / "units" / f"{run.failed[0][0].stem}.json").exists()
    rerun = Counting()
    sweep.execute(spec, tmp_path, rerun)
    assert [u.replicate for u in rerun.submitted] == [0] and len(rerun.submitted) == 1


# ------------------------------------------------------------------ the summary
def test_summary_matches_numpy_over_the_stored_results(tmp_path):
    spec = e1_spec(seeds=2, controls=True)
    sweep.execute(spec, tmp_path, SerialExecutor())
    metric = "median_reference_loss"
    summary = sweep.summarize(spec, tmp_path, metric)
    paths, notes = sweep.write_summary(summary, tmp_path)
    assert not notes
    assert {p.name for p in paths} == {"summary.csv", "summary.md", "fig_eps1.png",
                                       "fig_n_starts.png"}
    results = [load_result(p) for p in (tmp_path / "units").glob("*.json")]
    assert len(results) == 16
    with open(tmp_path / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    for row in rows:
        group = [r for r in results if r.arm == row["arm"]
                 and r.config["eps1"] == float(row["eps1"])
                 and r.config["n_starts"] == int(row["n_starts"])]
        assert len(group) == 2 == int(row["n_seeds"])
        values = np.array([r.metrics[metric] for r in group])
        assert float(row["mean"]) == pytest.approx(np.mean(values), rel=1e-12)
        assert float(row["std"]) == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        assert float(row["min"]) == np.min(values)
        assert float(row["max"]) == np.max(values)
        assert float(row["holds_fraction"]) == np.mean([r.verdict.holds for r in group])
    md = (tmp_path / "summary.md").read_text()
    assert "`median_reference_loss`" in md and md.count("\n| c") == 8


def test_summary_default_metric_is_the_rule_statistic(tmp_path):
    spec = e1_spec(seeds=1, grid=(("eps1", (0.001,)),))
    sweep.execute(spec, tmp_path, SerialExecutor())
    from landsim.experiments import e1_init_to_optimum
    assert sweep.summarize(spec, tmp_path).metric == e1_init_to_optimum.KEY_METRICS[0]
    with pytest.raises(ValueError, match=r"metric 'nope' is in none of the stored E1 \(toy\) "
                                         r"results; their metrics are: .*max_relative_rise"):
        sweep.summarize(spec, tmp_path, "nope")


def test_summary_counts_missing_units_and_single_seeds(tmp_path):
    spec = e1_spec(seeds=1)
    sweep.execute(spec, tmp_path, FailOne(bad=0))
    summary = sweep.summarize(spec, tmp_path)
    assert summary.missing == 1
    empty = [r for r in summary.rows if r["n_seeds"] == 0]
    assert len(empty) == 1 and math.isnan(empty[0]["mean"])
    assert math.isnan(empty[0]["holds_fraction"])
    assert all(math.isnan(r["std"]) for r in summary.rows)  # one seed: no spread
    sweep.write_summary(summary, tmp_path)
    assert "3 stored, 1 missing" in (tmp_path / "summary.md").read_text()


def test_figures_are_skipped_with_a_note_without_matplotlib(tmp_path, monkeypatch):
    spec = e1_spec(seeds=1, grid=(("eps1", (0.001,)),))
    sweep.execute(spec, tmp_path, SerialExecutor())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    paths, notes = sweep.write_summary(sweep.summarize(spec, tmp_path), tmp_path)
    assert notes == [sweep.MPL_MISSING]
    assert [p.name for p in paths] == ["summary.csv", "summary.md"]
    assert not list(tmp_path.glob("fig_*.png"))
    assert "matplotlib is not installed" in (tmp_path / "summary.md").read_text()


# ------------------------------------------------------------------ the command line
def test_cli_end_to_end_with_the_local_executor(tmp_path, capsys):
    out = tmp_path / "e1"
    args = ["sweep", "e1", "--grid", "eps1=0.001,0.002", "--grid", "line_start=init",
            "--seeds", "2", "--quick", "--controls", "--out", str(out), "--workers", "2",
            "--seed", "7"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "2 grid point(s) x 2 seed(s) x 2 arms (claim, control) = 8 unit(s)" in text
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert len(lines) == 8
    for line in lines:
        assert re.fullmatch(r"\[[1-8]/8\] E1 toy (claim|control) eps1=0\.00[12],"
                            r"line_start=init r[01]: rule (holds|fails) \(node .+:\d+\)", line)
    assert {line.split("]")[0] for line in lines} == {f"[{k}/8" for k in range(1, 9)}
    assert len(list((out / "units").glob("*-seed7-r*.json"))) == 8
    for name in ("sweep.json", "summary.csv", "summary.md", "fig_eps1.png",
                 "fig_line_start.png"):
        assert (out / name).is_file(), name
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["grid"] == [["eps1", [0.001, 0.002]], ["line_start", ["init"]]]
    assert (stored["seeds"], stored["root_seed"], stored["controls"]) == (2, 7, True)

    assert cli.main(args[:-4] + ["--executor", "serial", "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert "8 unit(s) already stored" in text and "running 0 unit(s)" in text
    assert "0 unit(s) stored by this run, 8 skipped" in text


def test_cli_refuses_another_spec_in_the_same_out(tmp_path, capsys):
    out = str(tmp_path / "s")
    base = ["sweep", "E1", "--quick", "--seeds", "1", "--executor", "serial", "--out", out]
    assert cli.main(base + ["--grid", "eps1=0.001"]) == 0
    capsys.readouterr()
    assert cli.main(base + ["--grid", "eps1=0.002"]) == 2
    err = capsys.readouterr().err
    assert "holds a different sweep" in err and "grid: stored" in err


@pytest.mark.parametrize("extra,message", [
    (["--grid", "bogus=1"], r"E1 \(toy\) Config has no field 'bogus'; its fields are: dim"),
    (["--grid", "eps1=-1"], r"grid point eps1=-1.0: eps1 must be in \[0, inf\[, got -1.0"),
    (["--grid", "n_starts=2.5"], r"n_starts takes integers, got '2.5'"),
    (["--grid", "eps1=1,1.0"], r"grid field eps1 lists the value 1.0 twice"),
    (["--device", "cuda"], r"--device applies to the real-network claims"),
    (["--metric", "nope"], r"metric 'nope' is in none of the stored"),
])
def test_cli_reports_bad_specs(tmp_path, capsys, extra, message):
    args = ["sweep", "E1", "--quick", "--seeds", "1", "--executor", "serial",
            "--out", str(tmp_path / "x"), *extra]
    assert cli.main(args) == 2
    assert re.search(message, capsys.readouterr().err)
    if extra[0] == "--grid":
        assert not (tmp_path / "x" / "units").exists()  # nothing ran


@pytest.mark.parametrize("args", [
    ["sweep", "E1", "--executor", "nope", "--out", "x"],
    ["sweep", "E9", "--out", "x"],
    ["sweep", "E1", "--seeds", "0", "--out", "x"],
    ["sweep", "E1"],
])
def test_cli_argument_errors(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert "landsim sweep: error:" in capsys.readouterr().err


def test_cli_ray_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError; no Ray starts
    assert cli.main(["sweep", "E1", "--quick", "--seeds", "1", "--executor", "ray",
                     "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "landsim[ray]"' in err
    assert not (tmp_path / "r" / "units").exists()


def test_cli_failed_unit_exits_2(tmp_path, capsys, monkeypatch):
    import landsim.executors as executors
    monkeypatch.setattr(executors, "make_executor", lambda name, **kw: FailOne(bad=1))
    out = tmp_path / "f"
    assert cli.main(["sweep", "E1", "--quick", "--seeds", "2", "--grid", "eps1=0.001",
                     "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "[2/2] E1 toy claim eps1=0.001 r1: FAILED (node this process): RuntimeError: " \
           "boom" in captured.out
    assert "1 unit(s) failed (not stored): E1 toy claim eps1=0.001 r1" in captured.err
    assert len(list((out / "units").glob("*.json"))) == 1
    assert (out / "summary.csv").is_file()


def test_cli_ctrl_c_cancels_and_keeps_what_was_stored(tmp_path, capsys, monkeypatch):
    import landsim.executors as executors
    monkeypatch.setattr(executors, "make_executor", lambda name, **kw: InterruptAfterOne())
    InterruptAfterOne.cancels = 0
    out = tmp_path / "c"
    args = ["sweep", "E1", "--quick", "--seeds", "3", "--grid", "eps1=0.001", "--out",
            str(out)]
    assert cli.main(args) == 130
    assert InterruptAfterOne.cancels == 1
    assert "interrupted" in capsys.readouterr().err
    assert len(list((out / "units").glob("*.json"))) == 1
    monkeypatch.setattr(executors, "make_executor", lambda name, **kw: Counting())
    assert cli.main(args) == 0
    assert "1 unit(s) already stored" in capsys.readouterr().out


def test_import_sweep_stays_light():
    code = ("import sys, landsim, landsim.sweep, landsim.sweep_cli\n"
            "bad = [m for m in ('ray', 'torch', 'grpc', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
