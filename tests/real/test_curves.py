"""Tests of landsim.real.curves: paths and m-tunnels between fixed networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landsim import paths
from landsim.real import curves, flat, train

FIT = train.TrainConfig(optimizer="momentum", lr=0.05, epochs=4, batch_size=32)


@pytest.fixture(scope="module")
def ends(trained_pair):
    net, a, b = trained_pair
    return flat.FlatModel(net), a, b


@pytest.mark.parametrize("kind", ["line", "polychain", "bezier"])
def test_curve_equals_its_end_networks_at_0_and_1(kind, ends, digits_small):
    fm, a, b = ends
    path = curves.make_curve(kind, a, b)
    if kind != "line":  # move the free point off the line first
        next(path.parameters()).data.add_(torch.randn(a.shape, generator=torch.Generator()
                                                      .manual_seed(0)))
    pts = path.points(torch.tensor([0.0, 1.0]))
    assert torch.equal(pts[0], a) and torch.equal(pts[1], b)
    x, y = digits_small.x_train, digits_small.y_train
    assert fm.evaluate(pts[0], x, y) == fm.evaluate(a, x, y)
    assert fm.evaluate(pts[1], x, y) == fm.evaluate(b, x, y)


def test_curves_follow_their_formulas_in_float64():
    g = torch.Generator().manual_seed(1)
    a, b, c = (torch.randn(7, generator=g, dtype=torch.float64) for _ in range(3))
    t = np.linspace(0, 1, 9)
    bez = curves.Bezier(a, b, control=c).points(torch.as_tensor(t)).detach().numpy()
    np.testing.assert_allclose(bez, paths.bezier(a.numpy(), c.numpy(), b.numpy(), t),
                               rtol=0, atol=1e-14)
    chain = curves.PolyChain(a, b, bend=c).points(torch.as_tensor(t)).detach()
    torch.testing.assert_close(chain[4], c, rtol=0, atol=0)  # bend at t = 1/2
    torch.testing.assert_close(chain[2], (a + c) / 2)  # t = 1/4: middle of the first leg
    torch.testing.assert_close(chain[6], (c + b) / 2)
    line = curves.Line(a, b).points(torch.as_tensor(t)).numpy()
    np.testing.assert_allclose(line, paths.line(a.numpy(), b.numpy(), t), atol=1e-15)
    # initialised on the straight line
    mid = curves.Bezier(a, b).points(torch.as_tensor(t)).detach().numpy()
    np.testing.assert_allclose(mid, line, atol=1e-14)


def test_tunnel_matches_simplex_tunnel_points_and_keeps_vertices():
    g = torch.Generator().manual_seed(2)
    v = torch.randn(4, 6, generator=g, dtype=torch.float64)
    c = torch.randn(6, generator=g, dtype=torch.float64)
    tun = curves.SimplexTunnel(v, centre=c)
    w = paths.simplex_grid(4, 3)
    got = tun.points(torch.as_tensor(w)).detach().numpy()
    np.testing.assert_allclose(got, paths.simplex_tunnel_points(v.numpy(), c.numpy(), w),
                               rtol=0, atol=1e-14)
    vert = tun.points(torch.eye(4, dtype=torch.float64)).detach()
    assert torch.equal(vert, v)
    torch.testing.assert_close(tun.points(torch.full((1, 4), 0.25, dtype=torch.float64))[0]
                               .detach(), c)


def test_two_vertex_tunnel_is_the_one_bend_chain():
    g = torch.Generator().manual_seed(3)
    a, b, c = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    tun = curves.SimplexTunnel(torch.stack([a, b]), centre=c)
    lam = torch.stack([1 - t, t], dim=1)
    torch.testing.assert_close(tun.points(lam), curves.PolyChain(a, b, bend=c).points(t))


def test_uniform_simplex_weights_are_dirichlet_1():
    w = curves.uniform_simplex_weights(3, 40000, torch.Generator().manual_seed(0))
    assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(40000, dtype=torch.float64))
    # Dirichlet(1,1,1): E[w_i] = 1/3, Var[w_i] = 2 / 36
    np.testing.assert_allclose(w.mean(0).numpy(), 1 / 3, atol=0.01)
    np.testing.assert_allclose(w.var(0).numpy(), 2 / 36, atol=0.003)


def test_fit_curve_lowers_the_barrier_and_keeps_the_ends(ends, digits_small):
    fm, a, b = ends
    line = curves.evaluate_path(curves.Line(a, b), fm, digits_small, t=11)
    chain = curves.PolyChain(a, b)
    log = curves.fit_curve(chain, fm, digits_small, FIT, seed=0)
    assert torch.equal(chain.start, a) and torch.equal(chain.end, b)
    fitted = curves.evaluate_path(chain, fm, digits_small, t=11)
    assert fitted.train_barrier < 0.5 * line.train_barrier
    assert line.train_barrier > 0.05  # the straight line does meet an obstacle
    assert fitted.train_loss[0] == line.train_loss[0] and fitted.t[-1] == 1.0
    assert fitted.train_barrier == paths.barrier(fitted.train_loss, fitted.t)
    assert np.isfinite(log.batch_loss[1:]).all() and log.step[-1] == 4 * 10
    again = curves.PolyChain(a, b)
    curves.fit_curve(again, fm, digits_small, FIT, seed=0)
    assert torch.equal(again.bend, chain.bend)  # deterministic for the seed


def test_evaluate_path_end_values(ends, digits_small):
    fm, a, b = ends
    ev = curves.evaluate_path(curves.Bezier(a, b), fm, digits_small, t=[0.0, 0.3, 1.0])
    assert ev.test_loss[-1] == pytest.approx(fm.evaluate(b, digits_small.x_test,
                                                         digits_small.y_test)[0], rel=1e-6)
    assert ev.train_error_barrier == paths.barrier(1 - ev.train_accuracy, ev.t)
    with pytest.raises(ValueError, match="t must run from"):
        curves.evaluate_path(curves.Line(a, b), fm, digits_small, t=[0.0, 0.5])


def test_bezier_simplex_edges_are_bezier_curves_and_init_is_flat():
    g = torch.Generator().manual_seed(4)
    v = torch.randn(3, 5, generator=g, dtype=torch.float64)
    flat_init = curves.BezierSimplex(v)
    w = paths.simplex_grid(3, 4)
    np.testing.assert_allclose(flat_init.points(torch.as_tensor(w)).detach().numpy(),
                               paths.simplex_points(v.numpy(), w), atol=1e-14)
    ctrl = torch.randn(3, 5, generator=g, dtype=torch.float64)
    bez = curves.BezierSimplex(v, controls=ctrl)
    assert torch.equal(bez.points(torch.eye(3, dtype=torch.float64)).detach(), v)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    edge = bez.points(torch.stack([1 - t, torch.zeros_like(t), t], 1))  # v0 -> v2: pair (0, 2)
    torch.testing.assert_close(edge, curves.Bezier(v[0], v[2], control=ctrl[1]).points(t))


@pytest.mark.parametrize("kind", ["centre", "bezier"])
def test_fit_simplex_lowers_the_tunnel_barrier(kind, ends, digits_small, make_mlp):
    fm, a, b = ends
    c = train.train(make_mlp(seed=5), digits_small, FIT.replace(lr=0.1, epochs=8), seed=5).flat
    tun = curves.make_simplex(kind, torch.stack([a, b, c]))
    flat_eval = curves.evaluate_simplex(tun, fm, digits_small, resolution=4)
    assert flat_eval.weights.shape == (15, 3)
    for i, v in enumerate((a, b, c)):
        assert flat_eval.vertex_train_loss[i] == pytest.approx(
            fm.evaluate(v, digits_small.x_train, digits_small.y_train)[0], rel=1e-6)
    curves.fit_simplex(tun, fm, digits_small, FIT, seed=1, samples_per_step=2)
    assert torch.equal(tun.vertices, torch.stack([a, b, c]))
    fitted = curves.evaluate_simplex(tun, fm, digits_small, resolution=4)
    interior = fitted.weights.min(1) > 0
    assert fitted.train_loss[interior].mean() < flat_eval.train_loss[interior].mean() - 0.05
    if kind == "centre":  # straight edges: the boundary, and so the worst edge, stay put
        np.testing.assert_allclose(fitted.train_loss[~interior],
                                   flat_eval.train_loss[~interior], rtol=1e-6)
    else:  # the edges bend too, so the barrier and the worst point improve
        assert fitted.train_barrier < flat_eval.train_barrier - 0.05
        assert fitted.max_train_loss < 0.7 * flat_eval.max_train_loss
    np.testing.assert_allclose(fitted.train_excess,
                               fitted.train_loss - fitted.weights @ fitted.vertex_train_loss)


def test_fit_rejects_mismatched_inputs(ends, digits_small):
    fm, a, _ = ends
    with pytest.raises(ValueError, match="no trainable parameters"):
        curves.fit_curve(curves.Line(a, a + 1), fm, digits_small, FIT)
    with pytest.raises(ValueError, match=r"shape \(910,\)"):
        curves.fit_curve(curves.Bezier(a[:5], a[:5] + 1), fm, digits_small, FIT)
    with pytest.raises(ValueError, match="kind must be one of"):
        curves.make_curve("spline", a, a)
    with pytest.raises(ValueError, match=r"m >= 2"):
        curves.SimplexTunnel(a[None])
    with pytest.raises(ValueError, match="kind must be one of"):
        curves.make_simplex("cube", torch.stack([a, a]))
