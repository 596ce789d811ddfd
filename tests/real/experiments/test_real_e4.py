"""Real-network E4: m-tunnels on a barycentric grid and their threshold d (smoke config)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from landsim import paths
from landsim.real.experiments import e4_m_tunnels as e4
from landsim.results import load_result, save_result


@pytest.fixture(scope="module")
def result():
    return e4.run(e4.smoke_config(), seed=0)


@pytest.mark.parametrize("change, match", [
    ({"m_max": 2}, "m_max"), ({"m_max": 7}, "m_max"), ({"simplex": "flat"}, "simplex"),
    ({"resolution": 1}, "resolution"), ({"dims": ()}, "dims"),
    ({"tunnel_optimizer": "lbfgs"}, "tunnel_optimizer"), ({"tunnel_lr": -1.0}, "tunnel_lr"),
    ({"tunnel_batch_size": 0}, "tunnel_batch_size"),
    ({"projection": "fft"}, "projection"), ({"barrier_fraction": -0.1}, "barrier_fraction"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e4.Config(**change)


def test_interface_and_shapes(result):
    cfg = e4.smoke_config()
    assert result.kind == "real" and result.experiment == "E4"
    s = result.series
    M, K = cfg.m_max - 1, len(cfg.dims)
    assert s["m"].tolist() == list(range(2, cfg.m_max + 1))
    for key in ("subspace_d", "subspace_max_train_loss", "subspace_train_barrier",
                "subspace_min_test_accuracy"):
        assert s[key].shape == (M, K + 1)
    for i, q in enumerate(s["n_free"]):  # dims below Q in order, then Q; NaN after a success
        tried = s["subspace_d"][i][np.isfinite(s["subspace_d"][i])]
        expected = [d for d in cfg.dims if d < q] + [q]
        assert tried.tolist() == expected[:tried.size]
        assert tried.size == len(expected) or np.isfinite(s["threshold"][i])
    for key in ("flat_max_train_loss", "tunnel_max_train_loss", "threshold", "n_free"):
        assert s[key].shape == (M,)
    p = int(result.metrics["n_params"])
    assert s["n_free"].tolist() == [p * m * (m - 1) // 2 for m in s["m"]]
    for m in s["m"]:
        n = len(paths.simplex_grid(int(m), cfg.resolution))
        assert s[f"m{m}_weights"].shape == (n, m) and s[f"m{m}_tunnel_train_loss"].shape == (n,)


def test_grid_vertices_are_the_optima(result):
    """The simplex passes through its vertices: at every grid vertex the flat and the
    trained tunnel's loss equal the trainer's own loss of that network."""
    s = result.series
    for m in s["m"]:
        w = s[f"m{m}_weights"]
        for i in range(m):
            row = np.flatnonzero(w[:, i] == 1.0)
            assert row.size == 1
            np.testing.assert_allclose(s[f"m{m}_tunnel_train_loss"][row[0]],
                                       s["final_train_loss"][i], rtol=1e-5)
            np.testing.assert_allclose(s[f"m{m}_flat_train_loss"][row[0]],
                                       s["final_train_loss"][i], rtol=1e-5)


def test_flat_two_simplex_is_the_straight_line(result):
    """The flat 2-simplex is the line between networks 0 and 1: its barrier is
    landsim.paths.barrier of the grid profile ordered by t."""
    s = result.series
    w, loss = s["m2_weights"], s["m2_flat_train_loss"]
    t = w[:, 1]
    order = np.argsort(t)
    assert result.metrics["flat2_barrier"] == pytest.approx(paths.barrier(loss[order],
                                                                          t[order]), abs=1e-9)


def test_verdict_recomputed_from_series(result):
    s, m, c = result.series, result.metrics, result.config
    target = m["max_vertex_loss"] + c["barrier_fraction"] * m["flat2_barrier"]
    assert m["target_loss"] == pytest.approx(target)
    thr = []
    for d, row in zip(s["subspace_d"], s["subspace_max_train_loss"]):
        ok = np.flatnonzero(np.nan_to_num(row, nan=np.inf) <= target)
        thr.append(d[ok[0]] if ok.size else np.nan)
    np.testing.assert_array_equal(s["threshold"], np.array(thr, dtype=float))
    thr = np.array(thr, dtype=float)
    holds = (np.all(s["final_train_accuracy"] >= c["min_train_accuracy"])
             and np.all(s["tunnel_max_train_loss"] <= target) and np.all(np.isfinite(thr))
             and np.all(np.diff(thr) >= 0) and thr[-1] > thr[0])
    assert result.verdict.holds == bool(holds)
    assert e4.verdict_of(s, m, e4.Config(**c)) == result.verdict


def test_verdict_on_constructed_thresholds():
    cfg = e4.Config()
    s = {"m": np.array([2, 3, 4]), "subspace_d": np.array([[10, 100, np.nan]] + [[10, 100,
                                                                                 1000]] * 2),
         "subspace_max_train_loss": np.array([[0.5, 0.01, np.nan], [0.5, 0.5, 0.01],
                                              [0.5, 0.5, 0.01]]),
         "tunnel_max_train_loss": np.array([0.01, 0.01, 0.01]),
         "final_train_accuracy": np.ones(4)}
    metrics = {"target_loss": 0.05, "max_vertex_loss": 0.01, "flat2_barrier": 0.4}
    assert e4.verdict_of(s, metrics, cfg).holds  # thresholds 100, 1000, 1000
    s["subspace_max_train_loss"][0] = [0.5, 0.5, 0.01]  # 1000, 1000, 1000: no growth
    assert not e4.verdict_of(s, metrics, cfg).holds


def test_round_trip_and_plot(result, tmp_path):
    back = load_result(save_result(result, tmp_path))
    assert back.kind == "real" and back.verdict == result.verdict
    assert e4.Config(**back.config) == e4.smoke_config()
    for key, arr in result.series.items():
        np.testing.assert_array_equal(back.series[key], arr)
    fig = Figure(figsize=(14, 4))
    e4.plot(back, fig)
    assert len(fig.axes) >= 3
    fig.savefig(tmp_path / "e4.png")
