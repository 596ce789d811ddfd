"""Tests of landsim.real.subspace: projections, subspace training, d_int, m-tunnels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landsim.real import curves, flat, subspace, train
from landsim.subspace import subspace_projection

CFG = train.TrainConfig(optimizer="adam", lr=0.05, epochs=2, batch_size=50)


def test_dense_projection_is_the_descent_draw_with_orthonormal_columns():
    p = subspace.make_projection(50, 7, "dense", seed=3, dtype=torch.float64)
    assert p.kind == "dense" and (p.n_params, p.d) == (50, 7)
    torch.testing.assert_close(p.matrix.T @ p.matrix, torch.eye(7, dtype=torch.float64))
    # the same draw, factorised by torch: equal to numpy's QR up to rounding
    np.testing.assert_allclose(p.matrix.numpy(), subspace_projection(50, 7, "dense", 3),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(subspace.make_projection(50, 7, "dense", seed=3).matrix,
                               p.matrix.float(), rtol=0, atol=0)  # dtype: a cast of float64


def test_sparse_projection_matches_its_dense_form_with_unit_columns():
    p = subspace.make_projection(400, 9, "sparse", seed=1, dtype=torch.float64)
    dense = p.matrix.to_dense()
    torch.testing.assert_close(dense.norm(dim=0), torch.ones(9, dtype=torch.float64))
    z = torch.randn(9, dtype=torch.float64, requires_grad=True)
    out = p(z)
    torch.testing.assert_close(out, dense @ z)
    (g,) = torch.autograd.grad(out.sum(), z)
    torch.testing.assert_close(g, dense.sum(0))  # d(1^T P z)/dz = P^T 1
    assert subspace.make_projection(10**5, 200, "auto").kind == "sparse"
    assert subspace.make_projection(100, 20, "auto").kind == "dense"
    with pytest.raises(ValueError, match=r"d must be in \[1, n_params=10\]"):
        subspace.make_projection(10, 11)


def test_train_subspace_moves_only_inside_the_subspace(make_mlp, digits_small):
    fm = flat.FlatModel(make_mlp(seed=0))
    x0 = fm.get_flat()
    run = subspace.train_subspace(fm, digits_small, 20, CFG, seed=2, kind="dense")
    proj = subspace.make_projection(fm.n_params, 20, "dense", seed=2)
    torch.testing.assert_close(run.flat, x0 + proj(run.z))
    assert torch.equal(fm.get_flat(), x0)  # the network itself is not modified
    start_loss = fm.evaluate(x0, digits_small.x_train, digits_small.y_train)[0]
    assert run.z.abs().max() > 0 and run.train_loss < start_loss - 0.02
    again = subspace.train_subspace(fm, digits_small, 20, CFG, seed=2, kind="dense")
    assert torch.equal(again.z, run.z)
    with pytest.raises(ValueError, match="projection must have 910 rows"):
        subspace.train_subspace(fm, digits_small, subspace.make_projection(30, 3), CFG)


def test_first_passing():
    assert subspace.first_passing([1, 4, 9], [False, True, True]) == 4
    assert subspace.first_passing([1, 4], [False, False]) is None


def test_intrinsic_dimension_finds_the_smallest_passing_d(make_mlp, digits_small):
    fm = flat.FlatModel(make_mlp(seed=1))
    res = subspace.intrinsic_dimension(fm, digits_small, [300, 2, 40], CFG, seed=0,
                                       full_accuracy=0.9)
    assert res.dims.tolist() == [2, 40, 300] and res.accuracy.shape == (3, 1)
    assert res.threshold == pytest.approx(0.81)
    assert res.accuracy[0, 0] < res.accuracy[2, 0]  # more directions, better accuracy
    assert res.d_int == subspace.first_passing(res.dims, res.accuracy[:, 0] >= 0.81)
    full = subspace.intrinsic_dimension(fm, digits_small, [5], CFG, seed=0, metric="train")
    assert 0 < full.full_accuracy <= 1 and full.metric == "train"


def test_in_subspace_reparametrises_free_points_only(trained_pair, digits_small):
    net, a, b = trained_pair
    fm = flat.FlatModel(net)
    tun = subspace.in_subspace(curves.BezierSimplex(torch.stack([a, b, a.flip(0)])), 8, seed=0)
    assert [n for n, p in tun.named_parameters() if p.requires_grad] == ["z"]
    assert tun.projection.n_params == 3 * fm.n_params and tun.m == 3
    with torch.no_grad():
        tun.z.copy_(torch.randn(8, generator=torch.Generator().manual_seed(0)))
    ctrl = tun.free_parameters()["controls"]
    torch.testing.assert_close(ctrl.reshape(-1), tun.theta0 + tun.projection(tun.z))
    vert = tun.points(torch.eye(3))
    assert torch.equal(vert, tun.vertices)  # vertices stay exact
    ref = curves.BezierSimplex(tun.vertices, controls=ctrl.detach())
    w = torch.tensor([[0.2, 0.3, 0.5]])
    torch.testing.assert_close(tun.points(w), ref.points(w))
    path = subspace.in_subspace(curves.Bezier(a, b), 4, seed=1)
    assert torch.equal(path.points(torch.tensor([0.0, 1.0]))[1], b)


def test_simplex_threshold_reports_the_smallest_d(trained_pair, digits_small):
    net, a, b = trained_pair
    fm = flat.FlatModel(net)
    res = subspace.simplex_threshold(fm, digits_small, torch.stack([a, b]), [1, 60], CFG,
                                     seed=0, target_loss=1e9)
    assert res.dims.tolist() == [1, 60] and res.threshold_d == 1  # everything passes
    strict = res.max_train_loss.min() - 1e-9
    res2 = subspace.simplex_threshold(fm, digits_small, torch.stack([a, b]), [1, 60], CFG,
                                      seed=0, target_loss=max(strict, 1e-9))
    assert res2.threshold_d is None
    np.testing.assert_array_equal(res2.max_train_loss, res.max_train_loss)
    assert res.max_train_loss[1] < res.flat_max_train_loss  # training in 60 dims helps
