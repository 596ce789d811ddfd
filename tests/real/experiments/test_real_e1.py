"""Real-network E1: loss along the init -> optimum lines (smoke config, run once)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from landsim.real.experiments import e1_init_to_optimum as e1
from landsim.results import load_result, save_result


@pytest.fixture(scope="module")
def result():
    return e1.run(e1.smoke_config(), seed=0)


@pytest.mark.parametrize("change, match", [
    ({"n_networks": 0}, "n_networks"), ({"line_points": 2}, "line_points"),
    ({"rise_tolerance": -0.1}, "rise_tolerance"), ({"min_train_accuracy": 1.5},
                                                    "min_train_accuracy"),
    ({"device": "tpu"}, "device"), ({"dataset": "cifar"}, "dataset"), ({"lr": 0.0}, "lr"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e1.Config(**change)


def test_interface_and_kind(result):
    assert result.kind == "real" and result.experiment == e1.ID == "E1"
    assert e1.quick_config().epochs <= e1.Config().epochs
    assert result.config["device"] == "cpu" and result.config["dataset"] == "digits"


def test_series_shapes(result):
    cfg = e1.smoke_config()
    s = result.series
    k, T = cfg.n_networks, cfg.line_points
    assert s["t"].shape == (T,) and s["t"][0] == 0 and s["t"][-1] == 1
    for key in ("line_train_loss", "line_test_loss", "line_train_accuracy",
                "line_test_accuracy"):
        assert s[key].shape == (k, T)
    assert s["train_curve_loss"].shape == (k, s["train_epoch"].size)
    assert s["train_epoch"][-1] == cfg.epochs
    assert s["train_rise"].shape == (k,) and np.all(s["train_rise"] >= 0)


def test_line_endpoints_are_the_init_and_the_optimum(result):
    """t = 0 is the initial network and t = 1 the trained one: the line's end losses equal
    the losses the trainer recorded there (a separate evaluation)."""
    s = result.series
    np.testing.assert_allclose(s["line_train_loss"][:, 0], s["train_curve_loss"][:, 0],
                               rtol=1e-5)
    np.testing.assert_allclose(s["line_train_loss"][:, -1], s["final_train_loss"], rtol=1e-5)
    np.testing.assert_allclose(s["line_test_loss"][:, -1], s["final_test_loss"], rtol=1e-5)
    np.testing.assert_allclose(s["line_train_accuracy"][:, -1], s["final_train_accuracy"])


def test_verdict_recomputed_from_series(result):
    s, c = result.series, result.config
    loss = s["line_train_loss"]
    rise = np.max(loss - np.minimum.accumulate(loss, axis=1), axis=1)
    holds = bool(np.all(rise <= c["rise_tolerance"] * loss[:, 0])
                 and np.all(s["final_train_accuracy"] >= c["min_train_accuracy"]))
    assert result.verdict.holds == holds
    np.testing.assert_allclose(result.metrics["max_relative_rise"], (rise / loss[:, 0]).max())
    assert e1.verdict_of(s, e1.Config(**c)) == result.verdict
    assert f"{c['rise_tolerance']:g}" in result.verdict.rule


def test_verdict_fails_on_a_bump():
    s = {"line_train_loss": np.array([[2.0, 1.0, 1.5, 0.1]]),
         "line_test_loss": np.array([[2.0, 1.0, 0.9, 0.5]]),
         "final_train_accuracy": np.array([1.0]), "final_test_accuracy": np.array([0.9])}
    assert not e1.verdict_of(s, e1.Config()).holds  # rise 0.5 = 0.25 x the start loss
    s["line_train_loss"] = np.array([[2.0, 1.0, 0.5, 0.1]])
    assert e1.verdict_of(s, e1.Config()).holds


def test_round_trip_and_plot(result, tmp_path):
    back = load_result(save_result(result, tmp_path))
    assert back.kind == "real" and back.verdict == result.verdict
    assert back.config == result.config and back.metrics == result.metrics
    for key, arr in result.series.items():
        np.testing.assert_array_equal(back.series[key], arr)
    fig = Figure(figsize=(10, 4))
    e1.plot(back, fig)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    fig.savefig(tmp_path / "e1.png")


def test_deterministic_for_a_seed(result):
    again = e1.run(e1.smoke_config(), seed=0)
    for key, arr in result.series.items():
        np.testing.assert_array_equal(again.series[key], arr)
