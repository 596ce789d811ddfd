"""Tests of landsim.real.hessian against the exact Hessian and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landsim.real import flat, hessian


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "batchnorm"])
def problem(request, make_mlp, digits_small):
    """A tiny float64 tanh net (smooth loss), a point off the init, data, BN buffers."""
    net = make_mlp(seed=0, width=5, activation="tanh", batchnorm=request.param).double()
    fm = flat.FlatModel(net)
    ds = digits_small.subset(120, 10).to(dtype=torch.float64)
    w = fm.get_flat() * 1.5
    bufs = fm.bn_buffers(w, ds.x_train)
    H = hessian.exact_hessian(fm, w, ds.x_train, ds.y_train, bufs)
    return fm, w, ds.x_train, ds.y_train, bufs, H


def test_exact_hessian_is_symmetric(problem):
    *_, H = problem
    torch.testing.assert_close(H, H.T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", hessian.HVP_METHODS)
def test_hvp_equals_exact_hessian_times_v(problem, method):
    fm, w, x, y, bufs, H = problem
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        v = torch.randn(fm.n_params, generator=g, dtype=torch.float64)
        torch.testing.assert_close(hessian.hvp(fm, w, v, x, y, bufs, method), H @ v,
                                   rtol=1e-10, atol=1e-12)


def test_hvp_matches_finite_differences_of_the_gradient(problem):
    fm, w, x, y, bufs, _ = problem
    v = torch.randn(fm.n_params, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    h = 1e-5
    fd = (hessian.gradient(fm, w + h * v, x, y, bufs)
          - hessian.gradient(fm, w - h * v, x, y, bufs)) / (2 * h)
    torch.testing.assert_close(hessian.hvp(fm, w, v, x, y, bufs), fd, rtol=1e-5, atol=1e-6)
    # and the gradient itself against the loss
    lp = float(fm.loss(w + h * v, x, y, bufs))
    lm = float(fm.loss(w - h * v, x, y, bufs))
    assert float(hessian.gradient(fm, w, x, y, bufs) @ v) == pytest.approx((lp - lm) / (2 * h),
                                                                         rel=1e-7)


def test_operator_sums_chunks_to_the_full_hessian(problem):
    fm, w, x, y, bufs, H = problem
    op = hessian.HessianOperator(fm, w, x, y, bufs, batch_size=50)  # chunks 50, 50, 20
    v = np.random.default_rng(2).standard_normal(fm.n_params)
    np.testing.assert_allclose(op @ v, H.numpy() @ v, rtol=1e-9, atol=1e-11)
    assert op.n_products == 1 and op.shape == (fm.n_params, fm.n_params)


def test_power_iteration_finds_the_largest_magnitude_eigenvalue(problem):
    fm, w, x, y, bufs, H = problem
    eig = np.linalg.eigvalsh(H.numpy())
    target = eig[np.argmax(np.abs(eig))]
    res = hessian.top_eigenvalue_power(fm, w, x, y, buffers=bufs, iters=2000, tol=1e-12)
    assert res.converged
    assert res.values[0] == pytest.approx(target, rel=1e-4)
    vec = res.vectors[:, 0]
    np.testing.assert_allclose(H.numpy() @ vec, target * vec, atol=1e-2 * abs(target))


def test_lanczos_finds_the_top_eigenvalues(problem):
    fm, w, x, y, bufs, H = problem
    eig = np.linalg.eigvalsh(H.numpy())[::-1]
    res = hessian.top_eigenvalues_lanczos(fm, w, x, y, k=3, buffers=bufs, tol=1e-10,
                                          batch_size=64)
    np.testing.assert_allclose(res.values, eig[:3], rtol=1e-7)
    np.testing.assert_allclose(H.numpy() @ res.vectors, res.vectors * res.values, atol=1e-6)
    with pytest.raises(ValueError, match=r"k must be in \[1, n_params - 1"):
        hessian.top_eigenvalues_lanczos(fm, w, x, y, k=fm.n_params)


def test_bad_method_is_rejected(problem):
    fm, w, x, y, bufs, _ = problem
    with pytest.raises(ValueError, match="method must be one of"):
        hessian.hvp(fm, w, w, x, y, method="fd")
