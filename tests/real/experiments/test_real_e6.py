"""E6 on trained networks: SWA within a run, averaging independent optima, the ensemble."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from landsim.real import flat, models
from landsim.real.experiments import get
from landsim.results import load_result, save_result

E6 = get("E6")


@pytest.fixture(scope="module")
def smoke():
    return E6.run(E6.smoke_config(), seed=0)


@pytest.mark.parametrize("changes, message", [
    ({"n_runs": 1}, "n_runs must be an integer >= 2, got 1"),
    ({"swa_epochs": 1}, "swa_epochs must be an integer >= 2, got 1"),
    ({"swa_schedule": "linear"}, r"swa_schedule must be one of \('constant', 'cyclic'\)"),
    ({"swa_lr": 0.01, "swa_lr_min": 0.02}, r"swa_lr_min must be in \[0, 0.01\], got 0.02"),
    ({"high_loss_fraction": 0.0}, r"high_loss_fraction must be in \]0, inf\[, got 0.0"),
    ({"batchnorm": 1}, "batchnorm must be a bool, got 1"),
    ({"lr": -0.1}, r"lr must be in \]0, inf\[, got -0.1"),
    ({"device": "gpu"}, "device must be one of"),
])
def test_config_rejects_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        E6.Config(**changes)


def test_smoke_result_shapes_and_kind(smoke):
    cfg = E6.smoke_config()
    s = smoke.series
    k, S = cfg.n_runs, cfg.swa_epochs
    assert smoke.experiment == "E6" and smoke.kind == "real" and smoke.stem == "E6-real-seed0"
    for split in ("train", "test"):
        for q in ("loss", "accuracy"):
            assert s[f"snapshot_{split}_{q}"].shape == (k, S)
            assert s[f"swa_{split}_{q}"].shape == (k,)
            assert s[f"cross_{split}_{q}"].shape == (1,)
            assert s[f"ensemble_{split}_{q}"].shape == (1,)
    assert s["init_train_loss"].shape == (k,)
    d = s["disagreement"]
    assert d.shape == (k, k)
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0) and np.all((d >= 0) & (d <= 1))
    for key, v in s.items():
        assert np.all(np.isfinite(v)), key


def test_swa_average_is_the_mean_of_the_snapshots():
    """AveragedModel's running mean equals the plain mean of the snapshot vectors."""
    net = models.build_model("mlp", input_shape=(64,), n_classes=10, seed=3, width=8, depth=1)
    fm = flat.FlatModel(net)
    before = fm.get_flat()
    g = torch.Generator().manual_seed(0)
    snaps = torch.randn(5, fm.n_params, generator=g)
    avg = E6.swa_average(fm, snaps)
    assert avg.shape == (fm.n_params,)
    torch.testing.assert_close(avg, snaps.mean(0), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(avg, snaps[-1])
    torch.testing.assert_close(fm.get_flat(), before, rtol=0, atol=0)  # fm untouched


def test_run_records_that_its_swa_is_the_snapshot_mean(smoke):
    assert smoke.metrics["swa_mean_deviation"] <= 1e-6


def test_verdict_recomputes_from_the_stored_series(smoke):
    cfg = E6.Config(**smoke.config)
    s = smoke.series
    verdict, metrics = E6.judge(cfg, s)
    assert verdict == smoke.verdict
    for key, value in metrics.items():
        assert smoke.metrics[key] == pytest.approx(value)
    better = ((s["swa_train_loss"] <= s["snapshot_train_loss"].mean(1))
              | (s["swa_test_accuracy"] >= s["snapshot_test_accuracy"].mean(1)))
    bad = s["cross_train_loss"][0] >= cfg.high_loss_fraction * s["init_train_loss"].mean()
    assert smoke.verdict.holds == bool(better.all() and bad)
    assert f"{cfg.high_loss_fraction:g} L0" in smoke.verdict.rule


def test_judge_fails_when_the_independent_average_is_good(smoke):
    s = dict(smoke.series)
    s["cross_train_loss"] = np.array([1e-3])
    assert not E6.judge(E6.smoke_config(), s)[0].holds
    s = dict(smoke.series)
    s["swa_train_loss"] = s["snapshot_train_loss"].max(1) + 1.0
    s["swa_test_accuracy"] = s["snapshot_test_accuracy"].min(1) - 0.1
    verdict = E6.judge(E6.smoke_config(), s)[0]
    assert not verdict.holds and verdict.evidence.startswith("0/2 SWA averages")


def test_batchnorm_and_cyclic_schedule_run():
    cfg = E6.Config(n_train=200, width=8, depth=1, n_runs=2, epochs=2, swa_epochs=2,
                    batchnorm=True, swa_schedule="cyclic", swa_lr=0.1, swa_lr_min=0.01)
    r = E6.run(cfg, seed=1)
    assert r.series["snapshot_train_loss"].shape == (2, 2)
    assert np.all(np.isfinite(r.series["swa_train_loss"]))
    assert r.metrics["swa_mean_deviation"] <= 1e-6


def test_save_load_round_trip_and_plot(smoke, tmp_path):
    path = save_result(smoke, tmp_path)
    assert path.name == "E6-real-seed0.json"
    back = load_result(path)
    assert back.kind == "real" and back.config == smoke.config
    assert back.verdict == smoke.verdict and back.metrics == smoke.metrics
    for k, v in smoke.series.items():
        np.testing.assert_array_equal(back.series[k], v)
    fig = Figure(figsize=(12, 4))
    E6.plot(back, fig)
    assert len(fig.axes) == 2
    fig.savefig(io.BytesIO(), format="png")


def test_same_seed_same_result(smoke):
    again = E6.run(E6.smoke_config(), seed=0)
    for key, value in smoke.series.items():
        np.testing.assert_array_equal(again.series[key], value, err_msg=key)
    assert again.verdict == smoke.verdict
