"""Real-network E4: m-tunnels, the threshold d of the tunnel's centre (P free parameters for
every m, a d-grid that does not depend on m) and the one-basin control (smoke config)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from claim_arms import run_arms
from matplotlib.figure import Figure

from landsim import paths
from landsim.real import curves
from landsim.real.experiments import e4_m_tunnels as e4
from landsim.results import load_result, save_result


@pytest.fixture(scope="module")
def arms():
    """(claim, control) of replicate 0 on the smoke config."""
    return run_arms(e4, e4.smoke_config())


@pytest.fixture(scope="module")
def result(arms):
    return arms[0]


@pytest.mark.parametrize("change, match", [
    ({"m_max": 2}, "m_max"), ({"m_max": 7}, "m_max"),
    ({"resolution": 1}, "resolution"), ({"dims": ()}, "dims"),
    ({"tunnel_optimizer": "lbfgs"}, "tunnel_optimizer"), ({"tunnel_lr": -1.0}, "tunnel_lr"),
    ({"tunnel_batch_size": 0}, "tunnel_batch_size"),
    ({"projection": "fft"}, "projection"), ({"barrier_fraction": -0.1}, "barrier_fraction"),
    ({"min_growth": 0.9}, "min_growth"), ({"one_basin": "yes"}, "one_basin"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        e4.Config(**change)


def test_control_changes_the_world_not_the_rule():
    for cfg in (e4.Config(), e4.quick_config(), e4.smoke_config()):
        ctl = e4.control_config(cfg)
        for name in e4.RULE_FIELDS:
            assert getattr(ctl, name) == getattr(cfg, name)
        changed = {f.name for f in dataclasses.fields(cfg)
                   if getattr(cfg, f.name) != getattr(ctl, f.name)}
        assert changed == {"one_basin"} and ctl.one_basin
    assert 3 <= len(e4.KEY_METRICS) <= 6 and e4.KEY_METRICS[0] == "threshold_growth"


def test_control_fails_the_rule(arms):
    """All optima in one basin: the threshold of the centre does not grow by min_growth."""
    claim, control = arms
    assert control.arm == "control" and not control.verdict.holds
    assert not control.metrics["threshold_growth"] >= e4.smoke_config().min_growth
    # the control's networks 1.. start from network 0's optimum: they stay close to it
    s = control.series
    assert np.all(s["final_train_accuracy"] >= 0.9)
    assert control.metrics["flat2_barrier"] < claim.metrics["flat2_barrier"]


def test_grid_does_not_depend_on_m(result):
    cfg = e4.smoke_config()
    s = result.series
    p = int(result.metrics["n_params"])
    grid = e4.subspace_grid(cfg.dims, p)
    assert grid.tolist() == [d for d in sorted(cfg.dims) if d < p] + [p]
    assert s["dims"].tolist() == grid.tolist()
    for row in s["subspace_d"]:  # the same grid for every m
        assert row.tolist() == grid.tolist()
    assert s["n_free"].tolist() == [p] * len(s["m"])  # the centre: P for every m
    for i, t in enumerate(s["threshold"]):  # the threshold is a grid point that succeeded
        row = s["subspace_max_train_loss"][i]
        assert np.isfinite(row[-1])  # d = P is always tried
        if np.isfinite(t):
            k = grid.tolist().index(int(t))
            assert row[k] <= result.metrics["target_loss"]
            assert np.all(~(row[:k] <= result.metrics["target_loss"]))


def test_grid_threshold_bisects():
    n = 9
    for first in range(n):
        calls: list[int] = []
        assert e4.grid_threshold(lambda k, f=first, c=calls: c.append(k) or k >= f, n) == first
        assert calls[0] == n - 1 and len(calls) == len(set(calls)) <= 1 + math.ceil(
            math.log2(n))
    assert e4.grid_threshold(lambda k: False, 5) is None
    assert e4.grid_threshold(lambda k: True, 1) == 0


def test_growth_and_grows_clearly():
    assert e4.growth([64.0, 128.0]) == 2.0
    assert math.isnan(e4.growth([np.nan, 64.0]))
    assert e4.grows_clearly([64, 91, 128], 1.5)
    assert not e4.grows_clearly([64, 91], 1.5)  # one sqrt-2 step is not enough
    assert not e4.grows_clearly([64, 45, 128], 1.5)  # a decrease
    assert not e4.grows_clearly([64, np.nan, 128], 1.5)


def test_centred_bezier_is_the_bezier_simplex_at_its_centre():
    torch.manual_seed(0)
    m, p = 4, 7
    v = torch.randn(m, p, dtype=torch.float64)
    controls = torch.randn(m * (m - 1) // 2, p, dtype=torch.float64)
    bez = curves.BezierSimplex(v, controls)
    lam = torch.as_tensor(np.concatenate([paths.simplex_grid(m, 3),
                                          paths.simplex_dirichlet(m, 20, seed=1)]))
    centre = bez.points(torch.full((1, m), 1.0 / m, dtype=torch.float64))[0]
    tunnel = e4.CentredBezier(v, controls, centre)
    torch.testing.assert_close(tunnel.points(lam), bez.points(lam))
    moved = e4.CentredBezier(v, controls, centre + 1.0)
    torch.testing.assert_close(moved.points(torch.eye(m, dtype=torch.float64)), v)
    edge = torch.tensor([[0.3, 0.7, 0.0, 0.0]], dtype=torch.float64)  # edges are B's
    torch.testing.assert_close(moved.points(edge), bez.points(edge))
    mid = torch.full((1, m), 1.0 / m, dtype=torch.float64)
    torch.testing.assert_close(moved.points(mid)[0], centre + 1.0)
    assert sum(q.numel() for q in moved.parameters()) == p  # the centre only


def test_nested_projection_takes_the_first_columns():
    full = torch.linalg.qr(torch.randn(30, 30, dtype=torch.float64))[0]
    for d in (1, 7, 30):
        proj = e4.nested_projection(full, d)
        assert proj.d == d and proj.kind == "dense"
        torch.testing.assert_close(proj.matrix, full[:, :d])
    sparse = full.to_sparse()
    proj = e4.nested_projection(sparse, 5)
    assert proj.kind == "sparse"
    torch.testing.assert_close(proj.matrix.to_dense(), full[:, :5])


def _constructed(thresholds, tunnels=(0.01, 0.01, 0.01)):
    return ({"m": np.array([2, 3, 4]), "threshold": np.array(thresholds, dtype=float),
             "tunnel_max_train_loss": np.array(tunnels),
             "final_train_accuracy": np.ones(4)},
            {"target_loss": 0.05, "max_vertex_loss": 0.01, "flat2_barrier": 0.4})


def test_verdict_on_constructed_thresholds():
    """Both directions of the rule on hand-made numbers (the smoke networks are too small
    for the claim arm to pass)."""
    cfg = e4.Config()
    assert e4.verdict_of(*_constructed([64, 91, 128]), cfg).holds  # 2x: holds
    assert not e4.verdict_of(*_constructed([64, 64, 64]), cfg).holds  # no growth
    assert not e4.verdict_of(*_constructed([64, 91, 91]), cfg).holds  # 1.42x < 1.5
    assert not e4.verdict_of(*_constructed([64, 128, 91]), cfg).holds  # decreases
    assert not e4.verdict_of(*_constructed([64, 91, np.nan]), cfg).holds  # none at m = 4
    assert not e4.verdict_of(*_constructed([64, 91, 128], (0.01, 0.06, 0.01)), cfg).holds
    s, m = _constructed([64, 91, 128])
    s["final_train_accuracy"][1] = 0.5
    assert not e4.verdict_of(s, m, cfg).holds


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


def test_verdict_recomputed_from_series(arms):
    for r in arms:
        s, m, c = r.series, r.metrics, r.config
        target = m["max_vertex_loss"] + c["barrier_fraction"] * m["flat2_barrier"]
        assert m["target_loss"] == pytest.approx(target)
        assert e4.verdict_of(s, m, e4.Config(**c)) == r.verdict
        thr = s["threshold"]
        holds = (np.all(s["final_train_accuracy"] >= c["min_train_accuracy"])
                 and np.all(s["tunnel_max_train_loss"] <= target) and np.all(np.isfinite(thr))
                 and np.all(np.diff(thr) >= 0) and thr[-1] >= c["min_growth"] * thr[0])
        assert r.verdict.holds == bool(holds)


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
