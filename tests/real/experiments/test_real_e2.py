"""Real-network E2: accuracy against the subspace dimension, d_int90 (smoke config)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from landsim.real.experiments import e2_intrinsic_dimension as e2
from landsim.results import load_result, save_result


@pytest.fixture(scope="module")
def result():
    return e2.run(e2.smoke_config(), seed=0)


@pytest.mark.parametrize("change, match", [
    ({"dims": ()}, "dims"), ({"dims": (0, 10)}, "dims"), ({"n_runs": 0}, "n_runs"),
    ({"fraction": 0.0}, "fraction"), ({"metric": "val"}, "metric"),
    ({"projection": "fft"}, "projection"), ({"max_ratio": 1.5}, "max_ratio"),
    ({"include_full": 1}, "include_full"), ({"device": "gpu"}, "device"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e2.Config(**change)


def test_grid_includes_p_and_rejects_too_large_d():
    cfg = e2.Config(dims=(50, 10))
    assert cfg.dims == (10, 50)
    assert e2.grid(cfg, 100) == [10, 50, 100]
    with pytest.raises(ValueError, match="P = 40"):
        e2.grid(cfg, 40)


def test_interface_and_shapes(result):
    cfg = e2.smoke_config()
    assert result.kind == "real" and result.experiment == "E2"
    s, p = result.series, int(result.metrics["n_params"])
    assert s["dims"].tolist() == list(cfg.dims) + [p]
    assert s["accuracy"].shape == s["train_loss"].shape == (len(cfg.dims) + 1, cfg.n_runs)
    assert np.all((s["accuracy"] >= 0) & (s["accuracy"] <= 1))


def test_full_dimensional_subspace_matches_full_training(result):
    """At d = P an orthonormal projection is a rotation of weight space: subspace training
    is full-space training in other coordinates, so it reaches the reference accuracy."""
    m = result.metrics
    assert m["accuracy_at_full_d"] >= m["threshold_accuracy"]
    assert abs(m["accuracy_at_full_d"] - m["full_accuracy"]) <= 0.05


def test_verdict_recomputed_from_series(result):
    s, m, c = result.series, result.metrics, result.config
    target = c["fraction"] * m["full_accuracy"]
    passing = s["dims"][s["accuracy"].mean(axis=1) >= target]
    d_int = int(passing.min()) if passing.size else None
    assert (np.isnan(m["d_int"]) if d_int is None else m["d_int"] == d_int)
    holds = d_int is not None and d_int <= c["max_ratio"] * m["n_params"]
    assert result.verdict.holds == holds
    assert e2.verdict_of(s["dims"], s["accuracy"], m["full_accuracy"], int(m["n_params"]),
                         e2.Config(**c)) == result.verdict


def test_verdict_on_constructed_curves():
    cfg = e2.Config(max_ratio=0.1)
    dims = np.array([10, 50, 100, 1000])
    low = np.array([[0.2], [0.95], [0.96], [0.97]])
    assert e2.verdict_of(dims, low, 0.97, 1000, cfg).holds  # d_int = 50 <= 100
    late = np.array([[0.2], [0.5], [0.6], [0.97]])
    assert not e2.verdict_of(dims, late, 0.97, 1000, cfg).holds  # d_int = 1000
    never = np.full((4, 1), 0.1)
    assert "no d on the grid" in e2.verdict_of(dims, never, 0.97, 1000, cfg).evidence


def test_round_trip_and_plot(result, tmp_path):
    back = load_result(save_result(result, tmp_path))
    assert back.kind == "real" and back.verdict == result.verdict
    assert e2.Config(**back.config) == e2.smoke_config()
    for key, arr in result.series.items():
        np.testing.assert_array_equal(back.series[key], arr)
    fig = Figure(figsize=(10, 4))
    e2.plot(back, fig)
    assert len(fig.axes) == 2 and all(ax.has_data() for ax in fig.axes)
    fig.savefig(tmp_path / "e2.png")
