"""Real-network E3: straight line vs trained chain and Bezier curve (smoke config)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from landsim import paths
from landsim.real import curves
from landsim.real.experiments import _setup
from landsim.real.experiments import e3_tunnels as e3
from landsim.results import load_result, save_result


@pytest.fixture(scope="module")
def result():
    return e3.run(e3.smoke_config(), seed=0)


@pytest.mark.parametrize("change, match", [
    ({"curve_epochs": 0}, "curve_epochs"), ({"samples_per_step": 0}, "samples_per_step"),
    ({"path_points": 2}, "path_points"), ({"min_line_barrier": -1.0}, "min_line_barrier"),
    ({"barrier_fraction": float("nan")}, "barrier_fraction"), ({"width": 0}, "width"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e3.Config(**change)


def test_interface_and_shapes(result):
    cfg = e3.smoke_config()
    assert result.kind == "real" and result.experiment == "E3"
    s = result.series
    assert s["t"].shape == (cfg.path_points,)
    for p in e3.PATHS:
        for q in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            assert s[f"{p}_{q}"].shape == (cfg.path_points,)
    for key in e3.TRAINED:
        assert s[f"{key}_fit_epoch"][-1] == cfg.curve_epochs


def test_curves_equal_their_end_networks(result):
    """Every path starts at network a and ends at network b: at t = 0 and t = 1 its
    profile equals the line's, and both equal the trainer's own final losses."""
    s = result.series
    for p in e3.TRAINED:
        np.testing.assert_allclose(s[f"{p}_train_loss"][[0, -1]], s["line_train_loss"][[0, -1]],
                                   rtol=1e-5)
        np.testing.assert_allclose(s[f"{p}_test_loss"][[0, -1]], s["line_test_loss"][[0, -1]],
                                   rtol=1e-5)
    np.testing.assert_allclose(s["line_train_loss"][[0, -1]], s["final_train_loss"], rtol=1e-5)


def test_curve_modules_reproduce_the_ends_exactly():
    cfg = e3.smoke_config()
    ds = _setup.load_dataset(cfg, 0)
    nets = _setup.train_networks(cfg.__class__(**{**cfg.__dict__, "epochs": 1}), ds, 2, 0)
    a, b = nets.runs[0].flat, nets.runs[1].flat
    for kind in curves.CURVES:
        path = curves.make_curve(kind, a, b)
        for prm in path.parameters():  # move the free point off the line
            prm.data += torch.randn(prm.shape, generator=torch.Generator().manual_seed(0))
        ends = path.points(torch.tensor([0.0, 1.0], dtype=a.dtype))
        torch.testing.assert_close(ends, torch.stack([a, b]), rtol=0, atol=0)


def test_barriers_match_landsim_paths(result):
    s, m = result.series, result.metrics
    assert m["linear_barrier"] == paths.barrier(s["line_train_loss"], s["t"])
    assert m["linear_test_barrier"] == paths.barrier(s["line_test_loss"], s["t"])
    chord = s["line_train_loss"][0] + s["t"] * (s["line_train_loss"][-1]
                                                - s["line_train_loss"][0])
    np.testing.assert_allclose(m["linear_barrier"], max((s["line_train_loss"] - chord).max(),
                                                        0.0), atol=1e-12)
    for p in e3.TRAINED:
        assert m[f"{p}_barrier"] == paths.barrier(s[f"{p}_train_loss"], s["t"])


def test_verdict_recomputed_from_series(result):
    s, m, c = result.series, result.metrics, result.config
    line = m["linear_barrier"]
    best = min(m["chain_barrier"], m["bezier_barrier"])
    holds = (np.all(s["final_train_accuracy"] >= c["min_train_accuracy"])
             and line >= c["min_line_barrier"] * s["init_train_loss"].mean() and line > 0
             and best <= c["barrier_fraction"] * line)
    assert result.verdict.holds == bool(holds)
    assert e3.verdict_of(s, e3.Config(**c)) == result.verdict


def test_round_trip_and_plot(result, tmp_path):
    back = load_result(save_result(result, tmp_path))
    assert back.kind == "real" and back.verdict == result.verdict
    for key, arr in result.series.items():
        np.testing.assert_array_equal(back.series[key], arr)
    fig = Figure(figsize=(10, 4))
    e3.plot(back, fig)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    fig.savefig(tmp_path / "e3.png")
